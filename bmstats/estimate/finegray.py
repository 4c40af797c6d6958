"""Fine-Gray proportional subdistribution hazards regression for competing risks.

Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a competing risk.
JASA 94:496-509.  The model: the cumulative incidence of the cause of interest is
F(t | x) = 1 - exp(-Lambda0(t) exp(x'b)), so exp(b) are subdistribution hazard ratios (the effect of a
covariate on who ends up with the event, competing events included), unlike the cause-specific hazard
ratios of a Cox model with competing events censored.

Estimation as cmprsk::crr (the oracle; reference values in tests/reference/finegray.json): inverse
probability of censoring weights from the censoring Kaplan-Meier at left limits (optionally per censoring
group, crr's ``cengroup``), Breslow ties, Newton-Raphson with step halving, the robust sandwich variance of
Fine & Gray including the term for the estimated censoring distribution, the Breslow-type baseline
cumulative subdistribution hazard.  Everything runs in O(n p^2) per iteration after one sort
(:mod:`bmstats.estimate.finegray_core`) and the variance in O(n p^2) (:mod:`bmstats.estimate.finegray_variance`),
where crr needs O(n^2) per iteration.  ``predict`` adds pointwise confidence limits for the predicted
cumulative incidence (delta method on the log(-log) scale from the influence functions of b and Lambda0,
including the censoring term), which crr does not give.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, beyond_follow_up, cause_code, distinct_labels, time_points
from bmstats._deprecation import legacy_arguments, renamed_attribute
from bmstats.engine import engine_source, is_engine_data
from bmstats.estimate._regression import (
    ConvergenceWarning, blank, coefficient_table, invert_information, newton_raphson,
)
from bmstats.estimate._result import ModelResult, frozen_copy
from bmstats.estimate.design import Design
from bmstats.estimate.finegray_core import FGProblem, FGRiskSums, fg_risk_sums
from bmstats.estimate.finegray_variance import cumhaz_influence, influence_beta, sandwich_cov
from bmstats.estimate.prepare import prepare

__all__ = ["fine_gray", "FineGrayResult"]

MIN_EVENTS_PER_TERM = 1


@dataclass(frozen=True, repr=False)
class FineGrayResult(ModelResult):
    """A fitted Fine-Gray model.

    ``summary`` (index term): coef, std_err, shr, lower, upper, statistic, p_value (shr = subdistribution
    hazard ratio, std_err the Fine-Gray sandwich standard error); ``coef``; ``cov`` (sandwich); ``loglik``
    and ``loglik_null`` (log pseudo-likelihood at b and at 0, as crr's); ``baseline``: cumulative
    subdistribution hazard at covariates 0 (time, cumulative_hazard) at the distinct times of the cause of
    interest ``cause``.
    """

    loglik: float
    loglik_null: float
    _score: np.ndarray
    _information: pd.DataFrame
    n_competing: int
    n_censored: int
    cause: int
    iterations: int
    _baseline: pd.DataFrame
    cengroup: str | None
    _prob: FGProblem = field(repr=False, compare=False)
    _rs: FGRiskSums = field(repr=False, compare=False)
    _influence: np.ndarray | None = field(repr=False, compare=False)  # None: made from the fit when needed
    engine: str | None = None  # the source, when fitted on an engine (the rows stayed there)
    _inv_information: np.ndarray | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def _influence_beta(self) -> np.ndarray:
        """IF_beta per subject (sorted order), (n, p): made on first use (prediction), not kept by the fit."""
        if self._influence is not None:
            return self._influence
        return influence_beta(self._prob, self._rs, self._inv_information)

    ratio_name = "shr"

    _title = "Fine-Gray subdistribution hazards regression"

    def _notes(self) -> list[str]:
        notes = [
            f"cause {self.cause}: n = {self.n}, events = {self.n_events}, competing events = {self.n_competing}, "
            f"censored = {self.n_censored}" + (f", censoring by {self.cengroup!r}" if self.cengroup else ""),
            f"log pseudo-likelihood = {self.loglik:.4f} (null {self.loglik_null:.4f}); sandwich standard errors",
        ]
        return notes

    @property
    def shr(self) -> pd.Series:
        """Subdistribution hazard ratios exp(coef)."""
        return self.ratio

    @property
    def hr(self) -> pd.Series:
        """Deprecated: the ratios are subdistribution hazard ratios, ``shr``."""
        renamed_attribute("FineGrayResult", "hr", "shr")
        return self.ratio

    @property
    def event(self) -> int:
        """Deprecated: ``cause``."""
        renamed_attribute("FineGrayResult", "event", "cause")
        return self.cause

    @property
    def score(self) -> np.ndarray:
        return frozen_copy(self._score)

    @property
    def information(self) -> pd.DataFrame:
        return frozen_copy(self._information)

    @property
    def baseline(self) -> pd.DataFrame:
        return frozen_copy(self._baseline)

    @property
    def reference_levels(self) -> dict:
        return dict(self.design.reference_levels)

    def _need_rows(self, what: str) -> None:
        if self._prob is None:
            from bmstats.engine.models import rows_needed
            rows_needed(self, what)

    @property
    def influence(self) -> pd.DataFrame:
        """Influence function of b per input row (I^{-1}(eta_i + psi_i)); ``cov`` = influence' influence."""
        self._need_rows("the influence function")
        infl = np.empty_like(self._influence_beta)
        infl[self._prob.order] = self._influence_beta
        return pd.DataFrame(infl, index=self.design.rows, columns=self.coef.index)

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_forest(self, ax=ax, **kw)

    plot.__doc__ = plot_doc(
        "Forest plot of the subdistribution hazard ratios with their confidence limits", "plot_forest")

    def predict(self, newdata: pd.DataFrame, times: Sequence[float] | float, conf_level: float | None = None,
                dropna: bool = False) -> pd.DataFrame:
        """Predicted cumulative incidence F(t | x) = 1 - exp(-Lambda0(t) exp(x'b)) per row of ``newdata``.

        Tidy frame: row (newdata's index), time, cumulative_hazard, estimate, std_err (of the estimate, by the
        delta method: (1 - F) H std_err_cloglog), std_err_cloglog, lower, upper.
        Confidence limits by the delta method on the log(-log(1 - F)) scale, where
        var(log Lambda(t) + x'b) = sum_i (IF_i(Lambda)/Lambda + x'IF_i(b))^2 from the influence functions
        of b and of the baseline (both with their censoring-distribution terms, Fine & Gray 1999 section 3).
        Point estimates equal cmprsk's ``predict.crr``. Before the first event: estimate 0, no interval.
        Missing covariates and levels not seen in the fit are errors, or with ``dropna=True`` dropped and
        counted in ``frame.attrs["dropped"]``; times beyond the last follow-up time warn.
        """
        level = self.conf_level if conf_level is None else conf_level
        if not 0 < level < 1:
            raise InputError(f"conf_level must be between 0 and 1, got {level}")
        t = time_points(times)
        self._need_rows("prediction")
        beyond_follow_up(t, float(self._prob.times[-1]), "Fine-Gray predictions")
        X = self.design.transform(newdata, dropna=dropna)
        Xnew = X.to_numpy(dtype=float) - self._prob.mean
        beta = self.coef.to_numpy()
        lp = Xnew @ beta
        rs, prob = self._rs, self._prob
        scale = np.exp(-rs.shift)
        cum = np.cumsum(rs.c) * scale  # Lambda at the mean covariate on the grid
        q = stats.norm.ppf(0.5 + level / 2)
        frames = []
        for tj in t:
            kt = np.searchsorted(prob.event_times, tj, side="right")
            lam = cum[kt - 1] if kt > 0 else 0.0
            H = lam * np.exp(lp)
            est = -np.expm1(-H)
            if lam > 0:
                IF = cumhaz_influence(prob, rs, self._influence_beta, tj)
                v_l = IF @ IF / lam**2
                cov_bl = self._influence_beta.T @ IF / lam
                var = v_l + 2 * Xnew @ cov_bl + np.einsum("ij,jk,ik->i", Xnew, self.cov.to_numpy(), Xnew)
                se = np.sqrt(np.maximum(var, 0))
                eta = np.log(H)
                lower = -np.expm1(-np.exp(eta - q * se))
                upper = -np.expm1(-np.exp(eta + q * se))
            else:
                se = lower = upper = np.full(len(lp), np.nan)
            frames.append(pd.DataFrame({"row": X.index, "time": tj, "cumulative_hazard": H, "estimate": est,
                                        "std_err": (1 - est) * H * se, "std_err_cloglog": se,
                                        "lower": lower, "upper": upper}))
        out = pd.concat(frames, ignore_index=True)
        out.attrs["dropped"] = X.attrs["dropped"]
        return out


@legacy_arguments(positional=("cause", "cengroup", "causes", "conf_level", "dropna", "tol", "max_iter"),
                  renamed={"event": "cause"})
def fine_gray(
    data: pd.DataFrame,
    time: str,
    status: str,
    formula: str,
    *,
    cause: int = 1,
    cengroup: str | None = None,
    causes=None,
    conf_level: float = 0.95,
    dropna: bool = False,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> FineGrayResult:
    """Fine-Gray proportional subdistribution hazards model for the cause of interest.

    F(t | x) = 1 - exp(-Lambda0(t) exp(x'b)), b from the IPCW-weighted partial likelihood, robust variance with
    the censoring term. Matches R's ``cmprsk::crr(ftime, fstatus, cov1, failcode = cause, cengroup)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given).
    time : str
        Column of follow-up times.
    status : str
        Column coded 0 (censored) and 1..k (causes); every non-zero code other than ``cause`` competes.
    formula : str
        Right-hand side in Wilkinson syntax.
    cause : int, default 1
        The cause of interest.
    cengroup : str, optional
        Column whose groups get separate censoring Kaplan-Meier estimates (crr's ``cengroup``).
    causes : sequence of int, optional
        The causes the data may hold; any other non-zero code is an error naming it and its rows.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.
    tol : float, default 1e-9
        Convergence tolerance on the relative change of the log pseudo-likelihood.
    max_iter : int, default 50
        Iteration limit of Newton-Raphson.

    Returns
    -------
    FineGrayResult
        ``.summary`` (term: coef, std_err, shr, lower, upper, statistic, p_value), ``.predict``,
        ``.converged``, ``.plot(ax=)``.

    References
    ----------
    .. [1] Fine JP, Gray RJ. A proportional hazards model for the subdistribution of a competing risk. JASA
       1999;94:496-509.
    """
    cause = cause_code(cause, "cause")
    if is_engine_data(data):
        from bmstats.engine.models import fine_gray_on_engine
        return fine_gray_on_engine(engine_source(data), time, status, formula, cause=cause, cengroup=cengroup,
                                   causes=causes, conf_level=conf_level, dropna=dropna, tol=tol,
                                   max_iter=max_iter)
    prep = prepare(data, formula, time=time, status=status, columns=[cengroup], causes=causes, dropna=dropna)
    data, design, dropped = prep.frame, prep.design, prep.dropped
    t, st = prep.time, prep.status
    n_events = int((st == cause).sum())
    if n_events == 0:
        codes = ", ".join(str(c) for c in np.unique(st))
        raise InputError(f"column {status!r}: no events of cause {cause} (codes present: {codes})")
    names = design.columns
    p = len(names)
    if n_events <= p * MIN_EVENTS_PER_TERM:
        warnings.warn(
            f"Fine-Gray: only {n_events} events of cause {cause} for {p} coefficients "
            f"({', '.join(map(repr, names))}); estimates are unstable",
            ConvergenceWarning, stacklevel=2,
        )
    group = None
    if cengroup is not None:
        group, levels = pd.factorize(data[cengroup], sort=True)
        distinct_labels(levels, cengroup, data[cengroup])
    prob = FGProblem.build(t, st, design.XT.T, cause, group)
    del prep, t, st  # the problem holds what the fit needs, sorted
    _check_variation_among_events(prob, names, design)

    cache: dict[bytes, FGRiskSums] = {}
    null: list[float] = []

    def evaluate(beta: np.ndarray):
        rs = fg_risk_sums(prob, beta)
        cache.clear()
        cache[beta.tobytes()] = rs
        if not null:
            null.append(rs.loglik)  # the first evaluation is at b = 0
        return rs.loglik, rs.score, rs.information

    fit = newton_raphson(evaluate, np.zeros(p), names, tol=tol, max_iter=max_iter, model=f"Fine-Gray (cause {cause})",
                         spread=np.ptp(prob.XT, axis=1))
    rs = cache.get(fit.beta.tobytes()) or fg_risk_sums(prob, fit.beta)
    try:
        if fit.not_estimable:
            inv_info = invert_information(rs.information, names, fit.not_estimable)
        else:
            inv_info = np.linalg.inv(rs.information)
    except np.linalg.LinAlgError:
        raise InputError(
            f"Fine-Gray: information matrix is singular at the estimate (collinear or constant covariates among "
            f"those at risk: {', '.join(map(repr, names))})"
        ) from None
    prob.release()  # the sandwich and predictions take the rows they need from the design
    cov = sandwich_cov(prob, rs, inv_info)
    if fit.not_estimable:
        cov = blank(cov, fit.not_estimable)
    coef = pd.Series(fit.beta, index=pd.Index(names, name="term"), name="coef")
    cov_df = pd.DataFrame(cov, index=coef.index, columns=coef.index)
    summary = coefficient_table(names, fit.beta, cov, conf_level, not_estimable=fit.not_estimable, ratio="shr")
    base = np.cumsum(rs.c) * np.exp(-rs.shift - prob.mean @ fit.beta)
    baseline = pd.DataFrame({"time": prob.event_times, "cumulative_hazard": base})
    return FineGrayResult(
        _summary=summary,
        _cov=cov_df,
        loglik=float(rs.loglik),
        loglik_null=float(null[0]),
        _score=rs.score.copy(),
        _information=pd.DataFrame(rs.information, index=coef.index, columns=coef.index),
        n=prob.n,
        n_events=n_events,
        n_competing=int(prob.competing.sum()),
        n_censored=int(prob.censored.sum()),
        cause=int(cause),
        converged=bool(fit.converged),
        iterations=int(fit.iterations),
        _baseline=baseline,
        conf_level=float(conf_level),
        cengroup=cengroup,
        design=design,
        dropped=dropped,
        _prob=prob,
        _rs=rs,
        _influence=None,
        _inv_information=inv_info,
    )


def _check_variation_among_events(prob: FGProblem, names: list[str], design: Design) -> None:
    """A column constant over everyone ever in a subdistribution risk set at an event time has no information."""
    # rows at or after the first event time are in a risk set; competing events before the last event time too
    in_any = prob.grid >= prob.ev_grid[0]
    if prob.competing.any():
        in_any |= prob.competing & (prob.grid < prob.ev_grid[-1])
    if in_any.any():  # column by column: no n x p temporaries
        const = np.array([np.ptp(x[in_any]) == 0 for x in prob.XT], dtype=bool)
    else:
        const = np.ones(len(names), dtype=bool)
    if const.any():
        bad = [names[j] for j in np.flatnonzero(const)]
        terms = sorted({design.term_of(b) for b in bad})
        raise InputError(
            f"Fine-Gray: term(s) {', '.join(map(repr, terms))} do not vary among the subjects at risk at the event "
            f"times (column(s) {', '.join(map(repr, bad))}); they cannot be estimated - remove them"
        )
