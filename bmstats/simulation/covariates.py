"""Patient characteristics at diagnosis: subtype, receptors, age, menopause, grade, size, nodes, histology, stage.

Every distribution is discrete or has a closed-form class probability, so that :mod:`.truth` can integrate
over the covariates exactly (the functions ``*_probabilities`` below are shared by the sampler and the truth).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from .parameters import AGE_MAX, AGE_MIN, SUBTYPES

AGES = np.arange(AGE_MIN, AGE_MAX + 1)
SIZE_CUTS_MM = (20.5, 50.5)  # sizes are whole mm: <=20 is below 20.5 before rounding


def age_probabilities(p: dict[str, Any], subtype: str) -> np.ndarray:
    """P(age = a | subtype) on the integer ages :data:`AGES`: a normal density binned to whole years."""
    mean, sd = p["age"][subtype]
    cdf = ndtr((np.append(AGES - 0.5, AGES[-1] + 0.5) - mean) / sd)
    probs = np.diff(cdf)
    return probs / probs.sum()


def size_class_probabilities(median_mm: float, sdlog: float) -> np.ndarray:
    """P(size <= 20, 21-50, > 50 mm) for a log-normal size with this median and log-sd."""
    cuts = ndtr((np.log(SIZE_CUTS_MM) - np.log(median_mm)) / sdlog)
    return np.array([cuts[0], cuts[1] - cuts[0], 1.0 - cuts[1]])


def node_class_probabilities(p: dict[str, Any], row: str) -> np.ndarray:
    """P(N0, N1-3, N4+) for a size class row (``<=20``, ``21-50``, ``>50``) or ``stage_iv``."""
    n13, n4 = p["nodes"][row]
    return np.array([1.0 - n13 - n4, n13, n4])


def lobular_probability(p: dict[str, Any], subtype: str) -> float:
    return float(p["histology"]["lobular"][subtype])


def grade3_probability(p: dict[str, Any], subtype: str) -> float:
    return float(p["grade"][subtype][2])


def _categorical(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Index of the category each uniform falls in (rows of ``probs`` per element, or one shared row)."""
    cum = np.cumsum(probs, axis=-1)
    if cum.ndim == 1:
        return np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(cum) - 1)
    cum = cum / cum[:, -1:]
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def draw_covariates(rng: np.random.Generator, n: int, p: dict[str, Any]) -> dict[str, np.ndarray]:
    """Characteristics at diagnosis of ``n`` patients (arrays; ``subtype_index`` is the true subtype 0-3)."""
    s = _categorical(rng.random(n), np.array([p["subtype_mix"][k] for k in SUBTYPES]))

    u_age = rng.random(n)
    age = np.empty(n, dtype=float)
    for k, name in enumerate(SUBTYPES):
        idx = s == k
        age[idx] = AGES[_categorical(u_age[idx], age_probabilities(p, name))]

    stage_iv = rng.random(n) < np.array([p["stage_iv"][k] for k in SUBTYPES])[s]

    median = np.array([p["tumor_size"]["median_mm"][k] for k in SUBTYPES])[s]
    median = np.where(stage_iv, median * p["tumor_size"]["stage_iv_size_ratio"], median)
    raw_size = np.exp(np.log(median) + p["tumor_size"]["sdlog"] * rng.standard_normal(n))
    size_class = np.searchsorted(SIZE_CUTS_MM, raw_size, side="right")  # 0, 1, 2
    size_mm = np.clip(np.round(raw_size), 1, 200)

    node_rows = np.array([node_class_probabilities(p, r) for r in ("<=20", "21-50", ">50", "stage_iv")])
    node_class = _categorical(rng.random(n), node_rows[np.where(stage_iv, 3, size_class)])
    # counts within the class: 1-3 weighted towards 1; 4+ as 4 + geometric (mean 8 nodes)
    n13 = 1 + _categorical(rng.random(n), np.array([0.5, 0.3, 0.2]))
    n4 = np.minimum(3 + rng.geometric(0.2, n), 40)
    nodes = np.select([node_class == 0, node_class == 1], [0, n13], n4)

    grade = 1 + _categorical(rng.random(n), np.array([p["grade"][k] for k in SUBTYPES])[s])

    u_hist = rng.random(n)
    lob = np.array([lobular_probability(p, k) for k in SUBTYPES])[s]
    histology = np.where(u_hist < lob, "lobular", np.where(u_hist < lob + p["histology"]["other"], "other", "ductal"))

    # receptors consistent with the true subtype, then masked completely at random
    hr_pos = s <= 1
    her2_pos = (s == 1) | (s == 2)
    pattern = _categorical(rng.random(n), np.asarray(p["hr_pattern"], dtype=float))  # ER+PR+, ER+PR-, ER-PR+
    er = np.where(hr_pos & (pattern <= 1), "positive", "negative")
    pr = np.where(hr_pos & (pattern != 1), "positive", "negative")
    her2 = np.where(her2_pos, "positive", "negative")
    masked = rng.random(n) < p["receptor_unknown"]
    all_masked = masked & (rng.random(n) < 0.4)  # else only HER2 unknown
    her2 = np.where(masked, "unknown", her2)
    er = np.where(all_masked, "unknown", er)
    pr = np.where(all_masked, "unknown", pr)
    subtype = np.where(masked, "unknown", np.array(SUBTYPES, dtype=object)[s])

    u_meno = rng.random(n)
    post = rng.random(n) < 1.0 / (1.0 + np.exp(-(age - p["menopause"]["midpoint"]) / p["menopause"]["scale"]))
    menopausal = np.where(u_meno < p["menopause"]["unknown"], "unknown", np.where(post, "post", "pre"))

    stage = np.select(
        [stage_iv, (node_class == 2) | ((size_class == 2) & (node_class > 0)), (size_class == 0) & (node_class == 0)],
        ["IV", "III", "I"],
        "II",
    )
    return {
        "subtype_index": s,
        "age": age,
        "menopausal": menopausal,
        "er": er,
        "pr": pr,
        "her2": her2,
        "subtype": subtype,
        "grade": grade,
        "tumor_size_mm": size_mm,
        "size_class": size_class,
        "nodes_positive": nodes,
        "node_class": node_class,
        "histology": histology,
        "lobular": histology == "lobular",
        "stage_iv": stage_iv,
        "stage": stage,
    }
