"""Counting-process rows in an engine collapsed to one row per patient (:func:`bmstats.event_counts`): the
checks of the in-memory path as queries, then one GROUP BY id; only the per-patient table leaves the engine."""
from __future__ import annotations

import pandas as pd

from bmstats._checks import InputError
from bmstats.engine.counts import valid_rows
from bmstats.engine.source import Source

_SHOWN = 10


def _ids(src: Source, sql: str) -> str:
    """'ids a, b (and 3 more)' for the ids a query returns (column ``i``) and the count (column ``k``)."""
    frame = src.query(sql)
    ids = [str(v) for v in frame["i"].tolist()[:_SHOWN]]
    total = int(frame["k"].iloc[0]) if len(frame) else 0
    more = f" (and {total - len(ids)} more)" if total > len(ids) else ""
    return f"{'id' if total == 1 else 'ids'} {', '.join(ids)}{more}"


def engine_event_counts(src: Source, id: str, start: str, stop: str, event: str, *, terminal: str | None,
                        covariates: list[str], dropna: bool) -> tuple[pd.DataFrame, object]:
    """(per-patient frame sorted by id, dropped): id, covariates, n_events, person_time, entry, exit[, terminal]."""
    src.require_columns([id, start, stop, event, terminal, *covariates])
    where, _, dropped = valid_rows(src, stop, event, groups=[id], entry=start, dropna=dropna, max_code=1,
                                   extra=[terminal] if terminal is not None else [])
    q = src.quote
    i, t0, t1 = q(id), q(start), q(stop)
    if terminal is not None:
        bad = src.query(f"SELECT COUNT(*) AS k FROM {src.view} WHERE {where} AND {q(terminal)} NOT IN (0, 1)")
        if int(bad["k"].iloc[0]):
            raise InputError(f"column {terminal!r}: status codes must be integers 0 or 1 (0 = censored); "
                             f"{int(bad['k'].iloc[0])} rows of {src.description}")
    ordered = (f"SELECT {i} AS i, {t0} AS s, {t1} AS e, "
               f"LAG({t1}) OVER (PARTITION BY {i} ORDER BY {t0}, {t1}) AS prev_e, "
               f"MAX({t1}) OVER (PARTITION BY {i}) AS last_e"
               + (f", {q(terminal)} AS d" if terminal is not None else "")
               + f" FROM {src.view} WHERE {where}")
    overlap = (f"SELECT i, COUNT(*) OVER () AS k FROM ({ordered}) o WHERE prev_e > s GROUP BY i "
               f"ORDER BY i LIMIT {_SHOWN}")
    if len(src.query(overlap)):
        raise InputError(f"column {start!r}: a subject's (start, stop] intervals overlap; {_ids(src, overlap)} "
                         f"in {src.description}")
    if terminal is not None:
        after = (f"SELECT i, COUNT(*) OVER () AS k FROM ({ordered}) o GROUP BY i "
                 f"HAVING SUM(CASE WHEN d = 1 AND e < last_e THEN 1 ELSE 0 END) > 0 OR SUM(d) > 1 "
                 f"ORDER BY i LIMIT {_SHOWN}")
        if len(src.query(after)):
            raise InputError(f"column {terminal!r}: rows or events after the subject's terminal event; "
                             f"{_ids(src, after)} in {src.description}")
    for c in covariates:
        varies = (f"SELECT {i} AS i, COUNT(*) OVER () AS k FROM {src.view} WHERE {where} GROUP BY {i} "
                  f"HAVING COUNT(DISTINCT {q(c)}) > 1 OR (COUNT({q(c)}) > 0 AND COUNT({q(c)}) < COUNT(*)) "
                  f"ORDER BY i LIMIT {_SHOWN}")
        if len(src.query(varies)):
            raise InputError(f"column {c!r}: changes between the rows of patient(s) ({_ids(src, varies)} in "
                             f"{src.description}); a per-patient count needs one value per patient: leave it out "
                             "(covariates=[...]) or fit the rate model on the split rows")
    columns = [f"MIN({q(c)}) AS {q(c)}" for c in covariates]
    columns += [f"SUM(CAST({q(event)} AS BIGINT)) AS n_events",
                f"SUM(CAST({t1} AS DOUBLE) - CAST({t0} AS DOUBLE)) AS person_time",
                f"MIN(CAST({t0} AS DOUBLE)) AS entry", f"MAX(CAST({t1} AS DOUBLE)) AS exit"]
    if terminal is not None:
        columns.append(f"MAX(CAST({q(terminal)} AS BIGINT)) AS terminal")
    frame = src.query(f"SELECT {i} AS {q(id)}, {', '.join(columns)} FROM {src.view} WHERE {where} "
                      f"GROUP BY {i} ORDER BY {i}")
    frame["n_events"] = frame["n_events"].astype("int64")
    if terminal is not None:
        frame["terminal"] = frame["terminal"].astype("int64")
    return frame.reset_index(drop=True), dropped
