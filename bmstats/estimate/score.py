"""Time-dependent AUC and Brier score of predicted risks at horizons, with censoring weights, standard errors,
the null model, the index of prediction accuracy and contrasts between models: ``riskRegression::Score``.

At a horizon t, with ``G`` the censoring Kaplan-Meier (:mod:`bmstats.estimate.ipcw`), cases are those with
the event of interest by t (weight ``1/G(T_i-)``); controls are those event-free at t (``1/G(t)``) and, for
competing risks, those with a competing event by t (``1/G(T_j-)``); censored before t weigh 0.

- AUC (Uno et al. 2007; Blanche, Dartigues & Jacqmin-Gadda 2013, "definition 2" for competing risks):
  ``sum_ij w_i w_j [I(r_i > r_j) + I(r_i = r_j)/2] / (sum_i w_i sum_j w_j)`` over cases i and controls j.
- Brier score (Graf et al. 1999; Schoop et al. 2011): ``(1/n) sum_i w_i (Y_i(t) - r_i)^2``.
- IPA = 1 - Brier / Brier(null), the null model predicting the Kaplan-Meier (Aalen-Johansen) risk at t to
  everyone (Kattan & Gerds 2018).

Standard errors from the influence functions, including the term for the estimated censoring distribution
(riskRegression's ``conservative = FALSE``), ``se = sqrt(sum IF^2 / (n (n - 1)))``; Wald intervals and
contrasts (differences between models, p-value of the z test) from the same influence functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import (
    InputError,
    cause_code,
    handle_missing,
    require_columns,
    require_frame,
    status_array,
    time_array,
)
from bmstats.estimate._result import Result, frozen_copy
from bmstats.estimate.cox import _single_threaded_blas
from bmstats.estimate.ipcw import CensoringWeights
from bmstats.estimate.predicted_risks import horizons, named_predictions, risk_matrix

__all__ = ["score", "integrated_brier", "ScoreResult", "NULL_MODEL"]

NULL_MODEL = "Null model"


@dataclass(frozen=True, repr=False)
class ScoreResult(Result):
    """AUC and Brier score per model and horizon.

    ``auc``: model, time, estimate, std_err, lower, upper. ``brier``: model, time, estimate, std_err, lower,
    upper, ipa (the null model's rows first). ``contrasts``: metric, time, model, reference, difference
    (model - reference), std_err, lower, upper, p_value.
    """

    _auc: pd.DataFrame = field(kw_only=True)
    _brier: pd.DataFrame = field(kw_only=True)
    _contrasts: pd.DataFrame = field(kw_only=True)
    _roc: pd.DataFrame = field(kw_only=True)
    times: tuple = field(kw_only=True)
    cause: int = field(kw_only=True)
    competing: bool = field(kw_only=True)
    conf_level: float = field(kw_only=True)
    n_events: int = field(kw_only=True)
    models: tuple = field(kw_only=True)

    _title = "Prediction performance at horizons (AUC, Brier score)"

    _frames: ClassVar[tuple[str, ...]] = ("auc", "brier", "contrasts", "roc")

    @property
    def auc(self) -> pd.DataFrame:
        return frozen_copy(self._auc)

    @property
    def brier(self) -> pd.DataFrame:
        return frozen_copy(self._brier)

    @property
    def contrasts(self) -> pd.DataFrame:
        return frozen_copy(self._contrasts)

    @property
    def roc(self) -> pd.DataFrame:
        """Weighted ROC curves (model, time, threshold, fpr, tpr), at most 400 points each."""
        return frozen_copy(self._roc)

    def _tidy(self) -> pd.DataFrame:
        a = self._auc.rename(columns={"estimate": "auc", "std_err": "auc_std_err"})[["model", "time", "auc",
                                                                                        "auc_std_err"]]
        b = self._brier.rename(columns={"estimate": "brier", "std_err": "brier_std_err"})[
            ["model", "time", "brier", "brier_std_err", "ipa"]]
        return b.merge(a, on=["model", "time"], how="left")

    def _notes(self) -> list[str]:
        what = f"cause {self.cause}, competing events as controls" if self.competing else "survival"
        return [f"n = {self.n}, events = {self.n_events} ({what}); inverse probability of censoring weights "
                "from the Kaplan-Meier of the censoring times; influence-function standard errors "
                f"({self.conf_level:.0%} intervals)"]

    def plot(self, ax=None, **kw):
        from bmstats.report import prediction_figures

        return prediction_figures.plot_roc(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The time-dependent ROC curves", "plot_roc")


def _null_risks(T: np.ndarray, S: np.ndarray, cause: int, times) -> np.ndarray:
    """Kaplan-Meier risk 1 - S(t) (survival) or Aalen-Johansen cumulative incidence of ``cause`` at each t."""
    grid, idx = np.unique(T, return_inverse=True)
    at_risk = np.cumsum(np.bincount(idx, minlength=len(grid))[::-1])[::-1].astype(float)
    d_all = np.bincount(idx, (S > 0).astype(float), minlength=len(grid))
    d_c = np.bincount(idx, (S == cause).astype(float), minlength=len(grid))
    surv = np.cumprod(1 - d_all / at_risk)
    surv_minus = np.concatenate([[1.0], surv[:-1]])
    F = np.concatenate([[0.0], np.cumsum(surv_minus * d_c / at_risk)])
    return F[np.searchsorted(grid, np.asarray(times, dtype=float), side="right")]


class _Ranked:
    """One sort of a risk vector: its distinct values (ascending) and each row's group among them."""

    def __init__(self, p: np.ndarray):
        order = np.argsort(p)  # ties are grouped below, so the sort need not be stable
        ps = p[order]
        new = np.empty(len(p), dtype=bool)
        new[:1] = True
        np.not_equal(ps[1:], ps[:-1], out=new[1:])
        group_sorted = np.cumsum(new) - 1
        self.values = ps[new]
        self.group = np.empty(len(p), dtype=np.intp)
        self.group[order] = group_sorted

    def sums(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct value: the sum of ``v`` at it and the sum of ``v`` strictly below it."""
        at = np.bincount(self.group, v, minlength=len(self.values))
        return at, np.concatenate([[0.0], np.cumsum(at)[:-1]])


class _Horizon:
    """Cases, controls and weights at one horizon; the AUC and Brier of a risk vector with influence functions."""

    def __init__(self, T, S, cause, t, cw: CensoringWeights, g_own: np.ndarray):
        self.t, self.cw, self.n = t, cw, len(T)
        g_t = float(cw.right(np.array([t]))[0])
        if g_t <= 0:
            raise InputError(f"time {t:g}: no one is followed up beyond it (censoring survival 0); "
                             "choose an earlier horizon")
        by_t = T <= t
        self.own = by_t  # rows whose weight is 1/G(T_i-)
        self.case = by_t & (S == cause)
        self.control = (T > t) | (by_t & (S > 0) & (S != cause))
        self.w = np.where(by_t & (S > 0), 1 / g_own, np.where(T > t, 1 / g_t, 0.0))
        self.y = self.case.astype(float)
        self.a = np.where(self.case, self.w, 0.0)
        self.b = np.where(self.control, self.w, 0.0)
        self._sides: tuple | None = None

    def _if(self, R: np.ndarray) -> tuple[float, np.ndarray]:
        mean = R.mean()
        return mean, R - mean + self.cw.influence(R, self.own, self.t)

    def brier(self, p: np.ndarray) -> tuple[float, np.ndarray]:
        return self._if(self.w * (self.y - p) ** 2)

    def roc(self, ranked: _Ranked, max_points: int = 400) -> pd.DataFrame:
        """True- and false-positive fractions (censoring-weighted) of 'risk >= threshold'."""
        a_at, _ = ranked.sums(self.a)
        b_at, _ = ranked.sums(self.b)
        tpr = np.cumsum(a_at[::-1]) / max(self.a.sum(), 1e-300)  # thresholds from the highest down
        fpr = np.cumsum(b_at[::-1]) / max(self.b.sum(), 1e-300)
        thresholds = ranked.values[::-1]
        if len(thresholds) > max_points:
            keep = np.unique(np.linspace(0, len(thresholds) - 1, max_points).round().astype(int))
            thresholds, tpr, fpr = thresholds[keep], tpr[keep], fpr[keep]
        return pd.DataFrame({"threshold": np.r_[np.inf, thresholds], "fpr": np.r_[0.0, fpr],
                             "tpr": np.r_[0.0, tpr]})

    def auc(self, ranked: _Ranked) -> tuple[float, np.ndarray]:
        if not self.case.any() or not self.control.any():
            return np.nan, np.full(self.n, np.nan)
        if self._sides is None:  # the weight sums of cases and of controls (and their influence): every model's
            self._sides = (*self._if(self.a), *self._if(self.b))
        A, if_a, B, if_b = self._sides
        n, a, b, g = self.n, self.a, self.b, ranked.group
        a_at, a_below = ranked.sums(a)
        b_at, b_below = ranked.sums(b)
        # case i: weight of the controls below it (ties 1/2); control j: weight of the cases above it (ties 1/2)
        c = np.where(self.case, (b_below + 0.5 * b_at)[g] / n, 0.0)
        e = np.where(self.control, (a.sum() - (a_below + 0.5 * a_at)[g]) / n, 0.0)
        num, if_num = self._if(a * c + b * e)
        # sum_j (a c + b e) counts every pair twice; a c + b e - 2 num is the influence of num (order-2 U-statistic)
        num /= 2
        den = A * B
        est = num / den
        return est, (if_num - est * (if_a * B + A * if_b)) / den


def score(data: pd.DataFrame, time: str, status: str, predictions, *, times, cause: int = 1,
          conf_level: float = 0.95, null_model: bool = True, dropna: bool = False) -> ScoreResult:
    """AUC and Brier score (with IPA and contrasts) of predicted risks at one or more horizons.

    Parameters
    ----------
    data : pandas.DataFrame
        Validation data.
    time, status : str
        Follow-up time and status (0 censored, 1..k causes; codes above 1 make it a competing-risks
        analysis for ``cause``).
    predictions : column name, array, model, or dict of name -> any of these
        Predicted risks by each horizon: a column (one horizon), an array (rows, or rows x times), or a model
        that :func:`bmstats.predict_risk` knows (predicted on ``data``).
    times : float or sequence of float
        Horizons.
    cause : int, default 1
        The event of interest.
    conf_level : float, default 0.95
    null_model : bool, default True
        Include the null model (Kaplan-Meier / Aalen-Johansen risk for all) in ``brier`` and the contrasts
        (the IPA is computed against it in any case).
    dropna : bool, default False
        Drop rows with a missing time or status (counted) instead of an error.

    Returns
    -------
    ScoreResult
        ``.auc``, ``.brier``, ``.contrasts``.

    References
    ----------
    Blanche P, Dartigues JF, Jacqmin-Gadda H (2013). Estimating and comparing time-dependent areas under
    receiver operating characteristic curves for censored event times with competing risks. Stat Med 32.
    Graf E et al. (1999). Assessment and comparison of prognostic classification schemes for survival data.
    Stat Med 18. Gerds TA, Schumacher M (2006). Consistent estimation of the expected Brier score in general
    survival models with right-censored event times. Biom J 48. Kattan MW, Gerds TA (2018). The index of
    prediction accuracy. Diagn Progn Res 2. R: ``riskRegression::Score(list, formula, data, times,
    cens.model = "km", metrics = c("auc", "brier"), summary = "ipa")``.
    """
    require_frame(data)
    require_columns(data, [time, status])
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level}")
    data, dropped = handle_missing(data, [time, status], dropna)
    T = time_array(data, time)
    S = status_array(data, status)
    cause = cause_code(cause)
    if not np.any(S == cause):
        raise InputError(f"column {status!r}: no events of cause {cause}")
    competing = bool(np.any((S > 0) & (S != cause)))
    t_req = horizons(times)
    items = named_predictions(predictions, reserved=(NULL_MODEL,))
    risks = {name: risk_matrix(data, item, t_req, cause, name) for name, item in items.items()}
    cw = CensoringWeights.fit(T, S == 0)
    g_own = cw.subject_left()
    z = stats.norm.ppf(0.5 + conf_level / 2)
    n = len(T)
    auc_rows, brier_rows, contrast_rows, roc_frames = [], [], [], []

    def se_of(infl):
        return float(np.sqrt(infl @ infl / (n * (n - 1)))) if n > 1 else np.nan

    def contrast(metric, t, name, ref, est, infl):
        for j in range(len(name)):
            for i in range(j):
                diff = est[j] - est[i]
                s = se_of(infl[j] - infl[i])
                p = 2 * stats.norm.sf(abs(diff / s)) if s > 0 else np.nan
                contrast_rows.append({"metric": metric, "time": t, "model": name[j], "reference": name[i],
                                      "difference": diff, "std_err": s, "lower": diff - z * s,
                                      "upper": diff + z * s, "p_value": p})

    null_risks = _null_risks(T, S, cause, t_req)
    with _single_threaded_blas():  # n-long dot products: BLAS threads only contend on a shared machine
        for k, t in enumerate(t_req):
            h = _Horizon(T, S, cause, t, cw, g_own)
            null = np.full(n, null_risks[k])
            names = [NULL_MODEL, *risks]
            b_est, b_if = zip(*(h.brier(p) for p in [null, *(r[:, k] for r in risks.values())]))
            for name, est, infl in zip(names, b_est, b_if):
                if name == NULL_MODEL and not null_model:
                    continue
                s = se_of(infl)
                brier_rows.append({"model": name, "time": t, "estimate": est, "std_err": s, "lower": est - z * s,
                                   "upper": est + z * s, "ipa": 1 - est / b_est[0] if b_est[0] > 0 else np.nan})
            ranked = {name: _Ranked(r[:, k]) for name, r in risks.items()}
            a_est, a_if = zip(*(h.auc(ranked[name]) for name in risks))
            for name, est, infl in zip(risks, a_est, a_if):
                s = se_of(infl)
                auc_rows.append({"model": name, "time": t, "estimate": est, "std_err": s, "lower": est - z * s,
                                 "upper": est + z * s})
            for name in risks:
                roc_frames.append(h.roc(ranked[name]).assign(model=name, time=t))
            contrast("auc", t, list(risks), None, a_est, a_if)
            keep = slice(0 if null_model else 1, None)
            contrast("brier", t, names[keep], None, b_est[keep], b_if[keep])
    return ScoreResult(
        n=n, dropped=dropped, _auc=pd.DataFrame(auc_rows), _brier=pd.DataFrame(brier_rows),
        _contrasts=pd.DataFrame(contrast_rows, columns=["metric", "time", "model", "reference", "difference",
                                                        "std_err", "lower", "upper", "p_value"]),
        _roc=pd.concat(roc_frames, ignore_index=True)[["model", "time", "threshold", "fpr", "tpr"]],
        times=tuple(float(x) for x in t_req), cause=cause, competing=competing, conf_level=conf_level,
        n_events=int(np.sum(S == cause)), models=tuple(risks))


def integrated_brier(data: pd.DataFrame, time: str, status: str, predictions, *, stop: float, start: float = 0.0,
                     cause: int = 1, dropna: bool = False) -> pd.DataFrame:
    """Integrated Brier score over [start, stop): the prediction error curve (IPCW Brier score at every
    distinct observed time) integrated as a step function and divided by ``stop - start``, as ``pec::crps``
    (``pec(..., cens.model = "marginal", exact = TRUE)``); the null model (Kaplan-Meier / Aalen-Johansen)
    included.

    Parameters
    ----------
    data : pandas.DataFrame
    time, status : str
    predictions : model or dict of name -> model
        Models that :func:`bmstats.predict_risk` knows (risks are needed at every observed time).
    stop : float
        End of the time range (exclusive).
    start : float, default 0
    cause : int, default 1
    dropna : bool, default False

    Returns
    -------
    pandas.DataFrame
        model, start, stop, ibs.

    References
    ----------
    Graf E, Schmoor C, Sauerbrei W, Schumacher M (1999). Stat Med 18:2529-2545. Mogensen UB, Ishwaran H,
    Gerds TA (2012). Evaluating random forests for survival analysis using prediction error curves. J Stat
    Softw 50(11). R: ``pec::crps(pec(...), times = stop, start = start)``.
    """
    require_frame(data)
    require_columns(data, [time, status])
    data, _ = handle_missing(data, [time, status], dropna)
    T = time_array(data, time)
    S = status_array(data, status)
    try:
        stop, start = float(stop), float(start)
    except (TypeError, ValueError):
        raise InputError(f"start and stop must be numbers, got {start!r}, {stop!r}") from None
    if not (np.isfinite(stop) and np.isfinite(start) and 0 <= start < stop):
        raise InputError(f"need 0 <= start < stop, got start={start}, stop={stop}")
    items = named_predictions(predictions, reserved=(NULL_MODEL,))
    for name, item in items.items():
        if isinstance(item, (str, np.ndarray, pd.Series, pd.DataFrame, list, tuple)):
            raise InputError(f"predictions {name!r}: the integrated Brier score needs a model (risks at every time)")
    grid = np.unique(T)
    grid = grid[(grid >= start) & (grid < stop)]
    if len(grid) == 0 or grid[0] > start:
        grid = np.r_[start, grid]
    widths = np.diff(np.r_[grid, stop])
    cw = CensoringWeights.fit(T, S == 0)
    g_own = cw.subject_left()
    n = len(T)
    risks = {NULL_MODEL: np.tile(_null_risks(T, S, cause, grid), (n, 1))}
    risks.update({k: risk_matrix(data, v, grid, cause, k) for k, v in items.items()})
    out = []
    for name, r in risks.items():
        curve = np.empty(len(grid))
        for j, t in enumerate(grid):
            h = _Horizon(T, S, cause, t, cw, g_own)
            curve[j] = np.mean(h.w * (h.y - r[:, j]) ** 2)
        out.append({"model": name, "start": start, "stop": stop, "ibs": float(curve @ widths / (stop - start))})
    return pd.DataFrame(out)
