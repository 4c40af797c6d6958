"""Monotone likelihood: effects that the data cannot estimate, found from the data, not from the size of a
coefficient.

In a Cox or Fine-Gray model the (pseudo) log likelihood has no finite maximum along a direction ``d`` of the
coefficients when, at every event time, the subjects with the event have the largest ``x'd`` among those at
risk (Bryson & Johnson 1981; Heinze & Schemper 2001): a covariate level with no events of the cause, or a
covariate that orders the events perfectly. Along such a direction the log likelihood never decreases, it
rises towards a finite supremum, so the fitted coefficient only says where Newton-Raphson stopped.

The check is the profile of the likelihood along candidate directions, measured in units of the linear
predictor so that it does not depend on the covariate's unit: a direction is monotone when moving the
linear predictor by :data:`REACH` units along it does not lower the log likelihood. Candidate directions are
each coefficient alone and, for effects shared by several columns (a reference level without events makes
every other level's coefficient diverge together), the eigenvector of the smallest eigenvalue of the
unit-free information matrix. A finite maximum, however large its coefficient (age in thousands of years),
loses many log-likelihood units this far from the estimate and is never flagged.

Most directions need no evaluation at all. Along a line b + s d the log likelihood's second derivative h(s)
is minus a sum, over event times (and Efron's tie steps), of variances of x'd under non-negative weights
proportional to exp(s x'd); its derivative is the third central moment, at most R times the variance, R the
range of x'd over the rows. So |h(s)| >= |h(0)| exp(-R s) (Gronwall), and integrating twice,

    loglik(b + s d) <= loglik(b) + s u'd - (d' I d) (R s - 1 + exp(-R s)) / R^2,

with u the score and I the information at b. When that bound lies below loglik(b) by more than ten times
the tolerance, the profile could not flag the direction, and its point is not evaluated: the answer is the
profile's, proven rather than computed. Only the directions this cannot settle (a flat information, as at
a diverging effect) cost an evaluation, so a well-determined fit on an engine pays no pass over the rows.

References
----------
Bryson MC, Johnson ME (1981). The incidence of monotone likelihood in the Cox model. Technometrics 23:381-383.
Heinze G, Schemper M (2001). A solution to the problem of monotone likelihood in Cox regression.
Biometrics 57:114-119.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["carried_columns", "monotone_columns"]

REACH = 50.0  # units of the linear predictor: exp(50) separates any finite maximum from a supremum at infinity
_LOSS_TOL = 1e-7  # relative loss in log likelihood still counted as "not lower" (rounding of the sums)
_MARGIN = 10.0  # a certain loss this many tolerances deep settles a direction (rounding of the sums aside)
_CARRIED_TOL = 1e-4  # relative change of a term's information that still depends on the diverging effect
_SHARE = 0.05  # columns carrying less of a direction than this (in linear-predictor units) are not part of it


def monotone_columns(
    loglik: Callable[[np.ndarray], float],
    beta: np.ndarray,
    information: np.ndarray,
    spread: np.ndarray,
    loglik_many: Callable[[list[np.ndarray]], np.ndarray] | None = None,
    score: np.ndarray | None = None,
    value: float | None = None,
) -> list[int]:
    """Indices of the coefficients along which the log likelihood is monotone (not estimable).

    ``loglik(beta)``: the log (pseudo) likelihood; ``beta``: where the fit stopped; ``information``: the
    information matrix there; ``spread``: each column's range over the data (so that a step of 1 in
    ``d * spread`` moves the linear predictor by at most one unit).  ``loglik_many(betas)``, if given,
    evaluates the log likelihood at several points at once (an engine does them in one pass over the rows);
    every candidate point is known in advance, so they are all evaluated together.  ``score`` and ``value``
    (the score and the log likelihood at ``beta``), if given, settle the directions whose loss the
    curvature bound of the module docstring guarantees; only the others are evaluated.
    """
    beta = np.asarray(beta, dtype=float)
    p = len(beta)
    spread = _unit_spread(spread)
    directions: list[tuple[np.ndarray, list[int]]] = []  # (direction in lp units, columns it flags)
    for j in range(p):
        unit = np.zeros(p)
        unit[j] = 1.0
        directions += [(unit, [j]), (-unit, [j])]
    if p > 1:
        # a direction shared by several columns: the flattest direction of the unit-free information
        scaled = information * np.outer(spread, spread)
        try:
            values, vectors = np.linalg.eigh(scaled)
        except np.linalg.LinAlgError:
            values, vectors = np.array([]), np.empty((p, 0))
        if len(values):
            v = vectors[:, 0] / np.abs(vectors[:, 0]).max()
            v[np.abs(v) < _SHARE] = 0.0
            shared = [int(j) for j in np.flatnonzero(v)]
            directions += [(v, shared), (-v, shared)]
    far_points = [beta + REACH * d / np.abs(d).max() / spread for d, _ in directions]
    if score is not None and value is not None and np.isfinite(value):
        tol = _LOSS_TOL * max(1.0, abs(value))
        open_ = [k for k, x in enumerate(far_points)
                 if not _certain_loss(x - beta, information, score, spread) > _MARGIN * tol]
        if not open_:
            return []
        directions = [directions[k] for k in open_]
        far_points = [far_points[k] for k in open_]
    points = [beta] + far_points
    with np.errstate(all="ignore"):  # far out, risk-set sums may underflow: a NaN is "falls", not an error
        values = np.asarray(loglik_many(points) if loglik_many is not None else [loglik(x) for x in points],
                            dtype=float)
    base = values[0]
    if not np.isfinite(base):
        return []
    tol = _LOSS_TOL * max(1.0, abs(base))
    flagged: set[int] = set()
    for (_, columns), far in zip(directions, values[1:]):
        if np.isfinite(far) and far >= base - tol:  # the log likelihood does not fall REACH units out
            flagged.update(columns)
    return sorted(flagged)


def _certain_loss(step: np.ndarray, information: np.ndarray, score: np.ndarray, spread: np.ndarray) -> float:
    """A lower bound of loglik(b) - loglik(b + step) (module docstring): (step' I step) phi(R)/R^2 - |u'step|,
    phi(R) = R - 1 + exp(-R), R = sum_j |step_j| spread_j bounding the range of x'step over the rows (a
    larger R only lowers the bound).  Not finite or not positive: nothing is certain."""
    with np.errstate(all="ignore"):
        curvature = float(step @ information @ step)
        R = float(np.abs(step) @ spread)
        if not (np.isfinite(curvature) and curvature > 0 and np.isfinite(R) and R > 0):
            return -np.inf
        bound = curvature * (R - 1 + np.exp(-R)) / (R * R) - abs(float(np.asarray(score, dtype=float) @ step))
    return bound if np.isfinite(bound) else -np.inf


def carried_columns(evaluate: Callable, beta: np.ndarray, information: np.ndarray, spread: np.ndarray,
                    diverging) -> list[int]:
    """The other coefficients whose information still changes when the ``diverging`` ones go further out.

    With a level without events, the level's rows already weigh nothing where the fit stopped, and the other
    coefficients have their limiting estimates (their information does not move).  When the diverging
    effect orders the events, each event's risk set shrinks to the event itself as it diverges, and the
    others' information goes with it: their estimates depend on where Newton-Raphson stopped.  The check
    moves the diverging coefficients a further REACH units of the linear predictor out (each by the sign it
    ran off with) and compares the information of the other terms there; ``evaluate(beta) -> (loglik,
    score, information)``."""
    keep = [j for j in range(len(beta)) if j not in set(diverging)]
    if not keep:
        return []
    spread = _unit_spread(spread)
    far = np.array(beta, dtype=float, copy=True)
    for j in diverging:
        far[j] += np.sign(beta[j] or 1.0) * REACH / spread[j]
    far_information = evaluate(far)[2]
    here = np.diag(information)[keep]
    there = np.diag(far_information)[keep] if far_information is not None else np.full(len(keep), np.nan)
    with np.errstate(all="ignore"):
        moved = ~np.isfinite(there) | ~(np.abs(there - here) <= _CARRIED_TOL * np.abs(here))
    return [j for j, m in zip(keep, moved) if m]


def _unit_spread(spread: np.ndarray) -> np.ndarray:
    """Each column's range, 1 for a constant column (a step along it moves no linear predictor)."""
    return np.where(np.asarray(spread, dtype=float) > 0, spread, 1.0)
