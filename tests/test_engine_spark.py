"""The same calls on a Spark DataFrame (local[2]) give the pandas path's answers.

A real Spark session (Java from Debian's openjdk-17-jre-headless, loopback only, UI off), never a mock.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("bmstats-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 1500
    df = pd.DataFrame({"age": rng.normal(60, 10, n).round(1), "grade": rng.choice(["1", "2", "3"], n),
                       "site": rng.choice(["north", "south"], n), "hospital": rng.integers(0, 60, n)})
    lp = 0.03 * (df.age - 60) + 0.5 * (df.grade == "3")
    t1 = rng.exponential(np.exp(-lp)) * 8
    t2 = rng.exponential(1, n) * 12
    c = rng.uniform(0, 10, n)
    df["time"] = np.ceil(np.minimum(np.minimum(t1, t2), c) * 12) / 12
    df["status"] = np.where(t1 <= np.minimum(t2, c), 1, np.where(t2 <= c, 2, 0))
    df["event"] = (df.status == 1).astype(int)
    df["entry"] = np.floor(df.time * rng.uniform(0, 0.4, n) * 12) / 12
    return df


def test_spark_equals_pandas(spark, frame):
    sdf = spark.createDataFrame(frame)
    km_ref = bm.kaplan_meier(frame, "time", "event", by="grade", entry="entry").table
    km = bm.kaplan_meier(sdf, "time", "event", by="grade", entry="entry").table
    np.testing.assert_allclose(km["estimate"], km_ref["estimate"], rtol=1e-10)
    np.testing.assert_allclose(km["std_err"], km_ref["std_err"], rtol=1e-10)

    cif_ref = bm.cumulative_incidence(frame, "time", "status", by="grade")
    cif = bm.cumulative_incidence(sdf, "time", "status", by="grade")
    np.testing.assert_allclose(cif.table["estimate"], cif_ref.table["estimate"], rtol=1e-10)
    np.testing.assert_allclose(cif.gray_test["statistic"], cif_ref.gray_test["statistic"], rtol=1e-9)

    formula = "age + C(grade)"
    cox_ref = bm.cox(frame, "time", "event", formula, strata="site", entry="entry", cluster="hospital")
    cox = bm.cox(sdf, "time", "event", formula, strata="site", entry="entry", cluster="hospital")
    np.testing.assert_allclose(cox.coef, cox_ref.coef, rtol=1e-8)
    np.testing.assert_allclose(cox.summary["std_err"], cox_ref.summary["std_err"], rtol=1e-8)

    fg_ref = bm.fine_gray(frame, "time", "status", formula, cause=1, cengroup="site")
    fg = bm.fine_gray(sdf, "time", "status", formula, cause=1, cengroup="site")
    np.testing.assert_allclose(fg.coef, fg_ref.coef, rtol=1e-8)
    np.testing.assert_allclose(fg.summary["std_err"], fg_ref.summary["std_err"], rtol=1e-8)


def test_spark_errors_name_the_column(spark, frame):
    sdf = spark.createDataFrame(frame.assign(time=frame.time.where(frame.index != 4, -2.0)))
    with pytest.raises(InputError, match="'time'.*non-negative"):
        bm.kaplan_meier(sdf, "time", "event")


def test_spark_mean_cumulative_function_equals_pandas(spark):
    from test_engine_recurrent import recurrent_rows

    rows = recurrent_rows(seed=9, n=150)
    sdf = spark.createDataFrame(rows)
    for options in ({"terminal": "terminal", "by": "group"}, {"method": "nelson-aalen"}):
        ref = bm.mean_cumulative_function(rows, "id", "start", "stop", "event", **options).table
        got = bm.mean_cumulative_function(sdf, "id", "start", "stop", "event", **options).table
        assert list(got["group"]) == list(ref["group"])
        for col in ("time", "n_risk", "estimate", "std_err"):
            np.testing.assert_allclose(got[col], ref[col], rtol=1e-10)
    bad = rows.copy()
    bad.loc[4, "stop"] = bad.loc[4, "start"]
    with pytest.raises(InputError, match=r"'stop': stop must be greater than start.*id"):
        bm.mean_cumulative_function(spark.createDataFrame(bad), "id", "start", "stop", "event")


def test_spark_rate_regression_equals_pandas(spark):
    from test_engine_recurrent import subject_counts

    counts = subject_counts(seed=8, n=800)
    sdf = spark.createDataFrame(counts)
    for family in ("poisson", "negative_binomial"):
        ref = bm.rate_regression(counts, "events", "years", "age + C(grade) + her2", family=family)
        got = bm.rate_regression(sdf, "events", "years", "age + C(grade) + her2", family=family)
        for col in ("coef", "std_err", "lower", "upper"):
            np.testing.assert_allclose(got.summary[col], ref.summary[col], rtol=1e-10)
        np.testing.assert_allclose([got.deviance, got.loglik], [ref.deviance, ref.loglik], rtol=1e-10)
    bad = counts.assign(years=counts.years.where(counts.index != 3, -1.0))
    with pytest.raises(InputError, match=r"'years': person-time must be positive \(negative values found\); id 3"):
        bm.rate_regression(spark.createDataFrame(bad), "events", "years", "age", id="id")


def test_event_counts_on_spark_equal_pandas(spark):
    rows = bm.simulate_cohort(400, 21).recurrent_events(window_days=21)
    rows = rows[["id", "start", "stop", "event", "terminal", "age"]].copy()
    rows.attrs = {}
    expected = bm.event_counts(rows, "id", "start", "stop", "event", terminal="terminal").sort_values("id")
    got = bm.event_counts(spark.createDataFrame(rows), "id", "start", "stop", "event", terminal="terminal")
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_exact=False, rtol=1e-12,
                                  check_dtype=False)
    rates = bm.incidence_rate(spark.createDataFrame(got), "person_time", count="n_events", per=1).table
    assert rates["n_event"].iloc[0] == expected["n_events"].sum()
    np.testing.assert_allclose(rates["person_time"], expected["person_time"].sum(), rtol=1e-12)
    bad = rows.assign(age=np.where(rows.index == 1, -1.0, rows["age"]))
    with pytest.raises(InputError, match="column 'age': changes between the rows"):
        bm.event_counts(spark.createDataFrame(bad), "id", "start", "stop", "event", terminal="terminal")
