"""First distant metastasis, its pattern, progression between bone and visceral disease, and death.

States after diagnosis: no distant metastasis (stage I-III) -> first distant metastasis at a hazard
``h_s(t) * exp(x'beta)`` (piecewise constant in years since diagnosis, one shape per subtype) with pattern
bone only (B), bone and visceral together (BV) or visceral only (V).  Then B -> visceral at
``progression.bone_to_visceral``, V -> bone at ``progression.visceral_to_bone``; breast-cancer death at
``cancer_death.bone_only`` in B and ``cancer_death.visceral`` once visceral disease is present (V, BV).
Other-cause death competes throughout.  De novo stage IV starts in B, BV or V at diagnosis.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .parameters import SUBTYPES
from .survival import cancer_death_ratio, other_cause_time

BONE_ONLY, BONE_AND_VISCERAL, VISCERAL_ONLY = 0, 1, 2


def metastasis_multiplier(
    p: dict[str, Any], node_class: np.ndarray, grade3: np.ndarray, size_gt_50: np.ndarray, age_lt_40: np.ndarray
) -> np.ndarray:
    """exp(x'beta): the hazard ratio of first distant metastasis vs N0, grade 1-2, <= 50 mm, age >= 40."""
    e = p["effects"]
    node_hr = np.array([1.0, e["nodes_1_3"], e["nodes_4plus"]])[node_class]
    return (
        node_hr
        * np.where(grade3, e["grade_3"], 1.0)
        * np.where(size_gt_50, e["size_gt_50"], 1.0)
        * np.where(age_lt_40, e["age_lt_40"], 1.0)
    )


def pattern_probabilities(p: dict[str, Any], subtype_index: np.ndarray, lobular: np.ndarray) -> np.ndarray:
    """P(bone only, bone and visceral, visceral only) at first distant metastasis, rows per patient.

    Lobular histology multiplies the odds of bone involvement by ``effects.lobular_bone_odds``; the split of
    bone involvement into B and BV keeps the subtype's ratio.
    """
    base = np.array([p["first_met_pattern"][k] for k in SUBTYPES], dtype=float)[subtype_index]
    bone = base[:, 0] + base[:, 1]
    odds = bone / np.maximum(1.0 - bone, 1e-300) * np.where(lobular, p["effects"]["lobular_bone_odds"], 1.0)
    new_bone = np.where(bone >= 1.0, 1.0, odds / (1.0 + odds))
    share_b = np.divide(base[:, 0], bone, out=np.zeros_like(bone), where=bone > 0)
    return np.column_stack([new_bone * share_b, new_bone * (1 - share_b), 1.0 - new_bone])


def piecewise_cumhaz(breaks: np.ndarray, rates: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Cumulative hazard at ``t`` of a piecewise-constant hazard (``rates[i]`` on [breaks[i], breaks[i+1]))."""
    breaks = np.asarray(breaks, dtype=float)
    rates = np.asarray(rates, dtype=float)
    at_breaks = np.concatenate([[0.0], np.cumsum(np.diff(breaks) * rates[:-1])])
    i = np.searchsorted(breaks, t, side="right") - 1
    return at_breaks[i] + rates[i] * (t - breaks[i])


def piecewise_inverse(breaks: np.ndarray, rates: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Time at which the piecewise-constant cumulative hazard reaches ``h`` (inf if never)."""
    breaks = np.asarray(breaks, dtype=float)
    rates = np.asarray(rates, dtype=float)
    at_breaks = np.concatenate([[0.0], np.cumsum(np.diff(breaks) * rates[:-1])])
    i = np.searchsorted(at_breaks, h, side="right") - 1
    # zero-rate pieces are never entered except the last, where the time is infinite
    with np.errstate(divide="ignore", invalid="ignore"):
        t = breaks[i] + (h - at_breaks[i]) / rates[i]
    return np.where(np.isnan(t), np.inf, t)


def draw_course(rng: np.random.Generator, cov: dict[str, np.ndarray], p: dict[str, Any]) -> dict[str, np.ndarray]:
    """Years from diagnosis to first bone metastasis, first visceral metastasis and death (inf: never).

    Times are latent (not yet censored); ``bc_death`` says whether death was from breast cancer.
    """
    n = len(cov["age"])
    s = cov["subtype_index"]
    iv = cov["stage_iv"]
    t_other = other_cause_time(p, cov["age"], rng.standard_exponential(n))

    # first distant metastasis after stage I-III
    mult = metastasis_multiplier(p, cov["node_class"], cov["grade"] == 3, cov["size_class"] == 2, cov["age"] < 40)
    e_met = rng.standard_exponential(n) / mult
    t_met = np.full(n, np.inf)
    breaks = p["metastasis_hazard"]["breaks"]
    for k, name in enumerate(SUBTYPES):
        idx = (s == k) & ~iv
        t_met[idx] = piecewise_inverse(breaks, p["metastasis_hazard"][name], e_met[idx])
    t_met[iv] = 0.0

    # pattern: drawn for everyone (fixed number of draws keeps streams aligned), used where a metastasis occurs
    u_pat = rng.random(n)
    cum = np.cumsum(pattern_probabilities(p, s, cov["lobular"]), axis=1)
    pattern = (u_pat[:, None] >= cum[:, :2]).sum(axis=1)
    bone_iv = np.array([p["bone_at_stage_iv"][k] for k in SUBTYPES])[s]
    only = p["bone_only_at_stage_iv"]
    pattern_iv = np.where(u_pat < bone_iv * only, BONE_ONLY,
                          np.where(u_pat < bone_iv, BONE_AND_VISCERAL, VISCERAL_ONLY))
    pattern = np.where(iv, pattern_iv, pattern)

    ratio = cancer_death_ratio(p, s, iv)
    cd, pr = p["cancer_death"], p["progression"]
    e1, e2, e3 = rng.standard_exponential((3, n))
    with np.errstate(divide="ignore"):
        # B: progression to visceral vs cancer death in B; then cancer death at the visceral rate
        to_visc = e1 / pr["bone_to_visceral"]
        death_b = e2 / (cd["bone_only"] * ratio)
        death_v = e3 / (cd["visceral"] * ratio)
        to_bone = e1 / pr["visceral_to_bone"]
    b_prog = to_visc < death_b
    t_bm = np.where(pattern == VISCERAL_ONLY, np.where(to_bone < death_v, t_met + to_bone, np.inf), t_met)
    t_visc = np.where(pattern == BONE_ONLY, np.where(b_prog, t_met + to_visc, np.inf), t_met)
    t_bc = np.where(pattern == BONE_ONLY, t_met + np.where(b_prog, to_visc + death_v, death_b), t_met + death_v)

    bc_death = t_bc < t_other
    t_death = np.minimum(t_bc, t_other)
    t_met = np.where(t_met < t_death, t_met, np.inf)
    return {
        "t_met": t_met,
        "t_bm": np.where(t_bm < t_death, t_bm, np.inf),
        "t_visc": np.where(t_visc < t_death, t_visc, np.inf),
        "t_death": t_death,
        "bc_death": bc_death,
        "pattern": pattern,
    }
