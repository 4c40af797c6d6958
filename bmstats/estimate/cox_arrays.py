"""A Cox model fitted on a ready design matrix and a risk-set index built once for several fits.

Validation code fits many small Cox models on the same follow-up: per set of predictions, the calibration
slope and the spline calibration curve (:mod:`bmstats.estimate.calibration`). :func:`bmstats.cox` would parse
a formula, check the rows and sort the follow-up for each of them; here the risk sets
(:func:`bmstats.estimate.riskset.risk_sets`) are built once by the caller and each fit is the Newton-Raphson
of :func:`bmstats.cox` itself (same partial likelihood, Efron ties, centring, tolerance and monotone-likelihood
check), so the estimates are those of ``cox(data, time, event, "x1 + x2")`` on the same rows.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from bmstats.estimate._regression import blank, invert_information, newton_raphson
from bmstats.estimate.cox import _CoxModel, _single_threaded_blas
from bmstats.estimate.riskset import RiskSets

__all__ = ["ArrayCox", "fit_cox_arrays", "right_censored_risk_sets"]


@dataclass(frozen=True)
class _RightCensored(RiskSets):
    """Risk sets of right-censored follow-up without strata or delayed entry: every row enters at the first
    event time (``lo = 0``), so a risk-set sum is one reverse cumulative sum of the exits (half the passes over
    the rows of the general form)."""

    def risk_sum(self, v: np.ndarray) -> np.ndarray:
        if v.ndim > 1:
            return super().risk_sum(v)
        exits = np.bincount(self.hi, v, minlength=self.K + 1)
        return np.cumsum(exits[::-1])[::-1][1:]

    def at_risk_sum(self, c: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((1,) + c.shape[1:]), np.cumsum(c, axis=0)])[self.hi]

    def censored_at(self, t: float) -> _RightCensored:
        """The risk sets of the same follow-up administratively censored at ``t`` (times after it become
        censorings at ``t``): the event times up to t, and every row at risk at most until then."""
        K = int(np.searchsorted(self.times, t, side="right"))
        keep = self.event_k < K
        return _RightCensored(self.n, K, self.lo, np.minimum(self.hi, K), self.event & (self.hi <= K),
                              self.event_k[keep], self.event_rows[keep], self.times[:K], self.strata[:K],
                              self.n_deaths[:K])


def right_censored_risk_sets(grid: np.ndarray, index: np.ndarray, event: np.ndarray) -> _RightCensored:
    """The risk sets (:func:`bmstats.estimate.riskset.risk_sets`) of right-censored rows without strata or
    entry times, from the distinct times ``grid`` and each row's position ``index`` on it (``np.unique(time,
    return_inverse=True)``) and the event flags: no further sorting or searching."""
    event = np.asarray(event, dtype=bool)
    if not event.any():
        raise ValueError("no events")
    has_event = np.bincount(index, event, minlength=len(grid)) > 0
    hi = np.cumsum(has_event)[index]  # event times <= the row's time
    rows = np.flatnonzero(event)
    event_k = hi[rows] - 1
    K = int(has_event.sum())
    return _RightCensored(len(index), K, np.zeros(len(index), dtype=np.intp), hi.astype(np.intp), event,
                          event_k.astype(np.intp), rows, grid[has_event], np.zeros(K, dtype=np.int64),
                          np.bincount(event_k, minlength=K))


@dataclass(frozen=True)
class ArrayCox:
    """Coefficients, their (model-based) variance and the fitted partial likelihood of one array fit."""

    coef: np.ndarray
    cov: np.ndarray
    converged: bool
    model: _CoxModel

    def risk(self, X: np.ndarray, times: np.ndarray, z: float | None = None):
        """``1 - S(t | x)`` for the rows of the (uncentered) design ``X`` at ``times`` (rows x times); with
        ``z``, also the log-scale limits of ``survfit.coxph`` (see :func:`cox_risk`)."""
        return cox_risk(X - self.model.means, self.coef, self.model.rs.times, self._hazard_parts, self.cov, times, z)

    @functools.cached_property
    def _hazard_parts(self):
        return self.model.hazard_parts(self.coef)


def fit_cox_arrays(X: np.ndarray, rs: RiskSets, names: list[str], *, what: str = "cox", start=None,
                   tol: float = 1e-9, max_iter: int = 50, blas=None) -> ArrayCox:
    """Cox model (Efron ties, unit weights, no strata) of the design ``X`` (n, p) on the risk sets ``rs``.

    Parameters
    ----------
    X : numpy.ndarray
        Design (n, p), rows in the order of the risk-set index; centred here as :func:`bmstats.cox` centres
        (column means, 0/1 columns at 0).
    rs : RiskSets
        The follow-up, from :func:`bmstats.estimate.riskset.risk_sets`.
    names : list of str
        Column names (for warnings and errors).
    what : str
        The model's name in convergence and monotone-likelihood warnings.
    start : array-like, optional
        Starting coefficients (default 0, as coxph); the maximum is the same to the precision of the
        convergence criterion, a good start only saves iterations.
    tol, max_iter
        As :func:`bmstats.cox`.
    blas : context manager, optional
        A BLAS thread limit the caller already holds for several fits (``contextlib.nullcontext()``); by
        default each fit limits BLAS to one thread as :func:`bmstats.cox` does.

    Returns
    -------
    ArrayCox

    References
    ----------
    Cox DR (1972). Regression models and life-tables. JRSS B 34. Efron B (1977). JASA 72. R:
    ``survival::coxph(Surv(time, event) ~ x1 + x2)``.
    """
    w = np.ones(len(X))
    means = (w @ X) / w.sum()
    means[np.all((X == 0) | (X == 1), axis=0)] = 0.0
    raw = np.ascontiguousarray(X.T)  # the model centres it (its XT) at the means
    model = _CoxModel(raw, means, w, rs, "efron")
    beta0 = np.zeros(X.shape[1]) if start is None else np.asarray(start, dtype=float)
    with blas or _single_threaded_blas():
        fit = newton_raphson(model.evaluate, beta0, names, tol=tol, max_iter=max_iter, model=what,
                             spread=np.ptp(model.X, axis=0), loglik=model.loglik)
    cov = invert_information(fit.information, names, fit.not_estimable)
    if fit.not_estimable:
        cov = blank(cov, fit.not_estimable)
    return ArrayCox(fit.beta, cov, fit.converged, model)


def cox_risk(Xc: np.ndarray, coef: np.ndarray, event_times: np.ndarray, parts, cov: np.ndarray, times: np.ndarray,
             z: float | None = None):
    """Predicted risk ``1 - exp(-Lambda0(t) exp(x'b))`` of a Cox fit (no strata), rows x times.

    ``Xc``: the design centred at the fit's means; ``parts``: the fit's per-event-time hazard jumps, their
    variance terms and the ``xbar`` terms (:meth:`bmstats.estimate.cox._CoxModel.hazard_parts`). With ``z``
    (the normal quantile of the level), returns ``(risk, lower, upper)`` with the limits of R's
    ``survfit.coxph``: ``exp(-Lambda -+ z se(Lambda))`` on the survival (log scale), the survival's upper
    limit capped at 1, ``se(Lambda)^2 = exp(2 lp) [sum dN / S0^2 + q(t)' V q(t)]`` (Tsiatis 1981).
    """
    c, v, qa = parts
    lp = Xc @ coef
    idx = np.searchsorted(event_times, times, side="right")
    C = np.concatenate([[0.0], np.cumsum(c)])[idx]
    cumhaz = np.exp(lp)[:, None] * C[None, :]
    risk = -np.expm1(-cumhaz)
    if z is None:
        return risk
    Vs = np.concatenate([[0.0], np.cumsum(v)])[idx]
    QA = np.vstack([np.zeros((1, qa.shape[1])), np.cumsum(qa, axis=0)])[idx]
    se = np.empty_like(cumhaz)
    for j in range(len(times)):
        q = QA[j][None, :] - C[j] * Xc
        se[:, j] = np.exp(lp) * np.sqrt(Vs[j] + np.einsum("ij,jk,ik->i", q, cov, q))
    # survfit caps the survival's upper limit at 1: the risk's lower limit at 0
    lower = np.maximum(-np.expm1(-cumhaz + z * se), 0.0)
    upper = np.minimum(1.0, -np.expm1(-cumhaz - z * se))
    return risk, lower, upper
