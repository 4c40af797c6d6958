"""Kaplan-Meier estimate of the censoring distribution, at left limits, on a grid of distinct times.

Inverse probability of censoring weights (Fine & Gray 1999, JASA 94:496-509, section 2) use
G(t-) = P(C >= t): the Kaplan-Meier estimate of the censoring survivor function with censorings as the
"events" and failures of any cause as censorings, evaluated just before ``t`` (as cmprsk::crr does).
With a censoring group (crr's ``cengroup``), G is estimated separately within each group, and G_g(u-) is
taken as 0 at times u after the group's last observed time (no one of the group left at risk), as crr does:
competing subjects of a group then leave the risk sets of later events (checked against crr on hand-made
data; with one group this never arises).

Everything here works on a grid of distinct sorted times (``grid_index`` gives each subject's position on it),
so it is O(n) after the one sort the caller already made.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CensoringKM", "censoring_km"]


@dataclass(frozen=True)
class CensoringKM:
    """Censoring Kaplan-Meier per group on the time grid.

    ``left[g, k]`` = G_g(u_k-), the product over grid times u_l < u_k of (1 - dNc_g(u_l) / Y_g(u_l)), and 0
    where Y_g(u_k) = 0;
    ``at_risk[g, k]`` = Y_g(u_k), the number in group g with time >= u_k; ``censored[g, k]`` = dNc_g(u_k).
    """

    left: np.ndarray
    at_risk: np.ndarray
    censored: np.ndarray

    @property
    def n_groups(self) -> int:
        return self.left.shape[0]


def censoring_km(grid_index: np.ndarray, censored: np.ndarray, group: np.ndarray, n_groups: int, m: int) -> CensoringKM:
    """G_g(u-) on the ``m``-point grid from each subject's grid position, censoring flag and group code."""
    left = np.empty((n_groups, m))
    at_risk = np.empty((n_groups, m))
    cens = np.empty((n_groups, m))
    for g in range(n_groups):
        in_g = group == g
        count = np.bincount(grid_index[in_g], minlength=m).astype(float)
        dnc = np.bincount(grid_index[in_g & censored], minlength=m).astype(float)
        y = np.cumsum(count[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(y > 0, dnc / y, 0.0)
        surv = np.cumprod(1.0 - hazard)
        left[g, 0] = 1.0
        left[g, 1:] = surv[:-1]
        left[g, y == 0] = 0.0  # after the group's last observed time
        at_risk[g] = y
        cens[g] = dnc
    return CensoringKM(left, at_risk, cens)
