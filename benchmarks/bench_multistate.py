"""Illness-death model: state occupation probabilities with standard errors, bmstats against R's
``survfit(Surv(tstart, tstop, state) ~ 1, id, istate)`` on the same rows (read from one CSV; reading is
excluded from R's time and from ours).  Times in whole days over 20 years, so there are many ties, as in
cohort data.  R's computation is O(n K S) in the number of subjects n and distinct times K; ours is
O(n log K + K S^3) (bmstats.estimate.state_occupation)."""
from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from run import Case, rscript_available, run_rscript

_rows: dict[int, pd.DataFrame] = {}
_paths: dict[int, Path] = {}


def illness_death_rows(n: int, seed: int = 16) -> pd.DataFrame:
    """Rows of n patients: free -> bone_metastasis -> death, free -> death, censoring; 5% start with bone metastasis."""
    if n in _rows:
        return _rows[n]
    rng = np.random.default_rng(seed)
    fu = rng.integers(30, 7300, n)
    t_bm = np.ceil(rng.exponential(9000, n)).astype(int)
    t_death = np.ceil(rng.exponential(6000, n)).astype(int)
    t_after = np.ceil(rng.exponential(900, n)).astype(int)
    at_dx = rng.random(n) < 0.05
    ill = ~at_dx & (t_bm < np.minimum(t_death, fu))
    ids = np.arange(n)
    # first rows
    end1 = np.where(ill, t_bm, np.where(at_dx, np.minimum(t_after, fu), np.minimum(t_death, fu)))
    from1 = np.where(at_dx, "bone_metastasis", "free")
    dead1 = np.where(at_dx, t_after <= fu, t_death <= fu)
    to1 = np.where(ill, "bone_metastasis", np.where(dead1, "death", None))
    # second rows (after bone metastasis)
    i2 = ids[ill]
    end2 = np.minimum(t_bm[ill] + t_after[ill], fu[ill])
    keep2 = end2 > t_bm[ill]
    i2, end2 = i2[keep2], end2[keep2]
    to2 = np.where(t_bm[i2] + t_after[i2] <= fu[i2], "death", None)
    rows = pd.concat([
        pd.DataFrame({"id": ids, "start": 0.0, "stop": end1.astype(float), "from_state": from1, "to_state": to1}),
        pd.DataFrame({"id": i2, "start": t_bm[i2].astype(float), "stop": end2.astype(float),
                      "from_state": "bone_metastasis", "to_state": to2}),
    ], ignore_index=True)
    # a bone metastasis on the day follow-up ends is not a transition (no zero-length row): patients whose
    # second row was dropped stay free, censored at the end
    lone = ill.copy()
    lone[i2] = False
    rows.loc[rows["id"].isin(ids[lone]) & (rows["start"] == 0), "to_state"] = None
    rows = rows.sort_values(["id", "start"], kind="stable").reset_index(drop=True)
    _rows[n] = rows
    return rows


def _csv(n: int) -> Path:
    if n not in _paths:
        folder = Path(tempfile.mkdtemp(prefix=f"bmstats_bench_ms_{n}_"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "rows.csv"
        illness_death_rows(n).to_csv(path, index=False)
        _paths[n] = path
    return _paths[n]


def _ours(n: int):
    def run() -> float:
        import bmstats as bm

        rows = illness_death_rows(n)
        t0 = time.perf_counter()
        bm.state_occupation(rows, id="id", initial="free")
        return time.perf_counter() - t0

    return run


def _r(n: int):
    def run() -> float:
        path = _csv(n)
        code = (
            "suppressPackageStartupMessages(library(survival));"
            f"d <- read.csv('{path}', stringsAsFactors = FALSE);"
            "d$to_state[is.na(d$to_state) | d$to_state == ''] <- 'censor';"
            "d$state <- factor(d$to_state, levels = c('censor', 'bone_metastasis', 'death'));"
            "d$istate <- factor(d$from_state, levels = c('free', 'bone_metastasis', 'death'));"
            "t0 <- proc.time()[['elapsed']];"
            "f <- survfit(Surv(start, stop, state) ~ 1, data = d, id = id, istate = istate);"
            "t1 <- proc.time()[['elapsed']]; cat('SECONDS', t1 - t0, '\\n')"
        )
        return run_rscript(code)

    return run


def cases(quick: bool) -> list[Case]:
    n = 10_000 if quick else 1_000_000
    task = "state occupation (Aalen-Johansen + IJ std.err), illness-death"
    out = [Case(task, n, "bmstats", _ours(n), repeat=1 if n > 100_000 else 3, measure_memory=False,
                note="self-timed; rows built in memory")]
    if rscript_available():
        out.append(Case(task, n, "R survival::survfit (id, istate)", _r(n), measure_memory=False,
                        note="self-timed inside R; CSV reading excluded"))
    return out
