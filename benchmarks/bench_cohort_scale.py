"""Cohort at registry scale: validate a skeletal-events Parquet of 50,000,000 rows held in DuckDB
(``read_cohort(..., engine="duckdb")``, every rule a query) in bounded memory; the pandas path at a smaller
size for comparison.

The registry is written by DuckDB itself (seeded: every value is a hash of the row number, so the files are
the same on every run) into a temporary folder: 2,000,000 patients (dates typed DATE, codes as text) and 25
events per patient, 30 to 90 days apart (so the 21-day warning does not fire on every patient), with a few
planted errors (an unknown event type, events after the end of follow-up, unknown patients) so that the
validator has offending rows to return.  Each run is a child process: its wall time and peak resident memory
(``ru_maxrss``) are what is reported, with DuckDB's ``memory_limit`` and the bytes of the event columns
(Parquet's uncompressed size) beside them.

``python benchmarks/bench_cohort_scale.py --events 50000000 --pandas-events 2000000`` prints one table;
``make bench`` runs the cases below (``--quick``: 1,000,000 events).
"""
from __future__ import annotations

import argparse
import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import Case

HERE = Path(__file__).resolve().parent
EVENTS_PER_PATIENT = 25
MEMORY_LIMIT = "1GB"
_made: dict[int, tuple[Path, Path]] = {}


def make_registry(n_events: int, folder: Path, seed: int = 1) -> tuple[Path, Path]:
    """Write ``patients.parquet`` and ``events.parquet`` (n_events rows) into ``folder``; return the paths."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    n_patients = max(1, n_events // EVENTS_PER_PATIENT)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    h = f"hash(i + {seed} * 1000003)"  # deterministic pseudo-random integers per row
    pid = "'P' || lpad(CAST({} AS VARCHAR), 8, '0')"
    patients, events = folder / "patients.parquet", folder / "events.parquet"
    dx = f"DATE '1995-01-01' + CAST({h} % 3000 AS INTEGER)"
    con.execute(f"""
        COPY (
            SELECT {pid.format('i')} AS patient_id, dx AS dx_date, 30 + CAST({h} % 60 AS DOUBLE) AS age,
                   ['pre', 'post', 'unknown'][1 + CAST(({h} >> 3) % 3 AS INTEGER)] AS menopausal,
                   'positive' AS er, 'negative' AS pr, 'negative' AS her2, 'HR+/HER2-' AS subtype,
                   1 + CAST(({h} >> 5) % 3 AS BIGINT) AS grade, 5 + CAST(({h} >> 7) % 60 AS DOUBLE) AS tumor_size_mm,
                   CAST(({h} >> 9) % 10 AS BIGINT) AS nodes_positive,
                   ['ductal', 'lobular', 'other'][1 + CAST(({h} >> 11) % 3 AS INTEGER)] AS histology,
                   ['I', 'II', 'III', 'IV'][1 + CAST(({h} >> 13) % 4 AS INTEGER)] AS stage,
                   bm AS bm_date, CAST(NULL AS DATE) AS visceral_met_date, 'zoledronic_acid' AS bta_type,
                   bm AS bta_start_date, fu AS last_fu_date,
                   CASE WHEN dead THEN fu END AS death_date, CASE WHEN dead THEN 'breast_cancer' END AS cause_of_death
            FROM (SELECT i, {dx} AS dx, {dx} + CAST(({h} >> 17) % 700 AS INTEGER) AS bm,
                         {dx} + CAST(({h} >> 17) % 700 AS INTEGER) + {EVENTS_PER_PATIENT * 90 + 30}
                             + CAST(({h} >> 21) % 400 AS INTEGER) AS fu,
                         ({h} >> 27) % 3 = 0 AS dead
                  FROM range({n_patients}) t(i))
            ORDER BY i
        ) TO '{patients}' (FORMAT parquet, ROW_GROUP_SIZE 500000)""")
    # events: patient i // 25, the k-th one 30 to 90 days after the previous (bm + k * 90 + 0..59 days)
    con.execute(f"""
        COPY (
            SELECT CASE WHEN i % 9999991 = 17 THEN 'X' || {pid.format('i // ' + str(EVENTS_PER_PATIENT))}
                        ELSE {pid.format('i // ' + str(EVENTS_PER_PATIENT))} END AS patient_id,
                   p.bm_date + CAST((i % {EVENTS_PER_PATIENT}) * 90 + {h} % 60 AS INTEGER)
                       + CASE WHEN i % 7000003 = 5 THEN 5000 ELSE 0 END AS event_date,
                   CASE WHEN i % 10000019 = 123 THEN 'fracture'
                        ELSE ['pathologic_fracture', 'spinal_cord_compression', 'radiation_to_bone',
                              'surgery_to_bone', 'hypercalcaemia'][1 + CAST(({h} >> 4) % 5 AS INTEGER)] END
                       AS event_type,
                   ({h} >> 8) % 2 = 0 AS symptomatic
            FROM range({n_events}) t(i)
            JOIN read_parquet('{patients}') p ON p.patient_id = {pid.format('i // ' + str(EVENTS_PER_PATIENT))}
            ORDER BY i
        ) TO '{events}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    con.close()
    return patients, events


def column_bytes(path: Path) -> int:
    """Bytes the file's columns take in memory as Arrow arrays (the first row group's, scaled to all rows):
    what the columns hold, not the compressed file."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    first = f.read_row_group(0)
    return int(first.nbytes / max(1, first.num_rows) * f.metadata.num_rows)


def _child(engine: str, patients: str, events: str) -> dict:
    """Run in a fresh process: read + validate; wall time, peak RSS and the report's counts."""
    import bmstats as bm

    t0 = time.perf_counter()
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        cohort = bm.read_cohort(patients, events, engine=con)
    else:
        cohort = bm.read_cohort(patients, events)
    report = bm.validate(cohort)
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mb()
    return {"engine": engine, "seconds": seconds, "peak_rss_mb": peak, "n_events": report.n_events,
            "n_patients": report.n_patients, "n_errors": report.n_errors, "n_warnings": report.n_warnings,
            "rules": report.issues["rule"].value_counts().to_dict()}


def _peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss would carry the parent's peak across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(engine: str, patients: Path, events: Path) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", engine, str(patients), str(events)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _files(n_events: int) -> tuple[Path, Path]:
    if n_events not in _made:
        folder = Path(tempfile.mkdtemp(prefix=f"bmstats_bench_registry_{n_events}_"))
        atexit.register(shutil.rmtree, folder, True)
        _made[n_events] = make_registry(n_events, folder)
    return _made[n_events]


def _case(engine: str, n_events: int):
    def run() -> float:
        got = run_child(engine, *_files(n_events))
        print(f"    [{engine}, {n_events:,} events] {got['seconds']:.1f} s, peak RSS {got['peak_rss_mb']:,.0f} MB, "
              f"{got['n_errors']:,} errors, {got['n_warnings']:,} warnings", flush=True)
        return got["seconds"]

    return run


def cases(quick: bool) -> list[Case]:
    big, small = (1_000_000, 200_000) if quick else (50_000_000, 2_000_000)
    return [
        Case("cohort at scale: read + validate, events Parquet held in DuckDB", big, "bmstats engine=duckdb",
             _case("duckdb", big), measure_memory=False,
             note=f"child process, memory_limit {MEMORY_LIMIT}, 2 threads; peak RSS printed above"),
        Case("cohort at scale: read + validate, events Parquet", small, "bmstats engine=duckdb", _case("duckdb", small),
             measure_memory=False, note="child process; peak RSS printed above"),
        Case("cohort at scale: read + validate, events Parquet", small, "bmstats pandas path", _case("pandas", small),
             measure_memory=False, note="child process; peak RSS printed above"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--pandas-events", type=int, default=2_000_000)
    parser.add_argument("--folder", help="where to write the registry (default: a temporary folder)")
    args = parser.parse_args()
    rows = []
    for n, engines in ((args.events, ("duckdb",)), (args.pandas_events, ("duckdb", "pandas"))):
        if args.folder:
            folder = Path(args.folder) / f"events_{n}"
            pp, ep = folder / "patients.parquet", folder / "events.parquet"
            if not ep.exists():
                t0 = time.perf_counter()
                make_registry(n, folder)
                print(f"wrote {n:,} events in {time.perf_counter() - t0:.0f} s", flush=True)
        else:
            pp, ep = _files(n)
        cols = column_bytes(ep) + column_bytes(pp)
        for engine in engines:
            got = run_child(engine, pp, ep)
            rows.append((n, engine, got, cols, ep.stat().st_size + pp.stat().st_size))
            print(json.dumps({**got, "column_mb": cols / 2**20}), flush=True)
    print(f"\n{'events':>12} {'patients':>10} {'engine':>7} {'seconds':>8} {'peak RSS MB':>12} {'column MB':>10} "
          f"{'file MB':>8} {'RSS/columns':>11} {'issues':>8}")
    for n, engine, got, cols, size in rows:
        print(f"{n:>12,} {got['n_patients']:>10,} {engine:>7} {got['seconds']:>8.1f} {got['peak_rss_mb']:>12,.0f} "
              f"{cols / 2**20:>10,.0f} {size / 2**20:>8,.0f} {got['peak_rss_mb'] * 2**20 / cols:>11.2f} "
              f"{got['n_errors'] + got['n_warnings']:>8,}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(*sys.argv[2:5])))
    else:
        sys.path.insert(0, str(HERE))
        main()
