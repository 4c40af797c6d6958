"""The one preparation step of every regression: data in, checked plain arrays out.

``prepare(data, formula, time=..., status=..., ...)`` runs every input check once, in this order:

1. ``data`` is a DataFrame with rows and unique column names; every named column exists;
2. the formula is one-sided and every column it reads (inside ``bs()``, ``cr()``, ``scale()``,
   ``np.log()`` too) is known;
3. missing values over all of these columns together: an error naming the column and rows, or with
   ``dropna=True`` the rows dropped and counted once (:class:`~bmstats._checks.Dropped`);
4. the outcome columns become arrays (times finite and non-negative, entry before exit, status codes
   integers and among the declared causes, weights finite and positive);
5. the design matrix (:func:`~bmstats.estimate.design.build_design`: coding, levels, finiteness, rank).

The estimator's core then works on :class:`Prepared`'s arrays only. This is the seam where another engine
(DuckDB, Spark) plugs in: it hands the same arrays, or the per-time aggregates computed from them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable

import numpy as np
import pandas as pd

from bmstats._checks import (
    Dropped,
    event_array,
    fail,
    handle_missing,
    numeric_array,
    require_columns,
    require_frame,
    status_array,
    time_array,
)
from bmstats.estimate.design import Design, build_design, formula_variables, right_hand_side

__all__ = ["Prepared", "prepare"]


@dataclass(frozen=True)
class Prepared:
    """Checked inputs of one fit, aligned row by row (kept rows only, in the input's order).

    ``time``, ``entry`` (or None), ``status`` (int codes; 0/1 for an event indicator), ``weights`` (or
    None) are float/int arrays; ``design`` holds the model matrix; ``frame`` the kept rows of the other
    columns the caller named (strata, cluster, censoring groups, counts); ``dropped`` every row removed by
    ``dropna=True``, counted per column; ``rows`` the kept rows' index labels.
    """

    rows: pd.Index
    design: Design
    frame: pd.DataFrame = field(repr=False)
    dropped: Dropped
    time: np.ndarray | None = field(default=None, repr=False)
    status: np.ndarray | None = field(default=None, repr=False)
    entry: np.ndarray | None = field(default=None, repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def X(self) -> np.ndarray:
        """The design matrix as a C-contiguous float64 array (a copy)."""
        return self.design.values()


def prepare(
    data: pd.DataFrame,
    formula: str,
    *,
    time: str | None = None,
    status: str | None = None,
    event: str | None = None,
    entry: str | None = None,
    weights: str | None = None,
    columns: Iterable[str | None] = (),
    causes: Iterable[int] | None = None,
    dropna: bool = False,
    intercept: bool = False,
    check_rank: bool = True,
) -> Prepared:
    """Check ``data`` once for a regression on ``formula`` and return plain arrays (see the module docstring).

    ``status``: competing-risks codes 0 (censored), 1..k (causes; ``causes`` declares them, any other code
    is an error); ``event``: a 0/1 indicator (give one of the two); ``entry``: delayed-entry times, each
    before its exit ``time``; ``weights``: case weights; ``columns``: further columns that must exist and
    have no missing values (strata, cluster, ...), handed back in ``Prepared.frame``.
    """
    data = require_frame(data)
    others = [c for c in dict.fromkeys(columns) if c is not None]
    roles = [c for c in (time, status, event, entry, weights) if c is not None]
    require_columns(data, [*roles, *others])
    rhs = right_hand_side(formula)
    variables = formula_variables(data, rhs)
    data, dropped = handle_missing(data, [*roles, *others, *variables], dropna)

    t = time_array(data, time) if time is not None else None
    st = None
    if status is not None:
        st = status_array(data, status, causes=causes)
    elif event is not None:
        st = event_array(data, event)
    start = None
    if entry is not None:
        start = time_array(data, entry)
        if t is not None:
            bad = start >= t
            if bad.any():
                fail(entry, f"entry time must be before the exit time {time!r}", data.index[bad])
    w = None
    if weights is not None:
        w = numeric_array(data, weights)
        bad = ~np.isfinite(w) | (w <= 0)
        if bad.any():
            fail(weights, "case weights must be finite and positive", data.index[bad])

    design = build_design(data, rhs, variables, intercept=intercept, check_rank=check_rank, dropped=dropped)
    return Prepared(
        rows=data.index,
        design=design,
        frame=data[others],
        dropped=dropped,
        time=t,
        status=st,
        entry=start,
        weights=w,
    )
