"""Registry scale: estimators run from a Parquet file through DuckDB, against R reading the same data.

Data (benchmarks/registry_data.py): n rows, p = 10 (8 normal covariates, a 3-level category, a binary one),
two causes, integer days (heavy ties), written as Parquet (and CSV for R, which data.table::fread reads
before R's clock starts). Each side runs in its own process, which reports the seconds of the analysis and
the peak resident memory of the whole process (VmHWM), so that DuckDB's memory counts for bmstats and the
data frame counts for R; the modules a fit imports are imported before the clock starts (as R's library()
calls are not timed either). Sizes: 10,000,000 rows (200,000 with --quick); set BMSTATS_BENCH_RECORD=1 for
the 100,000,000-row record run of Cox (model-based and robust variance) and Fine-Gray with its sandwich
variance (bmstats only: R cannot hold the data here), `make bench-record` for the record alone.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from run import Case, rscript_available

HERE = Path(__file__).resolve().parent
FORMULA = "x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + C(grp) + bin"
R_FORMULA = "x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + factor(grp) + bin"

PY_TASKS = {
    "cox": 'bm.cox(path, "time", "event", FORMULA)',
    "cox_robust": 'bm.cox(path, "time", "event", FORMULA, robust=True)',
    "fine_gray": 'bm.fine_gray(path, "time", "status", FORMULA, cause=1)',
    "km": 'bm.kaplan_meier(path, "time", "event", by="grp")',
    "cif": 'bm.cumulative_incidence(path, "time", "status", by="grp")',
    # events per person-time: the 0/1 event over the follow-up time in days
    "poisson": 'bm.rate_regression(path, "event", "time", FORMULA)',
    "mcf": 'bm.mean_cumulative_function(path, "id", "start", "stop", "event", by="grp", method="nelson-aalen")',
    "mcf_gl": 'bm.mean_cumulative_function(path, "id", "start", "stop", "event", terminal="terminal", by="grp")',
}
# the same calls on a pandas frame read before the clock starts (the in-memory path)
PANDAS_TASKS = {"poisson", "mcf", "mcf_gl"}
# coxph(..., robust = TRUE) is not run at 10,000,000 rows: it had not finished after 28 minutes on this machine
# (2026-11-30), against 72 s for the model-based fit; the robust fit is timed for bmstats alone.
R_TASKS = {
    "cox": f"coxph(Surv(time, event) ~ {R_FORMULA}, data = d)",
    "km": "survfit(Surv(time, event) ~ grp, data = d)",
    "cif": "cuminc(d$time, d$status, d$grp)",
    "poisson": f"glm(event ~ {R_FORMULA} + offset(log(time)), family = poisson, data = d)",
    # the robust (infinitesimal jackknife) standard error of the Nelson-Aalen mean cumulative function
    "mcf": "survfit(Surv(start, stop, event) ~ grp, data = d, id = id)",
}
RECURRENT = {"mcf", "mcf_gl"}


def data_path(n: int) -> Path:
    sys.path.insert(0, str(HERE))
    from registry_data import make

    return make(Path(tempfile.gettempdir()) / f"bmstats_registry_{n}.parquet", n)


def recurrent_path(n: int) -> Path:
    sys.path.insert(0, str(HERE))
    from registry_data import make_recurrent

    return make_recurrent(Path(tempfile.gettempdir()) / f"bmstats_recurrent_{n}.parquet", n)


def csv_path(n: int, recurrent: bool = False) -> Path:
    name = "recurrent" if recurrent else "registry"
    csv = Path(tempfile.gettempdir()) / f"bmstats_{name}_{n}.csv"
    if not csv.exists():
        import duckdb

        source = recurrent_path(n) if recurrent else data_path(n)
        duckdb.connect().execute(f"COPY (SELECT * FROM '{source}') TO '{csv}' (HEADER)")
    return csv


def _report(out: subprocess.CompletedProcess, case: Case) -> float:
    seconds = peak = None
    for line in out.stdout.splitlines():
        if line.startswith("SECONDS"):
            seconds = float(line.split()[1])
        if line.startswith("PEAK_MB"):
            peak = float(line.split()[1])
    if seconds is None:
        raise RuntimeError((out.stderr or out.stdout).strip().splitlines()[-1][:200])
    if peak:
        base = case.note.split("; peak RSS")[0]
        case.note = f"{base}; peak RSS {peak:,.0f} MB (whole process)"
    return seconds


# the modules an engine fit imports on first use: imported before the clock starts, as R's library() calls are
WARM_UP = ("import duckdb, pyarrow, pandas, scipy.stats, formulaic\n"
           "import bmstats.engine.models, bmstats.estimate.cox, bmstats.estimate.finegray\n"
           "import bmstats.estimate.km, bmstats.estimate.cif, bmstats.estimate.mcf, bmstats.estimate.rate_regression\n")


def python_case(task: str, n: int, key: str, pandas: bool = False, env: dict | None = None,
                note: str | None = None) -> Case:
    source = recurrent_path(n) if key in RECURRENT else data_path(n)
    code = (
        "import resource, sys, time\n"
        "import bmstats as bm\n"
        + WARM_UP +
        f"FORMULA = {FORMULA!r}\n"
        f"path = {str(source)!r}\n"
        + ("import pandas as pd\npath = pd.read_parquet(path)\n" if pandas else "")
        + "t0 = time.perf_counter()\n"
        f"{PY_TASKS[key]}\n"
        "print('SECONDS', time.perf_counter() - t0)\n"
        "print('PEAK_MB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    if note is None:
        note = "in memory, reading not timed" if pandas else "DuckDB, from Parquet"
    case = Case(task, n, "bmstats (pandas)" if pandas else "bmstats", lambda: None, measure_memory=False, note=note)

    def run() -> float:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600,
                             env={**os.environ, **(env or {})})
        return _report(out, case)

    case.run = run
    return case


def r_case(task: str, n: int, key: str) -> Case:
    code = (
        "suppressMessages({library(survival); library(cmprsk); library(data.table)})\n"
        f"d <- as.data.frame(fread('{csv_path(n, key in RECURRENT)}'))\n"
        f"t0 <- proc.time()[['elapsed']]; fit <- {R_TASKS[key]}; t1 <- proc.time()[['elapsed']]\n"
        "cat('SECONDS', t1 - t0, '\\n')\n"
        "hwm <- grep('VmHWM', readLines('/proc/self/status'), value = TRUE)\n"
        "cat('PEAK_MB', as.numeric(gsub('[^0-9]', '', hwm)) / 1024, '\\n')\n"
    )
    case = Case(task, n, f"R {R_TASKS[key].split('(')[0]}", lambda: None, measure_memory=False,
                note="R's reading not timed")

    def run() -> float:
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=7200)
        return _report(out, case)

    case.run = run
    return case


def cases(quick: bool) -> list[Case]:
    if os.environ.get("BMSTATS_BENCH_RECORD") == "only":
        return record_cases()
    n = 200_000 if quick else 10_000_000
    names = {"cox": "Cox, Efron, p = 10, from Parquet", "cox_robust": "Cox + robust variance, from Parquet",
             "fine_gray": "Fine-Gray + sandwich variance, from Parquet", "km": "Kaplan-Meier, 3 groups, from Parquet",
             "cif": "CIF + Gray's test, 3 groups, from Parquet",
             "poisson": "Poisson rate regression, p = 10, from Parquet",
             "mcf": "MCF (Nelson-Aalen, robust SE), 3 groups, recurrent rows, from Parquet",
             "mcf_gl": "MCF (Ghosh-Lin, deaths), 3 groups, recurrent rows, from Parquet"}
    out = []
    for key, task in names.items():
        out.append(python_case(task, n, key))
        if key in PANDAS_TASKS:
            out.append(python_case(task, n, key, pandas=True))
        # the Fine-Gray target is set against R's coxph on the same data (crr does not finish at this size)
        r_key = "cox" if key == "fine_gray" else key
        if rscript_available() and r_key in R_TASKS:
            out.append(r_case(task, n, r_key))
    if os.environ.get("BMSTATS_BENCH_RECORD") == "1":
        out += record_cases()
    return out


def record_cases() -> list[Case]:
    """The 100,000,000-row record (issue 12: Cox and Fine-Gray with variances in under 5 minutes within 4 GB of
    the whole process on this 2-core machine): DuckDB held below 3 GB, spilling to a temporary folder."""
    big = 100_000_000
    env = {"BMSTATS_DUCKDB_MEMORY_LIMIT": os.environ.get("BMSTATS_DUCKDB_MEMORY_LIMIT", "3GB"),
           "BMSTATS_DUCKDB_TEMP_DIRECTORY": os.environ.get("BMSTATS_DUCKDB_TEMP_DIRECTORY",
                                                           str(Path(tempfile.gettempdir()) / "bmstats_spill"))}
    note = f"DuckDB (memory_limit {env['BMSTATS_DUCKDB_MEMORY_LIMIT']}, spilling), from Parquet; record run"
    return [python_case("Cox, Efron, p = 10, from Parquet", big, "cox", env=env, note=note),
            python_case("Cox + robust variance, from Parquet", big, "cox_robust", env=env, note=note),
            python_case("Fine-Gray + sandwich variance, from Parquet", big, "fine_gray", env=env, note=note)]
