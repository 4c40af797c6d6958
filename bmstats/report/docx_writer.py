"""Word (DOCX) output of a :class:`~bmstats.report.table.Table` with python-docx.

Journal tables have no vertical lines: a rule above the header, one under it and one at the bottom
(the booktabs look).  Column widths follow the content: the label column as wide as its longest label
(within limits), each number column as wide as its longest entry; a table too wide for a portrait page is
set in landscape, and only a table too wide for that wraps its cells.  The document's core properties and
the zip entries get fixed dates so that the same table gives the same bytes.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Inches, Pt

from bmstats.report.table import _FIXED_DATE, deterministic_zip

if TYPE_CHECKING:
    from bmstats.report.table import Table


def _cell_border(cell, **edges: str) -> None:
    """Set borders on a cell: ``top="single"``, ``bottom="single"`` ..."""
    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge, kind in edges.items():
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), kind)
        el.set(qn("w:sz"), "8")
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000")
        borders.append(el)


def _write(cell, text: str, bold: bool = False, align_right: bool = False, indent: int = 0, size: float = 9) -> None:
    par = cell.paragraphs[0]
    par.paragraph_format.space_after = Pt(0)
    par.paragraph_format.space_before = Pt(0)
    if indent:
        par.paragraph_format.left_indent = Inches(0.15 * indent)
    if align_right:
        par.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = par.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)


# generous average advance of a 9 pt character, in inches, and the padding a cell adds around its text
_CHAR_IN = 0.075
_CELL_PAD_IN = 0.2
_LABEL_MAX_IN = 2.4
_NBSP = "\u00a0"


def _cell_text(text: str) -> str:
    """'< 0.001' must not break at its space."""
    return str(text).replace("< ", "<" + _NBSP).replace("> ", ">" + _NBSP)


def _width(chars: int) -> float:
    return chars * _CHAR_IN + _CELL_PAD_IN


def column_widths(table: Table) -> tuple[list[float], list[float]]:
    """Natural and minimum column widths in inches.

    Natural: the longest entry of each column (a header counts by its longest word: it may wrap), the label
    column with its indentation and at most 2.4 in.  Minimum: the longest unbreakable piece (no cell breaks
    inside a word or a number)."""
    rows = table.rows()
    natural, minimum = [], []
    for j, label in enumerate(table.labels):
        texts = [_cell_text(r[j]) for r in rows]
        pad = [2 * table.indent[i] if j == 0 else 0 for i in range(len(rows))]
        words = [len(w) for w in str(label).split()] + [len(w) + k for t, k in zip(texts, pad) for w in t.split(" ")]
        longest_word = max(words, default=0)
        chars = max([longest_word, *[len(t) + k for t, k in zip(texts, pad)]])
        nat = min(_width(chars), max(_LABEL_MAX_IN, _width(longest_word))) if j == 0 else _width(chars)
        natural.append(nat)
        minimum.append(min(_width(longest_word), nat))
    return natural, minimum


def _fit(natural: list[float], minimum: list[float], usable: float) -> list[float]:
    """Shrink the columns that can wrap (toward their minimum, in proportion to their slack) until the table
    fits the page; if even the minima do not fit, scale everything."""
    total = sum(natural)
    if total <= usable:
        return natural
    slack = [n - m for n, m in zip(natural, minimum)]
    need = total - usable
    if need <= sum(slack):
        share = need / sum(slack)
        return [n - s * share for n, s in zip(natural, slack)]
    return [m * usable / sum(minimum) for m in minimum]


def table_docx(table: Table, landscape: bool | None = None) -> bytes:
    """The table as a .docx document; ``landscape=None`` turns the page only when the table needs it."""
    doc = Document()
    props = doc.core_properties
    props.author = "bmstats"
    props.last_modified_by = "bmstats"
    props.title = table.title
    props.created = _FIXED_DATE
    props.modified = _FIXED_DATE
    props.last_printed = _FIXED_DATE
    props.revision = 1
    section = doc.sections[0]
    natural, minimum = column_widths(table)

    def usable() -> float:
        return Emu(section.page_width - section.left_margin - section.right_margin).inches

    if landscape is None:
        landscape = sum(natural) > usable()
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    widths = _fit(natural, minimum, usable())
    if table.title:
        par = doc.add_paragraph()
        run = par.add_run(table.title)
        run.bold = True
        run.font.size = Pt(10)

    groups = table.groups
    n_head = 2 if groups else 1
    ncol = len(table.labels)
    grid = doc.add_table(rows=n_head + len(table.body), cols=ncol)
    grid.autofit = False
    for j, w in enumerate(widths):  # Word reads the cell widths, LibreOffice the grid columns
        grid.columns[j].width = Inches(w)
        for cell in grid.columns[j].cells:
            cell.width = Inches(w)
    if groups:
        col = 0
        for label, span in groups:
            cell = grid.cell(0, col)
            if span > 1:
                cell = cell.merge(grid.cell(0, col + span - 1))
            if label:
                _write(cell, label, bold=True)
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
                _cell_border(cell, bottom="single")
            col += span
    for j, label in enumerate(table.labels):
        _write(grid.cell(n_head - 1, j), label, bold=True, align_right=j > 0)
    for i, row in enumerate(table.rows()):
        for j, value in enumerate(row):
            _write(
                grid.cell(n_head + i, j), _cell_text(value),
                bold=bool(table.bold[i]) and j == 0, align_right=j > 0, indent=table.indent[i] if j == 0 else 0,
            )
    for j in range(ncol):
        _cell_border(grid.cell(0, j), top="single")
        _cell_border(grid.cell(n_head - 1, j), bottom="single")
        _cell_border(grid.cell(n_head + len(table.body) - 1, j), bottom="single")
    for note in table.footnotes:
        par = doc.add_paragraph()
        par.paragraph_format.space_after = Pt(0)
        run = par.add_run(note)
        run.font.size = Pt(8)
    buf = io.BytesIO()
    doc.save(buf)
    return deterministic_zip(buf.getvalue())
