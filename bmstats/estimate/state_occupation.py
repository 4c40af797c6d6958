"""Probability of being in each state of a multi-state model (e.g. free, bone metastasis, dead) over time.

Aalen-Johansen (1978) estimator ``p(t) = p(0) prod_{s <= t} (I + dA(s))`` with ``dA_hj(s) = dN_hj(s) / Y_h(s)``
(transitions h -> j at s over the number in state h just before s) and ``p(0)`` the distribution of the
initial states of the subjects at risk at the first start time, as R's ``survfit(Surv(tstart, tstop, state)
~ 1, id = id, istate = istate)`` (its ``pstate``).

Standard errors are R's: the infinitesimal jackknife, ``Var p(t) = sum_i U_i(t)^2`` with the influence of
subject i following the product integral, ``U_i(t) = U_i(t-) (I + dA(t)) + p(t-) dA_i(t)``,
``dA_i(t)_h. = (dN_i,h.(t) - Y_ih(t) dA_h.(t)) / Y_h(t)`` and ``U_i(0) = (e_{state_i} - p(0)) / n_0``
(Therneau, the survival package's "Multi-state models and competing risks" vignette and its
methods document).  The influence of every subject at every time is never formed: subjects in state h
share the term ``-p_h dA_h. / Y_h``, so ``U_i(t) = z_i(t) + G_h(t)`` with ``G_h`` one recursion per state and
``z_i`` changing only by ``(I + dA)``; the sums of ``z z'`` and ``z`` per state and of ``U U'`` of the subjects
who left follow a matrix recursion over the K distinct times, and each subject's ``z`` is carried from
entry to exit by products of ``(I + dA)`` over time ranges looked up in a doubling table (O(n log K)).
Cost O(n log K + K S^3) instead of R's O(n K S).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, handle_missing, require_columns, require_frame
from bmstats.estimate._result import CurveResult, conf_type_option
from bmstats.estimate.limits import probability_limits
from bmstats.estimate.transitions import Transitions, transitions

__all__ = ["state_occupation", "StateOccupation"]



@dataclass(frozen=True, repr=False)
class StateOccupation(CurveResult):
    """``table``: [group], state, time, n_risk (in that state just before the time), n_event (transitions
    into it), estimate (probability of being in the state), std_err, lower, upper."""

    states: tuple = ()
    initial: Any = "free"
    _p0: Mapping = field(default_factory=dict, repr=False)
    conf_type: str = "log-log"

    _title = "State occupation probabilities (Aalen-Johansen)"
    _keys = ("group", "state")

    def _start_value(self, key) -> float:
        return float(self._p0.get((key.get("group"), key["state"]), 0.0))

    def _notes(self) -> list[str]:
        return [f"n = {self.n} subjects, transitions = {self.n_events}; states: "
                f"{', '.join(map(str, self.states))}; infinitesimal-jackknife standard errors; "
                f"{self.conf_level:.0%} CI ({self.conf_type})"]

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_state_occupation(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The state occupation probabilities, stacked", "plot_state_occupation")


def state_occupation(
    rows: pd.DataFrame,
    *,
    start: str = "start",
    stop: str = "stop",
    from_state: str = "from_state",
    to_state: str = "to_state",
    id: str = "patient_id",
    initial: Any = "free",
    by: str | None = None,
    conf_type: str = "log-log",
    conf_level: float = 0.95,
) -> StateOccupation:
    """Aalen-Johansen probabilities of being in each state, with R's standard errors.

    Parameters
    ----------
    rows : transition rows (one per subject and state visited), e.g. ``Cohort.multistate(...)``.
    start, stop, from_state, to_state, id : their columns; ``to_state`` missing = censored.
    initial : the initial state (listed first); every subject's first row may start in any state.
    by : optional column constant within subject; one set of curves per group.
    conf_type : limits for the probabilities (:func:`bmstats.estimate.limits.probability_limits`), "log-log"
        (the package's default for probabilities, as ``kaplan_meier`` and ``cumulative_incidence``), "log"
        (R's ``survfit`` default: p exp(-+ z se / p), capped at 1) or "plain".
    conf_level : confidence level.

    Returns
    -------
    StateOccupation: ``.table`` at every distinct stop time, ``.at(times)``, ``.plot()`` (stacked).

    References
    ----------
    Aalen OO, Johansen S (1978) Scand J Statist 5:141-150.  Therneau T, Crowson C, Atkinson E. Multi-state
    models and competing risks (vignette of R's survival).  R: ``survfit(Surv(tstart, tstop, state) ~ 1,
    id = id, istate = istate)``.
    """
    require_frame(rows)
    conf_type_option(conf_type)
    if not (isinstance(conf_level, (int, float)) and 0 < conf_level < 1):
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    require_columns(rows, [by])
    if by is not None:
        handle_missing(rows, [by], dropna=False)
        groups = list(rows.groupby(by, sort=True, observed=True))
        varying = rows.groupby(id, observed=True)[by].nunique()
        if (varying > 1).any():
            shown = ", ".join(map(str, varying.index[varying > 1][:10]))
            raise InputError(f"column {by!r} changes within subject(s) {shown}; groups must be constant per subject")
    else:
        groups = [(None, rows)]
    all_tr = transitions(rows, start, stop, from_state, to_state, id, initial)
    states = all_tr.states
    frames, p0s = [], {}
    n_events = 0
    for g, sub in groups:
        tr = transitions(sub, start, stop, from_state, to_state, id, initial) if by is not None else all_tr
        codes = np.array([states.index(s) for s in tr.states])  # a group's states into the common order
        tr = Transitions(tr.ids, tr.id_values, tr.start, tr.stop, codes[tr.from_code],
                         np.where(tr.to_code >= 0, codes[np.maximum(tr.to_code, 0)], -1),
                         states, tr.index, tr.first, tr.last)
        table, p0 = _estimate(tr, len(states))
        n_events += int((tr.to_code >= 0).sum())
        table = _tidy(table, states, conf_type, conf_level)
        if by is not None:
            table.insert(0, "group", g[0] if isinstance(g, tuple) else g)
        for s, v in zip(states, p0):
            p0s[(g[0] if isinstance(g, tuple) else g, s)] = float(v)
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    return StateOccupation(_table=table, n=all_tr.n_subjects, n_events=n_events, conf_level=float(conf_level),
                           states=states, initial=initial, _p0=p0s, conf_type=conf_type)


def _tidy(t: dict, states: tuple, conf_type: str, conf_level: float) -> pd.DataFrame:
    K, S = t["p"].shape
    p, se = t["p"], t["se"]
    lower, upper = probability_limits(p, se, conf_type, conf_level)
    zero = p == 0
    lower, upper = np.where(zero, 0.0, lower), np.where(zero, 0.0, upper)
    return pd.DataFrame({
        "state": pd.Categorical(np.tile(np.array(states, dtype=object), K), categories=list(states)),
        "time": np.repeat(t["times"], S),
        "n_risk": t["n_risk"].ravel().astype(np.int64),
        "n_event": t["n_event"].ravel().astype(np.int64),
        "estimate": p.ravel(),
        "std_err": se.ravel(),
        "lower": lower.ravel(),
        "upper": upper.ravel(),
    }).sort_values(["state", "time"], kind="stable").reset_index(drop=True)


def _bincount_mat(key: np.ndarray, values: np.ndarray, length: int) -> np.ndarray:
    """sum of ``values`` (m, ...) rows by ``key`` into (length, ...)."""
    flat = values.reshape(len(values), -1)
    out = np.empty((length, flat.shape[1]))
    for c in range(flat.shape[1]):
        out[:, c] = np.bincount(key, flat[:, c], minlength=length)
    return out.reshape((length, *values.shape[1:]))


def _estimate(tr: Transitions, S: int) -> tuple[dict, np.ndarray]:
    """pstate and its infinitesimal-jackknife std.err at every distinct stop time (module docstring)."""
    times = np.unique(tr.stop)
    K = len(times)
    kA = np.searchsorted(times, tr.start, side="right")  # first time index at which the row is at risk
    kB = np.searchsorted(times, tr.stop, side="left")  # index of its stop time
    h = tr.from_code
    to = tr.to_code
    moved = to >= 0
    # number at risk in each state and transitions at each time
    change = np.bincount(kA * S + h, minlength=(K + 1) * S) - np.bincount((kB + 1) * S + h, minlength=(K + 1) * S)
    Y = np.cumsum(change.reshape(K + 1, S), axis=0)[:K]
    dN = np.bincount((kB[moved] * S + h[moved]) * S + to[moved], minlength=K * S * S).reshape(K, S, S).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dA = np.where(Y[:, :, None] > 0, dN / Y[:, :, None], 0.0)
    idx = np.arange(S)
    dA[:, idx, idx] = -dA.sum(axis=2)
    M = dA + np.eye(S)

    # initial distribution: the states of those at risk at the first transition time (as survfit)
    t_first = tr.stop[moved].min() if moved.any() else times[0]
    in_p0 = (tr.start < t_first) & (tr.stop >= t_first)
    n0 = int(in_p0.sum())
    p0 = np.bincount(h[in_p0], minlength=S) / n0

    # p(t) and G_h(t) (the shared part of the influence of those in state h)
    p = np.empty((K, S))
    G = np.empty((K, S, S))
    prev_p, prev_G = p0, np.zeros((S, S))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(Y > 0, 1.0 / Y, 0.0)  # 1 / Y_h(t)
    for k in range(K):
        c = -(prev_p * share[k])[:, None] * dA[k]
        prev_G = prev_G @ M[k] + c
        prev_p = prev_p @ M[k]
        p[k], G[k] = prev_p, prev_G
    p_before = np.vstack([p0, p[:-1]]) if K else p0[None]
    G_at_entry = np.concatenate([np.zeros((1, S, S)), G], axis=0)  # G after the times <= start

    # each subject's influence, row by row (rows of a subject chain, so round q needs round q - 1)
    table = _doubling_table(M)
    rank = np.arange(len(h)) - np.flatnonzero(tr.first)[np.cumsum(tr.first) - 1]
    eye = np.eye(S)
    U_in = np.zeros((len(h), S))
    # survfit's std.err (without influence=TRUE) treats p(0) as known: U_i(0) = 0
    z_in = np.empty((len(h), S))
    z_out = np.empty((len(h), S))
    U_out = np.empty((len(h), S))
    for q in range(int(rank.max()) + 1):
        r = np.flatnonzero(rank == q)
        if q:
            U_in[r] = U_out[r - 1]
        z_in[r] = U_in[r] - G_at_entry[kA[r], h[r]]
        z_out[r] = 0.0
        live = r[np.any(z_in[r] != 0, axis=1)]  # z = 0 stays 0: rows from the start carry no influence yet
        z_out[live] = _propagate(z_in[live], kA[live], kB[live], table)
        U_out[r] = z_out[r] + G[kB[r], h[r]]
        mv = r[moved[r]]
        jump = p_before[kB[mv], h[mv]] * share[kB[mv], h[mv]]
        U_out[mv] += jump[:, None] * (eye[to[mv]] - eye[h[mv]])

    # sums over subjects of the second moments, by time
    entry_key = kA * S + h  # entering state h after time kA - 1
    exit_key = kB * S + h
    E2 = _bincount_mat(entry_key, z_in[:, :, None] * z_in[:, None, :], (K + 1) * S).reshape(K + 1, S, S, S)
    E1 = _bincount_mat(entry_key, z_in, (K + 1) * S).reshape(K + 1, S, S)
    En = np.bincount(entry_key, minlength=(K + 1) * S).reshape(K + 1, S)
    X2 = _bincount_mat(exit_key, z_out[:, :, None] * z_out[:, None, :], K * S).reshape(K, S, S, S)
    X1 = _bincount_mat(exit_key, z_out, K * S).reshape(K, S, S)
    Xn = np.bincount(exit_key, minlength=K * S).reshape(K, S)
    fin = tr.last
    F2 = _bincount_mat(kB[fin], U_out[fin, :, None] * U_out[fin, None, :], K)
    Z, L, n, F = E2[0].copy(), E1[0].copy(), En[0].astype(float), np.zeros((S, S))
    Vs = np.empty((K, S, S))
    for k in range(K):
        Mk = M[k]
        Z = Mk.T @ Z @ Mk - X2[k]
        L = L @ Mk - X1[k]
        n = n - Xn[k]
        F = Mk.T @ F @ Mk + F2[k]
        # rows starting at t_k (after a transition at t_k, or entering late with U = 0) count at t_k
        Z = Z + E2[k + 1]
        L = L + E1[k + 1]
        n = n + En[k + 1]
        Gk = G[k]
        LG = L.T @ Gk
        V = F + Z.sum(axis=0) + LG + LG.T + Gk.T @ (n[:, None] * Gk)
        Vs[k] = V
    var = Vs[:, np.arange(S), np.arange(S)]
    n_event = np.zeros((K, S))
    np.add.at(n_event, (kB[moved], to[moved]), 1)
    return {"times": times, "p": p, "se": np.sqrt(np.maximum(var, 0.0)), "n_risk": Y, "n_event": n_event}, p0


def _doubling_table(M: np.ndarray) -> list[np.ndarray]:
    """T[j][k] = M[k] @ M[k+1] @ ... @ M[k + 2^j - 1] (identity past the end)."""
    K, S, _ = M.shape
    tables = [M]
    span = 1
    while span * 2 <= K:
        prev = tables[-1]
        nxt = np.broadcast_to(np.eye(S), (K, S, S)).copy()
        nxt[:K - span] = prev[:K - span] @ prev[span:]
        tables.append(nxt)
        span *= 2
    return tables


def _propagate(z: np.ndarray, k_from: np.ndarray, k_to: np.ndarray, tables: list[np.ndarray]) -> np.ndarray:
    """z @ M[k_from] @ ... @ M[k_to] for each row (an empty product when k_to < k_from)."""
    z = z.copy()
    length = k_to - k_from + 1
    cur = k_from.copy()
    for j, T in enumerate(tables):
        use = np.flatnonzero((length >> j) & 1)
        if len(use):
            z[use] = np.einsum("ms,mst->mt", z[use], T[cur[use]])
            cur[use] += 1 << j
    return z
