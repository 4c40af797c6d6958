"""Prediction-validation speed: bm.score and bm.calibration against riskRegression::Score, and
bm.bootstrap_validate.

- n = 200,000 validation rows, 3 models (risk columns), horizons at 3 times: ``score`` (AUC + Brier + IPA +
  contrasts, influence-function standard errors) vs ``riskRegression::Score(..., cens.model = "km",
  metrics = c("auc", "brier"), summary = "ipa")`` on the same risks (target: >= 10x faster); ``calibration``
  of the 3 models at one horizon vs the same Score call (target >= 10x).
- bootstrap_validate: 200 replicates of a 10-covariate Cox model on 20,000 rows, both cores (target < 60 s).

Data: 10 standard-normal covariates, proportional hazards, uniform censoring; the three "models" are noisy
versions of the true risk (times rounded to 3 decimals). R reads the same rows from a CSV written outside its
timing and times only Score.
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
_TMP = Path(tempfile.mkdtemp(prefix="bench_prediction_"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
TIMES = (2.0, 4.0, 6.0)


def make_data(n: int, seed: int = 20261130) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, P))
    beta = np.linspace(-0.3, 0.3, P)
    lp = X @ beta
    t = rng.exponential(1 / (0.1 * np.exp(lp)))
    c = rng.uniform(0, 15, n)
    d = pd.DataFrame(X, columns=[f"x{i}" for i in range(P)])
    d["time"] = np.round(np.minimum(t, c), 3)
    d["status"] = (t <= c).astype(int)
    for name, noise in (("m1", 0.1), ("m2", 0.3), ("m3", 0.6)):
        lp_k = lp + rng.normal(0, noise, n)
        for h in TIMES:
            d[f"{name}_{h:g}"] = -np.expm1(-0.1 * h * np.exp(lp_k))
    return d


def _csv(data: pd.DataFrame, n: int) -> str:
    path = _TMP / f"pred_{n}.csv"
    if not path.exists():
        data.to_csv(path, index=False)
    return str(path)


def _r_score(path: str, times: tuple) -> float:
    tt = ", ".join(f"{h:g}" for h in times)
    mats = ", ".join(f"{m} = as.matrix(d[, paste0('{m}_', c({tt}))])" for m in ("m1", "m2", "m3"))
    return run_rscript(
        "suppressPackageStartupMessages({library(riskRegression); library(survival)}); "
        f"d <- read.csv('{path}'); preds <- list({mats}); t0 <- proc.time()[['elapsed']]; "
        f"s <- Score(preds, formula = Surv(time, status) ~ 1, data = d, times = c({tt}), cens.model = 'km', "
        "metrics = c('auc', 'brier'), summary = 'ipa', conf.int = TRUE); "
        "cat('SECONDS', proc.time()[['elapsed']] - t0, '\\n')", timeout=7200)


def cases(quick: bool) -> list[Case]:
    import bmstats as bm

    n = 2_000 if quick else 200_000
    d = make_data(n)
    out: list[Case] = []
    task = "score: AUC + Brier + IPA + contrasts, 3 models x 3 times"
    preds = {m: d[[f"{m}_{h:g}" for h in TIMES]].to_numpy() for m in ("m1", "m2", "m3")}
    out.append(Case(task, n, "bmstats", lambda: bm.score(d, "time", "status", preds, times=list(TIMES)) and None,
                    repeat=2))
    task_c = "calibration: O/E, slope, rcs curve + ICI, 3 models at one time"
    cal = {m: d[f"{m}_{TIMES[1]:g}"].to_numpy() for m in ("m1", "m2", "m3")}
    out.append(Case(task_c, n, "bmstats",
                    lambda: bm.calibration(d, "time", "status", cal, time_horizon=TIMES[1]) and None, repeat=2))
    if rscript_available():
        path = _csv(d, n)
        out.append(Case(task, n, "R riskRegression::Score", lambda path=path: _r_score(path, TIMES),
                        measure_memory=False, note="run once"))
        out.append(Case(task_c, n, "R riskRegression::Score (1 time)",
                        lambda path=path: _r_score(path, (TIMES[1],)), measure_memory=False, note="run once"))
    nb = 2_000 if quick else 20_000
    db = make_data(nb)
    formula = " + ".join(f"x{i}" for i in range(P))
    reps = 10 if quick else 200
    out.append(Case(f"bootstrap_validate: {reps} replicates, Cox p={P}", nb, "bmstats",
                    lambda: bm.bootstrap_validate(lambda x: bm.cox(x, "time", "status", formula), db, "time",
                                                  "status", n_boot=reps, seed=1) and None,
                    measure_memory=False, note="both cores; target < 60 s"))
    return out
