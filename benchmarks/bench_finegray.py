"""Fine-Gray speed: bm.fine_gray (with its sandwich variance) against R.

- n = 200,000, p = 10: R's survival::coxph on the same data (cause 1, competing events censored) is the
  yardstick (target: fine_gray within 1.5x of coxph); mets::cifreg (Fine-Gray, linear time) as another peer.
- n = 5,000, p = 10: cmprsk::crr, the O(n^2) reference implementation (target: fine_gray >= 100x faster).
- n = 1,000,000, p = 10: fine_gray alone (target: < 20 s, peak memory < 2 GB).

Data: 10 standard-normal covariates, cause 1 with proportional cause-specific hazards, an independent
competing cause and uniform censoring; times rounded to 3 decimals (some ties). R reads the same rows from
a CSV written outside its timing and times only the model fit.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from run import Case, rscript_available, run_rscript

P = 10
FORMULA = " + ".join(f"x{i}" for i in range(P))
_TMP = Path(tempfile.mkdtemp(prefix="bench_finegray_"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def make_data(n: int, p: int = P, seed: int = 20261126) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.linspace(-0.3, 0.3, p)
    t1 = rng.exponential(1 / (0.1 * np.exp(X @ beta)))
    t2 = rng.exponential(1 / 0.08, n)
    cens = rng.uniform(0, 15, n)
    t = np.minimum.reduce([t1, t2, cens])
    data = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    data["time"] = np.round(t, 3)
    data["status"] = np.where(t == t1, 1, np.where(t == t2, 2, 0))
    return data


def _csv(data: pd.DataFrame, n: int) -> str:
    path = _TMP / f"fg_{n}.csv"
    if not path.exists():
        data.to_csv(path, index=False)
    return str(path)


def _r(code_fit: str, path: str, packages: str) -> float:
    return run_rscript(
        f"suppressPackageStartupMessages({{{packages}}}); d <- read.csv('{path}'); "
        f"X <- as.matrix(d[, paste0('x', 0:{P - 1})]); "
        f"f <- as.formula(paste('Surv(time, status == 1) ~', paste(colnames(X), collapse = '+'))); "
        f"t0 <- proc.time()[['elapsed']]; {code_fit}; cat('SECONDS', proc.time()[['elapsed']] - t0, '\\n')"
    )


def _ours(data: pd.DataFrame):
    import bmstats as bm

    def run():
        bm.fine_gray(data, "time", "status", FORMULA, cause=1)

    return run


def cases(quick: bool) -> list[Case]:
    sizes = {"yard": 2_000, "crr": 500, "big": 20_000} if quick else {"yard": 200_000, "crr": 5_000, "big": 1_000_000}
    out: list[Case] = []

    n = sizes["yard"]
    d = make_data(n)
    task = f"Fine-Gray + sandwich variance, p={P}"
    out.append(Case(task, n, "bmstats", _ours(d), repeat=3))
    if rscript_available():
        path = _csv(d, n)
        out.append(Case(task, n, "R survival::coxph (cause-specific Cox, yardstick)",
                        lambda path=path: _r("fit <- coxph(f, data = d)", path, "library(survival)"), repeat=3,
                        measure_memory=False))
        out.append(Case(task, n, "R mets::cifreg (Fine-Gray)",
                        lambda path=path: _r("d$cause <- d$status; fit <- cifreg(Event(time, cause) ~ "
                                   + FORMULA + ", data = d, cause = 1, propodds = NULL)", path, "library(mets)"),
                        measure_memory=False))

    n = sizes["crr"]
    d5 = make_data(n)
    out.append(Case(task, n, "bmstats", _ours(d5), repeat=5))
    if rscript_available():
        path = _csv(d5, n)
        out.append(Case(task, n, "R cmprsk::crr", lambda path=path: _r("fit <- crr(d$time, d$status, X)", path, "library(cmprsk)"),
                        measure_memory=False, note="O(n^2) per iteration; run once"))

    n = sizes["big"]
    out.append(Case(task, n, "bmstats", _ours(make_data(n)), repeat=1, note="target < 20 s, peak < 2 GB"))
    return out
