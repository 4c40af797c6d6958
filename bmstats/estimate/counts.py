"""The aggregation step of every nonparametric estimator: rows -> counts per (block, distinct time).

Kaplan-Meier, log-rank, Aalen-Johansen and Gray's test only need, at each distinct time, how many were at
risk, how many entered, how many had an event of each cause and how many were censored.  This module
computes exactly that table and nothing else; the estimators compute on it.  The step is a GROUP BY
(block, time) with a pivot on ``column`` that a database engine could run instead:

    SELECT block, time, column, status, count(*)  ... GROUP BY block, time, column, status

followed by a running sum per block for the number at risk.  A *block* is what an estimate is computed
within (a group for a curve, a stratum for a test); a *column* splits the counts within a block (the
groups compared by a test).  Risk sets follow the counting-process convention ``entry < t <= time``, so
censorings at t are at risk at t and a subject entering at t is first at risk just after t.

Implementation: one ``np.unique(time, return_inverse=True)``, one sort of the (block, time) keys (or a
dense bincount when the grid is small), one ``np.bincount`` and cumulative sums; no Python loop over rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bmstats._checks import distinct_labels

def sum_last_axis(x: np.ndarray) -> np.ndarray:
    """x.sum(axis=-1) for a short last axis (groups, causes): numpy reduces a short inner axis of a long
    array slowly, adding the few columns is several times faster."""
    if x.shape[-1] > 16:
        return x.sum(axis=-1)
    out = x[..., 0].copy()
    for i in range(1, x.shape[-1]):
        out += x[..., i]
    return out


# a dense (block x time) grid is used when it is at most this many cells per input row (plus a constant)
_DENSE_CELLS_PER_ROW = 4


@dataclass(frozen=True, repr=False)
class Counts:
    """Counts per (block, distinct time), rows sorted by block then time.

    ``n_event[i, c, j]`` is the number of events of the j-th cause in ``causes`` (the status codes present,
    ascending; :meth:`events_of` looks a code up) at row i in column c; ``n_censor``, ``n_entry`` and
    ``n_risk`` are (rows, columns).  ``block_start[b]:block_start[b+1]`` are the rows of block b (blocks
    without rows are empty slices).
    """

    block: np.ndarray
    time: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    n_entry: np.ndarray
    n_risk: np.ndarray
    block_start: np.ndarray
    causes: tuple = (1,)

    def events_of(self, cause: int) -> np.ndarray:
        """Events of status code ``cause`` (rows, columns); zeros for a code that does not occur."""
        if cause not in self.causes:
            return np.zeros(self.n_risk.shape, dtype=self.n_event.dtype)
        return self.n_event[:, :, self.causes.index(cause)]

    @property
    def n_blocks(self) -> int:
        return len(self.block_start) - 1

    @property
    def n_columns(self) -> int:
        return self.n_risk.shape[1]

    @property
    def n_causes(self) -> int:
        return self.n_event.shape[2]

    def rows(self, b: int) -> slice:
        return slice(int(self.block_start[b]), int(self.block_start[b + 1]))

    def to_frame(self) -> pd.DataFrame:
        """Long tidy form: one row per (block, time, column)."""
        r, c = self.n_risk.shape
        out = {
            "block": np.repeat(self.block, c),
            "time": np.repeat(self.time, c),
            "column": np.tile(np.arange(c), r),
            "n_risk": self.n_risk.ravel(),
            "n_entry": self.n_entry.ravel(),
            "n_censor": self.n_censor.ravel(),
        }
        for j, k in enumerate(self.causes):
            out[f"n_event_{k}"] = self.n_event[:, :, j].ravel()
        return pd.DataFrame(out)


def aggregate_counts(
    time: np.ndarray,
    status: np.ndarray,
    block: np.ndarray | None = None,
    column: np.ndarray | None = None,
    entry: np.ndarray | None = None,
    n_blocks: int | None = None,
    n_columns: int | None = None,
    n_causes: int | None = None,
    weight: np.ndarray | None = None,
    entries: tuple | None = None,
) -> Counts:
    """Aggregate rows (time, status 0..k, block code, column code, entry time) into :class:`Counts`.

    ``block`` and ``column`` are integer codes 0..B-1 and 0..C-1 (None: one block / one column).
    ``entry`` gives delayed entry (left truncation); subjects are at risk on ``(entry, time]``.
    ``n_causes``: the codes are 0..n_causes; by default only the codes present get an event column, so that
    memory does not grow with a code's value (a stray 10**6 is one column, not a million).
    ``weight`` is an integer count per row when the rows are themselves already grouped (an engine's
    GROUP BY time, status, block, column); the entries then come separately grouped as
    ``entries = (entry time, block, column, count)``.
    """
    time = np.asarray(time, dtype=float)
    status = np.asarray(status, dtype=np.int64)
    n = len(time)
    block = np.zeros(n, dtype=np.int64) if block is None else np.asarray(block, dtype=np.int64)
    column = np.zeros(n, dtype=np.int64) if column is None else np.asarray(column, dtype=np.int64)
    nb = int(block.max()) + 1 if n_blocks is None else int(n_blocks)
    nc = int(column.max()) + 1 if n_columns is None else int(n_columns)
    if n_causes is None:
        causes = tuple(int(k) for k in np.unique(status[status > 0])) or (1,)
        if causes != tuple(range(1, len(causes) + 1)):
            status = np.where(status > 0, np.searchsorted(causes, status) + 1, 0)
    else:
        causes = tuple(range(1, max(int(n_causes), 1) + 1))
    nk = len(causes)

    grid, t_idx = np.unique(time, return_inverse=True)
    nt = len(grid)
    key = block * nt + t_idx
    if nb * nt <= _DENSE_CELLS_PER_ROW * n + 1_000_000:
        occupied = np.bincount(key, minlength=nb * nt) > 0
        row_key = np.flatnonzero(occupied)
        lookup = np.cumsum(occupied) - 1
        row = lookup[key]
    else:
        row_key, row = np.unique(key, return_inverse=True)
    n_rows = len(row_key)
    row_block = row_key // nt
    row_time = grid[row_key % nt]

    width = nc * (nk + 1)
    flat = np.bincount(row * width + column * (nk + 1) + status, weights=weight, minlength=n_rows * width)
    if weight is not None:
        flat = np.rint(flat).astype(np.int64)
    cells = flat.reshape(n_rows, nc, nk + 1)
    n_censor = cells[:, :, 0]
    n_event = cells[:, :, 1:]
    exits = n_censor + sum_last_axis(n_event)

    block_start = np.searchsorted(row_block, np.arange(nb + 1), side="left")
    if entries is not None:
        e_time, e_block, e_column, e_count = (np.asarray(a) for a in entries)
        e_key = e_block.astype(np.int64) * nt + np.searchsorted(grid, e_time.astype(float), side="right")
        pos = np.searchsorted(row_key, e_key, side="left")
        n_entry = np.rint(np.bincount(pos * nc + e_column.astype(np.int64), weights=e_count.astype(float),
                                      minlength=n_rows * nc)).astype(np.int64).reshape(n_rows, nc)
    elif entry is None:
        n_entry = np.zeros((n_rows, nc), dtype=np.int64)
        first = block_start[:-1][np.diff(block_start) > 0]
        n_entry[first] = np.add.reduceat(exits, first, axis=0) if len(first) else 0
    else:
        # a subject entering at e is first at risk at the block's first row with time > e
        entry = np.asarray(entry, dtype=float)
        e_key = block * nt + np.searchsorted(grid, entry, side="right")
        pos = np.searchsorted(row_key, e_key, side="left")
        n_entry = np.bincount(pos * nc + column, minlength=n_rows * nc).reshape(n_rows, nc)

    # at risk at row i of a block: entries up to and including i minus exits before i, within the block
    net = np.cumsum(n_entry - exits, axis=0) + exits
    start_of_row = np.repeat(block_start[:-1], np.diff(block_start))
    before = np.vstack([np.zeros((1, nc), dtype=np.int64), np.cumsum(n_entry - exits, axis=0)])
    n_risk = net - before[start_of_row]
    return Counts(row_block, row_time, n_event, n_censor, n_entry, n_risk, block_start, causes)


def group_codes(data: pd.DataFrame, column: str | None) -> tuple[np.ndarray, list]:
    """Integer codes 0..G-1 for a grouping column and its labels in order (categorical order if any,
    else sorted); ``column=None`` gives one group labelled ``"all"``."""
    if column is None:
        return np.zeros(len(data), dtype=np.int64), ["all"]
    codes, labels = pd.factorize(data[column], sort=True)
    distinct_labels(labels, column, data[column])
    if isinstance(data[column].dtype, pd.CategoricalDtype):
        # keep the categories' order but drop unused levels (an empty group has no estimate)
        labels = list(labels)
    return codes.astype(np.int64), list(labels)
