"""Calibrated synthetic bone-metastasis cohorts with known truth: ``bm.simulate_cohort`` and ``bmstats simulate``.

No public data set records bone as the site of metastasis or the skeletal events that follow, so bmstats
simulates one that reproduces the published figures (``docs/simulation.md`` lists every parameter, its
source and the calibration table).  The model is a multistate process in continuous time:

diagnosis (stage I-III) -> first distant metastasis (bone only / bone and visceral / visceral only)
-> progression bone <-> visceral -> death from breast cancer; death from other causes by attained age
throughout; de novo stage IV starts metastatic; after bone metastasis, skeletal-related events recur with a
gamma frailty and bone-targeted therapy lowers their rate; accrual over calendar years, administrative
censoring and loss to follow-up.  See the modules of :mod:`bmstats.simulation` for each part.

Random numbers come from ``numpy.random.Generator(PCG64(seed))`` and every step is vectorised, so the
same ``(n, seed, scenario)`` gives the same cohort, byte for byte, and 200,000 patients take a few seconds.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bmstats._checks import InputError
from bmstats.simulation import covariates, frames, metastasis, parameters, skeletal, truth

__all__ = ["simulate_cohort", "simulate_frames", "write_simulation", "scenario_knobs", "true_values"]

def _check_n_seed(n: Any, seed: Any) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive integer (number of patients), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(n), int(seed)


def simulate_frames(n: int, seed: int, **scenario: Any) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The canonical ``patients`` and ``skeletal_events`` tables of a simulated cohort, and its truth."""
    n, seed = _check_n_seed(n, seed)
    p = parameters.resolve(scenario)
    rng = np.random.Generator(np.random.PCG64(seed))

    cov = covariates.draw_covariates(rng, n, p)
    course = metastasis.draw_course(rng, cov, p)
    fu = frames.draw_follow_up(rng, p, course["t_death"])
    end = fu["end_day"]
    days = skeletal.DAYS_PER_YEAR
    bm_day = frames.observed(course["t_bm"] * days, end)
    visc_day = frames.observed(course["t_visc"] * days, end)
    bta_type, bta_start = skeletal.draw_therapy(rng, p, bm_day, end, fu["dx_calendar"])
    events = skeletal.draw_events(rng, p, bm_day, end, bta_type, bta_start)
    cause = np.where(course["bc_death"], "breast_cancer", "other").astype(object)
    cause[rng.random(n) < p["cause_of_death_unknown"]] = "unknown"

    ids = frames.patient_ids(n)
    patients = frames.patients_frame(ids, cov, fu, bm_day, visc_day, bta_type, bta_start, cause)
    skeletal_events = frames.events_frame(ids, fu["dx_calendar"], events)
    truth_dict = truth.compute_truth(p)
    truth_dict["simulation"] = {"n": n, "seed": seed, "scenario": parameters.to_jsonable(dict(scenario))}
    return patients, skeletal_events, truth_dict


def simulate_cohort(n: int, seed: int, **scenario: Any):
    """Simulate ``n`` patients of the calibrated bone-metastasis model as a :class:`bmstats.Cohort`.

    A multistate model in continuous time: hazard of first distant metastasis h(t | x) = h0_subtype(t)
    exp(x'b) (piecewise constant), pattern and survival after it, recurrent skeletal events with a gamma
    frailty; calibrated to the figures of docs/calibration_targets.md. No R counterpart.

    Parameters
    ----------
    n : int
        Number of patients.
    seed : int
        Seed of ``numpy.random.Generator(PCG64(seed))``: the same arguments give the same cohort.
    **scenario
        Overrides of :data:`bmstats.simulation.parameters.DEFAULTS` (nested dicts merge), e.g.
        ``subtype_mix=...``, ``bta={"use": 0}``, ``effects={"nodes_4plus": 4}``; unknown knobs raise
        ``InputError``.

    Returns
    -------
    Cohort
        The simulated cohort; ``.truth`` holds every parameter and the true marginal quantities they imply.

    References
    ----------
    .. [1] Xiong Z, Deng G, Huang X, et al. Bone metastasis pattern in initial metastatic breast cancer: a
       population-based study. Cancer Manag Res 2018;10:287-295.
    .. [2] Harries M, Taylor A, Holmberg L, et al. Incidence of bone metastases and survival after a diagnosis
       of bone metastases in breast cancer patients. Cancer Epidemiol 2014;38:427-434.
    """
    from bmstats.cohort.cohort import Cohort

    patients, events, truth_dict = simulate_frames(n, seed, **scenario)
    return Cohort.from_frames(patients, events, truth=truth_dict)


def true_values(**scenario: Any) -> dict[str, Any]:
    """The truth of a scenario without simulating a cohort."""
    return truth.compute_truth(parameters.resolve(scenario))


def scenario_knobs() -> dict[str, Any]:
    """The default value of every scenario knob (a deep copy of the defaults)."""
    return parameters.resolve(None)


def _read_scenario(scenario: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    if scenario is None:
        return {}
    if isinstance(scenario, Mapping):
        return dict(scenario)
    import yaml

    path = Path(scenario)
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read scenario file {str(path)!r}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"scenario file {str(path)!r} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise InputError(f"scenario file {str(path)!r} must hold a mapping of knob: value")
    loaded = dict(loaded)
    for key in ("n", "seed"):
        if key in loaded:
            raise InputError(f"scenario file {str(path)!r}: give {key!r} on the command line, not in the scenario")
    return loaded


def write_simulation(
    n: int, seed: int, out: str | Path, scenario: Mapping[str, Any] | str | Path | None = None
) -> Path:
    """Write ``patients.csv``, ``skeletal_events.csv`` (ISO dates, empty for missing) and ``truth.json``.

    ``scenario`` is a mapping of knobs or the path of a YAML file holding one.  The same arguments give
    the same bytes.  Returns the output folder.
    """
    from bmstats.cohort.cohort import Cohort

    patients, events, truth_dict = simulate_frames(n, seed, **_read_scenario(scenario))
    folder = Path(out)
    # the cohort layer's writer: the same CSV conventions as any canonical cohort (true/false, 54 not 54.0)
    Cohort.from_frames(patients, events).to_files(folder)
    (folder / "truth.json").write_text(json.dumps(truth_dict, indent=2, sort_keys=True) + "\n")
    return folder
