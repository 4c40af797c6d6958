"""ValidationReport: counts, summary, formats, and what validate accepts."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.cohort.issues import RULES

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def report():
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False)
    e = pd.read_csv(DATA / "valid_skeletal_events.csv", dtype=str, keep_default_na=False)
    p.loc[0, "age"] = "200"                    # error BM017, row 2
    p.loc[1, "cause_of_death"] = "other"       # error BM016, row 3
    p.loc[0, "cause_of_death"] = ""            # warning BM104, row 2
    return bm.validate(bm.Cohort.from_frames(p, e))


def test_counts_and_views(report):
    assert not report.ok
    assert report.n_errors == 2 and report.n_warnings == 1
    assert list(report.errors["rule"]) == ["BM017-plausible-age", "BM016-cause-without-death"]
    assert list(report.warnings["rule"]) == ["BM104-death-cause-missing"]
    assert list(report.issues.columns[:6]) == ["rule", "severity", "table", "row", "patient_id", "column"]
    assert list(report.issues["row"]) == [2, 2, 3]  # sorted by table, row, rule
    s = report.summary()
    assert len(s) == len(RULES) and s["n_issues"].sum() == 3


def test_renderings(report):
    doc = json.loads(report.to_json())
    assert doc["ok"] is False and doc["n_errors"] == 2 and len(doc["issues"]) == 3
    assert doc["issues"][0]["patient_id"] == "P001"
    text = report.to_text()
    assert text.splitlines()[-1] == report.headline
    assert "ERROR   BM017-plausible-age patients row 2 patient P001: age '200' is outside 15-110" in text
    assert "<table" in report._repr_html_()
    assert report.to_junit().count("<failure") == 2
    issues = report.issues
    issues.loc[0, "rule"] = "changed"
    assert report.issues.loc[0, "rule"] != "changed"


def test_validate_needs_a_cohort():
    with pytest.raises(InputError, match="expects a Cohort"):
        bm.validate(pd.DataFrame({"a": [1]}))
