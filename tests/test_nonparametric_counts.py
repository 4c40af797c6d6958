"""The aggregation step (rows -> counts per block and distinct time) against a direct computation."""
import numpy as np
import pytest

from bmstats.estimate.counts import aggregate_counts


@pytest.mark.parametrize("with_entry", [False, True])
def test_counts_match_direct_computation(with_entry):
    rng = np.random.default_rng(11)
    n = 400
    time = rng.integers(1, 25, n).astype(float)
    status = rng.integers(0, 3, n)
    block = rng.integers(0, 3, n)
    column = rng.integers(0, 2, n)
    entry = np.where(rng.random(n) < 0.4, np.floor(rng.random(n) * time), 0.0) if with_entry else None
    c = aggregate_counts(time, status, block=block, column=column, entry=entry, n_causes=2)
    e = np.zeros(n) if entry is None else entry
    expected_rows = sorted(set(zip(block.tolist(), time.tolist())))
    assert list(zip(c.block.tolist(), c.time.tolist())) == expected_rows
    for i, (b, t) in enumerate(expected_rows):
        assert c.rows(b).start <= i < c.rows(b).stop
        for col in range(2):
            here = (block == b) & (column == col)
            assert c.n_risk[i, col] == np.sum(here & (e < t) & (time >= t))
            assert c.n_censor[i, col] == np.sum(here & (time == t) & (status == 0))
            for k in (1, 2):
                assert c.n_event[i, col, k - 1] == np.sum(here & (time == t) & (status == k))
    # every subject enters exactly once
    assert c.n_entry.sum() == n
    frame = c.to_frame()
    assert list(frame.columns) == ["block", "time", "column", "n_risk", "n_entry", "n_censor",
                                   "n_event_1", "n_event_2"]
    assert len(frame) == 2 * len(expected_rows)


def test_sparse_path_matches_dense_path(monkeypatch):
    from bmstats.estimate import counts as module

    rng = np.random.default_rng(5)
    time, status, block = rng.random(300), rng.integers(0, 2, 300), rng.integers(0, 4, 300)
    dense = aggregate_counts(time, status, block=block)
    monkeypatch.setattr(module, "_DENSE_CELLS_PER_ROW", -10_000)
    sparse = aggregate_counts(time, status, block=block)
    for name in ("block", "time", "n_event", "n_censor", "n_entry", "n_risk", "block_start"):
        np.testing.assert_array_equal(getattr(dense, name), getattr(sparse, name))
