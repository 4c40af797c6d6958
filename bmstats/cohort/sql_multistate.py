"""``Cohort.multistate`` as a query: transition rows (free -> intermediate states -> absorbing) built in DuckDB.

The definitions and exclusions are those of the pandas path (:mod:`bmstats.cohort.multistate`).  Per
patient, the intermediate states dated strictly inside the follow-up are a list of (day, state) sorted by
day and, on the same day, by the state named last first; the first of each day is the transition.  The
initial state is the latest intermediate state dated on or before the origin (ties: the state named last).
``from_state`` and ``to_state`` are text (the pandas path's categorical levels); ``to_state`` is NULL when
the patient is censored.
"""
from __future__ import annotations

from collections.abc import Sequence

from bmstats._relation import EngineFrame
from bmstats.cohort.endpoints import UNITS
from bmstats.cohort.multistate import COLUMNS, INITIAL, MultiState, check_multistate_options
from bmstats.cohort.sql import (
    Tables,
    carried,
    date_expr,
    days,
    exclusion_log,
    first_event_sql,
    lit,
    num,
    q,
    step_case,
)


def multistate_query(
    patients,
    events,
    origin: str = "diagnosis",
    states: Sequence[str] = ("bone_metastasis", "death"),
    unit: str = "years",
    covariates: Sequence[str] | None = None,
) -> MultiState:
    """:func:`bmstats.cohort.multistate.multistate` over DuckDB relations.

    Parameters
    ----------
    patients, events : duckdb.DuckDBPyRelation
        The canonical tables, relations of one connection.
    origin, states, unit, covariates
        As :meth:`bmstats.Cohort.multistate`.

    Returns
    -------
    MultiState
        ``.data`` (an :class:`~bmstats._relation.EngineFrame`: patient_id, start, stop, from_state, to_state
        + covariates), ``.exclusions``, ``.states``.
    """
    states = check_multistate_options(origin, states, unit)
    t = Tables(patients, events)
    cov = t.columns_for(covariates, COLUMNS)
    names = [INITIAL, *states]
    m = len(states) - 1
    o = date_expr(origin)
    uses_first = "skeletal_event" in (origin, *states)
    t.store(cov, events=uses_first)
    t.check_unique_ids()
    join = f" LEFT JOIN {first_event_sql(t.e)} AS fse ON fse.patient_id = p.patient_id" if uses_first else ""
    mids = [f"_m{i}" for i in range(1, m + 1)]
    label = origin.replace("_", " ")
    steps = [
        (f"no {label} date (origin missing)", "_o IS NULL"),
        ("last_fu_date missing", "_no_fu"),
        (f"{states[-1].replace('_', ' ')} at or before {label}", "_abs <= 0"),
        ("zero or negative follow-up (last_fu_date on or before origin)", "_fu <= 0"),
        ("event after last_fu_date (inconsistent dates)", " OR ".join(f"{c} > _fu" for c in ["_abs", *mids])),
    ]
    carried_sql = carried(t, cov)
    select = ", ".join(f"{days(date_expr(s), o)} AS {c}" for s, c in zip(states[:-1], mids))
    base = (f"(SELECT *, {step_case(steps)} AS _step FROM (SELECT p.patient_id, {t.patient_order} AS _order, "
            f"{o} AS _o, p.last_fu_date IS NULL AS _no_fu, {days('CAST(p.last_fu_date AS DATE)', o)} AS _fu, "
            f"{days(date_expr(states[-1]), o)} AS _abs, {select}{carried_sql} FROM {t.p} AS p{join}))")
    log = exclusion_log(t, base, steps, f"{' / '.join(states)} from {label} (multi-state)")

    # (day, -code) pairs: sorting them puts a day's state named last first
    pairs = ", ".join(f"{{'d': {c}, 'c': {-(i + 1)}}}" for i, c in enumerate(mids))
    before = f"list_filter([{pairs}], lambda x: x.d <= 0)"
    initial = f"COALESCE(list_sort([{{'d': x.d, 'c': -x.c}} FOR x IN {before}], 'DESC')[1].c, 0)"
    inside = f"list_sort(list_filter([{pairs}], lambda x: x.d > 0 AND x.d < _end))"
    moves = "list_filter(_in, lambda x, i: i = 1 OR x.d <> _in[i - 1].d)"
    per_patient = (
        f"(SELECT *, list_concat([CAST(0 AS DOUBLE)], [x.d FOR x IN _moves], [_end]) AS _b, "
        f"list_concat([{initial}], [-x.c FOR x IN _moves], [CASE WHEN _dead THEN {m + 1} END]) AS _codes "
        f"FROM (SELECT *, {moves} AS _moves FROM (SELECT *, {inside} AS _in FROM "
        f"(SELECT *, _abs IS NOT NULL AS _dead, COALESCE(_abs, _fu) AS _end FROM {base} WHERE _step IS NULL))))"
    )
    state_name = "CASE {} END".format(" ".join(f"WHEN {{c}} = {i} THEN {lit(n)}" for i, n in enumerate(names)))
    factor = num(UNITS[unit])
    carried_out = "".join(f", {q(c)}" for c in cov)
    sql = (
        f"SELECT patient_id, _b[_j] / {factor} AS start, _b[_j + 1] / {factor} AS stop, "
        f"{state_name.format(c='_codes[_j]')} AS from_state, {state_name.format(c='_codes[_j + 1]')} AS to_state"
        f"{carried_out} FROM (SELECT *, UNNEST(generate_series(1, len(_b) - 1)) AS _j FROM {per_patient})"
    )
    attrs = {"exclusions": log, "multistate": {"origin": origin, "states": names, "unit": unit, "initial": INITIAL}}
    data = EngineFrame(t.query(sql), attrs, order=("patient_id", "start"), keep=(patients, events, t.stored))
    return MultiState(data, log, tuple(names))
