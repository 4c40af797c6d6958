"""The mean cumulative function of recurrent events where the rows live.

The estimate needs counts per (group, distinct time): rows entering at a start time, rows leaving, events
and terminal events at a stop time (two GROUP BY queries).  The robust variance (Lawless & Nadeau 1995;
Ghosh & Lin 2000) is a sum over subjects of squared influence functions; each is a step function whose
value on a row is a constant c_r minus a cumulative compensator K(t), and c_r is the subject's running
sum of (jump - compensator increment) over its earlier rows (:func:`bmstats.estimate.mcf.variance_from_sums`).
So the engine joins each row to the small per-time table of coefficients (a, m, b, K) at its start and its
stop, takes that running sum by subject with a window (ordered by start), and sums the products of the row
values c, j, e per start time, per stop time and per next start time (one GROUPING SETS query).  Only the
per-time tables leave the engine; numpy does the rest with the code the in-memory path uses, so both give
the same numbers to rounding.

Checks, as the in-memory :func:`bmstats.estimate.counting_process.counting_process` does: missing values,
finite non-negative times, stop > start, 0/1 event and terminal codes, one group per subject, no
overlapping intervals and no row after a subject's terminal event; errors name the column, the rule, the
subject ids and the number of rows (an engine keeps no row numbers).
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from bmstats._checks import InputError, distinct_labels
from bmstats.engine.counts import valid_rows
from bmstats.engine.design import _literal
from bmstats.engine.source import Source, fetch_numpy
from bmstats.estimate.mcf import (
    _coefficients, _estimate, counts_frame, product_key, variance_from_sums, variance_sums,
)

_MAX_DOUBLE = "1.7976931348623157e308"
_IDS_SHOWN = 10
_TABLES = itertools.count()


def mcf_on_engine(src: Source, id: str, start: str, stop: str, event: str, *, terminal: str | None,
                  by: str | None, method: str, dropna: bool):
    """Each group's (label, counts, estimate, variance, number of subjects), the number of events and
    what ``dropna`` dropped: what :func:`bmstats.estimate.mcf.assemble` makes the result from."""
    src.require_columns([id, start, stop, event, terminal, by])
    where, _, dropped = valid_rows(src, stop, event, groups=[id] + ([by] if by else []), dropna=dropna,
                                   max_code=1, extra=[start] + ([terminal] if terminal else []))
    q = src.quote
    _check_rows(src, where, id, start, stop, terminal)
    _check_subjects(src, where, id, start, stop, terminal, by)

    g_sql = f"{q(by)} AS g, " if by else ""
    g_key = f"{q(by)}, " if by else ""
    term_sql = f"CAST({q(terminal)} AS BIGINT)" if terminal else "0"
    starts = src.query(f"SELECT {g_sql}CAST({q(start)} AS DOUBLE) AS t, COUNT(*) AS n FROM {src.view} "
                       f"WHERE {where} GROUP BY {g_key}CAST({q(start)} AS DOUBLE)")
    stops = src.query(f"SELECT {g_sql}CAST({q(stop)} AS DOUBLE) AS t, COUNT(*) AS n, "
                      f"SUM(CAST({q(event)} AS BIGINT)) AS d, SUM({term_sql}) AS dt FROM {src.view} "
                      f"WHERE {where} GROUP BY {g_key}CAST({q(stop)} AS DOUBLE)")
    labels = _group_labels(stops, by)
    parts = []
    for g in labels:
        s0 = starts[starts["g"] == g] if by else starts
        s1 = stops[stops["g"] == g] if by else stops
        t0, t1 = fetch_numpy(s0, "t"), fetch_numpy(s1, "t")
        times = np.unique(np.concatenate([t0, t1]))
        k = len(times)
        n_enter = np.bincount(np.searchsorted(times, t0), weights=fetch_numpy(s0, "n"), minlength=k)
        i1 = np.searchsorted(times, t1)
        n_exit = np.bincount(i1, weights=fetch_numpy(s1, "n"), minlength=k)
        n_event = np.bincount(i1, weights=fetch_numpy(s1, "d"), minlength=k)
        n_term = np.bincount(i1, weights=fetch_numpy(s1, "dt"), minlength=k)
        c = counts_frame(g, times, *(x.round().astype(np.int64) for x in (n_enter, n_exit, n_event, n_term)))
        est = _estimate(c, method)
        parts.append((g, c, est, _coefficients(est, method)))
    n_events = int(fetch_numpy(stops, "d").sum())
    sums, n_subjects = _variance_sums(src, where, id, start, stop, event, terminal, by, method, parts)
    out = []
    for (g, c, est, co), group_sums, n_sub in zip(parts, sums, n_subjects):
        out.append((g, c, est, variance_from_sums(est, co, group_sums, method), n_sub))
    return out, n_events, dropped


def _group_labels(stops: pd.DataFrame, by: str | None) -> list:
    if by is None:
        return ["all"]
    _, labels = pd.factorize(stops["g"], sort=True)
    return distinct_labels(labels, by)


def _fail(src: Source, id: str, flagged: str, column: str, rule: str, k: int) -> None:
    """The package's error for ``k`` rows breaking ``rule``, naming the subjects of the rows ``flagged``
    (a query selecting them)."""
    found = src.query(f"SELECT DISTINCT {src.quote(id)} AS i FROM ({flagged}) x LIMIT {_IDS_SHOWN + 1}")
    ids = sorted(found["i"].tolist(), key=str)
    shown = ", ".join(map(str, ids[:_IDS_SHOWN])) + (" (and more)" if len(ids) > _IDS_SHOWN else "")
    noun = "id" if len(ids) == 1 else "ids"
    raise InputError(f"column {column!r}: {rule}; {noun} {shown}; {k} rows of {src.description}")


def _check_rows(src: Source, where: str, id: str, start: str, stop: str, terminal: str | None) -> None:
    """Row rules in one scan, in the in-memory path's order: start times, reversed intervals, terminal codes."""
    q = src.quote
    rules = [(start, f"NOT ({q(start)} >= 0 AND {q(start)} <= {_MAX_DOUBLE})", "times must be finite and non-negative"),
             (stop, f"{q(stop)} <= {q(start)}", "stop must be greater than start (reversed or empty interval)")]
    if terminal:
        rules.append((terminal, f"NOT ({q(terminal)} >= 0 AND {q(terminal)} = ROUND({q(terminal)}, 0) AND "
                                f"{q(terminal)} <= 1)", "status codes must be integers 0 or 1 (0 = censored)"))
    sums = ", ".join(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS bad{i}" for i, (_, cond, _) in enumerate(rules))
    bad = src.query(f"SELECT {sums} FROM {src.view} WHERE {where}").iloc[0]
    for i, (column, cond, rule) in enumerate(rules):
        k = int(bad[f"bad{i}"] or 0)
        if k:
            _fail(src, id, f"SELECT {q(id)} FROM {src.view} WHERE {where} AND ({cond})", column, rule, k)


def _check_subjects(src: Source, where: str, id: str, start: str, stop: str, terminal: str | None,
                    by: str | None) -> None:
    """Rules within subjects, in one windowed scan: one group per subject, intervals that do not overlap,
    no row after the terminal event."""
    q = src.quote
    w = f"PARTITION BY {q(id)} ORDER BY {q(start)}"
    cols = [f"{q(id)}", f"CASE WHEN LAG({q(stop)}) OVER ({w}) > {q(start)} THEN 1 ELSE 0 END AS overlap"]
    if terminal:
        cols.append(f"CASE WHEN COALESCE(SUM({q(terminal)}) OVER ({w} ROWS BETWEEN UNBOUNDED PRECEDING AND "
                    f"1 PRECEDING), 0) > 0 THEN 1 ELSE 0 END AS after_terminal")
    if by:
        cols.append(f"CASE WHEN MIN({q(by)}) OVER (PARTITION BY {q(id)}) <> MAX({q(by)}) OVER (PARTITION BY "
                    f"{q(id)}) THEN 1 ELSE 0 END AS mixed")
    flagged = f"SELECT {', '.join(cols)} FROM {src.view} WHERE {where}"
    rules = []
    if by:
        rules.append(("mixed", by, "a subject's rows must all be in the same group (id does not match one group)"))
    rules.append(("overlap", start, "a subject's (start, stop] intervals overlap"))
    if terminal:
        rules.append(("after_terminal", terminal, "rows or events after the subject's terminal event"))
    sums = ", ".join(f"SUM({flag}) AS {flag}" for flag, _, _ in rules)
    bad = src.query(f"SELECT {sums} FROM ({flagged}) f").iloc[0]
    for flag, column, rule in rules:
        k = int(bad[flag] or 0)
        if k:
            _fail(src, id, f"SELECT * FROM ({flagged}) f WHERE {flag} = 1", column, rule, k)


def _variance_sums(src: Source, where: str, id: str, start: str, stop: str, event: str, terminal: str | None,
                   by: str | None, method: str, parts: list):
    """Per group, a function ``sums(kind, *factors)`` giving the row sums at each distinct time that
    :func:`bmstats.estimate.mcf.variance_from_sums` needs, and the number of subjects: one query."""
    q = src.quote
    name = f"bmstats_mcf_times_{next(_TABLES)}"
    table = pd.concat([pd.DataFrame({**({"g": c["group"].to_numpy()} if by else {}), "t": c["time"].to_numpy(),
                                     **{v: co[v] for v in ("a", "m", "b", "ku", "kb")}})
                       for _, c, _, co in parts], ignore_index=True)
    gsel = f"{q(by)} AS g, " if by else ""
    term = f"CAST({q(terminal)} AS DOUBLE)" if terminal else "0.0"
    # the two lookups key the group differently (its value, its code) so that no join condition links p0 to
    # p1: with one, DuckDB may join the two small tables first (a product within each group) before the rows
    on = "p1.g = r.g AND " if by else ""
    on0 = "p0.gc = r.gc AND " if by else ""
    if by:
        labels = [g for g, _, _, _ in parts]
        table["gc"] = pd.Index(labels).get_indexer(table["g"]).astype(np.int64)
        cases = " ".join(f"WHEN {q(by)} = {_literal(g)} THEN {c}" for c, g in enumerate(labels))
        gsel += f"CASE {cases} END AS gc, "
    rows = (f"SELECT {gsel}{q(id)} AS i, CAST({q(start)} AS DOUBLE) AS t0, CAST({q(stop)} AS DOUBLE) AS t1, "
            f"CAST({q(event)} AS DOUBLE) AS ev, {term} AS te FROM {src.view} WHERE {where}")
    joined = (f"SELECT r.*, p1.a * r.ev + p1.m * r.te AS ju, p1.b * r.te AS jb, "
              f"p1.a * r.ev + p1.m * r.te - (p1.ku - p0.ku) AS du, p1.b * r.te - (p1.kb - p0.kb) AS db, "
              f"p0.ku AS ku0, p0.kb AS kb0 FROM ({rows}) r "
              f"JOIN {name} p1 ON {on}p1.t = r.t1 JOIN {name} p0 ON {on0}p0.t = r.t0")
    w = "PARTITION BY i ORDER BY t0"
    before = "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    running = (f"SELECT *, COALESCE(SUM(du) OVER ({w} {before}), 0.0) AS pu, "
               f"COALESCE(SUM(db) OVER ({w} {before}), 0.0) AS pb, LEAD(t0) OVER ({w}) AS nx, "
               f"CASE WHEN LAG(t0) OVER ({w}) IS NULL THEN 1 ELSE 0 END AS first FROM ({joined}) j")
    values = (f"SELECT {'g, ' if by else ''}t0, t1, nx, first, ju, jb, pu + ku0 AS cu, pb + kb0 AS cb, "
              f"pu + du AS eu, pb + db AS eb FROM ({running}) w")
    wanted = variance_sums(method)
    products = list(dict.fromkeys(product_key(*f) for kind in wanted for f in wanted[kind]))
    factors = {product_key(*f): f for kind in wanted for f in wanted[kind]}
    aggs = ", ".join(f"SUM({' * '.join(factors[p])}) AS {p}" for p in products)
    g_key = "g, " if by else ""
    grouped = src.query(
        f"SELECT {g_key}t0, t1, nx, GROUPING(t0) AS at_start, GROUPING(t1) AS at_stop, SUM(first) AS n_first, "
        f"{aggs} FROM ({values}) v GROUP BY GROUPING SETS (({g_key}t0), ({g_key}t1), ({g_key}nx))",
        {name: table})
    # GROUPING(col) is 0 when col is a key of the row's set
    in_start = fetch_numpy(grouped, "at_start", np.int64) == 0
    in_stop = fetch_numpy(grouped, "at_stop", np.int64) == 0
    in_next = ~in_start & ~in_stop
    out, n_subjects = [], []
    for g, c, _, _ in parts:
        mine = (grouped["g"] == g).to_numpy() if by else np.ones(len(grouped), bool)
        times = c["time"].to_numpy()
        k = len(times)

        s_start, s_stop = mine & in_start, mine & in_stop
        s_next = mine & in_next & grouped["nx"].notna().to_numpy()
        i0, i1, inx = (_index(times, fetch_numpy(grouped[sel], col))
                       for col, sel in (("t0", s_start), ("t1", s_stop), ("nx", s_next)))
        n_subjects.append(int(fetch_numpy(grouped[s_start], "n_first").sum()))
        table_g = {}
        for p in products:
            v0, v1 = fetch_numpy(grouped[s_start], p), fetch_numpy(grouped[s_stop], p)
            vn = fetch_numpy(grouped[s_next], p)
            risk = np.cumsum(np.bincount(i0 + 1, weights=v0, minlength=k + 1)
                             - np.bincount(i1 + 1, weights=v1, minlength=k + 1))[:k]
            frozen = np.cumsum(np.bincount(i1 + 1, weights=v1, minlength=k + 2)[: k + 1]
                               - np.bincount(inx + 1, weights=vn, minlength=k + 2)[: k + 1])[:k]
            table_g[p] = {"risk": risk, "stop": np.bincount(i1, weights=v1, minlength=k), "frozen": frozen}
        out.append(lambda kind, *f, _t=table_g: _t[product_key(*f)][kind])
    return out, n_subjects


def _index(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positions of the engine's times ``t`` among a group's distinct times (they are among them)."""
    pos = np.searchsorted(times, t)
    if len(t) and (np.any(pos >= len(times)) or np.any(times[np.minimum(pos, len(times) - 1)] != t)):
        raise InputError("the engine returned a time that is not among the group's times")  # pragma: no cover
    return pos
