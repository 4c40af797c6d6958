"""Cox models for the transitions of a multi-state model (e.g. free -> bone metastasis, free -> death,
bone metastasis -> death), as R's ``coxph(Surv(tstart, tstop, state) ~ x, id = id, istate = istate)``.

Each transition h -> j is its own Cox model on the rows spent in state h, ``(start, stop]``, with the event
"moved to j at stop" (moves to other states and censoring end follow-up for this transition): the
cause-specific hazards of Andersen & Keiding (2002).  As coxph, every transition has its own coefficients
and baseline hazard (Efron ties), and the standard errors are the robust ones clustered on the subject
(coxph's default when ``id`` is given and subjects have several rows), so they equal coxph's
``sqrt(diag(fit$var))``; ``naive_std_err`` holds the model-based ones.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError
from bmstats._warnings import ConvergenceWarning
from bmstats.estimate._result import ModelResult, frozen_copy
from bmstats.estimate.transitions import transitions

__all__ = ["multistate_cox", "MultiStateCox"]

COLUMNS = ["from_state", "to_state", "coef", "std_err", "hr", "lower", "upper", "statistic", "p_value", "naive_std_err"]


@dataclass(frozen=True, repr=False)
class MultiStateCox(ModelResult):
    """One Cox model per transition.  ``summary`` (index term): from_state, to_state, coef, std_err, hr,
    lower, upper, statistic, p_value, naive_std_err; ``models`` {(from_state, to_state): Cox result};
    ``cov`` is block-diagonal by transition (covariances across transitions are not estimated: NaN)."""

    _models: dict = field(default_factory=dict, repr=False)
    _transitions_table: pd.DataFrame | None = field(default=None, repr=False)

    _title = "Multi-state Cox model (one model per transition)"

    @property
    def models(self) -> dict:
        """{(from_state, to_state): Cox result}; the results are themselves immutable."""
        return dict(self._models)

    @property
    def transitions_table(self) -> pd.DataFrame | None:
        return frozen_copy(self._transitions_table)

    def _notes(self) -> list[str]:
        moves = ", ".join(f"{a} -> {b}: {m.n_events}" for (a, b), m in self.models.items())
        return [f"n = {self.n} subjects; events per transition: {moves}; robust standard errors (cluster = subject)"]

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_forest({f"{a} -> {b}": m for (a, b), m in self.models.items()}, ax=ax, **kw)

    plot.__doc__ = plot_doc("Forest plot of each transition's hazard ratios, side by side", "plot_forest")


def multistate_cox(
    rows: pd.DataFrame,
    formula: str,
    *,
    start: str = "start",
    stop: str = "stop",
    from_state: str = "from_state",
    to_state: str = "to_state",
    id: str = "patient_id",
    initial: Any = "free",
    ties: str = "efron",
    conf_level: float = 0.95,
    dropna: bool = False,
) -> MultiStateCox:
    """Fit a Cox model to every observed transition of a multi-state model.

    Parameters
    ----------
    rows : transition rows, e.g. ``Cohort.multistate(...)``; ``to_state`` missing = censored.
    formula : right-hand side in Wilkinson syntax, the same for every transition.
    start, stop, from_state, to_state, id : their columns.
    initial : the initial state (orders the states).
    ties : "efron" or "breslow".
    conf_level : confidence level of the hazard-ratio limits.
    dropna : drop (and count) rows with missing covariates.

    Returns
    -------
    MultiStateCox with ``.summary`` (from_state, to_state, term, ...), ``.models``.

    References
    ----------
    Andersen PK, Keiding N (2002) Multi-state models for event history analysis. Stat Methods Med Res
    11:91-115.  Putter H, Fiocco M, Geskus RB (2007) Stat Med 26:2389-2430.  R: ``coxph(Surv(tstart, tstop,
    state) ~ x, id = id, istate = istate)``.
    """
    from bmstats.estimate.cox import cox

    tr = transitions(rows, start, stop, from_state, to_state, id, initial)
    states = tr.states
    ordered = rows.loc[tr.index]
    pairs = sorted({(int(a), int(b)) for a, b in zip(tr.from_code, tr.to_code) if b >= 0})
    if not pairs:
        raise InputError(f"column {to_state!r}: no transitions (every row is censored)")
    multi_row = bool((~tr.first).any())
    frames, models, blocks = [], {}, []
    for a, b in pairs:
        in_a = tr.from_code == a
        sub = ordered.loc[in_a].copy()
        sub["_event"] = (tr.to_code[in_a] == b).astype(np.int64)
        try:
            with warnings.catch_warnings(record=True, action="always") as caught:  # re-issued below
                fit = cox(sub, stop, "_event", formula, entry=start, cluster=id if multi_row else None, ties=ties,
                          conf_level=conf_level, dropna=dropna)
        except InputError as exc:
            raise InputError(f"transition {states[a]} -> {states[b]}: {exc}") from None
        for w in caught:  # say which transition a warning is about, keeping its class and converged field
            text = f"transition {states[a]} -> {states[b]}: {w.message}"
            if isinstance(w.message, ConvergenceWarning):
                warnings.warn(type(w.message)(text, converged=w.message.converged), stacklevel=2)
            else:
                warnings.warn(text, w.category, stacklevel=2)
        s = fit.summary
        if "naive_std_err" not in s.columns:
            s["naive_std_err"] = s["std_err"]
        s.insert(0, "from_state", states[a])
        s.insert(1, "to_state", states[b])
        frames.append(s[COLUMNS])
        models[(states[a], states[b])] = fit
        blocks.append(np.asarray(fit.cov, dtype=float))
    summary = pd.concat(frames)
    summary.index.name = "term"
    k = sum(len(x) for x in blocks)
    cov = np.full((k, k), np.nan)
    i = 0
    for blk in blocks:
        cov[i:i + len(blk), i:i + len(blk)] = blk
        i += len(blk)
    labels = [f"{t} ({a} -> {b})" for t, a, b in zip(summary.index, summary["from_state"], summary["to_state"])]
    counts = pd.DataFrame([(states[a], states[b], models[(states[a], states[b])].n_events) for a, b in pairs],
                          columns=["from_state", "to_state", "n_event"])
    converged = all(bool(m.converged) for m in models.values())
    return MultiStateCox(_summary=summary, _cov=pd.DataFrame(cov, index=labels, columns=labels),
                         n=tr.n_subjects, n_events=int((tr.to_code >= 0).sum()), conf_level=float(conf_level),
                         converged=converged, _models=models, _transitions_table=counts)
