"""Simulator speed (target: 200,000 patients in under 60 s).

Tasks: ``simulate_cohort`` (draw the cohort, build the canonical tables, integrate the truth, wrap in a
Cohort), ``write_simulation`` (the same plus CSV/JSON output, what ``bmstats simulate`` does), and the
truth integration alone (uncached).  There is no peer: no other package simulates this model, so the
rows report bmstats' own time and memory only.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from run import Case


def _simulate(n: int):
    def run():
        from bmstats.simulation import simulate_cohort

        simulate_cohort(n, 1)

    return run


def _write(n: int):
    folder = Path(tempfile.mkdtemp(prefix="bmstats_bench_simulate_"))
    atexit.register(shutil.rmtree, folder, True)

    def run():
        from bmstats.simulation import write_simulation

        write_simulation(n, 1, folder)

    return run


def _truth():
    from bmstats.simulation import parameters, truth

    p = parameters.resolve(None)

    def run():
        truth.cumulative_incidence_curves(p)

    return run


def cases(quick: bool) -> list[Case]:
    sizes = [20_000] if quick else [200_000, 1_000_000]
    out = []
    for n in sizes:
        out.append(Case("simulate cohort", n, "bmstats", _simulate(n), note="in memory, truth included"))
        out.append(Case("simulate + write CSV", n, "bmstats", _write(n), measure_memory=False))
    out.append(Case("simulation truth (integration)", 1, "bmstats", _truth(), repeat=3))
    return out
