"""Poisson and negative binomial rate regression against R's glm and MASS::glm.nb."""
import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from conftest import REFERENCE, load_reference

REF = load_reference("recurrent")
COUNTS = pd.read_csv(REFERENCE / "data" / "recurrent_counts.csv")


def test_counts_are_the_recurrent_data_aggregated():
    d = pd.read_csv(REFERENCE / "data" / "recurrent.csv")
    ev = d.groupby("id")["event"].sum()
    np.testing.assert_array_equal(COUNTS.set_index("id")["events"].loc[ev.index], ev)


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_coefficients_and_se_equal_r(family):
    fit = bm.rate_regression(COUNTS, "events", "person_years", "group + x", family=family)
    ref = REF[family]
    s = fit.summary
    assert list(s.columns) == ["coef", "std_err", "rate_ratio", "lower", "upper", "statistic", "p_value", "estimable"]
    assert list(s.index) == ["Intercept", "group[T.B]", "x"]
    np.testing.assert_allclose(s["coef"], ref["coef"], atol=1e-4)
    np.testing.assert_allclose(s["std_err"], ref["se"], atol=1e-3)
    # in fact much closer
    assert np.max(np.abs(s["coef"].to_numpy() - ref["coef"])) < 1e-8
    assert np.max(np.abs(s["std_err"].to_numpy() - ref["se"])) < 1e-6
    np.testing.assert_allclose(s["statistic"], ref["z"], rtol=1e-5)
    np.testing.assert_allclose(s["p_value"], ref["p"], rtol=1e-4)
    np.testing.assert_allclose(s["lower"], np.exp(ref["ci_lower"]), rtol=1e-6)
    np.testing.assert_allclose(s["upper"], np.exp(ref["ci_upper"]), rtol=1e-6)
    np.testing.assert_allclose(s["rate_ratio"], np.exp(ref["coef"]), rtol=1e-8)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    assert fit.aic == pytest.approx(ref["aic"], abs=1e-6)
    assert fit.deviance == pytest.approx(ref["deviance"], abs=1e-5)


def test_negative_binomial_theta_equals_glm_nb():
    fit = bm.rate_regression(COUNTS, "events", "person_years", "group + x", family="negative_binomial")
    ref = REF["negative_binomial"]
    assert fit.theta == pytest.approx(ref["theta"], rel=1e-7)
    assert fit.theta_se == pytest.approx(ref["se_theta"], rel=1e-4)
    assert "theta" in repr(fit)


def test_poisson_has_no_theta_and_nb_is_wider():
    p = bm.rate_regression(COUNTS, "events", "person_years", "group + x")
    nb = bm.rate_regression(COUNTS, "events", "person_years", "group + x", family="negative_binomial")
    assert p.theta is None and p.theta_se is None
    assert (nb.summary["std_err"] > p.summary["std_err"]).all()  # overdispersed data


def test_offset_scales_rates():
    a = bm.rate_regression(COUNTS, "events", "person_years", "group + x")
    c = COUNTS.assign(person_months=COUNTS["person_years"] * 12)
    b = bm.rate_regression(c, "events", "person_months", "group + x")
    assert b.summary.loc["Intercept", "coef"] == pytest.approx(a.summary.loc["Intercept", "coef"] - np.log(12), abs=1e-9)
    np.testing.assert_allclose(b.summary["coef"].iloc[1:], a.summary["coef"].iloc[1:], atol=1e-9)


def test_negative_person_time_names_row_and_id():
    c = COUNTS.copy()
    c.loc[7, "person_years"] = -0.5
    with pytest.raises(InputError, match=r"column 'person_years': person-time must be positive \(negative values found\); id 8; row 7"):
        bm.rate_regression(c, "events", "person_years", "group + x", id="id")
    with pytest.raises(InputError, match=r"person-time must be positive.*row 7"):
        bm.rate_regression(c, "events", "person_years", "group + x")


def test_zero_person_time_and_bad_counts():
    c = COUNTS.copy()
    c.loc[3, "person_years"] = 0.0
    with pytest.raises(InputError, match=r"person-time must be positive; row 3"):
        bm.rate_regression(c, "events", "person_years", "x")
    c = COUNTS.copy()
    c["events"] = c["events"].astype(float)
    c.loc[5, "events"] = 1.5
    with pytest.raises(InputError, match=r"column 'events': event counts must be non-negative integers; row 5"):
        bm.rate_regression(c, "events", "person_years", "x")


def test_missing_covariate_dropna():
    c = COUNTS.copy()
    c.loc[[2, 9], "x"] = np.nan
    with pytest.raises(InputError, match=r"column 'x': missing values"):
        bm.rate_regression(c, "events", "person_years", "group + x")
    fit = bm.rate_regression(c, "events", "person_years", "group + x", dropna=True)
    assert fit.n == len(c) - 2 and fit.dropped.n == 2


def test_bad_family():
    with pytest.raises(InputError, match="family"):
        bm.rate_regression(COUNTS, "events", "person_years", "x", family="binomial")


def test_theta_is_found_far_from_the_starting_value():
    """The ML theta must not depend on the start being within a factor e of it (regression test:
    the bracketing once widened the wrong ends and declared 'theta goes to infinity')."""
    from bmstats.estimate.rate_regression import _nb_loglik, _theta_ml

    rng = np.random.default_rng(3)
    mu = rng.uniform(0.5, 5.0, 3000)
    y = rng.poisson(mu * rng.gamma(0.7, 1 / 0.7, mu.size))
    found = [_theta_ml(y, mu, start=s) for s in (1e-3, 0.7, 50.0, 1e4)]
    assert np.allclose(found, found[0], rtol=1e-10)
    theta = found[0]
    assert 0.5 < theta < 0.9
    assert _nb_loglik(y, mu, theta) > max(_nb_loglik(y, mu, theta * 1.01), _nb_loglik(y, mu, theta / 1.01))


def test_a_category_without_events_warns_that_its_rate_ratio_diverges():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"g": np.repeat(["a", "b"], 50), "pt": rng.uniform(1, 3, 100)})
    d["y"] = np.where(d["g"] == "a", 0, rng.poisson(2, 100))
    for family in ("poisson", "negative_binomial"):
        with pytest.warns(bm.ConvergenceWarning, match=r"'g\[T.b\]' diverging.*rate ratio") as record:
            bm.rate_regression(d, "y", "pt", "g", family=family)
        assert all(w.message.converged for w in record if isinstance(w.message, bm.ConvergenceWarning))


def test_rare_events_per_day_do_not_warn():
    rng = np.random.default_rng(2)
    d = pd.DataFrame({"g": np.repeat(["a", "b"], 200), "pt": rng.uniform(3e6, 4e6, 400)})
    d["y"] = rng.poisson(d["pt"] * 2e-7)
    with warnings.catch_warnings(action="error"):
        fit = bm.rate_regression(d, "y", "pt", "g")
    assert fit.summary.loc["Intercept", "coef"] < -15


def test_no_events_is_refused_by_name():
    data = pd.DataFrame({"n": [0, 0, 0, 0], "pt": [1.0, 2.0, 1.5, 3.0], "x": [0, 1, 0, 1]})
    for family in ("poisson", "negative_binomial"):
        with pytest.raises(InputError, match="column 'n': no events"):
            bm.rate_regression(data, "n", "pt", "x", family=family)
