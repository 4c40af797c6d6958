"""Fine-Gray: bad input gives a clear error or warning naming the column or term; properties of the fit."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate._regression import ConvergenceWarning
from bmstats.estimate.finegray_core import FGProblem, fg_risk_sums
from tests.conftest import REFERENCE


@pytest.fixture(scope="module")
def tied() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "fg_ties.csv")


def small(seed: int = 1, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.integers(0, 2, n)
    t1 = rng.exponential(1 / (0.3 * np.exp(0.5 * x)))
    t2 = rng.exponential(1 / 0.2, n)
    c = rng.uniform(0, 6, n)
    t = np.minimum.reduce([t1, t2, c])
    status = np.where(t == t1, 1, np.where(t == t2, 2, 0))
    return pd.DataFrame({"time": np.round(t, 1), "status": status, "x": x, "z": z, "g": rng.integers(0, 2, n)})


def test_missing_values_error_names_column_and_dropna_counts():
    d = small()
    d.loc[[3, 7], "x"] = np.nan
    with pytest.raises(InputError, match=r"'x'.*missing.*rows 3, 7"):
        bm.fine_gray(d, "time", "status", "x + z")
    res = bm.fine_gray(d, "time", "status", "x + z", dropna=True)
    assert res.dropped.n == 2 and res.n == len(d) - 2
    assert "2 rows dropped" in repr(res)


def test_missing_status_or_cengroup_is_an_error():
    d = small()
    d.loc[5, "g"] = np.nan
    with pytest.raises(InputError, match=r"'g'.*missing"):
        bm.fine_gray(d, "time", "status", "x", cengroup="g")
    with pytest.raises(InputError, match="not found"):
        bm.fine_gray(d, "time", "status", "x", cengroup="nope")


def test_bad_status_codes_and_event():
    d = small()
    d.loc[4, "status"] = -1
    with pytest.raises(InputError, match=r"'status'.*integers.*row 4"):
        bm.fine_gray(d, "time", "status", "x")
    d = small()
    with pytest.raises(InputError, match="no events of cause 3"):
        bm.fine_gray(d, "time", "status", "x", cause=3)
    with pytest.raises(InputError, match="positive integer"):
        bm.fine_gray(d, "time", "status", "x", cause=0)


def test_negative_time_is_an_error():
    d = small()
    d.loc[2, "time"] = -1.0
    with pytest.raises(InputError, match=r"'time'.*non-negative.*row 2"):
        bm.fine_gray(d, "time", "status", "x")


def test_constant_and_collinear_covariates_name_the_term():
    d = small()
    d["k"] = 1.0
    with pytest.raises(InputError, match=r"'k'.*constant"):
        bm.fine_gray(d, "time", "status", "x + k")
    d["x2"] = 2 * d["x"] + 1
    with pytest.raises(InputError, match=r"'x2'.*collinear"):
        bm.fine_gray(d, "time", "status", "x + x2")


def test_covariate_constant_among_those_at_risk_names_the_term():
    d = small()
    d["late"] = 0.0
    d["time"] += 0.5
    d.loc[0, ["time", "status", "late"]] = [0.0, 0, 1.0]  # censored at 0: in no risk set of an event time
    with pytest.raises(InputError, match=r"'late'.*do not vary"):
        bm.fine_gray(d, "time", "status", "x + late")


def test_separation_warns_naming_the_term():
    d = small()
    d["sep"] = (d["status"] == 1).astype(float)
    with pytest.warns(ConvergenceWarning, match="'sep'"):
        bm.fine_gray(d, "time", "status", "x + sep")


def test_non_convergence_and_few_events_warn():
    d = small()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = bm.fine_gray(d, "time", "status", "x + z", max_iter=1)
    assert not res.converged
    few = d[(d.status != 1) | (d.index < 40)].copy()
    few = few[(few.status != 1)].copy()
    few.loc[few.index[:2], "status"] = 1
    with pytest.warns(ConvergenceWarning, match="only 2 events of cause 1"):
        bm.fine_gray(few, "time", "status", "x + z")


def test_bad_formula_and_newdata():
    d = small()
    with pytest.raises(InputError, match="'w'"):
        bm.fine_gray(d, "time", "status", "x + w")
    res = bm.fine_gray(d, "time", "status", "x + z")
    with pytest.raises(InputError):
        res.predict(d.drop(columns="z"), 1.0)
    with pytest.raises(InputError, match="times"):
        res.predict(d, [-1.0])


def test_score_and_information_are_derivatives_of_loglik(tied):
    """Check of the cumulative-sum risk sets: score = numerical gradient, information = -numerical Hessian."""
    X = np.column_stack([tied.x1, tied.x2, tied.grp == "b"]).astype(float)
    prob = FGProblem.build(tied.time.to_numpy(float), tied.status.to_numpy(), X, 1, tied.clinic.to_numpy())
    b = np.array([0.3, -0.2, 0.4])
    rs = fg_risk_sums(prob, b)
    h = 1e-5
    grad = np.array([(fg_risk_sums(prob, b + h * e, False).loglik - fg_risk_sums(prob, b - h * e, False).loglik) / (2 * h)
                     for e in np.eye(3)])
    hess = np.array([(fg_risk_sums(prob, b + h * e).score - fg_risk_sums(prob, b - h * e).score) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(rs.score, grad, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rs.information, -hess, rtol=1e-6, atol=1e-6)


def test_loglik_by_brute_force(tied):
    """O(n^2) evaluation of the weighted partial likelihood straight from the definition (per-group G(t-))."""
    d = tied
    X = np.column_stack([d.x1, d.x2]).astype(float)
    b = np.array([0.4, 0.5])
    t, s, grp = d.time.to_numpy(float), d.status.to_numpy(), d.clinic.to_numpy()
    G = {}
    for g in (0, 1):
        tg, sg = t[grp == g], s[grp == g]
        G[g] = lambda u, tg=tg, sg=sg: np.prod([1 - ((tg == v) & (sg == 0)).sum() / (tg >= v).sum()
                                                for v in np.unique(tg[(sg == 0) & (tg < u)])])
    e = np.exp(X @ b)
    ll = 0.0
    for u in np.unique(t[s == 1]):
        w = np.where(t >= u, 1.0, 0.0)
        comp = (s == 2) & (t < u)
        w[comp] = [G[g](u) / G[g](tj) for g, tj in zip(grp[comp], t[comp])]
        ev = (t == u) & (s == 1)
        ll += (X[ev] @ b).sum() - ev.sum() * np.log(w @ e)
    res = bm.fine_gray(d, "time", "status", "x1 + x2", cengroup="clinic")
    prob = res._prob
    assert fg_risk_sums(prob, b, False).loglik == pytest.approx(ll, rel=1e-12)


def test_row_order_and_single_cengroup_do_not_matter(tied):
    a = bm.fine_gray(tied, "time", "status", "x1 + x2 + grp")
    shuffled = tied.sample(frac=1, random_state=3)
    shuffled["one"] = "all"
    b = bm.fine_gray(shuffled, "time", "status", "x1 + x2 + grp", cengroup="one")
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-12)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-10)
    np.testing.assert_allclose(a.influence.loc[shuffled.index].to_numpy(), b.influence.to_numpy(), atol=1e-12)


def test_influence_gives_cov_and_score_residuals_sum_to_zero(tied):
    res = bm.fine_gray(tied, "time", "status", "x1 + x2 + grp")
    infl = res.influence
    assert infl.shape == (len(tied), 4)
    np.testing.assert_allclose(infl.T @ infl, res.cov, rtol=1e-10)
    np.testing.assert_allclose(infl.sum().to_numpy(), 0, atol=1e-8)


def test_without_competing_events_equals_cox_breslow():
    d = small()
    d = d[d.status != 2].copy()
    fg = bm.fine_gray(d, "time", "status", "x + z")
    cx = bm.cox(d, "time", "status", "x + z", ties="breslow")
    np.testing.assert_allclose(fg.coef.to_numpy(), cx.coef.to_numpy(), atol=1e-7)


def test_predict_before_first_event_and_shape(tied):
    res = bm.fine_gray(tied, "time", "status", "x1 + x2 + grp")
    pred = res.predict(tied.iloc[:3], [0.5, 1, 8])
    assert list(pred.columns) == ["row", "time", "cumulative_hazard", "estimate", "std_err", "std_err_cloglog",
                                 "lower", "upper"]
    assert len(pred) == 9
    early = pred[pred.time == 0.5]
    assert (early.estimate == 0).all() and early.lower.isna().all()
    late = pred[pred.time == 8]
    assert ((late.lower < late.estimate) & (late.estimate < late.upper)).all()
    wide = res.predict(tied.iloc[:3], 8, conf_level=0.99)
    assert (wide.upper.to_numpy() > late.upper.to_numpy()).all()


def test_result_shape(tied):
    res = bm.fine_gray(tied, "time", "status", "x1 + x2 + grp", cause=2)
    assert list(res.summary.columns) == ["coef", "std_err", "shr", "lower", "upper", "statistic", "p_value", "estimable"]
    assert res.summary.index.name == "term"
    assert res.n_events == (tied.status == 2).sum() and res.n_competing == (tied.status == 1).sum()
    assert res.converged and res.iterations >= 2
    assert res.reference_levels.get("grp") == "a"
    with warnings.catch_warnings(action="error"):
        html = res._repr_html_()
    assert "Fine-Gray" in html and "cause 2" in repr(res)
