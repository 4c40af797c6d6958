"""Crude incidence rates per person-time with exact Poisson limits, and rate ratios between groups.

Rate = events / person-time (times ``per``).  Limits are the exact (Garwood 1936) Poisson limits,
chi2(a/2; 2x) / 2 and chi2(1 - a/2; 2x + 2) / 2 events, from ``statsmodels.stats.rates.confint_poisson``
(method "exact-c").  The rate ratio of group g to the reference group is tested and bounded conditionally
on the total number of events: given x_g + x_ref events, x_g is binomial with p = T_g / (T_g + T_ref) under
equal rates, so the exact (Clopper-Pearson) limits for p, beta quantiles as R's ``binom.test`` takes them,
map to limits for the ratio, and the p-value is the exact binomial one (scipy's ``binomtest``), as R's
``poisson.test`` does.

Rows are either subjects with a 0/1 ``event`` indicator and their follow-up ``time`` (``entry`` for delayed
entry), or any unit (a patient, a stratum) with a ``count=`` of events (whole numbers >= 0) and its
person-time in ``time``: ``poisson.test(x, T)`` on the sums per group either way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.rates import confint_poisson

from bmstats._checks import NO_TIME_RULE, InputError, fail, number_option, positive_number
from bmstats._deprecation import legacy_arguments
from bmstats.engine import engine_person_time, engine_source, is_engine_data
from bmstats.estimate._result import TableResult
from bmstats.estimate.inputs import survival_inputs


@dataclass(frozen=True, repr=False)
class IncidenceRate(TableResult):
    """Events, person-time and rate per ``per`` units by group: ``.table`` has group, n_event, person_time,
    rate, lower, upper."""

    per: float
    conf_level: float
    by: str | None
    n_events: int
    _title = "Incidence rates"

    def _notes(self) -> list[str]:
        return [f"n = {self.n}, events = {self.n_events}; rate per {self.per:g} person-time units; exact Poisson "
                f"{self.conf_level:.0%} limits"]


@dataclass(frozen=True, repr=False)
class RateRatio(TableResult):
    """Rate ratios of each group to the reference group, exact conditional limits and p-values: ``.table``
    has group, reference, n_event, person_time, ref_n_event, ref_person_time, rate_ratio, lower, upper,
    p_value."""

    reference: object
    conf_level: float
    by: str
    n_events: int
    _title = "Incidence rate ratios"

    def _notes(self) -> list[str]:
        return [f"reference group {self.reference!r}; exact conditional (binomial) {self.conf_level:.0%} limits"]


def _event_column(event: str | None, count: str | None, func: str) -> tuple[str, bool]:
    """The column holding the events and whether it holds counts (``count=``) or a 0/1 indicator."""
    if event is not None and count is not None:
        raise InputError(f"{func}: give either event (a 0/1 column) or count= (a column of event counts), not both")
    if event is None and count is None:
        raise InputError(f"{func} needs the events: event (a 0/1 column, one row per subject) or count= (a column "
                         "of event counts, e.g. per patient, with person-time in the time column)")
    return (count, True) if count is not None else (event, False)


def _events_person_time(data, time, event, by, entry, dropna, counts=False):
    if is_engine_data(data):
        events, person_time, labels, dropped, n = engine_person_time(engine_source(data), time, event, by=by,
                                                                     entry=entry, dropna=dropna, counts=counts)
    else:
        data, t, d, codes, labels, e, dropped = survival_inputs(data, time, event, by, entry, dropna,
                                                                need_event=False, allow_empty_interval=True,
                                                                counts=counts)
        if e is not None:
            t = t - e
        if counts and ((d > 0) & (t <= 0)).any():
            fail(event, NO_TIME_RULE, data.index[(d > 0) & (t <= 0)])
        events = np.bincount(codes, weights=d, minlength=len(labels)).astype(np.int64)
        person_time = np.bincount(codes, weights=t, minlength=len(labels))
        n = len(t)
    zero = person_time <= 0
    if zero.any():
        raise InputError(f"column {time!r}: no person-time in group(s) "
                         f"{', '.join(str(labels[i]) for i in np.flatnonzero(zero))}")
    return events, person_time, labels, dropped, n


def poisson_limits(events, person_time, conf_level=0.95):
    """Exact (Garwood) limits of a Poisson rate events / person_time."""
    lower, upper = confint_poisson(np.asarray(events, dtype=float), np.asarray(person_time, dtype=float),
                                   method="exact-c", alpha=1 - conf_level)
    return np.nan_to_num(np.asarray(lower, dtype=float), nan=0.0), np.asarray(upper, dtype=float)


@legacy_arguments(positional=("by", "per", "conf_level", "entry", "dropna"))
def incidence_rate(data: pd.DataFrame, time: str, event: str | None = None, *, count: str | None = None,
                   by: str | None = None, per: float = 1000, conf_level: float = 0.95, entry: str | None = None,
                   dropna: bool = False) -> IncidenceRate:
    """Crude incidence rate by group with exact Poisson limits.

    rate = per * events / person_time, person_time = sum(time - entry); limits chi2(a/2; 2x) / 2 and
    chi2(1 - a/2; 2x + 2) / 2 events. Matches R's ``poisson.test(x, T)`` (estimate and conf.int).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given), or, with
        ``count=``, one row per patient or stratum with its number of events (e.g. from
        :func:`bmstats.event_counts`).
    time : str
        Column of follow-up times (person-time per row, or exit time with ``entry``).
    event : str, optional
        Column of 0/1 event indicators (0 = censored). Give this or ``count``.
    count : str, optional
        Column of event counts per row (whole numbers >= 0; a negative or fractional count is an error naming
        the rows), with the row's person-time in ``time``: recurrent events per patient.
    by : str, optional
        Column whose groups get separate rates.
    per : float, default 1000
        Rates are per this many units of person-time.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    entry : str, optional
        Column of entry times; person-time is ``time - entry``.
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.

    Returns
    -------
    IncidenceRate
        ``.table`` with group, n_event, person_time, rate, lower, upper.

    References
    ----------
    .. [1] Garwood F. Fiducial limits for the Poisson distribution. Biometrika 1936;28:437-442.
    """
    column, counts = _event_column(event, count, "incidence_rate")
    per = positive_number(per, "per", what="the person-time units a rate is expressed per")
    conf_level = _conf_level(conf_level)
    events, pt, labels, dropped, n = _events_person_time(data, time, column, by, entry, dropna, counts)
    lower, upper = poisson_limits(events, pt, conf_level)
    table = pd.DataFrame({"group": labels, "n_event": events, "person_time": pt, "rate": events / pt * per,
                          "lower": lower * per, "upper": upper * per})
    return IncidenceRate(_table=table, per=per, conf_level=conf_level, by=by, n=n, n_events=int(events.sum()),
                         dropped=dropped)


@legacy_arguments(positional=("by", "reference", "conf_level", "entry", "dropna"))
def rate_ratio(data: pd.DataFrame, time: str, event: str | None = None, *, count: str | None = None, by: str,
               reference=None, conf_level: float = 0.95, entry: str | None = None, dropna: bool = False) -> RateRatio:
    """Incidence rate ratio of each group to a reference group, with exact conditional limits and p-value.

    RR = (x_g / T_g) / (x_r / T_r); given x_g + x_r, x_g ~ Binomial(x_g + x_r, T_g / (T_g + T_r)) under
    equal rates. Matches R's ``poisson.test(c(x_g, x_r), c(T_g, T_r), r = 1)`` (estimate, conf.int, p.value).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given), or, with
        ``count=``, one row per patient or stratum with its number of events (e.g. from
        :func:`bmstats.event_counts`).
    time : str
        Column of follow-up times (person-time per row, or exit time with ``entry``).
    event : str, optional
        Column of 0/1 event indicators (0 = censored). Give this or ``count``.
    count : str, optional
        Column of event counts per row (whole numbers >= 0; a negative or fractional count is an error naming
        the rows), with the row's person-time in ``time``: recurrent events per patient.
    by : str
        Column of the groups.
    reference : optional
        The reference group (default: the first group).
    conf_level : float, default 0.95
        Level of the confidence intervals.
    entry : str, optional
        Column of entry times; person-time is ``time - entry``.
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.

    Returns
    -------
    RateRatio
        ``.table`` with group, reference, their n_event and person_time, rate_ratio, lower, upper, p_value.

    References
    ----------
    .. [1] Breslow NE, Day NE. Statistical Methods in Cancer Research, Vol. II. IARC 1987, chapter 2.
    """
    column, counts = _event_column(event, count, "rate_ratio")
    if by is None:
        raise InputError("rate_ratio needs a grouping column `by`")
    conf_level = _conf_level(conf_level)
    events, pt, labels, dropped, n = _events_person_time(data, time, column, by, entry, dropna, counts)
    if len(labels) < 2:
        raise InputError(f"column {by!r}: a rate ratio needs at least two groups, found one ({labels[0]!r})")
    ref = labels[0] if reference is None else reference
    if ref not in labels:
        raise InputError(f"reference {ref!r} is not a group of {by!r} ({', '.join(map(str, labels))})")
    r = labels.index(ref)
    rows = []
    for g in range(len(labels)):
        if g == r:
            continue
        x = int(events[g])
        lower, upper, p_value = exact_ratio(x, int(events[r]), pt[g], pt[r], conf_level)
        rows.append({"group": labels[g], "reference": ref, "n_event": x, "person_time": pt[g],
                     "ref_n_event": int(events[r]), "ref_person_time": pt[r],
                     "rate_ratio": (events[g] / pt[g]) / (events[r] / pt[r]) if events[r] else
                     (np.inf if events[g] else np.nan),
                     "lower": lower, "upper": upper, "p_value": p_value})
    return RateRatio(_table=pd.DataFrame(rows), reference=ref, conf_level=conf_level, by=by, n=n,
                     n_events=int(events.sum()), dropped=dropped)


def exact_ratio(x: int, x_ref: int, t: float, t_ref: float, conf_level: float = 0.95) -> tuple[float, float, float]:
    """Exact conditional limits and two-sided p-value of the rate ratio (x / t) / (x_ref / t_ref).

    Given n = x + x_ref, x ~ Binomial(n, p) with p = t / (t + t_ref) when the rates are equal; the
    Clopper-Pearson limits of p (beta quantiles, as R's ``binom.test``) give the ratio's limits
    p / (1 - p) * t_ref / t, and the p-value is ``binom.test(x, n, t / (t + t_ref))``'s, as in R's
    ``poisson.test``.  No events at all: (0, inf) and p = 1.
    """
    n = x + x_ref
    if n == 0:
        return 0.0, np.inf, 1.0
    a = 1 - conf_level
    odds = t_ref / t
    p_low = stats.beta.ppf(a / 2, x, n - x + 1) if x > 0 else 0.0
    p_high = stats.beta.ppf(1 - a / 2, x + 1, n - x) if x < n else 1.0
    lower = p_low / (1 - p_low) * odds
    upper = np.inf if p_high >= 1 else p_high / (1 - p_high) * odds
    p_value = float(stats.binomtest(x, n, t / (t + t_ref)).pvalue)
    return float(lower), float(upper), p_value


def _conf_level(conf_level) -> float:
    return number_option(conf_level, "conf_level", low=0, high=1, low_open=True, high_open=True,
                         what="the level of the confidence intervals")
