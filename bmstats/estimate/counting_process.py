"""Validation of counting-process rows (id, start, stop, event, terminal) for recurrent-event estimators.

Each subject contributes rows ``(start, stop]`` that must not overlap, must run forwards, and must end at
the terminal event (death) if there is one.  Errors name the column, the rule, the subject ids and the
rows (index labels of the caller's frame).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bmstats._checks import (
    Dropped,
    InputError,
    describe_rows,
    distinct_labels,
    event_array,
    handle_missing,
    require_columns,
    require_frame,
    time_array,
)


def fail_rows(column: str, rule: str, data: pd.DataFrame, id_col: str, bad: np.ndarray) -> None:
    """Raise InputError naming the ids and the rows (index labels) where ``bad`` is true."""
    rows = data.index[bad]
    ids = list(dict.fromkeys(data[id_col].to_numpy()[bad].tolist()))
    shown = ", ".join(map(str, ids[:10])) + (f" (and {len(ids) - 10} more)" if len(ids) > 10 else "")
    noun = "id" if len(ids) == 1 else "ids"
    raise InputError(f"column {column!r}: {rule}; {noun} {shown}; {describe_rows(rows)}")


@dataclass(frozen=True)
class CountingProcess:
    """Validated rows sorted by (group, id, start): arrays ready for the estimators."""

    data: pd.DataFrame  # the caller's rows (after dropna), in sorted order
    id_code: np.ndarray  # int64 subject code, 0..n_subjects-1, consecutive in the sorted order
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray
    terminal: np.ndarray
    group: np.ndarray  # group labels per row (object); "all" without ``by``
    dropped: Dropped


def counting_process(
    data: pd.DataFrame,
    id: str,
    start: str,
    stop: str,
    event: str,
    terminal: str | None = None,
    by: str | None = None,
    dropna: bool = False,
) -> CountingProcess:
    """Check counting-process rows and return them sorted by (group, id, start).

    Rules: start >= 0 and stop > start (no reversed or empty intervals); a subject's intervals do not
    overlap; event and terminal are 0/1; at most one terminal event per subject and no row after it;
    ``by`` is constant within a subject (its id matches one group).
    """
    require_frame(data)
    require_columns(data, [id, start, stop, event, terminal, by])
    data, dropped = handle_missing(data, [id, start, stop, event, terminal, by], dropna)
    t0 = time_array(data, start)
    t1 = time_array(data, stop)
    reversed_ = t1 <= t0
    if reversed_.any():
        fail_rows(stop, "stop must be greater than start (reversed or empty interval)", data, id, reversed_)
    ev = event_array(data, event)
    term = event_array(data, terminal) if terminal is not None else np.zeros(len(data), dtype=np.int64)

    ids = data[id].to_numpy()
    id_code = pd.factorize(ids, sort=False)[0]
    if by is not None:
        grp_code, grp_levels = pd.factorize(data[by], sort=True)
        distinct_labels(grp_levels, by, data[by])
        n_groups_per_id = pd.Series(grp_code).groupby(id_code).nunique().to_numpy()
        bad_id = n_groups_per_id[id_code] > 1
        if bad_id.any():
            fail_rows(by, "a subject's rows must all be in the same group (id does not match one group)",
                      data, id, bad_id)
    else:
        grp_code = np.zeros(len(data), dtype=np.int64)
        grp_levels = None

    order = np.lexsort((t0, id_code, grp_code))
    sid, s0, s1 = id_code[order], t0[order], t1[order]
    same = np.r_[False, sid[1:] == sid[:-1]]
    overlap = same & (s0 < np.r_[np.inf, s1[:-1]])
    if overlap.any():
        bad = np.zeros(len(data), dtype=bool)
        bad[order[overlap]] = True
        bad[order[np.flatnonzero(overlap) - 1]] = True
        fail_rows(start, "a subject's (start, stop] intervals overlap", data, id, bad)
    sterm = term[order]
    # rows of a subject after (or besides) its terminal row: cumulative terminal count before the row
    csum = np.cumsum(sterm)
    first = np.r_[True, ~same[1:]]
    before = csum - sterm - np.maximum.accumulate(np.where(first, csum - sterm, 0))
    after_terminal = before > 0
    if after_terminal.any():
        bad = np.zeros(len(data), dtype=bool)
        bad[order[after_terminal]] = True
        fail_rows(terminal, "rows or events after the subject's terminal event", data, id, bad)

    sorted_data = data.iloc[order]
    group = (
        np.asarray(grp_levels, dtype=object)[grp_code[order]] if by is not None
        else np.full(len(data), "all", dtype=object)
    )
    code = pd.factorize(sid, sort=False)[0]
    return CountingProcess(sorted_data, code.astype(np.int64), s0, s1, ev[order], sterm, group, dropped)
