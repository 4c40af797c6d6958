"""Endpoints, time-varying rows and recurrent-event rows built as DuckDB queries equal the pandas derivations:
the same rows (sorted by id), the same exclusion logs and events not counted, the same attrs, the same
messages for bad input; and the estimators give the same numbers from the rows left in the engine."""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats._relation import EngineFrame
from bmstats.cohort.endpoints import endpoint
from bmstats.cohort.multistate import multistate
from bmstats.cohort.recurrent import recurrent_events
from bmstats.cohort.sql_endpoint import endpoint_query
from bmstats.cohort.sql_multistate import multistate_query
from bmstats.cohort.sql_recurrent import recurrent_events_query
from tests.test_cohort_endpoints import _random_cohort as random_endpoint_cohort
from tests.test_cohort_recurrent import _random_cohort as random_recurrent_cohort

DATA = Path(__file__).resolve().parent / "data"


def in_duckdb(cohort: bm.Cohort, con=None):
    """The cohort's two tables as relations of one connection, the row number as a column ``row``."""
    con = con or duckdb.connect()
    return (con.from_df(cohort.patients.rename_axis("row").reset_index()),
            con.from_df(cohort.events.rename_axis("row").reset_index()))


def assert_same_rows(expected: pd.DataFrame, got: EngineFrame, keys: list[str]) -> None:
    assert isinstance(got, EngineFrame)
    assert isinstance(got.relation, duckdb.DuckDBPyRelation)  # still a query, not rows in pandas
    frame = got.to_pandas()
    assert list(frame.columns) == list(expected.columns)
    a = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    b = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    assert len(a) == len(b)
    for col in a.columns:  # values equal exactly; dtypes differ only by DuckDB's round trip (ENUM, BIGINT)
        x = a[col].astype(object).where(a[col].notna(), None).tolist()
        y = b[col].astype(object).where(b[col].notna(), None).tolist()
        assert x == y, col
    for col in ("time", "start", "stop"):
        if col in a:
            assert np.array_equal(a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float))
    for col in ("status", "event", "terminal", "enum"):
        if col in a:
            assert b[col].dtype == np.int64


def assert_same_log(a, b) -> None:
    assert (a.title, a.n_start, a.n_final) == (b.title, b.n_start, b.n_final)
    assert a.steps == b.steps  # reasons in order and the excluded patient ids in file order


COHORTS = {
    "simulated": lambda: bm.simulate_cohort(1200, seed=7),
    "bundled": lambda: bm.datasets.load_bm_cohort(),
    "fixture": lambda: bm.read_cohort(DATA / "valid_patients.csv", DATA / "valid_skeletal_events.csv"),
    "random_dates": lambda: random_endpoint_cohort(11, n=600),
    "random_events": lambda: random_recurrent_cohort(5, n=300),
}
_made: dict = {}


def cohort_and_tables(name: str):
    if name not in _made:
        c = COHORTS[name]()
        _made[name] = (c, *in_duckdb(c))
    return _made[name]


ENDPOINTS = [
    dict(event="bone_metastasis", competing=["death"]),
    dict(event="death", origin="bone_metastasis", unit="months", horizon=36.0),
    dict(event="skeletal_event", competing=("visceral_metastasis", "death"), origin="bone_metastasis", unit="days"),
    dict(event="breast_cancer_death", competing="death", origin="visceral_metastasis", covariates=["age", "subtype"]),
    dict(event="visceral_metastasis", origin="skeletal_event", unit="days", horizon=700),
    dict(event="death", time_varying={"bm": "bm_date", "bta": "bta_start_date", "sre": "skeletal_event"}),
    dict(event="breast_cancer_death", competing=["death"], origin="bone_metastasis", horizon=2.5,
         time_varying={"sre": "skeletal_event", "visc": "visceral_met_date"}, covariates=["age"]),
]


def _grid(options):
    """Every option on the small hostile cohorts; the first two and the last on the large ones."""
    small = [(n, kw) for n in ("fixture", "random_dates", "random_events") for kw in options]
    return small + [(n, kw) for n in ("simulated", "bundled") for kw in (options[:2] + options[-1:])]


def _id(kw):
    return "-".join(f"{k}={v}" for k, v in kw.items())[:60] or "default"


@pytest.mark.parametrize("name, kw", _grid(ENDPOINTS), ids=lambda x: x if isinstance(x, str) else _id(x))
def test_endpoint_query_equals_pandas(name, kw):
    c, pr, er = cohort_and_tables(name)
    if kw.get("time_varying") and "bta_start_date" not in c.patients.columns:
        kw = {**kw, "time_varying": {k: v for k, v in kw["time_varying"].items() if v != "bta_start_date"}}
    a = endpoint(c._patients, c._events, **kw)
    b = endpoint_query(pr, er, **kw)
    keys = ["patient_id", "start"] if kw.get("time_varying") else ["patient_id"]
    assert_same_rows(a.data, b.data, keys)
    assert_same_log(a.exclusions, b.exclusions)
    assert a.status_labels == b.status_labels
    assert b.data.attrs["endpoint"] == a.data.attrs["endpoint"]
    assert b.data.attrs["exclusions"].steps == a.exclusions.steps
    assert repr(b) == repr(a) or kw.get("time_varying")  # the same counts per status


RECURRENT = [
    dict(),
    dict(window_days=21, covariates=["age"]),
    dict(origin="diagnosis", unit="days", event_types=["pathologic_fracture", "radiation_to_bone"], window_days=60),
    dict(origin="skeletal_event", unit="months", covariates=[]),
    dict(window_days=0, event_types="radiation_to_bone"),
]


@pytest.mark.parametrize("name, kw", _grid(RECURRENT), ids=lambda x: x if isinstance(x, str) else _id(x))
def test_recurrent_events_query_equals_pandas(name, kw):
    c, pr, er = cohort_and_tables(name)
    a = recurrent_events(c._patients, c._events, **kw)
    b = recurrent_events_query(pr, er, **kw)
    assert_same_rows(a.data, b.data, ["id", "enum"])
    assert_same_log(a.exclusions, b.exclusions)
    dropped = b.dropped_events.to_pandas()
    assert dropped["row"].tolist() == a.dropped_events["row"].tolist()  # in file order
    assert_same_rows(a.dropped_events, b.dropped_events, ["row"])
    assert b.data.attrs["recurrent"] == a.data.attrs["recurrent"]
    assert repr(b) == repr(a)


MULTISTATE = [
    dict(),
    dict(states=["bone_metastasis", "visceral_metastasis", "death"], unit="days"),
    dict(origin="bone_metastasis", states=["skeletal_event", "visceral_metastasis", "breast_cancer_death"],
         covariates=["age"]),
]


@pytest.mark.parametrize("name, kw", _grid(MULTISTATE), ids=lambda x: x if isinstance(x, str) else _id(x))
def test_multistate_query_equals_pandas(name, kw):
    c, pr, er = cohort_and_tables(name)
    a = multistate(c._patients, c._events, **kw)
    b = multistate_query(pr, er, **kw)
    expected = a.data.astype({"from_state": object, "to_state": object})  # the engine's states are text
    assert_same_rows(expected, b.data, ["patient_id", "start"])
    assert_same_log(a.exclusions, b.exclusions)
    assert b.states == a.states
    assert b.data.attrs["multistate"] == a.data.attrs["multistate"]


def test_functions_needing_rows_in_memory_say_how_to_fetch_them():
    c, pr, er = cohort_and_tables("fixture")
    rows = multistate_query(pr, er).data
    with pytest.raises(InputError, match=r"got EngineFrame; these rows are still in DuckDB .* data.to_pandas\(\)"):
        bm.state_occupation(rows)
    occupied = bm.state_occupation(rows.to_pandas())
    assert occupied.table["estimate"].notna().all()


def test_random_cohorts_have_every_kind_of_exclusion_and_dropped_event():
    """The equality above is tested where it matters: every step removes somebody, every reason occurs."""
    c, pr, er = cohort_and_tables("random_dates")
    log = endpoint_query(pr, er, "visceral_metastasis", competing=["death"], origin="bone_metastasis").exclusions
    assert [len(ids) > 0 for _, ids in log.steps] == [True] * 5 + [False, True], log.table
    c, pr, er = cohort_and_tables("random_events")
    reasons = set(recurrent_events_query(pr, er, window_days=21).dropped_events.to_pandas()["reason"])
    assert {"before origin", "on the origin day (time 0)", "after last_fu_date", "after death_date",
            "same day as another event", "fewer than 21 days after the previous counted event",
            "patient not analysed"} <= reasons


@pytest.mark.parametrize("kw, match", [
    (dict(event="relapse"), "unknown event 'relapse'"),
    (dict(event="death", origin="surgery"), "unknown origin 'surgery'"),
    (dict(event="death", competing=["death"]), "must all differ"),
    (dict(event="death", unit="hours"), "unknown unit 'hours'"),
    (dict(event="death", horizon=-1), "horizon"),
    (dict(event="death", covariates=["nope"]), r"covariate\(s\) \['nope'\] not in the patients table"),
    (dict(event="death", time_varying={"bm": "age"}), "holds no dates"),
    (dict(event="death", time_varying={"age": "bm_date"}), "already a column of patients"),
    (dict(event="death", time_varying={"x": "nope"}), "is not a date column of patients"),
])
def test_bad_endpoint_options_give_the_pandas_message(kw, match):
    c, pr, er = cohort_and_tables("fixture")
    with pytest.raises(InputError, match=match) as pandas_error:
        endpoint(c._patients, c._events, **kw)
    with pytest.raises(InputError, match=match) as engine_error:
        endpoint_query(pr, er, **kw)
    if "time_varying" not in kw or "holds no dates" not in match:  # dtype names differ: float64 vs DOUBLE
        assert str(engine_error.value) == str(pandas_error.value)


@pytest.mark.parametrize("kw", [dict(origin="relapse"), dict(unit="hours"), dict(window_days=-3),
                                dict(event_types=["fracture"]), dict(covariates=["id"])])
def test_bad_recurrent_options_give_the_pandas_message(kw):
    c, pr, er = cohort_and_tables("fixture")
    with pytest.raises(InputError) as pandas_error:
        recurrent_events(c._patients, c._events, **kw)
    with pytest.raises(InputError) as engine_error:
        recurrent_events_query(pr, er, **kw)
    assert str(engine_error.value) == str(pandas_error.value)


def test_duplicate_ids_are_refused_naming_the_rows():
    p = pd.DataFrame({"patient_id": ["a", "b", "a"], "dx_date": ["2010-01-01"] * 3, "last_fu_date": ["2012-01-01"] * 3})
    c = bm.Cohort.from_frames(p)
    pr, er = in_duckdb(c)
    with pytest.raises(InputError) as pandas_error:
        endpoint(c._patients, c._events, "death")
    with pytest.raises(InputError) as engine_error:
        endpoint_query(pr, er, "death")
    assert str(engine_error.value) == str(pandas_error.value) == \
        "column 'patient_id': duplicate patient ids (run bmstats.validate first); rows 2, 4"
    with pytest.raises(InputError, match="duplicate patient ids"):
        recurrent_events_query(pr, er)


def test_origin_missing_and_events_before_origin_are_counted_not_dropped_silently():
    p = pd.DataFrame({"patient_id": ["a", "b", "c"], "dx_date": ["2010-01-01"] * 3,
                      "bm_date": ["2011-01-01", None, "2011-06-01"], "last_fu_date": ["2013-01-01"] * 3})
    e = pd.DataFrame({"patient_id": ["a", "a", "b", "c", "zz"],
                      "event_date": ["2010-06-01", "2011-02-01", "2011-03-01", "2011-06-01", "2011-03-01"],
                      "event_type": ["pathologic_fracture"] * 5})
    c = bm.Cohort.from_frames(p, e)
    pr, er = in_duckdb(c)
    ep = endpoint_query(pr, er, "skeletal_event", origin="bone_metastasis")
    assert ep.exclusions.ids("no bone metastasis date (origin missing)") == ("b",)
    assert ep.exclusions.ids("skeletal event at or before bone metastasis (prevalent at origin)") == ("a", "c")
    rec = recurrent_events_query(pr, er)
    assert rec.dropped_events.to_pandas()[["patient_id", "reason"]].values.tolist() == [
        ["a", "before origin"], ["b", "patient not analysed"], ["c", "on the origin day (time 0)"],
        ["zz", "patient not analysed"]]
    assert len(rec.dropped_events) == 4
    assert_same_rows(recurrent_events(c._patients, c._events).data, rec.data, ["id", "enum"])


def test_tables_of_two_connections_are_refused():
    c = bm.read_cohort(DATA / "valid_patients.csv", DATA / "valid_skeletal_events.csv")
    pr, _ = in_duckdb(c)
    _, er = in_duckdb(c)
    with pytest.raises(InputError, match="same DuckDB connection"):
        endpoint_query(pr, er, "death")
    with pytest.raises(InputError, match="must be a DuckDB relation"):
        endpoint_query(c.patients, er, "death")


def test_estimators_give_the_pandas_numbers_from_rows_left_in_the_engine():
    c, pr, er = cohort_and_tables("simulated")
    kw = dict(event="bone_metastasis", competing=["death"], covariates=["age", "subtype", "stage"])
    a, b = endpoint(c._patients, c._events, **kw).data, endpoint_query(pr, er, **kw).data
    ci_a = bm.cumulative_incidence(a, "time", "status", by="subtype")
    ci_b = bm.cumulative_incidence(b, "time", "status", by="subtype")
    pd.testing.assert_frame_equal(ci_b.table, ci_a.table, check_exact=False, rtol=1e-12)
    assert ci_b.table.attrs["time_label"] == "Years since diagnosis"
    km_a = bm.kaplan_meier(a.assign(dead=(a["status"] == 2).astype(int)), "time", "dead")
    km_b = bm.kaplan_meier(EngineFrame(b.relation.query("r", "SELECT *, CAST(status = 2 AS INT) AS dead FROM r"),
                                       b.attrs), "time", "dead")
    pd.testing.assert_frame_equal(km_b.table, km_a.table, check_exact=False, rtol=1e-12)
    tv = dict(event="death", time_varying={"bm": "bm_date", "sre": "skeletal_event"}, covariates=["age"])
    rows_a, rows_b = endpoint(c._patients, c._events, **tv).data, endpoint_query(pr, er, **tv).data
    cox_a = bm.cox(rows_a, "stop", "status", "age + bm + sre", entry="start")
    cox_b = bm.cox(rows_b, "stop", "status", "age + bm + sre", entry="start")
    assert np.allclose(cox_b.summary["coef"], cox_a.summary["coef"], rtol=1e-9, atol=0)
    assert np.allclose(cox_b.summary["std_err"], cox_a.summary["std_err"], rtol=1e-9, atol=0)


def test_rows_are_stored_once_in_the_engine_and_dropped_with_the_frame():
    con = duckdb.connect()
    c = bm.read_cohort(DATA / "valid_patients.csv", DATA / "valid_skeletal_events.csv")
    pr, er = in_duckdb(c, con)
    rows = endpoint_query(pr, er, "death", covariates=["age"]).data

    def temp_tables():
        return con.sql("SELECT table_name FROM duckdb_tables() WHERE temporary").df()["table_name"].tolist()

    # building the rows reads the patients' columns it uses once (a cohort's views convert at every read)
    assert len(temp_tables()) == 1
    first = bm.cox(rows, "time", "status", "age")
    stored = temp_tables()
    assert len(stored) == 2  # and the rows themselves, once, for the estimators
    again = bm.cox(rows, "time", "status", "age")
    assert temp_tables() == stored and np.array_equal(first.coef, again.coef)
    expected = bm.cox(endpoint(c._patients, c._events, "death", covariates=["age"]).data, "time", "status", "age")
    assert np.allclose(first.coef, expected.coef, rtol=1e-9, atol=0)
    del rows, first, again
    import gc

    gc.collect()
    assert temp_tables() == []


@pytest.fixture(scope="module")
def held_and_pandas(tmp_path_factory):
    """The bundled cohort read twice from the same Parquet files: held in DuckDB, and into pandas."""
    folder = tmp_path_factory.mktemp("engine_rows")
    for name, path in bm.datasets.load_bm_cohort().to_files(folder).items():
        pd.read_csv(path, dtype=str, keep_default_na=False).to_parquet(folder / f"{name}.parquet")
    files = folder / "patients.parquet", folder / "skeletal_events.parquet"
    return bm.read_cohort(*files, engine="duckdb"), bm.read_cohort(*files)


def test_engine_held_cohort_derives_in_the_engine_what_the_pandas_cohort_derives(held_and_pandas):
    held, cohort = held_and_pandas
    kw = dict(competing=["death"], origin="diagnosis", covariates=["age", "subtype"])
    rows = held.endpoint("bone_metastasis", **kw)
    assert isinstance(rows, EngineFrame) and held._p is None  # nothing fetched into pandas
    expected = cohort.endpoint("bone_metastasis", **kw)
    assert_same_rows(expected, rows, ["patient_id"])
    assert_same_log(expected.attrs["exclusions"], rows.attrs["exclusions"])
    assert rows.attrs["endpoint"] == expected.attrs["endpoint"]
    log = held.endpoint_with_log("bone_metastasis", **kw)
    assert repr(log) == repr(cohort.endpoint_with_log("bone_metastasis", **kw))

    ci = bm.cumulative_incidence(rows, "time", "status", by="subtype")
    ci_pandas = bm.cumulative_incidence(expected, "time", "status", by="subtype")
    # the same groups in the same (clinical) order: the codes reach the engine as the schema's ENUM
    pd.testing.assert_frame_equal(ci.table, ci_pandas.table, check_exact=False, rtol=1e-12)
    assert list(dict.fromkeys(ci.table["group"])) == ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC", "unknown"]
    assert ci.table.attrs["time_label"] == "Years since diagnosis"
    formula = "age + C(subtype)"
    fit = bm.cox(rows.relation.query("r", "SELECT *, CAST(status = 1 AS INT) AS bm FROM r"), "time", "bm", formula)
    fit_pandas = bm.cox(expected.assign(bm=(expected["status"] == 1).astype(int)), "time", "bm", formula)
    assert list(fit.summary.index) == list(fit_pandas.summary.index)  # the same reference level
    assert np.allclose(fit.coef, fit_pandas.coef, rtol=1e-9, atol=0)
    fg = bm.fine_gray(rows, "time", "status", formula, cause=1)
    fg_pandas = bm.fine_gray(expected, "time", "status", formula, cause=1)
    assert list(fg.summary.index) == list(fg_pandas.summary.index)
    assert np.allclose(fg.coef, fg_pandas.coef, rtol=1e-9, atol=0)

    tv = dict(time_varying={"bm": "bm_date", "sre": "skeletal_event"}, covariates=["age"])
    rows_tv, expected_tv = held.endpoint("death", **tv), cohort.endpoint("death", **tv)
    assert_same_rows(expected_tv, rows_tv, ["patient_id", "start"])
    cox = bm.cox(rows_tv, "stop", "status", "age + bm + sre", entry="start")
    cox_pandas = bm.cox(expected_tv, "stop", "status", "age + bm + sre", entry="start")
    assert np.allclose(cox.coef, cox_pandas.coef, rtol=1e-9, atol=0)
    assert np.allclose(np.diag(cox.cov), np.diag(cox_pandas.cov), rtol=1e-9, atol=0)

    rec, rec_pandas = held.recurrent_events(window_days=21), cohort.recurrent_events(window_days=21)
    assert_same_rows(rec_pandas, rec, ["id", "enum"])
    assert_same_rows(rec_pandas.attrs["dropped_events"].frame, rec.attrs["dropped_events"], ["row"])
    mcf = bm.mean_cumulative_function(rec, "id", "start", "stop", "event", terminal="terminal")
    mcf_pandas = bm.mean_cumulative_function(rec_pandas, "id", "start", "stop", "event", terminal="terminal")
    pd.testing.assert_frame_equal(mcf.table, mcf_pandas.table, check_exact=False, rtol=1e-10)
    ms, ms_pandas = held.multistate(), cohort.multistate()
    assert_same_rows(ms_pandas.astype({"from_state": object, "to_state": object}), ms, ["patient_id", "start"])
    assert held._p is None and held._e is None


def test_engine_held_cohort_hostile_options_give_the_pandas_messages(held_and_pandas):
    held, cohort = held_and_pandas
    for call in (lambda c: c.endpoint("relapse"), lambda c: c.endpoint("death", origin="death"),
                 lambda c: c.recurrent_events(event_types=["fracture"]), lambda c: c.multistate(states=["death"])):
        with pytest.raises(InputError) as engine_error:
            call(held)
        with pytest.raises(InputError) as pandas_error:
            call(cohort)
        assert str(engine_error.value) == str(pandas_error.value)
