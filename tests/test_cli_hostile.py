"""The command line on hostile input: every failure is one line naming the file, key or row, with the
documented exit code, found before work is done (bmstats.cohort.io._open / binary_reason, the one place
input is read; bmstats.cohort.issues.issue_frame, the one place issues are made single-line and bounded;
parameters._like_default for scenarios; builder.output_problem and the endpoint checks for reports)."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bmstats import cli
from bmstats.cohort.io import binary_reason

DATA = Path(__file__).resolve().parent / "data"
PATIENTS = DATA / "valid_patients.csv"
EVENTS = DATA / "valid_skeletal_events.csv"
ROOT = Path(__file__).resolve().parents[1]


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.out, out.err


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_binary_without_nul_bytes_exits_2(tmp_path, capsys, seed):
    raw = np.random.default_rng(seed).integers(1, 256, 6000, dtype=np.uint8).tobytes()
    assert b"\x00" not in raw
    path = tmp_path / "patients.csv"
    path.write_bytes(raw)
    code, out, err = _run(["validate", path], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "patients.csv: not a text file (binary content" in err


def test_text_with_a_stray_control_character_is_still_text():
    assert binary_reason(PATIENTS.read_bytes()) is None
    assert binary_reason("naïve,café\r\n1,2\x1a".encode("latin-1")) is None
    assert binary_reason(b"a,b\n1,\x072\n") is None  # one stray BEL is a bad cell, not a binary file


def test_validate_reads_a_pipe_and_standard_input():
    text = PATIENTS.read_bytes()
    for arg in ("/dev/stdin", "-"):
        proc = subprocess.run([sys.executable, "-m", "bmstats.cli", "validate", arg], input=text,
                              capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert b"OK: 0 error(s), 0 warning(s) in 30 patients" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "bmstats.cli", "validate", "-"], input=b"", capture_output=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.decode().strip() == "bmstats validate: standard input: nothing was piped in"


def test_validate_reads_named_pipes(tmp_path):
    import os
    import threading

    fifo = tmp_path / "patients.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(PATIENTS.read_bytes()))
    writer.start()
    proc = subprocess.run([sys.executable, "-m", "bmstats.cli", "validate", str(fifo)], capture_output=True,
                          text=True, timeout=120)
    writer.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "30 patients" in proc.stdout


def _hostile_cells(path: Path) -> None:
    rows = list(csv.reader(PATIENTS.open()))
    h = rows[0]
    rows[1][h.index("age")] = "sixty\nfive"
    rows[2][h.index("age")] = "x" * 5_000_000
    rows[3][h.index("patient_id")] = "P\nX"
    rows[3][h.index("er")] = "pos\r\nitive"
    rows[4][h.index("patient_id")] = "Q" * 5_000_000
    rows[4][h.index("dx_date")] = "2020-13-45"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows[:9])


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_quoted_newlines_and_huge_cells_give_one_short_line_per_issue(tmp_path, capsys, fmt):
    path = tmp_path / "patients.csv"
    _hostile_cells(path)
    code, out, err = _run(["validate", path, "--format", fmt], capsys)
    assert code == 1 and err == ""
    assert len(out) < 5000
    if fmt == "text":
        lines = out.strip().splitlines()
        assert len(lines) == 5  # four issues and the headline
        assert "age 'sixty\\nfive' is not a number" in lines[0]
        assert "age '" + "x" * 39 + "\u2026' is not a number" in lines[1]
        assert "patient P\\nX: er 'pos\\r\\nitive' is not one of" in lines[2]
        assert "patient " + "Q" * 39 + "\u2026: dx_date '2020-13-45'" in lines[3]
        assert all(len(line) < 600 for line in lines)


@pytest.mark.parametrize("scenario, message", [
    ("n_patient: 10", "unknown scenario knob 'n_patient'"),
    ("sre: {rate_per_yr: 1}", "unknown scenario knob 'sre.rate_per_yr'"),
    ('age: "old"', "scenario knob 'age' must be a mapping with keys HR+/HER2-"),
    ("subtype_mix: 5", "scenario knob 'subtype_mix' must be a mapping"),
    ("accrual: [1, 2]", "scenario knob 'accrual' must be a mapping with keys start, end"),
    ('age: {TNBC: [50, "x"]}', "scenario knob 'age.TNBC[1]' must be a number, got 'x'"),
    ("grade: {TNBC: 0.5}", "scenario knob 'grade.TNBC' must be a list like"),
    ('sre: {rate: "1.5"}', "scenario knob 'sre.rate' must be a number, got '1.5'"),
    ("study_end: 2030-02-30", "is not valid YAML: day is out of range for month"),
    ("study_end: tomorrow", "scenario knob 'study_end' must be an ISO date YYYY-MM-DD"),
])
def test_simulate_scenario_typos_are_one_line_naming_the_knob(tmp_path, capsys, scenario, message):
    sc = tmp_path / "scenario.yaml"
    sc.write_text(scenario + "\n")
    code, out, err = _run(["simulate", "--n", 20, "--seed", 1, "--out", tmp_path / "out", "--scenario", sc], capsys)
    assert code == 2, out
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_simulate_scenario_with_a_yaml_date_works(tmp_path, capsys):
    sc = tmp_path / "scenario.yaml"
    sc.write_text("study_end: 2020-01-01\n")
    code, _, err = _run(["simulate", "--n", 20, "--seed", 1, "--out", tmp_path / "out", "--scenario", sc], capsys)
    assert code == 0, err
    assert '"study_end": "2020-01-01"' in (tmp_path / "out" / "truth.json").read_text()


CONFIG = """\
title: Hostile
data:
  dataset: rotterdam
  filter: "pid % 20 == 0"
endpoints:
  relapse:
    time: "dtime / 365.25"
    status: STATUS
    causes: {1: Relapse, 2: Death}
analyses:
  - id: t1
    type: table_one
    variables: [age]
  - id: ci
    type: cumulative_incidence
    endpoint: relapse
"""


@pytest.mark.parametrize("status, message", [
    ('"where(recur == 1, 1, where(death == 1, 2, missing))"', r"endpoints\.relapse\.status: the expression gives missing values in \d+ row\(s\) \(rows \d+"),
    ('"where(recur == 1, 1, where(death == 1, 3, 0))"', r"endpoints\.relapse\.causes: status code\(s\) 3 occur \(rows \d+.* but are not declared; declared: 1, 2"),
    ('"where(recur == 1, 1.5, 0)"', r"endpoints\.relapse\.status: the expression gives codes that are not whole numbers"),
    ('"where(recur == 1, -1, 0)"', r"endpoints\.relapse\.status: the expression gives codes that are not whole numbers"),
])
def test_report_endpoint_expressions_are_checked(tmp_path, capsys, status, message):
    import re

    from bmstats.report.builder import build_report

    cfg = tmp_path / "hostile.yaml"
    cfg.write_text(CONFIG.replace("STATUS", status))
    code = build_report(cfg, tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    line = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and re.search(r"hostile\.yaml:\d+: " + message, line[0]), line


@pytest.mark.parametrize("setup, message", [
    (lambda d: d.write_text("x"), "exists and is a file, not a folder"),
    (lambda d: (d.mkdir(), (d / "report.html").mkdir()), "report.html exists and is a folder, not a file"),
    (lambda d: (d.mkdir(), (d / "tables").write_text("x")), "tables exists and is a file, not a folder"),
])
def test_report_output_folder_problems_are_found_before_the_analyses(tmp_path, capsys, setup, message):
    out = tmp_path / "out"
    setup(out)
    code, _, err = _run(["report", ROOT / "analyses" / "rotterdam.yaml", "-o", out], capsys)
    assert code == 2
    assert message in err and "(nothing was run)" in err
    assert "[1/" not in err  # no analysis started


def test_report_output_below_a_file_is_refused_first(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = _run(["report", ROOT / "analyses" / "rotterdam.yaml", "-o", tmp_path / "afile" / "sub"], capsys)
    assert code == 2 and "cannot be written to" in err and "[1/" not in err


@pytest.mark.parametrize("mapping, message", [
    ("date_format: 5", "mapping: 'date_format' must be a strptime date format such as '%d/%m/%Y', got 5"),
    ('date_format: ""', "mapping: 'date_format' must be a strptime date format"),
    ('date_format: "%Q-%m"', "mapping: 'date_format': '%Q-%m' is not a valid date format ('Q' is a bad directive"),
    ('date_format: "%d/%m"', "mapping: 'date_format': '%d/%m' does not name a year, a month and a day"),
    ('date_format: "%H:%M"', "mapping: 'date_format': '%H:%M' does not name a year, a month and a day"),
    ('patients: {date_format: "%Y %Q"}', "mapping: 'patients.date_format': '%Y %Q' is not a valid date format"),
    ("patients: {date_format: {dx_date: 5}}", "mapping: 'patients.date_format.dx_date' must be a strptime date format"),
    ('patients: {date_format: {dx_dat: "%d/%m/%Y"}}', "mapping: 'patients.date_format.dx_dat': not a date column of patients; date columns: dx_date"),
    ('patients: {date_format: {age: "%d/%m/%Y"}}', "mapping: 'patients.date_format.age': not a date column"),
])
def test_mapping_date_format_errors_name_the_key(tmp_path, capsys, mapping, message):
    m = tmp_path / "mapping.yaml"
    m.write_text(mapping + "\n")
    code, out, err = _run(["validate", PATIENTS, "--mapping", m], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_mapping_date_formats_that_name_a_date_are_accepted(tmp_path):
    from bmstats.cohort.mapping import load_mapping

    for fmt in ("%d.%m.%Y", "%d/%m/%y", "%Y%m%d", "%d %b %Y", "%Y-%j", "%m/%d/%Y %H:%M"):
        assert load_mapping({"date_format": fmt}).patients.default_date_format == fmt
    m = load_mapping({"patients": {"columns": {"DiagDat": "dx_date"}, "date_format": {"DiagDat": "%d.%m.%Y"}}})
    assert m.patients.date_format_of("dx_date") == "%d.%m.%Y"
