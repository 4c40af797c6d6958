"""Absolute risk from cause-specific Cox models with standard errors: bm.predict_risk against
``riskRegression::predict(CSC(...), newdata, times, cause = 1, se = TRUE)``.

Rotterdam (2,982 patients, relapse and death without relapse, 5 covariates + strata(size)); newdata = every
patient, at 4 times (11,928 risks with standard errors). R reads the data outside its timing and times the
prediction only (the CSC fit is made before the clock starts; bmstats' fit is made outside the timed call too).
"""
from __future__ import annotations

from pathlib import Path

from run import Case, rscript_available, run_rscript

TIMES = (365, 1000, 2000, 5000)
RHS = "age + meno + grade + np.log(nodes + 1) + hormon + strata(size)"
R_RHS = "age + meno + grade + log(nodes + 1) + hormon + strata(size)"
ROTTERDAM = Path(__file__).resolve().parents[1] / "datasets" / "rotterdam.csv"


def _r_predict() -> float:
    tt = ", ".join(map(str, TIMES))
    return run_rscript(
        "suppressPackageStartupMessages({library(riskRegression); library(survival); library(prodlim)}); "
        f"d <- read.csv('{ROTTERDAM}'); d$size <- factor(d$size); "
        "d$t <- ifelse(d$recur == 1, d$rtime, d$dtime); d$st <- ifelse(d$recur == 1, 1, ifelse(d$death == 1, 2, 0)); "
        f"fit <- CSC(Hist(t, st) ~ {R_RHS}, data = d); t0 <- proc.time()[['elapsed']]; "
        f"p <- predict(fit, newdata = d, times = c({tt}), cause = 1, se = TRUE); "
        "cat('SECONDS', proc.time()[['elapsed']] - t0, '\\n')", timeout=3600)


def cases(quick: bool) -> list[Case]:
    import numpy as np

    import bmstats as bm
    from bmstats.datasets import load_rotterdam

    d = load_rotterdam()
    d["t"] = np.where(d.recur == 1, d.rtime, d.dtime)
    d["st"] = np.where(d.recur == 1, 1, np.where(d.death == 1, 2, 0))
    fit = bm.competing_risks_models(d, "t", "st", RHS, fine_gray=False)
    newdata = d.iloc[:300] if quick else d
    task = f"absolute risk + std_err, CSC with strata, {len(TIMES)} times"
    out = [Case(task, len(newdata), "bmstats",
                lambda: (bm.predict_risk(fit, newdata, list(TIMES), cause=1), None)[1]),
           Case(f"absolute risk only, CSC with strata, {len(TIMES)} times", len(newdata), "bmstats",
                lambda: (bm.predict_risk(fit, newdata, list(TIMES), cause=1, conf_int=False), None)[1], repeat=3)]
    if rscript_available() and not quick:
        out.append(Case(task, len(newdata), "R riskRegression::predict.CauseSpecificCox(se = TRUE)", _r_predict,
                        measure_memory=False, note="run once"))
    return out
