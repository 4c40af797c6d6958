"""``Cohort.endpoint`` as a query: time from an origin to an event, with competing events, exclusions and
(optionally) time-varying exposures, built inside DuckDB from the ``patients`` and ``skeletal_events``
relations.  The rows stay in the engine (an :class:`~bmstats._relation.EngineFrame`) until an estimator
aggregates them; only the exclusion log (the excluded patients) and the counts leave it.

The definitions, the order of the exclusion steps and their messages are those of the pandas path
(:mod:`bmstats.cohort.endpoints`, docs/cohort.md "Endpoints"); the time-varying split is R's
``survival::tmerge(..., tdc())`` as in :mod:`bmstats.cohort.timevarying`: per patient, the distinct exposure
times strictly inside ``(0, time)`` cut the follow-up, and an exposure is 1 on a row that starts at or after
its time.  The tests compare every row, the logs and the attrs with the pandas path.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from bmstats._relation import EngineFrame
from bmstats.cohort.endpoints import (
    UNITS,
    ZERO_FOLLOW_UP,
    Endpoint,
    check_endpoint_options,
    endpoint_attrs,
    endpoint_title,
)
from bmstats.cohort.sql import (
    Tables,
    carried,
    date_expr,
    days,
    exclusion_log,
    first_event_sql,
    follow_up_end_expr,
    num,
    q,
    step_case,
)
from bmstats.cohort.timevarying import SKELETAL_EVENT, check_exposure_columns


def endpoint_query(
    patients,
    events,
    event: str,
    competing: Sequence[str] = (),
    origin: str = "diagnosis",
    unit: str = "years",
    horizon: float | None = None,
    covariates: Sequence[str] | None = None,
    time_varying: Mapping[str, str] | None = None,
) -> Endpoint:
    """:func:`bmstats.cohort.endpoints.endpoint` over DuckDB relations; ``.data`` is an
    :class:`~bmstats._relation.EngineFrame` (patient_id, time, status + covariates, or the counting-process
    rows patient_id, start, stop, status, exposures + covariates with ``time_varying``).

    Parameters
    ----------
    patients, events : duckdb.DuckDBPyRelation
        The canonical tables, relations of one connection (``events`` may be None: no skeletal events).
    event, competing, origin, unit, horizon, covariates, time_varying
        As :meth:`bmstats.Cohort.endpoint`.

    Returns
    -------
    Endpoint
        ``.data`` (rows in the engine), ``.exclusions`` (an ``ExclusionLog``), ``.status_labels``.
    """
    competing, horizon = check_endpoint_options(event, competing, origin, unit, horizon)
    t = Tables(patients, events)
    cov = t.columns_for(covariates, ("time", "status"))
    if time_varying is not None:
        time_varying = check_exposure_columns(time_varying, [c for c in t.patient_columns], t.is_date,
                                              lambda c: t.patient_columns[c])
    names = (event, *competing)
    uses_first = SKELETAL_EVENT in (origin, *names) or bool(time_varying and SKELETAL_EVENT in time_varying.values())
    t.store([*cov, *(time_varying or {}).values()], events=uses_first)
    t.check_unique_ids()
    o = date_expr(origin)
    ev_cols = [f"_ev{i}" for i in range(len(names))]
    select = [
        "p.patient_id",
        f"{t.patient_order} AS _order",
        f"{o} AS _o",
        f"{days(follow_up_end_expr(), o)} AS _d_fu",
        f"{days('CAST(p.last_fu_date AS DATE)', o)} AS _d_lfu",
        f"{days('CAST(p.death_date AS DATE)', o)} AS _d_death",
        "p.last_fu_date IS NULL AS _no_fu",
        *(f"{days(date_expr(n), o)} AS {c}" for n, c in zip(names, ev_cols)),
    ]
    if time_varying is not None:
        select += [f"{days(date_expr(SKELETAL_EVENT) if src == SKELETAL_EVENT else f'CAST(p.{q(src)} AS DATE)', o)}"
                   f" / {num(UNITS[unit])} AS {q('_sw_' + name)}" for name, src in time_varying.items()]
    join = f" LEFT JOIN {first_event_sql(t.e)} AS fse ON fse.patient_id = p.patient_id" if uses_first else ""
    base = f"(SELECT {', '.join(select)}{carried(t, cov)} FROM {t.p} AS p{join})"

    label = origin.replace("_", " ")
    any_of = " OR ".join
    steps = [
        (f"no {label} date (origin missing)", "_o IS NULL"),
        ("last_fu_date missing", "_no_fu"),
        (f"{event.replace('_', ' ')} at or before {label} (prevalent at origin)", "_ev0 <= 0"),
    ]
    if competing:
        steps.append((f"competing event at or before {label}", any_of(f"{c} <= 0" for c in ev_cols[1:])))
    steps += [
        (ZERO_FOLLOW_UP, "_d_fu <= 0"),
        ("event after last_fu_date (inconsistent dates)", any_of(f"{c} > _d_lfu" for c in ev_cols)),
        ("event after death_date (inconsistent dates)", any_of(f"{c} > _d_death" for c in ev_cols)),
    ]
    stepped = f"(SELECT *, {step_case(steps)} AS _step FROM {base})"
    log = exclusion_log(t, stepped, steps, endpoint_title(event, competing, origin))

    # the first of the events (ties: the event of interest, then the competing ones in the order given)
    first = f"LEAST({', '.join(ev_cols)})" if len(ev_cols) > 1 else ev_cols[0]
    which = " ".join(f"WHEN {c} = _first THEN {i}" for i, c in enumerate(ev_cols, start=1))
    timed = (f"(SELECT *, _first IS NOT NULL AND _first <= _d_fu AS _happened FROM "
             f"(SELECT *, {first} AS _first FROM {stepped} WHERE _step IS NULL))")
    time = f"(CASE WHEN _happened THEN _first ELSE _d_fu END) / {num(UNITS[unit])}"
    status = f"CAST(CASE WHEN _happened THEN (CASE {which} END) ELSE 0 END AS BIGINT)"
    if horizon is not None:
        h = num(horizon)
        time, status = (f"CASE WHEN {time} > {h} THEN {h} ELSE {time} END",
                        f"CASE WHEN {time} > {h} THEN CAST(0 AS BIGINT) ELSE {status} END")
    kept = "".join(f", {q(c)}" for c in cov)
    if time_varying is None:
        sql = f"SELECT patient_id, {time} AS time, {status} AS status{kept} FROM {timed}"
        order: tuple[str, ...] = ("patient_id",)
    else:
        sql = _split_sql(f"(SELECT *, {time} AS time, {status} AS status FROM {timed})", list(time_varying), kept)
        order = ("patient_id", "start")
    attrs = {"exclusions": log, "endpoint": endpoint_attrs(event, competing, origin, unit, horizon, time_varying)}
    frame = EngineFrame(t.query(sql), attrs, order=order, keep=(patients, events, t.stored))
    return Endpoint(frame, log, attrs["endpoint"]["status_labels"])


def _split_sql(rows: str, names: list[str], carried: str) -> str:
    """Counting-process rows of ``rows`` (one per patient: time, status, the ``_sw_<name>`` switch times):
    bounds = 0, the distinct switch times inside (0, time) in order, time; one row per pair of bounds."""
    switches = ", ".join(q("_sw_" + n) for n in names)
    bounds = (f"list_concat([CAST(0 AS DOUBLE)], list_sort(list_distinct(list_filter([{switches}], "
              "lambda x: x > 0 AND x < time))), [time])")
    on = "".join(f", CAST(CASE WHEN {q('_sw_' + n)} <= _b[_j] THEN 1 ELSE 0 END AS BIGINT) AS {q(n)}" for n in names)
    return (
        f"SELECT patient_id, _b[_j] AS start, _b[_j + 1] AS stop, "
        f"CAST(CASE WHEN _j = len(_b) - 1 THEN status ELSE 0 END AS BIGINT) AS status{on}{carried} "
        f"FROM (SELECT *, UNNEST(generate_series(1, len(_b) - 1)) AS _j FROM (SELECT *, {bounds} AS _b FROM {rows}))"
    )
