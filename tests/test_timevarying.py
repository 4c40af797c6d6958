"""Time-varying exposures: Cohort.endpoint(..., time_varying=...) against R's tmerge(..., tdc()) and coxph on
its rows (tests/reference/R/timevarying.R -> timevarying.json), and the splitting rules on hand-made patients."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from conftest import load_reference

REF = load_reference("timevarying")
EXPOSURES_A = {"bta": "bta_start_date", "visceral": "visceral_met_date", "sre": "skeletal_event"}
EXPOSURES_B = {"bm": "bm_date", "bta": "bta_start_date"}


@pytest.fixture(scope="module")
def cohort():
    return bm.datasets.load_bm_cohort()


@pytest.mark.parametrize("case, origin, exposures", [
    ("after_bm", "bone_metastasis", EXPOSURES_A),
    ("from_dx", "diagnosis", EXPOSURES_B),
])
def test_rows_and_cox_equal_tmerge_and_coxph(cohort, case, origin, exposures):
    ref = REF[case]
    rows = cohort.endpoint("death", origin=origin, time_varying=exposures)
    r = ref["rows"]
    assert rows["patient_id"].tolist() == r["patient_id"]
    np.testing.assert_allclose(rows["start"], r["start"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rows["stop"], r["stop"], rtol=1e-12)
    assert rows["status"].tolist() == r["status"]
    for name in exposures:
        assert rows[name].tolist() == r[name], name
    fit = bm.cox(rows, "stop", "status", ref["rhs"], entry="start")
    c = ref["cox"]
    assert list(fit.coef.index) == c["names"]
    np.testing.assert_allclose(fit.coef, c["coef"], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), c["se"], rtol=1e-6)
    np.testing.assert_allclose(fit.loglik, c["loglik"], rtol=1e-9)
    assert (fit.n, fit.n_events) == (c["n"], c["nevent"])


def _cohort(rows: list[dict], events=None):
    base = {"dx_date": "2010-01-01", "age": 60, "er": "positive", "pr": "positive", "her2": "negative",
            "last_fu_date": "2010-01-11"}
    p = pd.DataFrame([{**base, **r} for r in rows])
    return bm.Cohort.from_frames(p, events)


def test_tmerge_rules_on_hand_made_patients():
    # follow-up 10 days from diagnosis; exposure dates relative to it
    c = _cohort([
        {"patient_id": "before", "bta_start_date": "2009-12-30"},        # before the origin: on from the start
        {"patient_id": "origin", "bta_start_date": "2010-01-01"},        # on the origin day: on from the start
        {"patient_id": "inside", "bta_start_date": "2010-01-04", "death_date": "2010-01-11"},
        {"patient_id": "at_end", "bta_start_date": "2010-01-11", "death_date": "2010-01-11"},  # event first
        {"patient_id": "after", "bta_start_date": "2010-02-01"},         # after follow-up: never
        {"patient_id": "never"},
        {"patient_id": "two", "bta_start_date": "2010-01-04", "visceral_met_date": "2010-01-04"},  # one split
    ])
    rows = c.endpoint("death", unit="days", time_varying={"bta": "bta_start_date", "vis": "visceral_met_date"},
                      covariates=["age"])
    got = {pid: g[["start", "stop", "status", "bta", "vis"]].to_numpy().tolist() for pid, g in rows.groupby("patient_id")}
    assert got["before"] == [[0, 10, 0, 1, 0]]
    assert got["origin"] == [[0, 10, 0, 1, 0]]
    assert got["inside"] == [[0, 3, 0, 0, 0], [3, 10, 1, 1, 0]]
    assert got["at_end"] == [[0, 10, 1, 0, 0]]
    assert got["after"] == [[0, 10, 0, 0, 0]]
    assert got["never"] == [[0, 10, 0, 0, 0]]
    assert got["two"] == [[0, 3, 0, 0, 0], [3, 10, 0, 1, 1]]
    assert list(rows.columns) == ["patient_id", "start", "stop", "status", "bta", "vis", "age"]
    assert rows.attrs["endpoint"]["time_varying"] == {"bta": "bta_start_date", "vis": "visceral_met_date"}


def test_horizon_and_exclusions_are_kept(cohort):
    plain = cohort.endpoint_with_log("death", origin="bone_metastasis", horizon=2)
    rows = cohort.endpoint("death", origin="bone_metastasis", horizon=2, time_varying=EXPOSURES_A)
    assert rows.attrs["exclusions"].table.equals(plain.exclusions.table)
    last = rows.groupby("patient_id", sort=False).tail(1)
    np.testing.assert_array_equal(last["stop"], plain.data["time"])
    np.testing.assert_array_equal(last["status"], plain.data["status"])
    assert rows["stop"].max() <= 2
    # every patient's rows tile (0, time] without gaps
    first = rows.groupby("patient_id", sort=False).head(1)
    assert (first["start"] == 0).all()
    nxt = rows.groupby("patient_id", sort=False)["start"].shift(-1)
    assert (nxt.dropna() == rows.loc[nxt.notna(), "stop"]).all()


def test_skeletal_event_is_the_first_one():
    ev = pd.DataFrame({"patient_id": ["a", "a"], "event_date": ["2010-01-08", "2010-01-05"],
                       "event_type": ["pathologic_fracture", "radiation_to_bone"], "symptomatic": [True, True]})
    c = _cohort([{"patient_id": "a"}], ev)
    rows = c.endpoint("death", unit="days", time_varying={"sre": "skeletal_event"}, covariates=[])
    assert rows[["start", "stop", "sre"]].to_numpy().tolist() == [[0, 4, 0], [4, 10, 1]]


@pytest.mark.parametrize("bad, message", [
    ({"bta": "no_such_column"}, "not a date column"),
    ({"bta": "age"}, "holds no dates"),
    ({"age": "bta_start_date"}, "already a column"),
    ({"stop": "bta_start_date"}, "clashes"),
    ({"bad name": "bta_start_date"}, "usable in a formula"),
    ({}, "non-empty mapping"),
    (["bta_start_date"], "non-empty mapping"),
])
def test_bad_exposures_are_named(cohort, bad, message):
    with pytest.raises(InputError, match=message):
        cohort.endpoint("death", time_varying=bad)


def test_landmark_equals_the_r_construction_and_coxph(cohort):
    rows = cohort.endpoint("death", origin="bone_metastasis", time_varying=EXPOSURES_A)
    lm = bm.landmark(rows, 1.0)
    ref = REF["landmark_1y"]
    assert lm["patient_id"].tolist() == ref["patient_id"]
    np.testing.assert_allclose(lm["time"], ref["time"], rtol=1e-12)
    for col in ("status", "bta", "visceral", "sre"):
        assert lm[col].tolist() == ref[col], col
    assert list(lm.columns[:7]) == ["patient_id", "time", "status", "bta", "visceral", "sre", "dx_date"]
    fit = bm.cox(lm, "time", "status", "bta + visceral + sre + age")
    np.testing.assert_allclose(fit.coef, ref["cox"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref["cox"]["se"], rtol=1e-6)
    counts = lm.attrs["landmark"][0]
    assert counts["at_risk"] == len(lm) and counts["at_risk"] + counts["ended_before"] == rows["patient_id"].nunique()


def test_landmark_rules_and_stacking():
    rows = pd.DataFrame({"patient_id": ["a", "a", "b", "c", "c"], "start": [0, 2, 0, 0, 1.0],
                         "stop": [2, 5, 1, 1, 4.0], "status": [0, 1, 1, 0, 0], "x": [0, 1, 0, 0, 1],
                         "age": [50, 50, 60, 70, 70]})
    one = bm.landmark(rows, 2.0, time_varying=["x"])  # a switches on exactly at 2: on at the landmark
    assert one[["patient_id", "time", "status", "x", "age"]].to_numpy().tolist() == [["a", 3.0, 1, 1, 50],
                                                                                   ["c", 2.0, 0, 1, 70]]
    stacked = bm.landmark(rows, [0.5, 2.0], time_varying="x")
    assert stacked.groupby("landmark").size().to_dict() == {0.5: 3, 2.0: 2}
    assert stacked.loc[stacked["landmark"] == 0.5, "x"].tolist() == [0, 0, 0]
    with pytest.raises(InputError, match="at must"):
        bm.landmark(rows, -1)
    with pytest.raises(InputError, match="at must"):
        bm.landmark(rows, "one")
    with pytest.raises(InputError, match="overlap"):
        bm.landmark(rows.assign(start=[0, 1, 0, 0, 1.0]), 1.5)
    with pytest.raises(InputError, match="'nope'"):
        bm.landmark(rows, 1.0, time_varying=["nope"])
