"""Counts per (block, column, distinct time) computed by the engine: the input of every nonparametric
estimator (Kaplan-Meier, log-rank, Aalen-Johansen, Gray's test, incidence rates).

Two GROUP BY queries leave the engine: exits counted by (block, column, time, status) and, with delayed
entry, entries counted by (block, column, entry).  :func:`bmstats.estimate.counts.aggregate_counts` turns
them into the same :class:`~bmstats.estimate.counts.Counts` the in-memory path builds from rows, so every
estimate computed from them is the same to the last digit.  Before that, one scan checks the rows as the
in-memory path does (missing values, finite non-negative times, integer status codes, entry before exit)
and the package's error names the column, how many rows break the rule and a few of their values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bmstats._checks import COUNT_RULE, NO_TIME_RULE, Dropped, InputError
from bmstats.engine.source import Source, fetch_numpy
from bmstats.estimate.counts import Counts, aggregate_counts

_MAX_DOUBLE = "1.7976931348623157e308"
_EXAMPLES = 5


@dataclass(frozen=True)
class EngineCounts:
    """What the nonparametric estimators need: counts, group labels of blocks and columns, n, dropped."""

    counts: Counts
    block_labels: list
    column_labels: list
    n: int
    n_events: int
    dropped: Dropped
    causes: tuple
    _rows: dict  # the grouped exits (time, status, block, column codes, count) and entries, for pooling

    def groups_per_block(self) -> np.ndarray:
        """How many columns (groups) have rows in each block (stratum)."""
        c = self.counts
        exits = c.n_censor + c.n_event.sum(axis=2)
        return np.array([int((exits[c.rows(b)].sum(axis=0) > 0).sum()) for b in range(c.n_blocks)])

    def pooled_blocks(self) -> Counts:
        """The counts with the blocks (strata) pooled: what the in-memory path aggregates without them."""
        r = self._rows
        entries = None
        if r["entries"] is not None:
            e_time, _, e_column, e_count = r["entries"]
            entries = (e_time, np.zeros(len(e_time), np.int64), e_column, e_count)
        return aggregate_counts(r["time"], r["status"], column=r["column"], n_columns=len(self.column_labels),
                                n_causes=r["n_causes"], weight=r["weight"], entries=entries)



def usable_rows(src: Source, used: list, dropna: bool) -> tuple[str, int, Dropped]:
    """Missing values in the columns ``used``, in one scan: an error naming the column, or with ``dropna``
    the rows dropped and counted.  Returns the SQL condition selecting the complete rows, the number of
    rows and what was dropped."""
    q = src.quote
    # COUNT(column) counts the non-missing values: an engine answers it from the validity masks (Parquet
    # statistics), where a CASE per row would read and test every value
    parts = ["COUNT(*) AS n_rows"] + [f"COUNT({q(c)}) AS {q('nn_' + c)}" for c in used]
    stats = src.query(f"SELECT {', '.join(parts)} FROM {src.view}").iloc[0]
    n_rows = int(stats["n_rows"])
    if n_rows == 0:
        raise InputError(f"data has no rows ({src.description})")
    missing = {c: n_rows - int(stats["nn_" + c]) for c in used if n_rows - int(stats["nn_" + c]) > 0}
    not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in used)
    dropped = Dropped.none()
    if missing:
        if not dropna:
            col = next(iter(missing))
            raise InputError(f"column {col!r}: missing values in {missing[col]} rows of {src.description} "
                             "(pass dropna=True to drop and count them)")
        n_drop = int(src.query(f"SELECT COUNT(*) AS n FROM {src.view} WHERE NOT ({not_null})").iloc[0]["n"])
        if n_drop == n_rows:
            raise InputError(f"no rows left after dropping missing values ({', '.join(missing)})")
        dropped = Dropped(n_drop, (), missing)
    return not_null, n_rows, dropped


def valid_rows(src: Source, time: str, status: str, *, groups=(), entry: str | None = None,
               dropna: bool = False, max_code: int | None = None, extra=(),
               entry_may_equal_exit: bool = False, causes=None, covariates=(),
               counts: bool = False) -> tuple[str, int, Dropped]:
    """Check the rows in one scan; return the SQL condition selecting the rows to use, their number and
    what ``dropna`` dropped.  Errors name the column, the rule, the number of rows and example values.
    ``covariates`` (a formula's columns) are checked for missing values only; the design checks the rest.
    ``counts``: ``status`` holds event counts (whole numbers >= 0) rather than codes."""
    used = [c for c in dict.fromkeys([time, status, entry, *groups, *extra, *covariates]) if c is not None]
    src.require_columns(used)
    for name in [time, status, entry, *extra]:
        if name is not None and not src.is_numeric(name):
            raise InputError(f"column {name!r} must be numeric; it is {src.columns[name]} in {src.description} "
                             "(cast it in the engine, e.g. CAST(x AS DOUBLE))")
    q = src.quote
    not_null, n_rows, dropped = usable_rows(src, used, dropna)

    rules = [(time, f"NOT ({q(time)} >= 0 AND {q(time)} <= {_MAX_DOUBLE})",
              "times must be finite and non-negative")]
    code_rule = f"NOT ({q(status)} >= 0 AND {q(status)} = ROUND({q(status)}, 0)"
    code_rule += f" AND {q(status)} <= {int(max_code)})" if max_code is not None else \
        f" AND {q(status)} <= 2147483647)"
    allowed = "0 or 1" if max_code == 1 else (f"0..{max_code}" if max_code else "0, 1, 2, ...")
    rules.append((status, code_rule, COUNT_RULE if counts else
                  f"status codes must be integers {allowed} (0 = censored)"))
    if causes is not None:
        declared = sorted({int(c) for c in causes})
        rules.append((status, f"{q(status)} <> 0 AND {q(status)} NOT IN ({', '.join(map(str, declared))})",
                      f"codes that are neither 0 (censored) nor a declared cause ({', '.join(map(str, declared))})"))
    if entry is not None:
        before = "<=" if entry_may_equal_exit else "<"
        word = "not after" if entry_may_equal_exit else "before"
        rules.append((entry, f"NOT ({q(entry)} >= 0 AND {q(entry)} {before} {q(time)})",
                      f"entry time must be finite, non-negative and {word} the exit time {time!r}"))
    for name in covariates:  # NaN and infinity are values to an engine, not missing: refuse them by name
        if src.is_numeric(name) and "BOOL" not in src.columns[name].upper():
            rules.append((name, f"NOT ({q(name)} >= -{_MAX_DOUBLE} AND {q(name)} <= {_MAX_DOUBLE})",
                          "covariate values must be finite (NaN or infinite found)"))
    sums = ", ".join(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {q('bad_' + str(i))}"
                     for i, (_, cond, _) in enumerate(rules))
    bad = src.query(f"SELECT {sums} FROM {src.view} WHERE {not_null}").iloc[0]
    for i, (column, cond, rule) in enumerate(rules):
        k = int(bad["bad_" + str(i)] or 0)
        if k:
            shown = [c for c in dict.fromkeys([column, time, status]) if c is not None]
            examples = src.query(f"SELECT {', '.join(q(c) for c in shown)} FROM {src.view} "
                                 f"WHERE {not_null} AND {cond} LIMIT {_EXAMPLES}")
            values = "; ".join(", ".join(f"{c}={v!r}" for c, v in zip(shown, row))
                               for row in examples.itertuples(index=False))
            raise InputError(f"column {column!r}: {rule}; {k} rows of {src.description}, e.g. {values}")
    return not_null, n_rows - dropped.n, dropped


def _labels(values: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes and labels of a grouping column of an aggregated result, as the in-memory path
    orders them (categorical order when the engine kept one, else sorted)."""
    codes, labels = pd.factorize(values, sort=True)
    return codes.astype(np.int64), list(labels)


def engine_counts(src: Source, time: str, status: str, *, block: str | None = None, column: str | None = None,
                  entry: str | None = None, dropna: bool = False, max_code: int | None = None,
                  need_event: bool = True) -> EngineCounts:
    """Counts per (block, column, time) of ``src`` as :func:`aggregate_counts` gives them from rows."""
    groups = [c for c in (block, column) if c is not None]
    where, n, dropped = valid_rows(src, time, status, groups=groups, entry=entry, dropna=dropna,
                                   max_code=max_code)
    q = src.quote
    g_block = q(block) if block else "0"
    g_column = q(column) if column else "0"
    keys = "".join(f"{q(c)}, " for c in groups)  # a constant is no GROUP BY key (a literal is an ordinal)
    exits = src.query(
        f"SELECT {g_block} AS b, {g_column} AS c, CAST({q(time)} AS DOUBLE) AS t, "
        f"CAST({q(status)} AS BIGINT) AS s, COUNT(*) AS n FROM {src.view} WHERE {where} "
        f"GROUP BY {keys}CAST({q(time)} AS DOUBLE), CAST({q(status)} AS BIGINT)")
    b_codes, b_labels = _labels(exits["b"]) if block else (np.zeros(len(exits), np.int64), ["all"])
    c_codes, c_labels = _labels(exits["c"]) if column else (np.zeros(len(exits), np.int64), ["all"])
    s = fetch_numpy(exits, "s", np.int64)
    weight = fetch_numpy(exits, "n")
    n_events = int(weight[s > 0].sum())
    if need_event and n_events == 0:
        raise InputError(f"column {status!r}: all rows are censored (no events); nothing to estimate")
    entries = None
    if entry is not None:
        ent = src.query(
            f"SELECT {g_block} AS b, {g_column} AS c, CAST({q(entry)} AS DOUBLE) AS e, COUNT(*) AS n "
            f"FROM {src.view} WHERE {where} GROUP BY {keys}CAST({q(entry)} AS DOUBLE)")
        e_block = _recode(ent["b"], b_labels) if block else np.zeros(len(ent), np.int64)
        e_column = _recode(ent["c"], c_labels) if column else np.zeros(len(ent), np.int64)
        entries = (fetch_numpy(ent, "e"), e_block, e_column, fetch_numpy(ent, "n"))
    causes = tuple(int(k) for k in np.unique(s[(s > 0) & (weight > 0)]))
    t = fetch_numpy(exits, "t")
    # as in memory: a survival status has the one cause 1; otherwise only the codes present get a column
    n_causes = 1 if max_code == 1 else None
    counts = aggregate_counts(t, s, block=b_codes, column=c_codes, n_blocks=len(b_labels), n_columns=len(c_labels),
                              n_causes=n_causes, weight=weight, entries=entries)
    rows = {"time": t, "status": s, "column": c_codes, "weight": weight, "entries": entries, "n_causes": n_causes}
    return EngineCounts(counts, b_labels, c_labels, n, n_events, dropped, causes, rows)


def engine_person_time(src: Source, time: str, event: str, *, by: str | None = None, entry: str | None = None,
                       dropna: bool = False, counts: bool = False):
    """Events and person-time per group (``time - entry`` summed), as the in-memory rates compute them:
    (events, person_time, labels, dropped, n).  ``counts``: ``event`` holds counts >= 0, not 0/1."""
    groups = [by] if by else []
    where, n, dropped = valid_rows(src, time, event, groups=groups, entry=entry, dropna=dropna,
                                   max_code=None if counts else 1, entry_may_equal_exit=True, counts=counts)
    q = src.quote
    span = f"CAST({q(time)} AS DOUBLE)" + (f" - CAST({q(entry)} AS DOUBLE)" if entry else "")
    if counts:
        k = int(src.query(f"SELECT COUNT(*) AS k FROM {src.view} WHERE {where} AND {q(event)} > 0 AND {span} <= 0")
                .iloc[0]["k"])
        if k:
            raise InputError(f"column {event!r}: {NO_TIME_RULE}; {k} rows of {src.description}")
    key = f"{q(by)} AS b, " if by else "0 AS b, "
    group_by = f" GROUP BY {q(by)}" if by else ""
    frame = src.query(f"SELECT {key}SUM(CAST({q(event)} AS BIGINT)) AS d, SUM({span}) AS pt "
                      f"FROM {src.view} WHERE {where}{group_by}")
    codes, labels = _labels(frame["b"]) if by else (np.zeros(len(frame), np.int64), ["all"])
    order = np.argsort(codes)
    return (fetch_numpy(frame, "d", np.int64)[order], fetch_numpy(frame, "pt")[order], labels, dropped, n)


def _recode(values: pd.Series, labels: list) -> np.ndarray:
    index = pd.Index(labels)
    codes = index.get_indexer(values)
    if (codes < 0).any():  # pragma: no cover - both queries read the same rows
        raise InputError("the engine returned an entry group that has no exits")
    return codes.astype(np.int64)
