"""Efron's tie-step sums in closed form (bmstats.engine.efron_sums) against the sums taken step by step."""
import math

import numpy as np
import pytest

from bmstats._checks import InputError
from bmstats.engine.efron_sums import SUMS, tie_step_sums


def step_by_step(S0, D0, d, efron=True):
    """The definition: for each key, the sums over l = 0..d-1 of the steps S0 - (l/d) D0 (math.fsum)."""
    out = {name: np.zeros(len(S0)) for name in SUMS}
    for k in range(len(S0)):
        steps = np.arange(d[k]) if efron else np.zeros(1)
        f = steps / d[k] if efron else steps
        t = S0[k] - f * D0[k]
        terms = {"log": np.log(t), "c": 1 / t, "e": f / t, "c2": 1 / t**2, "e2": f / t**2, "f2": f * f / t**2}
        for name in SUMS:
            out[name][k] = math.fsum(terms[name])
    return out


def keys(rng, n, d_low, d_high, rho_low, rho_high):
    d = rng.integers(d_low, d_high, n)
    S0 = 10 ** rng.uniform(-3, 6, n)
    rho = 10 ** rng.uniform(np.log10(rho_low), np.log10(rho_high), n)
    return S0, rho * S0, d


REGIMES = {  # (d range, D0/S0 range): few ties, the power series in D/S, the ends' series with small steps
    "few ties": (1, 17, 1e-12, 1.0),
    "series": (17, 5000, 1e-15, 0.25),
    "ends": (17, 5000, 0.25, 1.0),
    "ends near the last step": (17, 300, 0.9, 1.0),
}


@pytest.mark.parametrize("regime", REGIMES)
def test_closed_form_equals_the_steps(regime):
    rng = np.random.default_rng(len(regime))
    S0, D0, d = keys(rng, 300, *REGIMES[regime])
    got = tie_step_sums(S0, D0, d, efron=True)
    want = step_by_step(S0, D0, d)
    for name in SUMS:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-11, atol=0, err_msg=name)


def test_no_tied_weight_and_one_column_per_point():
    rng = np.random.default_rng(3)
    S0, D0, d = keys(rng, 200, 1, 3000, 1e-9, 1.0)
    D0[:20] = 0.0  # the events' weights underflowed (a far point of the likelihood profile)
    S = np.column_stack([S0, S0 * 2.0, S0 * 0.5])
    D = np.column_stack([D0, D0, D0 * 0.25])
    got = tie_step_sums(S, D, d, efron=True)
    for j in range(3):
        want = step_by_step(S[:, j], D[:, j], d)
        for name in SUMS:
            np.testing.assert_allclose(got[name][:, j], want[name], rtol=1e-11, err_msg=f"{name}, point {j}")


def test_breslow_is_one_step_per_key():
    S0, D0, d = np.array([10.0, 4.0]), np.array([3.0, 4.0]), np.array([3, 4])
    got = tie_step_sums(S0, D0, d, efron=False)
    np.testing.assert_allclose(got["log"], np.log(S0))
    np.testing.assert_allclose(got["c2"], 1 / S0**2)
    assert not got["e"].any() and not got["f2"].any()


def test_only_the_sums_asked_for():
    got = tie_step_sums(np.array([5.0]), np.array([1.0]), np.array([40]), efron=True, need=("log",))
    assert list(got) == ["log"]


@pytest.mark.parametrize("efron", [True, False])
def test_a_step_outside_its_risk_set_is_the_package_error(efron):
    # the last of three tied steps: 2 - (2/3) 3.5 < 0 (an event not counted in its own risk set)
    with pytest.raises(InputError, match="risk set sums are not positive"):
        tie_step_sums(np.array([2.0, -1.0 if not efron else 2.0]), np.array([3.5, 1.0]), np.array([3, 1]), efron)


def test_a_point_that_is_not_finite_gives_not_a_number_there_only():
    """Far out along a diverging effect a sum may be NaN or infinite: that key is NaN (Newton-Raphson steps
    back from the point), the others are unaffected."""
    S0, D0, d = np.array([np.nan, 5.0, 100.0, np.inf]), np.array([1.0, np.nan, 2.0, 1.0]), np.array([3, 40, 20, 2])
    got = tie_step_sums(S0, D0, d, efron=True)
    want = step_by_step(S0[2:3], D0[2:3], d[2:3])
    for name in SUMS:
        assert np.isnan(got[name][[0, 1, 3]]).all()
        np.testing.assert_allclose(got[name][2], want[name][0], rtol=1e-12)
