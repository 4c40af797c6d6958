"""Landmark analysis data: the patients still at risk at a landmark time, with their exposures at that time.

An exposure that starts during follow-up (bone-targeted therapy after bone metastasis) cannot be compared as
"ever" vs "never" exposed from the origin: the treated must survive until they are treated (immortal-time
bias).  A landmark analysis (Anderson, Cain & Gelber 1983) fixes a time ``at``, keeps the patients alive and
under follow-up at ``at``, classifies them by their exposure at ``at`` and follows them from there.

``bm.landmark(rows, at)`` takes counting-process rows (``Cohort.endpoint(..., time_varying=...)``: patient_id,
start, stop, status, the exposures, the baseline columns) and returns one row per patient with a row
covering ``at`` (start <= at < stop): ``patient_id``, ``time`` = end of follow-up - at, ``status`` (of the
last row), each exposure's value at ``at`` (switched on at or before it) and the baseline columns.  With
several landmark times the frames are stacked with a ``landmark`` column (the data of a landmark
"supermodel", van Houwelingen 2007; fit it with ``strata="landmark"`` and a cluster on the patient).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bmstats._checks import InputError, describe_rows, require_columns, require_frame, status_array, time_array

__all__ = ["landmark"]


def landmark(
    rows: pd.DataFrame,
    at: float | Sequence[float],
    *,
    time_varying: Sequence[str] | None = None,
    id: str = "patient_id",
    start: str = "start",
    stop: str = "stop",
    status: str = "status",
) -> pd.DataFrame:
    """One row per patient at risk at the landmark time(s) ``at``, followed from there.

    Parameters
    ----------
    rows : counting-process rows, one or more per patient, not overlapping.
    at : landmark time (in the unit of the rows), or several (stacked, with a ``landmark`` column).
    time_varying : the exposure columns (default: those ``Cohort.endpoint`` recorded in
        ``rows.attrs["endpoint"]["time_varying"]``); their value at ``at`` is that of the row covering it.
    id, start, stop, status : the columns of the rows.

    Returns
    -------
    DataFrame: patient_id, [landmark], time, status, the exposures, the baseline columns;
    ``attrs["landmark"]`` counts, per landmark, the patients at risk and those whose follow-up ended
    (event or censoring) at or before it.

    References
    ----------
    Anderson JR, Cain KC, Gelber RD (1983) J Clin Oncol 1:710-719.  van Houwelingen HC (2007) Scand J Statist
    34:70-85.  R: ``survival::survSplit`` / ``subset(data, tstart <= at & tstop > at)``.
    """
    require_frame(rows, "rows")
    require_columns(rows, [id, start, stop, status])
    times = np.atleast_1d(np.asarray(at, dtype=object))
    try:
        times = times.astype(float)
    except (TypeError, ValueError):
        raise InputError(f"at must be one or more numbers, got {at!r}") from None
    if len(times) == 0 or not np.all(np.isfinite(times)) or (times < 0).any():
        raise InputError(f"at must be finite, non-negative landmark times, got {at!r}")
    if time_varying is None:
        time_varying = list((rows.attrs.get("endpoint") or {}).get("time_varying") or {})
    time_varying = [time_varying] if isinstance(time_varying, str) else list(time_varying)
    require_columns(rows, time_varying)
    if rows[id].isna().any():
        raise InputError(f"column {id!r}: missing patient ids; {describe_rows(rows.index[rows[id].isna()])}")
    t0 = time_array(rows, start)
    t1 = time_array(rows, stop)
    st = status_array(rows, status)
    bad = t1 <= t0
    if bad.any():
        raise InputError(f"column {stop!r}: stop must be after {start!r}; {describe_rows(rows.index[bad])}")
    codes, _ = pd.factorize(rows[id])
    order = np.lexsort((t0, codes))
    c, s0, s1 = codes[order], t0[order], t1[order]
    overlap = (c[1:] == c[:-1]) & (s0[1:] < s1[:-1])
    if overlap.any():
        who = rows[id].to_numpy()[order][1:][overlap]
        shown = ", ".join(map(str, pd.unique(who)[:10]))
        raise InputError(f"column {id!r}: rows of patient(s) {shown} overlap in time")
    n_p = codes.max() + 1
    end = np.full(n_p, -np.inf)
    np.maximum.at(end, codes, t1)
    last_row = np.empty(n_p, dtype=np.int64)
    is_last = t1 == end[codes]
    last_row[codes[is_last]] = np.flatnonzero(is_last)
    first_start = np.full(n_p, np.inf)
    np.minimum.at(first_start, codes, t0)

    other = [col for col in rows.columns if col not in (id, start, stop, status, *time_varying)]
    frames, counts = [], []
    for s in times:
        cover = np.flatnonzero((t0 <= s) & (t1 > s))
        pat = codes[cover]
        out = pd.DataFrame({id: rows[id].to_numpy()[cover]})
        if len(times) > 1:
            out["landmark"] = s
        out["time"] = end[pat] - s
        out["status"] = st[last_row[pat]]
        for col in [*time_varying, *other]:
            out[col] = rows[col].to_numpy()[cover] if not isinstance(rows[col].dtype, pd.CategoricalDtype) else \
                rows[col].iloc[cover].to_numpy()
        frames.append(out)
        ended = int(((end <= s) & (first_start <= s)).sum())
        counts.append({"landmark": float(s), "at_risk": len(cover), "ended_before": ended,
                       "not_yet_entered": int((first_start > s).sum())})
    result = pd.concat(frames, ignore_index=True)
    for col in other:  # keep categorical columns categorical
        if isinstance(rows[col].dtype, pd.CategoricalDtype):
            result[col] = pd.Categorical(result[col], dtype=rows[col].dtype)
    result.attrs["landmark"] = counts
    if "exclusions" in rows.attrs:
        result.attrs["exclusions"] = rows.attrs["exclusions"]
    return result
