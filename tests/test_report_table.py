"""Table renderers and number formats: HTML, Markdown, LaTeX, DOCX, CSV; journal conventions."""
import io
import zipfile

import pandas as pd
import pytest
from docx import Document

from bmstats.report.format import fmt_ci, fmt_int, fmt_n_pct, fmt_num, fmt_p, fmt_pct_ci
from bmstats.report.table import Table, latex_escape


@pytest.fixture
def table():
    cols = pd.MultiIndex.from_tuples([("", "Variable"), ("Cause-specific", "HR (95% CI)"), ("Cause-specific", "p"),
                                      ("Fine-Gray", "SHR (95% CI)"), ("Fine-Gray", "p")])
    body = pd.DataFrame([["Age", "1.01 (1.00–1.02)", "0.010", "1.02 (1.00–1.04)", "< 0.001"],
                         ["Grade", "", "", "", ""],
                         ["2", "1 (ref)", "", "1 (ref)", ""],
                         ["3 & 50%", "1.50 (1.20–1.80)", "< 0.001", "1.40 (1.10–1.70)", "0.002"]], columns=cols)
    return Table(body, title="Hazard ratios for relapse", footnotes=("HR: hazard ratio.",),
                 indent=(0, 0, 1, 1), bold=(False, True, False, False))


@pytest.mark.parametrize("p, text", [(0.0004, "< 0.001"), (0.001, "0.001"), (0.04951, "0.050"), (0.5, "0.500"),
                                     (0.9996, "> 0.999"), (float("nan"), "\u2013")])
def test_p_values_follow_journal_convention(p, text):
    assert fmt_p(p) == text


def test_number_formats():
    assert fmt_num(-0.0001, 2) == "0.00"
    assert fmt_int(12345) == "12,345"
    assert fmt_ci(1.234, 0.9, 1.6) == "1.23 (0.90\u20131.60)"
    assert fmt_pct_ci(0.1234, 0.1, 0.15) == "12.3 (10.0\u201315.0)"
    assert fmt_n_pct(3, 12) == "3 (25.0)"
    assert fmt_p(0.00004, threshold=1e-4) == "< 0.0001"


def test_html_has_caption_groups_indent_and_notes(table):
    html = table.to_html()
    assert "<caption>Hazard ratios for relapse</caption>" in html
    assert '<th colspan="2" class="bm-group">Cause-specific</th>' in html
    assert "padding-left:1.5em" in html  # indented level
    assert "<strong>Grade</strong>" in html
    assert "3 &amp; 50%" in html and "HR: hazard ratio." in html
    assert table._repr_html_() == html


def test_markdown_flattens_groups(table):
    md = table.to_markdown()
    assert "| Variable | Cause-specific: HR (95% CI) | Cause-specific: p | Fine-Gray: SHR (95% CI) |" in md
    assert "| \u00a0\u00a0\u00a0\u00a02 | 1 (ref) |" in md


def test_latex_is_booktabs_and_escaped(table):
    tex = table.to_latex()
    for token in ("\\toprule", "\\midrule", "\\bottomrule", "\\multicolumn{2}{c}{Cause-specific}",
                  "\\cmidrule(lr){2-3}", "3 \\& 50\\%", "$<$ 0.001", "1.01 (1.00--1.02)", "\\hspace{1em}2"):
        assert token in tex
    assert latex_escape("a_b#c") == "a\\_b\\#c"


def test_csv_round_trips(table):
    frame = pd.read_csv(io.StringIO(table.to_csv()), keep_default_na=False)
    assert list(frame.columns)[1] == "Cause-specific: HR (95% CI)"
    assert frame.iloc[3, 0] == "  3 & 50%"
    assert frame.iloc[0, 4] == "< 0.001"


def test_docx_has_the_cells_and_is_byte_stable(table):
    data = table.to_docx_bytes()
    assert data == table.to_docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    doc = Document(io.BytesIO(data))
    grid = doc.tables[0]
    assert grid.cell(0, 1).text == "Cause-specific"
    assert grid.cell(1, 3).text == "SHR (95% CI)"
    assert grid.cell(5, 4).text == "0.002"
    assert doc.paragraphs[0].text == "Hazard ratios for relapse"
    assert doc.core_properties.created.year == 2000


def test_save_writes_every_format(table, tmp_path):
    paths = table.save(tmp_path / "t")
    assert sorted(p.suffix for p in paths) == [".csv", ".docx", ".html", ".md", ".tex"]
    with pytest.raises(ValueError, match="unknown table format"):
        table.save(tmp_path / "t", formats=("xls",))


def test_cell_lookup_and_shape_checks(table):
    assert table.cell("3 & 50%", ("Fine-Gray", "p")) == "0.002"
    with pytest.raises(ValueError, match="one entry per row"):
        Table(table.body, indent=(0, 1))


def test_docx_columns_follow_their_content_and_p_values_do_not_break(table):
    from docx.shared import Emu

    doc = Document(io.BytesIO(table.to_docx_bytes()))
    section = doc.sections[0]
    assert section.page_width < section.page_height  # this table fits a portrait page
    widths = [Emu(c.width).inches for c in doc.tables[0].columns]
    usable = Emu(section.page_width - section.left_margin - section.right_margin).inches
    assert sum(widths) <= usable + 1e-6
    assert widths[1] > widths[2] and widths[3] > widths[4]  # "1.01 (1.00–1.02)" needs more room than a p-value
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert "<\u00a00.001" in cells and "< 0.001" not in cells


def test_docx_turns_a_wide_table_to_landscape_and_never_splits_a_word():
    from docx.shared import Emu

    from bmstats.report.docx_writer import column_widths

    columns = ["Characteristic"] + [f"Group {k} (n = 1,436)" for k in range(9)]
    wide = Table(pd.DataFrame([["Oestrogen receptor, median [IQR]"] + ["61.0 [11.0, 202.8]"] * 9], columns=columns),
                 title="Wide")
    doc = Document(io.BytesIO(wide.to_docx_bytes()))
    section = doc.sections[0]
    assert section.page_width > section.page_height
    widths = [Emu(c.width).inches for c in doc.tables[0].columns]
    usable = Emu(section.page_width - section.left_margin - section.right_margin).inches
    natural, minimum = column_widths(wide)
    assert sum(widths) <= usable + 1e-6 and sum(natural) > usable
    assert all(w >= m - 1e-3 for w, m in zip(widths, minimum))  # shrunk only down to the longest word
    portrait = Document(io.BytesIO(wide.to_docx_bytes(landscape=False))).sections[0]
    assert portrait.page_width < portrait.page_height  # the caller can insist on portrait
