"""Nonparametric family: Kaplan-Meier by two groups and cumulative incidence by two groups with
Gray's test, n = 1,000,000, against R (survfit, cuminc), lifelines and scikit-survival.

The data are simulated once (seeded) and written to a temporary CSV for R; every tool times only its own
computation (R via proc.time around the call, data loading excluded).  Times are continuous (all
distinct), the hardest case for the aggregation step; a second KM task uses times in whole days (heavy
ties), as cohort data usually come.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from run import Case, rscript_available, run_rscript

_frames: dict[tuple[int, bool], pd.DataFrame] = {}
_csv: dict[tuple[int, bool], Path] = {}


def simulated(n: int, days: bool = False, seed: int = 3) -> pd.DataFrame:
    """Two groups; relapse (1) and death without relapse (2) with exponential times; uniform censoring."""
    key = (n, days)
    if key not in _frames:
        rng = np.random.default_rng(seed)
        group = rng.integers(0, 2, n)
        t1 = rng.exponential(8.0 / (1 + 0.3 * group), n)
        t2 = rng.exponential(15.0, n)
        c = rng.uniform(0, 20, n)
        time_ = np.minimum(np.minimum(t1, t2), c)
        status = np.where(time_ == c, 0, np.where(t1 < t2, 1, 2))
        if days:
            time_ = np.ceil(time_ * 365.25)
        _frames[key] = pd.DataFrame({"time": time_, "status": status, "event": (status > 0).astype(int),
                                     "group": np.where(group == 1, "B", "A")})
    return _frames[key]


def csv_path(n: int, days: bool = False) -> Path:
    key = (n, days)
    if key not in _csv:
        folder = Path(tempfile.mkdtemp(prefix="bmstats_bench_np_"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "data.csv"
        simulated(n, days).to_csv(path, index=False, float_format="%.17g")
        _csv[key] = path
    return _csv[key]


def _timed(fn):
    def run() -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return run


def _bm_km(n, days):
    import bmstats as bm

    df = simulated(n, days)

    def run() -> None:  # timed by the runner, which then also traces its memory
        bm.kaplan_meier(df, "time", "event", by="group")
    return run


def _bm_cif(n):
    import bmstats as bm

    df = simulated(n)

    def run() -> None:
        bm.cumulative_incidence(df, "time", "status", by="group")
    return run


def _lifelines_km(n, days):
    from lifelines import KaplanMeierFitter

    df = simulated(n, days)

    def fit():
        for _, sub in df.groupby("group"):
            KaplanMeierFitter().fit(sub["time"], sub["event"])
    return _timed(fit)


def _sksurv_km(n, days):
    from sksurv.nonparametric import kaplan_meier_estimator

    df = simulated(n, days)

    def fit():
        for _, sub in df.groupby("group"):
            kaplan_meier_estimator(sub["event"].to_numpy(bool), sub["time"].to_numpy(), conf_type="log-log")
    return _timed(fit)


def _lifelines_aj(n):
    from lifelines import AalenJohansenFitter

    df = simulated(n)

    def fit():
        for _, sub in df.groupby("group"):
            for cause in (1, 2):
                AalenJohansenFitter(seed=1).fit(sub["time"], sub["status"], event_of_interest=cause)
    return _timed(fit)


def _r(n, days, call):
    def run() -> float:
        path = csv_path(n, days)
        code = (
            "suppressPackageStartupMessages({library(survival); library(cmprsk)});"
            f"d <- read.csv('{path}');"
            f"t0 <- proc.time()[['elapsed']]; x <- {call}; t1 <- proc.time()[['elapsed']];"
            "cat('SECONDS', t1 - t0, '\\n')"
        )
        return run_rscript(code)
    return run


def cases(quick: bool) -> list[Case]:
    n = 10_000 if quick else 1_000_000
    out: list[Case] = []
    for days in (False, True):
        task = "Kaplan-Meier, 2 groups" + (" (times in days)" if days else "")
        out += [
            Case(task, n, "bmstats", _bm_km(n, days), repeat=3),
            Case(task, n, "lifelines KaplanMeierFitter", _lifelines_km(n, days), measure_memory=False),
            Case(task, n, "scikit-survival kaplan_meier_estimator", _sksurv_km(n, days), measure_memory=False),
        ]
        if rscript_available():
            out.append(Case(task, n, "R survival::survfit",
                            _r(n, days, "survfit(Surv(time, event) ~ group, data = d)"), measure_memory=False))
    task = "Cumulative incidence + Gray's test, 2 groups"
    out.append(Case(task, n, "bmstats", _bm_cif(n), repeat=3))
    if rscript_available():
        out.append(Case(task, n, "R cmprsk::cuminc", _r(n, False, "cuminc(d$time, d$status, d$group)"),
                        measure_memory=False))
    out.append(Case(task, n, "lifelines AalenJohansenFitter (both causes, no test)", _lifelines_aj(n),
                    measure_memory=False, note="jitters tied times"))
    return out
