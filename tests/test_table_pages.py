"""Tables fit the page. LaTeX: the layout rules, and every table of the example reports compiled with pdflatex
(marked ``latex``): no error, no ``Overfull \\hbox``."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from bmstats.report import latex
from bmstats.report.table import Table

ROOT = Path(__file__).resolve().parents[1]


def _packages(tex: str) -> list[str]:
    line = re.search(r"^% Preamble: \\usepackage\{([^}]*)\}$", tex, re.M)
    assert line, "the .tex file names its packages in a '% Preamble:' comment at the top"
    return line.group(1).split(",")


def compile_tex(tex: str, folder: Path, paper: str = "letterpaper") -> str:
    """Compile one table in a bare article with only the packages its header comment lists; returns the log."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = (f"\\documentclass[{paper}]{{article}}\n\\usepackage{{{','.join(_packages(tex))}}}\n"
           f"\\begin{{document}}\n{tex}\\end{{document}}\n")
    (folder / "t.tex").write_text(doc, encoding="utf-8")
    for _ in range(2):  # longtable settles its column widths on the second run
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=folder,
                              capture_output=True, text=True, timeout=120)
    log = (folder / "t.log").read_text(encoding="latin-1")
    assert proc.returncode == 0, f"pdflatex failed:\n{log[-3000:]}"
    return log


def problems(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("!") or "Overfull \\hbox" in line]


@pytest.fixture(scope="module")
def example_tables() -> dict[str, Table]:
    """Every table the two example reports produce, by '<report>/<file stem>' (analyses run, nothing written)."""
    from bmstats.report.builder import ReportBuilder
    from bmstats.report.config import load_config

    out = {}
    for name in ("bm_cohort", "rotterdam"):
        path = ROOT / "analyses" / f"{name}.yaml"
        builder = ReportBuilder(load_config(path), path, Path("unused"))
        builder.load_data()
        for analysis in builder.config["analyses"]:
            section = builder.run(analysis)
            out.update({f"{name}/{stem}": table for table, stem in section.tables})
            for fig, *_ in section.figures:
                plt.close(fig)
    return out


def wide_table(groups: int = 9, rows: int = 3) -> Table:
    columns = ["Characteristic"] + [f"Group {k} (n = 1,436)" for k in range(groups)]
    body = pd.DataFrame([["Tumour size, mm, median [IQR]"] + ["61.0 [11.0, 202.8]"] * groups] * rows, columns=columns)
    return Table(body, title="Wide", footnotes=("median [Q1, Q3].",))


# ----------------------------------------------------------------------------------------- layout rules
def test_a_narrow_table_stays_a_portrait_float_with_its_notes_inside():
    t = Table(pd.DataFrame({"Group": ["a", "b"], "Events": ["1", "2"]}), title="T", footnotes=("A note & more.",))
    tex = t.to_latex(label="tab:t")
    assert "\\begin{table}[htbp]" in tex and "sidewaystable" not in tex and "longtable" not in tex
    # the notes sit inside threeparttable, after the tabular and before the float ends
    assert tex.index("\\end{tabular}") < tex.index("\\item[] A note \\& more.") < tex.index("\\end{threeparttable}")
    assert _packages(tex) == ["booktabs", "threeparttable"]
    assert "\\label{tab:t}" in tex


def test_group_sizes_go_under_the_group_name():
    lay = latex.layout(wide_table(5))
    assert lay.headers[1] == ("Group 0", "(n = 1,436)")
    assert "\\makecell[br]{Group 0 \\\\ (n = 1,436)}" in wide_table(5).to_latex()


def test_a_wide_table_turns_to_landscape_and_then_to_smaller_type():
    lay = latex.layout(wide_table(5))
    assert lay.landscape and lay.fits
    wider = latex.layout(wide_table(9))
    assert wider.landscape and wider.fits and latex.SIZES.index(wider.size) > latex.SIZES.index(lay.size)
    assert "\\begin{sidewaystable}" in wide_table(9).to_latex()
    assert "rotating" in _packages(wide_table(9).to_latex())
    portrait = latex.layout(wide_table(5), landscape=False)
    assert not portrait.landscape


def test_a_table_too_wide_for_any_page_says_so():
    with pytest.warns(UserWarning, match="split it into narrower tables"):
        wide_table(40).to_latex()


def test_a_long_table_breaks_across_pages_with_its_header_repeated():
    t = Table(pd.DataFrame({"Patient": [f"P{i:03d}" for i in range(120)], "Events": ["1"] * 120}), title="Long",
              footnotes=("n: events.",))
    tex = t.to_latex()
    assert "\\begin{longtable}" in tex and "\\endfirsthead" in tex and "\\endhead" in tex
    head = tex[tex.index("\\endfirsthead"):tex.index("\\endhead")]
    assert "Patient & Events" in head and "(continued)" in head  # the header again on every page
    assert "\\insertTableNotes" in tex and _packages(tex) == ["booktabs", "longtable", "threeparttablex"]


def test_brackets_never_read_as_a_line_break_argument():
    t = Table(pd.DataFrame({"Variable": ["[missing]"], "Median": ["1.0 [0.5, 2.0]"]}))
    tex = t.to_latex()
    assert "{[}missing{]}" in tex and "1.0 {[}0.5, 2.0{]}" in tex


def test_every_package_is_documented():
    doc = (ROOT / "docs" / "reports.md").read_text()
    for package in ("booktabs", "threeparttable", "threeparttablex", "makecell", "array", "rotating", "pdflscape",
                    "longtable"):
        assert f"`{package}`" in doc


# ------------------------------------------------------------------------------------ compiled by pdflatex
@pytest.mark.latex
def test_stored_metrics_match_pdflatex(tmp_path):
    """The character widths the layout measures with are pdflatex's own (a sample of them, re-measured)."""
    sample = "0123456789 ,.()[]-+/<%&_abcxyzABCXYZ\u2013"
    lines = ["\\newlength\\w"]
    for size in ("normalsize", "scriptsize"):
        for bold in (False, True):
            for ch in sample:
                from bmstats.report.table import latex_escape

                body = latex_escape(ch) if ch != " " else "\\ "
                body = f"\\textbf{{{body}}}" if bold else body
                lines.append(f"\\settowidth{{\\w}}{{\\{size} {body}}}\\typeout{{W {size} {int(bold)} {ord(ch)} \\the\\w}}")
    tex = "% Preamble: \\usepackage{booktabs}\n" + "\n".join(lines) + "\n"
    log = compile_tex(tex, tmp_path)
    found = re.findall(r"^W (\w+) (\d) (\d+) ([\d.]+)pt$", log, re.M)
    assert len(found) == 4 * len(sample)
    for size, bold, code, width in found:
        assert latex.text_width(chr(int(code)), size, bold == "1") == pytest.approx(float(width), abs=0.01)


@pytest.mark.latex
def test_every_example_table_compiles_on_the_page(example_tables, tmp_path):
    assert len(example_tables) >= 16
    failures = {}
    for key, table in example_tables.items():
        log = compile_tex(table.to_latex(label=f"tab:{key.split('/')[1]}"), tmp_path / key.replace("/", "_"))
        if problems(log):
            failures[key] = problems(log)
    assert not failures, failures


@pytest.mark.latex
@pytest.mark.parametrize("paper", ["a4paper", "letterpaper"])
def test_wide_and_long_tables_compile_on_a4_and_letter(tmp_path, paper):
    long = Table(pd.concat([wide_table(9).body] * 30, ignore_index=True), title="Wide and long",
                 footnotes=("median [Q1, Q3].",))
    for name, table in {"wide": wide_table(9), "long": long, "portrait": wide_table(2)}.items():
        log = compile_tex(table.to_latex(), tmp_path / name, paper)
        assert not problems(log), (name, problems(log))
    assert "longtable" in long.to_latex() and "pdflscape" in _packages(long.to_latex())



# ------------------------------------------------------------------------------------------------- DOCX
def _docx_pages(table: Table):
    import io

    from docx import Document
    from docx.shared import Emu

    doc = Document(io.BytesIO(table.to_docx_bytes()))
    section = doc.sections[0]
    usable = Emu(section.page_width - section.left_margin - section.right_margin).inches
    widths = [Emu(c.width).inches for c in doc.tables[0].columns]
    return section, usable, widths


def test_every_example_docx_table_fits_its_section(example_tables):
    """Each table within the text width of its section (portrait, or landscape when it needs it), and every
    column at least as wide as its longest unbreakable piece measured in the table's font (Arial 9 pt)."""
    from docx.shared import Emu

    from bmstats.report.docx_writer import FONT, column_widths

    landscape = []
    for key, table in example_tables.items():
        section, usable, widths = _docx_pages(table)
        assert sum(widths) <= usable + 1e-6, key
        natural, minimum = column_widths(table)
        assert all(w >= m - 1e-3 for w, m in zip(widths, minimum)), key
        is_landscape = section.page_width > section.page_height
        portrait = Emu(min(section.page_width, section.page_height) - section.left_margin - section.right_margin)
        assert is_landscape == (sum(natural) > portrait.inches), key  # turned only when it needs to be
        if is_landscape:
            landscape.append(key)
    assert "bm_cohort/table1" in landscape and "rotterdam/survival_model" not in landscape
    assert FONT == "Arial"


def test_docx_widths_are_measured_not_counted():
    from bmstats.report.docx_writer import text_inches

    assert text_inches("1111") < text_inches("MMMM")  # proportional, unlike a character count
    assert text_inches("0") == pytest.approx(0.556 * 9 / 72)  # Helvetica/Arial digit: 556/1000 em
    assert text_inches("Table", bold=True) > text_inches("Table")
