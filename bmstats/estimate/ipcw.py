"""Inverse probability of censoring weights from the Kaplan-Meier of the censoring times, and their influence.

Weights as ``riskRegression::Score(..., cens.model = "km")`` and ``survival::concordance(timewt = "n/G2")``:
``G`` is the Kaplan-Meier of the censoring distribution in which, at a tied time, the events leave first
(the censorings at u are out of ``n(u) - d(u)``); a subject observed at ``T_i`` with an event is weighted
``1 / G(T_i-)``, a subject still followed at the horizon ``t`` ``1 / G(t)``.

An estimator ``(1/n) sum_j R_j`` whose terms carry such weights has, besides ``R_i - mean``, an influence
from the estimated ``G`` (Gerds & Schumacher 2006; Blanche et al. 2013):
``C_i = (1 - delta_i) A(T_i) / Y(T_i) - sum_{u <= T_i} dN^c(u) A(u) / Y(u)^2`` with
``A(u) = sum_j R_j I(u inside the window of j's weight)`` and ``Y(u) = #{T >= u}`` -- the counting-process
form that riskRegression's standard errors use (checked against them to 1e-7).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["CensoringWeights"]


@dataclass(frozen=True)
class CensoringWeights:
    """The censoring Kaplan-Meier on the grid of distinct observed times of one sample."""

    time: np.ndarray  # per subject
    censored: np.ndarray  # per subject, bool
    grid: np.ndarray  # distinct times, sorted
    index: np.ndarray  # per subject: position of its time on the grid
    at_risk: np.ndarray  # Y(u) = #{T >= u}
    n_censored: np.ndarray  # dN^c(u)
    G: np.ndarray  # G(u), right-continuous, on the grid

    @classmethod
    def fit(cls, time: np.ndarray, censored: np.ndarray) -> CensoringWeights:
        grid, index = np.unique(time, return_inverse=True)
        m = len(grid)
        at_risk = np.cumsum(np.bincount(index, minlength=m)[::-1])[::-1].astype(float)
        n_c = np.bincount(index, censored.astype(float), minlength=m)
        n_d = np.bincount(index, (~censored).astype(float), minlength=m)
        with np.errstate(invalid="ignore", divide="ignore"):
            G = np.cumprod(np.where(n_c > 0, 1 - n_c / (at_risk - n_d), 1.0))
        return cls(time, censored.astype(bool), grid, index, at_risk, n_c, G)

    def left(self, at: np.ndarray) -> np.ndarray:
        """G(at-)."""
        return np.concatenate([[1.0], self.G])[np.searchsorted(self.grid, at, side="left")]

    def right(self, at) -> np.ndarray:
        """G(at)."""
        return np.concatenate([[1.0], self.G])[np.searchsorted(self.grid, at, side="right")]

    def subject_left(self) -> np.ndarray:
        """G(T_i-) for every subject."""
        return np.concatenate([[1.0], self.G])[self.index]

    def influence(self, R: np.ndarray, at_own_time: np.ndarray, horizon: float) -> np.ndarray:
        """The term ``C_i`` of the influence function of ``(1/n) sum_j R_j`` that comes from estimating G.

        ``R_j`` carries the weight ``1/G(T_j-)`` where ``at_own_time`` is true and ``1/G(horizon)`` elsewhere
        (rows whose R is 0 may have either).
        """
        m = len(self.grid)
        own = np.bincount(self.index, np.where(at_own_time, R, 0.0), minlength=m)
        later = np.concatenate([np.cumsum(own[::-1])[::-1][1:], [0.0]])  # sum over T_j > u
        A = later + np.where(self.grid <= horizon, R[~at_own_time].sum(), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = np.where(self.n_censored > 0, self.n_censored * A / self.at_risk**2, 0.0)
        H = np.cumsum(h)
        # per subject the term depends only on its grid time and whether it is censored: one gather from a table
        return np.concatenate([0.0 - H, A / self.at_risk - H])[self._cell]

    @functools.cached_property
    def _cell(self) -> np.ndarray:
        """Per subject: its grid position, offset by the grid's length when censored."""
        return self.index + len(self.grid) * self.censored
