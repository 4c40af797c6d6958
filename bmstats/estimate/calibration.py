"""Calibration of predicted risks at a horizon: O/E, calibration slope (and intercept), smoothed calibration
curve with ICI, E50, E90 and Emax.

- O/E: observed risk at t (Kaplan-Meier 1 - S(t), or the Aalen-Johansen cumulative incidence of the cause)
  over the mean predicted risk; interval ``exp(log(O/E) -+ z / sqrt(d))`` with d the observed events by t,
  the Poisson approximation (Debray et al. 2017; Riley et al. 2021).
- Slope: survival: the coefficient of a Cox model on ``cll = log(-log(1 - risk))`` (1 when calibrated), fitted
  on the follow-up administratively censored at the horizon t (time ``min(T, t)``, event only by t): the
  predictions claim the risk by t, so events after t are not part of what is validated (with the full
  follow-up the slope would also measure how the hazard ratios carry on beyond t);
  competing risks: intercept and slope of ``E[pseudo-value of F(t)] = 1 - exp(-exp(a + b cll))`` fitted by
  least squares on jackknife pseudo-values (Andersen & Perme 2010) with a sandwich variance, as
  ``geepack::geese(pv ~ cll, mean.link = "cloglog")``.
- Curve: observed risk at t as a smooth function of the prediction, from a Cox model (survival) or a
  Fine-Gray model (competing risks) on a restricted cubic spline of cll with 3 knots at its 10th, 50th and
  90th percentiles (``rms::cph(Surv ~ rcs(cll, 3))`` + ``survest``; Austin, Harrell & van Klaveren 2020;
  Austin, Putter et al. 2022 for competing risks). ICI = mean |predicted - observed| over the subjects,
  E50/E90 the median and 90th percentile, Emax the maximum of that difference.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._checks import (
    InputError,
    cause_code,
    handle_missing,
    require_columns,
    require_frame,
    status_array,
    time_array,
)
from bmstats._plot_docs import plot_doc
from bmstats.estimate._result import Result, frozen_copy
from bmstats.estimate.cox import _single_threaded_blas
from bmstats.estimate.predicted_risks import horizon, named_predictions, risk_vector

__all__ = ["calibration", "CalibrationResult", "pseudo_values"]



@dataclass(frozen=True, repr=False)
class CalibrationResult(Result):
    """Calibration at one horizon.

    ``summary``: model, measure (oe, [intercept], slope, ici, e50, e90, emax), estimate, std_err, lower,
    upper (ICI/E50/E90/Emax have no analytic standard error: NaN; bootstrap them with
    :func:`bmstats.bootstrap_validate`). ``curve``: model, predicted, observed, lower, upper on a grid of
    predicted risks. ``groups``: model, group (tenths of predicted risk), n, predicted (mean), observed
    (KM / AJ within the group), lower, upper. ``predictions``: model, predicted (for a rug or histogram).
    """

    _summary: pd.DataFrame = field(kw_only=True)
    _curve: pd.DataFrame = field(kw_only=True)
    _groups: pd.DataFrame = field(kw_only=True)
    _predictions: pd.DataFrame = field(kw_only=True)
    time_horizon: float = field(kw_only=True)
    cause: int = field(kw_only=True)
    competing: bool = field(kw_only=True)
    conf_level: float = field(kw_only=True)
    n_events: int = field(kw_only=True)

    _title = "Calibration at a horizon"

    @property
    def summary(self) -> pd.DataFrame:
        return frozen_copy(self._summary)

    @property
    def curve(self) -> pd.DataFrame:
        return frozen_copy(self._curve)

    @property
    def groups(self) -> pd.DataFrame:
        return frozen_copy(self._groups)

    @property
    def predictions(self) -> pd.DataFrame:
        return frozen_copy(self._predictions)

    def _tidy(self) -> pd.DataFrame:
        return self._summary

    def _notes(self) -> list[str]:
        what = (f"cause {self.cause} (Aalen-Johansen, Fine-Gray curve, pseudo-value slope)" if self.competing
                else "Kaplan-Meier, Cox curve, Cox slope on follow-up censored at the horizon")
        return [f"horizon {self.time_horizon:g}; n = {self.n}, events = {self.n_events}; {what}; curve on a "
                "restricted cubic spline of log(-log(1 - risk)) with 3 knots"]

    def plot(self, ax=None, **kw):
        from bmstats.report import prediction_figures

        return prediction_figures.plot_calibration(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The calibration plot (observed against predicted risk)", "plot_calibration")


def _aalen_johansen(T: np.ndarray, S: np.ndarray, cause: int):
    """Grid, at-risk, all-cause and cause deaths, S(u) and F(u) on the grid of distinct times."""
    grid, idx = np.unique(T, return_inverse=True)
    Y = np.cumsum(np.bincount(idx, minlength=len(grid))[::-1])[::-1].astype(float)
    D = np.bincount(idx, (S > 0).astype(float), minlength=len(grid))
    D1 = np.bincount(idx, (S == cause).astype(float), minlength=len(grid))
    surv = np.cumprod(1 - D / Y)
    surv_minus = np.concatenate([[1.0], surv[:-1]])
    F = np.cumsum(surv_minus * D1 / Y)
    return grid, idx, Y, D, D1, surv, F


def observed_risk(T: np.ndarray, S: np.ndarray, cause: int, t: float) -> tuple[float, float]:
    """Kaplan-Meier risk (S holds 0/1) or Aalen-Johansen incidence of ``cause`` at t, with its Greenwood /
    delta-method standard error (survival only; NaN for competing risks)."""
    grid, idx = np.unique(T, return_inverse=True)
    est, se = observed_by_group(idx, len(grid), S, cause, np.zeros(len(T), dtype=np.intp), 1,
                                int(np.searchsorted(grid, t, side="right")))
    return float(est[0]), float(se[0])


def observed_by_group(index: np.ndarray, m: int, S: np.ndarray, cause: int, group: np.ndarray, n_groups: int,
                      k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`observed_risk` of each group in one pass: Kaplan-Meier (groups without competing events, with
    the Greenwood standard error) or Aalen-Johansen (standard error NaN) at the ``k``-th of the ``m`` distinct
    times (``index``: each subject's position among them; ``k = 0``: before the first, risk 0)."""
    if k == 0:
        return np.zeros(n_groups), np.zeros(n_groups)
    # the k times up to the horizon, and one cell for all later times (they only count in the risk sets)
    cells = group * (k + 1) + np.minimum(index, k)
    size = n_groups * (k + 1)

    def per_cell(v=None):
        return np.bincount(cells, v, minlength=size).reshape(n_groups, k + 1)[:, ::-1].astype(float)

    Y = np.cumsum(per_cell(), axis=1)[:, :0:-1]
    D = per_cell((S > 0).astype(float))[:, :0:-1]
    D1 = per_cell((S == cause).astype(float))[:, :0:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(Y > 0, 1 - D / Y, 1.0), axis=1)
        surv_minus = np.hstack([np.ones((n_groups, 1)), surv[:, :-1]])
        est = np.sum(surv_minus * np.where(Y > 0, D1 / Y, 0.0), axis=1)
        gw = np.where(Y > D, D / (Y * (Y - D)), 0.0)
    se = surv[:, -1] * np.sqrt(np.sum(gw, axis=1))
    competing = np.bincount(group, (S > 0) & (S != cause), minlength=n_groups) > 0
    return est, np.where(competing, np.nan, se)


def pseudo_values(T: np.ndarray, S: np.ndarray, cause: int, t: float) -> np.ndarray:
    """Jackknife pseudo-values ``n F(t) - (n - 1) F_{-i}(t)`` of the Aalen-Johansen (Kaplan-Meier) risk at t,
    exactly and in O(n): leaving out subject i lowers the risk set by one at the times before and at T_i and
    the deaths at T_i by its own event; after T_i the estimator is the full one rescaled."""
    n = len(T)
    grid, idx, Y, D, D1, surv, F = _aalen_johansen(T, S, cause)
    Ym = Y - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(Ym > 0, 1 - D / Ym, 1.0)  # survival factor of a time before T_i without i
        h1 = np.where(Ym > 0, D1 / Ym, 0.0)
    P1 = np.concatenate([[1.0], np.cumprod(f1)])  # P1[k] = prod over the first k grid times
    A1 = np.concatenate([[0.0], np.cumsum(P1[:-1] * h1)])  # sum over the first k grid times of P1(u-) h1(u)
    kt = np.searchsorted(grid, t, side="right")  # grid times <= t
    ki = idx  # position of T_i
    ev = (S > 0).astype(float)
    ev1 = (S == cause).astype(float)
    before = np.minimum(ki, kt)  # grid times u < T_i and u <= t
    part1 = A1[before]
    at_ti = ki < kt  # T_i <= t
    with np.errstate(divide="ignore", invalid="ignore"):
        d_own = np.where(Ym[ki] > 0, (D1[ki] - ev1) / Ym[ki], 0.0)
        f_own = np.where(Ym[ki] > 0, 1 - (D[ki] - ev) / Ym[ki], 1.0)
    part2 = np.where(at_ti, P1[ki] * d_own, 0.0)
    S_ti = surv[ki]
    F_t = F[kt - 1] if kt > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(at_ti & (S_ti > 0), (F_t - F[ki]) / S_ti, 0.0)
    part3 = P1[ki] * f_own * tail
    F_loo = part1 + part2 + part3
    return n * F_t - (n - 1) * F_loo


def _cloglog_pseudo_fit(pv: np.ndarray, x: np.ndarray):
    """Least squares of pv on 1 - exp(-exp(a + b x)) (Gauss-Newton with step halving, from a = 0, b = 1:
    the predictions themselves), sandwich variance."""
    X = np.column_stack([np.ones_like(x), x])

    def parts(beta):
        eta = np.clip(X @ beta, -30, 30)
        mu = -np.expm1(-np.exp(eta))
        return mu, X * np.exp(eta - np.exp(eta))[:, None]

    beta = np.array([0.0, 1.0])
    mu, J = parts(beta)
    rss = float(np.sum((pv - mu) ** 2))
    for _ in range(200):
        step = np.linalg.lstsq(J, pv - mu, rcond=None)[0]
        for _halving in range(40):
            new = beta + step
            mu_new, J_new = parts(new)
            rss_new = float(np.sum((pv - mu_new) ** 2))
            if rss_new <= rss:
                break
            step = step / 2
        beta, mu, J, done = new, mu_new, J_new, abs(rss - rss_new) <= 1e-14 * max(rss, 1e-300)
        rss = rss_new
        if done or np.max(np.abs(step)) < 1e-12:
            break
    else:
        raise InputError("the pseudo-value calibration regression did not converge")
    JtJ = J.T @ J
    if not np.all(np.isfinite(JtJ)) or np.linalg.cond(JtJ) > 1e12:
        raise InputError("the pseudo-value calibration regression is not estimable (predicted risks too extreme)")
    bread = np.linalg.inv(JtJ)
    U = J * (pv - mu)[:, None]
    return beta, bread @ (U.T @ U) @ bread


_KNOTS = (0.1, 0.5, 0.9)  # quantiles of cll at the knots of rcs(cll, 3) (rms's default for 3 knots)
_CURVE_RANGE = (0.01, 0.99)  # quantiles of the predictions between which .curve is drawn


class _Sorted:
    """Order statistics of the predictions from one partial sort (``np.partition``) at the positions that the
    spline knots, the curve's range and the risk groups need; quantiles as ``np.quantile(method="linear")``
    (to rounding), of the risks or of a non-decreasing function of them (cll)."""

    def __init__(self, p: np.ndarray, positions: np.ndarray):
        n = len(p)
        self.q = np.array(_KNOTS + _CURVE_RANGE)
        h = self.q * (n - 1)
        self.lo = np.floor(h).astype(np.intp)
        self.hi = np.minimum(self.lo + 1, n - 1)
        self.gamma = h - self.lo
        self.part = np.partition(p, np.unique(np.concatenate([positions, self.lo, self.hi])))

    def quantiles(self, f=None) -> np.ndarray:
        a, b = self.part[self.lo], self.part[self.hi]
        if f is not None:
            a, b = f(a), f(b)
        return a + self.gamma * (b - a)


def _cll(p: np.ndarray) -> np.ndarray:
    return np.log(-np.log1p(-p))


class _FollowUp:
    """What every model's calibration shares: the follow-up, its distinct times, the observed risk at the
    horizon and, for survival, the risk sets of the full follow-up (curve) and of the follow-up censored at the
    horizon (slope), each built once."""

    def __init__(self, T: np.ndarray, S: np.ndarray, cause: int, t: float, competing: bool):
        from bmstats.estimate.cox_arrays import right_censored_risk_sets

        self.T, self.S, self.cause, self.t, self.competing = T, S, cause, t, competing
        self.grid, self.index = np.unique(T, return_inverse=True)
        self.k = int(np.searchsorted(self.grid, t, side="right"))
        est, _ = observed_by_group(self.index, len(self.grid), S, cause, np.zeros(len(T), dtype=np.intp), 1, self.k)
        self.observed = float(est[0])
        self.events = int(np.sum((T <= t) & (S == cause)))
        # risk groups: the tenth of each rank (the same for every model) and where the tenths end
        self.tenth_of_rank = pd.qcut(np.arange(1, len(T) + 1), 10, labels=False)
        self.tenth_ends = np.flatnonzero(np.diff(self.tenth_of_rank))
        if not competing:
            self.full = right_censored_risk_sets(self.grid, self.index, S == cause)
            self.censored_at_horizon = self.full.censored_at(t)


def _one_model(name, p, fu: _FollowUp, z, grid_n):
    from bmstats.estimate.prediction import predict_risk, rcs_basis

    if np.any(p <= 0) or np.any(p >= 1):
        raise InputError(f"predictions {name!r}: calibration needs risks strictly between 0 and 1 "
                         "(log(-log(1 - risk)) is not defined at 0 or 1)")
    T, S, cause, t = fu.T, fu.S, fu.cause, fu.t
    cll = _cll(p)
    rows = []
    d = fu.events
    exp_ = float(p.mean())
    oe = fu.observed / exp_
    se_log = 1 / np.sqrt(d) if d > 0 else np.nan
    rows.append(("oe", oe, oe * se_log, oe * np.exp(-z * se_log), oe * np.exp(z * se_log)))
    order = _Sorted(p, fu.tenth_ends)
    knots = order.quantiles(_cll)[:3]
    if len(np.unique(knots)) < 3:
        raise InputError(f"predictions {name!r}: too few distinct predicted risks for a spline calibration curve")
    basis = rcs_basis(cll, knots)
    lo, hi = order.quantiles()[3:]
    gx = np.linspace(float(lo), float(hi), grid_n)
    gbasis = rcs_basis(_cll(gx), knots)
    if fu.competing:
        from bmstats.estimate.prediction import fine_gray_for_cause

        pv = pseudo_values(T, S, cause, t)
        beta, V = _cloglog_pseudo_fit(pv, cll)
        se_ab = np.sqrt(np.diag(V))
        rows.append(("intercept", beta[0], se_ab[0], beta[0] - z * se_ab[0], beta[0] + z * se_ab[0]))
        rows.append(("slope", beta[1], se_ab[1], beta[1] - z * se_ab[1], beta[1] + z * se_ab[1]))
        frame = pd.DataFrame({"T": T, "S": S, "cll": cll, "s1": basis[:, 1]})
        fit = fine_gray_for_cause(frame, "T", "S", "cll + s1", cause)
        observed = predict_risk(fit, frame, [t])["risk"].to_numpy()
        g = predict_risk(fit, pd.DataFrame({"cll": gbasis[:, 0], "s1": gbasis[:, 1]}), [t])
        curve = (g["risk"].to_numpy(), g["lower"].to_numpy(), g["upper"].to_numpy())
    else:
        from bmstats.estimate.cox_arrays import fit_cox_arrays

        # started where calibrated predictions put them (slope 1), the curve at the slope without curvature:
        # fewer iterations to the same maximum
        slope_fit = fit_cox_arrays(cll[:, None], fu.censored_at_horizon, ["cll"], start=[1.0],
                                   what=f"calibration slope of {name!r}", blas=contextlib.nullcontext())
        b, se = float(slope_fit.coef[0]), float(np.sqrt(slope_fit.cov[0, 0]))
        rows.append(("slope", b, se, b - z * se, b + z * se))
        fit = fit_cox_arrays(basis, fu.full, ["cll", "s1"], start=[b, 0.0], what=f"calibration curve of {name!r}",
                             blas=contextlib.nullcontext())
        observed = fit.risk(basis, np.array([t]))[:, 0]
        curve = tuple(x[:, 0] for x in fit.risk(gbasis, np.array([t]), z))
    diff = np.abs(p - observed)
    e50, e90 = np.quantile(diff, [0.5, 0.9], method="linear")
    for m, v in (("ici", diff.mean()), ("e50", e50), ("e90", e90), ("emax", diff.max())):
        rows.append((m, float(v), np.nan, np.nan, np.nan))
    summary = pd.DataFrame(rows, columns=["measure", "estimate", "std_err", "lower", "upper"])
    summary.insert(0, "model", name)
    curve = pd.DataFrame({"model": name, "predicted": gx, "observed": curve[0], "lower": curve[1],
                          "upper": curve[2]})
    return summary, curve, _risk_groups(name, p, fu, z, order.part[fu.tenth_ends])


def _risk_groups(name, p, fu: _FollowUp, z, cuts: np.ndarray, n_groups: int = 10) -> pd.DataFrame:
    """Observed (KM / AJ) against mean predicted risk in tenths of the predicted risk, as
    ``pd.qcut(rank(p, method="first"), 10)``: ties in the order of the rows. ``cuts``: the predictions at
    the sorted positions ``fu.tenth_ends`` (where each tenth but the top one ends)."""
    n = len(p)
    q = np.searchsorted(cuts, p, side="left")  # tenths below the row's: without ties at a cut, its group
    at_cut = np.searchsorted(cuts, p, side="right") > q
    if np.any(np.diff(cuts) <= 0) or np.any(np.bincount(q[at_cut], minlength=len(cuts)) != 1):
        order = np.argsort(p, kind="stable")  # ties at a cut: split them by row order
        q = np.empty(n, dtype=np.intp)
        q[order] = fu.tenth_of_rank
    obs, se = observed_by_group(fu.index, len(fu.grid), fu.S, fu.cause, q, n_groups, fu.k)
    size = np.bincount(q, minlength=n_groups)
    return pd.DataFrame({"model": name, "group": np.arange(1, n_groups + 1), "n": size,
                         "predicted": np.bincount(q, p, minlength=n_groups) / size, "observed": obs,
                         "lower": obs - z * se, "upper": obs + z * se})


def calibration(data: pd.DataFrame, time: str, status: str, predictions, *, time_horizon: float, cause: int = 1,
                conf_level: float = 0.95, dropna: bool = False, grid: int = 100) -> CalibrationResult:
    """Calibration of predicted risks by ``time_horizon``: O/E, slope (and intercept), ICI/E50/E90/Emax,
    smoothed curve.

    ``O/E = F_obs(t) / mean(risk)``; slope: ``h(u | risk) = h0(u) exp(b cll)`` on follow-up censored at t
    (survival) or ``E[pseudo-value] = 1 - exp(-exp(a + b cll))`` (competing risks); curve: a Cox (Fine-Gray)
    model on ``rcs(cll, 3)``, ICI = mean of abs(risk - observed(risk)).

    Parameters
    ----------
    data : pandas.DataFrame
        Validation data.
    time, status : str
        Follow-up time and status (0 censored, 1..k causes; codes above 1 make it a competing-risks
        analysis for ``cause``).
    predictions : column name, array, model, or dict of name -> any of these
        Predicted risks by ``time_horizon`` (as in :func:`bmstats.score`).
    time_horizon : float
    cause : int, default 1
    conf_level : float, default 0.95
    dropna : bool, default False
    grid : int, default 100
        Points of ``.curve`` (between the 1st and 99th percentiles of the predictions).

    Returns
    -------
    CalibrationResult

    References
    ----------
    Austin PC, Harrell FE, van Klaveren D (2020). Graphical calibration curves and the integrated calibration
    index (ICI) for survival models. Stat Med 39. Austin PC, Putter H, Giardiello D, van Klaveren D (2022).
    Graphical calibration curves and the integrated calibration index (ICI) for competing risk models. Diagn
    Progn Res 6. Andersen PK, Perme MP (2010). Pseudo-observations in survival analysis. SMMR 19.
    R: ``rms::cph(Surv(time, status) ~ rcs(cll, 3))`` + ``rms::survest(times = t)`` (the curve, on the full
    follow-up); ``coxph(Surv(pmin(time, t), status * (time <= t)) ~ cll)`` (the slope, follow-up censored at
    t); ``geepack::geese(pseudo ~ cll, mean.link = "cloglog")``.
    """
    require_frame(data)
    require_columns(data, [time, status])
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level}")
    t = horizon(time_horizon)
    data, dropped = handle_missing(data, [time, status], dropna)
    T = time_array(data, time)
    S = status_array(data, status)
    cause = cause_code(cause)
    if not np.any((S == cause) & (T <= t)):
        raise InputError(f"column {status!r}: no events of cause {cause} by {t:g}")
    competing = bool(np.any((S > 0) & (S != cause)))
    items = named_predictions(predictions)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    risks = {name: risk_vector(data, item, t, cause, name) for name, item in items.items()}
    fu = _FollowUp(T, S, cause, t, competing)
    with _single_threaded_blas():  # the fits' tall-skinny products: one BLAS thread for all models at once
        parts = [_one_model(name, p, fu, z, grid) for name, p in risks.items()]
    summary = pd.concat([p[0] for p in parts], ignore_index=True)
    preds = pd.concat([pd.DataFrame({"model": name, "predicted": p}) for name, p in risks.items()],
                      ignore_index=True)
    return CalibrationResult(
        n=len(T), dropped=dropped, _summary=summary, _curve=pd.concat([p[1] for p in parts], ignore_index=True),
        _groups=pd.concat([p[2] for p in parts], ignore_index=True), _predictions=preds, time_horizon=t,
        cause=cause, competing=competing, conf_level=conf_level, n_events=int(np.sum((S == cause) & (T <= t))))
