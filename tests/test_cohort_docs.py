"""docs/cohort.md documents every column, every rule and the mapping example that the tests use."""
from __future__ import annotations

import doctest
import re
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from bmstats.cohort import schema
from bmstats.cohort.issues import RULES

ROOT = Path(__file__).resolve().parents[1]


def test_docs_list_every_column_and_rule():
    doc = (ROOT / "docs" / "cohort.md").read_text()
    for table in schema.TABLES.values():
        for col in table:
            assert f"| `{col.name}` | {col.kind} |" in doc, col.name
    for rule in RULES.values():
        assert f"| `{rule.id}` | {rule.severity} | {rule.explanation} |" in doc, rule.id
    assert (ROOT / "tests" / "data" / "site_mapping.yaml").read_text().strip() in doc


SECTION = "## A site's Excel export, end to end"


def _blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block of ``text``."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, flags=re.S | re.M)]


def _matches(shown: list[str], got: list[str]) -> bool:
    """The shown lines in order, a line '...' standing for any number of lines."""
    pattern = "".join(".*?" if line == "..." else re.escape(line) + r"\n" for line in shown)
    return re.fullmatch(pattern, "\n".join(got) + "\n", flags=re.S) is not None


def test_the_excel_site_example_runs_as_shown(tmp_path, monkeypatch):
    """Every block of the Excel site section of docs/cohort.md, run on the files it describes: the YAML blocks
    are the files, the console commands print what is shown, the Python sessions print what is shown."""
    from site_data import MAPPING_PATH, REPORT_PATH, write_site_report_folder

    doc = (ROOT / "docs" / "cohort.md").read_text()
    assert SECTION in doc
    section = doc.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = _blocks(section)
    assert [lang for lang, _ in blocks] == ["yaml", "console", "pycon", "pycon", "pycon", "pycon", "yaml", "console"]
    yaml_blocks = [body for lang, body in blocks if lang == "yaml"]
    assert yaml_blocks == [MAPPING_PATH.read_text(), REPORT_PATH.read_text()]

    write_site_report_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pd.option_context("display.width", 110, "display.max_columns", 20):
        session = "".join(body for lang, body in blocks if lang == "pycon")
        test = doctest.DocTestParser().get_doctest(session, {}, "docs/cohort.md", "docs/cohort.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        out: list[str] = []
        runner.run(test, out=out.append)
        assert runner.failures == 0, "".join(out)
        assert runner.tries > 20

    for body in (body for lang, body in blocks if lang == "console"):
        lines = body.rstrip("\n").split("\n")
        assert lines[0].startswith("$ bmstats ")
        run = subprocess.run([sys.executable, "-m", "bmstats.cli", *shlex.split(lines[0][len("$ bmstats "):])],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        if len(lines) > 1:  # the output shown (none shown for the report: its progress goes to stderr)
            assert _matches(lines[1:], run.stdout.rstrip("\n").split("\n")), run.stdout
    assert (tmp_path / "report" / "report.html").exists()
    assert {p.stem for p in (tmp_path / "report" / "tables").glob("*.csv")} >= {"sre_rates", "sre_model"}
