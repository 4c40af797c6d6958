"""bm.predict_risk on cause-specific Cox models with strata and with confidence intervals, against
riskRegression's predict.CauseSpecificCox(se = TRUE) and survfit.coxph (tests/reference/R/absolute_risk.R ->
absolute_risk.json; riskRegression 2022.11.28, survival 3.5.3)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats._checks import ExtrapolationWarning
from conftest import load_reference
from prediction_data import rotterdam

REF = load_reference("absolute_risk")
TIMES = REF["times"]
RHS = "age + meno + grade + np.log(nodes + 1) + hormon"


@pytest.fixture(scope="module")
def data():
    return rotterdam()


@pytest.fixture(scope="module")
def newdata(data):
    return data.iloc[REF["newdata_rows"]]


@pytest.fixture(scope="module")
def csc(data):
    return bm.competing_risks_models(data, "t", "st", RHS, fine_gray=False)


@pytest.fixture(scope="module")
def csc_strata(data):
    return bm.competing_risks_models(data, "t", "st", RHS + " + strata(size)", fine_gray=False)


def column(p: pd.DataFrame, rows, name: str) -> np.ndarray:
    """A predict_risk column as R writes a rows x times matrix: column by column."""
    return p.pivot(index="row", columns="time", values=name).loc[rows].to_numpy().T.reshape(-1)


def assert_matches(p, rows, ref, *, se_rtol=1e-4):
    np.testing.assert_allclose(column(p, rows, "risk"), ref["risk"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(column(p, rows, "std_err"), ref["std_err"], rtol=se_rtol, atol=1e-12)
    np.testing.assert_allclose(column(p, rows, "lower"), ref["lower"], rtol=se_rtol, atol=1e-12)
    np.testing.assert_allclose(column(p, rows, "upper"), ref["upper"], rtol=se_rtol, atol=1e-12)


@pytest.mark.parametrize("cause", [1, 2])
def test_csc_risk_and_standard_error_equal_predict_csc(csc, newdata, cause):
    p = bm.predict_risk(csc, newdata, TIMES, cause=cause)
    assert list(p.columns) == ["row", "time", "risk", "std_err", "lower", "upper"]
    assert list(pd.unique(p["row"])) == list(newdata.index)
    assert_matches(p, newdata.index, REF[f"csc_efron_{cause}"])


def test_csc_breslow_ties(data, newdata):
    m = bm.competing_risks_models(data, "t", "st", RHS, fine_gray=False, ties="breslow")
    assert_matches(bm.predict_risk(m, newdata, TIMES, cause=1), newdata.index, REF["csc_breslow_1"])


def test_fine_gray_models_leave_the_csc_risk_unchanged(data, newdata, csc):
    both = bm.competing_risks_models(data, "t", "st", RHS)
    a, b = bm.predict_risk(both, newdata, TIMES), bm.predict_risk(csc, newdata, TIMES)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("cause", [1, 2])
def test_stratified_csc_uses_each_rows_own_baselines(csc_strata, newdata, cause):
    p = bm.predict_risk(csc_strata, newdata, TIMES, cause=cause)
    assert_matches(p, newdata.index, REF[f"csc_strata_{cause}"])
    # the strata matter: the unstratified models give other risks
    assert np.abs(column(p, newdata.index, "risk") - REF[f"csc_efron_{cause}"]["risk"]).max() > 1e-3


def test_stratified_csc_exponential_form(csc_strata, newdata):
    p = bm.predict_risk(csc_strata, newdata, TIMES, cause=1, product_limit=False, conf_int=False)
    assert list(p.columns) == ["row", "time", "risk"]
    np.testing.assert_allclose(column(p, newdata.index, "risk"), REF["csc_strata_1_exp"], rtol=1e-8, atol=1e-12)


def test_strata_keyword_and_two_strata_columns(data, newdata, csc_strata):
    by_keyword = bm.competing_risks_models(data, "t", "st", RHS, strata="size", fine_gray=False)
    pd.testing.assert_frame_equal(bm.predict_risk(by_keyword, newdata, TIMES), bm.predict_risk(csc_strata, newdata, TIMES))
    two = bm.competing_risks_models(data, "t", "st", RHS, strata=["size", "chemo"], fine_gray=False)
    assert_matches(bm.predict_risk(two, newdata, TIMES, cause=1), newdata.index, REF["csc_strata2_1"])


def test_cox_with_strata_and_its_survfit_limits(data, newdata):
    fit = bm.cox(data, "t", "relapse", RHS + " + strata(size)")
    assert fit.strata == ("size",)
    p = bm.predict_risk(fit, newdata, TIMES)
    np.testing.assert_allclose(column(p, newdata.index, "risk"), REF["cox_strata_risk"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(column(p, newdata.index, "std_err"), REF["cox_strata_std_err"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(column(p, newdata.index, "lower"), REF["cox_strata_lower"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(column(p, newdata.index, "upper"), REF["cox_strata_upper"], rtol=1e-6, atol=1e-12)
    # the same as the survival curves of CoxResult.predict
    s = fit.predict(newdata, TIMES)
    np.testing.assert_allclose(p["risk"], 1 - s["estimate"], rtol=1e-12)
    np.testing.assert_allclose(p["std_err"], s["std_err"], rtol=1e-10)


def test_cox_standard_error(data, newdata):
    p = bm.predict_risk(bm.cox(data, "t", "relapse", RHS), newdata, TIMES)
    np.testing.assert_allclose(column(p, newdata.index, "risk"), REF["cox_risk"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(column(p, newdata.index, "std_err"), REF["cox_std_err"], rtol=1e-6, atol=1e-12)


def test_fine_gray_gives_its_standard_error(data, newdata):
    fg = bm.fine_gray(data, "t", "st", RHS, cause=1)
    p = bm.predict_risk(fg, newdata, [1000, 3000])
    q = fg.predict(newdata, [1000, 3000])
    np.testing.assert_array_equal(p["std_err"].to_numpy(), q["std_err"].to_numpy())
    assert (p["lower"] <= p["risk"]).all() and (p["risk"] <= p["upper"]).all()


def test_limits_bracket_the_risk_and_are_zero_before_the_first_event(csc_strata, newdata):
    p = bm.predict_risk(csc_strata, newdata, [0, 30, 2000], cause=2)
    at0 = p[p.time == 0]
    assert (at0[["risk", "std_err", "lower", "upper"]].to_numpy() == 0).all()
    later = p[p.time == 2000]
    assert ((later.lower < later.risk) & (later.risk < later.upper)).all()


def test_unseen_stratum_level_names_level_and_column(csc_strata, newdata):
    bad = newdata.assign(size=newdata["size"].astype(str).where(np.arange(len(newdata)) != 3, "huge"))
    with pytest.raises(InputError, match=r"column 'size': stratum 'huge' was not in the fitted data"):
        bm.predict_risk(csc_strata, bad, TIMES)
    with pytest.raises(InputError, match=r"no strata column\(s\) 'size'"):
        bm.predict_risk(csc_strata, newdata.drop(columns="size"), TIMES)


def test_hostile_newdata_and_cause(csc_strata, newdata):
    with pytest.raises(InputError, match="hormon"):
        bm.predict_risk(csc_strata, newdata.drop(columns="hormon"), TIMES)
    with pytest.raises(InputError, match="cause 3"):
        bm.predict_risk(csc_strata, newdata, TIMES, cause=3)
    with pytest.raises(InputError, match="age"):
        bm.predict_risk(csc_strata, newdata.assign(age=np.where(np.arange(len(newdata)) == 1, np.nan, newdata.age)),
                        TIMES)
    one = bm.predict_risk(csc_strata, newdata.iloc[[4]], [2000])
    full = bm.predict_risk(csc_strata, newdata, [2000])
    np.testing.assert_allclose(one[["risk", "std_err"]].to_numpy(),
                               full[full.row == newdata.index[4]][["risk", "std_err"]].to_numpy(), rtol=1e-12)


def test_times_beyond_follow_up_warn_and_carry_forward(csc, data, newdata):
    last = float(data["t"].max())
    with pytest.warns(ExtrapolationWarning, match="beyond the last follow-up"):
        p = bm.predict_risk(csc, newdata, [last, last + 1000])
    a, b = p[p.time == last], p[p.time == last + 1000]
    np.testing.assert_array_equal(a["risk"].to_numpy(), b["risk"].to_numpy())


def test_strata_need_fine_gray_off_and_formula_strata_are_checked(data):
    with pytest.raises(InputError, match="fine_gray=False fits the stratified cause-specific Cox models alone"):
        bm.competing_risks_models(data, "t", "st", "age + strata(size)")
    with pytest.raises(InputError, match="strata\\(\\) must be a term of its own"):
        bm.cox(data, "t", "relapse", "age + strata(size):grade")
    with pytest.raises(InputError, match="strata\\(\\) terms only"):
        bm.cox(data, "t", "relapse", "strata(size)")
    fit = bm.competing_risks_models(data, "t", "st", "age + strata(size)", fine_gray=False)
    assert set(fit.summary["model"]) == {"cause-specific Cox"}
    assert "strata: size" in " ".join(fit._notes())


def test_many_rows_agree_with_small_blocks(csc_strata, data, monkeypatch):
    from bmstats.estimate import risk_influence

    rows = data.iloc[::7]
    full = bm.predict_risk(csc_strata, rows, [500, 2500])
    monkeypatch.setattr(risk_influence, "_BLOCK_BYTES", 8 * 4000 * 3)  # a few rows per block
    small = bm.predict_risk(csc_strata, rows, [500, 2500])
    pd.testing.assert_frame_equal(full, small, rtol=1e-12)
