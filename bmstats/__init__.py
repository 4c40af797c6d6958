"""bmstats: epidemiology of bone metastasis in breast cancer.

Data flow is one way: cohort -> estimate -> report.  Public names are resolved lazily so that
``import bmstats as bm`` stays fast and a notebook pays only for what it uses.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC: dict[str, str] = {
    # warnings
    "ConvergenceWarning": "bmstats._warnings",
    # cohort
    "Cohort": "bmstats.cohort.cohort",
    "read_cohort": "bmstats.cohort.io",
    "validate": "bmstats.cohort.validate",
    "ValidationReport": "bmstats.cohort.validate",
    # nonparametric estimation
    "kaplan_meier": "bmstats.estimate.km",
    "logrank_test": "bmstats.estimate.logrank",
    "cumulative_incidence": "bmstats.estimate.cif",
    "incidence_rate": "bmstats.estimate.rates",
    "rate_ratio": "bmstats.estimate.rates",
    # regression
    "cox": "bmstats.estimate.cox",
    "fine_gray": "bmstats.estimate.finegray",
    "cause_specific_cox": "bmstats.estimate.cause_specific",
    "competing_risks_models": "bmstats.estimate.cause_specific",
    "rate_regression": "bmstats.estimate.rate_regression",
    # multi-state models and landmarks
    "state_occupation": "bmstats.estimate.state_occupation",
    "multistate_cox": "bmstats.estimate.multistate_cox",
    "landmark": "bmstats.estimate.landmark",
    # binary outcomes (e.g. bone metastasis at diagnosis)
    "proportion": "bmstats.estimate.proportion",
    "logistic": "bmstats.estimate.logistic",
    # risk prediction and its validation
    "predict_risk": "bmstats.estimate.prediction",
    "PublishedModel": "bmstats.estimate.prediction",
    "concordance": "bmstats.estimate.concordance",
    "royston_d": "bmstats.estimate.concordance",
    "score": "bmstats.estimate.score",
    "calibration": "bmstats.estimate.calibration",
    "net_benefit": "bmstats.estimate.decision",
    "integrated_brier": "bmstats.estimate.score",
    "bootstrap_validate": "bmstats.estimate.bootstrap",
    "bootstrap_interval": "bmstats.estimate.bootstrap",
    # recurrent skeletal events
    "mean_cumulative_function": "bmstats.estimate.mcf",
    "sre_summary": "bmstats.estimate.sre",
    "event_counts": "bmstats.estimate.event_counts",
    # simulation
    "simulate_cohort": "bmstats.simulation.cohort",
    # reporting
    "options": "bmstats._options",
    "Table": "bmstats.report.table",
    "table_one": "bmstats.report.table_builders",
    "regression_table": "bmstats.report.table_builders",
    "cif_table": "bmstats.report.table_builders",
    "survival_table": "bmstats.report.table_builders",
    "median_table": "bmstats.report.table_builders",
    "rate_table": "bmstats.report.table_builders",
}
_SUBMODULES = {"datasets", "cohort", "estimate", "report", "simulation", "cli"}
_RENAMED_SUBMODULES = {"simulate": "simulation"}  # old name -> new name; bm.simulate keeps working

__all__ = sorted(_PUBLIC) + sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES or name in _RENAMED_SUBMODULES:
        module = importlib.import_module(f"bmstats.{_RENAMED_SUBMODULES.get(name, name)}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'bmstats' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
