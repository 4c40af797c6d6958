"""Time-to-event frames from a cohort: time from an origin to an event, with competing events and exclusions.

Definitions (docs/cohort.md, "Endpoints"):

- Events and origins are named ``diagnosis`` (dx_date), ``bone_metastasis`` (bm_date),
  ``visceral_metastasis`` (visceral_met_date), ``skeletal_event`` (the patient's first skeletal event of any
  type), ``death`` (death_date, any cause) and ``breast_cancer_death`` (death_date when cause_of_death is
  breast_cancer).  Origins are the first four.
- ``time`` = (date of the first of: event, competing events, end of follow-up) - origin date, in days,
  or divided by 30.4375 (months) or 365.25 (years).  The end of follow-up is last_fu_date, or death_date
  when that is earlier: follow-up recorded after death never extends an endpoint.  ``status`` = 0 censored
  at the end of follow-up, 1 the event, 2, 3, ... the competing events in the order given.  Death that is
  neither the event nor competing censors.
- Ties on the same day: the event of interest wins, then the competing events in the order given.
- ``horizon`` (in ``unit``): follow-up beyond it is censored administratively at ``time = horizon``;
  an event exactly at the horizon counts.
- Exclusions, applied in this order and logged with patient ids: origin date missing (e.g. no bone
  metastasis when the origin is bone_metastasis); last_fu_date missing; the event at or before the origin
  (prevalent at the origin, e.g. bone metastasis found at diagnosis); a competing event at or before the
  origin; zero or negative follow-up (end of follow-up on or before the origin); an event or competing
  event after last_fu_date, or after death_date (inconsistent dates; validation rules BM010/BM013/BM014
  name them).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bmstats._checks import InputError, positive_number
from bmstats.cohort.exclusions import ExclusionBuilder, ExclusionLog
from bmstats.cohort.timevarying import SKELETAL_EVENT, check_exposures, split_rows

ZERO_FOLLOW_UP = "zero or negative follow-up (last_fu_date or death_date on or before origin)"
UNITS = {"days": 1.0, "months": 30.4375, "years": 365.25}
EVENTS = ("diagnosis", "bone_metastasis", "visceral_metastasis", "skeletal_event", "death", "breast_cancer_death")
ORIGINS = EVENTS[:4]
_DATE_COLUMN = {
    "diagnosis": "dx_date",
    "bone_metastasis": "bm_date",
    "visceral_metastasis": "visceral_met_date",
    "death": "death_date",
}


@dataclass(frozen=True, repr=False, eq=False)
class Endpoint:
    """An analysis frame and how it was made: ``.data`` (patient_id, time, status, covariates) and
    ``.exclusions`` (an :class:`ExclusionLog`); ``.status_labels`` maps status codes to names."""

    data: pd.DataFrame
    exclusions: ExclusionLog
    status_labels: dict

    def __repr__(self) -> str:
        if isinstance(self.data, pd.DataFrame):
            counts = self.data["status"].value_counts().sort_index()
        else:  # rows in an engine: count them there
            got = self.data.relation.aggregate("status, COUNT(*) AS n", "status").df().sort_values("status")
            counts = pd.Series(got["n"].to_numpy(), index=got["status"].to_numpy())
        parts = ", ".join(f"{self.status_labels[int(k)]}: {int(v):,}" for k, v in counts.items())
        return f"{self.exclusions.title}: {int(counts.sum()):,} patients ({parts})\n{self.exclusions!r}"


def event_dates(p: pd.DataFrame, e: pd.DataFrame, name: str) -> pd.Series:
    """The date of the named event (or origin) per patient, aligned with ``p`` (NaT when it did not happen)."""
    if name not in EVENTS:
        raise InputError(f"unknown event {name!r}; expected one of {', '.join(EVENTS)}")
    if name in _DATE_COLUMN:
        return p[_DATE_COLUMN[name]]
    if name == "breast_cancer_death":
        return p["death_date"].where(p["cause_of_death"] == "breast_cancer")
    # skeletal_event: the first one per patient
    first = e.loc[e["event_date"].notna()].groupby("patient_id", sort=False)["event_date"].min()
    return pd.Series(p["patient_id"].map(first).to_numpy(dtype="datetime64[ns]"), index=p.index)


def _days(later: pd.Series, origin: pd.Series) -> np.ndarray:
    """Whole days from origin to later as float (NaN when either is missing)."""
    return (later - origin).dt.days.to_numpy(dtype="float64", na_value=np.nan)


def follow_up_end(p: pd.DataFrame) -> pd.Series:
    """The end of each patient's follow-up: last_fu_date, or death_date when that is earlier (nobody is
    followed after death; a later last_fu_date is a data error that validation rule BM015 names)."""
    fu, death = p["last_fu_date"], p["death_date"]
    return fu.where(~(death < fu), death)


def check_unique_ids(p: pd.DataFrame) -> None:
    dup = p["patient_id"].duplicated(keep=False)
    if dup.any():
        from bmstats._checks import fail

        fail("patient_id", "duplicate patient ids (run bmstats.validate first)", dup)


def endpoint(
    p: pd.DataFrame,
    e: pd.DataFrame,
    event: str,
    competing: Sequence[str] = (),
    origin: str = "diagnosis",
    unit: str = "years",
    horizon: float | None = None,
    covariates: Sequence[str] | None = None,
    time_varying: Mapping[str, str] | None = None,
) -> Endpoint:
    """Time from ``origin`` to ``event`` with ``competing`` events (module docstring has the definitions).

    With ``time_varying`` ({exposure name: date column of patients or "skeletal_event"}), ``.data`` holds
    counting-process rows split at the exposures' dates as R's ``tmerge(..., tdc())``
    (:mod:`bmstats.cohort.timevarying`); the exclusions are the same.
    """
    competing, horizon = check_endpoint_options(event, competing, origin, unit, horizon)
    check_unique_ids(p)
    cov = _covariates(p, covariates)
    if time_varying is not None:
        time_varying = check_exposures(time_varying, p)

    o = event_dates(p, e, origin)
    fu = p["last_fu_date"]
    names = (event, *competing)
    d_fu = _days(follow_up_end(p), o)
    d_death = _days(p["death_date"], o)
    d_ev = np.column_stack([_days(event_dates(p, e, n), o) for n in names])  # NaN: did not happen

    label = origin.replace("_", " ")
    title = endpoint_title(event, competing, origin)
    log = ExclusionBuilder(p["patient_id"], title)
    log.exclude(f"no {label} date (origin missing)", o.isna().to_numpy())
    log.exclude("last_fu_date missing", fu.isna().to_numpy())
    log.exclude(f"{event.replace('_', ' ')} at or before {label} (prevalent at origin)", d_ev[:, 0] <= 0)
    if competing:
        log.exclude(f"competing event at or before {label}", (d_ev[:, 1:] <= 0).any(axis=1))
    log.exclude(ZERO_FOLLOW_UP, d_fu <= 0)
    log.exclude("event after last_fu_date (inconsistent dates)", (d_ev > _days(fu, o)[:, None]).any(axis=1))
    log.exclude("event after death_date (inconsistent dates)", (d_ev > d_death[:, None]).any(axis=1))
    keep = log.keep

    d_ev, d_fu = d_ev[keep], d_fu[keep]
    filled = np.where(np.isnan(d_ev), np.inf, d_ev)
    first = np.argmin(filled, axis=1)  # argmin takes the first column on ties: event, then competing in order
    d_first = filled[np.arange(len(filled)), first]
    happened = d_first <= d_fu
    days = np.where(happened, d_first, d_fu)
    status = np.where(happened, first + 1, 0).astype("int64")
    time = days / UNITS[unit]
    if horizon is not None:
        beyond = time > horizon
        time = np.where(beyond, float(horizon), time)
        status = np.where(beyond, 0, status)

    data = pd.DataFrame({"patient_id": p["patient_id"].to_numpy()[keep], "time": time, "status": status},
                        index=p.index[keep])
    if cov and time_varying is None:
        data = pd.concat([data, p.loc[keep, cov]], axis=1)
    labels = {0: "censored", **{i + 1: n for i, n in enumerate(names)}}
    exclusions = log.log()
    if time_varying is not None:
        switch = np.column_stack([
            _days(event_dates(p, e, SKELETAL_EVENT) if src == SKELETAL_EVENT else p[src], o)[keep]
            for src in time_varying.values()
        ]) / UNITS[unit]
        data = split_rows(data, switch, list(time_varying), p[cov] if cov else None, np.flatnonzero(keep))
    data.attrs["exclusions"] = exclusions
    data.attrs["endpoint"] = endpoint_attrs(event, competing, origin, unit, horizon, time_varying)
    return Endpoint(data, exclusions, labels)


def check_endpoint_options(event: str, competing, origin: str, unit: str, horizon) -> tuple[tuple, float | None]:
    """The options of an endpoint checked (the package's error naming the bad one); returns ``competing`` as
    a tuple and ``horizon`` as a float (or None)."""
    competing = (competing,) if isinstance(competing, str) else tuple(competing)
    if origin not in ORIGINS:
        raise InputError(f"unknown origin {origin!r}; expected one of {', '.join(ORIGINS)}")
    for name in (event, *competing):
        if name not in EVENTS or name == "diagnosis":
            raise InputError(f"unknown event {name!r}; expected one of {', '.join(EVENTS[1:])}")
    if event in competing or len(set(competing)) != len(competing):
        raise InputError(f"event {event!r} and competing events {competing} must all differ")
    if origin in (event, *competing):
        raise InputError(f"origin {origin!r} cannot also be the event or a competing event")
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    if horizon is not None:
        horizon = positive_number(horizon, "horizon", unit)
    return competing, horizon


def endpoint_attrs(event: str, competing: tuple, origin: str, unit: str, horizon, time_varying) -> dict:
    """What an endpoint frame carries in ``attrs["endpoint"]`` (read by the estimators for the time axis)."""
    labels = {0: "censored", **{i + 1: n for i, n in enumerate((event, *competing))}}
    horizon = None if horizon is None else float(horizon)  # JSON: a numpy number is not
    return {"event": event, "competing": list(competing), "origin": origin, "unit": unit, "horizon": horizon,
            "status_labels": labels, "time_varying": dict(time_varying) if time_varying is not None else None}


def endpoint_title(event: str, competing: tuple, origin: str) -> str:
    return f"{event} from {origin}" + (f" (competing: {', '.join(competing)})" if competing else "")


def _covariates(p: pd.DataFrame, covariates: Sequence[str] | None,
                reserved: Sequence[str] = ("time", "status")) -> list[str]:
    """Patient columns to carry along: all by default, except the id and names the frame itself uses."""
    if covariates is None:
        return [c for c in p.columns if c != "patient_id" and c not in reserved]
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    missing = [c for c in covariates if c not in p.columns]
    if missing:
        raise InputError(f"covariate(s) {missing} not in the patients table; available: {', '.join(p.columns)}")
    clash = [c for c in covariates if c in reserved]
    if clash:
        raise InputError(f"covariate(s) {clash} clash with the columns of the analysis frame ({', '.join(reserved)})")
    return [c for c in covariates if c != "patient_id"]
