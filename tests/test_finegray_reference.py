"""Fine-Gray against R: cmprsk 2.2-11 crr / predict.crr and mets 1.3.2 FGprediid (tests/reference/R/finegray.R)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from tests.conftest import REFERENCE, load_reference

REF = load_reference("finegray")
ROTTERDAM_FORMULA = "age + meno + size + grade + np.log(nodes + 1) + np.log(pgr + 1) + hormon + chemo"
TIES_FORMULA = "x1 + x2 + grp"


def rotterdam() -> pd.DataFrame:
    r = bm.datasets.load_rotterdam()
    r["time"] = np.where(r.recur == 1, r.rtime, r.dtime)
    r["status"] = np.where(r.recur == 1, 1, np.where(r.death == 1, 2, 0))
    return r


def ties() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "fg_ties.csv")


DATA = {"rotterdam": (rotterdam(), ROTTERDAM_FORMULA, "hormon"), "ties": (ties(), TIES_FORMULA, "clinic")}
FITS: dict = {}


def fit(key: str):
    if key not in FITS:
        ref = REF["fits"][key]
        data, formula, group = DATA[key.split("_")[0]]
        FITS[key] = bm.fine_gray(data, "time", "status", formula, cause=ref["cause"],
                                 cengroup=group if ref["cengroup"] else None)
    return FITS[key]


PLAIN = [k for k, v in REF["fits"].items() if not v["cengroup"]]
DEFAULT_GTOL = [k for k in PLAIN if REF["fits"][k]["gtol"] == 1e-6]
TIGHT_GTOL = [k for k in PLAIN if REF["fits"][k]["gtol"] == 1e-12]
CENGROUP = [k for k, v in REF["fits"].items() if v["cengroup"]]


def test_reference_has_heavy_ties():
    d = ties()
    assert d["time"].nunique() <= 8 and len(d) == 600
    assert (d["status"] == 0).any() and (d["status"] == 2).any()


@pytest.mark.parametrize("key", DEFAULT_GTOL)
def test_coef_within_crr_default_convergence(key):
    ref = REF["fits"][key]
    res = fit(key)
    assert list(res.coef.index) != [] and len(res.coef) == len(ref["coef"])
    np.testing.assert_allclose(res.coef.to_numpy(), ref["coef"], rtol=0, atol=5e-5)


@pytest.mark.parametrize("key", TIGHT_GTOL)
def test_coef_equals_crr_tight(key):
    """gtol = 1e-12: crr reaches it where it says converged; elsewhere it stops short (its own score is
    ~1e-6), so its coefficients plus one Newton step from its own score and information are compared."""
    ref = REF["fits"][key]
    res = fit(key)
    crr = np.asarray(ref["coef"])
    if not ref["converged"]:
        crr = crr + np.linalg.solve(np.asarray(ref["inf"]), np.asarray(ref["score"]))
    np.testing.assert_allclose(res.coef.to_numpy(), crr, rtol=0, atol=1e-8)


@pytest.mark.parametrize("key", PLAIN)
def test_sandwich_se_equals_crr(key):
    ref = REF["fits"][key]
    res = fit(key)
    np.testing.assert_allclose(res.summary["std_err"].to_numpy(), ref["se"], rtol=1e-4)
    np.testing.assert_allclose(res.cov.to_numpy(), ref["var"], rtol=1e-3, atol=1e-4 * np.abs(ref["var"]).max())


@pytest.mark.parametrize("key", PLAIN + CENGROUP)
def test_loglik_information_score(key):
    ref = REF["fits"][key]
    res = fit(key)
    assert res.loglik == pytest.approx(ref["loglik"], rel=1e-10)
    assert res.loglik_null == pytest.approx(ref["loglik_null"], rel=1e-10)
    np.testing.assert_allclose(res.information.to_numpy(), ref["inf"], rtol=1e-6, atol=1e-8)
    assert res.n == ref["n"]


@pytest.mark.parametrize("key", CENGROUP)
def test_cengroup_coef_and_se(key):
    """Per-group censoring weights give crr's coefficients exactly, and the censoring term of the variance
    formed as crr forms it (q_g from group g's competing subjects and its own events of interest; see
    finegray_variance) gives crr's sandwich: observed agreement ~2e-9 relative in the standard errors."""
    ref = REF["fits"][key]
    res = fit(key)
    np.testing.assert_allclose(res.coef.to_numpy(), ref["coef"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(res.summary["std_err"].to_numpy(), ref["se"], rtol=1e-6)
    np.testing.assert_allclose(res.cov.to_numpy(), ref["var"], rtol=1e-5, atol=1e-6 * np.abs(ref["var"]).max())
    plain = fit(key.replace("cengroup", "1e-12"))
    assert not np.allclose(res.coef.to_numpy(), plain.coef.to_numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("key", PLAIN + CENGROUP)
def test_baseline_and_predict_equal_predict_crr(key):
    ref = REF["fits"][key]
    res = fit(key)
    np.testing.assert_allclose(res.baseline["time"].to_numpy(), ref["uftime"])
    np.testing.assert_allclose(res.baseline["cumulative_hazard"].to_numpy(), ref["cumhaz"], rtol=1e-6)
    data = DATA[key.split("_")[0]][0]
    rows = data.iloc[ref["predict_rows"]]
    times = np.asarray(ref["uftime"])
    pick = np.unique(np.linspace(0, len(times) - 1, 25).astype(int))
    pred = res.predict(rows, times[pick])
    expected = np.asarray(ref["predict"])[pick]  # (times, rows)
    got = pred.pivot(index="time", columns="row", values="estimate").loc[times[pick], rows.index].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-10)


def test_predict_confidence_limits_equal_mets():
    """mets' FGprediid (iid decomposition of baseline and beta) gives se of log F on untied data;
    ours is se of log(-log(1 - F)), converted by the delta method: se_logF = std_err_cloglog * H exp(-H) / F."""
    ref = REF["mets"]["fits"]["c1"]
    data = rotterdam()
    data["time"] = data["time"] + data["pid"] * REF["mets"]["jitter"]
    res = bm.fine_gray(data, "time", "status", ROTTERDAM_FORMULA, cause=1)
    np.testing.assert_allclose(res.coef.to_numpy(), ref["coef"], rtol=0, atol=5e-5)
    np.testing.assert_allclose(res.summary["std_err"].to_numpy(), ref["se"], rtol=1e-4)
    rows = data.iloc[ref["rows"]]
    for block in ref["predictions"]:
        pred = res.predict(rows, block["time"])
        F, H = pred["estimate"].to_numpy(), pred["cumulative_hazard"].to_numpy()
        np.testing.assert_allclose(F, block["pred"], rtol=1e-5)
        se_log = pred["std_err_cloglog"].to_numpy() * H * np.exp(-H) / F
        np.testing.assert_allclose(se_log, block["se_log"], rtol=1e-4)
        assert np.all(pred["lower"] < F) and np.all(F < pred["upper"])


def test_cengroup_group_followup_ends_before_last_events():
    """A censoring group whose follow-up ends before the last events of interest: crr takes that group's
    G(u-) as 0 there, so its competing subjects leave the later risk sets; coefficients, standard errors,
    log pseudo-likelihood and baseline then equal crr's (hand-made data in tests/reference/R/finegray.R)."""
    ref = REF["short_followup"]
    data = pd.DataFrame(ref["data"])
    b = data["clinic"] == "B"
    assert data.loc[b, "time"].max() < data.loc[data.status == 1, "time"].max() and (data.status[b] == 2).any()
    res = bm.fine_gray(data, "time", "status", "x1 + x2", cengroup="clinic")
    np.testing.assert_allclose(res.coef.to_numpy(), ref["coef"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.summary["std_err"].to_numpy(), ref["se"], rtol=1e-6)
    np.testing.assert_allclose(res.cov.to_numpy(), ref["var"], rtol=1e-6)
    assert res.loglik == pytest.approx(ref["loglik"], rel=1e-10)
    np.testing.assert_allclose(res.baseline["time"].to_numpy(), ref["uftime"])
    np.testing.assert_allclose(res.baseline["cumulative_hazard"].to_numpy(), ref["cumhaz"], rtol=1e-8)
