"""Test of the proportional hazards assumption of a Cox fit: the score test of R's ``cox.zph`` (survival 3.x).

Grambsch & Therneau (1994). For a time transform ``g`` the model is extended with the time-varying terms
``g(t) x``; the test is the score test of their coefficients being zero, at the fitted ``beta`` (so the
score of the original coefficients is zero):

    T = U2' (I22 - I21 I11^-1 I12)^-1 U2,   U2 = sum over event times of g(t_k) (sum of x of the deaths
    - expected),   I_ab = sum_k g_k^(a+b-2) (information contribution at t_k)

per term (the columns of one term, with every original coefficient as a nuisance parameter) and GLOBAL
(all columns). This is the exact score test of survival 3.x, not the approximation of survival 2.x.
Information contributions use the fit's tie handling (Efron steps within tied times) and case weights;
the blocks are accumulated with the same per-row sums as the fit, never as an n x p x p array.

``transform="km"``: ``g(t) = 1 - KM(t-)``, the left-continuous Kaplan-Meier estimate of the pooled data
(all strata, counting-process risk sets, unweighted even in a weighted fit), as cox.zph. Also "rank" (rank of the
event time among the event rows), "identity" and any callable of the time.

Scaled Schoenfeld residuals (for plotting beta(t)): ``beta + d * V r_i`` for each event row, with ``r_i`` the
Schoenfeld residual, ``V`` the model variance and ``d`` the number of events.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError
from bmstats.estimate._result import TestResult, frozen_copy
from bmstats.estimate.riskset import risk_sets

__all__ = ["ph_test", "PHTestResult"]


@dataclass(frozen=True, repr=False)
class PHTestResult(TestResult):
    """``statistic``, ``df``, ``p_value``: the GLOBAL test; ``table`` (index term, plus GLOBAL): statistic,
    df, p_value. ``x`` transformed event times, ``time`` event times, ``residuals`` scaled Schoenfeld
    residuals (one column per coefficient, one row per event)."""

    _table: pd.DataFrame
    _x: np.ndarray
    _time: np.ndarray
    _residuals: pd.DataFrame
    transform: str
    _coef: pd.Series = field(repr=False)
    _terms: dict = field(repr=False)

    _title = "Test of proportional hazards (score test for g(t) x terms, as cox.zph)"

    @property
    def table(self) -> pd.DataFrame:
        return frozen_copy(self._table)

    @property
    def x(self) -> np.ndarray:
        return frozen_copy(self._x)

    @property
    def time(self) -> np.ndarray:
        return frozen_copy(self._time)

    @property
    def residuals(self) -> pd.DataFrame:
        return frozen_copy(self._residuals)

    @property
    def coef(self) -> pd.Series:
        return frozen_copy(self._coef)

    @property
    def terms(self) -> dict[str, list[str]]:
        """term -> its coefficient columns."""
        return {k: list(v) for k, v in self._terms.items()}

    def _tidy(self) -> pd.DataFrame:
        return self._table

    def _notes(self) -> list[str]:
        return [f"time transform: {self.transform}; GLOBAL: chi-square = {self.statistic:.4f} on {self.df} df, "
                f"p = {self.p_value:.4g}"]

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_schoenfeld(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("Scaled Schoenfeld residuals against time, one panel per term", "plot_schoenfeld")


def _transform_times(fit, transform) -> np.ndarray:
    """g(t_k) at each (stratum, event time) index of the fit."""
    model = fit._model
    rs = model.rs
    if callable(transform):
        return np.asarray(transform(rs.times), dtype=float)
    if transform == "identity":
        return rs.times.astype(float)
    if transform == "km":
        pooled = risk_sets(fit._stop, rs.event, fit._start, None)
        ones = np.ones(rs.n)  # cox.zph's Kaplan-Meier ignores the case weights (checked against survival 3.5.3)
        hazard = pooled.death_sum(ones) / pooled.risk_sum(ones)
        km = np.cumprod(1 - hazard)
        km_left = np.concatenate([[1.0], km[:-1]])
        idx = np.searchsorted(pooled.times, rs.times, side="left")
        return 1 - km_left[idx]
    if transform == "rank":
        # rank of each event among the event rows, ties given the average rank (as rank() in R)
        t_ev = fit._stop[rs.event_rows]
        ranks = stats.rankdata(t_ev)
        per_k = np.bincount(rs.event_k, ranks, minlength=rs.K) / np.maximum(rs.n_deaths, 1)
        return per_k
    raise InputError(f"transform must be 'km', 'rank', 'identity' or a function, got {transform!r}")


def ph_test(fit, transform: str = "km", terms: bool = True) -> PHTestResult:
    """Score test of proportional hazards per term (``terms=True``) or per column, and GLOBAL."""
    model = fit._model
    rs = model.rs
    beta = fit.coef.to_numpy()
    names = list(fit.coef.index)
    gk = _transform_times(fit, transform)
    rep, frac, omega, wd = model.steps
    eta, shift, r, wr, S0l, A = model.parts(beta)
    ev = rs.event_rows
    X = model.X

    # score of the g(t) x terms: sum_k g_k (sum of w x over deaths at k - sum_l omega_l a_l)
    death_x = np.zeros((rs.K, X.shape[1]))
    for j in range(X.shape[1]):
        death_x[:, j] = np.bincount(rs.event_k, model.w[ev] * X[ev, j], minlength=rs.K)
    expected = np.zeros_like(death_x)
    for j in range(X.shape[1]):
        expected[:, j] = np.bincount(rep, omega * A[:, j], minlength=rs.K)
    U2 = gk @ (death_x - expected)

    def info(weight_k: np.ndarray) -> np.ndarray:
        c = np.bincount(rep, omega * weight_k[rep] / S0l, minlength=rs.K)
        e = np.bincount(rep, omega * weight_k[rep] * frac / S0l, minlength=rs.K)
        H = rs.at_risk_sum(c)
        H[ev] -= e[rs.event_k]
        return X.T @ (X * (wr * H)[:, None]) - (A * (omega * weight_k[rep])[:, None]).T @ A

    I11 = info(np.ones(rs.K))
    I12 = info(gk)
    I22 = info(gk**2)
    V = I22 - I12.T @ np.linalg.solve(I11, I12)

    groups = dict(fit.design.terms) if terms else {n: [n] for n in names}
    rows = []
    for term, cols in groups.items():
        idx = [names.index(c) for c in cols]
        u = U2[idx]
        stat = float(u @ np.linalg.solve(V[np.ix_(idx, idx)], u))
        rows.append((term, stat, len(idx)))
    rows.append(("GLOBAL", float(U2 @ np.linalg.solve(V, U2)), len(names)))
    table = pd.DataFrame(rows, columns=["term", "statistic", "df"]).set_index("term")
    table["p_value"] = stats.chi2.sf(table["statistic"], table["df"])

    # scaled Schoenfeld residuals of the event rows
    abar = expected / np.where(wd > 0, wd, 1)[:, None]
    resid = X[ev] - abar[rs.event_k]
    d = len(ev)
    scaled = beta + d * resid @ fit.naive_cov.to_numpy()
    order = np.argsort(rs.event_k, kind="stable")  # by stratum, then time (as cox.zph)
    glob = table.loc["GLOBAL"]
    return PHTestResult(
        _table=table,
        _x=gk[rs.event_k][order],
        _time=fit._stop[ev][order],
        _residuals=pd.DataFrame(scaled[order], columns=names),
        transform=transform if isinstance(transform, str) else getattr(transform, "__name__", "function"),
        _coef=fit.coef,
        _terms=groups,
        statistic=float(glob["statistic"]),
        df=int(glob["df"]),
        p_value=float(glob["p_value"]),
        n=fit.n,
        dropped=fit.dropped,
    )
