"""bm.event_counts on a Spark DataFrame (local[2]) gives the pandas path's per-patient table and errors."""
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
