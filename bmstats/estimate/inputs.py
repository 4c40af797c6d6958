"""Checked inputs shared by the survival estimators (Kaplan-Meier, log-rank, rates, cumulative incidence)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats._checks import (
    InputError, count_array, event_array, fail, handle_missing, require_columns, require_frame, time_array,
)
from bmstats.estimate.counts import group_codes


def survival_inputs(data, time, event, by, entry, dropna, need_event=True, allow_empty_interval=False, strata=None,
                    counts=False):
    """Checked arrays (time, event, group codes, labels, entry, dropped) shared by KM, log-rank and rates.

    ``need_event``: all-censored data are an error (nothing to estimate); rates allow them (a rate of 0).
    ``allow_empty_interval``: entry equal to exit is allowed (no person-time), as rates need.
    ``strata``: a further column that must exist and is checked for missing values (log-rank).
    ``counts``: ``event`` holds event counts (whole numbers >= 0), not a 0/1 indicator (rates)."""
    data = require_frame(data)
    require_columns(data, [time, event, by, entry, strata])
    data, dropped = handle_missing(data, [time, event, by, entry, strata], dropna)
    t = time_array(data, time)
    d = count_array(data, event) if counts else event_array(data, event)
    if need_event and not d.any():
        raise InputError(f"column {event!r}: all rows are censored (no events); nothing to estimate")
    codes, labels = group_codes(data, by)
    empty_groups(data, by)
    e = None
    if entry is not None:
        e = time_array(data, entry)
        bad = e > t if allow_empty_interval else e >= t
        if bad.any():
            rule = "must not be after" if allow_empty_interval else "must be before"
            fail(entry, f"entry time {rule} the exit time {time!r}", data.index[bad])
    return data, t, d, codes, labels, e, dropped


def empty_groups(data: pd.DataFrame, by: str | None) -> None:
    """A categorical `by` with a level that has no rows is an error (its estimate would not exist)."""
    if by is None or not isinstance(data[by].dtype, pd.CategoricalDtype):
        return
    counts = data[by].value_counts(sort=False)
    empty = [str(k) for k, v in counts.items() if v == 0]
    if empty:
        raise InputError(f"column {by!r}: group(s) {', '.join(empty)} have no rows; "
                         "remove unused categories (Series.cat.remove_unused_categories())")


def strata_that_compare(data: pd.DataFrame | None, by: str | None, strata: str | None,
                        groups_per_stratum=None) -> None:
    """A stratified test compares the groups of ``by`` within each stratum; refuse strata that leave nothing
    to compare (``strata`` equal to ``by``, or every stratum holding one group: the test would say p = 1).
    ``groups_per_stratum`` (the number of groups in each stratum) replaces ``data`` where the rows are in an
    engine."""
    if by is None or strata is None:
        return
    if strata == by:
        raise InputError(f"strata {strata!r} is the grouping column itself: within each stratum there is one group, "
                         "so there is nothing to compare; stratify by another column")
    if groups_per_stratum is None:
        groups_per_stratum = data.groupby(strata, observed=True, sort=False)[by].nunique()
    groups_per_stratum = np.asarray(groups_per_stratum)
    if (groups_per_stratum <= 1).all():
        raise InputError(f"column {strata!r}: every stratum holds a single group of {by!r}, so within strata there "
                         "is nothing to compare; stratify by a column that cuts across the groups")
