"""Cumulative incidence of competing risks: the Aalen-Johansen estimate with cmprsk's variance.

Aalen OO, Johansen S. An empirical transition matrix for non-homogeneous Markov chains based on censored
observations. Scand J Stat 1978;5:141-150.  Kalbfleisch JD, Prentice RL (1980), section 7.2.
For cause k, F_k(t) = sum over t_j <= t of S(t_j-) d_kj / n_j, with S the all-cause Kaplan-Meier estimate
of the group; censorings at t_j are at risk at t_j and tied events of different causes are all counted at
t_j (no jitter).

Variance as R's ``cmprsk::cuminc`` (Gray's delta-method estimator, identified against cuminc on tied data
since the package documents no formula): with G_j = F_k(t) - F_k(t_j), r_j = n_j / (n_j - d_j),
a_j = S(t_j-) - G_j r_j, and binomial variances V_j(x) = x (n_j - x) / (n_j^2 (n_j - 1)) of the cause-k
count and of the count of all other causes (their covariance is not subtracted; with one subject at risk
V_j(x) = x / n_j^2, as cuminc),
    Var F_k(t) = sum_{t_j <= t} a_j^2 V_j(d_kj) + (G_j r_j)^2 V_j(d_j - d_kj).
Confidence limits by default on the log(-log) scale (Pintilie, Competing Risks: A Practical Perspective,
2006; the transform tidycmprsk uses): F^exp(-+ z se / (F log F)); ``conf_type`` "log" and "plain" as
:func:`bmstats.estimate.limits.probability_limits`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bmstats._plot_docs import plot_doc
from bmstats._checks import (
    InputError, handle_missing, require_columns, require_frame, status_array, time_array,
)
from bmstats._deprecation import legacy_arguments
from bmstats.engine import engine_counts, engine_source, is_engine_data
from bmstats.estimate._result import CurveResult, conf_type_option, frozen_copy
from bmstats.estimate.counts import aggregate_counts, group_codes, sum_last_axis
from bmstats.estimate.inputs import empty_groups, strata_that_compare
from bmstats.estimate.limits import probability_limits
from bmstats.estimate.timescale import time_attrs


def competing_inputs(data, time, status, by, strata, dropna):
    """Checked arrays shared by the cumulative incidence estimate and Gray's test."""
    data = require_frame(data)
    require_columns(data, [time, status, by, strata])
    data, dropped = handle_missing(data, [time, status, by, strata], dropna)
    t = time_array(data, time)
    s = status_array(data, status)
    if not (s > 0).any():
        raise InputError(f"column {status!r}: all rows are censored (no events); nothing to estimate")
    empty_groups(data, by)
    empty_groups(data, strata)
    codes, labels = group_codes(data, by)
    return data, t, s, codes, labels, dropped


def aalen_johansen(n_risk, d_cause, d_all):
    """Estimate and cuminc variance of one cause within one group (arrays over the group's times)."""
    n = n_risk.astype(float)
    d1 = d_cause.astype(float)
    d = d_all.astype(float)
    surv = np.cumprod(1 - d / n)
    surv_before = np.concatenate([[1.0], surv[:-1]])
    f = np.cumsum(surv_before * d1 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # where everybody at risk fails nothing follows, so G_j = 0 and r_j does not matter
        r = np.where(n > d, n / (n - d), 0.0)
        # with one subject at risk the binomial variance has no n - 1 to divide by; cuminc then keeps x / n^2
        # (so the last subject's own event still adds S(t-)^2 to the variance, tests/reference/cif_edges.json)
        v1 = np.where(n > 1, d1 * (n - d1) / (n * n * (n - 1)), d1 / (n * n))
        v2 = np.where(n > 1, (d - d1) * (n - d + d1) / (n * n * (n - 1)), (d - d1) / (n * n))
    # (S_j- - (F(t) - F_j) r_j)^2 v1 + ((F(t) - F_j) r_j)^2 v2 expanded in F(t) so that the sums over j <= i
    # are cumulative sums (the direct double sum is quadratic in the number of times)
    a = surv_before + f * r
    rr = r * r
    var = (np.cumsum(a * a * v1) - 2 * f * np.cumsum(a * r * v1) + f * f * np.cumsum(rr * v1)
           + f * f * np.cumsum(rr * v2) - 2 * f * np.cumsum(f * rr * v2) + np.cumsum(f * f * rr * v2))
    return f, np.maximum(var, 0.0), surv


@dataclass(frozen=True, repr=False)
class CumulativeIncidence(CurveResult):
    """Aalen-Johansen cumulative incidence per group and cause; ``.table`` one row per (group, cause, time):
    group, cause, time, n_risk, n_event, estimate, std_err, lower, upper."""

    by: str | None
    causes: tuple
    _gray: pd.DataFrame | None = None
    strata: str | None = None
    rho: float = 0.0
    conf_type: str = "log-log"
    _title = "Cumulative incidence (Aalen-Johansen)"
    _keys = ("group", "cause")
    _start = 0.0

    @property
    def gray_test(self) -> pd.DataFrame | None:
        """Gray's K-sample test per cause (cause, statistic, df, p_value); None without ``by``."""
        return frozen_copy(self._gray)

    def _notes(self) -> list[str]:
        notes = [f"n = {self.n}, events = {self.n_events}; causes {', '.join(map(str, self.causes))}; "
                 f"{self.conf_level:.0%} CI ({self.conf_type})"]
        if self._gray is not None:
            for row in self._gray.itertuples():
                notes.append(f"Gray's test, cause {row.cause}: chi-square = {row.statistic:.4f} on {row.df} df, "
                             f"p = {row.p_value:.4g}")
        return notes

    def plot(self, ax=None, **kw):
        from bmstats.report import figures
        return figures.plot_cumulative_incidence(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The cumulative incidence curves", "plot_cumulative_incidence")


def cumulative_incidence_table(counts, labels, causes, conf_level=0.95, km_complement=False,
                               conf_type="log-log") -> pd.DataFrame:
    """The computing step: Aalen-Johansen estimates, variances and limits from aggregated counts whose
    columns are the groups (one block: the curves are not stratified)."""
    frames = []
    for g, label in enumerate(labels):  # per group and cause, not per row
        exits = counts.n_censor[:, g] + sum_last_axis(counts.n_event[:, g, :])
        rows = exits > 0
        if not rows.any():
            continue
        n_risk = counts.n_risk[rows, g]
        events = counts.n_event[rows, g, :]
        d_all = sum_last_axis(events)
        for k in causes:
            d_k = events[:, counts.causes.index(k)]
            est, var, _ = aalen_johansen(n_risk, d_k, d_all)
            lower, upper = probability_limits(est, np.sqrt(var), conf_type, conf_level)
            frame = {"group": label, "cause": k, "time": counts.time[rows], "n_risk": n_risk,
                     "n_event": d_k, "estimate": est, "std_err": np.sqrt(var), "lower": lower, "upper": upper}
            if km_complement:
                frame["km_complement"] = 1 - np.cumprod(1 - d_k / n_risk)
            frames.append(pd.DataFrame(frame))
    table = pd.concat(frames, ignore_index=True)
    table["group"] = pd.Categorical(table["group"], categories=pd.Index(labels, dtype=object))
    return table


@legacy_arguments(positional=("by", "strata", "conf_level", "rho", "km_complement", "dropna"))
def cumulative_incidence(data: pd.DataFrame, time: str, status: str, *, by: str | None = None,
                         strata: str | None = None, conf_type: str = "log-log", conf_level: float = 0.95,
                         rho: float = 0.0,
                         km_complement: bool = False, dropna: bool = False) -> CumulativeIncidence:
    """Cumulative incidence of each competing cause (Aalen-Johansen), by group, with Gray's test.

    F_k(t) = sum_(t_j <= t) S(t_j-) d_kj / n_j, S the all-cause Kaplan-Meier estimate. Estimate, variance and
    Gray's test match R's ``cmprsk::cuminc(time, status, group, strata, rho)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given).
    time : str
        Column of follow-up times.
    status : str
        Column coded 0 (censored) and 1..k (causes).
    by : str, optional
        Column whose groups get separate curves; with it, ``.gray_test`` compares them for each cause.
    strata : str, optional
        Column stratifying Gray's test.
    conf_type : {"log-log", "log", "plain"}, default "log-log"
        Scale of the pointwise limits (:func:`bmstats.estimate.limits.probability_limits`): "log-log"
        F^exp(-+ z se / (F log F)) keeps them inside (0, 1); "log" F exp(-+ z se / F); "plain" F -+ z se.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    rho : float, default 0
        Power of the weight function of Gray's test.
    km_complement : bool, default False
        Also give the naive 1 - Kaplan-Meier that censors the other causes (for comparison only: it
        overstates the incidence).
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.

    Returns
    -------
    CumulativeIncidence
        ``.table`` (group, cause, time, n_risk, n_event, estimate, std_err, lower, upper), ``.at(times)``,
        ``.gray_test``, ``.plot(ax=)``.

    References
    ----------
    .. [1] Aalen OO, Johansen S. An empirical transition matrix for non-homogeneous Markov chains based on
       censored observations. Scand J Stat 1978;5:141-150.
    .. [2] Gray RJ. A class of K-sample tests for comparing the cumulative incidence of a competing risk.
       Ann Stat 1988;16:1141-1154.
    """
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    conf_type_option(conf_type)
    scale = time_attrs(data)
    engine = engine_source(data) if is_engine_data(data) else None
    if engine is not None:
        # one GROUP BY (strata, group, time, status) serves the curves (summed over strata) and Gray's test
        ec = engine_counts(engine, time, status, block=strata, column=by, dropna=dropna)
        if strata is not None:
            strata_that_compare(None, by, strata, groups_per_stratum=ec.groups_per_block())
        labels, causes, n, n_events, dropped = ec.column_labels, ec.causes, ec.n, ec.n_events, ec.dropped
        strata_counts = ec.counts
        counts = ec.counts if strata is None else ec.pooled_blocks()
    else:
        data, t, s, codes, labels, dropped = competing_inputs(data, time, status, by, strata, dropna)
        strata_that_compare(data, by, strata)
        causes = tuple(int(k) for k in np.unique(s[s > 0]))
        n, n_events = len(t), int((s > 0).sum())
        # one GROUP BY (time) with the groups as columns serves the curves and, unstratified, Gray's test
        counts = aggregate_counts(t, s, column=codes, n_columns=len(labels))
        strata_counts = counts
        if by is not None and strata is not None:
            s_codes, s_labels = group_codes(data, strata)
            strata_counts = aggregate_counts(t, s, block=s_codes, column=codes, n_blocks=len(s_labels),
                                             n_columns=len(labels))
    if by is not None and len(labels) < 2:
        raise InputError(f"column {by!r}: Gray's test needs at least two groups, found one ({labels[0]!r})")
    table = cumulative_incidence_table(counts, labels, causes, conf_level, km_complement, conf_type)
    table.attrs.update(scale)
    gray = None
    if by is not None:
        from bmstats.estimate.gray import gray_test

        gray = gray_test(strata_counts, causes, rho)
    return CumulativeIncidence(_table=table, conf_level=conf_level, conf_type=conf_type, by=by, causes=causes, n=n,
                               n_events=n_events, _gray=gray, strata=strata, rho=rho, dropped=dropped)
