"""The 21-day skeletal morbidity window is one rule (bmstats._sre_window) on every public path: an event at
least 21 days after the previous *counted* event is a new event, 20 days after is the same episode.

sre_summary (the skeletal morbidity rate), Cohort.recurrent_events(window_days=21) on the pandas and the
DuckDB paths, and validation rule BM102 on both must agree on events 20, 21 and 22 days apart, and on a
chain where the window is measured from the counted event, not from the event just before.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._sre_window import counted_events

BM = pd.Timestamp("2011-01-01")
# patient -> days of its events after bone metastasis
EVENTS = {
    "P20": [10, 30],        # 20 days apart: one episode
    "P21": [10, 31],        # 21 days apart: two events
    "P22": [10, 32],        # 22 days apart: two events
    "PCH": [10, 30, 45],    # day 30 is 20 after the counted day 10; day 45 is 35 after it (15 after day 30): counted
}
COUNTED = {"P20": 1, "P21": 2, "P22": 2, "PCH": 2}
NOT_COUNTED = {("P20", 30), ("PCH", 30)}


def _files(folder):
    p = pd.DataFrame({"patient_id": list(EVENTS), "dx_date": "2010-01-01", "age": 60, "bm_date": "2011-01-01",
                      "last_fu_date": "2012-01-01"})
    rows = [(pid, (BM + pd.Timedelta(days=d)).strftime("%Y-%m-%d")) for pid, days in EVENTS.items() for d in days]
    e = pd.DataFrame(rows, columns=["patient_id", "event_date"]).assign(event_type="radiation_to_bone")
    p.to_csv(folder / "patients.csv", index=False)
    e.to_csv(folder / "events.csv", index=False)
    return folder / "patients.csv", folder / "events.csv", e


@pytest.fixture(params=[None, "duckdb"])
def cohort_and_events(request, tmp_path):
    patients, events, e = _files(tmp_path)
    kw = {} if request.param is None else {"engine": "duckdb"}
    return bm.read_cohort(patients, events, **kw), e


def _pandas(frame):
    return frame.to_pandas() if hasattr(frame, "to_pandas") else frame


def _day_of_row(e: pd.DataFrame, rows) -> set:
    """(patient, day) of the events in these file rows (data rows are numbered from 2, after the header)."""
    sub = e.iloc[np.asarray(list(rows), dtype=int) - 2]
    return set(zip(sub["patient_id"], (pd.to_datetime(sub["event_date"]) - BM).dt.days))


def test_recurrent_events_count_from_the_previous_counted_event(cohort_and_events):
    cohort, e = cohort_and_events
    rows = _pandas(cohort.recurrent_events(window_days=21, unit="days", covariates=[]))
    assert rows.groupby("id")["event"].sum().to_dict() == COUNTED
    dropped = rows.attrs["dropped_events"]
    dropped = _pandas(dropped.frame if hasattr(dropped, "frame") else dropped)
    assert set(dropped["reason"]) == {"fewer than 21 days after the previous counted event"}
    assert _day_of_row(e, dropped["row"]) == NOT_COUNTED


def test_bm102_flags_exactly_the_events_the_window_does_not_count(cohort_and_events):
    cohort, e = cohort_and_events
    issues = bm.validate(cohort).issues
    bm102 = issues[issues["rule"] == "BM102-events-within-21-days"]
    assert _day_of_row(e, bm102["row"]) == NOT_COUNTED
    assert sorted(bm102["message"]) == ["20 days after the counted event in row 2",
                                        "20 days after the counted event in row 8"]


@pytest.mark.parametrize("unit", ["days", "months", "years"])
def test_sre_summary_counts_as_recurrent_events_do(cohort_and_events, unit):
    cohort, _ = cohort_and_events
    every = _pandas(cohort.recurrent_events(unit=unit, covariates=[]))  # no window: every event is a row
    every["patient"] = every["id"]
    summary = bm.sre_summary(every, "id", "start", "stop", "event", by="patient", time_unit=unit)
    assert summary.morbidity_rate.set_index("group")["counted"].to_dict() == COUNTED
    windowed = _pandas(cohort.recurrent_events(window_days=21, unit=unit, covariates=[]))
    counts = bm.event_counts(windowed, "id", "start", "stop", "event", covariates=[])
    assert counts.set_index("id")["n_events"].to_dict() == COUNTED


def test_the_rule_itself_at_the_edges():
    group = np.zeros(4, dtype=int)
    assert counted_events(group, np.array([0.0, 20, 21, 42])).tolist() == [True, False, True, True]
    assert counted_events(group[:3], np.array([0.0, 21, 41])).tolist() == [True, True, False]
    # days converted to years and back are not one rounding error short of the window
    days = np.array([0.0, 21, 42, 63]) + 1000
    assert counted_events(group, days / 365.25 * 365.25).all()
    assert counted_events(group, days / 30.4375 * 30.4375).all()
    assert counted_events(group, np.array([0.0, 1, 2, 3]), window=0).all()
    # a window shorter than the tolerance ends (it once pointed an event at itself: an endless loop)
    assert counted_events(group, np.array([0.0, 0, 1, 1]), window=1e-9).all()
    assert bm.sre_summary(pd.DataFrame({"id": 1, "start": [0.0, 1], "stop": [1.0, 2], "event": 1}), "id", "start",
                          "stop", "event", window=1e-9, time_unit="days").morbidity_rate["counted"].iloc[0] == 2
