"""Recurrent events per patient: counting-process rows collapsed to one row with the number of events and the
person-time at risk, the table that rates, rate ratios and rate regression take.

For a patient with rows (s_1, t_1], ..., (s_m, t_m] (``Cohort.recurrent_events`` or any rows of that shape):

    n_events    = sum of event over the rows
    person_time = sum of (t_j - s_j)       (time at risk: a delayed entry s_1 > 0 and gaps between rows,
                                            when the patient was not at risk, are not counted)
    entry, exit = s_1 and t_m;  terminal = 1 when the last row ends in death (with ``terminal=``)

The rows keep the rules that made them (``window_days``, ``event_types``, same-day events, the end of
follow-up at death or last contact), so the counts and person-time are those of the recurrent-event
analysis: ``n_events / person_time`` summed over patients is the crude event rate, the mean cumulative
function's slope when rates are constant, and ``glm(n_events ~ x + offset(log(person_time)), poisson)``
the rate regression (Andersen-Gill without a time effect).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bmstats._checks import InputError, describe_rows, require_columns, require_frame
from bmstats.engine import engine_source, is_engine_data
from bmstats.estimate.counting_process import counting_process

# columns of Cohort.recurrent_events that describe one row, not the patient
ROW_COLUMNS = ("enum", "event_type")
OUTPUT = ("n_events", "person_time", "entry", "exit", "terminal")


def event_counts(data: pd.DataFrame, id: str, start: str, stop: str, event: str, *, terminal: str | None = None,
                 covariates: Sequence[str] | None = None, dropna: bool = False) -> pd.DataFrame:
    """One row per patient: covariates, number of events and person-time at risk, from counting-process rows.

    n_events = sum(event), person_time = sum(stop - start) over the patient's rows. The result feeds
    ``bm.incidence_rate(counts, "person_time", count="n_events")``, ``bm.rate_ratio(..., count="n_events",
    by=...)`` and ``bm.rate_regression(counts, "n_events", "person_time", formula)`` (R:
    ``glm(n_events ~ formula + offset(log(person_time)), family = poisson)``).

    Parameters
    ----------
    data : pandas.DataFrame or engine data
        Counting-process rows, e.g. ``Cohort.recurrent_events(window_days=21)``: a patient's (start, stop]
        intervals must not overlap (checked; errors name the patient and rows). Rows in an engine (a Parquet or
        CSV path, a DuckDB relation, a polars or pyspark DataFrame) are checked and summed there by one
        GROUP BY id; only the per-patient table comes back.
    id : str
        Column of patient ids.
    start, stop : str
        Columns of the interval ends, in the time unit of the rows (years from ``Cohort.recurrent_events``
        by default); ``person_time`` is in that unit.
    event : str
        Column of 0/1: an event at ``stop``.
    terminal : str, optional
        Column of 0/1: death at ``stop``; gives the output column ``terminal`` (1 = died).
    covariates : sequence of str, optional
        Patient columns carried to the output; each must be constant within a patient (a column that changes
        between a patient's rows is an error naming it and the patients). Default: every column except
        ``id, start, stop, event, terminal``, the row columns of ``Cohort.recurrent_events`` (``enum``,
        ``event_type``) and columns named as the output columns.
    dropna : bool, default False
        Rows with a missing id, start, stop, event or terminal are an error naming the column and rows; with
        ``True`` they are dropped (their counts in ``.attrs["dropped"]``). Missing covariate values are kept
        (the estimators' own ``dropna`` decides).

    Returns
    -------
    pandas.DataFrame
        One row per patient, in order of first appearance (sorted by id from an engine): ``id``, the
        covariates, ``n_events``, ``person_time``, ``entry`` (first start), ``exit`` (last stop) and, with
        ``terminal``, ``terminal``.
        ``.attrs`` keeps those of ``data`` (e.g. the exclusion log and the recurrent-event settings) and adds
        ``"dropped"``.

    References
    ----------
    .. [1] Andersen PK, Gill RD. Cox's regression model for counting processes: a large sample study.
       Ann Stat 1982;10:1100-1120.
    .. [2] Cook RJ, Lawless JF. The Statistical Analysis of Recurrent Events. Springer 2007, section 2.2.
    """
    engine = is_engine_data(data)
    src = engine_source(data) if engine else None
    if not engine:
        data = require_frame(data)
    attrs = getattr(data, "attrs", None)
    attrs = dict(attrs) if isinstance(attrs, dict) else {}
    fixed = [id, start, stop, event] + ([terminal] if terminal is not None else [])
    if covariates is None:
        names = list(src.columns) if src is not None else list(data.columns)
        covariates = [c for c in names if c not in fixed and c not in ROW_COLUMNS and c not in OUTPUT]
    else:
        covariates = [covariates] if isinstance(covariates, str) else list(covariates)
        if src is not None:
            src.require_columns(covariates)
        else:
            require_columns(data, covariates)
        used = [c for c in covariates if c in fixed]
        if used:
            raise InputError(f"covariates {used} are the id/start/stop/event/terminal columns; list patient columns")
    clash = [c for c in covariates if c in OUTPUT]
    if clash:
        raise InputError(f"column(s) {clash} would clash with the output columns {', '.join(OUTPUT)}; "
                         "rename them or leave them out of covariates")
    if src is not None:
        from bmstats.engine.per_patient import engine_event_counts

        out, dropped = engine_event_counts(src, id, start, stop, event, terminal=terminal, covariates=covariates,
                                           dropna=dropna)
        out.attrs = {**attrs, "dropped": dropped}
        return out
    cp = counting_process(data, id, start, stop, event, terminal, None, dropna)
    code = cp.id_code
    n_patients = int(code.max()) + 1
    first = np.r_[True, code[1:] != code[:-1]]
    last = np.r_[code[1:] != code[:-1], True]
    rows = cp.data
    out = pd.DataFrame({id: rows[id].to_numpy()[first]})
    for c in covariates:
        values = rows[c]
        varies = values.groupby(code, sort=True).nunique(dropna=False).to_numpy() > 1
        if varies.any():
            ids = rows[id].to_numpy()[first][varies]
            shown = ", ".join(map(str, ids[:10])) + (f" (and {len(ids) - 10} more)" if len(ids) > 10 else "")
            bad_rows = rows.index[varies[code]]
            raise InputError(f"column {c!r}: changes between the rows of patient(s) {shown} "
                             f"({describe_rows(bad_rows)}); a per-patient count needs one value per patient: "
                             "leave it out (covariates=[...]) or fit the rate model on the split rows")
        out[c] = values.iloc[np.flatnonzero(first)].reset_index(drop=True)
    out["n_events"] = np.bincount(code, weights=cp.event, minlength=n_patients).astype(np.int64)
    out["person_time"] = np.bincount(code, weights=cp.stop - cp.start, minlength=n_patients)
    out["entry"] = cp.start[first]
    out["exit"] = cp.stop[last]
    if terminal is not None:
        out["terminal"] = cp.terminal[last].astype(np.int64)
    out.attrs = {**attrs, "dropped": cp.dropped}
    return out
