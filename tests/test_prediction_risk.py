"""bm.predict_risk against riskRegression::predictRisk, survfit.coxph and cmprsk::predict.crr
(tests/reference/R/prediction.R -> prediction.json), and its adapters and published models."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate.prediction import cap, rcs_basis
from prediction_data import REF, RHS, by_time, rotterdam

TIMES = REF["times"]


@pytest.fixture(scope="module")
def data():
    return rotterdam()


@pytest.fixture(scope="module")
def newdata(data):
    return data.iloc[REF["newdata_rows"]]


@pytest.fixture(scope="module")
def cox_fit(data):
    return bm.cox(data, "t", "relapse", RHS)


@pytest.fixture(scope="module")
def models(data):
    return bm.competing_risks_models(data, "t", "st", RHS)


def test_cox_risk_equals_predictrisk_with_survfit_limits(cox_fit, newdata):
    p = bm.predict_risk(cox_fit, newdata, TIMES)
    assert list(p.columns) == ["row", "time", "risk", "std_err", "lower", "upper"]
    assert list(pd.unique(p["row"])) == list(newdata.index)
    np.testing.assert_allclose(by_time(p, newdata.index), REF["risk_cox"], rtol=1e-6, atol=1e-12)
    lower = p.pivot(index="row", columns="time", values="lower").loc[newdata.index].to_numpy().T.reshape(-1)
    upper = p.pivot(index="row", columns="time", values="upper").loc[newdata.index].to_numpy().T.reshape(-1)
    np.testing.assert_allclose(lower, REF["risk_cox_lower"], rtol=1e-6)
    np.testing.assert_allclose(upper, REF["risk_cox_upper"], rtol=1e-6)


@pytest.mark.parametrize("cause, key", [(1, "risk_csc1"), (2, "risk_csc2")])
def test_cause_specific_absolute_risk_equals_csc_product_limit(models, newdata, cause, key):
    p = bm.predict_risk(models, newdata, TIMES, cause=cause)
    np.testing.assert_allclose(by_time(p, newdata.index), REF[key], rtol=1e-6, atol=1e-12)


def test_cause_specific_exponential_form_differs_and_equals_csc(models, newdata):
    p = bm.predict_risk(models, newdata, TIMES, cause=1, product_limit=False)
    np.testing.assert_allclose(by_time(p, newdata.index), REF["risk_csc1_exp"], rtol=1e-6, atol=1e-12)
    assert np.abs(np.array(REF["risk_csc1_exp"]) - REF["risk_csc1"]).max() > 1e-7


def test_fine_gray_risk_equals_predict_crr(models, newdata):
    fg = models.fits[("Fine-Gray", 1)]
    p = bm.predict_risk(fg, newdata, TIMES)
    np.testing.assert_allclose(by_time(p, newdata.index), REF["risk_fg"], rtol=1e-6, atol=1e-9)
    assert (p["lower"] <= p["risk"]).all() and (p["risk"] <= p["upper"]).all()
    with pytest.raises(InputError, match="fitted for cause 1"):
        bm.predict_risk(fg, newdata, TIMES, cause=2)


def test_published_model_with_baseline_cumhaz_equals_the_fit(cox_fit, newdata):
    names = list(cox_fit.coef.index)
    assert np.allclose(cox_fit.coef.to_numpy(), REF["published_coef"], rtol=1e-6)
    d = newdata.assign(size_mid=(newdata["size"] == "20-50").astype(float),
                       size_big=(newdata["size"] == ">50").astype(float))
    coef = dict(zip(["age", "meno", "size_mid", "size_big", "grade", "lnodes", "lpgr", "hormon", "chemo"],
                    REF["published_coef"]))
    transforms = {"lnodes": lambda x: np.log(x["nodes"] + 1), "lpgr": lambda x: np.log(x["pgr"] + 1)}
    # R's basehaz(centered = FALSE) at the horizons: a step function given only at those times
    model = bm.PublishedModel(coef, baseline_cumhaz=dict(zip(TIMES, REF["published_H0"])), transforms=transforms)
    p = bm.predict_risk(model, d, TIMES)
    np.testing.assert_allclose(by_time(p, d.index), REF["risk_cox"], rtol=1e-6)
    # the same model given as baseline risk at t
    base_risk = dict(zip(TIMES, -np.expm1(-np.array(REF["published_H0"]))))
    p2 = bm.predict_risk(bm.PublishedModel(coef, baseline_risk=base_risk, transforms=transforms), d, TIMES)
    np.testing.assert_allclose(p2["risk"], p["risk"], rtol=1e-12)
    assert len(names) == len(coef)


def test_published_model_rejects_what_it_cannot_compute(newdata):
    m = bm.PublishedModel({"age": 0.01}, baseline_risk={1826: 0.2})
    with pytest.raises(InputError, match="not at"):
        bm.predict_risk(m, newdata, [1000])
    m = bm.PublishedModel({"age": 0.01}, baseline_cumhaz={100: 0.1, 200: 0.2})
    with pytest.raises(InputError, match="past the baseline"):
        bm.predict_risk(m, newdata, [300])
    with pytest.raises(InputError, match="'nope'"):
        bm.predict_risk(bm.PublishedModel({"nope": 1.0}, baseline_risk={1: 0.1}), newdata, [1])
    bad = newdata.assign(age=np.where(np.arange(len(newdata)) == 2, np.nan, newdata["age"]))
    with pytest.raises(InputError, match="'age'"):
        bm.predict_risk(m, bad, [100])
    with pytest.raises(InputError, match="exactly one"):
        bm.PublishedModel({"age": 1.0})


def test_cap_and_rcs_transforms():
    d = pd.DataFrame({"age": [20.0, 50.0, 90.0]})
    np.testing.assert_array_equal(cap("age", 30, 80)(d), [30, 50, 80])
    knots = [30.0, 50.0, 70.0]
    b = rcs_basis(np.array([20.0, 60.0, 90.0]), knots)
    # rms::rcs: (x-30)^3_+ - (x-50)^3_+ * 40/20 + (x-70)^3_+ * 20/20, over (70-30)^2
    expected = [0.0, (30**3 - 10**3 * 2) / 1600, (60**3 - 40**3 * 2 + 20**3) / 1600]
    np.testing.assert_allclose(b[:, 1], expected)
    with pytest.raises(InputError, match="knots"):
        rcs_basis([1.0], [3, 2, 1])


def test_lifelines_and_sksurv_adapters(data, newdata):
    from lifelines import CoxPHFitter
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    cols = ["age", "meno", "grade", "hormon", "chemo"]
    fit = bm.cox(data, "t", "relapse", " + ".join(cols), ties="breslow")
    ours = bm.predict_risk(fit, newdata, TIMES)["risk"].to_numpy()
    sk = CoxPHSurvivalAnalysis(ties="breslow", tol=1e-12).fit(data[cols], Surv.from_arrays(data.relapse == 1, data.t))
    np.testing.assert_allclose(bm.predict_risk(sk, newdata, TIMES)["risk"], ours, rtol=1e-5)
    lf = CoxPHFitter().fit(data[cols + ["t", "relapse"]], "t", "relapse")
    p = bm.predict_risk(lf, newdata[cols], TIMES)
    own = 1 - lf.predict_survival_function(newdata[cols], times=TIMES).to_numpy().T.reshape(-1)
    np.testing.assert_allclose(p["risk"], own)
    assert list(pd.unique(p["row"])) == list(newdata.index)


def test_bad_input_is_named(cox_fit, models, newdata):
    with pytest.raises(InputError, match="times"):
        bm.predict_risk(cox_fit, newdata, [-1])
    with pytest.raises(InputError, match="times"):
        bm.predict_risk(cox_fit, newdata, [np.nan])
    with pytest.raises(InputError, match="cause=2"):
        bm.predict_risk(cox_fit, newdata, TIMES, cause=2)
    with pytest.raises(InputError, match="cause 3"):
        bm.predict_risk(models, newdata, TIMES, cause=3)
    with pytest.raises(InputError, match="cause must be a positive integer status code.*got 'a'"):
        bm.predict_risk(models, newdata, TIMES, cause="a")  # was int()'s ValueError
    with pytest.raises(InputError, match="does not know"):
        bm.predict_risk(object(), newdata, TIMES)
    only1 = bm.competing_risks_models(rotterdam(), "t", "st", "age", cause=[1])
    with pytest.raises(InputError, match="every cause"):
        bm.predict_risk(only1, newdata, TIMES)
