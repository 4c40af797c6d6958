"""Discrimination of a risk score: Harrell's and Uno's concordance, Wolbers' competing-risk concordance, and
Royston & Sauerbrei's D.

The concordance counts, over comparable pairs, how often the subject with the event first had the higher
predicted risk: ``C = sum_ij w_ij [I(r_i > r_j) + I(r_i = r_j)/2] / sum_ij w_ij`` where i had an event at
T_i and j was still at risk (T_j > T_i, or censored at T_i). Harrell's C weights every pair 1; Uno's weights
a pair by ``1 / G(T_i-)^2`` (``G`` the Kaplan-Meier of the censoring, events leaving before censorings
at a tied time), which removes the dependence on the
censoring distribution. With ``cause=`` (Wolbers et al. 2009) i had the event of interest and subjects with a
competing event stay comparable for ever. The standard error is the infinitesimal jackknife of
``survival::concordance``: ``var = sum_k (dC/dv_k)^2`` over case weights v_k, from the pair counts each
subject takes part in. Counting is O(n log^2 n) (vectorised dominance counts), never over pairs.
"""
from __future__ import annotations


from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._checks import (
    InputError,
    handle_missing,
    require_columns,
    require_frame,
    status_array,
    time_array,
)
from bmstats.estimate._result import Result
from bmstats.estimate.ipcw import CensoringWeights
from bmstats.estimate.predicted_risks import risk_scores
from bmstats.estimate.riskset import prefix_weight_below

__all__ = ["concordance", "royston_d", "ConcordanceResult", "RoystonD"]


@dataclass(frozen=True, repr=False)
class ConcordanceResult(Result):
    """A concordance index: ``estimate, std_err, lower, upper`` (``.summary`` as a one-row frame); the pair
    counts ``concordant, discordant, tied_risk`` (weighted for Uno), ``method``, ``cause``, ``tau``."""

    estimate: float = field(kw_only=True)
    std_err: float = field(kw_only=True)
    lower: float = field(kw_only=True)
    upper: float = field(kw_only=True)
    conf_level: float = field(kw_only=True)
    method: str = field(kw_only=True)
    n_events: int = field(kw_only=True)
    concordant: float = field(kw_only=True)
    discordant: float = field(kw_only=True)
    tied_risk: float = field(kw_only=True)
    cause: int | None = field(default=None, kw_only=True)
    tau: float | None = field(default=None, kw_only=True)

    _title = "Concordance index"

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"method": self.method, "estimate": self.estimate, "std_err": self.std_err,
                              "lower": self.lower, "upper": self.upper}])

    def _tidy(self) -> pd.DataFrame:
        return self.summary

    def _notes(self) -> list[str]:
        what = {"harrell": "Harrell", "uno": "Uno (pairs weighted 1/G(t-)^2)"}[self.method]
        extra = (f", cause {self.cause} (Wolbers: competing events stay comparable)" if self.cause else "") + (
            f", pairs with the earlier time <= {self.tau:g}" if self.tau is not None else "")
        return [f"{what}; n = {self.n}, events = {self.n_events}{extra}; "
                f"infinitesimal-jackknife standard error, {self.conf_level:.0%} interval"]


def pair_counts(time, is_event, comparator_time, risk, pair_weight):
    """Weighted pair counts and their case-weight derivatives.

    Index subjects are those with ``is_event``; j is comparable to index i when comparator_time_j > time_i or
    (comparator_time_j == time_i and j is not an index subject), see :func:`concordance`; the pair weighs
    ``pair_weight_i``.
    ``comparator_time`` is the time after which a subject leaves the comparison (inf for competing events).
    Returns (concordant, discordant, tied) sums and per-subject derivatives (d_conc, d_disc, d_tied).
    """
    n = len(time)
    ranks = np.unique(risk, return_inverse=True)[1].astype(np.int64)
    ev = np.flatnonzero(is_event)
    a = pair_weight[ev]
    # side A: index event i; comparators ordered by comparator time descending, non-events before events
    order = np.lexsort((is_event.astype(np.int8), -comparator_time))
    # m_i = #comparators with ctime > t_i, plus non-index subjects with ctime == t_i
    asc = np.sort(comparator_time, kind="mergesort")
    greater = n - np.searchsorted(asc, time[ev], side="right")
    non_ev_t = np.sort(comparator_time[~is_event], kind="mergesort")
    equal_non = (np.searchsorted(non_ev_t, time[ev], side="right")
                 - np.searchsorted(non_ev_t, time[ev], side="left"))
    m = (greater + equal_non).astype(np.int64)
    below, upto = prefix_weight_below(ranks[order], np.ones(n), m, ranks[ev])
    L, T, R = below, upto - below, m - upto
    conc, tied, disc = float(a @ L), float(a @ T), float(a @ R)
    d_conc, d_tied, d_disc = np.zeros(n), np.zeros(n), np.zeros(n)
    d_conc[ev] += a * L
    d_tied[ev] += a * T
    d_disc[ev] += a * R
    # side B: subject k as comparator of the index events i with t_i < ctime_k (or == for non-index k)
    eorder = np.argsort(time[ev], kind="stable")
    et = time[ev][eorder]
    m_k = np.where(is_event, np.searchsorted(et, comparator_time, side="left"),
                   np.searchsorted(et, comparator_time, side="right")).astype(np.int64)
    e_ranks = ranks[ev][eorder]
    # prefix_weight_below keys on (block, rank) with ranks up to max(e_ranks) + 1: clip larger queries
    b_below, b_upto = prefix_weight_below(e_ranks, a[eorder], m_k, np.minimum(ranks, e_ranks.max() + 1))
    total = np.concatenate([[0.0], np.cumsum(a[eorder])])[m_k]
    # i concordant with k when r_i > r_k
    d_conc += total - b_upto
    d_tied += b_upto - b_below
    d_disc += b_below
    return (conc, disc, tied), (d_conc, d_disc, d_tied)


def concordance(data: pd.DataFrame, time: str, status: str, predictor, *, method: str = "harrell",
                tau: float | None = None, cause: int | None = None, conf_level: float = 0.95,
                dropna: bool = False) -> ConcordanceResult:
    """Concordance of a risk score with the observed times (higher score = higher risk).

    Parameters
    ----------
    data : pandas.DataFrame
    time, status : str
        Follow-up time and status (0 censored, 1 event; or 1..k causes with ``cause=``).
    predictor : str or array-like
        Column name or array of risk scores, one per row (higher = higher risk).
    method : "harrell" or "uno"
        Pair weights 1, or ``1/G(T_i-)^2`` (R: ``timewt = "n/G2"``).
    tau : float, optional
        Count only pairs whose earlier time is <= tau (R: ``ymax``).
    cause : int, optional
        Competing-risk concordance of Wolbers et al. (2009) for this cause: subjects with another cause stay
        comparable with every index event.
    conf_level : float, default 0.95
        Wald interval ``estimate -+ z std_err``.
    dropna : bool, default False
        Drop rows with a missing time, status or predictor (counted in ``dropped``) instead of an error.

    Returns
    -------
    ConcordanceResult
        ``estimate, std_err, lower, upper``.

    References
    ----------
    Harrell FE et al. (1982). Evaluating the yield of medical tests. JAMA 247. Uno H et al. (2011). On the
    C-statistics for evaluating overall adequacy of risk prediction procedures with censored survival data.
    Stat Med 30. Wolbers M et al. (2009). Prognostic models with competing risks. Epidemiology 20.
    R: ``survival::concordance(Surv(time, status) ~ predictor, reverse = TRUE, timewt = "n" | "n/G2",
    ymax = tau)`` including its standard error (sqrt of ``$var``).
    """
    require_frame(data)
    if method not in ("harrell", "uno"):
        raise InputError(f"method must be 'harrell' or 'uno', got {method!r}")
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level}")
    require_columns(data, [time, status])
    if isinstance(predictor, str):
        require_columns(data, [predictor])
        column = predictor
    else:  # an array: checked (length, numbers) now, its missing values dropped or refused with the rows'
        column = "__predictor__"
        data = data.assign(**{column: risk_scores(data, predictor, "predictor", allow_missing=True)})
    data, dropped = handle_missing(data, [time, status, column], dropna)
    t = time_array(data, time)
    st = status_array(data, status, max_code=None if cause is not None else 1)
    risk = risk_scores(data, column, "predictor")
    c = 1 if cause is None else int(cause)
    if cause is not None and c < 1:
        raise InputError(f"cause must be a positive status code, got {cause}")
    is_event = st == c
    if tau is not None:
        if not np.isfinite(tau) or tau <= 0:
            raise InputError(f"tau must be a positive number, got {tau}")
        index = is_event & (t <= tau)
    else:
        index = is_event
    if not index.any():
        raise InputError(f"column {status!r}: no events of cause {c}" + (f" by tau = {tau}" if tau else "")
                         + "; the concordance needs at least one")
    comparator_time = np.where((st > 0) & (st != c), np.inf, t)
    if method == "uno":
        G = CensoringWeights.fit(t, st == 0).subject_left()
        with np.errstate(divide="ignore"):
            w = np.where(index, 1.0 / G**2, 0.0)
    else:
        w = index.astype(float)
    (conc, disc, tied), (dc, dd, dt) = pair_counts(t, index, comparator_time, risk, w)
    total = conc + disc + tied
    if total == 0:
        raise InputError("no comparable pairs: every event is tied with every longer time")
    est = (conc + tied / 2) / total
    infl = ((dc + dt / 2) - est * (dc + dd + dt)) / total
    se = float(np.sqrt(infl @ infl))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    return ConcordanceResult(n=len(data), dropped=dropped, estimate=float(est), std_err=se,
                             lower=float(est - z * se), upper=float(est + z * se), conf_level=conf_level,
                             method=method, n_events=int(index.sum()), concordant=conc, discordant=disc,
                             tied_risk=tied, cause=cause, tau=tau)


@dataclass(frozen=True, repr=False)
class RoystonD(Result):
    """Royston & Sauerbrei's D: ``estimate, std_err, lower, upper`` and ``r2_d`` (explained variation)."""

    estimate: float = field(kw_only=True)
    std_err: float = field(kw_only=True)
    lower: float = field(kw_only=True)
    upper: float = field(kw_only=True)
    r2_d: float = field(kw_only=True)
    conf_level: float = field(kw_only=True)
    n_events: int = field(kw_only=True)

    _title = "Royston & Sauerbrei's D"

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"estimate": self.estimate, "std_err": self.std_err, "lower": self.lower,
                              "upper": self.upper, "r2_d": self.r2_d}])

    def _tidy(self) -> pd.DataFrame:
        return self.summary

    def _notes(self) -> list[str]:
        return [f"n = {self.n}, events = {self.n_events}; Cox model on the scaled normal scores of the prognostic "
                "index (Blom, ties averaged)"]


def _prognostic_index(model, data: pd.DataFrame) -> np.ndarray:
    from bmstats.estimate.prediction import PublishedModel

    if isinstance(model, PublishedModel):
        return model.linear_predictor(data)
    if hasattr(model, "design") and hasattr(model, "coef"):
        return model.design.transform(data).to_numpy(dtype=float) @ model.coef.to_numpy()
    return risk_scores(data, model, "prognostic index")


def royston_d(model, data: pd.DataFrame, time: str, status: str, *, conf_level: float = 0.95,
              ties: str = "efron") -> RoystonD:
    """Royston & Sauerbrei's D of a prognostic index on (possibly new) data.

    ``D = kappa * b`` where b is the Cox coefficient of the Blom normal scores
    ``z_i = Phi^-1((rank_i - 3/8) / (n + 1/4))`` of the prognostic index, divided by ``kappa = sqrt(8/pi)``;
    ``R2_D = (D^2 / kappa^2) / (pi^2/6 + D^2 / kappa^2)``.

    Parameters
    ----------
    model : CoxResult, FineGrayResult, PublishedModel, str or array-like
        The model whose linear predictor is the prognostic index (or a column name / array of it).
    data : pandas.DataFrame
    time, status : str
        Follow-up time and 0/1 status in ``data``.
    conf_level : float, default 0.95
    ties : "efron" or "breslow"
        Tie handling of the Cox fit on the normal scores (survival's default: efron).

    Returns
    -------
    RoystonD

    References
    ----------
    Royston P, Sauerbrei W (2004). A new measure of prognostic separation in survival data. Stat Med 23.
    R: ``survival::royston(fit)`` (D, se(D), R.D).
    """
    from scipy.stats import rankdata

    from bmstats.estimate.cox import cox

    require_frame(data)
    require_columns(data, [time, status])
    pi_ = _prognostic_index(model, data)
    bad = ~np.isfinite(pi_)
    if bad.any():
        from bmstats._checks import describe_rows

        raise InputError(f"prognostic index: missing or non-finite at {describe_rows(data.index[bad])}")
    n = len(pi_)
    kappa = np.sqrt(8 / np.pi)
    z = stats.norm.ppf((rankdata(pi_, method="average") - 0.375) / (n + 0.25)) / kappa
    frame = pd.DataFrame({"t": data[time].to_numpy(), "s": data[status].to_numpy(), "z": z}, index=data.index)
    fit = cox(frame, "t", "s", "z", ties=ties, conf_level=conf_level)
    d = float(fit.coef.iloc[0])
    se = float(np.sqrt(fit.cov.to_numpy()[0, 0]))
    q = stats.norm.ppf(0.5 + conf_level / 2)
    r2 = (d**2 / kappa**2) / (np.pi**2 / 6 + d**2 / kappa**2)
    return RoystonD(n=n, estimate=d, std_err=se, lower=d - q * se, upper=d + q * se, r2_d=float(r2),
                    conf_level=conf_level, n_events=int(fit.n_events))
