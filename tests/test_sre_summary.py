"""SRE summaries against independent R computations (binom.test, loops for the 21-day and period rules)."""
import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate import sre
from conftest import REFERENCE, load_reference

REF = load_reference("recurrent")
DATA = pd.read_csv(REFERENCE / "data" / "recurrent.csv")
ARGS = ("id", "start", "stop", "event")
KW = {"terminal": "terminal", "by": "group"}


def test_proportion_with_event_clopper_pearson():
    p = sre.proportion_with_event(DATA, *ARGS, **KW)
    ref = pd.DataFrame(REF["proportion_any"])
    np.testing.assert_array_equal(p["n_with_event"], ref["n_with_event"])
    np.testing.assert_allclose(p[["proportion", "lower", "upper"]], ref[["proportion", "lower", "upper"]], rtol=1e-8)


def test_skeletal_morbidity_rate_21_day_window():
    m = sre.skeletal_morbidity_rate(DATA, *ARGS, **KW, time_unit="days").set_index("group")
    for g, ref in REF["smr"].items():
        row = m.loc[g]
        assert row["events"] == ref["events"] and row["counted"] == ref["counted"]
        for c in ("person_years", "rate", "lower", "upper", "mean_patient_rate"):
            assert row[c] == pytest.approx(ref[c], rel=1e-10), c


def test_window_rule_counts_from_last_counted_event():
    d = pd.DataFrame({"id": 1, "start": [0, 10, 25, 32, 60], "stop": [10, 25, 32, 60, 100],
                      "event": [1, 1, 1, 1, 0]})
    m = sre.skeletal_morbidity_rate(d, "id", "start", "stop", "event", time_unit="days")
    # events at 10, 25, 32, 60: 25 is within 21 days of 10; 32 is 22 days after 10 -> counted; 60 counted
    assert m["events"].iloc[0] == 4 and m["counted"].iloc[0] == 3
    assert sre.skeletal_morbidity_rate(d, "id", "start", "stop", "event", window=0, time_unit="days")["counted"].iloc[0] == 4
    years = sre.skeletal_morbidity_rate(d.assign(start=d["start"] / 365.25, stop=d["stop"] / 365.25),
                                        "id", "start", "stop", "event")  # default unit: years
    assert years["counted"].iloc[0] == 3 and years["person_years"].iloc[0] == pytest.approx(100 / 365.25)


def test_skeletal_morbidity_period_rate():
    m = sre.skeletal_morbidity_period_rate(DATA, *ARGS, **KW, time_unit="days").set_index("group")
    for g, ref in REF["smpr"].items():
        row = m.loc[g]
        assert row["periods_with_event"] == ref["periods_with_event"]
        for c in ("periods_on_study", "rate", "mean_patient_rate"):
            assert row[c] == pytest.approx(ref[c], rel=1e-10), c


def test_event_type_breakdown():
    b = sre.event_type_breakdown(DATA, *ARGS, "event_type", **KW)
    for g, ref in REF["type_counts_by"].items():
        s = b[b["group"] == g].set_index("event_type")
        assert s["events"].to_dict() == ref["events"]
        assert s["patients"].to_dict() == ref["patients"]
        assert s["share"].sum() == pytest.approx(1.0)
    overall = sre.event_type_breakdown(DATA, "id", "start", "stop", "event", "event_type")
    assert overall.set_index("event_type")["events"].to_dict() == REF["type_counts"]


def test_first_event_data():
    f = sre.first_event_data(DATA, *ARGS, **KW)
    assert len(f) == 400
    assert (f["status"] == 1).sum() == sum(r["n_with_event"] for r in REF["proportion_any"])
    first = DATA[DATA["event"] == 1].groupby("id")["stop"].min()
    np.testing.assert_array_equal(f.set_index("id").loc[first.index, "time"], first)


def test_time_to_first_event_cumulative_incidence():
    res = sre.time_to_first_event(DATA, *ARGS, **KW)
    ref = REF["first_event_cif"]
    at = res.at(ref["times"])
    for row, est in zip(ref["rows"], ref["est"]):
        g, cause = row.split()
        got = at[(at["group"] == g) & (at["cause"] == int(cause))].sort_values("time")["estimate"]
        np.testing.assert_allclose(got, est, atol=1e-10)


def test_sre_summary_table():
    s = bm.sre_summary(DATA, *ARGS, terminal="terminal", event_type="event_type", by="group", time_unit="days")
    t = s.table.set_index("group")
    assert t.loc["A", "n_with_event"] == 127
    assert t.loc["B", "smr"] == pytest.approx(REF["smr"]["B"]["rate"], rel=1e-10)
    assert t.loc["A", "smpr"] == pytest.approx(REF["smpr"]["A"]["rate"], rel=1e-10)
    assert s.by_type is not None and "Skeletal-related events" in repr(s)


@pytest.mark.parametrize("option, value, message", [
    ("window", np.nan, "window must be a number >= 0"),
    ("window", -21, "window must be a number >= 0"),
    ("window", "21", "window must be a number >= 0"),
    ("period", 0, "period must be a number > 0"),
    ("period", -84, "period must be a number > 0"),
    ("period", np.nan, "period must be a number > 0"),
])
def test_nan_or_negative_window_and_period_are_refused(option, value, message):
    with pytest.raises(InputError, match=message):
        bm.sre_summary(DATA, *ARGS[:5], time_unit="days", **{option: value})
    fn = sre.skeletal_morbidity_rate if option == "window" else sre.skeletal_morbidity_period_rate
    with pytest.raises(InputError, match=message):
        fn(DATA, *ARGS, time_unit="days", **{option: value})
