"""Every frame a cohort hands out can be written and read back: to_parquet, to_feather, to_csv and pickle.

pandas stores ``DataFrame.attrs`` as JSON in Parquet and Feather files; the cohort layer's attrs held objects
(the exclusion log, the events not counted) that JSON cannot hold, so ``to_parquet`` raised a bare TypeError
and ``to_feather`` dropped the attrs with a warning.  Tried on the synthetic cohort (pandas and DuckDB paths)
and on cohorts made from the two real ones (Rotterdam and GBSG, read through a site mapping).
"""
from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.cohort.exclusions import ExclusionLog
from bmstats.cohort.recurrent import DroppedEvents

ROTTERDAM_MAPPING = {
    "patients": {"columns": {"pid": "patient_id", "dx": "dx_date", "meno": "menopausal", "grade": "grade",
                             "nodes": "nodes_positive", "relapse": "bm_date", "fu": "last_fu_date",
                             "died": "death_date", "er_call": "er", "pr_call": "pr"},
                 "values": {"meno": {0: "pre", 1: "post"}}},
}


def _real_cohort(tmp_path, name: str) -> bm.Cohort:
    """A cohort in the canonical schema from a real data set (dates from the surgery year and the follow-up
    days; a relapse stands in for the metastasis date so that every derivation has rows), read from CSV
    through a mapping as a site would."""
    if name == "rotterdam":
        d = bm.datasets.load_rotterdam()
        dx = pd.to_datetime(d["year"].astype(str) + "-07-01")
        relapse_days, fu_days, died = d["rtime"].where(d["recur"] == 1), d["dtime"], d["death"] == 1
    else:
        d = bm.datasets.load_gbsg()
        dx = pd.Timestamp("1985-07-01") + pd.to_timedelta(d["pid"] % 1500, unit="D")
        relapse_days, fu_days, died = d["rfstime"].where(d["status"] == 1) - 1, d["rfstime"] + 30, d["status"] == 1
    iso = lambda s: s.dt.strftime("%Y-%m-%d")  # noqa: E731
    site = pd.DataFrame({
        "pid": "R" + d["pid"].astype(str), "dx": iso(dx), "age": d["age"], "meno": d["meno"], "grade": d["grade"],
        "nodes": d["nodes"], "er_call": np.where(d["er"] >= 10, "positive", "negative"),
        "pr_call": np.where(d["pgr"] >= 10, "positive", "negative"),
        "relapse": iso(dx + pd.to_timedelta(relapse_days, unit="D")), "fu": iso(dx + pd.to_timedelta(fu_days, unit="D")),
        "died": iso((dx + pd.to_timedelta(fu_days, unit="D")).where(died)),
    })
    site.to_csv(tmp_path / f"{name}.csv", index=False)
    return bm.read_cohort(tmp_path / f"{name}.csv", mapping=ROTTERDAM_MAPPING)


def _frames(cohort: bm.Cohort) -> dict:
    def pandas(frame):
        return frame.to_pandas() if hasattr(frame, "to_pandas") else frame

    return {
        "patients": cohort.patients, "events": cohort.events,
        "endpoint": pandas(cohort.endpoint("bone_metastasis", competing=["death"], horizon=np.int64(10))),
        "endpoint_with_log": pandas(cohort.endpoint_with_log("death", origin="bone_metastasis").data),
        "recurrent": pandas(cohort.recurrent_events(window_days=np.int64(21), covariates=["age"])),
        "time_varying": pandas(cohort.endpoint("death", origin="bone_metastasis",
                                               time_varying={"sre": "skeletal_event"})),
        "multistate": pandas(cohort.multistate()),
    }


@pytest.fixture(scope="module", params=["synthetic", "synthetic-duckdb", "rotterdam", "gbsg"])
def frames(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "synthetic":
        cohort = bm.datasets.load_bm_cohort()
    elif request.param == "synthetic-duckdb":
        files = bm.datasets.load_bm_cohort().to_files(folder)
        cohort = bm.read_cohort(files["patients"], files["skeletal_events"], engine="duckdb")
    else:
        cohort = _real_cohort(folder, request.param)
    return _frames(cohort), folder


def _same_attrs(read: dict, original: dict) -> None:
    """Attrs read back from a file (JSON) give the objects again."""
    assert set(read) == set(original)
    for key, value in original.items():
        if isinstance(value, ExclusionLog):
            back = ExclusionLog.from_dict(read[key])
            assert back == value and back.steps == value.steps and back.n_final == value.n_final
        elif isinstance(value, DroppedEvents):
            pd.testing.assert_frame_equal(DroppedEvents.from_records(read[key]).frame, value.frame, check_dtype=False)
        else:
            assert read[key] == json.loads(json.dumps(value))


def test_attrs_are_json(frames):
    for name, frame in frames[0].items():
        json.dumps(frame.attrs)  # raises TypeError on an object JSON cannot hold
        if name not in ("patients", "events"):
            assert isinstance(frame.attrs["exclusions"], ExclusionLog), name


@pytest.mark.parametrize("kind", ["parquet", "feather"])
def test_parquet_and_feather_round_trip(frames, kind):
    frames, folder = frames
    for name, frame in frames.items():
        path = folder / f"{name}.{kind}"
        with warnings.catch_warnings(action="error"):  # pandas warns when it drops attrs it cannot write
            getattr(frame, f"to_{kind}")(path)
        back = getattr(pd, f"read_{kind}")(path)
        pd.testing.assert_frame_equal(back, frame, check_categorical=False)
        _same_attrs(back.attrs, frame.attrs)


def test_pickle_round_trip(frames):
    frames, folder = frames
    for name, frame in frames.items():
        back = pickle.loads(pickle.dumps(frame))
        pd.testing.assert_frame_equal(back, frame)
        for key, value in frame.attrs.items():
            assert type(back.attrs[key]) is type(value) and back.attrs[key] == value, (name, key)
        if "dropped_events" in frame.attrs:
            pd.testing.assert_frame_equal(back.attrs["dropped_events"].frame, frame.attrs["dropped_events"].frame)


def test_csv_round_trip(frames):
    frames, folder = frames
    for name, frame in frames.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path)
        back = pd.read_csv(path, index_col=0)
        assert list(back.columns) == list(map(str, frame.columns)) and len(back) == len(frame), name
        numbers = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c])]
        np.testing.assert_allclose(back[numbers].to_numpy(float), frame[numbers].to_numpy(float), rtol=1e-15)


def test_the_log_and_dropped_events_stay_read_only():
    rows = bm.datasets.load_bm_cohort().recurrent_events(window_days=21)
    log, dropped = rows.attrs["exclusions"], rows.attrs["dropped_events"]
    with pytest.raises(TypeError, match="read-only"):
        log["n_start"] = 0
    with pytest.raises(AttributeError, match="read-only"):
        log.title = "x"
    with pytest.raises(TypeError, match="read-only"):
        dropped.append({})
    assert len(dropped) == len(dropped.frame) > 0
    assert rows.copy().attrs["exclusions"] is log  # pandas deep-copies attrs: the immutable log is shared


def test_a_dict_that_is_not_a_log_is_the_packages_error():
    with pytest.raises(InputError, match="exclusion log"):
        ExclusionLog.from_dict({"title": "x"})


def test_frames_made_from_cohort_rows_write_too(tmp_path):
    """bm.event_counts of the recurrent rows keeps their attrs and adds the rows dropped (a Dropped): the
    frame writes to Parquet and the drop count survives (Dropped is a mapping of its JSON form)."""
    rows = bm.datasets.load_bm_cohort().recurrent_events(window_days=21, covariates=["age"])
    rows.loc[rows.index[:3], "stop"] = np.nan
    counts = bm.event_counts(rows, "id", "start", "stop", "event", terminal="terminal", covariates=["age"],
                             dropna=True)
    assert counts.attrs["dropped"].n == 3
    with warnings.catch_warnings(action="error"):
        counts.to_parquet(tmp_path / "counts.parquet")
    back = pd.read_parquet(tmp_path / "counts.parquet")
    pd.testing.assert_frame_equal(back, counts, check_categorical=False)
    assert back.attrs["dropped"] == {"n": 3, "rows": [0, 1, 2], "by_column": {"stop": 3}}
    assert ExclusionLog.from_dict(back.attrs["exclusions"]) == rows.attrs["exclusions"]
    assert pickle.loads(pickle.dumps(counts.attrs["dropped"])).rows == (0, 1, 2)
