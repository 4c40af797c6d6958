"""The cohort layer at scale: a 1,000,000-patient CSV reads and validates correctly (slow; CI runs it with `make test-slow`).

Its speed is measured in benchmarks/bench_cohort.py, not asserted here."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import bmstats as bm

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_one_million_patients_read_and_validate(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("bench_cohort", ROOT / "benchmarks" / "bench_cohort.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    pp, ep = bench.make_cohort_files(1_000_000, tmp_path)
    report = bm.validate(bm.read_cohort(pp, ep))
    assert report.ok and report.n_patients == 1_000_000
