"""The result base classes of bmstats.estimate._result: frozen, copies out, one step-function lookup."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from bmstats._checks import Dropped, InputError
from bmstats.estimate._result import CurveResult, ModelResult, TestResult, step_at


@dataclasses.dataclass(frozen=True, repr=False)
class _Curve(CurveResult):
    _title = "a curve"
    _start = 1.0
    extra: str = "x"


def _table():
    return pd.DataFrame({
        "group": pd.Categorical(["a", "a", "a", "b", "b"], categories=["a", "b"]),
        "time": [1.0, 2.0, 4.0, 1.5, 3.0],
        "n_risk": [10, 8, 5, 6, 4],
        "n_event": [1, 2, 1, 1, 1],
        "n_censor": [1, 1, 0, 1, 0],
        "estimate": [0.9, 0.675, 0.54, 5 / 6, 5 / 8],
        "std_err": [0.1, 0.15, 0.2, 0.15, 0.2],
        "lower": [0.7, 0.4, 0.2, 0.5, 0.3],
        "upper": [0.98, 0.85, 0.8, 0.95, 0.9],
    })


def test_step_at_as_summary_survfit():
    at = step_at(_table(), [4.5, 0.5, 2.0], keys=["group"], start=1.0)
    a = at[at["group"] == "a"]
    assert a["time"].tolist() == [0.5, 2.0, 4.5]  # sorted
    # before the first time: the starting value, std_err 0, limits at the start
    assert a[["estimate", "std_err", "lower", "upper"]].iloc[0].tolist() == [1.0, 0.0, 1.0, 1.0]
    # at a time: that row's values; n_risk of the first time >= t; events since the previous time
    assert a["estimate"].iloc[1] == 0.675 and a["n_risk"].iloc[1] == 8 and a["n_event"].iloc[1] == 3
    assert a["n_censor"].iloc[1] == 2
    # beyond the end: last value, nobody at risk
    assert a["estimate"].iloc[2] == 0.54 and a["n_risk"].iloc[2] == 0 and a["n_event"].iloc[2] == 1
    assert isinstance(at["group"].dtype, pd.CategoricalDtype)


def test_step_at_start_per_curve_and_bad_times():
    at = step_at(_table(), [0.1], keys=["group"], start=lambda key: 0.0 if key["group"] == "b" else 1.0)
    assert at["estimate"].tolist() == [1.0, 0.0]
    for bad in ([np.nan], [], ["x"], [[1, 2]]):
        with pytest.raises(InputError):
            step_at(_table(), bad, keys=["group"])


def test_curve_result_is_frozen_and_hands_out_copies():
    c = _Curve(_table=_table(), n=16, n_events=6, conf_level=0.95)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n = 3
    t = c.table
    t.loc[0, "estimate"] = -1
    assert c.table.loc[0, "estimate"] == 0.9
    assert c.at([1.0])["estimate"].tolist() == [0.9, 1.0]
    assert c.groups == ["a", "b"]
    assert "a curve" in repr(c) and "<strong>a curve</strong>" in c._repr_html_()
    assert c.notes == ()
    d = _Curve(_table=_table(), n=16, n_events=6, conf_level=0.95, dropped=Dropped(2, (3, 4), {"age": 2}))
    assert d.notes == ("2 rows dropped for missing values (age: 2)",)


def test_model_and_test_results():
    summary = pd.DataFrame({"coef": [0.5], "std_err": [0.1], "hr": [np.exp(0.5)], "lower": [1.0], "upper": [2.0],
                            "statistic": [5.0], "p_value": [1e-6]}, index=pd.Index(["age"], name="term"))
    m = ModelResult(_summary=summary, _cov=pd.DataFrame([[0.01]], index=["age"], columns=["age"]), n=10,
                    n_events=5, conf_level=0.95)
    s = m.summary
    s.loc["age", "hr"] = 99
    coef, cov = m.coef, m.cov
    coef.iloc[0] = 99
    cov.iloc[0, 0] = 99
    assert m.summary.loc["age", "hr"] == np.exp(0.5) and m.coef.iloc[0] == 0.5 and m.cov.iloc[0, 0] == 0.01
    assert m.ratio_name == "hr" and m.ratio.iloc[0] == np.exp(0.5)
    t = TestResult(statistic=3.0, df=1, p_value=0.08, n=10)
    assert t.summary.columns.tolist() == ["statistic", "df", "p_value"]
    with warnings.catch_warnings(action="error"):
        repr(t), t._repr_html_()
