"""Transition rows of a multi-state model (e.g. illness-death: free -> bone metastasis -> death) from a cohort.

``Cohort.multistate(origin="diagnosis", states=["bone_metastasis", "death"], unit="years")`` gives one row
per patient and state visited: ``patient_id, start, stop, from_state, to_state`` (``to_state`` missing when
the patient is censored in that state) plus the baseline columns, the input of R's
``survfit(Surv(start, stop, to_state) ~ 1, id = patient_id, istate = from_state)``.

Definitions:

- the last state named is absorbing (``death`` or ``breast_cancer_death``); the others are intermediate
  states, entered on their dates (``bone_metastasis``, ``visceral_metastasis``, ``skeletal_event``);
- the initial state is ``"free"``; a patient whose intermediate event is dated on or before the origin starts
  in that state (bone metastasis at diagnosis starts in ``"bone_metastasis"``; of several, the latest);
- follow-up ends at the absorbing event or last_fu_date; an intermediate event on the day follow-up ends
  is not a transition (no row may have zero length, as R requires): the patient goes from the state before
  it to death or censoring on that day; an intermediate event after the end of follow-up never happens;
- intermediate events on the same day are one transition, into the state named last;
- patients excluded (ExclusionLog, in this order): origin missing; last_fu_date missing; absorbing event at
  or before the origin; zero or negative follow-up; an event after last_fu_date (inconsistent dates).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bmstats._checks import InputError
from bmstats.cohort.endpoints import EVENTS, ORIGINS, UNITS, _covariates, _days, check_unique_ids, event_dates
from bmstats.cohort.exclusions import ExclusionBuilder, ExclusionLog

INITIAL = "free"
ABSORBING = ("death", "breast_cancer_death")
COLUMNS = ("patient_id", "start", "stop", "from_state", "to_state")


@dataclass(frozen=True, repr=False, eq=False)
class MultiState:
    """``.data`` transition rows, ``.exclusions`` the patients excluded, ``.states`` in model order."""

    data: pd.DataFrame
    exclusions: ExclusionLog
    states: tuple

    def __repr__(self) -> str:
        d = self.data
        moves = d.dropna(subset=["to_state"]).groupby(["from_state", "to_state"], observed=True).size()
        parts = ", ".join(f"{a} -> {b}: {n:,}" for (a, b), n in moves.items())
        return f"{self.exclusions.title}: {d['patient_id'].nunique():,} patients ({parts})\n{self.exclusions!r}"


def check_multistate_options(origin: str, states, unit: str) -> list[str]:
    """The options of :func:`multistate` checked; returns ``states`` as a list."""
    states = [states] if isinstance(states, str) else list(states)
    if origin not in ORIGINS:
        raise InputError(f"unknown origin {origin!r}; expected one of {', '.join(ORIGINS)}")
    if len(states) < 2:
        raise InputError(f"states must name at least one intermediate state and the absorbing one, got {states}")
    for name in states:
        if name not in EVENTS or name == "diagnosis":
            raise InputError(f"unknown state {name!r}; expected one of {', '.join(EVENTS[1:])}")
    if len(set(states)) != len(states) or origin in states:
        raise InputError(f"states {states} must differ from each other and from the origin {origin!r}")
    if states[-1] not in ABSORBING:
        raise InputError(f"the last state must be absorbing ({' or '.join(ABSORBING)}), got {states[-1]!r}")
    if any(s in ABSORBING for s in states[:-1]):
        raise InputError(f"only the last state may be absorbing, got {states}")
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    return states


def multistate(
    p: pd.DataFrame,
    e: pd.DataFrame,
    origin: str = "diagnosis",
    states: Sequence[str] = ("bone_metastasis", "death"),
    unit: str = "years",
    covariates: Sequence[str] | None = None,
) -> MultiState:
    """Transition rows from ``origin`` through ``states`` (module docstring has the definitions)."""
    states = check_multistate_options(origin, states, unit)
    check_unique_ids(p)
    cov = _covariates(p, covariates, reserved=COLUMNS)

    o = event_dates(p, e, origin)
    fu = p["last_fu_date"]
    d_fu = _days(fu, o)
    d_abs = _days(event_dates(p, e, states[-1]), o)
    d_mid = np.column_stack([_days(event_dates(p, e, s), o) for s in states[:-1]])
    label = origin.replace("_", " ")
    title = f"{' / '.join(states)} from {label} (multi-state)"
    log = ExclusionBuilder(p["patient_id"], title)
    log.exclude(f"no {label} date (origin missing)", o.isna().to_numpy())
    log.exclude("last_fu_date missing", fu.isna().to_numpy())
    log.exclude(f"{states[-1].replace('_', ' ')} at or before {label}", d_abs <= 0)
    log.exclude("zero or negative follow-up (last_fu_date on or before origin)", d_fu <= 0)
    after = (d_abs > d_fu) | (d_mid > d_fu[:, None]).any(axis=1)
    log.exclude("event after last_fu_date (inconsistent dates)", after)
    keep = log.keep
    d_fu, d_abs, d_mid = d_fu[keep], d_abs[keep], d_mid[keep]
    dead = ~np.isnan(d_abs)
    end = np.where(dead, d_abs, d_fu)
    n, m = d_mid.shape

    # initial state: the latest intermediate event on or before the origin (ties: the state named last)
    before = np.where(d_mid <= 0, d_mid, -np.inf)
    order_key = before * (m + 1) + np.arange(m)  # later date first, then later-named state
    latest = np.argmax(np.where(np.isfinite(before), order_key, -np.inf), axis=1)
    first_state = np.where(np.isfinite(before).any(axis=1), latest + 1, 0)
    # transitions strictly inside the follow-up, in date order; same day: the state named last
    inside = (d_mid > 0) & (d_mid < end[:, None])
    day = np.where(inside, d_mid, np.inf)
    code = np.broadcast_to(np.arange(1, m + 1), (n, m))
    order = np.lexsort((-code, day), axis=-1) if m > 1 else np.zeros((n, 1), dtype=np.int64)
    day = np.take_along_axis(day, order, axis=1)
    code = np.take_along_axis(code, order, axis=1)
    if m > 1:  # keep the first of each same-day run (the state named last, sorted first)
        same = np.zeros((n, m), dtype=bool)
        same[:, 1:] = day[:, 1:] == day[:, :-1]
        day = np.where(same, np.inf, day)
        order = np.lexsort((-code, day), axis=-1)
        day, code = np.take_along_axis(day, order, axis=1), np.take_along_axis(code, order, axis=1)
    k = np.isfinite(day).sum(axis=1)
    rows_of = k + 1
    pos = np.repeat(np.arange(n), rows_of)
    j = np.arange(len(pos)) - np.repeat(np.cumsum(rows_of) - rows_of, rows_of)
    bounds = np.column_stack([np.zeros(n), day, np.full(n, np.inf)])
    bounds[np.arange(n), k + 1] = end
    codes = np.column_stack([first_state, code, np.full(n, -1)])
    absorbing_code = m + 1
    codes[np.arange(n), k + 1] = np.where(dead, absorbing_code, -1)
    names = [INITIAL, *states]
    factor = UNITS[unit]
    cat = pd.CategoricalDtype(names)
    data = pd.DataFrame({
        "patient_id": p["patient_id"].to_numpy()[keep][pos],
        "start": bounds[pos, j] / factor,
        "stop": bounds[pos, j + 1] / factor,
        "from_state": pd.Categorical.from_codes(codes[pos, j], dtype=cat),
        "to_state": pd.Categorical.from_codes(codes[pos, j + 1], dtype=cat),
    })
    if cov:
        data = pd.concat([data, p.loc[keep, cov].iloc[pos].reset_index(drop=True)], axis=1, copy=False)
    exclusions = log.log()
    data.attrs["exclusions"] = exclusions
    data.attrs["multistate"] = {"origin": origin, "states": names, "unit": unit, "initial": INITIAL}
    return MultiState(data, exclusions, tuple(names))
