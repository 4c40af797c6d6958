"""Counting-process rows with exposures that switch on at a date (time-dependent covariates).

``Cohort.endpoint(..., time_varying={"bta": "bta_start_date", "sre": "skeletal_event"})`` splits each
patient's follow-up ``(0, time]`` at the dates the exposures start, exactly as R's
``survival::tmerge(data, data, id, death = event(time, status), bta = tdc(bta_time))`` does:

- an exposure dated on or before the origin (time <= 0) is on from the start;
- an exposure dated strictly inside the follow-up splits it: ``(start, t]`` has the value before the switch,
  ``(t, stop]`` the value after it, so an event on the day of a switch counts with the value before it;
- an exposure dated on or after the end of follow-up (or missing) never switches on;
- several exposures switching on the same day make one split.

Each row carries ``patient_id, start, stop, status`` (the status only on the patient's last row, 0 before),
one 0/1 column per exposure and the patient's baseline columns.  Vectorised: the split points of all
patients are one (n, k) array, sorted along its rows (no per-patient Python loop).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from bmstats._checks import InputError

SKELETAL_EVENT = "skeletal_event"
RESERVED = ("patient_id", "start", "stop", "status", "time")


def check_exposures(time_varying: Mapping, patients: pd.DataFrame) -> dict[str, str]:
    """``{name: date column | "skeletal_event"}`` checked: names are new column names, sources are dates."""
    return check_exposure_columns(
        time_varying, list(patients.columns),
        lambda c: pd.api.types.is_datetime64_any_dtype(patients[c]), lambda c: str(patients[c].dtype))


def check_exposure_columns(time_varying: Mapping, columns: list, is_date, dtype_of) -> dict[str, str]:
    """:func:`check_exposures` over the patients' column names, ``is_date(column)`` and ``dtype_of(column)``
    (the same checks and messages for a pandas frame and a table inside an engine)."""
    if not isinstance(time_varying, Mapping) or not time_varying:
        raise InputError("time_varying must be a non-empty mapping {exposure name: date column or "
                         f"'{SKELETAL_EVENT}'}}, got {time_varying!r}")
    out = {}
    for name, source in time_varying.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"time_varying: exposure name {name!r} must be a column name usable in a formula")
        if name in RESERVED:
            raise InputError(f"time_varying: exposure name {name!r} clashes with a column of the rows "
                             f"({', '.join(RESERVED)})")
        if name in columns:
            raise InputError(f"time_varying: exposure name {name!r} is already a column of patients; choose "
                             "another name (e.g. the date column without '_date')")
        if source == SKELETAL_EVENT:
            out[name] = source
            continue
        if not isinstance(source, str) or source not in columns:
            dates = [c for c in columns if is_date(c)]
            raise InputError(f"time_varying[{name!r}]: {source!r} is not a date column of patients nor "
                             f"'{SKELETAL_EVENT}'; date columns: {', '.join(dates)}")
        if not is_date(source):
            raise InputError(f"time_varying[{name!r}]: column {source!r} of patients holds no dates "
                             f"(dtype {dtype_of(source)})")
        out[name] = source
    return out


def split_rows(data: pd.DataFrame, switch: np.ndarray, names: list[str], covariates: pd.DataFrame | None = None,
               rows_of_data: np.ndarray | None = None) -> pd.DataFrame:
    """Counting-process rows of ``data`` (one row per patient: patient_id, time, status[, covariates]).

    ``switch`` (n, k): the time each exposure switches on, in the unit of ``time`` (NaN: never).  Returns
    patient_id, start, stop, status, the exposures (int64 0/1), then the other columns of ``data``, then
    ``covariates`` (whose row ``rows_of_data[i]`` belongs to the patient in row i of ``data``; taken once,
    straight from there).
    """
    n, k = switch.shape
    end = data["time"].to_numpy(dtype="float64")
    inside = (switch > 0) & (switch < end[:, None])  # NaN compares False: never switches on
    cuts = np.sort(np.where(inside, switch, np.inf), axis=1)
    if k > 1:  # exposures switching on the same day make one split
        repeat = np.zeros_like(inside)
        repeat[:, 1:] = cuts[:, 1:] == cuts[:, :-1]
        cuts = np.sort(np.where(repeat, np.inf, cuts), axis=1)
    m = np.isfinite(cuts).sum(axis=1)
    bounds = np.empty((n, k + 2))
    bounds[:, 0] = 0.0
    bounds[:, 1:k + 1] = cuts
    bounds[:, k + 1] = np.inf
    bounds[np.arange(n), m + 1] = end
    rows_of = m + 1
    pos = np.repeat(np.arange(n), rows_of)
    j = np.arange(len(pos)) - np.repeat(np.cumsum(rows_of) - rows_of, rows_of)
    start = bounds[pos, j]
    stop = bounds[pos, j + 1]
    last = j == m[pos]
    status = np.where(last, data["status"].to_numpy()[pos], 0).astype("int64")
    out = {"patient_id": data["patient_id"].to_numpy()[pos], "start": start, "stop": stop, "status": status}
    on = switch[pos] <= start[:, None]  # switched on at or before the start of the row
    for c, name in enumerate(names):
        out[name] = on[:, c].astype("int64")
    rows = pd.DataFrame(out)
    rest = [c for c in data.columns if c not in ("patient_id", "time", "status")]
    parts = [rows]
    if rest:
        parts.append(data[rest].iloc[pos].reset_index(drop=True))
    if covariates is not None and covariates.shape[1]:
        parts.append(covariates.iloc[rows_of_data[pos]].reset_index(drop=True))
    return pd.concat(parts, axis=1, copy=False) if len(parts) > 1 else rows
