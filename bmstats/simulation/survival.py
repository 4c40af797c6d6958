"""Death: from other causes by attained age (Gompertz) and from breast cancer after distant metastasis.

Breast-cancer death happens only after distant metastasis, at a constant hazard per year that depends on
the state (bone only vs any visceral disease), the subtype and whether the disease was metastatic at
diagnosis (de novo stage IV lives longer).  Constant hazards keep the model memoryless, which makes the
sampler a set of independent exponential clocks and the truth an exact integral.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .parameters import SUBTYPES


def other_cause_cumhaz(p: dict[str, Any], age: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Cumulative hazard of death from other causes from age ``age`` over ``t`` years: a/b e^{b age}(e^{bt}-1)."""
    a, b = p["other_death"]["gompertz_a"], p["other_death"]["gompertz_b"]
    return a / b * np.exp(b * age) * np.expm1(b * t)


def other_cause_time(p: dict[str, Any], age: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Years to death from other causes for unit-exponential draws ``e`` (inverse cumulative hazard)."""
    a, b = p["other_death"]["gompertz_a"], p["other_death"]["gompertz_b"]
    return np.log1p(e * b / (a * np.exp(b * age))) / b


def cancer_death_ratio(p: dict[str, Any], subtype_index: np.ndarray, de_novo: np.ndarray) -> np.ndarray:
    """Multiplier of the breast-cancer death hazards: subtype ratio times the de novo stage IV ratio."""
    cd = p["cancer_death"]
    ratio = np.array([cd["subtype_ratio"][k] for k in SUBTYPES])[subtype_index]
    return ratio * np.where(de_novo, cd["de_novo_ratio"], 1.0)
