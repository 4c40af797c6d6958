"""Seeded registry-scale data for the engine benchmarks: Parquet files of n rows, p = 10 covariates (8 numeric,
one 3-level category, one binary), two causes, integer times in days (heavy ties), written in chunks of one
million rows so that making 100,000,000 rows needs little memory."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 1_000_000


def chunk(seed: int, n: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {f"x{j}": rng.normal(0, 1, n) for j in range(8)}
    cols["grp"] = rng.choice(np.array(["a", "b", "c"]), n)
    cols["bin"] = rng.integers(0, 2, n).astype(np.int64)
    lp = 0.3 * cols["x0"] - 0.2 * cols["x1"] + 0.1 * cols["x2"] + 0.4 * (cols["grp"] == "b") - 0.3 * cols["bin"]
    t1 = rng.exponential(np.exp(-lp)) * 3650
    t2 = rng.exponential(1, n) * 5000
    c = rng.uniform(0, 3650, n)
    t = np.ceil(np.minimum(np.minimum(t1, t2), c))
    status = np.where(t1 <= np.minimum(t2, c), 1, np.where(t2 <= c, 2, 0)).astype(np.int64)
    cols["time"] = np.maximum(t, 1.0)
    cols["status"] = status
    cols["event"] = (status == 1).astype(np.int64)
    return pa.table(cols)


def make(path: str | Path, n: int, seed: int = 2024) -> Path:
    """Write (or reuse) ``path`` with ``n`` rows."""
    return _write(path, n, lambda i, rows, done: chunk(seed + i, rows))


def _write(path: str | Path, n: int, part_of) -> Path:
    """Write (or reuse) ``path`` with ``n`` rows made in chunks: ``part_of(i, rows, rows done before)``."""
    path = Path(path)
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == n:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    done = 0
    for i in range((n + CHUNK - 1) // CHUNK):
        part = part_of(i, min(CHUNK, n - done), done)
        if writer is None:
            writer = pq.ParquetWriter(tmp, part.schema)
        writer.write_table(part)
        done += part.num_rows
    writer.close()
    tmp.rename(path)
    return path


def recurrent_chunk(seed: int, n_rows: int, first_id: int) -> pa.Table:
    """Counting-process rows of recurrent skeletal events: 4 rows per subject, integer days (ties), a late entry
    for a fifth of the subjects, a terminal event (death) ending the last row of a fifth of them."""
    rng = np.random.default_rng(seed)
    n = n_rows // 4
    grp = rng.choice(np.array(["a", "b", "c"]), n)
    scale = np.where(grp == "b", 150.0, 220.0)
    inc = np.ceil(rng.exponential(scale[:, None], (n, 4)))
    entry = np.where(rng.random(n) < 0.2, rng.integers(1, 90, n), 0).astype(float)
    stop = entry[:, None] + np.cumsum(inc, axis=1)
    start = stop - inc
    event = np.ones((n, 4), dtype=np.int64)
    dies = rng.random(n) < 0.2
    event[:, 3] = np.where(dies, 0, (rng.random(n) < 0.5).astype(np.int64))
    terminal = np.zeros((n, 4), dtype=np.int64)
    terminal[:, 3] = dies
    ids = np.repeat(np.arange(first_id, first_id + n, dtype=np.int64), 4)
    return pa.table({"id": ids, "grp": np.repeat(grp, 4), "start": start.ravel(), "stop": stop.ravel(),
                     "event": event.ravel(), "terminal": terminal.ravel()})


def make_recurrent(path: str | Path, n: int, seed: int = 2025) -> Path:
    """Write (or reuse) ``path`` with ``n`` recurrent-event rows (a multiple of 4)."""
    return _write(path, n, lambda i, rows, done: recurrent_chunk(seed + i, rows, done // 4))


if __name__ == "__main__":
    make(sys.argv[1], int(float(sys.argv[2])))
