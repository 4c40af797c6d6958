"""`bmstats` command: exit codes 0/1/2, formats, never a traceback, subcommand parsing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from bmstats import cli

DATA = Path(__file__).resolve().parent / "data"
PATIENTS = DATA / "valid_patients.csv"
EVENTS = DATA / "valid_skeletal_events.csv"


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.out, out.err


def test_valid_cohort_exits_0_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "bmstats.cli", "validate", str(PATIENTS), "--events", str(EVENTS)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: 0 error(s)" in proc.stdout
    assert proc.stderr == ""


def test_binary_file_exits_2_in_a_subprocess(tmp_path):
    path = tmp_path / "patients.csv"
    path.write_bytes(bytes(range(256)) * 8)
    proc = subprocess.run([sys.executable, "-m", "bmstats.cli", "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "binary" in proc.stderr


def test_mapped_site_cohort_exits_0(capsys):
    code, out, _ = _run(["validate", DATA / "site_patients.csv", "--events", DATA / "site_skeletal_events.csv",
                         "--mapping", DATA / "site_mapping.yaml"], capsys)
    assert code == 0, out


def test_warnings_alone_exit_0(tmp_path, capsys):
    text = EVENTS.read_text().rstrip("\n") + "\nP001,2014-08-03,radiation_to_bone,false\n"
    ev = tmp_path / "events.csv"
    ev.write_text(text)
    code, out, _ = _run(["validate", PATIENTS, "--events", ev], capsys)
    assert code == 0
    assert "WARNING BM101-same-day-events" in out and "row 26 patient P001" in out


def _binary(tmp_path):
    p = tmp_path / "p.csv"
    p.write_bytes(b"\x00\x01\x02\xff" * 100)
    return [p]


def _empty(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("")
    return [p]


def _blank(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("\n\n  \n")
    return [p]


def _excel_garbage(tmp_path):
    p = tmp_path / "p.xlsx"
    p.write_text("this is not a workbook")
    return [p]


def _bad_mapping(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("patients: [unclosed\n")
    return [PATIENTS, "--mapping", m]


def _mapping_unknown_key(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("colums: {a: b}\n")
    return [PATIENTS, "--mapping", m]


def _ragged_first(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("patient_id,dx_date,last_fu_date\nA,2010-01-01,2011-01-01,x,y\n")
    return [p]


def _ragged_later(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("patient_id,dx_date,last_fu_date\nA,2010-01-01,2011-01-01\nB,2010-01-01,2011-01-01,x\n")
    return [p]


UNREADABLE = {
    "row longer than header (first)": _ragged_first,
    "row longer than header (later)": _ragged_later,
    "missing file": lambda tmp: [tmp / "nope.csv"],
    "missing events file": lambda tmp: [PATIENTS, "--events", tmp / "nope.csv"],
    "binary file": _binary,
    "empty file": _empty,
    "blank file": _blank,
    "folder": lambda tmp: [tmp],
    "unknown suffix": lambda tmp: [DATA / "site_mapping.yaml"],
    "corrupt excel": _excel_garbage,
    "bad mapping yaml": _bad_mapping,
    "mapping unknown key": _mapping_unknown_key,
    "missing mapping": lambda tmp: [PATIENTS, "--mapping", tmp / "nope.yaml"],
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_input_exits_2_with_one_line(tmp_path, capsys, case):
    code, out, err = _run(["validate", *UNREADABLE[case](tmp_path)], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert out == ""


BAD_USAGE = [
    [],
    ["validate"],
    ["validate", PATIENTS, "--format", "xml"],
    ["validate", PATIENTS, "--nonsense"],
    ["frobnicate"],
    ["datasets", "export"],
    ["datasets", "export", "nope", "/tmp/x"],
    ["simulate", "--n", "ten", "--seed", "1", "--out", "x"],
    ["simulate", "--seed", "1", "--out", "x"],
    ["report", "config.yaml"],
    ["report-all"],
]


@pytest.mark.parametrize("argv", BAD_USAGE, ids=[" ".join(map(str, a)) or "(none)" for a in BAD_USAGE])
def test_bad_usage_exits_2(capsys, argv):
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_formats_to_output_file(tmp_path, capsys, fmt):
    ev = tmp_path / "events.csv"
    ev.write_text(EVENTS.read_text().replace("P003,2013-03-15", "P003,2012-06-01"))  # BM012 at events row 3
    out_file = tmp_path / f"report.{fmt}"
    code, out, _ = _run(["validate", PATIENTS, "--events", ev, "--format", fmt, "--output", out_file], capsys)
    assert code == 1
    assert "FAILED" in out
    text = out_file.read_text()
    if fmt == "json":
        doc = json.loads(text)
        assert doc["n_errors"] == 1
        assert doc["issues"][0]["rule"] == "BM012-event-after-bm" and doc["issues"][0]["row"] == 3
    elif fmt == "junit":
        root = ET.fromstring(text)
        failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
        assert failed == ["BM012-event-after-bm"]
        assert "row 3 patient P003" in root.find(".//failure").text
    else:
        assert f"ERROR   BM012-event-after-bm {ev} row 3 patient P003: event_date 2012-06-01 is before bm_date 2012-12-31" in text


def test_datasets_list_and_export(tmp_path, capsys):
    code, out, _ = _run(["datasets", "list"], capsys)
    assert code == 0 and "rotterdam" in out and "gbsg" in out
    code, out, _ = _run(["datasets", "export", "gbsg", tmp_path], capsys)
    assert code == 0
    assert (tmp_path / "gbsg.csv").read_bytes() == (Path(cli.__file__).parents[1] / "datasets" / "gbsg.csv").read_bytes()


def test_subcommands_hand_their_arguments_to_the_builders(monkeypatch, tmp_path, capsys):
    import types

    calls = {}
    sim = types.ModuleType("bmstats.simulation")
    sim.write_simulation = lambda **kw: calls.setdefault("simulate", kw)
    builder = types.ModuleType("bmstats.report.builder")
    builder.build_report = lambda config, out, debug: calls.setdefault("report", (config, out, debug)) and 0
    builder.build_all = lambda folder, out, debug: calls.setdefault("report-all", (folder, out, debug)) and 1
    monkeypatch.setitem(sys.modules, "bmstats.simulation", sim)
    monkeypatch.setitem(sys.modules, "bmstats.report.builder", builder)
    scen = tmp_path / "s.yaml"
    scen.write_text("bm_rate: 0.1\n")
    code, _, _ = _run(["simulate", "--n", "100", "--seed", "7", "--out", tmp_path / "o", "--scenario", scen], capsys)
    assert code == 0
    assert calls["simulate"] == {"n": 100, "seed": 7, "out": str(tmp_path / "o"), "scenario": {"bm_rate": 0.1}}
    assert _run(["report", "a.yaml", "-o", "out"], capsys)[0] == 0
    assert calls["report"] == ("a.yaml", "out", False)
    assert _run(["report-all", "analyses", "-o", "reports", "--debug"], capsys)[0] == 1
    assert calls["report-all"] == ("analyses", "reports", True)


def test_debug_shows_the_traceback_of_bmstats_own_errors(tmp_path, capsys):
    from bmstats.cohort.io import CohortReadError

    missing = tmp_path / "nothing.csv"
    code, _, err = _run(["validate", missing], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    with pytest.raises(CohortReadError, match="nothing.csv"):
        cli.main(["--debug", "validate", str(missing)])
    with pytest.raises(CohortReadError):
        cli.main(["validate", str(missing), "--debug"])


def test_an_unexpected_exception_is_a_bug_with_its_traceback(monkeypatch, capsys):
    import types

    def broken(config, out, debug):
        raise ZeroDivisionError("a bug")

    builder = types.ModuleType("bmstats.report.builder")
    builder.build_report = broken
    monkeypatch.setitem(sys.modules, "bmstats.report.builder", builder)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        cli.main(["report", "a.yaml", "-o", "out"])
    assert "internal error" in capsys.readouterr().err


def test_import_is_light():
    code = "import sys, bmstats.cli; print('pandas' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False"


def test_short_row_is_a_missing_value(tmp_path, capsys):
    p = tmp_path / "p.csv"
    p.write_text("patient_id,dx_date,last_fu_date\nA,2010-01-01,2011-01-01\nB,2010-01-01\n")
    code, out, _ = _run(["validate", p], capsys)
    assert code == 1
    assert "BM004-required-value" in out and "row 3 patient B: last_fu_date is missing" in out
