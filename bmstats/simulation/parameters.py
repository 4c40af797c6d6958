"""Parameters of the synthetic cohort: the defaults (with sources), the scenario knobs and their checks.

Every parameter is a scenario knob: ``simulate_cohort(n, seed, **scenario)`` deep-merges ``scenario`` into
:data:`DEFAULTS`; a key that is not in the defaults raises :class:`bmstats._checks.InputError` naming it and
listing the valid keys.  docs/simulation.md explains every parameter and its source; the sources are
abbreviated here as in docs/calibration_targets.md:

- SEER: Xiong et al., Cancer Manag Res 2018 (n=245,707); Gong et al., Cancer Med 2018.
- Toronto: Breast Cancer Res Treat 2016, doi 10.1007/s10549-016-3782-3 (n=2,097).
- Harries: Harries et al., Cancer Epidemiol 2014 (Guy's, 7,064 women, 1,589 with BM).
- Kohno: Kohno et al., J Clin Oncol 2005.  Stopeck: Stopeck et al., J Clin Oncol 2010.
- Svensson: Svensson et al., BMJ Open 2017 (Danish registry).
Values marked "planning" are chosen (tuned against the truth of :mod:`.truth`) to reproduce those figures.
"""
from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np

from bmstats._checks import InputError

SUBTYPES = ("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC")
NODE_CLASSES = ("N0", "N1-3", "N4+")
SIZE_CLASSES = ("<=20", "21-50", ">50")
BTA_TYPES = ("zoledronic_acid", "pamidronate", "ibandronate", "clodronate", "denosumab")
SRE_TYPES = (
    "pathologic_fracture",
    "spinal_cord_compression",
    "radiation_to_bone",
    "surgery_to_bone",
    "hypercalcaemia",
)
# integer ages at diagnosis the model draws from (inclusive)
AGE_MIN, AGE_MAX = 25, 90


def _by_subtype(*values: Any) -> dict[str, Any]:
    return dict(zip(SUBTYPES, values))


DEFAULTS: dict[str, Any] = {
    # --- patients at diagnosis -----------------------------------------------------------------------------
    # shares of the four subtypes among patients with known receptor status (SEER 2010-2019: 68/10/4.5/10%
    # of all, about 8% unknown)
    "subtype_mix": _by_subtype(0.735, 0.11, 0.045, 0.11),
    # share whose receptor status is unrecorded (subtype "unknown"), missing completely at random
    "receptor_unknown": 0.07,
    # age at diagnosis: normal(mean, sd) on the integers 25-90, by subtype (SEER: TNBC and HER2+ younger)
    "age": _by_subtype([62.0, 13.0], [57.0, 13.0], [58.0, 13.0], [56.0, 14.0]),
    # menopause: P(post) = logistic((age - midpoint) / scale); a share is unrecorded
    "menopause": {"midpoint": 51.0, "scale": 2.0, "unknown": 0.02},
    # hormone-receptor pattern among HR+: ER+PR+, ER+PR-, ER-PR+ (planning, typical registry shares)
    "hr_pattern": [0.82, 0.15, 0.03],
    # grade 1, 2, 3 by subtype (planning, SEER-like)
    "grade": _by_subtype([0.25, 0.52, 0.23], [0.08, 0.45, 0.47], [0.03, 0.30, 0.67], [0.03, 0.17, 0.80]),
    # tumour size, mm: log-normal(median, sdlog) by subtype; stage IV tumours are `stage_iv_size_ratio` larger
    "tumor_size": {
        "median_mm": _by_subtype(17.0, 21.0, 23.0, 24.0),
        "sdlog": 0.6,
        "stage_iv_size_ratio": 2.0,
    },
    # P(N1-3), P(N4+) by size class <=20, 21-50, >50 mm; stage IV in its own row (planning)
    "nodes": {"<=20": [0.18, 0.05], "21-50": [0.30, 0.12], ">50": [0.33, 0.30], "stage_iv": [0.35, 0.40]},
    # histology: lobular share by subtype (lobular is mostly HR+/HER2-); `other` the same for all
    "histology": {"lobular": _by_subtype(0.15, 0.06, 0.02, 0.02), "other": 0.08},
    # de novo stage IV and bone involvement in it, by subtype: SEER (Xiong 2018; Gong 2018), so that
    # BM at diagnosis = stage_iv * bone_at_stage_iv = 3.1 / 5.0 / 4.5 / 2.8%
    "stage_iv": _by_subtype(0.043, 0.0785, 0.0985, 0.0647),
    "bone_at_stage_iv": _by_subtype(0.721, 0.637, 0.457, 0.433),
    # share of de novo bone involvement without visceral metastasis (planning; SEER bone-only ~ half)
    "bone_only_at_stage_iv": 0.55,
    # --- first distant metastasis after stage I-III ---------------------------------------------------------
    # piecewise-constant baseline hazard per year on [breaks[i], breaks[i+1]) for a patient with N0, grade 1-2,
    # size <= 50 mm, age >= 40 (planning: tuned so that BM incidence matches Toronto 2016 and the subtype
    # shapes of docs/calibration_targets.md: TNBC early and fading, HR+/HER2- persisting)
    "metastasis_hazard": {
        "breaks": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0],
        "HR+/HER2-": [0.0060, 0.0100, 0.0105, 0.0102, 0.0098, 0.0092, 0.0085, 0.0075, 0.0065],
        "HR+/HER2+": [0.0070, 0.0115, 0.0105, 0.0080, 0.0057, 0.0044, 0.0033, 0.0026, 0.0022],
        "HR-/HER2+": [0.0105, 0.0160, 0.0125, 0.0080, 0.0048, 0.0031, 0.0019, 0.0013, 0.0009],
        "TNBC": [0.0140, 0.0185, 0.0110, 0.0045, 0.0018, 0.0007, 0.0004, 0.0003, 0.0003],
    },
    # hazard ratios of first distant metastasis (docs/calibration_targets.md relative hazards; Harries 2014 risk
    # factors)
    "effects": {
        "nodes_1_3": 2.0,
        "nodes_4plus": 3.5,
        "grade_3": 1.5,
        "size_gt_50": 1.6,
        "age_lt_40": 1.5,
        # odds ratio of bone involvement at the first distant metastasis, lobular vs other histology
        "lobular_bone_odds": 2.0,
    },
    # pattern of the first distant metastasis: bone only, bone and visceral together, visceral only
    # (planning: relapse-site shares luminal 53-71% bone, TNBC 39-45%; Harries 11.5% visceral first)
    "first_met_pattern": _by_subtype([0.50, 0.25, 0.25], [0.40, 0.25, 0.35], [0.28, 0.22, 0.50], [0.24, 0.18, 0.58]),
    # --- after distant metastasis (per-year hazards; planning, tuned to Toronto 1.6 y median after BM,
    # Harries 33.7% bone-only, Svensson 51% alive at 1 y) ----------------------------------------------------
    "progression": {"bone_to_visceral": 0.18, "visceral_to_bone": 0.25},
    "cancer_death": {
        "bone_only": 0.21,
        "visceral": 0.78,
        # hazard ratios by subtype (de novo SEER: TNBC HR 2.81) and for de novo stage IV (median OS 30-38 months)
        "subtype_ratio": _by_subtype(1.0, 0.8, 1.0, 2.2),
        "de_novo_ratio": 0.45,
    },
    # death from other causes: Gompertz hazard a * exp(b * attained age) (planning, close to a female life table)
    "other_death": {"gompertz_a": 2.3e-5, "gompertz_b": 0.095},
    # --- skeletal-related events after BM ---------------------------------------------------------------------
    "sre": {
        # mean rate per patient-year without bone-targeted therapy, and variance of the gamma frailty
        # (planning: Kohno placebo 49.6% with >= 1 SRE in 1 y; Protocol 19 placebo median 7 months)
        "rate": 2.0,
        "frailty_variance": 1.5,
        # mix of event types (trial reports: radiation most common, then fracture) and P(symptomatic)
        "type_mix": {
            "pathologic_fracture": 0.32,
            "spinal_cord_compression": 0.07,
            "radiation_to_bone": 0.48,
            "surgery_to_bone": 0.08,
            "hypercalcaemia": 0.05,
        },
        "symptomatic": {
            "pathologic_fracture": 0.60,
            "spinal_cord_compression": 1.0,
            "radiation_to_bone": 0.95,
            "surgery_to_bone": 1.0,
            "hypercalcaemia": 0.85,
        },
    },
    # bone-targeted therapy after BM: use, delay, type by calendar year of start, rate ratios vs none
    "bta": {
        "use": 0.70,
        "mean_delay_days": 30.0,
        # type mix for starts before / from `denosumab_from` (denosumab approved in 2010); `mix` overrides both
        "denosumab_from": "2011-01-01",
        "mix_before": {"zoledronic_acid": 0.75, "pamidronate": 0.15, "ibandronate": 0.05, "clodronate": 0.05},
        "mix_after": {"zoledronic_acid": 0.50, "denosumab": 0.45, "ibandronate": 0.03, "pamidronate": 0.02},
        "mix": None,
        # SRE rate ratios vs no therapy: Kohno 0.61 (zoledronic acid vs placebo); Stopeck 0.77 (denosumab vs
        # zoledronic acid) -> 0.6 * 0.77; pamidronate, ibandronate, clodronate (planning, weaker)
        "rate_ratio": {
            "zoledronic_acid": 0.60,
            "denosumab": 0.462,
            "pamidronate": 0.70,
            "ibandronate": 0.75,
            "clodronate": 0.80,
        },
    },
    # --- calendar time, follow-up, recording --------------------------------------------------------------
    "accrual": {"start": "2000-01-01", "end": "2014-12-31"},
    "study_end": "2020-12-31",
    # loss to follow-up: hazard per year, independent of everything else
    "loss_to_follow_up": 0.02,
    # share of deaths whose cause is unrecorded
    "cause_of_death_unknown": 0.03,
}


def resolve(scenario: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults with ``scenario`` deep-merged in, checked; unknown keys raise InputError."""
    params = copy.deepcopy(DEFAULTS)
    if scenario:
        _merge(params, scenario, path="")
    check(params)
    return params


def _merge(target: dict, update: Mapping, path: str) -> None:
    for key, value in update.items():
        where = f"{path}{key}"
        if key not in target:
            valid = ", ".join(sorted(map(str, target)))
            raise InputError(f"unknown scenario knob {where!r}; valid knobs here: {valid}")
        value = _like_default(target[key], value, where)
        if isinstance(target[key], dict) and isinstance(value, Mapping):
            # a mix (shares summing to 1) given in full replaces the default mix; other dicts merge
            if "mix" in key and key != "subtype_mix":
                target[key] = dict(value)
            else:
                _merge(target[key], value, path=f"{where}.")
        elif target[key] is None and isinstance(value, Mapping):
            target[key] = dict(value)
        else:
            target[key] = copy.deepcopy(value)


def _like_default(default: Any, value: Any, where: str) -> Any:
    """``value`` checked to have the shape of the default it replaces (a mapping for a mapping, a list of
    numbers for a list of numbers, a number for a number, a date for a date), so that a mistyped knob is
    an InputError naming it rather than a TypeError deep in the simulation.  YAML dates become ISO text."""
    def fail(expected: str) -> None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise InputError(f"scenario knob {where!r} must be {expected}, got {shown}")

    if isinstance(default, dict):
        if not isinstance(value, Mapping):
            fail(f"a mapping with keys {', '.join(map(str, default))}")
    elif isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)) or not value:
            fail(f"a list like {list(default)!r}")
        inner = default[0] if default else None
        return [_like_default(inner, v, f"{where}[{i}]") for i, v in enumerate(value)] if inner is not None else value
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            fail("true or false")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
    elif isinstance(default, str) and _is_iso_date(default):
        if isinstance(value, dt.date):
            return value.isoformat()
        if not isinstance(value, str) or not _is_iso_date(value):
            fail("an ISO date YYYY-MM-DD")
    elif isinstance(default, str) and not isinstance(value, str):
        fail("text")
    return value


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _probability(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"scenario knob {name!r} must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= x <= 1.0:
        raise InputError(f"scenario knob {name!r} must be between 0 and 1, got {value!r}")
    return x


def _positive(value: Any, name: str, allow_zero: bool = True) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"scenario knob {name!r} must be a number, got {value!r}") from None
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise InputError(f"scenario knob {name!r} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return x


def _mix(mix: Mapping, name: str, allowed: tuple[str, ...]) -> None:
    bad = [k for k in mix if k not in allowed]
    if bad:
        raise InputError(f"scenario knob {name!r}: unknown categories {bad}; allowed: {', '.join(allowed)}")
    shares = [_positive(v, f"{name}.{k}") for k, v in mix.items()]
    if abs(sum(shares) - 1.0) > 1e-6:
        raise InputError(f"scenario knob {name!r}: shares must sum to 1, they sum to {sum(shares):.6g}")


def _date(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"scenario knob {name!r} must be an ISO date YYYY-MM-DD, got {value!r}") from None


def check(p: dict[str, Any]) -> None:
    """Raise InputError naming the knob when a parameter is out of its range."""
    mix = p["subtype_mix"]
    shares = [_positive(mix[s], f"subtype_mix.{s}") for s in SUBTYPES]
    if abs(sum(shares) - 1.0) > 1e-6:
        raise InputError(f"scenario knob 'subtype_mix': shares must sum to 1, they sum to {sum(shares):.6g}")
    for name in ("receptor_unknown", "loss_to_follow_up", "cause_of_death_unknown", "bone_only_at_stage_iv"):
        (_positive if name == "loss_to_follow_up" else _probability)(p[name], name)
    _probability(p["menopause"]["unknown"], "menopause.unknown")
    _positive(p["menopause"]["scale"], "menopause.scale", allow_zero=False)
    for s in SUBTYPES:
        mean, sd = p["age"][s]
        _positive(sd, f"age.{s}[1]", allow_zero=False)
        _probability(p["stage_iv"][s], f"stage_iv.{s}")
        _probability(p["bone_at_stage_iv"][s], f"bone_at_stage_iv.{s}")
        _probability(p["histology"]["lobular"][s], f"histology.lobular.{s}")
        for key in ("grade", "first_met_pattern"):
            v = [_positive(x, f"{key}.{s}") for x in p[key][s]]
            if len(v) != 3 or abs(sum(v) - 1) > 1e-6:
                raise InputError(f"scenario knob '{key}.{s}' must be 3 shares summing to 1, got {p[key][s]!r}")
        _positive(p["tumor_size"]["median_mm"][s], f"tumor_size.median_mm.{s}", allow_zero=False)
        _positive(p["cancer_death"]["subtype_ratio"][s], f"cancer_death.subtype_ratio.{s}")
        h = p["metastasis_hazard"][s]
        if len(h) != len(p["metastasis_hazard"]["breaks"]):
            raise InputError(f"scenario knob 'metastasis_hazard.{s}' needs one hazard per break")
        for x in h:
            _positive(x, f"metastasis_hazard.{s}")
    breaks = np.asarray(p["metastasis_hazard"]["breaks"], dtype=float)
    if breaks[0] != 0 or np.any(np.diff(breaks) <= 0):
        raise InputError("scenario knob 'metastasis_hazard.breaks' must start at 0 and increase")
    _probability(p["histology"]["other"] + max(p["histology"]["lobular"].values()), "histology (lobular + other)")
    for key, v in p["nodes"].items():
        if len(v) != 2 or sum(v) > 1 or min(v) < 0:
            raise InputError(f"scenario knob 'nodes.{key}' must be [P(N1-3), P(N4+)] summing to <= 1, got {v!r}")
    if abs(sum(p["hr_pattern"]) - 1) > 1e-6 or len(p["hr_pattern"]) != 3:
        raise InputError("scenario knob 'hr_pattern' must be 3 shares (ER+PR+, ER+PR-, ER-PR+) summing to 1")
    for group in ("effects", "progression", "other_death"):
        for k, v in p[group].items():
            _positive(v, f"{group}.{k}", allow_zero=group != "effects")
    for k in ("bone_only", "visceral", "de_novo_ratio"):
        _positive(p["cancer_death"][k], f"cancer_death.{k}")
    sre = p["sre"]
    _positive(sre["rate"], "sre.rate")
    _positive(sre["frailty_variance"], "sre.frailty_variance")
    _mix(sre["type_mix"], "sre.type_mix", SRE_TYPES)
    for k, v in sre["symptomatic"].items():
        _probability(v, f"sre.symptomatic.{k}")
    bta = p["bta"]
    _probability(bta["use"], "bta.use")
    _positive(bta["mean_delay_days"], "bta.mean_delay_days")
    _date(bta["denosumab_from"], "bta.denosumab_from")
    for key in ("mix_before", "mix_after", "mix"):
        if bta[key] is not None:
            _mix(bta[key], f"bta.{key}", BTA_TYPES)
    for k in BTA_TYPES:
        _positive(bta["rate_ratio"][k], f"bta.rate_ratio.{k}")
    start = _date(p["accrual"]["start"], "accrual.start")
    end = _date(p["accrual"]["end"], "accrual.end")
    stop = _date(p["study_end"], "study_end")
    if not start <= end <= stop:
        raise InputError("scenario knobs: need accrual.start <= accrual.end <= study_end")


def to_jsonable(p: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as plain JSON types (for ``truth.json``)."""
    def conv(x: Any) -> Any:
        if isinstance(x, Mapping):
            return {str(k): conv(v) for k, v in x.items()}
        if isinstance(x, (list, tuple, np.ndarray)):
            return [conv(v) for v in x]
        if isinstance(x, (np.floating, np.integer)):
            return x.item()
        if isinstance(x, dt.date):
            return x.isoformat()
        return x

    return conv(p)
