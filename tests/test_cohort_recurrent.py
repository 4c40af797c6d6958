"""Cohort.recurrent_events: counting-process rows, death as terminal event, 21-day windows, dropped events."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._sre_window import counted_events
from bmstats.cohort.recurrent import recurrent_events

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def cohort():
    return bm.read_cohort(DATA / "valid_patients.csv", DATA / "valid_skeletal_events.csv")


def test_rows_reproduce_the_data(cohort):
    r = cohort.recurrent_events(unit="days", covariates=["age"])
    p = cohort.patients.set_index("patient_id")
    e = cohort.events
    with_bm = p.index[p["bm_date"].notna()]
    assert set(r["id"]) == set(with_bm)
    assert list(r.columns) == ["id", "start", "stop", "event", "terminal", "enum", "event_type", "age"]
    assert r.loc[r["event"] == 1, "event_type"].notna().all() and r.loc[r["event"] == 0, "event_type"].isna().all()
    # events: every fixture event is after bm_date, so all are counted at their exact day
    assert r["event"].sum() == len(e)
    got = r.loc[r["event"] == 1, ["id", "stop"]].reset_index(drop=True)
    exp = pd.DataFrame({"id": e["patient_id"].to_numpy(),
                        "stop": (e["event_date"].to_numpy() - p.loc[e["patient_id"], "bm_date"].to_numpy()) / np.timedelta64(1, "D")})
    exp = exp.sort_values(["id", "stop"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, exp)
    # each patient's rows tile (0, end of follow-up] without gaps
    for pid, rows in r.groupby("id"):
        assert rows["start"].iloc[0] == 0
        assert (rows["start"].iloc[1:].to_numpy() == rows["stop"].iloc[:-1].to_numpy()).all()
        assert rows["stop"].iloc[-1] == (p.loc[pid, "last_fu_date"] - p.loc[pid, "bm_date"]).days
        assert (rows["stop"] > rows["start"]).all()
        assert rows["enum"].tolist() == list(range(1, len(rows) + 1))
        assert rows["terminal"].sum() == int(pd.notna(p.loc[pid, "death_date"]))
        assert rows["terminal"].iloc[-1] == int(pd.notna(p.loc[pid, "death_date"]))
    assert r["age"].tolist() == p.loc[r["id"], "age"].tolist()


def test_units_are_exact_date_differences(cohort):
    d = cohort.recurrent_events(unit="days")
    y = cohort.recurrent_events(unit="years")
    m = cohort.recurrent_events(unit="months")
    assert np.array_equal(y["stop"].to_numpy(), d["stop"].to_numpy() / 365.25)
    assert np.array_equal(m["start"].to_numpy(), d["start"].to_numpy() / 30.4375)


def _tiny(events: list[tuple[str, str]], death: bool = True, fu: str = "2012-01-01"):
    p = pd.DataFrame([{"patient_id": "a", "dx_date": "2010-01-01", "bm_date": "2011-01-01", "last_fu_date": fu,
                       "death_date": fu if death else None, "cause_of_death": "breast_cancer" if death else None}])
    e = pd.DataFrame([{"patient_id": "a", "event_date": d, "event_type": t} for d, t in events])
    return bm.Cohort.from_frames(p, e)


def test_window_same_day_origin_day_and_terminal_on_last_event():
    c = _tiny([
        ("2011-01-01", "pathologic_fracture"),      # origin day: not counted (time 0)
        ("2011-01-11", "radiation_to_bone"),        # day 10: counted
        ("2011-01-11", "surgery_to_bone"),          # same day: not counted
        ("2011-01-31", "radiation_to_bone"),        # day 30 = 20 days after day 10: the same episode
        ("2011-02-01", "radiation_to_bone"),        # day 31: 21 days after the counted one -> counted
        ("2012-01-01", "hypercalcaemia"),           # on the death day: counted, the row also carries terminal
    ])
    res = recurrent_events(c._patients, c._events, unit="days", window_days=21, covariates=[])
    d = res.data
    assert d[["start", "stop", "event", "terminal", "enum"]].values.tolist() == [
        [0, 10, 1, 0, 1], [10, 31, 1, 0, 2], [31, 365, 1, 1, 3]]
    reasons = dict(zip(res.dropped_events["row"], res.dropped_events["reason"]))
    assert reasons == {2: "on the origin day (time 0)", 4: "same day as another event",
                       5: "fewer than 21 days after the previous counted event"}
    # without a window the day-30 event counts
    no_window = c.recurrent_events(unit="days", covariates=[])
    assert no_window["stop"].tolist() == [10, 30, 31, 365]
    assert len(no_window.attrs["dropped_events"]) == 2


def test_censored_alive_patient_and_type_filter():
    c = _tiny([("2011-03-01", "pathologic_fracture"), ("2011-06-01", "radiation_to_bone")], death=False)
    d = c.recurrent_events(unit="days", event_types=["radiation_to_bone"], covariates=[])
    assert d[["start", "stop", "event", "terminal"]].values.tolist() == [[0, 151, 1, 0], [151, 365, 0, 0]]


def test_excluded_patients_logged(cohort):
    r = cohort.recurrent_events()
    log = r.attrs["exclusions"]
    no_bm = cohort.patients.loc[cohort.patients["bm_date"].isna(), "patient_id"]
    assert set(log.ids("no bone metastasis date (origin missing)")) == set(no_bm)
    assert log.n_final == r["id"].nunique()


def test_counted_events_match_a_plain_loop():
    rng = np.random.default_rng(3)
    pos = np.sort(rng.integers(0, 200, 3000))
    day = rng.integers(1, 2000, 3000).astype(float)
    frame = pd.DataFrame({"pos": pos, "day": day}).drop_duplicates().sort_values(["pos", "day"]).reset_index(drop=True)
    got = counted_events(frame["pos"].to_numpy(), frame["day"].to_numpy(), 21)
    expected = []
    last = {}
    for p_, d_ in zip(frame["pos"], frame["day"]):
        keep = p_ not in last or d_ - last[p_] >= 21
        if keep:
            last[p_] = d_
        expected.append(keep)
    assert got.tolist() == expected


def _random_cohort(seed: int, n: int = 150) -> bm.Cohort:
    rng = np.random.default_rng(seed)
    dx = pd.Timestamp("2008-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    bm_ = dx + pd.to_timedelta(rng.integers(0, 800, n), unit="D")
    fu = bm_ + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    dead = rng.uniform(size=n) < 0.5
    has_bm = rng.uniform(size=n) < 0.8
    p = pd.DataFrame({"patient_id": [f"R{i:03d}" for i in range(n)], "dx_date": dx, "bm_date": pd.Series(bm_).where(has_bm),
                      "last_fu_date": fu, "death_date": pd.Series(fu).where(dead), "cause_of_death": pd.Series("other", index=range(n)).where(dead)})
    early = dead & (rng.uniform(size=n) < 0.3)  # follow-up recorded after death: death ends follow-up
    p.loc[early, "death_date"] = p.loc[early, "last_fu_date"] - pd.to_timedelta(rng.integers(0, 300, n)[early], unit="D")
    m = 900
    who = rng.integers(0, n, m)
    offset = rng.integers(-30, 950, m)
    offset = np.where(rng.uniform(size=m) < 0.05, 0, offset)  # some on the origin day
    dates = pd.Series(pd.to_datetime(bm_[who]) + pd.to_timedelta(offset, unit="D"))
    e = pd.DataFrame({"patient_id": p["patient_id"].to_numpy()[who], "event_date": dates,
                      "event_type": rng.choice(["pathologic_fracture", "radiation_to_bone"], m)})
    # same-day repeats
    e = pd.concat([e, e.sample(60, random_state=seed)], ignore_index=True)
    return bm.Cohort.from_frames(p, e)


def _reference_rows(c, window):
    """Per-patient loop following the module docstring (independent of the vectorised code)."""
    p, e = c.patients, c.events
    rows, reasons = [], {}
    for _, pt in p.iterrows():
        o, fu, death = pt["bm_date"], pt["last_fu_date"], pt["death_date"]
        mine = e[e["patient_id"] == pt["patient_id"]]
        stop = death if pd.notna(death) and death < fu else fu
        if pd.isna(o) or (stop - o).days <= 0:
            for r in mine.index:
                reasons[r] = "patient not analysed"
            continue
        end = (stop - o).days
        counted, last_day, last_counted = [], None, None
        for r, d in sorted(((r, (x - o).days) for r, x in mine["event_date"].items()), key=lambda t: (t[1], t[0])):
            if d < 0:
                reasons[r] = "before origin"
            elif d == 0:
                reasons[r] = "on the origin day (time 0)"
            elif d > (fu - o).days:
                reasons[r] = "after last_fu_date"
            elif d > end:
                reasons[r] = "after death_date"
            elif d == last_day:
                reasons[r] = "same day as another event"
            elif window and last_counted is not None and d - last_counted < window:
                reasons[r] = f"fewer than {window} days after the previous counted event"
                last_day = d
            else:
                counted.append(d)
                last_day = last_counted = d
        dead = int(pd.notna(pt["death_date"]))
        start = 0
        for j, d in enumerate(counted, start=1):
            rows.append((pt["patient_id"], float(start), float(d), 1, int(dead and d == end), j))
            start = d
        if end > start:
            rows.append((pt["patient_id"], float(start), float(end), 0, dead, len(counted) + 1))
    return rows, reasons


@pytest.mark.parametrize("seed, window", [(1, None), (2, 21), (3, 60)])
def test_recurrent_rows_match_a_plain_loop(seed, window):
    c = _random_cohort(seed)
    res = recurrent_events(c._patients, c._events, unit="days", window_days=window, covariates=[])
    got = [tuple(r) for r in res.data[["id", "start", "stop", "event", "terminal", "enum"]].itertuples(index=False)]
    rows, reasons = _reference_rows(c, window)
    assert got == rows
    assert dict(zip(res.dropped_events["row"], res.dropped_events["reason"])) == reasons
    assert len(reasons) > 50 and sum(r[3] for r in rows) > 200


def test_events_after_death_are_not_counted_and_rows_end_at_death():
    p = pd.DataFrame({"patient_id": ["a"], "dx_date": ["2010-01-01"], "bm_date": ["2011-01-01"],
                      "death_date": ["2012-01-01"], "last_fu_date": ["2014-01-01"], "cause_of_death": ["other"]})
    e = pd.DataFrame({"patient_id": ["a", "a"], "event_date": ["2011-06-01", "2013-01-01"],
                      "event_type": ["pathologic_fracture", "pathologic_fracture"]})
    c = bm.Cohort.from_frames(p, e)
    rows = c.recurrent_events(unit="days", covariates=[])
    assert rows["stop"].tolist() == [151.0, 365.0] and rows["terminal"].tolist() == [0, 1]
    assert rows.attrs["dropped_events"].frame["reason"].tolist() == ["after death_date"]
