"""The one reading of ``predictions`` and horizons (bmstats.estimate.predicted_risks) behind score,
calibration, net_benefit and concordance: the same errors, naming the model and the problem."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate.predicted_risks import horizon, horizons, named_predictions, risk_matrix


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=n)
    t = np.round(rng.exponential(1 / (0.2 * np.exp(x))), 2) + 0.01
    c = rng.uniform(0, 8, n)
    return pd.DataFrame({"t": np.minimum(t, c), "s": (t <= c).astype(int), "x": x,
                         "p": -np.expm1(-0.2 * 2 * np.exp(x))}, index=pd.RangeIndex(100, 100 + n))


CALLS = {
    "score": lambda d, pred: bm.score(d, "t", "s", pred, times=2),
    "calibration": lambda d, pred: bm.calibration(d, "t", "s", pred, time_horizon=2),
    "net_benefit": lambda d, pred: bm.net_benefit(d, "t", "s", pred, time_horizon=2, thresholds=[0.2]),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_same_errors_naming_the_model(data, name):
    call = CALLS[name]
    p = data["p"].to_numpy()
    with pytest.raises(InputError, match=r"predictions 'mine'.*3 values .*300 rows"):
        call(data, {"mine": p[:3]})
    nan = p.copy()
    nan[4] = np.nan
    with pytest.raises(InputError, match=r"predictions 'mine': missing or non-finite values at .*104"):
        call(data, {"mine": nan})
    with pytest.raises(InputError, match=r"predictions 'mine': risks must be probabilities in \[0, 1\]"):
        call(data, {"mine": p * 5})
    with pytest.raises(InputError, match="'nope' not found"):
        call(data, "nope")
    published = bm.PublishedModel(coef={"x": 1.0}, baseline_cumhaz={0.5: 0.1, 1.0: 0.2})
    with pytest.raises(InputError, match=r"predictions 'pub': the model cannot predict at 2: .*last time"):
        call(data, {"pub": published})
    # a column, an array and a model give the same answer under their own names
    fit = bm.PublishedModel(coef={"x": 1.0}, baseline_cumhaz={2.0: 0.4, 9.0: 1.0})
    risk = fit.predict(data, [2])["risk"].to_numpy()
    a = call(data.assign(r=risk), "r")
    b = call(data, {"r": fit})
    ta = a.auc if name == "score" else (a.summary if name == "calibration" else a)
    tb = b.auc if name == "score" else (b.summary if name == "calibration" else b)
    pd.testing.assert_frame_equal(ta, tb)


def test_cause_is_checked_alike(data):
    p = data["p"].to_numpy()
    for call in (lambda: bm.score(data, "t", "s", p, times=2, cause=0),
                 lambda: bm.calibration(data, "t", "s", p, time_horizon=2, cause=0),
                 lambda: bm.net_benefit(data, "t", "s", p, time_horizon=2, thresholds=[0.2], cause=0)):
        with pytest.raises(InputError, match="cause must be a positive integer"):
            call()


def test_concordance_reads_its_predictor_the_same_way(data):
    with pytest.raises(InputError, match=r"predictor: 3 values .*300 rows"):
        bm.concordance(data, "t", "s", np.ones(3))
    with pytest.raises(InputError, match="'nope' not found"):
        bm.concordance(data, "t", "s", "nope")
    inf = data["x"].to_numpy().copy()
    inf[7] = np.inf
    with pytest.raises(InputError, match=r"predictor: missing or non-finite values at .*107"):
        bm.concordance(data, "t", "s", inf)
    nan = data["x"].to_numpy().copy()
    nan[7] = np.nan
    with pytest.raises(InputError, match="missing values"):
        bm.concordance(data, "t", "s", nan)
    c = bm.concordance(data, "t", "s", nan, dropna=True)
    assert c.dropped.n == 1 and c.n == len(data) - 1
    with pytest.raises(InputError, match="column name or an array"):
        bm.concordance(data, "t", "s", {"a": 1})


def test_horizons_and_names():
    assert horizon(2) == 2.0 and horizon(np.array([3.0])) == 3.0
    for bad in (-1, 0, np.inf, "5", None):
        with pytest.raises(InputError, match="time_horizon"):
            horizon(bad)
    np.testing.assert_array_equal(horizons([3, 1]), [3.0, 1.0])
    with pytest.raises(InputError, match="positive"):
        horizons([1, 0])
    with pytest.raises(InputError, match="times"):
        horizons([])
    assert list(named_predictions("col")) == ["col"] and list(named_predictions(np.ones(2))) == ["model"]
    assert list(named_predictions({1: np.ones(2)})) == ["1"]
    with pytest.raises(InputError, match="reserved"):
        named_predictions({"treat all": 1}, reserved=("treat all",))
    with pytest.raises(InputError, match="no models"):
        named_predictions({})
    d = pd.DataFrame({"p": [0.1, 0.2]})
    with pytest.raises(InputError, match="one horizon"):
        risk_matrix(d, "p", np.array([1.0, 2.0]), 1, "p")
    with pytest.raises(InputError, match="must be a column name or an array of numbers"):
        risk_matrix(d, ["a", "b"], np.array([1.0]), 1, "m")
