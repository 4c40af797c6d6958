"""The skeletal morbidity window: when a skeletal-related event (SRE) is a new event.

The one rule, used by every module that applies the window (``sre_summary`` and the skeletal morbidity
rate, ``Cohort.recurrent_events(window_days=...)`` on the pandas and the DuckDB paths, and validation rule
BM102 on both): per patient, in date order, the first event counts; a later event counts when it is **at
least** ``window`` days after the previous *counted* event; an event fewer than ``window`` days after it is
part of the same episode and does not count (nor does it restart the window).  With the default 21 days an
event 20 days after the last counted one is the same episode; 21 or 22 days after, a new event.  A window of
0 counts every event.  This is the convention of the trials of bone-targeted agents ("first and subsequent
SREs, events occurring at least 21 days apart": Stopeck et al. 2010, J Clin Oncol 28:5132-5139; Lipton et al.
2012, Eur J Cancer 48:3082-3092).

Gaps are compared with a tolerance of ``TOLERANCE_DAYS`` (a microsecond-scale fraction of a day), so that
times converted from whole days to years or months and back (``day / 365.25 * 365.25``) are not read as one
rounding error short of the window.
"""
from __future__ import annotations

import numpy as np

WINDOW_DAYS = 21
TOLERANCE_DAYS = 1e-6


def counted_events(group: np.ndarray, day: np.ndarray, window: float = WINDOW_DAYS) -> np.ndarray:
    """Which events count under the window rule (the module docstring states it).

    Parameters
    ----------
    group : numpy.ndarray
        Patient of each event (any sortable values), the events of a patient contiguous.
    day : numpy.ndarray
        Time of each event in days, non-decreasing within a patient.
    window : float, default 21
        Days; an event at least this long after the patient's previous counted event counts.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the counted events.

    Notes
    -----
    Vectorised by "next counted" pointers: for each event, the first event of the same patient at least
    ``window`` days later (one stable sort of the events merged with their window ends); then the chains are
    followed from each patient's first event, one pass per counted event of the patient with the most.
    """
    group = np.asarray(group)
    day = np.asarray(day, dtype="float64")
    n = len(day)
    counted = np.zeros(n, dtype=bool)
    if n == 0:
        return counted
    if window <= 0:
        return np.ones(n, dtype=bool)
    first = np.r_[True, group[1:] != group[:-1]]
    code = np.cumsum(first) - 1  # 0, 1, ... per patient, in order
    # merge the events (kind 1) with their window ends (kind 0, first among equal values: "at least")
    ends = day + (window - TOLERANCE_DAYS)
    values = np.r_[ends, day]
    codes = np.r_[code, code]
    kind = np.r_[np.zeros(n, dtype=np.int8), np.ones(n, dtype=np.int8)]
    index = np.r_[np.full(n, n), np.arange(n)]  # event index; n = "none" for window ends
    order = np.lexsort((kind, values, codes))
    following = np.minimum.accumulate(index[order][::-1])[::-1]  # next event at or after each position
    is_end = order < n
    nxt = np.empty(n, dtype=np.int64)
    nxt[order[is_end]] = following[is_end]
    nxt = np.maximum(nxt, np.arange(1, n + 1))  # a window within the tolerance: the next event, never itself
    valid = nxt < n
    valid[valid] = code[nxt[valid]] == code[valid]
    nxt[~valid] = -1
    cur = np.flatnonzero(first)
    while len(cur):
        counted[cur] = True
        cur = nxt[cur]
        cur = cur[cur >= 0]
    return counted


def not_counted_reason(window: int) -> str:
    """Why an event is not counted, as the lists of events not counted say it."""
    return f"fewer than {int(window)} days after the previous counted event"


def sql_counted_days(candidates: str, window: int) -> str:
    """A DuckDB query of the counted events under the window rule: rows ``(patient_id, _day)``.

    ``candidates`` is a subquery with ``patient_id`` and ``_day`` (whole days, one row per patient and day).
    The greedy rule is a recursive query: each step takes, per patient, the first event at least ``window``
    days after the last one counted (as many steps as the most events one patient counts).
    """
    return (
        f"(WITH RECURSIVE _cand AS MATERIALIZED {candidates}, "
        "_counted(patient_id, _day) AS ("
        "SELECT patient_id, MIN(_day) FROM _cand GROUP BY patient_id "
        "UNION ALL "
        "SELECT c.patient_id, MIN(x._day) FROM _counted AS c JOIN _cand AS x "
        f"ON x.patient_id = c.patient_id AND x._day >= c._day + {int(window)} GROUP BY c.patient_id) "
        "SELECT patient_id, _day FROM _counted)"
    )
