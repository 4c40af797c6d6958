"""bm.cox against R's coxph / cox.zph / survfit (survival 3.5.3): tests/reference/R/cox.R -> cox.json."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats.datasets import load_gbsg, load_rotterdam
from conftest import REFERENCE, load_reference

REF = load_reference("cox")
RHS = "age + meno + C(size) + grade + np.log(nodes + 1) + np.log(pgr + 1) + hormon + chemo"
RHS_S = "age + meno + C(size) + grade + np.log(nodes + 1) + np.log(pgr + 1) + chemo"
RHS_M = "age + C(size) + grade + np.log(nodes + 1) + np.log(pgr + 1) + hormon + chemo"
RHS_G = "age + meno + size + grade + nodes + pgr + er + hormon"


def rotterdam() -> pd.DataFrame:
    d = load_rotterdam()
    d["size"] = pd.Categorical(d["size"].astype(str), categories=["<=20", "20-50", ">50"])
    d["t"] = np.where(d.recur == 1, d.rtime, d.dtime)
    d["st"] = np.where(d.recur == 1, 1, np.where(d.death == 1, 2, 0))
    d["relapse"] = (d.st == 1).astype(int)
    d["death_norel"] = (d.st == 2).astype(int)
    d["w"] = 1 + (d.pid % 3) / 2
    d["grp"] = d.pid % 50
    d["tmonth"] = np.ceil(d.t / 30.4375)
    return d


def split() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "rotterdam_split.csv")
    d["size"] = pd.Categorical(d["size"], categories=["<=20", "20-50", ">50"])
    return d


def bladder() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "bladder2.csv")
    d["gap"] = d["stop"] - d["start"]
    return d


FITS = {
    "rott_efron": lambda: bm.cox(rotterdam(), "t", "relapse", RHS),
    "rott_breslow": lambda: bm.cox(rotterdam(), "t", "relapse", RHS, ties="breslow"),
    "rott_death_efron": lambda: bm.cox(rotterdam(), "t", "death_norel", RHS),
    "rott_strata": lambda: bm.cox(rotterdam(), "t", "relapse", RHS_S, strata="hormon"),
    "rott_strata_breslow": lambda: bm.cox(rotterdam(), "t", "relapse", RHS_S, strata="hormon", ties="breslow"),
    "rott_cluster_grp": lambda: bm.cox(rotterdam(), "t", "relapse", RHS, cluster="grp"),
    "rott_robust_id": lambda: bm.cox(rotterdam(), "t", "relapse", RHS, robust=True),
    "rott_weights": lambda: bm.cox(rotterdam(), "t", "relapse", RHS, weights="w"),
    "rott_weights_breslow_robust": lambda: bm.cox(rotterdam(), "t", "relapse", RHS, weights="w", ties="breslow",
                                                  cluster="grp"),
    "rott_ties_efron": lambda: bm.cox(rotterdam(), "tmonth", "relapse", RHS),
    "rott_ties_breslow": lambda: bm.cox(rotterdam(), "tmonth", "relapse", RHS, ties="breslow"),
    "rott_ties_weights_strata": lambda: bm.cox(rotterdam(), "tmonth", "relapse", RHS_S, strata="hormon", weights="w"),
    "rott_split_same": lambda: bm.cox(split(), "tstop", "relapse", RHS, entry="tstart"),
    "rott_split_tv": lambda: bm.cox(split(), "tstop", "relapse", RHS + " + hormon_late", entry="tstart", cluster="pid"),
    "rott_split_tv_breslow_w": lambda: bm.cox(split(), "tstop", "relapse", RHS_M + " + hormon_late", entry="tstart",
                                              cluster="pid", weights="w", ties="breslow", strata="meno"),
    "gbsg_efron": lambda: bm.cox(load_gbsg(), "rfstime", "status", RHS_G),
    "gbsg_breslow": lambda: bm.cox(load_gbsg(), "rfstime", "status", RHS_G, ties="breslow"),
    "bladder_ag": lambda: bm.cox(bladder(), "stop", "event", "rx + number + size", entry="start", cluster="id"),
    "bladder_pwp_total": lambda: bm.cox(bladder(), "stop", "event", "rx + number + size", entry="start",
                                        cluster="id", strata="enum"),
    "bladder_pwp_gap": lambda: bm.cox(bladder(), "gap", "event", "rx + number + size", cluster="id", strata="enum"),
}

_cache: dict = {}


def fit(name):
    if name not in _cache:
        _cache[name] = FITS[name]()
    return _cache[name]


@pytest.mark.parametrize("name", sorted(FITS))
def test_coefficients_and_standard_errors(name):
    ref, res = REF[name], fit(name)
    np.testing.assert_allclose(res.coef.to_numpy(), ref["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(res.summary["std_err"].to_numpy(), ref["se"], rtol=1e-5, atol=0)
    if "naive_se" in ref:
        assert res.robust
        np.testing.assert_allclose(res.summary["naive_std_err"].to_numpy(), ref["naive_se"], rtol=1e-5)
    else:
        assert not res.robust


@pytest.mark.parametrize("name", sorted(FITS))
def test_loglik_tests_and_counts(name):
    ref, res = REF[name], fit(name)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=1e-9)
    assert res.n == ref["n"] and res.n_events == ref["nevent"]
    np.testing.assert_allclose(res.tests.loc["score", "statistic"], ref["score"], rtol=1e-6)
    np.testing.assert_allclose(res.tests.loc["wald", "statistic"], ref["wald"], rtol=1e-5)


@pytest.mark.parametrize("name", sorted(FITS))
def test_concordance(name):
    ref, res = REF[name], fit(name)
    np.testing.assert_allclose(res.concordance, ref["concordance"], atol=1e-9)


@pytest.mark.parametrize("name", sorted(n for n in FITS if "zph" in REF[n]))
def test_ph_test_equals_cox_zph(name):
    ref, res = REF[name]["zph"], fit(name)
    z = res.ph_test()
    rows = [_zph_row(r) for r in ref["rows"]] if name.startswith("rott") else ref["rows"]
    assert list(z.table.index) == rows
    np.testing.assert_allclose(z.table["statistic"].to_numpy(), ref["chisq"], rtol=1e-4)
    np.testing.assert_allclose(z.table["df"].to_numpy(), ref["df"])
    np.testing.assert_allclose(z.table["p_value"].to_numpy(), ref["p"], rtol=1e-4, atol=1e-12)
    k = len(ref["x"])
    np.testing.assert_allclose(z.x[:k], ref["x"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(z.time[:k], ref["time"])
    if all(len(cols) == 1 for cols in res.design.terms.values()):
        # scaled Schoenfeld residuals (R collapses multi-column terms for its plot: compared only without them);
        # the order of rows tied on time is arbitrary, so compare complete tie groups sorted by residual
        y = np.asarray(ref["y"]).reshape(k, -1)
        full = np.asarray(ref["time"]) < ref["time"][-1]
        ours = z.residuals.to_numpy()[:k][full]
        t = z.time[:k][full]
        a = ours[np.lexsort((ours[:, 0], t))]
        b = y[full][np.lexsort((y[full][:, 0], t))]
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _zph_row(r: str) -> str:
    return {"size": "C(size)", "log(nodes + 1)": "np.log(nodes + 1)", "log(pgr + 1)": "np.log(pgr + 1)"}.get(r, r)


@pytest.mark.parametrize("name", sorted(n for n in FITS if "baseline" in REF[n]))
def test_baseline_survival_equals_survfit(name):
    ref, res = REF[name]["baseline"], fit(name)
    base = res.baseline_at(sorted(set(ref["time"])))
    if ref.get("strata"):
        labels = [s.split("=")[1] for s in ref["strata"]]
        got = [base[(base.stratum.astype(str) == lab) & (base.time == t)].estimate.item()
               for lab, t in zip(labels, ref["time"])]
    else:
        got = base.estimate.to_numpy()
    np.testing.assert_allclose(got, ref["surv"], rtol=1e-6)
    np.testing.assert_allclose(res.means.to_numpy(), REF[name]["means"], rtol=1e-9)


@pytest.mark.parametrize("name", ["rott_efron", "rott_breslow", "rott_weights", "gbsg_efron"])
def test_predict_with_confidence_limits_equals_survfit(name):
    ref, res = REF["pred_" + name], fit(name)
    data = load_gbsg() if name.startswith("gbsg") else rotterdam()
    pred = res.predict(data.iloc[[0, 5, 99]], ref["time"])
    for ours, theirs in [("estimate", "surv"), ("lower", "lower"), ("upper", "upper"), ("std_err", "std_err"),
                         ("cumulative_hazard", "cumhaz")]:
        got = pred[ours].to_numpy().reshape(3, -1).T
        np.testing.assert_allclose(got, ref[theirs], rtol=1e-6)


@pytest.mark.parametrize("coretype", [None, "Haswell", "Prescott"])
def test_concordance_does_not_depend_on_the_blas_kernel(coretype):
    """OpenBLAS kernels differ in how they round rows of X @ beta; tied risk scores must stay tied
    (this failed under a kernel with FMA before the linear predictor was made tie-exact)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    code = (
        "import sys; sys.path.insert(0, 'tests'); import test_cox_reference as t; "
        "print(repr(t.FITS['bladder_pwp_gap']().concordance))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    np.testing.assert_allclose(float(out.stdout.strip()), REF["bladder_pwp_gap"]["concordance"], atol=1e-9)
