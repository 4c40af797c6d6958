"""Benchmark runner: `make bench` (or `python benchmarks/run.py [--quick] [--only TEXT]`).

Every ``benchmarks/bench_*.py`` module defines ``cases(quick: bool) -> list[Case]``.  Cases of one task
(same ``task`` and ``n``) are run side by side in this one process and printed as a table of wall time,
peak traced memory and the ratio of each peer's time to bmstats' time (ratio > 1: bmstats is faster).
Timing and memory are measured in separate runs so that tracing does not slow the timed run.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import platform
import shutil
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

HERE = Path(__file__).resolve().parent


@dataclass
class Case:
    task: str
    n: int
    tool: str  # "bmstats" for ours; peers by name, e.g. "lifelines", "R survival::survfit"
    run: Callable[[], float | None]
    """Runs the work once. Returns None to be timed by the runner, or the seconds it measured itself
    (external tools such as Rscript time their own computation, excluding start-up and data loading)."""
    repeat: int = 1
    measure_memory: bool = True
    note: str = ""
    peak_mb: float | None = field(default=None)


def rscript_available() -> bool:
    return shutil.which("Rscript") is not None


def run_rscript(code: str, timeout: float = 3600) -> float:
    """Run R code that prints one line 'SECONDS <x>' and return x."""
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=timeout)
    for line in out.stdout.splitlines():
        if line.startswith("SECONDS"):
            return float(line.split()[1])
    raise RuntimeError(f"Rscript gave no timing:\n{out.stdout}\n{out.stderr}")


def _time(case: Case) -> float:
    best = float("inf")
    for _ in range(case.repeat):
        gc.collect()
        t0 = time.perf_counter()
        own = case.run()
        elapsed = time.perf_counter() - t0
        best = min(best, own if own is not None else elapsed)
    return best


def _peak_mb(case: Case) -> float | None:
    if not case.measure_memory:
        return None
    gc.collect()
    tracemalloc.start()
    try:
        if case.run() is not None:
            return None  # external process: its memory is not ours to trace
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def load_cases(quick: bool, only: str | None) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        cases.extend(module.cases(quick))
    if only:
        cases = [c for c in cases if only.lower() in c.task.lower() or only.lower() in c.tool.lower()]
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for checking the harness")
    parser.add_argument("--only", help="run only tasks or tools whose name contains this text")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.md")
    args = parser.parse_args(argv)

    header = f"bmstats benchmarks on {platform.node()} ({platform.machine()}, Python {platform.python_version()})"
    print(header, flush=True)
    rows = []
    for case in load_cases(args.quick, args.only):
        print(f"  {case.task} (n={case.n:,}) - {case.tool} ...", end="", flush=True)
        try:
            seconds = _time(case)
            peak = _peak_mb(case)
            err = ""
        except Exception as exc:  # noqa: BLE001 (a peer failing is a result to report, not a crash)
            seconds, peak, err = float("nan"), None, f"{type(exc).__name__}: {exc}"[:80]
        print(f" {seconds:.3f} s" + (f" ({err})" if err else ""), flush=True)
        rows.append((case, seconds, peak, err))

    ours = {(c.task, c.n): s for c, s, _, _ in rows if c.tool == "bmstats"}
    lines = [header, "", "| task | n | tool | seconds | peak MB | peer / bmstats | note |", "|---|---:|---|---:|---:|---:|---|"]
    for case, seconds, peak, err in rows:
        base = ours.get((case.task, case.n))
        ratio = "" if case.tool == "bmstats" or base is None or base != base else f"{seconds / base:.2f}"
        mem = "" if peak is None else f"{peak:.0f}"
        note = "; ".join(x for x in (case.note, err) if x)
        lines.append(f"| {case.task} | {case.n:,} | {case.tool} | {seconds:.3f} | {mem} | {ratio} | {note} |")
    table = "\n".join(lines)
    print("\n" + table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
