"""Checked transition rows of a multi-state model, shared by ``state_occupation`` and ``multistate_cox``.

Rows are ``(id, start, stop, from_state, to_state)``: the subject is in ``from_state`` over ``(start, stop]``
and moves to ``to_state`` at ``stop`` (missing: censored).  A subject's rows must chain: sorted by start,
each starts where the previous one stopped, in the state the previous one moved to; only the last row may
be censored.  States are coded 0..S-1 with ``initial`` first, then the other states in their categorical
order (or in order of first appearance).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bmstats._checks import InputError, describe_rows, fail, require_columns, require_frame, time_array


@dataclass(frozen=True)
class Transitions:
    """Rows sorted by (id, start) as arrays: id codes, start, stop, from/to state codes (-1: censored)."""

    ids: np.ndarray  # factorised id, 0..n_subjects-1
    id_values: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    from_code: np.ndarray
    to_code: np.ndarray
    states: tuple
    index: pd.Index  # the input rows, in this order
    first: np.ndarray  # True on each subject's first row
    last: np.ndarray

    @property
    def n_subjects(self) -> int:
        return len(self.id_values)


def state_order(from_s: pd.Series, to_s: pd.Series, initial) -> list:
    """initial first, then the categorical order of the state columns or their order of first appearance."""
    if isinstance(from_s.dtype, pd.CategoricalDtype):
        seen = list(from_s.cat.categories)
    else:
        seen = list(pd.unique(pd.concat([from_s, to_s], ignore_index=True).dropna()))
    extra = [s for s in pd.unique(to_s.dropna()) if s not in seen]
    states = [initial] + [s for s in seen + extra if s != initial]
    return states


def transitions(data: pd.DataFrame, start: str, stop: str, from_state: str, to_state: str, id: str,
                initial) -> Transitions:
    """Check and code transition rows (module docstring has the rules); errors name the column and rows."""
    require_frame(data)
    require_columns(data, [start, stop, from_state, to_state, id])
    for col in (id, from_state):
        if data[col].isna().any():
            fail(col, "missing values (every row needs a subject and the state it is in)", data[col].isna())
    t0 = time_array(data, start)
    t1 = time_array(data, stop)
    bad = t1 <= t0
    if bad.any():
        fail(stop, f"stop must be after {start!r} (rows of zero or negative length)", data.index[bad])
    states = state_order(data[from_state], data[to_state], initial)
    from_code = pd.Categorical(data[from_state], categories=states).codes.astype(np.int64)
    to_code = pd.Categorical(data[to_state], categories=states).codes.astype(np.int64)  # -1: censored
    same = to_code == from_code
    if same.any():
        fail(to_state, "a transition into the state the subject is already in", data.index[same])
    if initial not in set(data[from_state]):
        raise InputError(f"no row starts in the initial state {initial!r} (column {from_state!r} has "
                         f"{', '.join(map(str, pd.unique(data[from_state])[:10]))}); pass initial=")
    codes, id_values = pd.factorize(data[id], sort=False)
    order = np.lexsort((t0, codes))
    ids, t0, t1, from_code, to_code = codes[order], t0[order], t1[order], from_code[order], to_code[order]
    index = data.index[order]
    first = np.r_[True, ids[1:] != ids[:-1]]
    last = np.r_[ids[1:] != ids[:-1], True]
    cont = ~first
    prev = np.flatnonzero(cont) - 1
    broken = (t0[cont] != t1[prev]) | (from_code[cont] != to_code[prev])
    if broken.any():
        rows = index[np.flatnonzero(cont)[broken]]
        who = id_values[ids[np.flatnonzero(cont)[broken]]]
        raise InputError(
            f"column {id!r}: a subject's rows must chain (each starts where the previous stopped, in the state it "
            f"moved to; a censored row must be the last): subject(s) {', '.join(map(str, pd.unique(who)[:10]))}; "
            f"{describe_rows(rows)}")
    return Transitions(ids, np.asarray(id_values), t0, t1, from_code, to_code, tuple(states), index, first, last)
