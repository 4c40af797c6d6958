"""Issue 2: a 1,000,000-patient CSV reads and validates in well under a minute (slow; `make test-all`)."""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

import bmstats as bm

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_one_million_patients_under_a_minute(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("bench_cohort", ROOT / "benchmarks" / "bench_cohort.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    pp, ep = bench.make_cohort_files(1_000_000, tmp_path)
    t0 = time.process_time()
    report = bm.validate(bm.read_cohort(pp, ep))
    cpu = time.process_time() - t0
    assert report.ok and report.n_patients == 1_000_000
    assert cpu < 60
