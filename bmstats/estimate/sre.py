"""Skeletal-related event (SRE) summaries from counting-process rows, as trials of bone-targeted agents
report them.

Input: the rows of ``Cohort.recurrent_events`` (or any frame of the same shape): ``id``, ``start``,
``stop``, ``event`` (an SRE at ``stop``), ``terminal`` (death at ``stop``), optionally ``event_type`` on
event rows and a grouping column ``by`` (group "all" without it).  Times are in ``time_unit`` (default
years, as ``Cohort.recurrent_events`` gives them) from the origin (e.g. the diagnosis of bone metastasis
or randomisation); ``window`` and ``period`` are in days whatever the time unit.

- ``proportion_with_event``: patients with at least one SRE, exact (Clopper-Pearson) limits.  A crude
  proportion: it ignores differing follow-up and death; ``time_to_first_event`` is the time-aware answer.
- ``time_to_first_event``: cumulative incidence of the first SRE with death before an SRE competing
  (Aalen-Johansen, ``bm.cumulative_incidence``).
- ``skeletal_morbidity_rate``: SREs per person-year, counting at most one SRE per ``window`` (21 days):
  an SRE counts when it is at least 21 days after the patient's last *counted* SRE; one 1-20 days after it
  is the same episode (the rule of the denosumab trials, Stopeck et al. 2010, J Clin Oncol 28:5132-5139;
  stated once in :mod:`bmstats._sre_window`, which ``Cohort.recurrent_events`` and rule BM102 share).
  Pooled rate with exact Poisson (Garwood) limits, and the mean of the patients' own rates (the trials'
  "SMR", Rosen et al. 2004, Cancer 100:36-43).
- ``skeletal_morbidity_period_rate``: the number of ``period``-long intervals (12 weeks = 84 days, counted
  from the origin) with at least one SRE divided by the time on study in periods (Hortobagyi et al. 1996,
  N Engl J Med 335:1785-1791); per patient, then averaged, and pooled.
- ``event_type_breakdown``: events and patients by event type.
- ``sre_summary``: all of the above as one immutable result of tidy DataFrames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._sre_window import WINDOW_DAYS, counted_events
from bmstats._checks import InputError, number_option, positive_number, require_columns
from bmstats._deprecation import legacy_arguments
from bmstats.estimate._result import TableResult, frozen_copy
from bmstats.estimate.cif import CumulativeIncidence
from bmstats.estimate.counting_process import counting_process

DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}


def _rows(data, id, start, stop, event, terminal, by, dropna, extra=()):
    require_columns(data, list(extra))
    cp = counting_process(data, id, start, stop, event, terminal, by, dropna)
    frame = pd.DataFrame({
        "id": cp.data[id].to_numpy(), "code": cp.id_code, "group": cp.group,
        "start": cp.start, "stop": cp.stop, "event": cp.event, "terminal": cp.terminal,
    })
    for c in extra:
        frame[c] = cp.data[c].to_numpy()
    return frame


@legacy_arguments(positional=('terminal', 'by', 'dropna'))
def first_event_data(data, id, start, stop, event, *, terminal=None, by=None, dropna=False) -> pd.DataFrame:
    """One row per patient: id, group, time (of the first SRE, else of death or censoring), status
    (1 SRE, 2 death before any SRE, 0 censored), n_events, follow_up, died."""
    f = _rows(data, id, start, stop, event, terminal, by, dropna)
    ev_time = np.where(f["event"].to_numpy() == 1, f["stop"].to_numpy(), np.inf)
    g = f.groupby("code", sort=True)
    per = pd.DataFrame({
        "id": g["id"].first(), "group": g["group"].first(),
        "first_event": pd.Series(ev_time, index=f.index).groupby(f["code"]).min(),
        "end": g["stop"].max(), "n_events": g["event"].sum(), "died": g["terminal"].max(),
        "follow_up": (f["stop"] - f["start"]).groupby(f["code"]).sum(),
    })
    has = np.isfinite(per["first_event"].to_numpy())
    per["time"] = np.where(has, per["first_event"], per["end"])
    per["status"] = np.where(has, 1, np.where(per["died"] == 1, 2, 0))
    return per[["id", "group", "time", "status", "n_events", "follow_up", "died"]].reset_index(drop=True)


@legacy_arguments(positional=('terminal', 'by', 'conf_level', 'dropna'))
def proportion_with_event(data, id, start, stop, event, *, terminal=None, by=None, conf_level=0.95,
                          dropna=False) -> pd.DataFrame:
    """Patients with >= 1 SRE by group: n, n_with_event, proportion, lower, upper (Clopper-Pearson)."""
    per = first_event_data(data, id, start, stop, event, terminal=terminal, by=by, dropna=dropna)
    out = []
    for gname, s in per.groupby("group", sort=True):
        k, n = int((s["n_events"] > 0).sum()), len(s)
        ci = stats.binomtest(k, n).proportion_ci(conf_level, method="exact")
        out.append({"group": gname, "n": n, "n_with_event": k, "proportion": k / n,
                    "lower": ci.low, "upper": ci.high})
    return pd.DataFrame(out)


@legacy_arguments(positional=('terminal', 'by', 'conf_level', 'dropna'))
def time_to_first_event(data, id, start, stop, event, *, terminal=None, by=None, conf_level=0.95, dropna=False):
    """Cumulative incidence of the first SRE with death competing (status 1 SRE, 2 death):
    the ``bm.cumulative_incidence`` result on ``first_event_data``."""
    from bmstats.estimate.cif import cumulative_incidence

    per = first_event_data(data, id, start, stop, event, terminal=terminal, by=by, dropna=dropna)
    return cumulative_incidence(per, "time", "status", by="group" if by is not None else None,
                                conf_level=conf_level)


def _poisson_limits(k: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    a = 1 - conf_level
    lower = np.where(k > 0, stats.chi2.ppf(a / 2, 2 * k) / 2, 0.0)
    upper = stats.chi2.ppf(1 - a / 2, 2 * (k + 1)) / 2
    return lower, upper


@legacy_arguments(positional=('terminal', 'by', 'window', 'time_unit', 'conf_level', 'dropna'))
def skeletal_morbidity_rate(data, id, start, stop, event, *, terminal=None, by=None, window=WINDOW_DAYS,
                            time_unit="years", conf_level=0.95, dropna=False) -> pd.DataFrame:
    """SREs per person-year with at most one SRE counted per ``window`` days (a number >= 0): an SRE counts
    when it is at least ``window`` days after the patient's previous counted SRE.

    Columns: group, n, events, counted (after the window rule), person_years, rate, lower, upper (exact
    Poisson limits of the pooled rate) and mean_patient_rate (mean over patients of counted / years).
    """
    window = number_option(window, "window", low=0, what="days within which later SREs do not count again")
    per_day = _days_per_unit(time_unit)
    f = _rows(data, id, start, stop, event, terminal, by, dropna)
    ev = f[f["event"] == 1]
    counted = counted_events(ev["code"].to_numpy(), ev["stop"].to_numpy() * per_day, float(window))
    n_counted = np.bincount(ev["code"].to_numpy()[counted], minlength=f["code"].max() + 1)
    years = ((f["stop"] - f["start"]) * per_day / 365.25).groupby(f["code"]).sum().to_numpy()
    per = pd.DataFrame({
        "group": f.groupby("code")["group"].first().to_numpy(),
        "events": f.groupby("code")["event"].sum().to_numpy(),
        "counted": n_counted, "years": years,
    })
    agg = per.groupby("group", sort=True).agg(
        n=("counted", "size"), events=("events", "sum"), counted=("counted", "sum"),
        person_years=("years", "sum"))
    agg["rate"] = agg["counted"] / agg["person_years"]
    lo, hi = _poisson_limits(agg["counted"].to_numpy(), conf_level)
    agg["lower"] = lo / agg["person_years"]
    agg["upper"] = hi / agg["person_years"]
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["mean_patient_rate"] = (per["counted"] / per["years"]).groupby(per["group"]).mean()
    return agg.reset_index()


@legacy_arguments(positional=('terminal', 'by', 'period', 'time_unit', 'dropna'))
def skeletal_morbidity_period_rate(data, id, start, stop, event, *, terminal=None, by=None, period=84.0,
                                   time_unit="years", dropna=False) -> pd.DataFrame:
    """Periods (``period`` days from the origin) with >= 1 SRE per period of time on study.

    Columns: group, n, periods_with_event, periods_on_study, rate (pooled ratio) and mean_patient_rate
    (mean over patients of their own ratio).
    """
    period = positive_number(period, "period", what="days per counting period")
    per_day = _days_per_unit(time_unit)
    f = _rows(data, id, start, stop, event, terminal, by, dropna)
    ev = f[f["event"] == 1]
    # an event exactly at a period boundary belongs to the period it ends: intervals (k p, (k+1) p]
    period_no = np.ceil(ev["stop"].to_numpy() * per_day / period).astype(np.int64)
    with_event = pd.DataFrame({"code": ev["code"].to_numpy(), "p": period_no}).drop_duplicates()
    n_periods = np.bincount(with_event["code"].to_numpy(), minlength=f["code"].max() + 1)
    on_study = ((f["stop"] - f["start"]) * per_day / period).groupby(f["code"]).sum().to_numpy()
    per = pd.DataFrame({"group": f.groupby("code")["group"].first().to_numpy(), "with": n_periods,
                        "on": on_study})
    agg = per.groupby("group", sort=True).agg(n=("with", "size"), periods_with_event=("with", "sum"),
                                              periods_on_study=("on", "sum"))
    agg["rate"] = agg["periods_with_event"] / agg["periods_on_study"]
    agg["mean_patient_rate"] = (per["with"] / per["on"]).groupby(per["group"]).mean()
    return agg.reset_index()


@legacy_arguments(positional=('terminal', 'by', 'dropna'))
def event_type_breakdown(data, id, start, stop, event, event_type, *, terminal=None, by=None,
                         dropna=False) -> pd.DataFrame:
    """SREs by type: group, event_type, events, share (of the group's events), patients (with >= 1 of
    that type), proportion_patients (of the group's patients)."""
    f = _rows(data, id, start, stop, event, terminal, by, dropna, extra=(event_type,))
    ev = f[f["event"] == 1]
    missing = ev[event_type].isna() | (ev[event_type].astype(str).str.strip() == "")
    if missing.any():
        raise InputError(f"column {event_type!r}: event rows without an event type; "
                         f"ids {', '.join(map(str, ev.loc[missing, 'id'].unique()[:10]))}")
    n_pat = f.groupby("group")["code"].nunique()
    out = ev.groupby(["group", event_type], sort=True).agg(events=("code", "size"), patients=("code", "nunique"))
    out = out.reset_index().rename(columns={event_type: "event_type"})
    out["share"] = out["events"] / out.groupby("group")["events"].transform("sum")
    out["proportion_patients"] = out["patients"] / out["group"].map(n_pat)
    return out[["group", "event_type", "events", "share", "patients", "proportion_patients"]]


def _days_per_unit(time_unit: str) -> float:
    if time_unit not in DAYS_PER_UNIT:
        raise InputError(f"time_unit must be one of {', '.join(DAYS_PER_UNIT)}; got {time_unit!r}")
    return DAYS_PER_UNIT[time_unit]


@dataclass(frozen=True, repr=False)
class SRESummary(TableResult):
    """SRE summaries by group.  ``table``: one row per group with n, n_with_event, proportion (prop_lower,
    prop_upper), events, counted, person_years, smr (smr_lower, smr_upper), mean_patient_smr, smpr;
    ``proportion``, ``morbidity_rate``, ``period_rate``, ``by_type``: the tidy frames of the named
    functions; ``first_event``: the cumulative incidence result (death competing)."""

    _proportion: pd.DataFrame
    _morbidity_rate: pd.DataFrame
    _period_rate: pd.DataFrame
    _by_type: pd.DataFrame | None
    first_event: CumulativeIncidence
    window: float
    period: float
    n_events: int
    _title = "Skeletal-related events"

    @property
    def proportion(self) -> pd.DataFrame:
        return frozen_copy(self._proportion)

    @property
    def morbidity_rate(self) -> pd.DataFrame:
        return frozen_copy(self._morbidity_rate)

    @property
    def period_rate(self) -> pd.DataFrame:
        return frozen_copy(self._period_rate)

    @property
    def by_type(self) -> pd.DataFrame | None:
        return frozen_copy(self._by_type)

    def _notes(self) -> list[str]:
        return [f"n = {self.n}, SREs = {self.n_events}; SMR counts at most one SRE per {self.window:g} days; "
                f"SMPR uses {self.period:g}-day periods"]

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_cumulative_incidence(self.first_event, ax=ax, **kw)

    plot.__doc__ = plot_doc(
        "The cumulative incidence of the first skeletal-related event, death competing", "plot_cumulative_incidence")


@legacy_arguments(positional=('terminal', 'event_type', 'by', 'window', 'period', 'time_unit', 'conf_level', 'dropna'))
def sre_summary(data, id, start, stop, event, *, terminal=None, event_type=None, by=None, window=WINDOW_DAYS,
                period=84.0, time_unit="years", conf_level=0.95, dropna=False) -> SRESummary:
    """Skeletal-related event summaries as trials of bone-targeted agents report them, in one result.

    Proportion with an SRE (Clopper-Pearson), time to first SRE (Aalen-Johansen, death competing), skeletal
    morbidity rate = SREs counted once per ``window`` / person-years, period rate = periods with an SRE /
    periods on study. Match R's ``binom.test``, ``cmprsk::cuminc`` and ``poisson.test``.

    Parameters
    ----------
    data : pandas.DataFrame
        Counting-process rows, as ``Cohort.recurrent_events`` gives them.
    id : str
        Column of patient ids.
    start : str
        Column of interval starts.
    stop : str
        Column of interval ends.
    event : str
        Column, 1 when an SRE happens at ``stop``.
    terminal : str, optional
        Column, 1 when the patient dies at ``stop``.
    event_type : str, optional
        Column of the SRE type on event rows (for the breakdown by type).
    by : str, optional
        Column whose groups are summarised separately.
    window : float, default 21
        Days: an SRE counts in the skeletal morbidity rate when it is at least ``window`` days after the
        patient's previous counted SRE (20 days after: the same episode; 21: a new event); 0 counts all.
    period : float, default 84
        Length in days of the periods of the skeletal morbidity period rate.
    time_unit : {"years", "months", "weeks", "days"}, default "years"
        Unit of ``start`` and ``stop``.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.

    Returns
    -------
    SRESummary
        ``.table`` with one row per group and the pieces (proportion, first-event incidence, rates, types).

    References
    ----------
    .. [1] Stopeck AT, Lipton A, Body JJ, et al. Denosumab compared with zoledronic acid for the treatment of
       bone metastases in patients with advanced breast cancer. J Clin Oncol 2010;28:5132-5139.
    .. [2] Hortobagyi GN, Theriault RL, Porter L, et al. Efficacy of pamidronate in reducing skeletal
       complications in patients with breast cancer and lytic bone metastases. N Engl J Med
       1996;335:1785-1791.
    """
    window = number_option(window, "window", low=0, what="days within which later SREs do not count again")
    period = positive_number(period, "period", what="days per counting period")
    args = (data, id, start, stop, event)
    common = {"terminal": terminal, "by": by, "dropna": dropna}
    prop = proportion_with_event(*args, conf_level=conf_level, **common)
    smr = skeletal_morbidity_rate(*args, window=window, time_unit=time_unit, conf_level=conf_level, **common)
    smpr = skeletal_morbidity_period_rate(*args, period=period, time_unit=time_unit, **common)
    by_type = (event_type_breakdown(*args, event_type, **common)
               if event_type is not None else None)
    first = time_to_first_event(*args, conf_level=conf_level, **common)
    dropped = counting_process(data, id, start, stop, event, terminal, by, dropna).dropped
    table = prop.merge(
        smr.rename(columns={"rate": "smr", "lower": "smr_lower", "upper": "smr_upper",
                            "mean_patient_rate": "mean_patient_smr"}).drop(columns="n"), on="group"
    ).rename(columns={"lower": "prop_lower", "upper": "prop_upper"})
    table = table.merge(smpr[["group", "rate"]].rename(columns={"rate": "smpr"}), on="group")
    return SRESummary(_table=table, _proportion=prop, _morbidity_rate=smr, _period_rate=smpr, _by_type=by_type,
                      first_event=first, window=float(window), period=float(period), n=int(prop["n"].sum()),
                      n_events=int(smr["events"].sum()), dropped=dropped)
