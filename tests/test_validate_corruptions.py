"""Corruption suite: the valid fixture cohort, corrupted one way at a time; the rule that fires and the row
(and patient) it names are asserted, through the library, the in-process CLI and (some) a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bmstats as bm
from bmstats import cli
from bmstats.cohort.issues import RULES

DATA = Path(__file__).resolve().parent / "data"


def _valid():
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False)
    e = pd.read_csv(DATA / "valid_skeletal_events.csv", dtype=str, keep_default_na=False)
    return p, e


def _set(table, i, column, value):
    def f(p, e):
        frame = p if table == "patients" else e
        frame.loc[i, column] = value
        return p, e
    return f


def _drop_column(column):
    def f(p, e):
        return p.drop(columns=column), e
    return f


def _append_event(row):
    def f(p, e):
        return p, pd.concat([e, pd.DataFrame([row])], ignore_index=True)
    return f


# (name, corruption, rule, table, file row, patient_id); file row = position + 2 (header is row 1)
# fixture facts used: P001 row 2 (bm at dx, ER+, dead), P002 row 3 (bm 2017-12-05, alive), P003 row 4 (dead
# 2013-11-18, bm 2012-12-31), P004 row 5 (dead, other cause), P005 row 6 (no bm), P007 row 8, P008 row 9
# (fu 2015-01-07), P010 row 11 (dx 2012-03-27); events row 2 = P001, row 3 = P003, row 11 = P016
ERRORS = [
    ("duplicate id", _set("patients", 5, "patient_id", "P001"), "BM001-unique-patient-id", "patients", 7, "P001"),
    ("event of unknown patient", _set("events", 0, "patient_id", "P999"), "BM002-event-patient-known", "skeletal_events", 2, "P999"),
    ("required column missing", _drop_column("last_fu_date"), "BM003-required-column", "patients", 1, ""),
    ("required value missing", _set("patients", 3, "dx_date", ""), "BM004-required-value", "patients", 5, "P004"),
    ("age not a number", _set("patients", 2, "age", "sixty"), "BM005-value-type", "patients", 4, "P003"),
    ("nodes not whole", _set("patients", 2, "nodes_positive", "2.5"), "BM005-value-type", "patients", 4, "P003"),
    ("symptomatic not boolean", _set("events", 1, "symptomatic", "maybe"), "BM005-value-type", "skeletal_events", 3, "P003"),
    ("impossible date", _set("patients", 4, "last_fu_date", "2020-02-30"), "BM006-date-parse", "patients", 6, "P005"),
    ("date in another format", _set("patients", 4, "dx_date", "14/08/2014"), "BM006-date-parse", "patients", 6, "P005"),
    ("receptor code", _set("patients", 1, "er", "pos"), "BM007-code-in-set", "patients", 3, "P002"),
    ("event type code", _set("events", 0, "event_type", "fracture"), "BM007-code-in-set", "skeletal_events", 2, "P001"),
    ("follow-up before diagnosis", _set("patients", 9, "last_fu_date", "2011-01-01"), "BM008-followup-after-diagnosis", "patients", 11, "P010"),
    ("bm before diagnosis", _set("patients", 1, "bm_date", "2012-01-01"), "BM009-bm-after-diagnosis", "patients", 3, "P002"),
    ("bm after follow-up", _set("patients", 7, "bm_date", "2016-01-01"), "BM010-bm-before-followup-end", "patients", 9, "P008"),
    ("visceral before diagnosis", _set("patients", 0, "visceral_met_date", "2013-01-01"), "BM011-dates-in-followup", "patients", 2, "P001"),
    ("event before bm", _set("events", 1, "event_date", "2012-06-01"), "BM012-event-after-bm", "skeletal_events", 3, "P003"),
    ("event after follow-up", _set("events", 9, "event_date", "2030-01-01"), "BM013-event-before-followup-end", "skeletal_events", 11, "P016"),
    ("event after death", _set("events", 1, "event_date", "2014-06-01"), "BM014-nothing-after-death", "skeletal_events", 3, "P003"),
    ("bm after death", _set("patients", 2, "bm_date", "2014-01-01"), "BM014-nothing-after-death", "patients", 4, "P003"),
    ("death not last follow-up", _set("patients", 3, "death_date", "2020-01-01"), "BM015-death-is-last-followup", "patients", 5, "P004"),
    ("cause without death", _set("patients", 1, "cause_of_death", "other"), "BM016-cause-without-death", "patients", 3, "P002"),
    ("implausible age", _set("patients", 6, "age", "150"), "BM017-plausible-age", "patients", 8, "P007"),
    ("negative tumour size", _set("patients", 6, "tumor_size_mm", "-5"), "BM018-plausible-tumor-size", "patients", 8, "P007"),
    ("implausible nodes", _set("patients", 6, "nodes_positive", "250"), "BM019-plausible-nodes", "patients", 8, "P007"),
    ("grade 4", _set("patients", 6, "grade", "4"), "BM020-plausible-grade", "patients", 8, "P007"),
    ("subtype contradicts receptors", _set("patients", 0, "subtype", "TNBC"), "BM021-subtype-receptors", "patients", 2, "P001"),
    ("event without bm", _set("events", 0, "patient_id", "P005"), "BM022-events-need-bm", "skeletal_events", 2, "P005"),
]

WARNINGS = [
    ("same-day duplicate event", _append_event({"patient_id": "P001", "event_date": "2014-08-03", "event_type": "radiation_to_bone", "symptomatic": "false"}),
     "BM101-same-day-events", "skeletal_events", 26, "P001"),
    ("event within 21 days", _append_event({"patient_id": "P001", "event_date": "2014-08-20", "event_type": "radiation_to_bone", "symptomatic": "false"}),
     "BM102-events-within-21-days", "skeletal_events", 26, "P001"),
    ("bta before bm", _set("patients", 1, "bta_start_date", "2015-01-01"), "BM103-bta-before-bm", "patients", 3, "P002"),
    ("dead without cause", _set("patients", 0, "cause_of_death", ""), "BM104-death-cause-missing", "patients", 2, "P001"),
    ("extra column", lambda p, e: (p.assign(hospital="A"), e), "BM105-extra-column", "patients", 1, ""),
    ("bta drug without date", _set("patients", 1, "bta_start_date", ""), "BM106-bta-type-date", "patients", 3, "P002"),
]


def _write(tmp_path: Path, corrupt) -> tuple[Path, Path]:
    p, e = corrupt(*_valid())
    pp, ep = tmp_path / "patients.csv", tmp_path / "skeletal_events.csv"
    p.to_csv(pp, index=False)
    e.to_csv(ep, index=False)
    return pp, ep


def _has(issues: pd.DataFrame, rule, table, row, pid) -> bool:
    hit = (issues["rule"] == rule) & (issues["table"] == table) & (issues["row"] == row) & (issues["patient_id"] == pid)
    return bool(hit.any())


def test_valid_fixture_has_no_issues():
    report = bm.validate(bm.read_cohort(DATA / "valid_patients.csv", DATA / "valid_skeletal_events.csv"))
    assert report.ok
    assert len(report.issues) == 0


def test_suite_covers_at_least_15_kinds_and_every_error_rule():
    kinds = {rule for _, _, rule, *_ in ERRORS}
    assert len(ERRORS) >= 15
    error_rules = {r for r, rule in RULES.items() if rule.severity == "error"} - {"BM023-no-patients"}
    assert error_rules <= kinds  # BM023 has its own test below


@pytest.mark.parametrize("name, corrupt, rule, table, row, pid", ERRORS, ids=[c[0] for c in ERRORS])
def test_error_named_with_rule_row_and_patient(tmp_path, name, corrupt, rule, table, row, pid):
    pp, ep = _write(tmp_path, corrupt)
    report = bm.validate(bm.read_cohort(pp, ep))
    assert not report.ok
    assert _has(report.issues, rule, table, row, pid), report.to_text()
    assert RULES[rule].severity == "error"


@pytest.mark.parametrize("name, corrupt, rule, table, row, pid", WARNINGS, ids=[c[0] for c in WARNINGS])
def test_warning_named_but_cohort_ok(tmp_path, name, corrupt, rule, table, row, pid):
    pp, ep = _write(tmp_path, corrupt)
    report = bm.validate(bm.read_cohort(pp, ep))
    assert report.ok, report.to_text()
    assert _has(report.warnings, rule, table, row, pid), report.to_text()


@pytest.mark.parametrize("name, corrupt, rule, table, row, pid", ERRORS, ids=[c[0] for c in ERRORS])
def test_cli_exit_1_names_rule_row_patient(tmp_path, capsys, name, corrupt, rule, table, row, pid):
    pp, ep = _write(tmp_path, corrupt)
    code = cli.main(["validate", str(pp), "--events", str(ep)])
    out = capsys.readouterr().out
    assert code == 1
    src = pp if table == "patients" else ep
    line = [x for x in out.splitlines() if rule in x and f"{src} row {row}" in x]
    assert line, out
    if pid:
        assert f"patient {pid}:" in line[0]


def test_empty_patients_table_is_bm023(tmp_path):
    pp = tmp_path / "patients.csv"
    pp.write_text(",".join(_valid()[0].columns) + "\n")
    report = bm.validate(bm.read_cohort(pp))
    assert _has(report.issues, "BM023-no-patients", "patients", 1, "")


def test_blank_lines_keep_row_numbers(tmp_path):
    p, _ = _valid()
    p.loc[4, "age"] = "abc"  # P005, row 6 without blank lines
    text = p.to_csv(index=False).splitlines()
    text.insert(2, "")  # a blank line after the first data row: P005 is now on row 7
    pp = tmp_path / "patients.csv"
    pp.write_text("\n".join(text) + "\n")
    report = bm.validate(bm.read_cohort(pp))
    assert _has(report.issues, "BM005-value-type", "patients", 7, "P005"), report.to_text()
    assert len(report.errors) == 1


SUBPROCESS_CASES = [ERRORS[0], ERRORS[15]]


@pytest.mark.parametrize("name, corrupt, rule, table, row, pid", SUBPROCESS_CASES, ids=[c[0] for c in SUBPROCESS_CASES])
def test_cli_subprocess_json(tmp_path, name, corrupt, rule, table, row, pid):
    pp, ep = _write(tmp_path, corrupt)
    proc = subprocess.run([sys.executable, "-m", "bmstats.cli", "validate", str(pp), "--events", str(ep), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False
    assert any(i["rule"] == rule and i["row"] == row and i["patient_id"] == pid and i["table"] == table for i in doc["issues"])
