"""Word (DOCX) output of a :class:`~bmstats.report.table.Table` with python-docx.

Journal tables have no vertical lines: a rule above the header, one under it and one at the bottom
(the booktabs look).  The document's core properties and the zip entries get fixed dates so that the
same table gives the same bytes.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Pt

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


def table_docx(table: "Table", landscape: bool = False) -> bytes:
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
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    if table.title:
        par = doc.add_paragraph()
        run = par.add_run(table.title)
        run.bold = True
        run.font.size = Pt(10)

    groups = table.groups
    n_head = 2 if groups else 1
    ncol = len(table.labels)
    grid = doc.add_table(rows=n_head + len(table.body), cols=ncol)
    grid.autofit = True
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
                grid.cell(n_head + i, j), value,
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
