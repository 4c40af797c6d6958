"""Kaplan-Meier estimate of the survival function, by group, with Greenwood variance.

Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. JASA 1958;53:457-481.
Greenwood M. The natural duration of cancer. Rep Public Health Med Subj 1926;33.
Conventions follow R's ``survival::survfit`` (Therneau): the standard error behind the confidence limits
is that of the cumulative hazard, sqrt(sum d / (n (n - d))); the limits are ``plain`` (S +- z se(S)),
``log`` (on log S) or ``log-log`` (on log(-log S)); quantiles use the midpoint rule on flat stretches and
their limits come from the limit curves; the restricted mean's standard error is the Greenwood-based one
that ``print(survfit, rmean=tau)`` reports.  Delayed entry (left truncation) uses the risk set
``entry < t <= time``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, number_option, positive_number
from bmstats._deprecation import legacy_arguments
from bmstats.engine import engine_counts, engine_source, is_engine_data
from bmstats.estimate._result import CurveResult, conf_type_option
from bmstats.estimate.counts import aggregate_counts, sum_last_axis
from bmstats.estimate.inputs import survival_inputs
from bmstats.estimate.timescale import time_attrs

_FLAT_TOL = 1e-8  # survival values this close to 1 - p count as equal to it (midpoint rule)


def confidence_limits(surv, sigma, conf_type, conf_level):
    """Pointwise limits of S from sigma = se of the cumulative hazard, as survfit computes them."""
    conf_type_option(conf_type)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            se = surv * sigma
            lower, upper = np.clip(surv - z * se, 0, 1), np.clip(surv + z * se, 0, 1)
        elif conf_type == "log":
            lower, upper = np.exp(np.log(surv) - z * sigma), np.minimum(np.exp(np.log(surv) + z * sigma), 1)
        else:
            loglog = np.log(-np.log(surv))
            width = z * sigma / np.log(surv)
            lower, upper = np.exp(-np.exp(loglog - width)), np.exp(-np.exp(loglog + width))
            undefined = (surv >= 1) | (surv <= 0)
            lower[undefined], upper[undefined] = np.nan, np.nan
    bad = ~np.isfinite(sigma) | (surv <= 0)
    lower[bad], upper[bad] = np.nan, np.nan
    return lower, upper


def step_quantile(time: np.ndarray, curve: np.ndarray, p: float) -> float:
    """First time the decreasing step curve is <= 1 - p; midpoint rule where it equals 1 - p on a
    flat stretch (as quantile.survfit). NaN entries of ``curve`` carry no information and are skipped."""
    ok = ~np.isnan(curve)
    time, curve = time[ok], curve[ok]
    target = 1 - p
    below = np.flatnonzero(curve <= target + _FLAT_TOL)
    if len(below) == 0:
        return np.nan
    j = below[0]
    if abs(curve[j] - target) > _FLAT_TOL:
        return float(time[j])
    later = np.flatnonzero(curve[j:] < target - _FLAT_TOL)
    if len(later) == 0:
        return float(time[j])
    return float((time[j] + time[j + later[0]]) / 2)


@dataclass(frozen=True, repr=False)
class KaplanMeier(CurveResult):
    """Kaplan-Meier curves: ``.table`` has one row per group and distinct time (group, time, n_risk,
    n_event, n_censor, estimate, std_err, lower, upper); ``.at(times)`` as ``summary(survfit, times=)``."""

    conf_type: str
    by: str | None
    delayed_entry: bool = False
    _title = "Kaplan-Meier estimate"
    _start = 1.0

    def _notes(self) -> list[str]:
        notes = [f"n = {self.n}, events = {self.n_events}; {self.conf_level:.0%} CI ({self.conf_type})"]
        if self.delayed_entry:
            notes.append("delayed entry (left truncation)")
        return notes

    def _curves(self):
        yield from self._table.groupby("group", sort=False, observed=True)

    def quantile(self, p=(0.25, 0.5, 0.75)) -> pd.DataFrame:
        """Survival quantiles (time by which a fraction p has had the event) with confidence limits from
        the limit curves, as ``quantile.survfit``; NaN where a curve does not reach 1 - p."""
        probs = [number_option(q, "p", low=0, high=1, low_open=True, high_open=True,
                               what="the fraction that has had the event") for q in np.atleast_1d(p)]
        rows = []
        for g, tb in self._curves():
            t = tb["time"].to_numpy()
            for q in probs:
                rows.append({"group": g, "p": float(q),
                             "estimate": step_quantile(t, tb["estimate"].to_numpy(), q),
                             "lower": step_quantile(t, tb["lower"].to_numpy(), q),
                             "upper": step_quantile(t, tb["upper"].to_numpy(), q)})
        return pd.DataFrame(rows)

    def median(self) -> pd.DataFrame:
        """Median survival time with confidence limits (as ``print(survfit)``)."""
        return self.quantile([0.5]).drop(columns="p")

    def rmst(self, tau: float) -> pd.DataFrame:
        """Restricted mean survival time to ``tau`` (area under the curve on [0, tau]) and its standard
        error, as ``print(survfit, rmean=tau)``: Var = sum over event times t_j <= tau of
        A_j^2 d_j / (n_j (n_j - d_j)) with A_j the area under the curve between t_j and tau.

        ``tau`` must be positive and, as survRM2 requires, not beyond any group's last follow-up time
        (beyond it the curve is not known and the area would be extrapolated)."""
        tau = positive_number(tau, "tau", what="the time the mean is restricted to")
        last = {g: float(tb["time"].max()) for g, tb in self._curves()}
        beyond = {g: t for g, t in last.items() if tau > t}
        if beyond:
            raise InputError(
                f"tau = {tau:g} is beyond the last follow-up time of group(s) "
                + ", ".join(f"{g!r} ({t:g})" for g, t in beyond.items())
                + f"; the curve is unknown there (as survRM2, choose tau <= {min(last.values()):g})")
        rows = []
        for g, tb in self._curves():
            t, s = tb["time"].to_numpy(), tb["estimate"].to_numpy()
            d, nr = tb["n_event"].to_numpy(), tb["n_risk"].to_numpy()
            keep = t <= tau
            t, s, d, nr = t[keep], s[keep], d[keep], nr[keep]
            knots = np.concatenate([[0.0], t, [tau]])
            height = np.concatenate([[1.0], s])
            pieces = np.diff(knots) * height
            area = pieces.sum()
            after = np.cumsum(pieces[::-1])[::-1][1:]  # area from t_j to tau
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(d > 0, after**2 * d / (nr * (nr - d)), 0.0)
            terms[(d > 0) & (after == 0)] = 0.0
            rows.append({"group": g, "tau": float(tau), "estimate": float(area),
                         "std_err": float(np.sqrt(terms.sum()))})
        return pd.DataFrame(rows)

    def rmst_difference(self, tau: float, conf_level: float | None = None) -> pd.DataFrame:
        """Difference in restricted mean survival time (second group minus first) with a Wald CI and p."""
        r = self.rmst(tau)
        if len(r) != 2:
            raise InputError(f"rmst_difference needs exactly two groups, this result has {len(r)}")
        level = self.conf_level if conf_level is None else conf_level
        diff = r["estimate"].iloc[1] - r["estimate"].iloc[0]
        se = float(np.hypot(r["std_err"].iloc[0], r["std_err"].iloc[1]))
        z = stats.norm.ppf(0.5 + level / 2)
        return pd.DataFrame([{
            "contrast": f"{r['group'].iloc[1]} - {r['group'].iloc[0]}", "tau": float(tau),
            "estimate": diff, "std_err": se, "lower": diff - z * se, "upper": diff + z * se,
            "p_value": float(2 * stats.norm.sf(abs(diff / se))) if se > 0 else np.nan,
        }])

    def cumulative_failure(self) -> pd.DataFrame:
        """1 - KM with limits (1 - upper, 1 - lower): the naive 'cumulative incidence' that ignores
        competing risks, for comparison with the Aalen-Johansen estimate."""
        tb = self._table
        return tb.assign(estimate=1 - tb["estimate"], lower=1 - tb["upper"], upper=1 - tb["lower"])

    def plot(self, ax=None, **kw):
        from bmstats.report import figures
        return figures.plot_survival(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The Kaplan-Meier curves", "plot_survival")


def kaplan_meier_table(counts, labels, conf_type="log-log", conf_level=0.95) -> pd.DataFrame:
    """The computing step: survival, Greenwood se and limits from aggregated counts (one column)."""
    n_risk = counts.n_risk[:, 0].astype(float)
    d = sum_last_axis(counts.n_event[:, 0, :]).astype(float)
    hazard = d / n_risk
    with np.errstate(divide="ignore", invalid="ignore"):
        green = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    surv = np.empty_like(hazard)
    sigma2 = np.empty_like(hazard)
    for b in range(counts.n_blocks):  # per group, not per row
        rows = counts.rows(b)
        surv[rows] = np.cumprod(1 - hazard[rows])
        sigma2[rows] = np.cumsum(green[rows])
    sigma = np.sqrt(sigma2)
    lower, upper = confidence_limits(surv, sigma, conf_type, conf_level)
    with np.errstate(invalid="ignore"):
        std_err = surv * sigma
    return pd.DataFrame({
        "group": pd.Categorical.from_codes(counts.block, categories=pd.Index(labels, dtype=object)),
        "time": counts.time, "n_risk": counts.n_risk[:, 0], "n_event": d.astype(np.int64),
        "n_censor": counts.n_censor[:, 0], "estimate": surv, "std_err": std_err,
        "lower": lower, "upper": upper,
    })


@legacy_arguments(positional=("by", "entry", "conf_type", "conf_level", "dropna"))
def kaplan_meier(data: pd.DataFrame, time: str, event: str, *, by: str | None = None, entry: str | None = None,
                 conf_type: str = "log-log", conf_level: float = 0.95, dropna: bool = False) -> KaplanMeier:
    """Kaplan-Meier survival curves by group, with Greenwood's variance.

    S(t) = prod_(t_j <= t) (1 - d_j / n_j); Var log S(t) = sum_(t_j <= t) d_j / (n_j (n_j - d_j)).
    Matches R's ``survival::survfit(Surv(time, event) ~ by)`` (``conf.type`` as ``conf_type``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given).
    time : str
        Column of follow-up (exit) times, numeric and >= 0.
    event : str
        Column coded 0 (censored) / 1 (event).
    by : str, optional
        Column whose groups get separate curves.
    entry : str, optional
        Column of delayed-entry times (left truncation): a subject is at risk on ``(entry, time]``.
    conf_type : {"log-log", "log", "plain"}, default "log-log"
        Scale of the pointwise confidence limits.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.

    Returns
    -------
    KaplanMeier
        ``.table`` (group, time, n_risk, n_event, n_censor, estimate, std_err, lower, upper), ``.at(times)``,
        ``.median``, ``.rmst(tau)``, ``.plot(ax=)``.

    References
    ----------
    .. [1] Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. JASA 1958;53:457-481.
    .. [2] Greenwood M. The natural duration of cancer. Rep Public Health Med Subj 1926;33.
    """
    conf_type_option(conf_type)
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    scale = time_attrs(data)
    if is_engine_data(data):
        ec = engine_counts(engine_source(data), time, event, block=by, entry=entry, dropna=dropna, max_code=1)
        counts, labels, n, n_events, dropped = ec.counts, ec.block_labels, ec.n, ec.n_events, ec.dropped
    else:
        data, t, d, codes, labels, e, dropped = survival_inputs(data, time, event, by, entry, dropna)
        counts = aggregate_counts(t, d, block=codes, entry=e, n_blocks=len(labels), n_causes=1)
        n, n_events = len(t), int(d.sum())
    table = kaplan_meier_table(counts, labels, conf_type, conf_level)
    table.attrs.update(scale)
    return KaplanMeier(_table=table, conf_type=conf_type, conf_level=conf_level, by=by, n=n,
                       n_events=n_events, dropped=dropped, delayed_entry=entry is not None)
