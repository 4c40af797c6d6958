"""Calibration of predicted risks at a horizon: O/E, calibration slope (and intercept), smoothed calibration
curve with ICI, E50, E90 and Emax.

- O/E: observed risk at t (Kaplan-Meier 1 - S(t), or the Aalen-Johansen cumulative incidence of the cause)
  over the mean predicted risk; interval ``exp(log(O/E) -+ z / sqrt(d))`` with d the observed events by t,
  the Poisson approximation (Debray et al. 2017; Riley et al. 2021).
- Slope: survival: the coefficient of a Cox model on ``cll = log(-log(1 - risk))`` (1 when calibrated);
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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, handle_missing, require_columns, require_frame, status_array, time_array
from bmstats.estimate._result import Result, frozen_copy

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
                else "Kaplan-Meier, Cox curve and slope")
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
    grid, idx, Y, D, D1, surv, F = _aalen_johansen(T, S, cause)
    k = np.searchsorted(grid, t, side="right")
    if k == 0:
        return 0.0, 0.0
    est = float(F[k - 1])
    if np.any((S > 0) & (S != cause)):
        return est, np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.where(Y > D, D / (Y * (Y - D)), 0.0)
    return est, float(surv[k - 1] * np.sqrt(np.sum(gw[:k])))


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


def _quantile7(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q, method="linear"))


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


def _rcs_knots(x: np.ndarray) -> np.ndarray:
    return np.quantile(x, [0.1, 0.5, 0.9], method="linear")


def _one_model(name, p, T, S, cause, t, competing, z, grid_n):
    from bmstats.estimate.prediction import predict_risk, rcs_basis

    if np.any(p <= 0) or np.any(p >= 1):
        raise InputError(f"predictions {name!r}: calibration needs risks strictly between 0 and 1 "
                         "(log(-log(1 - risk)) is not defined at 0 or 1)")
    cll = np.log(-np.log1p(-p))
    rows = []
    obs, _ = observed_risk(T, S, cause, t)
    d = int(np.sum((T <= t) & (S == cause)))
    exp_ = float(p.mean())
    oe = obs / exp_
    se_log = 1 / np.sqrt(d) if d > 0 else np.nan
    rows.append(("oe", oe, oe * se_log, oe * np.exp(-z * se_log), oe * np.exp(z * se_log)))
    frame = pd.DataFrame({"T": T, "S": S, "cll": cll})
    knots = _rcs_knots(cll)
    if len(np.unique(knots)) < 3:
        raise InputError(f"predictions {name!r}: too few distinct predicted risks for a spline calibration curve")
    basis = rcs_basis(cll, knots)
    frame["s1"] = basis[:, 1]
    gx = np.linspace(*np.quantile(p, [0.01, 0.99]), grid_n)
    gcll = np.log(-np.log1p(-gx))
    gframe = pd.DataFrame({"cll": gcll, "s1": rcs_basis(gcll, knots)[:, 1]})
    if competing:
        from bmstats.estimate.prediction import fine_gray_for_cause

        pv = pseudo_values(T, S, cause, t)
        beta, V = _cloglog_pseudo_fit(pv, cll)
        se = np.sqrt(np.diag(V))
        rows.append(("intercept", beta[0], se[0], beta[0] - z * se[0], beta[0] + z * se[0]))
        rows.append(("slope", beta[1], se[1], beta[1] - z * se[1], beta[1] + z * se[1]))
        fit = fine_gray_for_cause(frame, "T", "S", "cll + s1", cause)
        observed = predict_risk(fit, frame, [t])["risk"].to_numpy()
        g = predict_risk(fit, gframe, [t])
    else:
        from bmstats.estimate.cox import cox

        slope_fit = cox(frame, "T", "S", "cll")
        b = float(slope_fit.coef.iloc[0])
        se = float(np.sqrt(slope_fit.cov.to_numpy()[0, 0]))
        rows.append(("slope", b, se, b - z * se, b + z * se))
        fit = cox(frame, "T", "S", "cll + s1")
        observed = predict_risk(fit, frame, [t], conf_int=False)["risk"].to_numpy()
        g = predict_risk(fit, gframe, [t])
    diff = np.abs(p - observed)
    for m, v in (("ici", diff.mean()), ("e50", _quantile7(diff, 0.5)), ("e90", _quantile7(diff, 0.9)),
                 ("emax", diff.max())):
        rows.append((m, float(v), np.nan, np.nan, np.nan))
    summary = pd.DataFrame(rows, columns=["measure", "estimate", "std_err", "lower", "upper"])
    summary.insert(0, "model", name)
    curve = pd.DataFrame({"model": name, "predicted": gx, "observed": g["risk"].to_numpy(),
                          "lower": g["lower"].to_numpy(), "upper": g["upper"].to_numpy()})
    groups = _risk_groups(name, p, T, S, cause, t, z)
    return summary, curve, groups


def _risk_groups(name, p, T, S, cause, t, z, n_groups: int = 10) -> pd.DataFrame:
    """Observed (KM / AJ) against mean predicted risk in tenths of the predicted risk."""
    q = pd.qcut(pd.Series(p).rank(method="first"), n_groups, labels=False).to_numpy()
    rows = []
    for g in range(n_groups):
        m = q == g
        obs, se = observed_risk(T[m], S[m], cause, t)
        rows.append({"model": name, "group": g + 1, "n": int(m.sum()), "predicted": float(p[m].mean()),
                     "observed": obs, "lower": obs - z * se if np.isfinite(se) else np.nan,
                     "upper": obs + z * se if np.isfinite(se) else np.nan})
    return pd.DataFrame(rows)


def calibration(data: pd.DataFrame, time: str, status: str, predictions, *, time_horizon: float, cause: int = 1,
                conf_level: float = 0.95, dropna: bool = False, grid: int = 100) -> CalibrationResult:
    """Calibration of predicted risks by ``time_horizon``: O/E, slope (and intercept), ICI/E50/E90/Emax,
    smoothed curve.

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
    R: ``rms::cph(Surv(time, status) ~ rcs(cll, 3))`` + ``rms::survest(times = t)``;
    ``coxph(Surv(time, status) ~ cll)``; ``geepack::geese(pseudo ~ cll, mean.link = "cloglog")``.
    """
    from bmstats.estimate.score import risk_matrix

    require_frame(data)
    require_columns(data, [time, status])
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level}")
    try:
        t = float(time_horizon)
    except (TypeError, ValueError):
        raise InputError(f"time_horizon must be a number, got {time_horizon!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise InputError(f"time_horizon must be a positive number, got {time_horizon!r}")
    data, dropped = handle_missing(data, [time, status], dropna)
    T = time_array(data, time)
    S = status_array(data, status)
    cause = int(cause)
    if not np.any((S == cause) & (T <= t)):
        raise InputError(f"column {status!r}: no events of cause {cause} by {t:g}")
    competing = bool(np.any((S > 0) & (S != cause)))
    items = predictions if isinstance(predictions, dict) else {
        predictions if isinstance(predictions, str) else "model": predictions}
    z = stats.norm.ppf(0.5 + conf_level / 2)
    risks = {str(name): risk_matrix(data, item, np.array([t]), cause, str(name))[:, 0]
             for name, item in items.items()}
    parts = [_one_model(name, p, T, S, cause, t, competing, z, grid) for name, p in risks.items()]
    summary = pd.concat([p[0] for p in parts], ignore_index=True)
    preds = pd.concat([pd.DataFrame({"model": name, "predicted": p}) for name, p in risks.items()],
                      ignore_index=True)
    return CalibrationResult(
        n=len(T), dropped=dropped, _summary=summary, _curve=pd.concat([p[1] for p in parts], ignore_index=True),
        _groups=pd.concat([p[2] for p in parts], ignore_index=True), _predictions=preds, time_horizon=t,
        cause=cause, competing=competing, conf_level=conf_level, n_events=int(np.sum((S == cause) & (T <= t))))
