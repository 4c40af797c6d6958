"""The array Cox fit on a shared risk-set index (bmstats.estimate.cox_arrays) is bmstats.cox on the same rows:
same coefficients, variance and predicted risks; the risk sets censored at a horizon are those of the
administratively censored follow-up."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats.estimate.cox_arrays import fit_cox_arrays, right_censored_risk_sets
from bmstats.estimate.riskset import risk_sets


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 800
    x = rng.normal(size=n)
    t = np.round(rng.exponential(1 / (0.3 * np.exp(0.7 * x))), 1) + 0.1  # many tied times
    c = rng.uniform(0, 6, n)
    return pd.DataFrame({"t": np.minimum(t, c), "s": (t <= c).astype(int), "x": x, "x2": np.sin(x) + 0.1 * x**2})


def _sets(d):
    grid, index = np.unique(d.t.to_numpy(), return_inverse=True)
    return right_censored_risk_sets(grid, index, d.s.to_numpy() == 1)


def test_risk_sets_equal_the_general_index(data):
    rs = _sets(data)
    ref = risk_sets(data.t.to_numpy(), data.s.to_numpy() == 1)
    for f in dataclasses.fields(ref):
        np.testing.assert_array_equal(getattr(rs, f.name), getattr(ref, f.name), err_msg=f.name)
    h = 2.0
    cut = rs.censored_at(h)
    ref = risk_sets(np.minimum(data.t, h).to_numpy(), ((data.s == 1) & (data.t <= h)).to_numpy())
    for f in dataclasses.fields(ref):
        np.testing.assert_array_equal(getattr(cut, f.name), getattr(ref, f.name), err_msg=f.name)
    S = data.s.to_numpy().astype(float)
    np.testing.assert_allclose(cut.risk_sum(S + 1), ref.risk_sum(S + 1), rtol=1e-13)
    np.testing.assert_allclose(cut.at_risk_sum(np.arange(cut.K, dtype=float)),
                               ref.at_risk_sum(np.arange(cut.K, dtype=float)), rtol=1e-13)


def test_fit_equals_cox(data):
    fit = fit_cox_arrays(data[["x", "x2"]].to_numpy(), _sets(data), ["x", "x2"], start=[0.5, 0.0])
    ref = bm.cox(data, "t", "s", "x + x2")
    np.testing.assert_allclose(fit.coef, ref.coef.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(fit.cov, ref.cov.to_numpy(), rtol=1e-8)
    new = data.iloc[:7]
    risk, lower, upper = fit.risk(new[["x", "x2"]].to_numpy(), np.array([1.0, 3.0]), z=1.959963984540054)
    p = bm.predict_risk(ref, new, [1.0, 3.0])
    np.testing.assert_allclose(risk.reshape(-1), p["risk"], rtol=1e-9)
    np.testing.assert_allclose(lower.reshape(-1), p["lower"], rtol=1e-8)
    np.testing.assert_allclose(upper.reshape(-1), p["upper"], rtol=1e-8)
    truncated = data.assign(t=np.minimum(data.t, 2.0), s=((data.s == 1) & (data.t <= 2.0)).astype(int))
    cut = fit_cox_arrays(data[["x"]].to_numpy(), _sets(data).censored_at(2.0), ["x"])
    np.testing.assert_allclose(cut.coef, bm.cox(truncated, "t", "s", "x").coef.to_numpy(), rtol=1e-10)
