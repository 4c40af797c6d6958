"""``Cohort.recurrent_events`` as a query: counting-process rows of skeletal events built inside DuckDB.

The definitions, exclusion steps and reasons for events not counted are those of the pandas path
(:mod:`bmstats.cohort.recurrent`): an event is dropped, with its reason, when its patient is not analysed,
its date is missing, it is before or on the origin day, after last_fu_date or death_date, a second event on
the same day (the first in file order is kept) or, with ``window_days``, fewer than ``window_days`` days
after the previous *counted* event (the rule of :mod:`bmstats._sre_window`, whose recursive query this
path runs).  The rows and the events not counted stay in the engine until asked for.
"""
from __future__ import annotations

from collections.abc import Sequence

from bmstats._relation import EngineFrame
from bmstats._sre_window import not_counted_reason, sql_counted_days
from bmstats.cohort.endpoints import UNITS, ZERO_FOLLOW_UP
from bmstats.cohort.recurrent import (RESERVED, DroppedEvents, RecurrentEvents, check_recurrent_options,
                                      recurrent_attrs)
from bmstats.cohort.sql import (
    ROW,
    Tables,
    carried,
    date_expr,
    days,
    exclusion_log,
    first_event_sql,
    follow_up_end_expr,
    lit,
    num,
    q,
    step_case,
)


def recurrent_events_query(
    patients,
    events,
    origin: str = "bone_metastasis",
    unit: str = "years",
    window_days: int | None = None,
    event_types: Sequence[str] | None = None,
    covariates: Sequence[str] | None = None,
) -> RecurrentEvents:
    """:func:`bmstats.cohort.recurrent.recurrent_events` over DuckDB relations.

    Parameters
    ----------
    patients, events : duckdb.DuckDBPyRelation
        The canonical tables, relations of one connection; a ``row`` column (the file's row number) orders
        same-day events and the list of events not counted.
    origin, unit, window_days, event_types, covariates
        As :meth:`bmstats.Cohort.recurrent_events`.

    Returns
    -------
    RecurrentEvents
        ``.data`` (an :class:`~bmstats._relation.EngineFrame`: id, start, stop, event, terminal, enum,
        event_type + covariates), ``.exclusions``, ``.dropped_events`` (an EngineFrame of the events not
        counted: row, patient_id, event_date, event_type, reason).
    """
    event_types = check_recurrent_options(origin, unit, window_days, event_types)
    t = Tables(patients, events)
    cov = t.columns_for(covariates, RESERVED)
    t.store(cov, events=True)
    t.check_unique_ids()
    o = date_expr(origin)
    uses_first = origin == "skeletal_event"
    join = f" LEFT JOIN {first_event_sql(t.e)} AS fse ON fse.patient_id = p.patient_id" if uses_first else ""
    label = origin.replace("_", " ")
    steps = [
        (f"no {label} date (origin missing)", "_o IS NULL"),
        ("last_fu_date missing", "_no_fu"),
        (ZERO_FOLLOW_UP, "_end <= 0"),
    ]
    carried_sql = carried(t, cov)
    base = (f"(SELECT *, {step_case(steps)} AS _step FROM (SELECT p.patient_id, {t.patient_order} AS _order, "
            f"{o} AS _o, p.last_fu_date IS NULL AS _no_fu, {days(follow_up_end_expr(), o)} AS _end, "
            f"{days('CAST(p.last_fu_date AS DATE)', o)} AS _lfu, p.death_date IS NOT NULL AS _dead{carried_sql} "
            f"FROM {t.p} AS p{join}))")
    log = exclusion_log(t, base, steps, f"skeletal events from {label}")
    kept = f"(SELECT * FROM {base} WHERE _step IS NULL)"

    e_row = q(ROW) if ROW in t.event_columns else "ROW_NUMBER() OVER ()"
    types = ""
    if event_types is not None:
        types = f" WHERE CAST(event_type AS VARCHAR) IN ({', '.join(lit(x) for x in event_types)})"
    ev = (f"(SELECT {e_row} AS _row, patient_id, event_date, CAST(event_type AS VARCHAR) AS event_type "
          f"FROM {t.e}{types})")
    day = "CAST(CAST(e.event_date AS DATE) - k._o AS DOUBLE)"
    reason = (
        "CASE WHEN k.patient_id IS NULL THEN 'patient not analysed' "
        "WHEN e.event_date IS NULL THEN 'missing event_date' "
        f"WHEN {day} < 0 THEN 'before origin' "
        f"WHEN {day} = 0 THEN 'on the origin day (time 0)' "
        f"WHEN {day} > k._lfu THEN 'after last_fu_date' "
        f"WHEN {day} > k._end THEN 'after death_date' END"
    )
    checked = (f"(SELECT e._row, e.patient_id, e.event_date, e.event_type, {day} AS _day, {reason} AS _reason "
               f"FROM {ev} AS e LEFT JOIN {kept} AS k ON k.patient_id = e.patient_id)")
    # one event per day: the first in file order
    ranked = (f"(SELECT *, CASE WHEN _reason IS NULL AND ROW_NUMBER() OVER (PARTITION BY patient_id, _day "
              f"ORDER BY _row) > 1 THEN 'same day as another event' ELSE _reason END AS _why FROM {checked})")
    if window_days:
        w = int(window_days)
        cand = f"(SELECT _row, patient_id, _day FROM {ranked} WHERE _why IS NULL)"
        counted = f"(SELECT patient_id, _day, TRUE AS _counted FROM {sql_counted_days(cand, w)})"
        why = (f"CASE WHEN r._why IS NULL AND w._counted IS NULL "
               f"THEN {lit(not_counted_reason(w))} ELSE r._why END")
        ranked = (f"(SELECT r._row, r.patient_id, r.event_date, r.event_type, r._day, {why} AS _why "
                  f"FROM {ranked} AS r LEFT JOIN {counted} AS w ON w.patient_id = r.patient_id AND w._day = r._day)")
    factor = num(UNITS[unit])
    # counted events numbered per patient; each one ends a row (start: the previous event, or 0)
    numbered = (f"(SELECT patient_id, _day, event_type, ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY _day) "
                f"AS enum, LAG(_day, 1, CAST(0 AS DOUBLE)) OVER (PARTITION BY patient_id ORDER BY _day) AS _start "
                f"FROM {ranked} WHERE _why IS NULL)")
    per_patient = (f"(SELECT k.*, COALESCE(s._k, 0) AS _k, COALESCE(s._last, CAST(0 AS DOUBLE)) AS _last FROM {kept} "
                   f"AS k LEFT JOIN (SELECT patient_id, COUNT(*) AS _k, MAX(_day) AS _last FROM {numbered} "
                   "GROUP BY patient_id) AS s ON s.patient_id = k.patient_id)")
    carried_k = "".join(f", k.{q(c)}" for c in cov)
    event_rows = (
        f"SELECT k.patient_id AS id, n._start / {factor} AS start, n._day / {factor} AS stop, CAST(1 AS BIGINT) "
        f"AS event, CAST(CASE WHEN n.enum = k._k AND NOT (k._end > k._last) AND k._dead THEN 1 ELSE 0 END AS "
        f"BIGINT) AS terminal, CAST(n.enum AS BIGINT) AS enum, n.event_type{carried_k} "
        f"FROM {numbered} AS n JOIN {per_patient} AS k ON k.patient_id = n.patient_id"
    )
    tail_rows = (
        f"SELECT k.patient_id AS id, k._last / {factor} AS start, k._end / {factor} AS stop, CAST(0 AS BIGINT) "
        f"AS event, CAST(CASE WHEN k._dead THEN 1 ELSE 0 END AS BIGINT) AS terminal, CAST(k._k + 1 AS BIGINT) "
        f"AS enum, CAST(NULL AS VARCHAR) AS event_type{carried_k} FROM {per_patient} AS k WHERE k._end > k._last"
    )
    rows = t.query(f"{event_rows} UNION ALL {tail_rows}")
    dropped = t.query(f"SELECT _row AS {q(ROW)}, patient_id, event_date, event_type, _why AS reason "
                      f"FROM {ranked} WHERE _why IS NOT NULL")
    dropped_frame = EngineFrame(dropped, {}, order=(ROW,), keep=(patients, events, t.stored))
    attrs = {"exclusions": log, "dropped_events": dropped_frame,
             "recurrent": recurrent_attrs(origin, unit, window_days, event_types)}
    data = EngineFrame(rows, attrs, order=("id", "enum"), keep=(patients, events, t.stored),
                       pandas_attrs=lambda: {"dropped_events": DroppedEvents(dropped_frame.to_pandas())})
    return RecurrentEvents(data, log, dropped_frame)

