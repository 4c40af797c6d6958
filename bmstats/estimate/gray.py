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
    a_kr = c_kr + (S_r(u) + F_r(u) - 1) B_kr / (Y_r - d_r),   b_kr = -(1 - F_r(u)) B_kr / (Y_r - d_r)
(the discrete-time derivatives of the Aalen-Johansen and Kaplan-Meier estimates at u), and
sigma_kk' = sum_r sum_u a_kr a_k'r R_r dGamma_0 + b_kr b_k'r d'_r, the compensator of the cause of
interest taken under the null hypothesis.  Strata add scores and covariances.  The statistic is
z' sigma^- z on K - 1 df over the first K - 1 groups.  Without competing events and without ties this is
exactly the log-rank test.

Known difference: R's cmprsk computes the covariance with a finite-sample estimator that its
documentation does not give (it differs from the log-rank variance even without competing events and
ties).  This implementation follows the paper's linearisation; its statistics differ from cuminc's by
0.26% (relapse) and 0.13% (death) on Rotterdam, 1.3% on Rotterdam stratified with rho = 1, and up to 3.6%
on the small heavily tied data set (tests/test_nonparametric_cif.py records the tolerance).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bmstats.estimate.counts import sum_last_axis


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


def gray_score_and_variance(n_risk, d1, d2, rho=0.0):
    """Score vector z (K) and covariance (K x K) in one stratum; arrays are (times, groups)."""
    n_risk = n_risk.astype(float)
    d1 = d1.astype(float)
    d2 = d2.astype(float)
    d = d1 + d2
    surv_before, surv, f_before, f = _group_curves(n_risk, d1, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = np.where(n_risk > 0, n_risk * (1 - f_before) / surv_before, 0.0)
    risk_total = sum_last_axis(risk)
    d1_total = sum_last_axis(d1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dgamma0 = np.where(risk_total > 0, d1_total / risk_total, 0.0)
        share = np.where(risk_total[:, None] > 0, risk / risk_total[:, None], 0.0)  # (T, K)
    if rho != 0:
        weight = np.concatenate([[1.0], np.cumprod(1 - dgamma0)[:-1]]) ** rho
    else:
        weight = np.ones_like(risk_total)
    z = (weight[:, None] * (d1 - share * d1_total[:, None])).sum(axis=0)

    # only times with an event carry variance; the curves above needed every row
    keep = sum_last_axis(d) > 0
    n_risk, d1, d2, d, share, weight = n_risk[keep], d1[keep], d2[keep], d[keep], share[keep], weight[keep]
    surv, f, f_before, d1_total = surv[keep], f[keep], f_before[keep], d1_total[keep]
    n_groups = n_risk.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.where(d1 > 0, d1 / (1 - f_before), 0.0)
        scale = np.where(n_risk > d, 1 / (n_risk - d), 0.0)
    # under H0 the cause-of-interest compensator of group r is R_r dGamma_0 = share_r d
    w1 = share * d1_total[:, None]
    cov = np.zeros((n_groups, n_groups))
    for r in range(n_groups):  # a loop over groups, not rows
        # c[:, k] = L (delta_kr - share_k): the weight of group r's increments in score k
        c = -weight[:, None] * share
        c[:, r] += weight
        contrib = c * jump[:, r, None]
        b_sum = contrib.sum(axis=0) - np.cumsum(contrib, axis=0)  # sum over t > u
        a = c + ((surv[:, r] + f[:, r] - 1) * scale[:, r])[:, None] * b_sum
        b = -((1 - f[:, r]) * scale[:, r])[:, None] * b_sum
        cov += (a * w1[:, r, None]).T @ a + (b * d2[:, r, None]).T @ b
    return z, cov


def gray_test(counts, causes, rho=0.0) -> pd.DataFrame:
    """Gray's test for each cause from counts with strata as blocks and groups as columns: statistic,
    df and p_value (as cmprsk::cuminc's Tests)."""
    n_groups = counts.n_columns
    rows = []
    for k in causes:
        z = np.zeros(n_groups)
        cov = np.zeros((n_groups, n_groups))
        for s in range(counts.n_blocks):
            sl = counts.rows(s)
            if sl.stop == sl.start:
                continue
            d1 = counts.n_event[sl, :, k - 1]
            d2 = sum_last_axis(counts.n_event[sl, :, :]) - d1
            zs, covs = gray_score_and_variance(counts.n_risk[sl], d1, d2, rho)
            z += zs
            cov += covs
        zz, vv = z[:-1], cov[:-1, :-1]
        statistic = float(zz @ np.linalg.pinv(vv, hermitian=True) @ zz)
        df = n_groups - 1
        rows.append({"cause": k, "statistic": statistic, "df": df, "p_value": float(stats.chi2.sf(statistic, df))})
    return pd.DataFrame(rows)
