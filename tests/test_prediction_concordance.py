"""bm.concordance and bm.royston_d against survival::concordance (reverse = TRUE; timewt "n" and "n/G2";
ymax) and survival::royston (tests/reference/R/prediction.R -> prediction.json)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from prediction_data import REF, RHS, rotterdam


@pytest.fixture(scope="module")
def data():
    d = rotterdam()
    fit = bm.cox(d, "t", "relapse", RHS)
    d["lp"] = (fit.design.transform(d).to_numpy() - fit.means.to_numpy()) @ fit.coef.to_numpy()
    d["rlp"] = np.round(d["lp"], 1)
    d["r5"] = REF["risk_csc1_2000_all"]
    return d


@pytest.mark.parametrize("key, column, kw", [
    ("c_harrell", "lp", {}),
    ("c_harrell_ties", "rlp", {}),
    ("c_uno", "lp", {"method": "uno"}),
    ("c_harrell_tau", "lp", {"tau": 3000}),
    ("c_uno_tau", "lp", {"method": "uno", "tau": 3000}),
])
def test_concordance_equals_survival(data, key, column, kw):
    c = bm.concordance(data, "t", "relapse", column, **kw)
    est, se = REF[key]
    assert c.estimate == pytest.approx(est, rel=1e-9)
    assert c.std_err == pytest.approx(se, rel=1e-6)
    assert c.lower == pytest.approx(est - 1.959963984540054 * se, rel=1e-6)
    assert list(c.summary.columns) == ["method", "estimate", "std_err", "lower", "upper"]


def test_wolbers_competing_risk_concordance(data):
    c = bm.concordance(data, "t", "st", "r5", cause=1)
    assert c.estimate == pytest.approx(REF["c_wolbers"], rel=1e-9)  # brute force over pairs in R
    est, se = REF["c_wolbers_survival"]
    assert c.estimate == pytest.approx(est, rel=1e-9)
    assert c.std_err == pytest.approx(se, rel=1e-6)
    # ignoring the competing events (treated as censored) gives another number
    censored = data.assign(st1=(data.st == 1).astype(int))
    assert abs(bm.concordance(censored, "t", "st1", "r5").estimate - c.estimate) > 1e-3


def test_array_predictor_and_reverse_direction(data):
    a = bm.concordance(data, "t", "relapse", data["lp"].to_numpy())
    b = bm.concordance(data, "t", "relapse", -data["lp"].to_numpy())
    assert a.estimate + b.estimate == pytest.approx(1.0)
    assert a.std_err == pytest.approx(b.std_err)


def test_small_case_by_hand():
    # times 1(e) 2(c) 3(e) 4(c): pairs (1,2) (1,3) (1,4) (3,4); risk 4,3,2,1 -> all concordant; a tie -> 1/2
    d = pd.DataFrame({"t": [1, 2, 3, 4], "s": [1, 0, 1, 0], "r": [4.0, 3.0, 2.0, 1.0]})
    assert bm.concordance(d, "t", "s", "r").estimate == 1.0
    d["r"] = [4.0, 4.0, 1.0, 1.0]
    assert bm.concordance(d, "t", "s", "r").estimate == pytest.approx((2 + 0.5 + 0.5) / 4)


def test_concordance_bad_input(data):
    with pytest.raises(InputError, match="method"):
        bm.concordance(data, "t", "relapse", "lp", method="gonen")
    with pytest.raises(InputError, match="'st'"):
        bm.concordance(data, "t", "st", "lp")  # codes 2 without cause=
    with pytest.raises(InputError, match="rows"):
        bm.concordance(data, "t", "relapse", np.ones(3))
    bad = data.assign(lp=np.where(np.arange(len(data)) == 5, np.nan, data.lp))
    with pytest.raises(InputError, match="'lp'"):
        bm.concordance(bad, "t", "relapse", "lp")
    c = bm.concordance(bad, "t", "relapse", "lp", dropna=True)
    assert c.dropped.n == 1 and c.n == len(data) - 1
    with pytest.raises(InputError, match="no events"):
        bm.concordance(data.assign(z=0), "t", "z", "lp")
    with pytest.raises(InputError, match="tau"):
        bm.concordance(data, "t", "relapse", "lp", tau=-1)
    fit = bm.cox(data, "t", "relapse", "age")  # a model is not a predictor (was numpy's TypeError)
    with pytest.raises(InputError, match="predictor must be a column name or an array of numbers.*got CoxResult"):
        bm.concordance(data, "t", "relapse", fit)
    with pytest.raises(InputError, match="prognostic index must be a column name or an array of numbers"):
        bm.royston_d(["a"] * len(data), data, "t", "relapse")


def test_royston_d_equals_survival_royston(data):
    fit = bm.cox(data, "t", "relapse", RHS)
    d = bm.royston_d(fit, data, "t", "relapse")
    est, se, r2 = REF["royston"][:3]
    assert d.estimate == pytest.approx(est, rel=1e-6)
    assert d.std_err == pytest.approx(se, rel=1e-4)
    assert d.r2_d == pytest.approx(r2, rel=1e-6)
    # the same from the prognostic index as a column
    assert bm.royston_d("lp", data, "t", "relapse").estimate == pytest.approx(d.estimate, rel=1e-7)
