"""Memory of the pandas path: peak bytes an estimator adds over the bytes of the columns it needs.

Target (issue 12, item 5): at most 3x. Data: benchmarks/registry_data.py's generator as a pandas DataFrame
(8 normal covariates, a 3-level string category, a binary column, two causes, integer days with heavy
ties), 5,000,000 rows (200,000 with --quick). Each estimator runs in a fresh process: the frame is built
first, then the call runs under tracemalloc (numpy's buffers are traced), and the peak traced bytes of the
call, the result kept alive, are divided by the bytes of the columns the estimator needs as float64 /
int64: time, status or event, and the design's columns after expansion (p = 11: 8 numeric, 2 dummies of
``grp``, ``bin``) for the regressions; time, status and the group codes for the curves. The whole
process's peak resident memory added by the call (VmHWM, reset before the call) is printed beside it.

Run by ``make bench`` (through benchmarks/run.py) or alone: ``python benchmarks/bench_memory.py [--quick]
[--n N] [--only NAME]``.
"""
from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT = 3.0
FORMULA = "x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + C(grp) + bin"
P_DESIGN = 11
TASKS = {
    "cox": ("Cox, Efron", 'bm.cox(df, "time", "event", FORMULA)', 2 + P_DESIGN),
    "cox_robust": ("Cox, Efron + robust variance", 'bm.cox(df, "time", "event", FORMULA, robust=True)',
                   2 + P_DESIGN),
    "fine_gray": ("Fine-Gray + sandwich variance", 'bm.fine_gray(df, "time", "status", FORMULA, cause=1)',
                  2 + P_DESIGN),
    "km": ("Kaplan-Meier, 3 groups", 'bm.kaplan_meier(df, "time", "event", by="grp")', 3),
    "cif": ("CIF + Gray's test, 3 groups", 'bm.cumulative_incidence(df, "time", "status", by="grp")', 3),
}


def frame(n: int):
    """The registry data as one pandas DataFrame (grp as Python strings, as read from a CSV)."""
    import pandas as pd

    sys.path.insert(0, str(HERE))
    from registry_data import CHUNK, chunk

    parts = [chunk(2024 + i, min(CHUNK, n - i * CHUNK)).to_pandas() for i in range((n + CHUNK - 1) // CHUNK)]
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return df.copy()  # consolidated blocks, as read_csv gives (pandas would consolidate inside the call)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def measure(task: str, n: int) -> dict:
    """In this (fresh) process: build the frame, run the task under tracemalloc, return the figures."""
    import bmstats as bm

    df = frame(n)
    code = TASKS[task][1]
    eval(code, {"bm": bm, "df": df.head(2000), "FORMULA": FORMULA})  # imports and caches are not the call's
    gc.collect()
    rss0 = _status_kb("VmRSS")
    try:  # reset the peak resident set size (Linux >= 4.0), so VmHWM is the peak of the call
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    tracemalloc.start()
    t0 = time.perf_counter()
    result = eval(code, {"bm": bm, "df": df, "FORMULA": FORMULA})
    seconds = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = _status_kb("VmHWM") - rss0
    del result
    columns = 8 * n * TASKS[task][2]
    return {"task": task, "n": n, "seconds": seconds, "peak": peak, "retained": current, "columns": columns,
            "ratio": peak / columns, "rss_added": rss_peak * 1024}


def run_child(task: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", task, "--n", str(n)], capture_output=True,
                         text=True, timeout=3600)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError((out.stderr or out.stdout).strip().splitlines()[-1][:300])


def describe(r: dict) -> str:
    verdict = "pass" if r["ratio"] <= LIMIT else "FAIL"
    return (f"peak {r['peak'] / 2**20:,.0f} MB traced = {r['ratio']:.2f}x the {r['columns'] / 2**20:,.0f} MB of "
            f"columns (limit {LIMIT:g}x: {verdict}); kept by the result {r['retained'] / 2**20:,.0f} MB; "
            f"peak RSS added {r['rss_added'] / 2**20:,.0f} MB")


def cases(quick: bool):
    """For benchmarks/run.py: one case per estimator, each run in its own process (seconds under tracing)."""
    from run import Case

    n = 200_000 if quick else 5_000_000
    out = []
    for key, (task, _, _) in TASKS.items():
        case = Case(f"memory: {task}", n, "bmstats", lambda: None, measure_memory=False)

        def run(key=key, case=case) -> float:
            r = run_child(key, n)
            case.note = describe(r) + " (seconds under tracemalloc)"
            return r["seconds"]

        case.run = run
        out.append(case)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int)
    parser.add_argument("--only")
    parser.add_argument("--child")
    args = parser.parse_args(argv)
    n = args.n or (200_000 if args.quick else 5_000_000)
    if args.child:
        print(json.dumps(measure(args.child, n)), flush=True)
        return 0
    failed = False
    for key, (task, _, _) in TASKS.items():
        if args.only and args.only not in key:
            continue
        r = run_child(key, n)
        failed |= r["ratio"] > LIMIT
        print(f"{task} (n={n:,}): {r['seconds']:.1f} s; {describe(r)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
