"""The cumulative-sum rewrite of the Fine-Gray sandwich variance against the double sums of the paper.

A direct O(n^2) transcription of Fine & Gray (1999), section 3 (eta_i, psi_i with q(u) and pi(u)), with the
censoring distribution per censoring group, on small tied data.  With several groups, q_g(u) is formed as
cmprsk's crr forms it (found by black-box comparison with crr's ``var``): competing subjects of group g,
and only group g's own events of interest in the jumps d_k^(g)/S0_k.  Both the one-group and the cengroup
variance equal crr's (test_finegray_reference); here the double sums check the fast code for several
groups and the baseline's influence function used by ``predict``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from tests.conftest import REFERENCE


def brute_force(t, s, X, grp, beta, cause=1, t_pred=None):
    n, p = X.shape
    e = np.exp(X @ beta)
    groups = np.unique(grp)

    def G_left(g, u):  # censoring KM of group g just before u (0 after the group's last time, as crr)
        tg, sg = t[grp == g], s[grp == g]
        if not (tg >= u).any():
            return 0.0
        return np.prod([1 - ((tg == v) & (sg == 0)).sum() / (tg >= v).sum() for v in np.unique(tg[(sg == 0) & (tg < u)])])

    uk = np.unique(t[s == cause])
    K = len(uk)
    W = np.zeros((n, K))
    for k, u in enumerate(uk):
        for i in range(n):
            if t[i] >= u:
                W[i, k] = 1.0
            elif s[i] not in (0, cause):
                W[i, k] = G_left(grp[i], u) / G_left(grp[i], t[i])
    dN = np.array([[(t[i] == u) and s[i] == cause for u in uk] for i in range(n)], dtype=float)
    S0 = (W * e[:, None]).sum(0)
    xbar = np.array([(W[:, k] * e) @ X / S0[k] for k in range(K)])
    dL = dN.sum(0) / S0
    eta = np.zeros((n, p))
    for i in range(n):
        for k in range(K):
            eta[i] += (X[i] - xbar[k]) * (dN[i, k] - W[i, k] * e[i] * dL[k])
    info = sum(dN[:, k].sum() * (((W[:, k] * e)[:, None] * X).T @ X / S0[k] - np.outer(xbar[k], xbar[k])) for k in range(K))

    def psi_for(qfun):
        out = np.zeros((n,) + np.shape(qfun(groups[0], uk[0])))
        for g in groups:
            ing = grp == g
            for u in np.unique(t[ing & (s == 0)]):
                Y = (ing & (t >= u)).sum()
                dNc = (ing & (t == u) & (s == 0)).sum()
                q = qfun(g, u)
                for j in np.flatnonzero(ing):
                    dM = float(t[j] == u and s[j] == 0) - float(t[j] >= u) * dNc / Y
                    out[j] += q / Y * dM
        return out

    comp = (s != 0) & (s != cause)
    # crr's censoring term with cengroup: q_g counts only group g's own events of interest at each u_k
    dL_g = {g: np.array([((t == u) & (s == cause) & (grp == g)).sum() for u in uk]) / S0 for g in groups}

    def q_beta(g, u):
        return sum(((X[i] - xbar[k]) * W[i, k] * e[i] * dL_g[g][k]
                    for k in range(K) if uk[k] >= u for i in np.flatnonzero(comp & (grp == g) & (t < u))), np.zeros(p))

    psi = psi_for(q_beta)
    inv = np.linalg.inv(info)
    infl = (eta + psi) @ inv
    out = {"info": info, "cov": infl.T @ infl, "eta": eta, "psi": psi}
    if t_pred is not None:
        keep = uk <= t_pred
        H = (dL[keep, None] * xbar[keep]).sum(0)

        def q_lam(g, u):
            return sum((W[i, k] * e[i] * dL_g[g][k] / S0[k]
                        for k in range(K) if u <= uk[k] <= t_pred for i in np.flatnonzero(comp & (grp == g) & (t < u))), 0.0)

        mart = ((dN - W * e[:, None] * dL[None, :]) / S0[None, :])[:, keep].sum(1)
        out["if_lambda"] = mart - infl @ H + psi_for(q_lam)
        out["lambda"] = dL[keep].sum()
    return out


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "fg_ties.csv").iloc[:120].copy()
    d["site"] = np.arange(len(d)) % 3
    return d


@pytest.mark.parametrize("cengroup", [None, "site", "site_short"])
def test_sandwich_equals_double_sums(data, cengroup):
    if cengroup == "site_short":  # site 2's follow-up ends at 5, before the last events (weights 0 there)
        data = data.assign(time=np.where(data.site == 2, np.minimum(data.time, 5), data.time))
        assert data.time[data.status == 1].max() > 5 and ((data.site == 2) & (data.status == 2)).any()
        cengroup = "site"
    res = bm.fine_gray(data, "time", "status", "x1 + x2", cengroup=cengroup)
    X = data[["x1", "x2"]].to_numpy(float)
    grp = data["site"].to_numpy() if cengroup else np.zeros(len(data), dtype=int)
    bf = brute_force(data.time.to_numpy(float), data.status.to_numpy(), X, grp, res.coef.to_numpy(), t_pred=4)
    assert np.abs(bf["psi"]).max() > 1e-3  # the censoring term is really exercised
    np.testing.assert_allclose(res.information.to_numpy(), bf["info"], rtol=1e-10)
    np.testing.assert_allclose(res.cov.to_numpy(), bf["cov"], rtol=1e-9)
    # baseline at the covariate mean, its influence function and the predict() standard error built on it
    prob, rs = res._prob, res._rs
    from bmstats.estimate.finegray_variance import cumhaz_influence

    X_mean = X.mean(0)
    bf_c = brute_force(data.time.to_numpy(float), data.status.to_numpy(), X - X_mean, grp, res.coef.to_numpy(), t_pred=4)
    IF = np.empty(len(data))
    IF[prob.order] = cumhaz_influence(prob, rs, res._influence_beta, 4.0)
    np.testing.assert_allclose(IF, bf_c["if_lambda"], rtol=1e-9, atol=1e-12)
    pred = res.predict(data.iloc[[0, 5]], 4.0)
    x = X[[0, 5]] - X_mean
    infl_b = res.influence.to_numpy()
    g = IF[:, None] / bf_c["lambda"] + infl_b @ x.T
    np.testing.assert_allclose(pred["std_err_cloglog"].to_numpy(), np.sqrt((g**2).sum(0)), rtol=1e-9)
