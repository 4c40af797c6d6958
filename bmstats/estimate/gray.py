"""Gray's K-sample test for equality of the cumulative incidence of a competing risk.

Gray RJ. A class of K-sample tests for comparing the cumulative incidence of a competing risk.
Ann Stat 1988;16:1141-1154.

For the cause of interest, group r has the subdistribution hazard Gamma_r = int dF_r / (1 - F_r(t-)) and
the 'subdistribution risk set' R_r(t) = Y_r(t) (1 - F_r(t-)) / S_r(t-) (Y at risk, S the all-cause KM and F
the Aalen-Johansen estimate of the group).  The score for group k is
    z_k = sum_t L(t) { d_k(t) - R_k(t) d(t) / R(t) },   R = sum_r R_r, d = sum_r d_r,
with weight L(t) = (1 - F0(t-))^rho, F0 from the pooled subdistribution hazard d / R.  Its covariance is
the martingale variance of the linearised statistic (Gray 1988, section 2): with
c_kr = L (delta_kr - R_k / R) and B_kr(u) = sum_{t > u} c_kr(t) d_r(t) / (1 - F_r(t-)),
    z_k ~ sum_r sum_u a_kr(u) dM_r(u) + b_kr(u) dM'_r(u)        (M: cause of interest, M': other causes)
    a_kr = c_kr + (S_r(u-) + F_r(u) - 1) B_kr / Y_r,   b_kr = -(1 - F_r(u)) B_kr / Y_r,
and sigma_kk' = sum_r sum_u a_kr a_k'r d_r + b_kr b_k'r d'_r.  Strata add scores and covariances.  The
statistic is z' sigma^- z on K - 1 df over the first K - 1 groups.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bmstats.estimate.counts import aggregate_counts


def _group_curves(n_risk, d1, d):
    """Per group (columns): S(t-), F(t-) and F(t) on the stratum's time grid."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(n_risk > 0, d / n_risk, 0.0)
        h1 = np.where(n_risk > 0, d1 / n_risk, 0.0)
    surv = np.cumprod(1 - h, axis=0)
    surv_before = np.vstack([np.ones((1, n_risk.shape[1])), surv[:-1]])
    f = np.cumsum(surv_before * h1, axis=0)
    f_before = np.vstack([np.zeros((1, n_risk.shape[1])), f[:-1]])
    return surv_before, surv, f_before, f


def gray_score_and_variance(n_risk, d1, d2, rho=0.0, variant=0):
    """Score vector z (K) and covariance (K x K) in one stratum; arrays are (times, groups)."""
    n_risk = n_risk.astype(float)
    d1 = d1.astype(float)
    d2 = d2.astype(float)
    d = d1 + d2
    surv_before, surv, f_before, f = _group_curves(n_risk, d1, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = np.where(n_risk > 0, n_risk * (1 - f_before) / surv_before, 0.0)
    risk_total = risk.sum(axis=1)
    d1_total = d1.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dgamma0 = np.where(risk_total > 0, d1_total / risk_total, 0.0)
    if rho != 0:
        one_minus_f0 = np.cumprod(1 - dgamma0)
        weight = np.concatenate([[1.0], one_minus_f0[:-1]]) ** rho
    else:
        weight = np.ones_like(risk_total)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(risk_total[:, None] > 0, risk / risk_total[:, None], 0.0)  # (T, K)
    z = (weight[:, None] * (d1 - share * d1_total[:, None])).sum(axis=0)

    n_groups = n_risk.shape[1]
    eye = np.eye(n_groups)
    # c[t, k, r] = L (delta_kr - share_k)
    c = weight[:, None, None] * (eye[None, :, :] - share[:, :, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.where(d1 > 0, d1 / (1 - f_before), 0.0)  # (T, r)
    contrib = c * jump[:, None, :]
    # B[t] = sum over later times
    later = np.cumsum(contrib[::-1], axis=0)[::-1]
    b_sum = np.vstack([later[1:], np.zeros((1, n_groups, n_groups))])
    if variant == 0:
        coef_a = surv_before + f - 1
        denom = n_risk
    else:
        coef_a = surv + f - 1
        denom = n_risk - d
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(denom > 0, 1 / denom, 0.0)
    a = c + coef_a[:, None, :] * b_sum * scale[:, None, :]
    b = -(1 - f)[:, None, :] * b_sum * scale[:, None, :]
    # under H0 the cause-of-interest compensator of group r is R_r dGamma_0 = share_r d
    expected1 = share * d1_total[:, None]
    cov = np.einsum("tkr,tlr,tr->kl", a, a, expected1) + np.einsum("tkr,tlr,tr->kl", b, b, d2)
    return z, cov


def gray_test(time, status, group, n_groups, stratum, n_strata, causes, rho=0.0, variant=0) -> pd.DataFrame:
    """Gray's test for each cause: statistic, df, p_value (as cmprsk::cuminc's Tests)."""
    n_causes = int(status.max())
    counts = aggregate_counts(time, status, block=stratum, column=group, n_blocks=n_strata,
                              n_columns=n_groups, n_causes=n_causes)
    rows = []
    for k in causes:
        z = np.zeros(n_groups)
        cov = np.zeros((n_groups, n_groups))
        for s in range(counts.n_blocks):
            sl = counts.rows(s)
            if sl.stop == sl.start:
                continue
            d1 = counts.n_event[sl, :, k - 1]
            d2 = counts.n_event[sl, :, :].sum(axis=2) - d1
            zs, covs = gray_score_and_variance(counts.n_risk[sl], d1, d2, rho, variant)
            z += zs
            cov += covs
        zz, vv = z[:-1], cov[:-1, :-1]
        statistic = float(zz @ np.linalg.solve(vv, zz))
        df = n_groups - 1
        rows.append({"cause": k, "statistic": statistic, "df": df, "p_value": float(stats.chi2.sf(statistic, df))})
    return pd.DataFrame(rows)
