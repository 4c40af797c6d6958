"""The YAML report builder: every output format, a self-contained HTML, byte-identical rebuilds, clear
errors naming the key and line."""
import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bmstats._checks import InputError
from bmstats.report.builder import build_all, build_report
from bmstats.report.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]

SMALL = """\
title: Small Rotterdam report
description: a test report on 426 patients
data:
  dataset: rotterdam
  derive:
    nodal_group: 'cut(nodes, [1, 4], ["0", "1-3", "4+"])'
  filter: "pid % 7 == 0"
labels:
  nodal_group: Positive nodes
endpoints:
  relapse:
    time: "where(recur == 1, rtime, dtime) / 365.25"
    status: "where(recur == 1, 1, where(death == 1, 2, 0))"
    causes: {1: Relapse, 2: Death without relapse}
  os:
    time: dtime / 365.25
    status: death
analyses:
  - id: table1
    type: table_one
    by: nodal_group
    variables: [age, meno, size]
  - id: relapse
    type: cumulative_incidence
    endpoint: relapse
    by: nodal_group
    times: [5]
  - id: os
    type: kaplan_meier
    endpoint: os
    by: nodal_group
    times: [5]
  - id: models
    type: regression
    endpoint: relapse
    model: competing_risks
    formula: "age + nodal_group"
outputs:
  figures: [png, svg, pdf]
"""

COHORT = """\
title: Small synthetic cohort
data:
  dataset: bm_cohort
  filter: 'subtype == "TNBC" or subtype == "HR-/HER2+"'
endpoints:
  bm:
    event: bone_metastasis
    competing: [death]
    causes: {1: Bone metastasis, 2: Death}
  sre:
    recurrent: true
    derive:
      bta: 'where(bta_type == "none", "none", "any")'
analyses:
  - {id: flow, type: exclusion_flow, endpoint: bm}
  - {id: rates, type: incidence_rate, endpoint: bm, by: subtype, per: 1000}
  - {id: mcf, type: mean_cumulative_function, endpoint: sre, by: bta, times: [1]}
  - {id: rr, type: rate_regression, endpoint: sre, formula: "bta + age"}
outputs:
  tables: [csv, md]
  figures: [png]
"""


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_builds(tmp_path_factory):
    base = tmp_path_factory.mktemp("small")
    config = base / "small.yaml"
    config.write_text(SMALL)
    outs = []
    for run in ("a", "b"):
        out = base / run
        assert build_report(config, out) == 0
        outs.append(out)
    return outs


def test_every_format_is_written(small_builds):
    files = set(_tree(small_builds[0]))
    for stem in ("table1", "relapse", "os_at_times", "os_median", "models"):
        for ext in ("html", "md", "tex", "docx", "csv"):
            assert f"tables/{stem}.{ext}" in files
    for stem in ("relapse", "os", "models_forest"):
        for ext in ("png", "svg", "pdf"):
            assert f"figures/{stem}.{ext}" in files
    assert "report.html" in files
    with Image.open(small_builds[0] / "figures" / "os.png") as im:
        assert tuple(round(v) for v in im.info["dpi"]) == (300, 300)


def test_rebuild_is_byte_identical(small_builds):
    a, b = (_tree(p) for p in small_builds)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_html_is_self_contained(small_builds):
    page = (small_builds[0] / "report.html").read_text()
    assert "<link" not in page and "<script" not in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith(("data:", "#")) for s in sources)
    assert "url(" not in page
    # no absolute paths or dates leak in
    assert str(small_builds[0]) not in page and str(ROOT) not in page
    assert not re.search(r"20\d\d-\d\d-\d\d", page)
    # contents, methods with estimators, versions and the data hash
    assert '<a href="#relapse">' in page and 'id="methods"' in page
    for phrase in ("Aalen-Johansen", "Gray's test", "Kaplan-Meier", "log-rank", "Fine-Gray", "cause-specific Cox",
                   "bmstats 0.", "numpy ", "matplotlib "):
        assert phrase in page
    import hashlib

    digest = hashlib.sha256((ROOT / "datasets" / "rotterdam.csv").read_bytes()).hexdigest()
    assert digest in page
    # embedded images decode to the PNG files written next to it
    first = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(first) == (small_builds[0] / "figures" / "relapse.png").read_bytes()


def test_report_tables_match_the_files(small_builds):
    md = (small_builds[0] / "tables" / "models.md").read_text()
    assert "Cause-specific Cox: HR (95% CI)" in md and "Fine-Gray: SHR (95% CI)" in md
    assert "1 (ref)" in md


def test_cohort_endpoints_flow_mcf_and_rates(tmp_path):
    config = tmp_path / "cohort.yaml"
    config.write_text(COHORT)
    assert build_report(config, tmp_path / "out") == 0
    files = set(_tree(tmp_path / "out"))
    assert {"figures/flow.png", "figures/mcf.png", "tables/rates.csv", "tables/rr.md", "tables/mcf.csv"} <= files
    rr = (tmp_path / "out" / "tables" / "rr.md").read_text()
    assert "RR (95% CI)" in rr and "1 (ref)" in rr


@pytest.mark.parametrize("edit, at, message", [
    (("type: kaplan_meier", "type: kaplan_meyer"), "type: kaplan_meyer",
     r"analyses\[2\]\.type: 'kaplan_meyer' is not one of table_one, kaplan_meier"),
    (("times: [5]\n  - id: models", "times: [five]\n  - id: models"), "times: [five]",
     r"analyses\[2\]\.times\[0\]: expected a number, got text 'five'"),
    (("endpoint: os", "endpoint: overall"), "endpoint: overall", r"analyses\[2\]\.endpoint: unknown endpoint 'overall'"),
    (("  dataset: rotterdam", "  dataset: rotterdam\n  colour: red"), "colour", r"data\.colour: unknown key"),
    (("variables: [age, meno, size]", "variables: age"), "variables: age",
     r"analyses\[0\]\.variables: expected a list"),
    (("  - id: os\n", "  - id: table1\n"), "  - id: table1\n    type: kaplan", r"analyses\[2\]\.id: duplicate id 'table1'"),
])
def test_bad_config_names_key_and_line(tmp_path, capsys, edit, at, message):
    text = SMALL.replace(*edit)
    line = text[: text.index(at)].count("\n") + 1
    config = tmp_path / "small.yaml"
    config.write_text(text)
    assert build_report(config, tmp_path / "out") == 2
    expected = rf"small\.yaml:{line}: {message}"
    assert re.search(expected, capsys.readouterr().err)
    with pytest.raises(ConfigError, match=expected):
        load_config(config)


def test_bad_expression_and_failing_analysis(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(SMALL.replace("status: death", "status: dead"))
    assert build_report(config, tmp_path / "out") == 2
    assert "endpoints.os.status: in 'dead': unknown column 'dead'" in capsys.readouterr().err
    config.write_text(SMALL.replace('formula: "age + nodal_group"', 'formula: "age + nodes_group"'))
    assert build_report(config, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "analyses[3] (models)" in err and "nodes_group" in err and "Traceback" not in err
    with pytest.raises(InputError, match="nodes_group"):
        build_report(config, tmp_path / "out", debug=True)


def test_an_unexpected_exception_in_an_analysis_propagates(tmp_path, monkeypatch):
    from bmstats.report import builder

    def broken(self, analysis):
        raise ZeroDivisionError("a bug, not bad input")

    monkeypatch.setattr(builder.ReportBuilder, "run", broken)
    config = tmp_path / "c.yaml"
    config.write_text(SMALL)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        build_report(config, tmp_path / "out")


def test_progress_on_stderr_and_build_all(tmp_path, capsys):
    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "one.yaml").write_text(SMALL.replace("  - id: models", "  - id: models_skipped").split(
        "  - id: relapse")[0] + "outputs:\n  figures: [png]\n  tables: [csv]\n")
    assert build_all(folder, tmp_path / "reports") == 0
    err = capsys.readouterr().err
    assert "[1/1] table1 (table_one)" in err
    assert (tmp_path / "reports" / "one" / "report.html").exists()
    assert build_all(tmp_path / "empty", tmp_path / "reports") == 2


def test_cli_report_command(tmp_path):
    config = tmp_path / "one.yaml"
    config.write_text(SMALL.split("  - id: relapse")[0] + "outputs:\n  figures: [png]\n  tables: [md]\n")
    run = subprocess.run([sys.executable, "-m", "bmstats.cli", "report", str(config), "-o", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "o" / "tables" / "table1.md").exists()


@pytest.mark.slow
def test_shipped_analyses_build_twice_identically(tmp_path):
    """`make report` on the shipped configs: every format, and a second build changes no byte."""
    for run in ("a", "b"):
        assert build_all(ROOT / "analyses", tmp_path / run) == 0
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys() and [k for k in a if a[k] != b[k]] == []
    for name in ("rotterdam", "bm_cohort"):
        exts = {Path(k).suffix for k in a if k.startswith(f"{name}/")}
        assert {".html", ".png", ".svg", ".pdf", ".docx", ".tex", ".csv", ".md"} <= exts


def test_dropna_excludes_and_counts_missing_covariates(tmp_path, capsys):
    text = SMALL.replace('    nodal_group:', '    age_m: "where(pid % 10 == 0, missing, age)"\n    nodal_group:').replace(
        'formula: "age + nodal_group"', 'formula: "age_m + nodal_group"').split("outputs:")[0]
    config = tmp_path / "m.yaml"
    config.write_text(text)
    assert build_report(config, tmp_path / "out") == 1  # missing covariate values are an error by default
    assert "age_m" in capsys.readouterr().err
    config.write_text(text.replace('formula: "age_m + nodal_group"', 'formula: "age_m + nodal_group"\n    dropna: true'))
    assert build_report(config, tmp_path / "out") == 0
    md = (tmp_path / "out" / "tables" / "models.md").read_text()
    n_missing = len([p for p in range(1, 2983) if p % 70 == 0])  # kept (pid % 7 == 0) and missing (pid % 10 == 0)
    assert f"Cause-specific Cox: {n_missing:,} rows with missing values excluded." in md
    assert f"Fine-Gray: {n_missing:,} rows with missing values excluded." in md
