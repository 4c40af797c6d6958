"""Publication figures drawn from the tidy frames of bmstats results; each function returns a Figure.

- :func:`plot_survival`: Kaplan-Meier curves with confidence bands, censor marks, the log-rank p and a
  number-at-risk table (at risk and cumulative events per group) aligned under the time axis.
- :func:`plot_cumulative_incidence`: Aalen-Johansen curves the same way with Gray's p, or stacked for
  two causes (one panel per group).
- :func:`plot_mcf`: mean cumulative function curves of recurrent events.
- :func:`plot_forest`: forest plot of a regression table (several models side by side).
- :func:`plot_schoenfeld`: scaled Schoenfeld residuals against time for a proportional-hazards test.
- :func:`plot_exclusion_flow`: the STROBE flow of who was excluded and why.
- :func:`save_figure`: PNG (300 dpi), SVG and PDF with fixed metadata, so the same figure gives the same
  bytes.

Results' ``.plot()`` methods delegate here; this module is the only place in bmstats that draws.
Curves are drawn from ``result.table`` as right-continuous steps starting at (0, 1) for survival and
(0, 0) for cumulative incidence; numbers at risk come from ``result.at(ticks)`` (``n_risk`` at the first
time >= tick, as ``summary(survfit, times=)``) when the result has it.
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnchoredText
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator, PercentFormatter

from bmstats.estimate.timescale import axis_label
from bmstats.report import captions
from bmstats.report import style as st
from bmstats.report.format import fmt_int, fmt_p

__all__ = [
    "plot_survival", "plot_cumulative_incidence", "plot_mcf", "plot_forest", "plot_schoenfeld",
    "plot_exclusion_flow", "save_figure", "FIGURE_FORMATS",
]

FIGURE_FORMATS = ("png", "svg", "pdf")
_MAIN_HEIGHT = {"single": 2.4, "double": 3.4}
_RISK_ROW = 0.13  # inches per row of the risk table
MAX_BANDS = 3  # more confidence bands than this overlap into mud: drawn only on request (conf_int=True)


# ------------------------------------------------------------------------------------------- helpers
def _p_text(name: str, p: float) -> str:
    text = fmt_p(p)
    prefix = f"{name} " if name else ""
    return f"{prefix}p {text}" if text.startswith(("<", ">")) else f"{prefix}p = {text}"


def _ticks(xmax: float, ticks: Sequence[float] | None) -> np.ndarray:
    if ticks is not None:
        return np.asarray(ticks, dtype=float)
    values = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], integer=xmax > 4).tick_values(0, xmax)
    return values[(values >= 0) & (values <= xmax * (1 + 1e-9))]


def _groups(table: pd.DataFrame) -> list:
    if "group" not in table.columns:
        return [None]
    return list(pd.unique(table["group"]))


def _group_rows(table: pd.DataFrame, g: Any) -> pd.DataFrame:
    if g is None or "group" not in table.columns:
        return table
    if pd.isna(g):
        return table[table["group"].isna()]
    return table[table["group"] == g]


def _label(g: Any, labels: Mapping | None) -> str:
    if labels and g in labels:
        return str(labels[g])
    return "All" if g is None or (not isinstance(g, str) and pd.isna(g)) else str(g)


def _layout(width: str | float, n_risk_rows: int, height: float | None = None, ncols: int = 1):
    """A figure with ``ncols`` curve panels and, if ``n_risk_rows``, a risk-table axes under each."""
    w = st.column_width(width)
    main = height or _MAIN_HEIGHT.get(width if isinstance(width, str) else "single", 0.68 * w)
    risk = (n_risk_rows + 0.9) * _RISK_ROW + 0.35 if n_risk_rows else 0
    fig = Figure(figsize=(w, main + risk))
    if n_risk_rows:
        gs = fig.add_gridspec(2, ncols, height_ratios=[main, risk], hspace=0.0)
        axes = [fig.add_subplot(gs[0, j]) for j in range(ncols)]
        risk_axes = [fig.add_subplot(gs[1, j], sharex=axes[j]) for j in range(ncols)]
    else:
        gs = fig.add_gridspec(1, ncols)
        axes = [fig.add_subplot(gs[0, j]) for j in range(ncols)]
        risk_axes = [None] * ncols
    return fig, axes, risk_axes


def _draw_risk_table(ax, ticks: np.ndarray, blocks: list[tuple[str, list[tuple[str, str, list[str]]]]]) -> None:
    """Numbers under the time axis: ``blocks`` = [(title, [(row label, colour, [text per tick])])]."""
    ax.set_gid("risk_table")
    n_rows = sum(len(rows) + (1 if title else 0) for title, rows in blocks)
    ax.set_ylim(n_rows - 0.4, -0.9)
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    fig = ax.figure
    left = mpl.transforms.blended_transform_factory(fig.transFigure, ax.transData)
    label_at = mpl.transforms.offset_copy(
        mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData), fig=fig, x=-14, units="points")
    y = 0
    for title, rows in blocks:
        if title:
            ax.text(0.015, y, title, transform=left, ha="left", va="center", fontsize=6.5, fontweight="bold")
            y += 1
        for name, colour, texts in rows:
            ax.text(0, y, name, transform=label_at, ha="right", va="center", fontsize=6.5, color=colour,
                    fontweight="bold")
            for x, text in zip(ticks, texts):
                ax.text(x, y, text, ha="center", va="center", fontsize=6.5, gid="risk_number")
            y += 1


def _finish_main(ax, xmax: float, ticks: np.ndarray, xlabel: str, ylabel: str, percent: bool,
                 risk_below: bool, ylim: tuple[float, float] | None = None) -> None:
    ax.set_xlim(0, xmax)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_ylim(*(ylim or (0, 1.02)))
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_minor_locator(NullLocator())


def _step(times: np.ndarray, values: np.ndarray, start: float) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, times], np.r_[start, values]


def _band(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, start: float) -> tuple[np.ndarray, np.ndarray]:
    lo = np.where(np.isfinite(lo), lo, values)
    hi = np.where(np.isfinite(hi), hi, values)
    return np.r_[start, lo], np.r_[start, hi]


def risk_numbers(table: pd.DataFrame, ticks: np.ndarray, group: Any, event_rows: pd.DataFrame | None = None,
                 after: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(n at risk, cumulative events) at ``ticks`` for one group from a table with time, n_risk, n_event.

    n at risk at t is ``n_risk`` at the first time >= t (0 beyond the last time); cumulative events sum
    ``n_event`` over times <= t (of ``event_rows`` when given, e.g. one cause of a competing-risks table).
    ``after=True`` takes the first time > t instead (risk sets ``start < t <= stop`` of counting-process
    data, where nobody is at risk *at* the origin itself).
    """
    tb = _group_rows(table, group).sort_values("time", kind="mergesort")
    t = tb["time"].to_numpy(dtype=float)
    nxt = np.searchsorted(t, ticks, side="right" if after else "left")
    n_risk = np.r_[tb["n_risk"].to_numpy(), 0][nxt]
    ev = tb if event_rows is None else _group_rows(event_rows, group).sort_values("time", kind="mergesort")
    te = ev["time"].to_numpy(dtype=float)
    cum = np.r_[0, np.cumsum(ev["n_event"].to_numpy())][np.searchsorted(te, ticks, side="right")]
    return n_risk.astype(np.int64), cum.astype(np.int64)


def _panels(ax: Any, ratios: Sequence[float], rows: int = 1, wspace: float = 0.0, hspace: float = 0.0,
            sharey: bool = False) -> list:
    """Axes for a figure of several panels drawn into the area of ``ax`` (the given axes is switched off and
    the panels are laid out inside it, ``rows`` x len(``ratios``) with relative widths ``ratios``), so that
    a plot with several panels still goes into the figure the caller chose."""
    ax.set_axis_off()
    total = sum(ratios) * (1 + wspace * (len(ratios) - 1) / max(len(ratios), 1))
    height = 1 / (rows + hspace * (rows - 1))
    out, first = [], None
    for i in range(rows):
        x0 = 0.0
        for r in ratios:
            w = r / total
            y0 = 1 - (i + 1) * height - i * hspace * height
            panel = ax.inset_axes([x0, y0, w, height], sharey=first if sharey else None)
            first = first or panel
            out.append(panel)
            x0 += w + wspace * sum(ratios) / len(ratios) / total
    return out


def _p_box(ax, text: str, loc: str = "title") -> None:
    """The test's p-value: above the plotting area on the right (``loc="title"``: never over a curve) or
    anchored inside at ``loc``."""
    if loc == "title":
        ax.set_title(text, loc="right", fontsize=6.5, gid="p_value")
        return
    box = AnchoredText(text, loc=loc, frameon=False, prop={"fontsize": 6.5}, borderpad=0.3)
    box.set_gid("p_value")
    ax.add_artist(box)


# ------------------------------------------------------------------------------------ survival curves
def plot_survival(
    km_result: Any,
    ax: Any = None,
    *,
    test: Any = None,
    p_value: float | None = None,
    risk_table: bool | None = None,
    cumulative_events: bool = True,
    conf_int: bool | None = None,
    censor_marks: bool = True,
    ticks: Sequence[float] | None = None,
    xmax: float | None = None,
    xlabel: str | None = None,
    ylabel: str = "Survival probability",
    title: str | None = None,
    labels: Mapping | None = None,
    legend_title: str | None = None,
    percent: bool = False,
    width: str | float = "single",
    colors: Sequence[str] | None = None,
) -> Figure:
    """Kaplan-Meier curves from ``km_result.table`` (group, time, n_risk, n_event, n_censor, estimate,
    lower, upper) with a number-at-risk table under the time axis.

    ``test``: a log-rank result (its ``p_value`` is printed) or ``p_value`` directly.  With ``ax`` the
    curves are drawn into that axes without a risk table (unless ``risk_table=True`` and the axes'
    figure has room: not supported, so a risk table needs ``ax=None``).
    """
    xlabel = axis_label(km_result, xlabel)  # the endpoint's unit and origin when the data came from a Cohort
    table = km_result.table
    groups = _groups(table)
    omitted = conf_int is None and len(groups) > MAX_BANDS
    conf_int = len(groups) <= MAX_BANDS if conf_int is None else conf_int
    n_bands = 0
    colors = list(colors or st.palette(len(groups)))
    xmax = float(xmax if xmax is not None else table["time"].max())
    tick_values = _ticks(xmax, ticks)
    risk_table = (ax is None) if risk_table is None else (risk_table and ax is None)
    n_rows = (len(groups) * (2 if cumulative_events else 1) + (1 if cumulative_events else 0)) if risk_table else 0
    with st.style():
        if ax is None:
            fig, (ax,), (rax,) = _layout(width, n_rows)
        else:
            fig, rax = ax.figure, None
        for g, colour in zip(groups, colors):
            tb = _group_rows(table, g).sort_values("time", kind="mergesort")
            t, s = tb["time"].to_numpy(dtype=float), tb["estimate"].to_numpy(dtype=float)
            x, y = _step(t, s, 1.0)
            ax.step(x, y, where="post", color=colour, label=_label(g, labels), gid=f"curve:{_label(g, labels)}")
            if conf_int and {"lower", "upper"} <= set(tb.columns):
                lo, hi = _band(s, tb["lower"].to_numpy(dtype=float), tb["upper"].to_numpy(dtype=float), 1.0)
                ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
                n_bands += 1
            if censor_marks and "n_censor" in tb.columns:
                c = tb["n_censor"].to_numpy() > 0
                ax.plot(t[c], s[c], linestyle="none", marker="|", markersize=3, markeredgewidth=0.6,
                        color=colour, gid="censor_marks")
        _finish_main(ax, xmax, tick_values, "" if rax is not None else xlabel, ylabel, percent, rax is not None)
        if len(groups) > 1 or labels:
            ax.legend(title=legend_title, loc="best", handlelength=1.5)
        p = p_value if p_value is not None else (test.p_value if test is not None else None)
        if p is not None:
            _p_box(ax, _p_text("Log-rank", p))
        captions.record(fig, curves=len(groups), bands=n_bands, bands_omitted=omitted, p_shown=p is not None,
                        conf_level=km_result.conf_level, risk_table=rax is not None)
        if title:
            ax.set_title(title, loc="left")
        if rax is not None:
            at = km_result.at(tick_values)
            at_risk, events = [], []
            for g, colour in zip(groups, colors):
                sub = _group_rows(at, g).sort_values("time", kind="mergesort")
                nr = sub["n_risk"].to_numpy()
                ce = np.cumsum(sub["n_event"].to_numpy())
                at_risk.append((_label(g, labels), colour, [fmt_int(v) for v in nr]))
                events.append((_label(g, labels), colour, [fmt_int(v) for v in ce]))
            blocks = [("Number at risk", at_risk)] + ([("Cumulative events", events)] if cumulative_events else [])
            _draw_risk_table(rax, tick_values, blocks)
            ax.tick_params(axis="x", labelbottom=True)
            ax.set_xlabel(xlabel)
            _tidy_layout(fig, [r[0] for r in at_risk])
    return fig


def _tidy_layout(fig: Figure, labels: Sequence[str] = ()) -> None:
    """Fixed margins (deterministic; wide enough for the risk-table row labels)."""
    w = fig.get_figwidth()
    left = max(0.84, 0.3 + 0.058 * max((len(str(x)) for x in labels), default=0))
    fig.subplots_adjust(left=left / w, right=1 - 0.25 / w, top=0.95, bottom=0.04, hspace=0.0)
    axes = fig.get_axes()
    if len(axes) == 2:  # curves + risk table: put the table under the axis label with a gap
        main, risk = axes
        pos_r = risk.get_position()
        gap = 0.36 / fig.get_figheight()
        risk.set_position([pos_r.x0, pos_r.y0, pos_r.width, max(pos_r.height - gap, 0.01)])


def _cif_curves(table: pd.DataFrame, g: Any, cause: Any) -> pd.DataFrame:
    tb = _group_rows(table, g)
    return tb[tb["cause"] == cause].sort_values("time", kind="mergesort")


def plot_cumulative_incidence(
    cif_result: Any,
    ax: Any = None,
    *,
    cause: Any = 1,
    causes: Sequence[Any] | None = None,
    stacked: bool = False,
    risk_table: bool | None = None,
    cumulative_events: bool = True,
    conf_int: bool | None = None,
    ticks: Sequence[float] | None = None,
    xmax: float | None = None,
    ymax: float | None = None,
    xlabel: str | None = None,
    ylabel: str = "Cumulative incidence",
    title: str | None = None,
    labels: Mapping | None = None,
    cause_labels: Mapping | None = None,
    legend_title: str | None = None,
    percent: bool = False,
    p_value: float | None = None,
    width: str | float | None = None,
    colors: Sequence[str] | None = None,
) -> Figure:
    """Cumulative incidence (Aalen-Johansen) curves from ``cif_result.table`` (group, cause, time, n_risk,
    n_event, estimate, lower, upper), Gray's p from ``cif_result.gray_test``, and a number-at-risk table.

    ``cause``: the cause drawn per group (colour = group); ``causes=[1, 2]`` draws several (line style =
    cause); ``stacked=True`` stacks the causes (default 1 and 2) as areas, one panel per group, so the top
    edge is the probability of any event.
    """
    xlabel = axis_label(cif_result, xlabel)  # the endpoint's unit and origin when the data came from a Cohort
    table = cif_result.table
    groups = _groups(table)
    all_causes = list(pd.unique(table["cause"]))
    xmax = float(xmax if xmax is not None else table["time"].max())
    tick_values = _ticks(xmax, ticks)
    cause_labels = dict(cause_labels or {})
    clabel = lambda c: str(cause_labels.get(c, f"Cause {c}"))  # noqa: E731
    gray = cif_result.gray_test
    if stacked:
        return _plot_stacked(cif_result, list(causes or all_causes[:2]), groups, tick_values, xmax, xlabel, ylabel,
                             title, labels, clabel, percent, width or ("double" if len(groups) > 1 else "single"),
                             colors, risk_table is not False and ax is None, ymax, legend_title, ax)
    shown = list(causes) if causes is not None else [cause]
    omitted = conf_int is None and len(groups) * len(shown) > MAX_BANDS
    conf_int = len(groups) * len(shown) <= MAX_BANDS if conf_int is None else conf_int
    n_bands = 0
    risk_table = (ax is None) if risk_table is None else (risk_table and ax is None)
    n_rows = (len(groups) * (2 if cumulative_events else 1) + (1 if cumulative_events else 0)) if risk_table else 0
    colors = list(colors or st.palette(len(groups)))
    with st.style():
        if ax is None:
            fig, (ax,), (rax,) = _layout(width or "single", n_rows)
        else:
            fig, rax = ax.figure, None
        top = 0.0
        for g, colour in zip(groups, colors):
            for k, c in enumerate(shown):
                tb = _cif_curves(table, g, c)
                t, f = tb["time"].to_numpy(dtype=float), tb["estimate"].to_numpy(dtype=float)
                x, y = _step(t, f, 0.0)
                name = _label(g, labels) if len(shown) == 1 else f"{_label(g, labels)}: {clabel(c)}"
                if len(groups) == 1 and g is None:
                    name = clabel(c)
                line_colour = colour if len(groups) > 1 or len(shown) == 1 else st.palette(len(shown))[k]
                ax.step(x, y, where="post", color=line_colour,
                        linestyle=st.LINESTYLES[k % 4] if len(groups) > 1 else "-", label=name, gid=f"curve:{name}")
                shown_x = x <= xmax
                top = max(top, float(np.nanmax(y[shown_x])))
                if conf_int and {"lower", "upper"} <= set(tb.columns):
                    lo, hi = _band(f, tb["lower"].to_numpy(dtype=float), tb["upper"].to_numpy(dtype=float), 0.0)
                    ax.fill_between(x, lo, hi, step="post", color=ax.lines[-1].get_color(), alpha=0.15, linewidth=0)
                    top = max(top, float(np.nanmax(hi[shown_x])))
                    n_bands += 1
        ylim = (0, ymax if ymax is not None else min(1.0, _nice_top(top)))
        _finish_main(ax, xmax, tick_values, xlabel, ylabel, percent, rax is not None, ylim)
        if len(groups) > 1 or len(shown) > 1 or labels:
            ax.legend(title=legend_title, loc="upper left", handlelength=1.8)
        p = p_value
        if p is None and gray is not None and len(groups) > 1 and len(shown) == 1:
            row = gray[gray["cause"] == shown[0]]
            p = float(row["p_value"].iloc[0]) if len(row) else None
        if p is not None:
            _p_box(ax, _p_text("Gray's test", p))
        captions.record(fig, curves=len(groups) * len(shown), bands=n_bands, bands_omitted=omitted,
                        p_shown=p is not None, conf_level=cif_result.conf_level,
                        risk_table=rax is not None)
        if title:
            ax.set_title(title, loc="left")
        if rax is not None:
            at_risk, events = [], []
            ev_rows = table[table["cause"].isin(shown)]
            for g, colour in zip(groups, colors):
                nr, _ = risk_numbers(_first_cause(table), tick_values, g)
                _, ce = risk_numbers(_first_cause(table), tick_values, g, event_rows=ev_rows)
                at_risk.append((_label(g, labels), colour, [fmt_int(v) for v in nr]))
                events.append((_label(g, labels), colour, [fmt_int(v) for v in ce]))
            blocks = [("Number at risk", at_risk)] + ([("Cumulative events", events)] if cumulative_events else [])
            _draw_risk_table(rax, tick_values, blocks)
            _tidy_layout(fig, [r[0] for r in at_risk])
    return fig


def _first_cause(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of one cause: n_risk is the same for every cause at a time."""
    return table[table["cause"] == table["cause"].iloc[0]]


def _nice_top(top: float) -> float:
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if top <= 10 * step:
            return float(np.ceil(top * 1.05 / step) * step) if top > 0 else 1.0
    return 1.0


def _plot_stacked(cif_result, causes, groups, tick_values, xmax, xlabel, ylabel, title, labels, clabel, percent,
                  width, colors, risk_table, ymax, group_title=None, ax=None) -> Figure:
    table = cif_result.table
    colors = list(colors or st.palette(len(causes)))
    with st.style():
        host = ax
        if host is None:
            fig, axes, raxes = _layout(width, 1 if risk_table else 0, ncols=len(groups))
        else:
            fig, raxes = host.figure, [None] * len(groups)
            axes = _panels(host, [1.0] * len(groups), wspace=0.15, sharey=True)
        for j, (g, ax) in enumerate(zip(groups, axes)):
            tb = _group_rows(table, g)
            grid = np.unique(tb.loc[tb["cause"].isin(causes), "time"].to_numpy(dtype=float))
            x = np.r_[0.0, grid]
            base = np.zeros_like(x)
            for c, colour in zip(causes, colors):
                cur = _cif_curves(table, g, c)
                idx = np.searchsorted(cur["time"].to_numpy(dtype=float), x, side="right") - 1
                y = np.where(idx >= 0, cur["estimate"].to_numpy(dtype=float)[np.maximum(idx, 0)], 0.0)
                ax.fill_between(x, base, base + y, step="post", color=colour, alpha=0.75, linewidth=0,
                                label=clabel(c) if j == 0 else None, gid=f"stack:{clabel(c)}")
                ax.step(x, base + y, where="post", color=colour, linewidth=0.8)
                base = base + y
            ylim = (0, ymax if ymax is not None else 1.0)
            _finish_main(ax, xmax, tick_values, xlabel, ylabel if j == 0 else "", percent, risk_table, ylim)
            if j > 0:
                ax.tick_params(axis="y", labelleft=False)
            if g is not None:
                ax.set_title(f"{group_title}: {_label(g, labels)}" if group_title else _label(g, labels), loc="left")
            if raxes[j] is not None:
                nr, _ = risk_numbers(_first_cause(table), tick_values, g)
                _draw_risk_table(raxes[j], tick_values, [("", [("At risk" if j == 0 else "", "black",
                                                          [fmt_int(v) for v in nr])])])
        axes[0].legend(loc="upper left", handlelength=1.2)
        if host is not None:
            if title:
                host.set_title(title, loc="left")
            return fig
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=8)
        fig.subplots_adjust(left=0.1 if len(groups) > 1 else 0.2, right=0.98, top=0.88 if title else 0.92,
                            bottom=0.05, wspace=0.22)
        for rax in raxes:
            if rax is not None:
                pos = rax.get_position()
                gap = 0.42 / fig.get_figheight()
                rax.set_position([pos.x0, pos.y0, pos.width, max(pos.height - gap, 0.01)])
    return fig


# ------------------------------------------------------------------------------- recurrent events
def plot_mcf(
    mcf_result: Any,
    ax: Any = None,
    *,
    risk_table: bool | None = None,
    conf_int: bool = True,
    ticks: Sequence[float] | None = None,
    xmax: float | None = None,
    xlabel: str | None = None,
    ylabel: str = "Mean number of events per patient",
    title: str | None = None,
    labels: Mapping | None = None,
    legend_title: str | None = None,
    p_value: float | None = None,
    p_label: str = "Equal means",
    width: str | float = "single",
    colors: Sequence[str] | None = None,
) -> Figure:
    """Mean cumulative function curves from ``mcf_result.table`` (group, time, estimate, lower, upper),
    with the number at risk (from ``mcf_result.counts`` when present) under the time axis.  ``p_value`` is
    printed after ``p_label``, which names the test (e.g. "Equal means at 5 years")."""
    xlabel = axis_label(mcf_result, xlabel)  # the endpoint's unit and origin when the data came from a Cohort
    table = mcf_result.table
    groups = _groups(table)
    colors = list(colors or st.palette(len(groups)))
    max_time = mcf_result.max_time
    xmax = float(xmax if xmax is not None else max([table["time"].max(), *max_time.values()]))
    tick_values = _ticks(xmax, ticks)
    counts = mcf_result.counts
    risk_table = (ax is None) if risk_table is None else (risk_table and ax is None)
    n_bands = 0
    with st.style():
        if ax is None:
            fig, (ax,), (rax,) = _layout(width, len(groups) * 2 + 1 if risk_table else 0)
        else:
            fig, rax = ax.figure, None
        top = 0.0
        for g, colour in zip(groups, colors):
            tb = _group_rows(table, g).sort_values("time", kind="mergesort")
            t, m = tb["time"].to_numpy(dtype=float), tb["estimate"].to_numpy(dtype=float)
            end = max_time.get(g, t[-1] if len(t) else 0.0)
            x, y = np.r_[0.0, t, end], np.r_[0.0, m, m[-1] if len(m) else 0.0]
            ax.step(x, y, where="post", color=colour, label=_label(g, labels), gid=f"curve:{_label(g, labels)}")
            shown_x = x <= xmax
            top = max(top, float(np.nanmax(y[shown_x])))
            if conf_int and {"lower", "upper"} <= set(tb.columns):
                lo, hi = _band(m, tb["lower"].to_numpy(dtype=float), tb["upper"].to_numpy(dtype=float), 0.0)
                lo, hi = np.r_[lo, lo[-1]], np.r_[hi, hi[-1]]
                ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
                top = max(top, float(np.nanmax(hi[shown_x])))
                n_bands += 1
        _finish_main(ax, xmax, tick_values, xlabel, ylabel, False, rax is not None, (0, top * 1.05 or 1))
        if len(groups) > 1 or labels:
            ax.legend(title=legend_title, loc="upper left", handlelength=1.5)
        if p_value is not None:
            _p_box(ax, _p_text(p_label, p_value))
        captions.record(fig, curves=len(groups), bands=n_bands, p_shown=p_value is not None,
                        conf_level=mcf_result.conf_level, risk_table=rax is not None)
        if title:
            ax.set_title(title, loc="left")
        if rax is not None:
            at_risk, events = [], []
            for g, colour in zip(groups, colors):
                # counts' n_risk at t counts start < t <= stop: at a tick, those at risk just after it
                nr, ce = risk_numbers(counts, tick_values, g, after=True)
                at_risk.append((_label(g, labels), colour, [fmt_int(v) for v in nr]))
                events.append((_label(g, labels), colour, [fmt_int(v) for v in ce]))
            _draw_risk_table(rax, tick_values, [("Number at risk", at_risk), ("Cumulative events", events)])
            _tidy_layout(fig, [r[0] for r in at_risk])
    return fig


# ---------------------------------------------------------------------------------------- forest plot
def plot_forest(
    table_or_result: Any,
    ax: Any = None,
    *,
    xlabel: str | None = None,
    title: str | None = None,
    width: str | float = "double",
    colors: Sequence[str] | None = None,
    decimals: int = 2,
    xlim: tuple[float, float] | None = None,
    **table_kw: Any,
) -> Figure:
    """Forest plot: one row per term (categorical levels under their variable, reference level marked),
    ratio and 95% CI on a log axis, the numbers written beside it; several models side by side.

    Takes a :func:`~bmstats.report.table_builders.regression_table` Table, a fitted model, or a mapping of
    them (passed to ``regression_table`` with ``table_kw``).  With ``ax`` the plot and its text columns are
    laid out inside that axes' area of its figure.
    """
    from bmstats.report.table import Table
    from bmstats.report.table_builders import regression_table

    table = table_or_result if isinstance(table_or_result, Table) else regression_table(table_or_result, **table_kw)
    if table.data is None or "row" not in table.data.columns:
        raise ValueError("plot_forest needs a table made by regression_table")
    data = table.data
    body = table.body
    keep = [i for i in range(len(body)) if str(body.iloc[i, 0]) != "Patients / events"]
    models = list(pd.unique(data["model"]))
    colors = list(colors or (["#000000"] if len(models) == 1 else st.palette(len(models))))
    ratio_names = {str(lab).split(" (")[0] for lab in table.labels[1::2]}
    ratio_name = ratio_names.pop() if len(ratio_names) == 1 else "Ratio"
    n = len(keep)
    ypos = {row: k for k, row in enumerate(keep)}
    finite = data[np.isfinite(data["lower"]) & np.isfinite(data["upper"]) & (data["lower"] > 0)]
    lo = float(finite["lower"].min()) if len(finite) else 0.5
    hi = float(finite["upper"].max()) if len(finite) else 2.0
    if xlim is None:
        stops = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1.0, 1.5, 2, 3, 4, 5, 10, 20, 50, 100])
        low, high = min(lo, 0.9) / 1.05, max(hi, 1.1) * 1.05
        lo = float(stops[stops <= low].max()) if (stops <= low).any() else low
        hi = float(stops[stops >= high].min()) if (stops >= high).any() else high
    else:
        lo, hi = xlim
    with st.style():
        ratios = [1.7, 2.4] + [1.5] * len(models)
        host = ax
        if host is None:
            w = st.column_width(width)
            fig = Figure(figsize=(w, 0.55 + 0.17 * (n + 1)))
            gs = fig.add_gridspec(1, len(ratios), width_ratios=ratios, wspace=0.02)
            ax_lab = fig.add_subplot(gs[0, 0])
            ax = fig.add_subplot(gs[0, 1], sharey=ax_lab)
            ax_txt = [fig.add_subplot(gs[0, 2 + j], sharey=ax_lab) for j in range(len(models))]
        else:
            fig = host.figure
            ax_lab, ax, *ax_txt = _panels(host, ratios, wspace=0.01, sharey=True)
        for a in [ax_lab, *ax_txt]:
            a.set_xlim(0, 1)
            a.axis("off")
        ax_lab.set_ylim(n - 0.4, -1.3)
        header_y = -1.0
        ax_lab.text(0, header_y, "Variable", fontweight="bold", va="center", fontsize=6.5)
        for k, row in enumerate(keep):
            label = str(body.iloc[row, 0])
            ax_lab.text(0.06 * table.indent[row], k, label, va="center", fontsize=6.5,
                        fontweight="bold" if table.bold[row] else "normal")
            if k % 2 == 0:
                for a in (ax,):
                    a.axhspan(k - 0.5, k + 0.5, color="#f2f2f2", zorder=0, linewidth=0)
        offsets = np.linspace(-0.18, 0.18, len(models)) if len(models) > 1 else [0.0]
        markers = ["s", "D", "o", "^"]
        for j, (model, colour) in enumerate(zip(models, colors)):
            sub = data[data["model"] == model]
            ys = np.array([ypos[r] + offsets[j] for r in sub["row"] if r in ypos])
            sub = sub[sub["row"].isin(ypos)]
            r, lower, upper = (sub[c].to_numpy(dtype=float) for c in ("ratio", "lower", "upper"))
            ax.hlines(ys, np.clip(lower, lo, hi), np.clip(upper, lo, hi), color=colour, linewidth=0.9)
            ax.plot(r, ys, linestyle="none", marker=markers[j % 4], markersize=3.2, color=colour,
                    label=model or None, gid=f"points:{model}")
            ci_head = str(table.labels[1 + 2 * j]) if 1 + 2 * j < len(table.labels) else f"{ratio_name} (95% CI)"
            head = f"{model}\n{ci_head}" if model else ci_head
            ax_txt[j].text(0.5, header_y, head, ha="center", va="center", fontsize=6.5, fontweight="bold",
                           color=colour if len(models) > 1 else "black")
            for k, row in enumerate(keep):
                cell = str(body.iloc[row, 1 + 2 * j]) if 1 + 2 * j < body.shape[1] else ""
                if cell:
                    ax_txt[j].text(0.5, k, cell, ha="center", va="center", fontsize=6.5)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.axvline(1.0, color="#666666", linewidth=0.7, linestyle="--", zorder=1)
        candidates = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100])
        if ((candidates >= lo) & (candidates <= hi)).sum() < 4:
            candidates = np.array([0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 10])
        ax.xaxis.set_major_locator(FixedLocator(candidates[(candidates >= lo) & (candidates <= hi)]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(xlabel or f"{ratio_name} (95% CI, log scale)")
        ax.set_ylim(n - 0.4, -1.3)
        if host is not None:
            if title:
                host.set_title(title, loc="left")
            return fig
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=8)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.97 if not title else 0.9,
                            bottom=0.55 / fig.get_figheight() * 0.95)
    return fig


# ------------------------------------------------------------------------------ model diagnostics
def plot_schoenfeld(
    ph_test: Any,
    ax: Any = None,
    *,
    terms: Sequence[str] | None = None,
    width: str | float = "double",
    ncols: int | None = None,
    xlabel: str = "Time",
) -> Figure:
    """Scaled Schoenfeld residuals against time, one panel per term, with a LOWESS smooth and the term's
    test p-value (Grambsch & Therneau 1994).  A flat smooth supports proportional hazards.

    ``ph_test``: a :meth:`bmstats.estimate.cox.CoxResult.ph_test` result (``residuals``: one column per
    coefficient, scaled as in ``plot(cox.zph(fit))``, one row per event at ``time``; ``table``: statistic,
    df, p_value per term; ``terms``: term -> its coefficient columns).  With ``ax`` the panels are laid out
    inside that axes' area of its figure.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    resid = ph_test.residuals
    summary = ph_test.table
    times = ph_test.time
    coef = ph_test.coef
    term_of = {col: term for term, cols in ph_test.terms.items() for col in cols}
    names = list(terms or resid.columns)
    ncols = ncols or min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    w = st.column_width(width)
    with st.style():
        if ax is None:
            fig = Figure(figsize=(w, 1.8 * nrows + 0.3))
            axes = fig.subplots(nrows, ncols, squeeze=False)
        else:
            fig = ax.figure
            axes = np.array(_panels(ax, [1.0] * ncols, rows=nrows, wspace=0.3, hspace=0.6)).reshape(nrows, ncols)
        host = ax
        t = np.asarray(times, dtype=float)
        for k, name in enumerate(names):
            ax = axes.flat[k]
            r = resid[name].to_numpy(dtype=float)
            ax.plot(t, r, linestyle="none", marker="o", markersize=1.2, color="#999999", alpha=0.6, gid="residuals")
            smooth = lowess(r, t, frac=0.4, it=0, return_sorted=True)
            ax.plot(smooth[:, 0], smooth[:, 1], color=st.OKABE_ITO[0], linewidth=1.1, gid="smooth")
            level = float(coef[name]) if name in coef.index else float(np.mean(r))
            ax.axhline(level, color="#666666", linestyle="--", linewidth=0.6)
            head = coefficient_label(name)
            term = term_of.get(name, name)
            if term in summary.index:
                df = int(summary.loc[term, "df"])
                which = f"{coefficient_label(term)}, {df} df" if df > 1 else "PH test"
                head += f"\n{which}: {_p_text('', float(summary.loc[term, 'p_value']))}"
            ax.set_title(head, loc="left", fontsize=6.5)
            ax.set_xlabel(xlabel)
            if k % ncols == 0:
                ax.set_ylabel("Beta(t)")
        for ax in list(axes.flat)[len(names):]:
            ax.set_visible(False)
        if host is not None:
            return fig
        fig.subplots_adjust(left=0.08, right=0.98, top=1 - 0.45 / fig.get_figheight(),
                            bottom=0.4 / fig.get_figheight(), wspace=0.3, hspace=0.75)
    return fig


def coefficient_label(name: str) -> str:
    """``size[T.20-50]`` -> ``size: 20-50``; ``C(grade)[T.3]`` -> ``grade: 3`` (readable panel titles)."""
    name = re.sub(r"^(?:C|treatment)\(\s*([^,\)]+)[^\)]*\)", r"\1", str(name))
    return re.sub(r"\[(?:T\.)?(.+)\]$", r": \1", name)


def _flow_steps(log: Any) -> tuple[int, list[tuple[str, int, int]], str]:
    """(n at start, [(reason, n excluded, n remaining)], final label) from an exclusion log or a frame of
    steps (reason, n_excluded and n_before for the first step)."""
    from bmstats.cohort.exclusions import ExclusionLog

    if isinstance(log, ExclusionLog):
        frame, start = log.table, log.n_start
    elif isinstance(log, pd.DataFrame) and {"reason", "n_excluded", "n_before"} <= set(log.columns):
        frame, start = log, int(log["n_before"].iloc[0])
    else:
        raise ValueError("plot_exclusion_flow needs an exclusion log (Cohort.endpoint(...)) or a DataFrame with "
                         "columns reason, n_excluded and n_before")
    steps, remaining = [], int(start)
    for r, e in zip(frame["reason"], frame["n_excluded"]):
        remaining -= int(e)
        steps.append((str(r), int(e), remaining))
    return int(start), steps, "Included in the analysis"


def plot_exclusion_flow(
    exclusion_log: Any,
    ax: Any = None,
    *,
    show_empty: bool = False,
    start_label: str = "Patients in the cohort",
    final_label: str | None = None,
    width: str | float = "single",
) -> Figure:
    """STROBE flow diagram: the cohort, each exclusion step as a side box (reason, n), and the patients
    analysed.  ``exclusion_log``: an exclusion log (its table of steps with reason and n excluded) or a
    DataFrame with columns ``reason`` and ``n_excluded`` (and ``n_before`` for the first step)."""
    start, steps, final = _flow_steps(exclusion_log)
    if not show_empty:
        steps = [s for s in steps if s[1] > 0]
    final = final_label or final
    w = st.column_width(width)
    n_boxes = len(steps) + 2
    with st.style():
        if ax is None:
            fig = Figure(figsize=(w, 0.6 * n_boxes + 0.1))
            ax = fig.add_axes([0, 0, 1, 1])
        else:
            fig = ax.figure
        ax.set_xlim(0, 1)
        ax.set_ylim(n_boxes - 0.4, -0.6)
        ax.axis("off")
        box = dict(boxstyle="square,pad=0.45", facecolor="white", edgecolor="black", linewidth=0.6)
        arrow = dict(arrowstyle="-|>", linewidth=0.6, color="black", shrinkA=0, shrinkB=0, mutation_scale=7)
        main_x, side_x = 0.28, 0.6
        final_y = len(steps) + 1
        ax.annotate("", xy=(main_x, final_y - 0.32), xytext=(main_x, 0.3), arrowprops=arrow)
        ax.text(main_x, 0, f"{start_label}\n(n = {start:,})", ha="center", va="center", fontsize=6.5, bbox=box,
                gid="flow:start")
        for i, (reason, excluded, _remaining) in enumerate(steps, start=1):
            ax.annotate("", xy=(side_x - 0.015, i), xytext=(main_x, i), arrowprops=arrow)
            text = "\n".join(textwrap.wrap(f"Excluded: {reason}", 34)) + f"\n(n = {excluded:,})"
            ax.text(side_x, i, text, ha="left", va="center", fontsize=6, bbox=box, gid="flow:excluded")
        final_n = steps[-1][2] if steps else start
        ax.text(main_x, final_y, f"{final}\n(n = {final_n:,})", ha="center", va="center", fontsize=6.5, bbox=box,
                gid="flow:final")
    return fig


# ------------------------------------------------------------------------------------------- output
_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
             "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}}


def save_figure_to(fig: Figure, target: Any, fmt: str, dpi: int = st.DPI) -> None:
    """Write one format to a path or binary file object with fixed metadata."""
    if fmt not in _METADATA:
        raise ValueError(f"unknown figure format {fmt!r}; choose from {', '.join(FIGURE_FORMATS)}")
    with mpl.rc_context({"svg.hashsalt": st.HASH_SALT, "svg.fonttype": "path", "pdf.fonttype": 42}):
        fig.savefig(target, format=fmt, dpi=dpi, metadata=_METADATA[fmt], facecolor="white")


def save_figure(fig: Figure, path_stem: str | Path, formats: Sequence[str] = FIGURE_FORMATS,
                dpi: int = st.DPI) -> list[Path]:
    """Write ``path_stem.png`` (``dpi``, default 300), ``.svg`` and ``.pdf`` with fixed metadata (no
    software version, creation date or random SVG ids), so the same figure gives the same bytes."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        save_figure_to(fig, path, fmt, dpi)
        written.append(path)
    return written


# ------------------------------------------------------------------ binary outcomes and multi-state
def _own_axes(ax: Any, width: str | float, height: float):
    """The given axes and their figure, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(st.column_width(width), height))
    return fig, fig.add_subplot(1, 1, 1)


def plot_proportion(result: Any, ax: Any = None, *, width: str | float = "single", percent: bool = True,
                    xlabel: str | None = None, title: str | None = None) -> Figure:
    """Proportions with their confidence limits, one row per group (a dot-and-whisker chart)."""
    tb = result.table
    labels = [str(g) for g in tb["group"]] if "group" in tb.columns else ["all"]
    with st.style():
        fig, ax = _own_axes(ax, width, 0.6 + 0.22 * len(tb))
        y = np.arange(len(tb))
        scale = 100.0 if percent else 1.0
        est, lo, hi = (tb[c].to_numpy(dtype=float) * scale for c in ("estimate", "lower", "upper"))
        ax.hlines(y, lo, hi, color="black", linewidth=0.9)
        ax.plot(est, y, linestyle="none", marker="s", markersize=3.2, color="black", gid="points:proportion")
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        ax.set_ylim(len(tb) - 0.5, -0.5)
        ax.set_xlim(left=0)
        ax.set_xlabel(xlabel or (f"{result.outcome} ({'%' if percent else 'proportion'}, "
                                 f"{result.conf_level:.0%} CI)"))
        if fig.get_axes() == [ax]:  # our own figure: room for the group labels
            w, h = fig.get_figwidth(), fig.get_figheight()
            fig.subplots_adjust(left=(0.25 + 0.055 * max(map(len, labels))) / w, right=1 - 0.2 / w,
                                top=1 - 0.15 / h, bottom=0.42 / h)
        if title:
            ax.set_title(title, loc="left", fontsize=8)
    return fig


def plot_state_occupation(result: Any, ax: Any = None, *, width: str | float = "single", percent: bool = True,
                          xlabel: str = "Time", ylabel: str | None = None, labels: Mapping | None = None,
                          title: str | None = None, colors: Sequence[str] | None = None) -> Figure:
    """Stacked probabilities of being in each state over time (one panel; the first group when grouped),
    the initial state at the bottom; each band is the probability of its state."""
    tb = result.table
    if "group" in tb.columns:
        first = tb["group"].iloc[0]
        tb = tb[tb["group"] == first]
    states = list(result.states)
    wide = tb.pivot(index="time", columns="state", values="estimate").reindex(columns=states)
    times = np.r_[0.0, wide.index.to_numpy(dtype=float)]
    start = result.at([0.0])
    if "group" in start.columns:
        start = start[start["group"] == start["group"].iloc[0]]
    p0 = start.set_index("state")["estimate"].reindex(states).to_numpy(dtype=float)
    values = np.vstack([p0, wide.to_numpy(dtype=float)]) * (100.0 if percent else 1.0)
    colors = list(colors or st.palette(len(states)))
    own = ax is None
    with st.style():
        fig, ax = _own_axes(ax, width, 2.4 + 0.14 * len(states))
        bottom = np.zeros(len(times))
        for j, state in enumerate(states):
            top = bottom + values[:, j]
            ax.fill_between(times, bottom, top, step="post", color=colors[j], linewidth=0,
                            label=str((labels or {}).get(state, state)).replace("_", " "), gid=f"state:{state}")
            bottom = top
        ax.set_xlim(0, times[-1])
        ax.set_ylim(0, 100.0 if percent else 1.0)
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(100))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel or "Probability of being in state")
        if own:  # fixed margins (deterministic), the legend under the axis label
            w, h = fig.get_figwidth(), fig.get_figheight()
            legend_h = 0.14 * len(states) + 0.1
            fig.subplots_adjust(left=0.55 / w, right=1 - 0.2 / w, top=1 - (0.3 if title else 0.1) / h,
                                bottom=(0.45 + legend_h) / h)
            handles, names = ax.get_legend_handles_labels()
            fig.legend(handles, names, loc="lower left", bbox_to_anchor=(0.55 / w, 0.02), frameon=False,
                       fontsize=6.5, ncol=1)
        else:
            ax.legend(loc="lower left", frameon=True, fontsize=6.5)
        if title:
            ax.set_title(title, loc="left", fontsize=8)
    return fig
