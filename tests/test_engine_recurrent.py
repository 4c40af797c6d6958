"""Mean cumulative function and rate regression on the engine path give the pandas path's answers.

Seeded recurrent-event rows with tied times, late entry, gaps between rows, deaths and groups; per-subject
counts with person-time and categorical covariates.  Each estimator runs on the pandas frame and on every
engine source (Parquet path, CSV path, glob, DuckDB relation, polars), and the numbers must agree to rounding;
hostile inputs give the pandas path's errors (column, rule and subject named).
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import bmstats as bm
from bmstats._checks import InputError

RTOL = 1e-10


def recurrent_rows(seed: int = 3, n: int = 400) -> pd.DataFrame:
    """Counting-process rows: integer days (ties), a late entry for some subjects, gaps, death ends rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        group = "AB"[i % 2]
        arm = ["x", "y", "z"][rng.integers(0, 3)]
        follow = float(rng.integers(30, 400))
        t = float(rng.integers(1, 60)) if rng.random() < 0.25 else 0.0  # late entry
        dies = rng.random() < 0.3
        rate = 0.01 if group == "A" else 0.016
        while t < follow:
            gap = float(rng.integers(3, 15)) if rng.random() < 0.1 else 0.0
            t0 = t + gap
            if t0 >= follow:
                break
            step = float(max(1, round(rng.exponential(1 / rate))))
            t1 = min(t0 + step, follow)
            ev = int(t1 < follow)
            term = int(dies and t1 == follow)
            rows.append((i + 1000, group, arm, t0, t1, ev, term))
            t = t1
    return pd.DataFrame(rows, columns=["id", "group", "arm", "start", "stop", "event", "terminal"])


def subject_counts(seed: int = 5, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"id": np.arange(n), "age": rng.normal(62, 9, n).round(0),
                       "grade": rng.choice(["1", "2", "3"], n), "her2": rng.integers(0, 2, n),
                       "site": rng.choice(["north", "south"], n),
                       "years": rng.integers(1, 40, n) / 4})  # quarters of a year: many tied person-times
    mu = df.years * np.exp(-1.2 + 0.02 * (df.age - 62) + 0.4 * (df.grade == "3") - 0.3 * df.her2)
    df["events"] = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    return df


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return recurrent_rows()


def _sources(frame: pd.DataFrame, folder, kind: str):
    path = folder / "rows.parquet"
    frame.to_parquet(path)
    if kind == "parquet":
        return str(path), frame
    if kind == "csv":
        csv = folder / "rows.csv"
        frame.to_csv(csv, index=False)
        return str(csv), pd.read_csv(csv)
    if kind == "glob":
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(folder / "part-0.parquet")
        frame.iloc[half:].to_parquet(folder / "part-1.parquet")
        return str(folder / "part-*.parquet"), frame
    if kind == "relation":
        return duckdb.connect().read_parquet(str(path)), frame
    return pl.from_pandas(frame), frame


KINDS = ["parquet", "csv", "glob", "relation", "polars"]


@pytest.fixture(scope="module", params=KINDS)
def recurrent_source(request, rows, tmp_path_factory):
    return _sources(rows, tmp_path_factory.mktemp("mcf"), request.param)


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)


def test_recurrent_rows_have_what_the_tests_need(rows):
    first = rows.groupby("id")["start"].min()
    assert (first > 0).any()  # late entry
    nxt = rows.groupby("id")["start"].shift(-1)
    assert (nxt > rows["stop"]).any()  # gaps
    assert rows.loc[rows.event == 1, "stop"].duplicated().any()  # tied event times
    assert rows["terminal"].sum() > 20


@pytest.mark.parametrize("options", [
    {"terminal": "terminal"},
    {"terminal": "terminal", "by": "group"},
    {"terminal": "terminal", "by": "arm", "method": "nelson-aalen"},
    {"by": "group", "method": "nelson-aalen", "conf_type": "plain", "conf_level": 0.9},
    {},
])
def test_mean_cumulative_function(recurrent_source, options):
    source, frame = recurrent_source
    ref = bm.mean_cumulative_function(frame, "id", "start", "stop", "event", **options)
    got = bm.mean_cumulative_function(source, "id", "start", "stop", "event", **options)
    assert list(got.table["group"].astype(str)) == list(ref.table["group"].astype(str))
    for col in ("time", "n_risk", "n_event", "n_terminal", "estimate", "std_err", "lower", "upper"):
        close(got.table[col], ref.table[col])
    for col in ("time", "n_risk", "n_enter", "n_exit", "n_event", "n_terminal"):
        close(got.counts[col], ref.counts[col])
    assert got.n == ref.n and got.n_events == ref.n_events
    assert {str(k): v for k, v in got.n_subjects.items()} == {str(k): v for k, v in ref.n_subjects.items()}
    assert got.max_time == pytest.approx(ref.max_time)
    if "by" in options:
        close(got.compare().statistic, ref.compare().statistic)


def _parquet(frame: pd.DataFrame, tmp_path, name="bad.parquet") -> str:
    path = tmp_path / name
    frame.to_parquet(path)
    return str(path)


def both_raise(frame, tmp_path, match, **kw):
    """The pandas path and the engine path refuse ``frame`` with an error matching ``match``."""
    args = ("id", "start", "stop", "event")
    with pytest.raises(InputError, match=match):
        bm.mean_cumulative_function(frame, *args, **kw)
    with pytest.raises(InputError, match=match):
        bm.mean_cumulative_function(_parquet(frame, tmp_path), *args, **kw)


def test_hostile_recurrent_rows_get_the_pandas_errors(rows, tmp_path):
    bad = rows.copy()
    bad.loc[4, "stop"] = bad.loc[4, "start"]
    both_raise(bad, tmp_path, rf"'stop': stop must be greater than start.*id {bad.loc[4, 'id']}")
    bad = rows.copy()
    bad.loc[7, "start"] = -1.0
    both_raise(bad, tmp_path, r"'start': times must be finite and non-negative.*")
    bad = rows.copy()
    bad.loc[[2, 9], "start"] = np.nan
    both_raise(bad, tmp_path, r"'start'.*missing values")
    got = bm.mean_cumulative_function(_parquet(bad, tmp_path, "na.parquet"), "id", "start", "stop", "event",
                                      dropna=True)
    ref = bm.mean_cumulative_function(bad, "id", "start", "stop", "event", dropna=True)
    assert got.dropped.n == ref.dropped.n == 2
    close(got.table["std_err"], ref.table["std_err"])
    bad = rows.copy()
    bad.loc[3, "event"] = 2
    both_raise(bad, tmp_path, r"'event': status codes must be integers 0 or 1")
    bad = rows.copy()
    bad.loc[3, "terminal"] = 3
    both_raise(bad, tmp_path, r"'terminal': status codes must be integers 0 or 1", terminal="terminal")
    two = rows[rows.id.duplicated(keep=False)].copy()
    sid = two.id.iloc[0]
    first = two.index[two.id == sid][0]
    two.loc[first, "terminal"] = 1  # a death before the subject's last row
    both_raise(two, tmp_path, rf"'terminal': rows or events after the subject's terminal event; id {sid}",
               terminal="terminal")
    two = rows[rows.id.duplicated(keep=False)].copy()
    second = two.index[two.id == sid][1]
    two.loc[second, "start"] = two.loc[first, "stop"] - 1  # overlapping intervals
    both_raise(two, tmp_path, rf"'start': a subject's \(start, stop\] intervals overlap; id {sid}")
    two = rows[rows.id.duplicated(keep=False)].copy()
    two.loc[second, "group"] = "A" if two.loc[first, "group"] == "B" else "B"
    both_raise(two, tmp_path, rf"'group': a subject's rows must all be in the same group.*id {sid}", by="group")
    both_raise(rows, tmp_path, r"'evnt'.*not found", terminal="evnt")
    with pytest.raises(InputError, match=r"'subject'.*not found"):
        bm.mean_cumulative_function(_parquet(rows, tmp_path), "subject", "start", "stop", "event")


def test_mixed_group_types_are_refused_on_the_engine_too():
    con = duckdb.connect()
    rel = con.sql("SELECT i AS id, 0.0 AS start, (i % 7 + 1)::DOUBLE AS stop, (i % 2) AS event, "
                  "CASE WHEN i % 2 = 0 THEN 1.0 ELSE 2.5 END AS g FROM range(50) t(i)")
    ref = bm.mean_cumulative_function(rel.df(), "id", "start", "stop", "event", by="g")
    got = bm.mean_cumulative_function(rel, "id", "start", "stop", "event", by="g")
    close(got.table["std_err"], ref.table["std_err"])
    assert list(got.table["group"]) == list(ref.table["group"])


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    return subject_counts()


@pytest.fixture(scope="module", params=["parquet", "relation", "polars"])
def counts_source(request, counts, tmp_path_factory):
    return _sources(counts, tmp_path_factory.mktemp("rates"), request.param)


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_rate_regression(counts_source, family):
    source, frame = counts_source
    formula = "age + C(grade) + her2 + C(site):her2"
    ref = bm.rate_regression(frame, "events", "years", formula, family=family)
    got = bm.rate_regression(source, "events", "years", formula, family=family)
    assert list(got.summary.index) == list(ref.summary.index)
    for col in ("coef", "std_err", "rate_ratio", "lower", "upper", "statistic"):
        close(got.summary[col], ref.summary[col])
    close(got.summary["p_value"], ref.summary["p_value"], 1e-8)
    close(got.cov, ref.cov)
    for name in ("loglik", "aic", "deviance", "null_deviance", "person_time"):
        close(getattr(got, name), getattr(ref, name))
    assert (got.n, got.n_events, got.df_residual) == (ref.n, ref.n_events, ref.df_residual)
    assert got.converged and ref.converged
    if family == "negative_binomial":
        close(got.theta, ref.theta)
        close(got.theta_se, ref.theta_se)
    assert got.reference_levels == ref.reference_levels
    assert "fitted on an engine" in repr(got)


def test_rate_regression_on_the_csv_and_glob_sources(counts, tmp_path):
    for kind in ("csv", "glob"):
        (tmp_path / kind).mkdir()
        source, frame = _sources(counts, tmp_path / kind, kind)
        ref = bm.rate_regression(frame, "events", "years", "age + C(grade)")
        got = bm.rate_regression(source, "events", "years", "age + C(grade)")
        close(got.summary["coef"], ref.summary["coef"])
        close(got.summary["std_err"], ref.summary["std_err"])


def test_hostile_counts_get_the_pandas_errors(counts, tmp_path):
    def both(frame, match, **kw):
        with pytest.raises(InputError, match=match):
            bm.rate_regression(frame, "events", "years", "age + C(grade)", **kw)
        with pytest.raises(InputError, match=match):
            bm.rate_regression(_parquet(frame, tmp_path), "events", "years", "age + C(grade)", **kw)

    bad = counts.copy()
    bad.loc[7, "years"] = -0.5
    both(bad, r"column 'years': person-time must be positive \(negative values found\); id 7", id="id")
    bad.loc[7, "years"] = 0.0
    both(bad, r"column 'years': person-time must be positive;")
    bad = counts.copy()
    bad["events"] = bad["events"].astype(float)
    bad.loc[3, "events"] = 1.5
    both(bad, r"column 'events': event counts must be non-negative integers")
    bad.loc[3, "events"] = -1.0
    both(bad, r"column 'events': event counts must be non-negative integers")
    bad = counts.copy()
    bad.loc[[4, 8], "age"] = np.nan
    both(bad, r"'age'.*missing values")
    got = bm.rate_regression(_parquet(bad, tmp_path, "na.parquet"), "events", "years", "age", dropna=True)
    ref = bm.rate_regression(bad, "events", "years", "age", dropna=True)
    assert got.dropped.n == ref.dropped.n == 2
    close(got.summary["coef"], ref.summary["coef"])
    with pytest.raises(InputError, match=r"'nodes'.*not found"):
        bm.rate_regression(_parquet(counts, tmp_path), "events", "years", "age + nodes")
    with pytest.raises(InputError, match=r"'patient'.*not found"):
        bm.rate_regression(_parquet(counts, tmp_path), "events", "years", "age", id="patient")
    with pytest.raises(InputError, match=r"'pyears'.*not found"):
        bm.rate_regression(_parquet(counts, tmp_path), "events", "pyears", "age")
    both(counts.assign(events=0), r"column 'events': no events")
    with pytest.raises(InputError, match=r"family must be one of"):
        bm.rate_regression(_parquet(counts, tmp_path), "events", "years", "age", family="binomial")
    with pytest.raises(InputError, match=r"cr\(age, df=3\).*engine path"):
        bm.rate_regression(_parquet(counts, tmp_path), "events", "years", "cr(age, df=3)")


def test_nan_covariate_and_collinear_design_on_the_engine():
    con = duckdb.connect()
    rows = ("SELECT (i % 5)::INT AS events, (i % 7 + 1)::DOUBLE AS years, "
            "CASE WHEN i = 5 THEN 'nan'::DOUBLE ELSE i % 50 + 30.0 END AS age FROM range(400) t(i)")
    with pytest.raises(InputError, match="'age': covariate values must be finite"):
        bm.rate_regression(con.sql(rows), "events", "years", "age")
    with pytest.raises(InputError, match="rank deficient"):
        bm.rate_regression(con.sql(f"SELECT *, 2.0 * age - 3.0 AS age2 FROM ({rows.replace('nan', '1')})"),
                           "events", "years", "age + age2")
