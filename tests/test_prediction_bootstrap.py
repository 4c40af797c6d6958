"""bm.bootstrap_validate (Harrell's optimism as rms::validate; the apparent Dxy/Slope equal R's index.orig)
and bm.bootstrap_interval."""
from __future__ import annotations

import numpy as np
import pytest

import bmstats as bm
from bmstats._checks import InputError
from prediction_data import REF, RHS, rotterdam


@pytest.fixture(scope="module")
def data():
    return rotterdam()


def fit(d):
    return bm.cox(d, "t", "relapse", RHS)


def test_apparent_equals_rms_validate_and_seed_is_deterministic(data):
    a = bm.bootstrap_validate(fit, data, "t", "relapse", n_boot=8, seed=11, n_jobs=1)
    s = a.summary
    assert list(s.columns) == ["apparent", "optimism", "corrected", "n_boot"]
    assert list(s.index) == ["c", "slope", "d"]
    dxy, slope = REF["validate_apparent"]
    assert 2 * (s.loc["c", "apparent"] - 0.5) == pytest.approx(dxy, rel=1e-6)
    assert s.loc["slope", "apparent"] == slope == 1.0
    assert s.loc["d", "apparent"] == pytest.approx(REF["royston"][0], rel=1e-6)
    np.testing.assert_allclose(s["corrected"], s["apparent"] - s["optimism"])
    # optimism is positive for C and the slope on average (overfitting); same seed, same numbers in parallel
    b = bm.bootstrap_validate(fit, data, "t", "relapse", n_boot=8, seed=11, n_jobs=2)
    np.testing.assert_allclose(b.summary.to_numpy(float), s.to_numpy(float))
    r = a.replicates
    assert set(r.measure) == {"c", "slope", "d"} and r.replicate.nunique() == 8


def test_brier_with_horizon_and_bad_input(data):
    small = data.sample(600, random_state=2)
    v = bm.bootstrap_validate(lambda d: bm.cox(d, "t", "relapse", "age + np.log(nodes + 1)"), small, "t",
                              "relapse", n_boot=4, seed=1, time_horizon=2000, n_jobs=1)
    assert "brier" in v.summary.index
    with pytest.raises(InputError, match="function"):
        bm.bootstrap_validate("cox", data, "t", "relapse")
    with pytest.raises(InputError, match="n_boot"):
        bm.bootstrap_validate(fit, data, "t", "relapse", n_boot=0)


def test_bootstrap_interval_of_a_metric(data):
    lp = bm.cox(data, "t", "relapse", RHS)
    d = data.assign(lp=lp.design.transform(data).to_numpy() @ lp.coef.to_numpy())
    out = bm.bootstrap_interval(d, lambda x: bm.concordance(x, "t", "relapse", "lp").estimate, n_boot=30, seed=5)
    row = out.iloc[0]
    assert row.lower < row.estimate < row.upper
    # the bootstrap standard error is near the infinitesimal-jackknife one
    assert row.std_err == pytest.approx(bm.concordance(d, "t", "relapse", "lp").std_err, rel=0.4)
