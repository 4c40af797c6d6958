"""Notebook (``_repr_html_``) and terminal (``__repr__``) display of results: a compact summary made with the
report tables, not a dump of the tidy frame.

- a model: its headline (n, events, method) and its :func:`~bmstats.report.table_builders.regression_table`
  rows (ratio (95% CI), p as ``< 0.001`` or three decimals, non-estimable terms marked), with a small forest
  plot;
- curves: estimates with limits at a few round times chosen from the follow-up (or
  ``bm.options.display.times``) per group and cause, the test between groups where the result carries one,
  and a small picture;
- a test: statistic, df and p;
- a cohort validation report: its headline and the rules that found something;
- anything else: its headline and the first rows of its tidy frame.

The figure is inline SVG drawn here in a few kB (no external files, colours that read on light and dark
backgrounds, axes in the text colour); ``bm.options.display.figures = False`` leaves it out.  The HTML uses
inline styles only (notebook front ends drop ``<style>`` from untrusted outputs) and inherits the front end's
text colour, so it reads in JupyterLab, VS Code and classic Notebook in light and dark themes; ``__repr__``
gives the same summary as plain text.  The full tidy frames stay one attribute away, and the display says so.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bmstats._checks import InputError
from bmstats._options import options
from bmstats.report.format import decimals_for, fmt_ci, fmt_int, fmt_num, fmt_p
from bmstats.report.table import Table, html_cell

__all__ = ["Summary", "summarize", "to_html", "to_text", "round_times"]

_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")  # Okabe-Ito, minus black/yellow


@dataclass(frozen=True)
class Summary:
    """What a result displays: a title, notes, tables, an optional SVG picture and where the full data are."""

    title: str
    notes: tuple[str, ...]
    tables: tuple[Table, ...]
    svg: str = ""
    hint: str = ""


# ----------------------------------------------------------------------------------------------- times
def round_times(t_max: float, n: int = 3) -> list[float]:
    """About ``n`` round times (1, 2, 2.5 or 5 times a power of ten) inside the follow-up ``(0, t_max]``."""
    if not np.isfinite(t_max) or t_max <= 0:
        return []
    raw = t_max / (n + 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    times = [round(step * k, 10) for k in range(1, n + 2) if step * k <= t_max * 0.95]
    return times[:n] or [round(t_max, 10)]


def _times(result: Any, table: pd.DataFrame) -> list[float]:
    chosen = options.display.times
    if chosen is not None:
        return [float(t) for t in chosen]
    return round_times(float(table["time"].max()))


# ------------------------------------------------------------------------------------------------ kinds
def _title(result: Any) -> str:
    return str(result._title)


def summarize(result: Any) -> Summary:
    """The display summary of any bmstats result (see the module docstring), chosen by its result class."""
    from bmstats.cohort.validate import ValidationReport
    from bmstats.estimate._result import CurveResult, ModelResult, Result, TestResult
    from bmstats.estimate.cause_specific import CompetingRisksModels
    from bmstats.estimate.rates import IncidenceRate

    if isinstance(result, ValidationReport):
        return _validation(result)
    if isinstance(result, (ModelResult, CompetingRisksModels)):
        return _model(result)
    if isinstance(result, CurveResult):
        return _curve(result)
    if isinstance(result, TestResult):
        return _test(result)
    if isinstance(result, IncidenceRate):
        return _rates(result)
    if isinstance(result, Result):
        return _generic(result)
    raise InputError(f"bmstats cannot display a {type(result).__name__}: not a bmstats result")


def _rates(result: Any) -> Summary:
    from bmstats.report.table_builders import rate_table

    table = rate_table(result, title="", unit="person-time")
    return Summary(_title(result), result.notes, (table,), "", "Full frame: `.table`.")


def _model(result: Any) -> Summary:
    from bmstats.estimate.cause_specific import CompetingRisksModels
    from bmstats.report.table_builders import regression_table

    table = regression_table(result, title="")
    svg = _forest_svg(table) if options.display.figures else ""
    if isinstance(result, CompetingRisksModels):
        where = "`.fits` (each model's `.summary`)"
    else:
        where = "`.summary` (every column), `.cov`"
    return Summary(_title(result), result.notes, (table,), svg, f"Full estimates: {where}.")


def _curve(result: Any) -> Summary:
    from bmstats.estimate.cif import CumulativeIncidence
    from bmstats.estimate.km import KaplanMeier
    from bmstats.report import table_builders as tb

    frame = result.table
    times = _times(result, frame)
    title = _title(result)
    tables: list[Table] = []
    if not times:
        tables.append(Table(pd.DataFrame({"": ["no follow-up time"]})))
    elif isinstance(result, CumulativeIncidence):
        tables.append(tb.cif_table(result, times, title=""))
    elif isinstance(result, KaplanMeier):
        tables.append(tb.survival_table(result, times, title=""))
    else:
        at = result.at(times)
        keys = [k for k in ("group", "state") if k in at.columns]
        decimals = decimals_for(at["estimate"])
        rows = []
        for key, sub in (at.groupby(keys, sort=False, observed=True) if keys else [("All", at)]):
            label = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            rows.append([label] + [fmt_ci(r.estimate, r.lower, r.upper, decimals) for r in sub.itertuples()])
        header = [" / ".join(keys).capitalize() or "Group"] + [fmt_num(t, 0 if float(t).is_integer() else 2)
                                                                for t in times]
        tables.append(Table(pd.DataFrame(rows, columns=header), footnotes=("Estimate (95% CI) at each time.",)))
    tests = [_test_table(t) for t in _carried_tests(result)]
    svg = _curves_svg(result, frame) if options.display.figures and times else ""
    return Summary(title, result.notes, tuple(tables + tests), svg,
                   "Full curves: `.table`; other times: `.at(times)`.")


def _carried_tests(result: Any) -> list[Any]:
    """The test between groups a curve carries (the MCF comparison); none when it has one group."""
    from bmstats.estimate.mcf import MeanCumulativeFunction

    if isinstance(result, MeanCumulativeFunction) and len(result.groups) > 1:
        try:
            return [result.test]
        except InputError:  # no test at the default tau (a group without events): the display shows none
            return []
    return []


def _test_table(test: Any) -> Table:
    body = pd.DataFrame([[_title(test), fmt_num(test.statistic, 2), fmt_num(test.df, 0 if float(test.df).is_integer()
                                                                             else 2), fmt_p(test.p_value)]],
                        columns=["Test", "Statistic", "df", "p"])
    return Table(body)


def _test(result: Any) -> Summary:
    from bmstats.estimate.logrank import LogRankTest
    from bmstats.estimate.mcf import GroupComparison

    tables = [_test_table(result)]
    hint = "Values: `.statistic`, `.df`, `.p_value`."
    if isinstance(result, LogRankTest):
        per_group = result.table
        body = pd.DataFrame({"Group": per_group["group"].astype(str),
                             **({"Patients": [fmt_int(v) for v in per_group["n"]]} if "n" in per_group else {}),
                             "Observed": [fmt_num(v, 0) for v in per_group["observed"]],
                             "Expected": [fmt_num(v, 1) for v in per_group["expected"]]})
        tables.append(Table(body, footnotes=("Observed and expected events per group under equal hazards.",)))
        hint = "Values: `.statistic`, `.df`, `.p_value`, `.table`."
    elif isinstance(result, GroupComparison):
        hint = "Values: `.statistic`, `.df`, `.p_value`, `.table`."
    return Summary(_title(result), result.notes, tuple(tables), "", hint)


def _validation(report: Any) -> Summary:
    found = report.summary()
    found = found[found["n_issues"] > 0]
    if len(found):
        body = pd.DataFrame({"Rule": found["rule"].astype(str), "Severity": found["severity"].astype(str),
                             "Issues": [f"{int(v):,}" for v in found["n_issues"]],
                             "What it checks": found["explanation"].astype(str)})
    else:
        body = pd.DataFrame({"Rule": ["every rule"], "Severity": [""], "Issues": ["0"], "What it checks": [""]})
    return Summary("Cohort validation", (report.headline,), (Table(body),), "",
                   "Every issue: `.issues` (rule, row, patient_id, message); `.to_text()`, `.to_json()`, "
                   "`.to_junit()`.")


def _generic(result: Any) -> Summary:
    """Any other result: its headline and the first rows of its tidy frame (``Result._tidy``)."""
    frame = result._tidy()
    limit = options.display.max_rows
    shown = frame.reset_index() if frame.index.name or not isinstance(frame.index, pd.RangeIndex) else frame
    shown = shown.head(limit)
    body = shown.apply(lambda col: col.map(_cell) if col.dtype.kind in "fc" else col.astype(str))
    more = f" ({len(frame) - limit:,} rows shown of {len(frame):,})" if len(frame) > limit else ""
    where = ", ".join(f"`.{name}`" for name in type(result)._frames)
    return Summary(_title(result), result.notes, (Table(body),), "", f"Full data: {where}{more}.")


def _is_text(values: list[str]) -> bool:
    """A column of words (a rule's explanation, a test name), set flush left."""
    filled = [v for v in values if v.strip()]
    return bool(filled) and sum(not any(c.isdigit() for c in v) or len(v.split()) > 3 for v in filled) > len(filled) / 2


def _cell(x: Any) -> str:
    return fmt_num(x, 4 if abs(float(x)) < 1 else 3) if np.isfinite(x) else fmt_num(x)


# ------------------------------------------------------------------------------------------------- HTML
_TABLE = ("border-collapse:collapse;margin:.3em 0;font-size:.85em;font-variant-numeric:tabular-nums;"
          "color:inherit;background:transparent;table-layout:auto")
_CELL = "padding:.1em .55em;border:none;background:transparent;color:inherit;vertical-align:top"


def _table_html(table: Table) -> str:
    rule = "border-bottom:1px solid currentColor"
    out = [f'<table style="{_TABLE}">']
    if table.title:
        out.append(f'<caption style="text-align:left;font-weight:600">{html.escape(table.title)}</caption>')
    out.append("<thead>")
    if table.groups:
        cells = "".join(f'<th colspan="{span}" style="{_CELL};text-align:center;{rule if g else ""}">'
                        f"{html.escape(g)}</th>" for g, span in table.groups)
        out.append(f"<tr>{cells}</tr>")
    rows = table.rows()
    left = [j == 0 or _is_text([r[j] for r in rows]) for j in range(len(table.labels))]
    head = "".join(f'<th style="{_CELL};{rule};text-align:{"left" if left[j] else "right"}">{html.escape(lab)}</th>'
                   for j, lab in enumerate(table.labels))
    out.append(f"<tr>{head}</tr></thead><tbody>")
    for i, row in enumerate(table.rows()):
        pad = f"padding-left:{0.55 + 1.1 * table.indent[i]:.2f}em;" if table.indent[i] else ""
        label = html.escape(row[0])
        label = f"<strong>{label}</strong>" if table.bold[i] and row[0] else label
        cells = "".join(f'<td style="{_CELL};text-align:{"left" if left[j] else "right"}">{html_cell(v)}</td>'
                        for j, v in enumerate(row[1:], start=1))
        keep = "white-space:nowrap;" if " " not in row[0].strip() else ""  # an id such as a rule's
        out.append(f'<tr><td style="{_CELL};{pad}{keep}text-align:left">{label}</td>{cells}</tr>')
    out.append("</tbody></table>")
    if table.footnotes:
        notes = "<br>".join(html.escape(n) for n in table.footnotes)
        out.append(f'<div style="font-size:.75em;opacity:.75">{notes}</div>')
    return "".join(out)


def _code(text: str) -> str:
    """Escape, and set `names` in code type."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


def to_html(result: Any) -> str:
    """The notebook display: a ``<div>`` with inline styles only."""
    s = summarize(result)
    out = ['<div class="bmstats-display" style="color:inherit;line-height:1.35;max-width:100%">',
           f"<div><strong>{html.escape(s.title)}</strong></div>"]
    if s.notes:
        out.append(f'<div style="font-size:.85em;opacity:.8">{"<br>".join(html.escape(n) for n in s.notes)}</div>')
    out.append('<div style="display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:flex-start">')
    out.append("<div>" + "".join(_table_html(t) for t in s.tables) + "</div>")
    if s.svg:
        out.append(f"<div>{s.svg}</div>")
    out.append("</div>")
    if s.hint:
        out.append(f'<div style="font-size:.75em;opacity:.75">{_code(s.hint)}</div>')
    out.append("</div>")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------- text
def _table_text(table: Table) -> list[str]:
    rows = [[("  " * table.indent[i]) + r[0]] + r[1:] for i, r in enumerate(table.rows())]
    header = list(table.labels)
    groups = []
    for g, span in table.groups:
        groups += [g] + [""] * (span - 1)
    widths = [max(len(x) for x in [header[j], *(r[j] for r in rows)]) for j in range(len(header))]
    if groups:  # a group label spans its columns
        col = 0
        for g, span in table.groups:
            need = len(g) - (sum(widths[col:col + span]) + 2 * (span - 1))
            if need > 0:
                widths[col + span - 1] += need
            col += span

    left = [j == 0 or _is_text([r[j] for r in rows]) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if left[j] else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = []
    if groups:
        parts, col = [], 0
        for g, span in table.groups:
            width = sum(widths[col:col + span]) + 2 * (span - 1)
            parts.append(g.center(width) if g else " " * width)
            col += span
        out.append("  ".join(parts).rstrip())
    out.append(line(header))
    out.append("-" * len(out[-1]))
    out += [line(r) for r in rows]
    out += [f"  {n}" for n in table.footnotes]
    return out


def to_text(result: Any) -> str:
    """The terminal display: the same summary as plain text (no figure)."""
    s = summarize(result)
    out = [s.title, *s.notes]
    for table in s.tables:
        out += [""] + _table_text(table)
    if s.hint:
        out += ["", s.hint.replace("`", "")]
    return "\n".join(out)


# -------------------------------------------------------------------------------------------------- SVG
_W, _H, _L, _B = 260, 150, 34, 22  # size, left and bottom margins in px


def _svg(body: list[str], width: int = _W, height: int = _H) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" style="color:inherit;font-size:9px;font-family:sans-serif">'
            + "".join(body) + "</svg>")


def _curves_svg(result: Any, frame: pd.DataFrame) -> str:
    """Small step curves: the cause of interest (the first) per group, on 80 points of the follow-up."""
    caption = ""
    if "cause" in frame.columns:
        first = sorted(frame["cause"].unique())[0]
        frame = frame[frame["cause"] == first]
        caption = f"cause {first}"
    t_max = float(frame["time"].max())
    grid = np.linspace(0.0, t_max, 81)
    at = result.at(grid)
    if "cause" in at.columns:
        at = at[at["cause"] == sorted(at["cause"].unique())[0]]
    keys = [k for k in ("group", "state") if k in at.columns]
    curves = list(at.groupby(keys, sort=False, observed=True)) if keys else [("", at)]
    top = 1.0 if float(at["estimate"].max()) <= 1.0 else float(at["estimate"].max()) * 1.05
    plot_w, plot_h = _W - _L - 6, _H - _B - 8

    def x(t: float) -> float:
        return _L + plot_w * t / t_max

    def y(v: float) -> float:
        return 8 + plot_h * (1 - v / top)

    body = [f'<path d="M{_L},8V{8 + plot_h}H{_L + plot_w}" fill="none" stroke="currentColor" stroke-width=".8"/>']
    if caption:
        body.append(f'<text x="{_L + 4}" y="14" fill="currentColor">{html.escape(caption)}</text>')
    for v in (0.0, top / 2, top):
        body.append(f'<text x="{_L - 3}" y="{y(v) + 3:.1f}" text-anchor="end" fill="currentColor">'
                    f"{fmt_num(v, 1 if top <= 1 else decimals_for([top]))}</text>")
    for t in round_times(t_max):
        body.append(f'<text x="{x(t):.1f}" y="{_H - 8}" text-anchor="middle" fill="currentColor">'
                    f"{fmt_num(t, 0 if float(t).is_integer() else 1)}</text>")
    for k, (key, sub) in enumerate(curves[:len(_COLOURS)]):
        v = np.nan_to_num(sub["estimate"].to_numpy(dtype=float))
        pts = [f"{x(grid[0]):.1f},{y(v[0]):.1f}"]
        for i in range(1, len(grid)):
            if v[i] != v[i - 1]:
                pts.append(f"{x(grid[i]):.1f},{y(v[i - 1]):.1f} {x(grid[i]):.1f},{y(v[i]):.1f}")
        pts.append(f"{x(grid[-1]):.1f},{y(v[-1]):.1f}")
        colour = _COLOURS[k]
        body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" stroke-width="1.4"/>')
        if keys:
            label = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            body.append(f'<text x="{_L + plot_w - 2}" y="{16 + 11 * k}" text-anchor="end" fill="{colour}">'
                        f"{html.escape(label[:24])}</text>")
    return _svg(body)


def _forest_svg(table: Table) -> str:
    """Small forest plot of a regression table's ratios (log scale, dashed line at 1), labelled by term."""
    data = table.data
    if data is None or not len(data) or "row" not in data.columns:
        return ""
    keep = np.isfinite(data["ratio"]) & np.isfinite(data["lower"]) & np.isfinite(data["upper"])
    keep &= (data["lower"] > 0) & (data["row"] >= 0)
    if "estimable" in data.columns:  # a non-estimable effect has no ratio to draw
        keep &= data["estimable"].astype(bool)
    data = data[keep].drop_duplicates("row")
    if not len(data):
        return ""
    labels = [str(x) for x in table.body.iloc[:, 0]]
    rows = sorted(int(r) for r in data["row"])
    lo = float(np.log(min(data["lower"].min(), 1.0)))
    hi = float(np.log(max(data["upper"].max(), 1.0)))
    span = (hi - lo) or 1.0
    row_h, label_w, plot_w = 14, 110, 160
    height = len(rows) * row_h + 24

    def x(v: float) -> float:
        return label_w + 8 + (plot_w - 26) * (math.log(v) - lo) / span

    body = [f'<line x1="{x(1):.1f}" y1="2" x2="{x(1):.1f}" y2="{len(rows) * row_h + 4}" stroke="currentColor" '
            'stroke-width=".8" stroke-dasharray="3 2"/>']
    by_row = {int(r.row): r for r in data.itertuples()}
    for k, row in enumerate(rows):
        r = by_row[row]
        cy = (k + 0.5) * row_h + 2
        label = labels[row] if row < len(labels) else ""
        body.append(f'<text x="{label_w}" y="{cy + 3:.1f}" text-anchor="end" fill="currentColor">'
                    f"{html.escape(label[:22])}</text>"
                    f'<line x1="{x(r.lower):.1f}" y1="{cy:.1f}" x2="{x(r.upper):.1f}" y2="{cy:.1f}" '
                    f'stroke="{_COLOURS[0]}" stroke-width="1.2"/><rect x="{x(r.ratio) - 2.5:.1f}" '
                    f'y="{cy - 2.5:.1f}" width="5" height="5" fill="{_COLOURS[0]}"/>')
    for v in sorted({math.exp(lo), 1.0, math.exp(hi)}):
        body.append(f'<text x="{x(v):.1f}" y="{len(rows) * row_h + 18}" text-anchor="middle" fill="currentColor">'
                    f"{fmt_num(v, 2)}</text>")
    return _svg(body, label_w + plot_w, height)
