"""Cohort layer: read + validate a large cohort CSV (target: 1,000,000 patients in well under a minute),
and deriving an endpoint and the recurrent-event rows from the cohort read.

The cohort files are generated on first use into a temporary folder (never into the repository): the
30-patient fixture tests/data/valid_*.csv tiled with new patient ids and shifted dates, so that every
rule has real work.  Each case times itself (file generation excluded).  Peer: ``pandas.read_csv`` of the
same files with default type inference, the floor for just reading them.

The cohort at scale (1,000,000 synthetic patients from ``bm.simulate_cohort``, Parquet; 50,000 with --quick):
read + endpoint + cumulative incidence with the tables and the derived rows kept in DuckDB
(``read_cohort(..., engine="duckdb")``) against the pandas cohort, each in its own process reporting wall
time and peak resident memory (VmHWM) of the whole process.
"""
from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from run import Case

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data"
_made: dict[int, tuple[Path, Path]] = {}


def make_cohort_files(n: int, folder: Path | None = None, seed: int = 1) -> tuple[Path, Path]:
    """Write an n-patient cohort (patients.csv, skeletal_events.csv) and return the two paths."""
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix=f"bmstats_bench_cohort_{n}_"))
        atexit.register(shutil.rmtree, folder, True)
    p0 = pd.read_csv(FIXTURES / "valid_patients.csv", dtype=str, keep_default_na=False)
    e0 = pd.read_csv(FIXTURES / "valid_skeletal_events.csv", dtype=str, keep_default_na=False)
    reps = -(-n // len(p0))
    rng = np.random.default_rng(seed)
    p = pd.concat([p0] * reps, ignore_index=True).iloc[:n].copy()
    copy_no = np.repeat(np.arange(reps), len(p0))[:n]
    shift = pd.to_timedelta(rng.integers(0, 3000, reps), unit="D")
    old_ids = p["patient_id"].copy()
    p["patient_id"] = "S" + pd.Series(np.arange(n), dtype="int64").astype(str).str.zfill(8)
    date_cols = [c for c in p.columns if c.endswith("_date")]
    for c in date_cols:
        d = pd.to_datetime(p[c].replace("", None))
        p[c] = (d + shift[copy_no]).dt.strftime("%Y-%m-%d").fillna("")
    # events: every copy of a fixture patient gets that patient's events, shifted alike
    key = pd.DataFrame({"old": old_ids.to_numpy(), "new": p["patient_id"].to_numpy(), "copy": copy_no})
    e = e0.merge(key, left_on="patient_id", right_on="old")
    e["event_date"] = (pd.to_datetime(e["event_date"]) + shift[e["copy"].to_numpy()]).dt.strftime("%Y-%m-%d")
    e = e.sort_values(["copy", "new"], kind="stable").assign(patient_id=lambda x: x["new"])[list(e0.columns)]
    folder.mkdir(parents=True, exist_ok=True)
    pp, ep = folder / "patients.csv", folder / "skeletal_events.csv"
    p.to_csv(pp, index=False)
    e.to_csv(ep, index=False)
    return pp, ep


def _files(n: int) -> tuple[Path, Path]:
    if n not in _made:
        _made[n] = make_cohort_files(n)
    return _made[n]


def _ours(n: int):
    def run() -> float:
        import bmstats as bm

        pp, ep = _files(n)
        t0 = time.perf_counter()
        report = bm.validate(bm.read_cohort(pp, ep))
        seconds = time.perf_counter() - t0
        if not report.ok:
            raise RuntimeError(f"benchmark cohort should be valid: {report.errors.head()}")
        return seconds

    return run


def _pandas(n: int):
    def run() -> float:
        pp, ep = _files(n)
        t0 = time.perf_counter()
        pd.read_csv(pp)
        pd.read_csv(ep)
        return time.perf_counter() - t0

    return run


_cohorts: dict = {}


def _cohort(n: int):
    if n not in _cohorts:
        import bmstats as bm

        _cohorts[n] = bm.read_cohort(*_files(n))
    return _cohorts[n]


def _derive(n: int, what: str):
    def run() -> float:
        cohort = _cohort(n)
        t0 = time.perf_counter()
        if what == "endpoint":
            cohort.endpoint("bone_metastasis", competing=["death"], covariates=["age", "subtype"])
        elif what == "time_varying":  # target: 1,000,000 patients, three exposures, under 10 s
            cohort.endpoint("death", time_varying={"bm": "bm_date", "bta": "bta_start_date", "sre": "skeletal_event"})
        else:
            cohort.recurrent_events(window_days=21, covariates=["age", "subtype"])
        return time.perf_counter() - t0

    return run


# -- the endpoint at registry scale: built in DuckDB from Parquet vs the pandas cohort ---------------------------
# Each side runs in its own process and reports its wall time and the peak resident memory of the whole process
# (VmHWM), so that DuckDB's memory counts.  The synthetic cohort (bm.simulate_cohort) is written once to
# Parquet in the temporary folder; reading it is timed on both sides (the engine reads it lazily, inside the
# queries; the pandas path reads it into the Cohort's frames).
SCALE_TASKS = {
    "engine": (
        "c = bm.read_cohort(pp, ep, engine='duckdb')\n"
        "rows = c.endpoint('bone_metastasis', competing=['death'], covariates=['age', 'subtype'])\n"
    ),
    "pandas": (
        "c = bm.read_cohort(pp, ep)\n"
        "rows = c.endpoint('bone_metastasis', competing=['death'], covariates=['age', 'subtype'])\n"
    ),
}
ESTIMATE = "fit = bm.cumulative_incidence(rows, 'time', 'status', by='subtype')\n"


def scale_files(n: int) -> tuple[Path, Path]:
    """patients.parquet and skeletal_events.parquet of an n-patient synthetic cohort (made once, kept in /tmp)."""
    folder = Path(tempfile.gettempdir()) / f"bmstats_bench_cohort_scale_{n}"
    pp, ep = folder / "patients.parquet", folder / "skeletal_events.parquet"
    if not (pp.exists() and ep.exists()):
        import bmstats as bm

        folder.mkdir(parents=True, exist_ok=True)
        c = bm.simulate_cohort(n, seed=12)
        for frame, path in ((c.patients, pp), (c.events, ep)):
            frame.attrs.clear()
            frame.to_parquet(path, index=False)
    return pp, ep


def scale_case(n: int, side: str) -> Case:
    code = (
        "import resource, time\n"
        "import bmstats as bm\n"
        f"pp, ep = {str(scale_files(n)[0])!r}, {str(scale_files(n)[1])!r}\n"
        "t0 = time.perf_counter()\n"
        f"{SCALE_TASKS[side]}{ESTIMATE}"
        "print('SECONDS', time.perf_counter() - t0)\n"
        "print('PEAK_MB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    tool = "bmstats, engine='duckdb'" if side == "engine" else "bmstats"
    note = ("rows built and aggregated in DuckDB" if side == "engine" else "pandas cohort, rows in pandas")
    case = Case("cohort at scale: read + endpoint (bm, competing death) + CIF by subtype, from Parquet", n,
                tool, lambda: None, measure_memory=False, note=note)

    def run() -> float:
        from bench_engine import _report  # SECONDS and PEAK_MB lines of the subprocess, as the engine cases

        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
        return _report(out, case)

    case.run = run
    return case


def cases(quick: bool) -> list[Case]:
    out = []
    for n in ([10_000] if quick else [100_000, 1_000_000]):
        task = "cohort: read_cohort + validate (CSV)"
        repeat = 3 if n <= 100_000 else 1
        out.append(Case(task, n, "bmstats", _ours(n), repeat=repeat, measure_memory=False,
                        note="self-timed; file generation excluded"))
        out.append(Case(task, n, "pandas.read_csv only", _pandas(n), repeat=repeat, measure_memory=False,
                        note="reading alone, no canonical types or checks"))
        out.append(Case("cohort: endpoint (bm, competing death)", n, "bmstats", _derive(n, "endpoint"), repeat=repeat,
                        measure_memory=False, note="self-timed; cohort read excluded"))
        out.append(Case("cohort: endpoint, 3 time-varying exposures (tmerge rows)", n, "bmstats",
                        _derive(n, "time_varying"), repeat=repeat, measure_memory=False,
                        note="self-timed; all patient columns carried; cohort read excluded"))
        out.append(Case("cohort: recurrent_events (21-day window)", n, "bmstats", _derive(n, "recurrent"), repeat=repeat,
                        measure_memory=False, note="self-timed; cohort read excluded"))
    n = 50_000 if quick else 1_000_000
    out += [scale_case(n, "engine"), scale_case(n, "pandas")]
    return out
