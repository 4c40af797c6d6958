"""bm.proportion against prop.test(correct = FALSE) and binom.test, bm.logistic against glm(family = binomial)
(tests/reference/R/binary.R -> binary.json), on bone metastasis at diagnosis in the bundled cohort."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate._regression import ConvergenceWarning
from conftest import load_reference

REF = load_reference("binary")
SUBTYPES = ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC", "unknown"]


@pytest.fixture(scope="module")
def patients():
    p = bm.datasets.load_bm_cohort().patients
    p["bm_at_dx"] = (p["bm_date"] <= p["dx_date"]).astype(int)
    p["subtype"] = pd.Categorical(p["subtype"].astype(str), categories=SUBTYPES)
    p["histology"] = pd.Categorical(p["histology"].astype(str), categories=["ductal", "lobular", "other"])
    p["grade"] = p["grade"].astype(float)
    return p


@pytest.mark.parametrize("method, key", [("wilson", "wilson"), ("clopper-pearson", "clopper_pearson")])
def test_proportion_equals_prop_test_and_binom_test(patients, method, key):
    for level, ref in ((0.95, REF["overall"]), (0.90, REF["overall_90"])):
        r = bm.proportion(patients, "bm_at_dx", method=method, conf_level=level)
        row = r.table.iloc[0]
        assert (row["n"], row["events"]) == (ref["n"], ref["events"])
        np.testing.assert_allclose([row["estimate"], row["lower"], row["upper"]],
                                   [ref["estimate"], *ref[key]], rtol=1e-10)
    by = bm.proportion(patients, "bm_at_dx", by="subtype", method=method)
    tb = by.table
    assert tb["group"].tolist() == [g["group"] for g in REF["by_subtype"]]
    np.testing.assert_allclose(tb[["lower", "upper"]].to_numpy(), [g[key] for g in REF["by_subtype"]], rtol=1e-10)
    assert tb["events"].tolist() == [g["events"] for g in REF["by_subtype"]]
    h = REF["homogeneity"]
    np.testing.assert_allclose(by.test[["statistic", "df", "p_value"]].iloc[0], [h["statistic"], h["df"], h["p"]],
                               rtol=1e-10)


@pytest.mark.parametrize("case", ["zero", "all", "one"])
def test_proportion_edges_equal_r(case):
    ref = REF["edge"][case]
    y = np.r_[np.ones(ref["events"]), np.zeros(ref["n"] - ref["events"])].astype(int)
    d = pd.DataFrame({"y": y})
    for method, key in (("wilson", "wilson"), ("clopper-pearson", "clopper_pearson")):
        row = bm.proportion(d, "y", method=method).table.iloc[0]
        np.testing.assert_allclose([row["lower"], row["upper"]], ref[key], rtol=1e-10, atol=1e-15)


def test_proportion_keeps_empty_levels_and_refuses_bad_input(patients):
    d = patients.assign(g=pd.Categorical(["a"] * len(patients), categories=["a", "b"]))
    tb = bm.proportion(d, "bm_at_dx", by="g").table
    assert tb["n"].tolist() == [len(d), 0] and np.isnan(tb["estimate"].iloc[1])
    with pytest.raises(InputError, match="method"):
        bm.proportion(patients, "bm_at_dx", method="exact")
    with pytest.raises(InputError, match="'age'"):
        bm.proportion(patients, "age")
    with pytest.raises(InputError, match="conf_level"):
        bm.proportion(patients, "bm_at_dx", conf_level=95)
    with pytest.raises(InputError, match="missing"):
        bm.proportion(patients.assign(y=np.where(patients.index % 7 == 0, np.nan, 1.0)), "y")
    r = bm.proportion(patients.assign(y=np.where(patients.index % 7 == 0, np.nan, 1.0)), "y", dropna=True)
    assert r.dropped.n == (patients.index % 7 == 0).sum() and "dropped" in repr(r)


@pytest.mark.parametrize("case, formula", [("logistic", "subtype + age + grade + histology"),
                                           ("logistic_subtype", "subtype")])
def test_logistic_equals_glm(patients, case, formula):
    ref = REF[case]
    fit = bm.logistic(patients, "bm_at_dx", formula)
    s = fit.summary
    assert list(s.columns) == ["coef", "std_err", "odds_ratio", "lower", "upper", "statistic", "p_value"]
    assert s.index[0] == "Intercept" and len(s) == len(ref["names"])
    np.testing.assert_allclose(s["coef"], ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(s["std_err"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(s["statistic"], ref["z"], rtol=1e-6)
    np.testing.assert_allclose(s["p_value"], ref["p"], rtol=1e-6)
    np.testing.assert_allclose(s["odds_ratio"], np.exp(ref["coef"]), rtol=1e-8)
    # profile limits: the exact roots (computed in R with uniroot) to 1e-8; R's confint interpolates a
    # spline through a grid of profile points and is within 1e-3 of them
    np.testing.assert_allclose(np.log(s["lower"]), ref["exact_lower"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.log(s["upper"]), ref["exact_upper"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.log(s["lower"]), ref["profile_lower"], atol=1e-3)
    np.testing.assert_allclose(np.log(s["upper"]), ref["profile_upper"], atol=1e-3)
    np.testing.assert_allclose([fit.deviance, fit.null_deviance, fit.aic],
                               [ref["deviance"], ref["null_deviance"], ref["aic"]], rtol=1e-10)
    wald = bm.logistic(patients, "bm_at_dx", formula, interval="wald").summary
    np.testing.assert_allclose(np.log(wald["lower"]), ref["wald_lower"], rtol=1e-6)
    np.testing.assert_allclose(np.log(wald["upper"]), ref["wald_upper"], rtol=1e-6)
    assert fit.ratio_name == "odds_ratio" and (fit.n, fit.n_events) == (ref["n"], 171)


def test_regression_table_shows_odds_ratios(patients):
    fit = bm.logistic(patients, "bm_at_dx", "subtype + age")
    table = bm.regression_table(fit)
    text = table.to_markdown()
    assert "OR (95% CI)" in text and "Intercept" not in text
    assert f"{fit.summary.loc['age', 'odds_ratio']:.2f}" in text


def test_logistic_separation_and_bad_input(patients):
    d = patients.assign(flag=patients["bm_at_dx"])  # predicts the outcome perfectly
    with warnings.catch_warnings(record=True, action="always") as caught:
        bm.logistic(d, "bm_at_dx", "flag", interval="wald")
    assert any(issubclass(w.category, ConvergenceWarning) and "flag" in str(w.message) for w in caught)
    small = pd.DataFrame({"y": [0, 1, 0, 1, 1, 0], "x": [0, 1, 0, 1, 1, 0]})
    with warnings.catch_warnings(record=True, action="always") as caught:
        s = bm.logistic(small, "y", "x").summary  # profile limits under separation: one side infinite
    assert np.isinf(s.loc["x", "upper"]) and s.loc["x", "lower"] > 1
    assert any("cut-off on the upper side" in str(w.message) for w in caught)
    s = bm.logistic(small.assign(x=[1.0, 2, 3, 4, 5, 6]), "y", "y ~ x").summary  # a two-sided formula
    assert s.loc["x", "lower"] < s.loc["x", "odds_ratio"] < s.loc["x", "upper"]
    with pytest.raises(InputError, match="both outcomes"):
        bm.logistic(patients.assign(z=0), "z", "age")
    with pytest.raises(InputError, match="interval"):
        bm.logistic(patients, "bm_at_dx", "age", interval="exact")
    with pytest.raises(InputError, match="nope"):
        bm.logistic(patients, "bm_at_dx", "nope")
    with pytest.raises(InputError, match="'subtype'"):
        bm.logistic(patients, "subtype", "age")


def test_results_are_frozen_and_plot(patients):
    fit = bm.logistic(patients, "bm_at_dx", "age", interval="wald")
    s = fit.summary
    s.loc["age", "coef"] = 99
    assert fit.summary.loc["age", "coef"] != 99
    prop = bm.proportion(patients, "bm_at_dx", by="subtype")
    t = prop.table
    t["estimate"] = 0
    assert prop.table["estimate"].max() > 0
    fig = prop.plot()
    assert len(fig.axes) == 1 and len(fig.axes[0].get_yticklabels()) == len(SUBTYPES)

