"""LaTeX output of a :class:`~bmstats.report.table.Table` that fits the page it is printed on.

A journal or a thesis takes the ``.tex`` file as it is, so the table is laid out here for the article class at
10 pt with its default margins (``\\textwidth`` 345 pt on A4 and US letter; a rotated page offers the
``\\textheight``, 550 pt on letter and 598 pt on A4, of which the smaller is used).  The width of every cell
is measured with the Computer Modern advance widths that pdflatex reports (``_latex_metrics``), and the
layout is the first of these that fits:

1. portrait at ``\\normalsize``, then ``\\small``;
2. landscape (``sidewaystable``, or ``pdflscape``'s ``landscape`` for a long table) at ``\\normalsize``,
   ``\\small``, ``\\footnotesize``, ``\\scriptsize`` and ``\\tiny``.

Within each, a header wider than its column wraps onto two lines (``makecell``; a group's ``(n = 3,387)``
goes under its name), and the label column may wrap (a ragged-right ``p`` column) before the next step is
tried.  Notes sit in the table (``threeparttable``), and a table taller than the page becomes a
``longtable`` whose header repeats on every page (notes through ``threeparttablex``).  The packages a
table needs are written in a comment at its top.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bmstats.report import _latex_metrics
from bmstats.report.table import latex_escape

if TYPE_CHECKING:
    from bmstats.report.table import Table

PORTRAIT_WIDTH = 345.0  # pt, \textwidth of article 10 pt, A4 and letter
LANDSCAPE_WIDTH = 550.0  # pt, \textheight of article 10 pt on US letter (598 pt on A4)
TABCOLSEP = 6.0
SIZES = ("normalsize", "small", "footnotesize", "scriptsize", "tiny")
_POINT = {"normalsize": 10.0, "small": 9.0, "footnotesize": 8.0, "scriptsize": 7.0, "tiny": 5.0}
_BASELINE = {"normalsize": 12.0, "small": 11.0, "footnotesize": 9.5, "scriptsize": 8.0, "tiny": 6.0}
_MARGIN = 1.01  # kerning is not counted (it mostly narrows); keep a little room for it anyway
_CANDIDATES = [(False, "normalsize"), (False, "small")] + [(True, s) for s in SIZES]
_WIDTHS = {key: dict(zip(_latex_metrics.CODES, values)) for key, values in _latex_metrics.WIDTHS.items()}


def text_width(text: str, size: str = "normalsize", bold: bool = False) -> float:
    """Width in pt of ``text`` typeset by pdflatex in Computer Modern at ``size`` (a size command name).

    Characters outside the measured set count as wide as an ``M``."""
    widths = _WIDTHS[(size, bold)]
    wide = widths[ord("M")]
    total = 0.0
    for ch in str(text):
        code = ord(ch)
        if code in widths:
            total += widths[code]
        else:
            total += sum(widths.get(ord(c), wide) for c in latex_escape(ch)) if ch in "\u2013\u2014" else wide
    return total


def _note_size(size: str) -> str:
    """Notes one size below the table, but no smaller than ``\\scriptsize`` unless the table is ``\\tiny``."""
    k = SIZES.index(size)
    return SIZES[k if k >= SIZES.index("scriptsize") else k + 1]


def _wrap_lines(text: str, width: float, size: str, bold: bool, indent: float) -> int:
    """Number of lines a greedy paragraph fill gives ``text`` in a column ``width`` pt wide."""
    lines, current = 1, indent
    space = text_width(" ", size, bold)
    for k, word in enumerate(text.split(" ")):
        w = text_width(word, size, bold)
        if k and current + space + w > width:
            lines, current = lines + 1, indent + w
        else:
            current += (space if k else 0.0) + w
    return lines


def _balanced(words: list[str], k: int, size: str) -> list[str]:
    """``words`` in ``k`` lines with the narrowest widest line."""
    from itertools import combinations

    best = None
    for cuts in combinations(range(1, len(words)), k - 1):
        bounds = (0, *cuts, len(words))
        lines = [" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:])]
        widest = max(text_width(x, size) for x in lines)
        if best is None or widest < best[0]:
            best = (widest, lines)
    return best[1] if best else [" ".join(words)]


def _words(text: str) -> list[str]:
    """Words of a header, a parenthesised part such as "(n = 3,387)" kept as one."""
    out: list[str] = []
    depth = 0
    for word in text.split(" "):
        if depth and out:
            out[-1] += " " + word
        else:
            out.append(word)
        depth = max(depth + word.count("(") - word.count(")"), 0)
    return out


def _header_lines(text: str, width: float, size: str) -> tuple[str, ...]:
    """A header in as few lines (at most four) as keep it within ``width``, never breaking inside
    parentheses; when nothing fits, the split with the narrowest widest line."""
    if text_width(text, size) <= width:
        return (text,)
    words = _words(text)
    options = [_balanced(words, k, size) for k in range(2, min(4, len(words)) + 1)]
    for lines in options:
        if max(text_width(x, size) for x in lines) <= width:
            return tuple(lines)
    if not options:
        return (text,)
    return tuple(min(options, key=lambda ls: (max(text_width(x, size) for x in ls), len(ls))))


def _stack(cell: str) -> tuple[str, ...]:
    """An estimate and its interval on two lines: "19.0 [12.0, 29.0]" -> ("19.0", "[12.0, 29.0]")."""
    for mark in (" (", " ["):
        if mark in cell and not cell.startswith(("(", "[")):
            cut = cell.index(mark)
            return (cell[:cut], cell[cut + 1:])
    return (cell,)


def _is_text(values: list[str]) -> bool:
    """A column of words (a reason, a test name), not of numbers."""
    filled = [v for v in values if v.strip()]
    return bool(filled) and sum(not any(c.isdigit() for c in v) for v in filled) > len(filled) / 2


@dataclass(frozen=True)
class Layout:
    """How a table is set: orientation, font size, column lines and widths, long or not."""

    landscape: bool
    size: str
    headers: tuple[tuple[str, ...], ...]  # lines of each column label
    groups: tuple[tuple[str, ...], ...]  # lines of each spanning group label (as Table.groups)
    text: tuple[bool, ...]  # left-aligned columns (the labels and columns of words)
    wrap: tuple[float | None, ...]  # width of a column set as a wrapping paragraph (p), else None
    stacked: tuple[tuple[bool, ...], ...]  # per row and column: the interval set under the estimate
    width: float  # the table's measured width in pt
    available: float  # the text width it has to fit in
    long: bool  # set as a longtable (taller than a page)

    @property
    def fits(self) -> bool:
        return self.width <= self.available

    @property
    def packages(self) -> tuple[str, ...]:
        """The LaTeX packages this layout needs, in loading order."""
        need = ["booktabs"]
        if any(w is not None for w in self.wrap):
            need.append("array")
        if any(len(h) > 1 for h in self.headers + self.groups) or any(any(r) for r in self.stacked):
            need.append("makecell")
        if self.long:
            need.append("longtable")
            if self.landscape:
                need.append("pdflscape")
        elif self.landscape:
            need.append("rotating")
        return tuple(need)


def _measure(table: Table, landscape: bool, size: str, step: int) -> Layout:
    """The layout at one orientation and size; ``step`` 0 natural, 1 the widest column of words (or the
    labels) wrapped to what is left of the page, 2 also the widest quarter of cells with an interval set as
    estimate over interval, 3 every such cell."""
    available = LANDSCAPE_WIDTH if landscape else PORTRAIT_WIDTH
    rows = table.rows()
    em = _POINT[size]
    ncol = len(table.labels)
    columns = [[r[j] for r in rows] for j in range(ncol)]
    text = tuple(j == 0 or _is_text(columns[j]) for j in range(ncol))
    stacked = tuple(step >= 2 and not text[j] for j in range(ncol))
    indent = [em * level for level in table.indent]
    bold = [bool(table.bold[i]) and bool(r[0]) for i, r in enumerate(rows)]

    # a stacked column keeps on one line every cell up to the width of most of its cells (or of the widest
    # half of a split cell), and splits only the wider ones
    # (step 3: every cell that can be split)
    target = [max([text_width(x, size) for v in columns[j] for x in _stack(v)]
                  + ([float(np.quantile([text_width(v, size) for v in columns[j]], 0.75))] if step == 2 else []))
              if stacked[j] and rows else 0.0 for j in range(ncol)]

    def splits(j: int, i: int) -> bool:
        return stacked[j] and len(_stack(columns[j][i])) == 2 and text_width(columns[j][i], size) > target[j]

    def cell_width(j: int, i: int) -> float:
        if j == 0:
            return indent[i] + text_width(columns[0][i], size, bold[i])
        parts = _stack(columns[j][i]) if splits(j, i) else (columns[j][i],)
        return max(text_width(x, size) for x in parts)

    body = [max([cell_width(j, i) for i in range(len(rows))], default=0.0) for j in range(ncol)]
    wrap: list[float | None] = [None] * ncol
    if step >= 1:
        wrappable = [j for j in range(ncol) if text[j] and any(" " in v.strip() for v in columns[j])]
        if wrappable:
            j = max(wrappable, key=lambda k: body[k])
            others = sum(max(body[k], *(text_width(w, size) for w in table.labels[k].split(" ")))
                         + 2 * TABCOLSEP for k in range(ncol) if k != j)
            words = [indent[i] * (j == 0) + max(text_width(w, size, bold[i] and j == 0) for w in v.split(" "))
                     for i, v in enumerate(columns[j])]
            smallest = max([0.45 * body[j], 5 * em, *words, *(text_width(w, size) for w in table.labels[j].split(" "))])
            room = math.floor(available / _MARGIN - others - 2 * TABCOLSEP)
            if smallest <= room < body[j]:
                wrap[j] = float(room)
                body[j] = float(room)
    headers = tuple(_header_lines(label, body[j], size) for j, label in enumerate(table.labels))
    cols = [max(body[j], *(text_width(x, size) for x in headers[j])) + 2 * TABCOLSEP for j in range(ncol)]
    groups, col = [], 0
    for g, span in table.groups:
        lines: tuple[str, ...] = (g,)
        have = sum(cols[col:col + span])
        if g and col > 0 and text_width(g, size) + 2 * TABCOLSEP > have:
            lines = _header_lines(g, have - 2 * TABCOLSEP, size)
            need = max(text_width(x, size) for x in lines) + 2 * TABCOLSEP
            if need > have:
                cols[col + span - 1] += need - have
        groups.append(lines)
        col += span
    width = sum(cols) * _MARGIN
    # height: rows (wrapped and stacked cells take more lines), header, caption and notes
    lines_total = 0
    for i in range(len(rows)):
        n = 1
        for j in range(ncol):
            if wrap[j] is not None:
                n = max(n, _wrap_lines(columns[j][i], wrap[j], size, bold[i] and j == 0, indent[i] * (j == 0)))
            elif splits(j, i):
                n = max(n, 2)
        lines_total += n
    lines_total += max(len(h) for h in headers) + (max(len(g) for g in groups) if groups else 0)
    note_size = _note_size(size)
    note_lines = sum(max(1, math.ceil(text_width(n, note_size) / max(width, 1.0))) for n in table.footnotes)
    height = lines_total * _BASELINE[size] + note_lines * _BASELINE[note_size] + 3 * 12.0 + 10.0
    page_height = PORTRAIT_WIDTH if landscape else LANDSCAPE_WIDTH
    split = tuple(tuple(splits(j, i) for j in range(ncol)) for i in range(len(rows)))
    return Layout(landscape, size, headers, tuple(groups), text, tuple(wrap), split, width, available,
                  long=height > page_height)


def layout(table: Table, landscape: bool | None = None) -> Layout:
    """The first layout that fits (portrait before landscape, larger type before smaller, and at each size
    natural before wrapped before stacked); ``landscape`` True or False fixes the orientation.  A table too
    wide for every layout gets the smallest one and a warning."""
    if landscape is None:
        candidates = _CANDIDATES
    else:
        candidates = [(landscape, s) for s in SIZES]
    chosen = None
    for orient, size in candidates:
        for step in range(4):
            chosen = _measure(table, orient, size, step)
            if chosen.fits:
                return chosen
    warnings.warn(f"table {table.title or table.name!r} is {chosen.width:.0f} pt wide, more than the "
                  f"{chosen.available:.0f} pt of the page even in \\{chosen.size}: split it into narrower tables",
                  stacklevel=3)
    return chosen


def _header_cell(lines: tuple[str, ...], align: str) -> str:
    text = [latex_escape(x) for x in lines]
    if len(text) == 1:
        return text[0]
    joined = " \\\\ ".join(text)
    return f"\\makecell[b{align}]{{{joined}}}"


def _head_rows(table: Table, lay: Layout) -> list[str]:
    out = ["\\toprule"]
    if table.groups:
        cells, rules, col = [], [], 1
        for (g, span), lines in zip(table.groups, lay.groups):
            if g and col > 1:
                cells.append(f"\\multicolumn{{{span}}}{{c}}{{{_header_cell(lines, 'c')}}}")
                rules.append(f"\\cmidrule(lr){{{col}-{col + span - 1}}}")
            else:
                cells.append(" & ".join([""] * span) if span > 1 else "")
            col += span
        out.append(" & ".join(cells) + " \\\\")
        out.append(" ".join(rules))
    out.append(" & ".join(_header_cell(h, "l" if t else "r") for h, t in zip(lay.headers, lay.text)) + " \\\\")
    out.append("\\midrule")
    return out


def _body_rows(table: Table, lay: Layout) -> list[str]:
    out = []
    for i, row in enumerate(table.rows()):
        cells = []
        for j, value in enumerate(row):
            text = latex_escape(value)
            if j == 0 and table.bold[i] and value:
                text = f"\\textbf{{{text}}}"
            if lay.wrap[j] is not None and value:  # a paragraph: indent every line, hang wrapped lines
                lead = f"\\leftskip={table.indent[i]}em " if j == 0 and table.indent[i] else ""
                text = f"{lead}\\hangindent=1em {text}"
            elif j == 0 and table.indent[i]:
                text = f"\\hspace{{{table.indent[i]}em}}{text}"
            elif lay.stacked[i][j]:
                joined = " \\\\ ".join(latex_escape(x) for x in _stack(value))
                text = f"\\makecell[tr]{{{joined}}}"
            cells.append(text)
        out.append(" & ".join(cells) + " \\\\")
    return out


def _notes(table: Table, lay: Layout, env: str) -> list[str]:
    items = [f"\\item[] {latex_escape(n)}" for n in table.footnotes]
    return [f"\\begin{{{env}}}[flushleft]", f"\\{_note_size(lay.size)}\\raggedright", *items, f"\\end{{{env}}}"]


def table_latex(table: Table, label: str | None = None, landscape: bool | None = None) -> str:
    """The table as LaTeX source that fits the page (see the module docstring); ``landscape`` None lets the
    measured width decide, True or False fixes the orientation."""
    lay = layout(table, landscape)
    spec = "".join(f">{{\\raggedright\\arraybackslash}}p{{{w:g}pt}}" if w is not None else ("l" if t else "r")
                   for w, t in zip(lay.wrap, lay.text))
    orientation = "landscape" if lay.landscape else "portrait"
    out = [f"% bmstats table{f' {table.title!r}' if table.title else ''}: {orientation}, \\{lay.size}, "
           f"measured width {lay.width:.0f} pt of {lay.available:.0f} pt"
           + (", longtable (header repeated on each page)" if lay.long else ""),
           f"% Required packages: {', '.join(_packages(table, lay))}",
           f"% Preamble: \\usepackage{{{','.join(_packages(table, lay))}}}"]
    title = latex_escape(table.title)
    size = [] if lay.size == "normalsize" else [f"\\{lay.size}"]
    if lay.long:
        head = _head_rows(table, lay)
        caption = [f"\\caption{{{title}}}" + (f"\\label{{{label}}}" if label else "") + " \\\\"] if title else []
        again = [f"\\caption[]{{{title} (continued)}} \\\\"] if title else []
        last = ["\\bottomrule"] + (["\\insertTableNotes"] if table.footnotes else [])
        inner = ([f"\\begin{{longtable}}{{{spec}}}"] + caption + head + ["\\endfirsthead"] + again + head
                 + ["\\endhead", "\\bottomrule", "\\endfoot"] + last + ["\\endlastfoot"]
                 + _body_rows(table, lay) + ["\\end{longtable}"])
        if table.footnotes:
            inner = ["\\begin{ThreePartTable}"] + _notes(table, lay, "TableNotes") + inner + ["\\end{ThreePartTable}"]
        inner = (["\\begingroup"] + size + inner + ["\\endgroup"]) if size else inner
        out += (["\\begin{landscape}"] + inner + ["\\end{landscape}"]) if lay.landscape else inner
        return "\n".join(out) + "\n"
    env = "sidewaystable" if lay.landscape else "table"
    out += [f"\\begin{{{env}}}" + ("" if lay.landscape else "[htbp]"), "\\centering", *size]
    if title:
        out.append(f"\\caption{{{title}}}")
    if label:
        out.append(f"\\label{{{label}}}")
    tabular = [f"\\begin{{tabular}}{{{spec}}}"] + _head_rows(table, lay) + _body_rows(table, lay)
    tabular += ["\\bottomrule", "\\end{tabular}"]
    if table.footnotes:
        tabular = ["\\begin{threeparttable}"] + tabular + _notes(table, lay, "tablenotes") + ["\\end{threeparttable}"]
    out += tabular + [f"\\end{{{env}}}"]
    return "\n".join(out) + "\n"


def _packages(table: Table, lay: Layout) -> tuple[str, ...]:
    """Every package the table's source uses, in loading order."""
    if not table.footnotes:
        return lay.packages
    return lay.packages + (("threeparttablex",) if lay.long else ("threeparttable",))
