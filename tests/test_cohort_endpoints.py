"""Cohort.endpoint: times equal date differences, status counts equal the events, exclusions logged."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.cohort.endpoints import UNITS, ZERO_FOLLOW_UP

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def cohort():
    return bm.read_cohort(DATA / "valid_patients.csv", DATA / "valid_skeletal_events.csv")


DATES = {"diagnosis": "dx_date", "bone_metastasis": "bm_date", "visceral_metastasis": "visceral_met_date", "death": "death_date"}


def _dates(cohort, name) -> pd.Series:
    p = cohort.patients
    if name in DATES:
        return p[DATES[name]]
    if name == "breast_cancer_death":
        return p["death_date"].where(p["cause_of_death"] == "breast_cancer")
    first = cohort.events.groupby("patient_id")["event_date"].min()
    return p["patient_id"].map(first)


SPECS = [
    ("bone_metastasis", ("death",), "diagnosis", "years"),
    ("bone_metastasis", ("visceral_metastasis", "death"), "diagnosis", "months"),
    ("death", (), "diagnosis", "days"),
    ("death", (), "bone_metastasis", "months"),
    ("skeletal_event", ("death",), "bone_metastasis", "years"),
    ("breast_cancer_death", ("death",), "bone_metastasis", "years"),
    ("visceral_metastasis", ("death",), "bone_metastasis", "days"),
]


@pytest.mark.parametrize("event, competing, origin, unit", SPECS)
def test_times_equal_date_differences_and_status_counts(cohort, event, competing, origin, unit):
    ep = cohort.endpoint_with_log(event, competing=competing, origin=origin, unit=unit)
    d = ep.data
    p = cohort.patients.loc[d.index]
    o = _dates(cohort, origin).loc[d.index]
    # the first of event, competing events and last follow-up, in the order of precedence on ties
    candidates = [_dates(cohort, n).loc[d.index] for n in (event, *competing)]
    end = p["last_fu_date"].copy()
    status = pd.Series(0, index=d.index)
    for code in range(len(candidates), 0, -1):  # reversed so that earlier-listed events win ties
        c = candidates[code - 1]
        hit = c.notna() & (c <= end)
        end = end.where(~hit, c)
        status = status.where(~hit, code)
    expected = (end - o).dt.days.to_numpy() / UNITS[unit]
    assert np.array_equal(d["time"].to_numpy(), expected)  # exactly, not approximately
    assert np.array_equal(d["status"].to_numpy(), status.to_numpy())
    # status counts equal the events in the data among the analysed patients
    ev = candidates[0]
    n_event = int((ev.notna() & ~pd.concat([(c < ev) for c in candidates[1:]], axis=1).any(axis=1)).sum()) if competing else int(ev.notna().sum())
    assert int((d["status"] == 1).sum()) == n_event
    assert (d["time"] > 0).all()


def test_bm_from_diagnosis_counts_and_prevalent_exclusion(cohort):
    ep = cohort.endpoint_with_log("bone_metastasis", competing=["death"])
    p = cohort.patients
    synchronous = p.loc[p["bm_date"] == p["dx_date"], "patient_id"]
    assert set(ep.exclusions.ids("bone metastasis at or before diagnosis (prevalent at origin)")) == set(synchronous)
    d = ep.data
    assert (d["status"] == 1).sum() == p["bm_date"].notna().sum() - len(synchronous)
    assert (d["status"] == 2).sum() == (p["bm_date"].isna() & p["death_date"].notna()).sum()


@pytest.mark.parametrize("event, competing, origin", [(s[0], s[1], s[2]) for s in SPECS])
def test_every_patient_is_analysed_or_logged_once(cohort, event, competing, origin):
    ep = cohort.endpoint_with_log(event, competing=competing, origin=origin)
    analysed = set(ep.data["patient_id"])
    excluded = ep.exclusions.excluded
    assert not excluded["patient_id"].duplicated().any()
    assert analysed.isdisjoint(excluded["patient_id"])
    assert analysed | set(excluded["patient_id"]) == set(cohort.patients["patient_id"])
    t = ep.exclusions.table
    assert t["n_excluded"].sum() == len(excluded) and ep.exclusions.n_final == len(analysed)
    assert t["n_remaining"].iloc[-1] == len(analysed)
    assert excluded["reason"].str.len().gt(0).all()


def test_origin_bone_metastasis_excludes_patients_without_it(cohort):
    ep = cohort.endpoint_with_log("death", origin="bone_metastasis")
    no_bm = set(cohort.patients.loc[cohort.patients["bm_date"].isna(), "patient_id"])
    assert set(ep.exclusions.ids("no bone metastasis date (origin missing)")) == no_bm


def test_horizon_censors_administratively(cohort):
    full = cohort.endpoint("death", unit="years")
    cut = cohort.endpoint("death", unit="years", horizon=5)
    assert (cut["time"] <= 5).all()
    beyond = full["time"] > 5
    assert (cut.loc[beyond, "time"] == 5).all() and (cut.loc[beyond, "status"] == 0).all()
    assert cut.loc[~beyond].equals(full.loc[~beyond])
    assert beyond.any() and (~beyond).any()


def _tiny(patients: list[dict]) -> bm.Cohort:
    base = {"dx_date": "2010-01-01", "last_fu_date": "2015-01-01", "er": "positive", "pr": "positive", "her2": "negative"}
    return bm.Cohort.from_frames(pd.DataFrame([base | p for p in patients]))


def test_ties_event_of_interest_wins_then_order_given():
    c = _tiny([{"patient_id": "a", "bm_date": "2012-01-01", "visceral_met_date": "2012-01-01"},
               {"patient_id": "b", "death_date": "2013-01-01", "last_fu_date": "2013-01-01", "cause_of_death": "breast_cancer"}])
    assert c.endpoint("bone_metastasis", competing=["visceral_metastasis"])["status"].tolist() == [1, 0]
    assert c.endpoint("visceral_metastasis", competing=["bone_metastasis"])["status"].tolist() == [1, 0]
    # breast-cancer death ties with death (same date): the event of interest wins
    assert c.endpoint("breast_cancer_death", competing=["death"])["status"].tolist() == [0, 1]
    assert c.endpoint("death", competing=["breast_cancer_death"])["status"].tolist() == [0, 1]


def test_other_cause_death_is_competing_or_censored():
    c = _tiny([{"patient_id": "a", "death_date": "2013-01-01", "last_fu_date": "2013-01-01", "cause_of_death": "other"}])
    assert c.endpoint("breast_cancer_death", competing=["death"])["status"].tolist() == [2]
    d = c.endpoint("breast_cancer_death", unit="days")
    assert d["status"].tolist() == [0] and d["time"].tolist() == [1096.0]


def test_zero_follow_up_and_inconsistent_dates_are_logged():
    c = _tiny([{"patient_id": "zero", "last_fu_date": "2010-01-01"},
               {"patient_id": "late", "bm_date": "2016-01-01"},
               {"patient_id": "ok"}])
    ep = c.endpoint_with_log("bone_metastasis")
    assert ep.data["patient_id"].tolist() == ["ok"]
    assert ep.exclusions.ids(ZERO_FOLLOW_UP) == ("zero",)
    assert ep.exclusions.ids("event after last_fu_date (inconsistent dates)") == ("late",)


def test_follow_up_recorded_after_death_does_not_extend_an_endpoint():
    c = _tiny([{"patient_id": "a", "death_date": "2012-01-01", "last_fu_date": "2014-01-01", "cause_of_death": "other"},
               {"patient_id": "b", "death_date": "2012-01-01", "last_fu_date": "2014-01-01", "bm_date": "2013-01-01",
                "cause_of_death": "other"},
               {"patient_id": "c", "death_date": "2010-01-01", "last_fu_date": "2014-01-01", "cause_of_death": "other"}])
    ep = c.endpoint_with_log("bone_metastasis", unit="days")
    # a: censored at death (730 days), not at the last follow-up two years later
    assert ep.data["patient_id"].tolist() == ["a"] and ep.data["time"].tolist() == [730.0]
    assert ep.data["status"].tolist() == [0]
    assert ep.exclusions.ids("event after death_date (inconsistent dates)") == ("b",)
    assert ep.exclusions.ids(ZERO_FOLLOW_UP) == ("c",)
    d = c.endpoint("death", unit="days", covariates=[])
    assert d["status"].tolist() == [1, 1] and d["time"].tolist() == [730.0, 730.0]


def test_covariates_attrs_and_units(cohort):
    d = cohort.endpoint("death", covariates=["age", "subtype"], unit="days")
    assert list(d.columns) == ["patient_id", "time", "status", "age", "subtype"]
    assert d.attrs["exclusions"].n_final == len(d)
    assert d.attrs["endpoint"]["status_labels"] == {0: "censored", 1: "death"}
    m = cohort.endpoint("death", covariates=[], unit="months")
    assert np.array_equal(m["time"].to_numpy(), d["time"].to_numpy() / 30.4375)
    full = cohort.endpoint("death")
    assert list(full.columns[3:]) == [c for c in cohort.patients.columns if c != "patient_id"]


@pytest.mark.parametrize("kwargs", [
    {"event": "relapse"}, {"event": "death", "origin": "death"}, {"event": "death", "unit": "weeks"},
    {"event": "death", "competing": ["death"]}, {"event": "death", "horizon": -1}, {"event": "death", "covariates": ["nope"]},
    {"event": "diagnosis"},
])
def test_bad_arguments_raise_input_error(cohort, kwargs):
    with pytest.raises(InputError):
        cohort.endpoint(**kwargs)


def test_duplicate_ids_refuse_endpoint():
    c = _tiny([{"patient_id": "a"}, {"patient_id": "a"}])
    with pytest.raises(InputError, match="duplicate"):
        c.endpoint("death")


def _random_cohort(seed: int, n: int = 400) -> bm.Cohort:
    """Random dates with many ties and edge cases (events at the origin, on the last follow-up day, missing)."""
    rng = np.random.default_rng(seed)
    dx = pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    fu_days = rng.integers(0, 3000, n)
    fu = dx + pd.to_timedelta(fu_days, unit="D")

    def maybe(p_missing, lo_frac=0.0):
        frac = rng.uniform(lo_frac, 1, n)
        frac = np.where(rng.uniform(size=n) < 0.15, 0.0, frac)      # at the origin
        frac = np.where(rng.uniform(size=n) < 0.10, 1.0, frac)      # on the last follow-up day
        d = dx + pd.to_timedelta(np.floor(frac * fu_days), unit="D")
        return pd.Series(d).where(rng.uniform(size=n) >= p_missing)

    bm_ = maybe(0.4)
    vm = maybe(0.6)
    dead = rng.uniform(size=n) < 0.4
    p = pd.DataFrame({
        "patient_id": [f"R{i:04d}" for i in range(n)], "dx_date": dx, "last_fu_date": pd.Series(fu).where(rng.uniform(size=n) > 0.02),
        "bm_date": bm_, "visceral_met_date": vm,
        "death_date": pd.Series(fu).where(dead), "cause_of_death": pd.Series(rng.choice(["breast_cancer", "other", "unknown"], n)).where(dead),
    })
    # follow-up recorded after death (a data error): the death, not last_fu_date, ends follow-up
    early = dead & (rng.uniform(size=n) < 0.3)
    p.loc[early, "death_date"] = p.loc[early, "last_fu_date"] - pd.to_timedelta(rng.integers(0, 400, n)[early], unit="D")
    return bm.Cohort.from_frames(p)


def _reference(cohort, event, competing, origin, unit, horizon):
    """Plain per-patient loop following docs/cohort.md (an independent implementation of the rules)."""
    p = cohort.patients
    cols = {n: _dates(cohort, n) for n in {event, *competing, origin}}
    rows, excluded = {}, {}
    for idx in p.index:
        o, fu, death = cols[origin][idx], p.at[idx, "last_fu_date"], p.at[idx, "death_date"]
        ds = [cols[n][idx] for n in (event, *competing)]
        if pd.isna(o):
            excluded[p.at[idx, "patient_id"]] = "origin"
            continue
        if pd.isna(fu):
            excluded[p.at[idx, "patient_id"]] = "fu"
            continue
        if pd.notna(ds[0]) and ds[0] <= o:
            excluded[p.at[idx, "patient_id"]] = "prevalent"
            continue
        if any(pd.notna(d) and d <= o for d in ds[1:]):
            excluded[p.at[idx, "patient_id"]] = "competing prevalent"
            continue
        end = death if pd.notna(death) and death < fu else fu
        if end <= o:
            excluded[p.at[idx, "patient_id"]] = "zero"
            continue
        if any(pd.notna(d) and d > end for d in ds):
            excluded[p.at[idx, "patient_id"]] = "inconsistent"
            continue
        fu = end
        best, status = fu, 0
        for code, d in enumerate(ds, start=1):
            if pd.notna(d) and d < best or (pd.notna(d) and d == best and status == 0):
                best, status = d, code
        t = (best - o).days / UNITS[unit]
        if horizon is not None and t > horizon:
            t, status = float(horizon), 0
        rows[p.at[idx, "patient_id"]] = (t, status)
    return rows, excluded


@pytest.mark.parametrize("seed, event, competing, origin, unit, horizon", [
    (1, "bone_metastasis", ("visceral_metastasis", "death"), "diagnosis", "years", None),
    (2, "death", ("bone_metastasis",), "diagnosis", "months", 24.0),
    (3, "breast_cancer_death", ("death",), "bone_metastasis", "days", None),
    (4, "visceral_metastasis", ("breast_cancer_death", "death"), "bone_metastasis", "years", 3.0),
])
def test_endpoint_matches_a_plain_loop_on_random_cohorts(seed, event, competing, origin, unit, horizon):
    c = _random_cohort(seed)
    ep = c.endpoint_with_log(event, competing=competing, origin=origin, unit=unit, horizon=horizon)
    rows, excluded = _reference(c, event, competing, origin, unit, horizon)
    got = dict(zip(ep.data["patient_id"], zip(ep.data["time"], ep.data["status"])))
    assert got == rows  # exact float equality of times
    phrase = {"origin": "origin missing", "fu": "last_fu_date missing", "prevalent": "(prevalent at origin)",
              "competing prevalent": "competing event at or before", "zero": "zero or negative", "inconsistent": "inconsistent"}
    log = ep.exclusions.excluded
    assert len(log) == len(excluded)
    for pid, reason in zip(log["patient_id"], log["reason"]):
        assert phrase[excluded[pid]] in reason, (pid, reason, excluded[pid])
    assert len(rows) > 50 and len(excluded) > 10
    assert set(ep.data["status"]) >= {0, 1, 2}


@pytest.mark.parametrize("horizon", ["5", float("nan"), -1, 0, True, [5]])
def test_bad_horizon_is_one_line_naming_it(cohort, horizon):
    with pytest.raises(InputError, match=r"^horizon must be a number > 0 \(years\), got"):
        cohort.endpoint("death", horizon=horizon)
