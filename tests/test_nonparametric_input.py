"""Bad input to the nonparametric estimators: a clear ValueError naming the column and the rows."""
import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError


@pytest.fixture
def df():
    return pd.DataFrame({
        "time": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "event": [1, 0, 1, 1, 0, 1],
        "status": [1, 0, 2, 1, 0, 2],
        "group": ["a", "a", "a", "b", "b", "b"],
        "entry": [0.0, 0.5, 0.0, 1.0, 0.0, 0.0],
    })


def all_estimators(frame, **kw):
    """Call every estimator on ``frame`` (each should raise for bad input)."""
    return [
        lambda: bm.kaplan_meier(frame, "time", "event", by="group", **kw),
        lambda: bm.logrank_test(frame, "time", "event", by="group", **kw),
        lambda: bm.cumulative_incidence(frame, "time", "status", by="group", **kw),
        lambda: bm.incidence_rate(frame, "time", "event", by="group", **kw),
    ]


def test_negative_time(df):
    df.loc[[2, 4], "time"] = [-1.0, -2.0]
    for call in all_estimators(df):
        with pytest.raises(InputError, match=r"column 'time'.*non-negative.*rows 2, 4"):
            call()


def test_missing_time_is_an_error_or_dropped_and_counted(df):
    df.loc[3, "time"] = np.nan
    for call in all_estimators(df):
        with pytest.raises(InputError, match=r"column 'time': missing values.*row 3"):
            call()
    km = bm.kaplan_meier(df, "time", "event", by="group", dropna=True)
    assert km.dropped.n == 1 and km.dropped.rows == (3,)
    assert km.n == 5
    assert "1 row dropped for missing values" in repr(km)
    assert bm.cumulative_incidence(df, "time", "status", by="group", dropna=True).dropped.n == 1


def test_non_numeric_time(df):
    df["time"] = df["time"].astype(object)
    df.loc[1, "time"] = "two"
    for call in all_estimators(df):
        with pytest.raises(InputError, match=r"column 'time': must be numeric; row 1"):
            call()


def test_status_outside_codes(df):
    df.loc[0, "event"] = 2
    with pytest.raises(InputError, match=r"column 'event'.*0 or 1.*row 0"):
        bm.kaplan_meier(df, "time", "event")
    with pytest.raises(InputError, match=r"column 'event'.*row 0"):
        bm.logrank_test(df, "time", "event", by="group")
    df["status"] = df["status"].astype(float)
    df.loc[5, "status"] = -1
    df.loc[1, "status"] = 1.5
    with pytest.raises(InputError, match=r"column 'status'.*integers.*rows 1, 5"):
        bm.cumulative_incidence(df, "time", "status")


def test_one_group_for_a_test(df):
    df["group"] = "a"
    with pytest.raises(InputError, match=r"column 'group'.*at least two groups"):
        bm.logrank_test(df, "time", "event", by="group")
    with pytest.raises(InputError, match=r"column 'group'.*at least two groups"):
        bm.cumulative_incidence(df, "time", "status", by="group")
    with pytest.raises(InputError, match=r"column 'group'.*at least two groups"):
        bm.rate_ratio(df, "time", "event", by="group")


def test_empty_group(df):
    df["group"] = pd.Categorical(df["group"], categories=["a", "b", "c"])
    for call in all_estimators(df):
        with pytest.raises(InputError, match=r"column 'group': group\(s\) c have no rows"):
            call()


def test_all_censored(df):
    df["event"] = 0
    df["status"] = 0
    for call in all_estimators(df)[:3]:
        with pytest.raises(InputError, match=r"all rows are censored"):
            call()


def test_entry_after_exit(df):
    df.loc[4, "entry"] = 7.0
    with pytest.raises(InputError, match=r"column 'entry': entry time must be before.*row 4"):
        bm.kaplan_meier(df, "time", "event", entry="entry")


def test_missing_column_and_bad_options(df):
    with pytest.raises(InputError, match="not found"):
        bm.kaplan_meier(df, "time", "dead")
    with pytest.raises(InputError, match="conf_type"):
        bm.kaplan_meier(df, "time", "event", conf_type="arcsin")
    with pytest.raises(InputError, match="DataFrame"):
        bm.logrank_test({"time": [1]}, "time", "event", by="group")
