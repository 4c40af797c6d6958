"""Memory of the pandas path (issue 12, item 5): the peak bytes an estimator allocates while it runs, the
result kept, stay within 3x the bytes of the columns it needs (time, status, the design's columns after
expansion, as float64/int64), plus a small constant for the blocks of rows the products work on and
per-time tables. Measured with tracemalloc, which traces numpy's buffers. benchmarks/bench_memory.py gives
the same figures at 5,000,000 rows (docs/scale.md, "Pandas path memory")."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import bmstats as bm

N = 200_000
LIMIT = 3.0
SLACK = 4 * 2**20  # blocks of 16,384 rows x p doubles and the per-time tables: independent of n
FORMULA = "x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + C(grp) + bin"
P_DESIGN = 11  # 8 numeric, 2 dummies of grp, bin


@pytest.fixture(scope="module")
def registry() -> pd.DataFrame:
    """Registry-like rows as benchmarks/registry_data.py makes them: integer days (heavy ties), two causes."""
    rng = np.random.default_rng(2024)
    cols = {f"x{j}": rng.normal(0, 1, N) for j in range(8)}
    cols["grp"] = rng.choice(np.array(["a", "b", "c"], dtype=object), N)
    cols["bin"] = rng.integers(0, 2, N)
    lp = 0.3 * cols["x0"] - 0.2 * cols["x1"] + 0.4 * (cols["grp"] == "b") - 0.3 * cols["bin"]
    t1 = rng.exponential(np.exp(-lp)) * 3650
    t2 = rng.exponential(1, N) * 5000
    c = rng.uniform(0, 3650, N)
    cols["time"] = np.maximum(np.ceil(np.minimum(np.minimum(t1, t2), c)), 1.0)
    cols["status"] = np.where(t1 <= np.minimum(t2, c), 1, np.where(t2 <= c, 2, 0))
    cols["event"] = (cols["status"] == 1).astype(np.int64)
    return pd.DataFrame(cols).copy()


CALLS = {
    "cox": (lambda d: bm.cox(d, "time", "event", FORMULA), 2 + P_DESIGN),
    "cox_robust": (lambda d: bm.cox(d, "time", "event", FORMULA, robust=True), 2 + P_DESIGN),
    "fine_gray": (lambda d: bm.fine_gray(d, "time", "status", FORMULA, cause=1), 2 + P_DESIGN),
    "kaplan_meier": (lambda d: bm.kaplan_meier(d, "time", "event", by="grp"), 3),
    "cumulative_incidence": (lambda d: bm.cumulative_incidence(d, "time", "status", by="grp"), 3),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_peak_memory_within_three_times_the_columns(registry, name):
    call, n_columns = CALLS[name]
    call(registry.head(2000))  # imports and caches are not the call's
    gc.collect()
    tracemalloc.start()
    try:
        result = call(registry)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.n == N
    columns = 8 * N * n_columns
    assert peak <= LIMIT * columns + SLACK, f"{name}: peak {peak / columns:.2f}x the column bytes"


def test_fine_gray_influence_and_prediction_after_the_copy_is_dropped(registry):
    """The Fine-Gray fit drops its sorted copy of the design; the influence and the predictions remake the
    rows they need and give the same numbers as a fit that keeps them."""
    small = registry.head(3000)
    fit = bm.fine_gray(small, "time", "status", FORMULA)
    assert fit._prob.X is None
    infl = fit.influence.to_numpy()
    np.testing.assert_allclose(infl.T @ infl, fit.cov.to_numpy(), rtol=1e-10, atol=1e-14)
    pred = fit.predict(small.head(2), [365.0])
    assert np.isfinite(pred["std_err"]).all()
