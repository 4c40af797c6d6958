"""The true marginal quantities the parameters imply, by numerical integration of the model's hazards.

Nothing here simulates.  The covariates that enter the hazards (subtype, integer age, size class, node
class, grade 3, lobular histology) have a discrete joint law (see :mod:`.covariates`), so the population is
a finite mixture of strata.  In each stratum the cumulative incidence of the first bone metastasis (BM)
among patients without BM at diagnosis, with death competing, is

    F(t) = p_bone * int_0^t dG(u) S_oc(u)  +  lambda_VB * int_0^t S_oc(w) A(w) dw,
    A(w) = A(0) e^{-kappa w} + p_V * int_0^w e^{-kappa (w-u)} dG(u),

where G(u) = 1 - exp(-m H_s(u)) is the distribution of the first distant metastasis without other-cause
death (piecewise-constant hazard, exact on the grid), S_oc the Gompertz other-cause survival from the
stratum's age, p_bone / p_V the pattern probabilities, A the probability (without other-cause death) of
being alive with visceral-only disease, kappa = lambda_VB + mu_V * ratio its exit rate, and A(0) = 1 for de
novo stage IV with visceral-only disease.  The integrals use a grid of ``STEP`` years (trapezoid rule on the
smooth parts; the jumps of the hazard fall on grid points and the increments of G are exact), which is
accurate to about 1e-6 in F.  The marginal curves are the strata averaged with their exact weights.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np

from .covariates import (
    AGES,
    age_probabilities,
    grade3_probability,
    lobular_probability,
    node_class_probabilities,
    size_class_probabilities,
)
from .metastasis import metastasis_multiplier, pattern_probabilities, piecewise_cumhaz
from .parameters import NODE_CLASSES, SUBTYPES, to_jsonable
from .survival import cancer_death_ratio, other_cause_cumhaz

STEP = 1.0 / 200.0
HORIZON = 15.0
REPORT_TIMES = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 15.0)


def _strata(p: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every stratum of patients without BM at diagnosis with its probability and its hazard inputs."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("s", "age", "size", "node", "g3", "lob", "iv", "w")}
    n_age = len(AGES)
    for k, name in enumerate(SUBTYPES):
        ps = p["subtype_mix"][name]
        pa = age_probabilities(p, name)
        piv = p["stage_iv"][name]
        # stage I-III: age x size class x node class x grade 3 x lobular
        size_p = size_class_probabilities(p["tumor_size"]["median_mm"][name], p["tumor_size"]["sdlog"])
        g3 = grade3_probability(p, name)
        lob = lobular_probability(p, name)
        grid = np.stack(np.meshgrid(np.arange(n_age), [0, 1, 2], [0, 1, 2], [0, 1], [0, 1], indexing="ij"), -1)
        grid = grid.reshape(-1, 5)
        node_p = np.array([node_class_probabilities(p, r) for r in ("<=20", "21-50", ">50")])
        w = (
            ps * (1 - piv) * pa[grid[:, 0]] * size_p[grid[:, 1]] * node_p[grid[:, 1], grid[:, 2]]
            * np.where(grid[:, 3] == 1, g3, 1 - g3) * np.where(grid[:, 4] == 1, lob, 1 - lob)
        )
        _add(cols, k, grid, w, iv=False)
        # de novo stage IV with visceral-only disease (no BM at diagnosis): age x node class
        grid_iv = np.stack(np.meshgrid(np.arange(n_age), [2], [0, 1, 2], [0], [0], indexing="ij"), -1).reshape(-1, 5)
        node_iv = node_class_probabilities(p, "stage_iv")
        w_iv = ps * piv * (1 - p["bone_at_stage_iv"][name]) * pa[grid_iv[:, 0]] * node_iv[grid_iv[:, 2]]
        _add(cols, k, grid_iv, w_iv, iv=True)
    return {k: np.concatenate(v) for k, v in cols.items()}


def _add(cols: dict, k: int, grid: np.ndarray, w: np.ndarray, iv: bool) -> None:
    cols["s"].append(np.full(len(grid), k))
    cols["age"].append(AGES[grid[:, 0]].astype(float))
    cols["size"].append(grid[:, 1])
    cols["node"].append(grid[:, 2])
    cols["g3"].append(grid[:, 3] == 1)
    cols["lob"].append(grid[:, 4] == 1)
    cols["iv"].append(np.full(len(grid), iv))
    cols["w"].append(w)


def _groups(st: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Masks of the strata that make up each reported group."""
    every = np.ones(len(st["w"]), dtype=bool)
    groups = {"overall": every, "stage_I_III": ~st["iv"]}
    groups.update({name: st["s"] == k for k, name in enumerate(SUBTYPES)})
    groups.update({c: st["node"] == j for j, c in enumerate(NODE_CLASSES)})
    groups.update({f"stage_I_III {name}": (st["s"] == k) & ~st["iv"] for k, name in enumerate(SUBTYPES)})
    return groups


def cumulative_incidence_curves(p: dict[str, Any], times: tuple[float, ...] = REPORT_TIMES) -> dict[str, Any]:
    """True cumulative incidence of first BM and of first distant metastasis (death competing) by group."""
    st = _strata(p)
    groups = _groups(st)
    # groups without any patient in this scenario (e.g. a subtype with share 0) are left out
    names = [g for g in groups if st["w"][groups[g]].sum() > 0]
    weights = np.array([np.where(groups[g], st["w"], 0.0) for g in names])
    weights /= weights.sum(axis=1, keepdims=True)

    m = metastasis_multiplier(p, st["node"], st["g3"], st["size"] == 2, st["age"] < 40)
    m = np.where(st["iv"], 0.0, m)
    pat = pattern_probabilities(p, st["s"], st["lob"])
    p_bone, p_v = pat[:, 0] + pat[:, 1], pat[:, 2]
    ratio = cancer_death_ratio(p, st["s"], st["iv"])
    lam_vb = p["progression"]["visceral_to_bone"]
    kappa = lam_vb + p["cancer_death"]["visceral"] * ratio
    decay, half = np.exp(-kappa * STEP), np.exp(-kappa * STEP / 2)

    n_steps = int(round(HORIZON / STEP))
    grid = np.arange(n_steps + 1) * STEP
    breaks = p["metastasis_hazard"]["breaks"]
    h0 = np.array([piecewise_cumhaz(breaks, p["metastasis_hazard"][name], grid) for name in SUBTYPES])
    want = {int(round(t / STEP)): t for t in times}

    a = st["iv"].astype(float)  # visceral-only at diagnosis
    f_bone = np.zeros_like(a)
    f_met = np.zeros_like(a)
    no_met = np.ones_like(a)  # 1 - G at the current grid point
    s_oc = np.ones_like(a)
    out_bone, out_met = {}, {}
    for i in range(n_steps):
        no_met_next = np.exp(-m * h0[st["s"], i + 1])
        s_oc_next = np.exp(-other_cause_cumhaz(p, st["age"], grid[i + 1]))
        d_g = no_met - no_met_next
        s_mid = 0.5 * (s_oc + s_oc_next)
        a_next = a * decay + p_v * d_g * half
        f_met += d_g * s_mid
        f_bone += p_bone * d_g * s_mid + lam_vb * STEP * 0.5 * (a * s_oc + a_next * s_oc_next)
        a, no_met, s_oc = a_next, no_met_next, s_oc_next
        if i + 1 in want:
            out_bone[want[i + 1]] = weights @ f_bone
            out_met[want[i + 1]] = weights @ np.where(st["iv"], 0.0, f_met)
    bone = {g: [float(out_bone[t][j]) for t in times] for j, g in enumerate(names)}
    met = {g: [float(out_met[t][j]) for t in times] for j, g in enumerate(names) if "stage_I_III" in g}
    return {"times": list(times), "bone_metastasis": bone, "distant_metastasis": met}


def bm_at_diagnosis(p: dict[str, Any]) -> dict[str, float]:
    """P(bone metastasis at diagnosis) overall and by subtype (receptor masking is independent of it)."""
    by = {name: p["stage_iv"][name] * p["bone_at_stage_iv"][name] for name in SUBTYPES}
    overall = sum(p["subtype_mix"][name] * by[name] for name in SUBTYPES)
    return {"overall": float(overall), **{k: float(v) for k, v in by.items()}}


def skeletal_truth(p: dict[str, Any]) -> dict[str, Any]:
    """Closed forms of the SRE process: P(>= 1 SRE within t years of BM | alive, no therapy), rate ratios."""
    theta, rate = p["sre"]["frailty_variance"], p["sre"]["rate"]

    def p_any(t: float) -> float:
        return float(1 - (1 + theta * rate * t) ** (-1 / theta)) if theta > 0 else float(1 - np.exp(-rate * t))

    rr = p["bta"]["rate_ratio"]
    return {
        "mean_rate_per_year_without_therapy": rate,
        "p_any_sre_alive_without_therapy": {"0.5": p_any(0.5), "1": p_any(1.0), "2": p_any(2.0)},
        "rate_ratio_vs_none": dict(rr),
        "rate_ratio_denosumab_vs_zoledronic_acid": rr["denosumab"] / rr["zoledronic_acid"],
        "frailty_variance": theta,
    }


@lru_cache(maxsize=16)
def _truth_cached(params_json: str) -> str:
    p = json.loads(params_json)
    cif = cumulative_incidence_curves(p)
    times = cif["times"]
    bone = cif["bone_metastasis"]
    i3, i5, i10 = times.index(3.0), times.index(5.0), times.index(10.0)
    derived = {
        "cif_bm_5y": {g: v[i5] for g, v in bone.items()},
        "cif_bm_10y": {g: v[i10] for g, v in bone.items()},
        "share_of_10y_bm_after_year_3": {g: 1 - bone[g][i3] / bone[g][i10] for g in SUBTYPES if g in bone},
        "ratio_10y_N4+_vs_N0": bone["N4+"][i10] / bone["N0"][i10] if "N4+" in bone and "N0" in bone else None,
    }
    truth = {
        "description": (
            "true values of the bmstats synthetic cohort model: every parameter, and the marginal quantities "
            "they imply, computed by numerical integration of the hazards (not by simulation)"
        ),
        "parameters": to_jsonable(p),
        "bm_at_diagnosis": bm_at_diagnosis(p),
        "cumulative_incidence": {
            "population": "patients without bone metastasis at diagnosis (incl. de novo stage IV without bone); "
            "time from diagnosis in years; death from any cause competing; by true subtype (= recorded subtype "
            "where known) and node class",
            **cif,
        },
        "derived": derived,
        "log_hazard_ratios_first_distant_metastasis": {
            k: float(np.log(v)) for k, v in p["effects"].items() if k != "lobular_bone_odds"
        },
        "skeletal_events": skeletal_truth(p),
    }
    return json.dumps(truth, sort_keys=True)


def compute_truth(p: dict[str, Any]) -> dict[str, Any]:
    """The truth dictionary of a resolved parameter set (cached: the integration takes about a second)."""
    return json.loads(_truth_cached(json.dumps(to_jsonable(p), sort_keys=True)))
