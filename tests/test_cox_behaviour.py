"""bm.cox beyond the R reference: bad input, warnings, prediction, cause-specific models, the result shape."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate._regression import ConvergenceWarning
from test_cox_reference import REF, RHS, fit, rotterdam


@pytest.fixture(scope="module")
def rott() -> pd.DataFrame:
    return rotterdam()


def small(seed=3, n=200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], n)
    t = rng.exponential(1 / np.exp(0.5 * x)).round(2) + 0.01
    c = rng.uniform(0, 2, n)
    return pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "x": x, "g": g,
                         "z": rng.normal(size=n)})


def test_summary_columns_and_immutability():
    res = fit("rott_efron")
    assert list(res.summary.columns) == ["coef", "std_err", "hr", "lower", "upper", "statistic", "p_value", "estimable"]
    assert res.summary.index.name == "term"
    np.testing.assert_allclose(res.summary["hr"], np.exp(res.summary["coef"]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n = 3
    assert "Cox proportional hazards" in repr(res) and "<table" in res._repr_html_()
    assert set(res.tests.index) == {"likelihood_ratio", "wald", "score"}
    robust = fit("rott_cluster_grp")
    assert {"robust_std_err", "naive_std_err"} <= set(robust.summary.columns)


def test_cause_specific_equals_cox_with_other_causes_censored(rott):
    res = bm.cause_specific_cox(rott, "t", "st", RHS, cause=2)
    np.testing.assert_allclose(res.coef.to_numpy(), REF["rott_death_efron"]["coef"], atol=1e-6)
    np.testing.assert_allclose(res.summary["std_err"].to_numpy(), REF["rott_death_efron"]["se"], rtol=1e-5)
    with pytest.raises(InputError, match="no rows with cause 3"):
        bm.cause_specific_cox(rott, "t", "st", RHS, cause=3)


def test_competing_risks_models_side_by_side(rott):
    m = bm.competing_risks_models(rott, "t", "st", "age + np.log(nodes + 1) + hormon")
    s = m.summary
    assert list(s.columns[:3]) == ["model", "cause", "term"]
    assert set(s["model"]) == {"cause-specific Cox", "Fine-Gray"} and set(s["cause"]) == {1, 2}
    assert len(s) == 2 * 2 * 3
    cs = s[(s.model == "cause-specific Cox") & (s.cause == 1)].set_index("term")
    direct = bm.cause_specific_cox(rott, "t", "st", "age + np.log(nodes + 1) + hormon", cause=1)
    np.testing.assert_allclose(cs["coef"], direct.coef)
    assert m.wide().shape == (6, 2)


def test_predict_survival(rott):
    res = fit("rott_efron")
    new = rott.iloc[[0, 5]]
    pred = res.predict(new, [1000, 2000])
    assert list(pred.columns) == ["row", "time", "cumulative_hazard", "estimate", "std_err", "lower", "upper"]
    base = res.baseline_at([1000, 2000])["cumulative_hazard"].to_numpy()
    lp = (res.design.transform(new).to_numpy() - res.means.to_numpy()) @ res.coef.to_numpy()
    np.testing.assert_allclose(pred["estimate"], np.exp(-np.outer(np.exp(lp), base)).ravel())
    assert (np.diff(pred["estimate"].to_numpy().reshape(2, 2), axis=1) < 0).all()


def test_predict_stratified_needs_known_stratum(rott):
    res = fit("rott_strata")
    new = rott.iloc[[0]].assign(hormon=7)
    with pytest.raises(InputError, match="stratum 7"):
        res.predict(new, [1000])


def test_missing_values_error_then_dropna_counts(rott):
    d = rott.copy()
    d.loc[[4, 7], "pgr"] = np.nan
    with pytest.raises(InputError, match=r"'pgr'.*rows 4, 7"):
        bm.cox(d, "t", "relapse", RHS)
    res = bm.cox(d, "t", "relapse", RHS, dropna=True)
    assert res.dropped.n == 2 and res.n == len(d) - 2
    assert "2 rows dropped" in repr(res)


def test_bad_time_event_weights_entry():
    d = small()
    with pytest.raises(InputError, match=r"'time'.*non-negative.*row 3"):
        bm.cox(d.assign(time=d.time.where(d.index != 3, -1)), "time", "event", "x")
    with pytest.raises(InputError, match=r"'event'.*0 or 1.*row 2"):
        bm.cox(d.assign(event=d.event.where(d.index != 2, 2)), "time", "event", "x")
    with pytest.raises(InputError, match=r"'w'.*positive.*row 1"):
        bm.cox(d.assign(w=np.where(d.index == 1, 0.0, 1.0)), "time", "event", "x", weights="w")
    with pytest.raises(InputError, match=r"'start'.*before the exit"):
        bm.cox(d.assign(start=d.time + 1), "time", "event", "x", entry="start")
    with pytest.raises(InputError, match="ties"):
        bm.cox(d, "time", "event", "x", ties="exact")


def test_no_events_and_too_few_events():
    d = small()
    with pytest.raises(InputError, match="no events"):
        bm.cox(d.assign(event=0), "time", "event", "x")
    few = d.assign(event=np.where(np.arange(len(d)) < 2, 1, 0))
    with pytest.raises(InputError, match=r"too few events \(2\) for 3 coefficients"):
        bm.cox(few, "time", "event", "x + g")


def test_constant_and_collinear_covariates_name_the_term():
    d = small()
    with pytest.raises(InputError, match=r"term 'k'.*constant"):
        bm.cox(d.assign(k=1.0), "time", "event", "x + k")
    with pytest.raises(InputError, match=r"term 'x2'.*linear combination of 'x', 'z'"):
        bm.cox(d.assign(x2=d.x - 3 * d.z), "time", "event", "x + z + x2")


def test_covariate_constant_within_strata_is_named():
    d = small()
    with pytest.raises(InputError, match=r"term 'g'.*do not vary"):
        bm.cox(d, "time", "event", "x + g", strata="g")


def test_monotone_likelihood_warns_naming_the_term():
    d = small()
    d["sep"] = d["event"]  # every event has sep = 1: the coefficient diverges
    with pytest.warns(ConvergenceWarning, match=r"'sep' not estimable"):
        res = bm.cox(d, "time", "event", "x + sep")
    assert res.coef["sep"] > 5 and not res.summary.loc["sep", "estimable"]
    assert np.isnan(res.summary.loc["sep", "std_err"]) and np.isfinite(res.summary.loc["x", "std_err"])


def test_non_convergence_warns():
    d = small()
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        res = bm.cox(d, "time", "event", "x + z + g", max_iter=1)
    assert not res.converged


def test_no_warning_on_an_ordinary_fit():
    d = small()
    with warnings.catch_warnings(action="error"):
        res = bm.cox(d, "time", "event", "x + z + g")
    assert res.converged and res.n == len(d)


def test_pwp_gap_time_equals_stratified_fit_of_gaps():
    res = fit("bladder_pwp_gap")
    ref = REF["bladder_pwp_gap"]
    np.testing.assert_allclose(res.coef.to_numpy(), ref["coef"], atol=1e-6)
    np.testing.assert_allclose(res.summary["robust_std_err"].to_numpy(), ref["robust_se"], rtol=1e-5)


def test_weights_equal_replicated_rows():
    # exact for Breslow ties (Efron's correction counts tied rows, so replication changes it)
    d = small()
    w = np.where(np.arange(len(d)) % 3 == 0, 2, 1)
    rep = d.loc[d.index.repeat(w)].reset_index(drop=True)
    a = bm.cox(d.assign(w=w), "time", "event", "x + z", weights="w", robust=False, ties="breslow")
    b = bm.cox(rep, "time", "event", "x + z", ties="breslow")
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-9)
    np.testing.assert_allclose(a.summary["std_err"], b.summary["std_err"], rtol=1e-8)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-12)


def test_ph_test_result_shape():
    z = fit("rott_efron").ph_test()
    assert list(z.table.columns) == ["statistic", "df", "p_value"] and z.table.index[-1] == "GLOBAL"
    assert z.table.loc["C(size)", "df"] == 2
    assert z.residuals.shape == (fit("rott_efron").n_events, 9)
    per_col = fit("rott_efron").ph_test(terms=False)
    assert len(per_col.table) == 10
    np.testing.assert_allclose(per_col.table.loc["GLOBAL", "statistic"], z.table.loc["GLOBAL", "statistic"])
    assert fit("gbsg_efron").ph_test(transform="rank").table.shape == (9, 3)


def test_plots_delegate_to_report_figures():
    from matplotlib.figure import Figure

    assert isinstance(fit("gbsg_efron").plot(), Figure)
    assert isinstance(fit("gbsg_efron").ph_test().plot(), Figure)


def test_cause_specific_missing_status_named_then_counted(rott):
    d = rott.copy()
    d["st"] = d["st"].astype(float)
    d.loc[[2, 8], "st"] = np.nan
    with pytest.raises(InputError, match=r"'st == 1'.*missing.*rows 2, 8"):
        bm.cause_specific_cox(d, "t", "st", "age + hormon")
    res = bm.cause_specific_cox(d, "t", "st", "age + hormon", dropna=True)
    assert res.dropped.n == 2 and res.n == len(d) - 2
