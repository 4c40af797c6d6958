"""Word (DOCX) output of a :class:`~bmstats.report.table.Table` with python-docx.

Journal tables have no vertical lines: a rule above the header, one under it and one at the bottom
(the booktabs look).  Column widths follow the content: the label column as wide as its longest label
(within limits), each number column as wide as its longest entry; a table too wide for a portrait page is
set in landscape, and only a table too wide for that wraps its cells.  The document's core properties and
the zip entries get fixed dates so that the same table gives the same bytes.
"""
from __future__ import annotations

import functools
import math
import io
from pathlib import Path
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
        par.paragraph_format.left_indent = Inches(_INDENT_IN * indent)
    if align_right:
        par.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = par.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)
    run.font.name = FONT


# Tables are set in Arial 9 pt and measured with the Helvetica metrics matplotlib ships (Arial and Liberation
# Sans have Helvetica's advance widths); a cell adds Word's default margins (0.08 in each side) and a little room.
FONT = "Arial"
SIZE_PT = 9.0
_CELL_PAD_IN = 0.2
_INDENT_IN = 0.15
_LABEL_MAX_IN = 2.4
_NBSP = "\u00a0"
_GLYPHS = {"\u2013": "endash", "\u2014": "emdash", "\u00b1": "plusminus", "\u00b2": "twosuperior",
           _NBSP: "space"}


@functools.cache
def _metrics(bold: bool) -> dict[str, float]:
    """Advance widths (in em) of Helvetica, by character and by glyph name, from matplotlib's AFM files."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "afm" / ("phvb8a.afm" if bold else "phvr8a.afm")
    widths: dict[str, float] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("C "):
            fields = dict(part.strip().split(" ", 1) for part in line.split(";") if part.strip())
            code, width, name = int(fields["C"]), float(fields["WX"]) / 1000, fields.get("N", "")
            widths[name] = width
            if 32 <= code < 127:
                widths[chr(code)] = width
    return widths


def text_inches(text: str, bold: bool = False, size: float = SIZE_PT) -> float:
    """Width of ``text`` set in Arial at ``size`` pt, in inches (an unknown character counts as an M)."""
    m = _metrics(bold)
    return sum(m.get(ch, m.get(_GLYPHS.get(ch, ""), m["M"])) for ch in str(text)) * size / 72


def _cell_text(text: str) -> str:
    """'< 0.001' must not break at its space."""
    return str(text).replace("< ", "<" + _NBSP).replace("> ", ">" + _NBSP)


def column_widths(table: Table) -> tuple[list[float], list[float]]:
    """Natural and minimum column widths in inches, measured (Arial 9 pt, cell margins included).

    Natural: the longest entry of each column (a bold header counts by its longest word: it may wrap), the
    label column with its indentation and at most 2.4 in.  Minimum: the longest unbreakable piece (no cell
    breaks inside a word or a number)."""
    rows = table.rows()
    natural, minimum = [], []
    for j, label in enumerate(table.labels):
        cells = [(_cell_text(r[j]), _INDENT_IN * table.indent[i] if j == 0 else 0.0,
                  bool(table.bold[i]) and j == 0) for i, r in enumerate(rows)]
        words = [text_inches(w, True) for w in str(label).split()]
        words += [k + text_inches(w, b) for t, k, b in cells for w in t.split(" ")]
        longest_word = max(words, default=0.0)
        longest = max([longest_word, *[k + text_inches(t, b) for t, k, b in cells]])
        nat = longest + _CELL_PAD_IN
        if j == 0:
            nat = min(nat, max(_LABEL_MAX_IN, longest_word + _CELL_PAD_IN))
        natural.append(nat)
        minimum.append(min(longest_word + _CELL_PAD_IN, nat))
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
    widths = [math.floor(w * 1440) / 1440 for w in _fit(natural, minimum, usable())]  # whole twips, never more
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
