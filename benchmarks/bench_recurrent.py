"""Mean cumulative function of recurrent events: bmstats against R mets::recurrentMarginal (Ghosh-Lin,
no Python peer has it) and lifelines' NelsonAalenFitter (the naive cumulative rate, no robust variance).

Data: simulated counting-process rows (5 events per subject on average, 40% of subjects die; 1,000,000
events in about 1,200,000 rows), continuous times
so that mets' requirement of distinct jump times holds.
"""
from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from run import Case, rscript_available, run_rscript

SIZES = {True: 20_000, False: 1_000_000}  # recurrent events (rows with event = 1), approximately


@cache
def recurrent_rows(n_events: int, seed: int = 20261126) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_subjects = max(n_events // 5, 10)
    k = rng.poisson(5, n_subjects)
    sid = np.repeat(np.arange(n_subjects), k + 1)
    end = rng.uniform(100, 2000, n_subjects)
    first = np.r_[0, np.cumsum(k + 1)[:-1]]
    last = first + k
    t = rng.uniform(0, 1, len(sid)) * end[sid]
    t[last] = end
    t = t[np.lexsort((t, sid))]
    start = np.r_[0.0, t[:-1]]
    start[first] = 0.0
    event = np.ones(len(sid), dtype=np.int64)
    event[last] = 0
    terminal = np.zeros(len(sid), dtype=np.int64)
    terminal[last] = rng.uniform(size=n_subjects) < 0.4
    d = pd.DataFrame({"id": sid + 1, "start": start, "stop": t, "event": event, "terminal": terminal,
                      "group": np.where(sid % 2 == 0, "A", "B")})
    return d[d["stop"] > d["start"]].reset_index(drop=True)


@cache
def csv_path(n_events: int) -> str:
    path = Path(tempfile.gettempdir()) / f"bmstats_bench_recurrent_{n_events}.csv"
    if not path.exists():
        recurrent_rows(n_events).to_csv(path, index=False, float_format="%.17g")
    return str(path)


def cases(quick: bool) -> list[Case]:
    import bmstats as bm

    n = SIZES[quick]
    data = recurrent_rows(n)
    n_rows = len(data)  # the task's n: counting-process rows (about 5/6 of them events)
    cols = ("id", "start", "stop", "event")
    out = [
        Case("mean cumulative function, Ghosh-Lin with SE", n_rows, "bmstats",
             lambda: bm.mean_cumulative_function(data, *cols, terminal="terminal") and None, repeat=2),
        Case("mean cumulative function, Ghosh-Lin with SE, 2 groups", n_rows, "bmstats",
             lambda: bm.mean_cumulative_function(data, *cols, terminal="terminal", by="group") and None, repeat=2),
        Case("mean cumulative function, Nelson-Aalen", n_rows, "bmstats",
             lambda: bm.mean_cumulative_function(data, *cols, terminal="terminal", method="nelson-aalen") and None, repeat=2,
             note="with robust (Lawless-Nadeau) SE"),
    ]
    try:
        from lifelines import NelsonAalenFitter

        def lifelines_na():
            NelsonAalenFitter().fit(data["stop"], data["event"], entry=data["start"])

        out.append(Case("mean cumulative function, Nelson-Aalen", n_rows, "lifelines NelsonAalenFitter",
                        lifelines_na, note="no robust SE; Greenwood-type variance only"))
    except ImportError:
        pass
    if rscript_available():
        def mets_gl(by_group: bool = False):
            def run():
                rhs = "strata(group) + cluster(id)" if by_group else "cluster(id)"
                code = f"""
suppressPackageStartupMessages(library(mets))
d <- read.csv("{csv_path(n)}")
t0 <- proc.time()[[3]]
xr <- phreg(Surv(start, stop, event) ~ {rhs}, data = d)
dr <- phreg(Surv(start, stop, terminal) ~ {rhs}, data = d)
m <- recurrentMarginal(xr, dr)
cat("SECONDS", proc.time()[[3]] - t0, "\\n")
"""
                return run_rscript(code)
            return run

        out.append(Case("mean cumulative function, Ghosh-Lin with SE", n_rows, "R mets::recurrentMarginal",
                        mets_gl(), measure_memory=False, note="phreg x2 + recurrentMarginal"))
        out.append(Case("mean cumulative function, Ghosh-Lin with SE, 2 groups", n_rows,
                        "R mets::recurrentMarginal", mets_gl(True), measure_memory=False,
                        note="strata(group)"))
    return out
