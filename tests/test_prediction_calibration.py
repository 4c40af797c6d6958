"""bm.calibration against R (tests/reference/R/prediction.R -> prediction.json): O/E with the Poisson interval,
Cox slope, rms::cph(rcs(cll, 3)) + survest curve and ICI/E50/E90/Emax; for competing risks the Aalen-Johansen
O/E, pseudo-values (prodlim::jackknife) with geepack::geese cloglog intercept and slope, Fine-Gray curve."""
from __future__ import annotations

import numpy as np
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate.calibration import _CURVE_RANGE, _KNOTS, _Sorted, pseudo_values
from prediction_data import REF, RHS, rotterdam


@pytest.fixture(scope="module")
def data():
    return rotterdam()


@pytest.fixture(scope="module")
def surv_result(data):
    fit = bm.cox(data, "t", "relapse", RHS)
    p = bm.predict_risk(fit, data, [2000], conf_int=False)["risk"].to_numpy()
    return bm.calibration(data, "t", "relapse", {"cox": p}, time_horizon=2000)


def test_survival_calibration_equals_r(surv_result):
    r = REF["cal_surv"]
    s = surv_result.summary.set_index("measure")
    assert list(s.index) == ["oe", "slope", "ici", "e50", "e90", "emax"]
    np.testing.assert_allclose(s.loc["oe", ["estimate", "std_err", "lower", "upper"]].to_numpy(float), r["oe"],
                               rtol=1e-6)
    np.testing.assert_allclose(s.loc["slope", ["estimate", "std_err"]].to_numpy(float), r["slope"], rtol=1e-6)
    for m in ("ici", "e50", "e90", "emax"):
        assert s.loc[m, "estimate"] == pytest.approx(r[m], rel=1e-6)
    c = surv_result.curve
    np.testing.assert_allclose(c["observed"], r["curve_observed"], rtol=1e-6)
    np.testing.assert_allclose(c["lower"], r["curve_lower"], rtol=1e-5)
    np.testing.assert_allclose(c["upper"], r["curve_upper"], rtol=1e-5)
    g = surv_result.groups
    assert len(g) == 10 and g["n"].sum() == surv_result.n
    assert (g["predicted"].diff().dropna() > 0).all()


def test_competing_risks_calibration_equals_r(data):
    r = REF["cal_cr"]
    models = bm.competing_risks_models(data, "t", "st", RHS)
    q = bm.predict_risk(models, data, [3000], cause=1)["risk"].to_numpy()
    pv = pseudo_values(data.t.to_numpy(float), data.st.to_numpy(), 1, 3000.0)
    np.testing.assert_allclose(pv[:50], r["pseudo_head"], rtol=1e-6, atol=1e-10)
    res = bm.calibration(data, "t", "st", q, time_horizon=3000)
    assert res.competing
    s = res.summary.set_index("measure")
    assert list(s.index) == ["oe", "intercept", "slope", "ici", "e50", "e90", "emax"]
    np.testing.assert_allclose(s.loc["oe", ["estimate", "std_err"]].to_numpy(float), r["oe"], rtol=1e-6)
    for m in ("intercept", "slope"):
        np.testing.assert_allclose(s.loc[m, ["estimate", "std_err"]].to_numpy(float), r[m], rtol=1e-5)
    for m in ("ici", "e50", "e90", "emax"):
        assert s.loc[m, "estimate"] == pytest.approx(r[m], rel=1e-6)


def test_pseudo_values_equal_brute_force_jackknife():
    rng = np.random.default_rng(3)
    T = np.round(rng.exponential(5, 40))
    S = rng.integers(0, 3, 40)
    from bmstats.estimate.calibration import observed_risk

    full = observed_risk(T, S, 1, 4.0)[0]
    loo = np.array([observed_risk(np.delete(T, i), np.delete(S, i), 1, 4.0)[0] for i in range(40)])
    np.testing.assert_allclose(pseudo_values(T, S, 1, 4.0), 40 * full - 39 * loo, atol=1e-12)


def test_calibration_bad_input(data):
    p = np.full(len(data), 0.3)
    with pytest.raises(InputError, match="time_horizon"):
        bm.calibration(data, "t", "relapse", p, time_horizon=-1)
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        bm.calibration(data, "t", "relapse", np.where(np.arange(len(data)) == 0, 0.0, 0.3), time_horizon=2000)
    with pytest.raises(InputError, match="distinct"):
        bm.calibration(data, "t", "relapse", p, time_horizon=2000)
    with pytest.raises(InputError, match="no events"):
        bm.calibration(data, "t", "relapse", p, time_horizon=0.5)


def test_quantiles_from_one_partial_sort_equal_numpy():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 10, 101, 4321):
        p = rng.uniform(0.01, 0.99, n)
        s = _Sorted(p, np.array([0, n - 1]))
        q = list(_KNOTS + _CURVE_RANGE)
        np.testing.assert_allclose(s.quantiles(), np.quantile(p, q), rtol=1e-15)
        cll = np.log(-np.log1p(-p))
        np.testing.assert_allclose(s.quantiles(lambda x: np.log(-np.log1p(-x))), np.quantile(cll, q), rtol=1e-15)
