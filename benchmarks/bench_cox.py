"""Cox regression (Efron ties, p = 10): bmstats against R survival::coxph, lifelines CoxPHFitter,
statsmodels PHReg and scikit-survival CoxPHSurvivalAnalysis.

Data: simulated, 10 normal covariates, exponential event times with log hazard ratios 0.1..0.5 and -0.1..-0.5,
uniform censoring (about 50% events), times rounded to days (ties, as in registry data). R times only its
``coxph`` call (the data are read before the clock starts); coxph also computes the concordance inside the
fit, bmstats computes it lazily on first access (not timed here). The Python peers are also run at a
smaller n because some of them are slow at 200,000 rows. R's ``coxph(robust = TRUE)`` (one cluster per row)
is run only at the smaller n: it took 596 s at 200,000 rows in one run (bmstats: about 1 s).
"""
from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from run import Case, rscript_available, run_rscript

P = 10
SIZES = {True: (5_000,), False: (20_000, 200_000)}
COVS = [f"x{j}" for j in range(P)]
FORMULA = " + ".join(COVS)


@cache
def cox_data(n: int, seed: int = 20261126) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, P))
    beta = np.r_[np.linspace(0.1, 0.5, P // 2), -np.linspace(0.1, 0.5, P - P // 2)]
    t_event = rng.exponential(1 / np.exp(X @ beta)) * 1000
    t_cens = rng.uniform(0, 2000, n)
    time = np.ceil(np.minimum(t_event, t_cens))
    d = pd.DataFrame(X, columns=COVS)
    d["time"] = time
    d["event"] = (t_event <= t_cens).astype(np.int64)
    return d


@cache
def csv_path(n: int) -> str:
    path = Path(tempfile.gettempdir()) / f"bmstats_bench_cox_{n}.csv"
    if not path.exists():
        cox_data(n).to_csv(path, index=False, float_format="%.17g")
    return str(path)


def cases(quick: bool) -> list[Case]:
    import bmstats as bm

    out: list[Case] = []
    for n in SIZES[quick]:
        data = cox_data(n)
        task = f"Cox regression, Efron ties, p = {P}"
        out.append(Case(task, n, "bmstats", lambda data=data: bm.cox(data, "time", "event", FORMULA) and None,
                        repeat=3))
        out.append(Case(task, n, "bmstats + concordance",
                        lambda data=data: bm.cox(data, "time", "event", FORMULA).concordance and None, repeat=2,
                        note="as coxph, which computes it in the fit"))
        out.append(Case(task + " + robust SE", n, "bmstats",
                        lambda data=data: bm.cox(data, "time", "event", FORMULA, robust=True) and None, repeat=2))
        if rscript_available():
            def r_coxph(n=n, robust=False):
                code = f"""
suppressPackageStartupMessages(library(survival))
d <- read.csv("{csv_path(n)}")
t0 <- proc.time()[["elapsed"]]
fit <- coxph(Surv(time, event) ~ {FORMULA}, data = d, ties = "efron"{", robust = TRUE" if robust else ""})
cat("SECONDS", proc.time()[["elapsed"]] - t0, "\\n")
"""
                return run_rscript(code)

            out.append(Case(task, n, "R survival::coxph", r_coxph, measure_memory=False,
                            note="includes coxph's concordance"))
            if n <= 20_000:  # coxph(robust = TRUE) took 596 s at n = 200,000 in one run here
                out.append(Case(task + " + robust SE", n, "R survival::coxph",
                                lambda n=n: r_coxph(n, robust=True), measure_memory=False))
        if n <= 20_000 or not quick:
            out.extend(_python_peers(task, n, data))
    return out


def _python_peers(task: str, n: int, data: pd.DataFrame) -> list[Case]:
    peers: list[Case] = []
    try:
        from lifelines import CoxPHFitter

        peers.append(Case(task, n, "lifelines CoxPHFitter",
                          lambda: CoxPHFitter().fit(data, "time", "event", formula=FORMULA) and None))
    except ImportError:
        pass
    try:
        from statsmodels.duration.hazard_regression import PHReg

        peers.append(Case(task, n, "statsmodels PHReg",
                          lambda: PHReg(data["time"].to_numpy(), data[COVS].to_numpy(),
                                        status=data["event"].to_numpy(), ties="efron").fit() and None))
    except ImportError:
        pass
    try:
        from sksurv.linear_model import CoxPHSurvivalAnalysis
        from sksurv.util import Surv

        y = Surv.from_arrays(data["event"].astype(bool).to_numpy(), data["time"].to_numpy())
        peers.append(Case(task, n, "scikit-survival CoxPHSurvivalAnalysis",
                          lambda: CoxPHSurvivalAnalysis(ties="efron").fit(data[COVS].to_numpy(), y) and None,
                          note="no standard errors"))
    except ImportError:
        pass
    return peers
