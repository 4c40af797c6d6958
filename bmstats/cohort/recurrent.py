"""Counting-process rows for recurrent skeletal events, with death as a terminal event.

For every patient at risk from the origin (default: the bone-metastasis date) with counted events at times
t1 < t2 < ... < tk and end of follow-up T (last_fu_date, or an earlier death_date, - origin):

    id  start    stop  event  terminal  enum
    P     0       t1     1       0        1
    P     t1      t2     1       0        2
    ...
    P     tk      T      0     dead      k+1     (left out when tk == T: then the k-th row carries terminal)

``terminal`` is 1 on the patient's last row when death_date is given; otherwise the patient is censored at
last follow-up.  The end of follow-up T is death_date when that is before last_fu_date (follow-up recorded
after death, a data error that rule BM015 names, never extends the rows).  ``enum`` numbers the rows of a
patient (row j ends with event j); ``event_type`` is the type of the event ending the row (empty on a
final censoring or death row), for breakdowns by type.  Times are in ``unit`` (days; months = days / 30.4375; years =
days / 365.25) and equal the date differences exactly.

Events not counted, each listed in ``dropped_events`` with its reason (none is dropped silently): the patient
is not analysed; missing event_date; before the origin; on the origin day (time 0 cannot end an interval
(start, stop]); after last_fu_date; after death_date; a second event on the same day (one event per day: the
first in file order is kept); with ``window_days`` (e.g. 21, as the skeletal morbidity rate), events
1 to window_days - 1 days after the previous *counted* event: an event at least window_days after it is a
new event (the trials' rule, stated once in :mod:`bmstats._sre_window` and shared with ``sre_summary`` and
validation rule BM102).
Patient exclusions (ExclusionLog): origin missing; last_fu_date missing; zero or negative follow-up (end of
follow-up on or before the origin).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bmstats._checks import InputError
from bmstats._sre_window import counted_events, not_counted_reason
from bmstats.cohort import schema
from bmstats._attrs import ReadOnly, records
from bmstats.cohort.endpoints import (
    ORIGINS,
    UNITS,
    ZERO_FOLLOW_UP,
    _covariates,
    _days,
    check_unique_ids,
    event_dates,
    follow_up_end,
)
from bmstats.cohort.exclusions import ExclusionBuilder, ExclusionLog


@dataclass(frozen=True, repr=False, eq=False)
class RecurrentEvents:
    """``.data`` counting-process rows, ``.exclusions`` patients excluded, ``.dropped_events`` events not counted."""

    data: pd.DataFrame
    exclusions: ExclusionLog
    dropped_events: pd.DataFrame

    def __repr__(self) -> str:
        d = self.data
        if isinstance(d, pd.DataFrame):
            n_p, n_ev, n_dead = d["id"].nunique(), d["event"].sum(), d["terminal"].sum()
        else:  # rows in an engine: count them there
            n_p, n_ev, n_dead = d.relation.aggregate(
                "COUNT(DISTINCT id), COALESCE(SUM(event), 0), COALESCE(SUM(terminal), 0)").fetchall()[0]
        return (f"{self.exclusions.title}: {int(n_p):,} patients, {int(n_ev):,} events, "
                f"{int(n_dead):,} deaths; {len(self.dropped_events):,} events not counted\n"
                f"{self.exclusions!r}")


RESERVED = ("id", "start", "stop", "event", "terminal", "enum", "event_type")


def check_recurrent_options(origin: str, unit: str, window_days, event_types) -> list | None:
    """The options of :func:`recurrent_events` checked; returns ``event_types`` as a list (or None)."""
    if origin not in ORIGINS:
        raise InputError(f"unknown origin {origin!r}; expected one of {', '.join(ORIGINS)}")
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    if window_days is not None and (int(window_days) != window_days or window_days < 0):
        raise InputError(f"window_days must be a whole number of days >= 0, got {window_days!r}")
    if event_types is not None:
        event_types = [event_types] if isinstance(event_types, str) else list(event_types)
        unknown = [t for t in event_types if t not in schema.EVENT_TYPES]
        if unknown:
            raise InputError(f"unknown event type(s) {unknown}; expected from {', '.join(schema.EVENT_TYPES)}")
    return event_types


def recurrent_attrs(origin: str, unit: str, window_days, event_types) -> dict:
    """What the rows carry in ``attrs["recurrent"]`` (JSON values: a numpy integer window becomes an int)."""
    return {"origin": origin, "unit": unit, "window_days": None if window_days is None else int(window_days),
            "event_types": None if event_types is None else [str(t) for t in event_types]}


def recurrent_events(
    p: pd.DataFrame,
    e: pd.DataFrame,
    origin: str = "bone_metastasis",
    unit: str = "years",
    window_days: int | None = None,
    event_types: Sequence[str] | None = None,
    covariates: Sequence[str] | None = None,
) -> RecurrentEvents:
    """Counting-process rows of skeletal events from ``origin`` (module docstring has the definitions)."""
    event_types = check_recurrent_options(origin, unit, window_days, event_types)
    check_unique_ids(p)
    cov = _covariates(p, covariates, reserved=RESERVED)

    o = event_dates(p, e, origin)
    fu = p["last_fu_date"]
    d_fu = _days(follow_up_end(p), o)
    label = origin.replace("_", " ")
    title = f"skeletal events from {label}"
    log = ExclusionBuilder(p["patient_id"], title)
    log.exclude(f"no {label} date (origin missing)", o.isna().to_numpy())
    log.exclude("last_fu_date missing", fu.isna().to_numpy())
    log.exclude(ZERO_FOLLOW_UP, d_fu <= 0)
    keep = log.keep
    kept = p.loc[keep]
    end = d_fu[keep]
    dead = kept["death_date"].notna().to_numpy()
    n_kept = len(kept)

    # events of the analysed patients, in days from their origin
    ev = e if event_types is None else e.loc[e["event_type"].isin(event_types)]
    pos = pd.Index(kept["patient_id"]).get_indexer(ev["patient_id"])
    reason = np.full(len(ev), "", dtype=object)
    has_p = pos >= 0
    safe = np.where(has_p, pos, n_kept)  # index n_kept: padding for events of patients not analysed
    origin_kept = np.r_[o.to_numpy()[keep], np.array(["NaT"], dtype="datetime64[ns]")]
    end_of = np.r_[end, np.nan]
    last_fu_of = np.r_[_days(fu, o)[keep], np.nan]
    ev_dates = ev["event_date"].to_numpy(dtype="datetime64[ns]")
    delta = ev_dates - origin_kept[safe]
    day = np.where(np.isnat(delta), np.nan, delta.astype("timedelta64[D]").astype("float64"))
    end_of = end_of[safe]
    last_fu_of = last_fu_of[safe]
    reason[~has_p] = "patient not analysed"
    r = reason == ""
    reason[r & np.isnan(day)] = "missing event_date"
    r = reason == ""
    reason[r & (day < 0)] = "before origin"
    r = reason == ""
    reason[r & (day == 0)] = "on the origin day (time 0)"
    r = reason == ""
    reason[r & (day > last_fu_of)] = "after last_fu_date"
    r = reason == ""
    reason[r & (day > end_of)] = "after death_date"

    ok = reason == ""
    cand = pd.DataFrame({"pos": pos[ok], "day": day[ok], "row": ev.index.to_numpy()[ok],
                         "event_type": ev["event_type"].to_numpy()[ok]})
    cand = cand.sort_values(["pos", "day", "row"], kind="stable")
    same_day = cand.duplicated(["pos", "day"], keep="first").to_numpy()
    ok_idx = np.flatnonzero(ok)
    order_idx = ok_idx[cand.index.to_numpy()]  # positions in ev of the sorted candidates
    reason[order_idx[same_day]] = "same day as another event"
    cand = cand.loc[~same_day]
    order_idx = order_idx[~same_day]
    if window_days:
        counted = counted_events(cand["pos"].to_numpy(), cand["day"].to_numpy(), int(window_days))
        reason[order_idx[~counted]] = not_counted_reason(window_days)
        cand = cand.loc[counted]

    data = _rows(kept, cand["pos"].to_numpy(), cand["day"].to_numpy(), cand["event_type"].to_numpy(),
                 end, dead, UNITS[unit])
    if cov:
        data = pd.concat([data, kept[cov].iloc[data["_pos"].to_numpy()].reset_index(drop=True)], axis=1)
    data = data.drop(columns="_pos")

    dropped_mask = reason != ""
    dropped = pd.DataFrame(
        {
            "row": ev.index.to_numpy()[dropped_mask],
            "patient_id": ev["patient_id"].to_numpy()[dropped_mask],
            "event_date": ev["event_date"].to_numpy()[dropped_mask],
            "event_type": ev["event_type"].to_numpy()[dropped_mask],
            "reason": reason[dropped_mask],
        }
    ).sort_values("row", kind="stable").reset_index(drop=True)
    exclusions = log.log()
    data.attrs["exclusions"] = exclusions
    data.attrs["dropped_events"] = DroppedEvents(dropped)
    data.attrs["recurrent"] = recurrent_attrs(origin, unit, window_days, event_types)
    return RecurrentEvents(data, exclusions, dropped)


class DroppedEvents(ReadOnly, list):
    """The events not counted, in ``frame.attrs["dropped_events"]``: ``.frame`` is the DataFrame (a copy; row,
    patient_id, event_date, event_type, reason), ``len()`` the number of events.

    Read-only.  It is also the list of one JSON record per event (dates as ISO text), so that a frame carrying
    it can be written with ``to_parquet``/``to_feather`` (pandas stores ``attrs`` as JSON); read back, that is
    a plain list of dicts, and :meth:`from_records` makes the object again.
    """

    __slots__ = ("_frame",)
    _frame: pd.DataFrame

    def __init__(self, frame: pd.DataFrame):
        object.__setattr__(self, "_frame", frame)
        list.extend(self, records(frame))

    @classmethod
    def from_records(cls, rows: list) -> DroppedEvents:
        """The object from its records (e.g. ``pd.read_parquet(path).attrs["dropped_events"]``)."""
        frame = pd.DataFrame(list(rows), columns=list(DROPPED_COLUMNS))
        frame["event_date"] = pd.to_datetime(frame["event_date"])
        return cls(frame.astype({"row": "int64"}))

    def _args(self) -> tuple:
        return (self._frame,)

    @property
    def frame(self) -> pd.DataFrame:
        return self._frame.copy()

    def __repr__(self) -> str:
        return repr(self._frame)


DROPPED_COLUMNS = ("row", "patient_id", "event_date", "event_type", "reason")


def _rows(kept: pd.DataFrame, pos: np.ndarray, day: np.ndarray, etype: np.ndarray, end: np.ndarray,
          dead: np.ndarray, factor: float) -> pd.DataFrame:
    """Counting-process rows from the counted events (sorted by patient position and day);
    ``event_type`` is the type of the event ending a row, empty on a final censoring/death row."""
    n_p = len(kept)
    k = np.bincount(pos, minlength=n_p) if len(pos) else np.zeros(n_p, dtype="int64")
    first_of_p = np.r_[True, pos[1:] != pos[:-1]] if len(pos) else np.zeros(0, bool)
    start = np.where(first_of_p, 0.0, np.r_[0.0, day[:-1]])
    enum = np.arange(len(pos)) - np.repeat(np.cumsum(k) - k, k) + 1
    last_day = np.zeros(n_p)
    if len(pos):
        last_day[pos[np.r_[pos[1:] != pos[:-1], True]]] = day[np.r_[pos[1:] != pos[:-1], True]]
    tail = end > last_day  # a final censoring/death row
    ev_terminal = np.zeros(len(pos), dtype="int64")
    if len(pos):
        is_last = np.r_[pos[1:] != pos[:-1], True]
        ev_terminal = (is_last & ~tail[pos] & dead[pos]).astype("int64")
    ids = kept["patient_id"].to_numpy()
    events = pd.DataFrame({"_pos": pos, "start": start, "stop": day, "event": 1, "terminal": ev_terminal, "enum": enum,
                           "event_type": etype})
    tp = np.flatnonzero(tail)
    tails = pd.DataFrame({"_pos": tp, "start": last_day[tp], "stop": end[tp], "event": 0,
                          "terminal": dead[tp].astype("int64"), "enum": k[tp] + 1, "event_type": None})
    rows = pd.concat([events, tails], ignore_index=True).sort_values(["_pos", "enum"], kind="stable")
    rows = rows.reset_index(drop=True)
    rows["start"] = rows["start"] / factor
    rows["stop"] = rows["stop"] / factor
    rows.insert(0, "id", ids[rows["_pos"].to_numpy()])
    rows = rows.astype({"event": "int64", "terminal": "int64", "enum": "int64"})
    return rows[["id", "start", "stop", "event", "terminal", "enum", "event_type", "_pos"]]
