"""read_cohort(..., engine="duckdb"): the tables stay in DuckDB and equal what the pandas reader holds."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.cohort.io import CohortReadError
from bmstats.cohort.mapping import MappingError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine_cohort")
    cohort = bm.datasets.load_bm_cohort()
    paths = cohort.to_files(folder)
    for name, path in paths.items():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.to_parquet(folder / f"{name}.parquet")
    return folder


def _same_tables(a, b):
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.events, b.events)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_engine_cohort_holds_the_pandas_tables(files, suffix):
    p, e = files / f"patients.{suffix}", files / f"skeletal_events.{suffix}"
    held = bm.read_cohort(p, e, engine="duckdb")
    assert held.engine == "duckdb" and held.engine_tables is not None
    assert held._p is None  # nothing fetched yet
    assert isinstance(held.patients_relation, duckdb.DuckDBPyRelation)
    assert len(held) == 5000 and held.n_events == held.events_relation.shape[0]
    assert held._p is None  # counts are queries
    _same_tables(held, bm.read_cohort(files / "patients.csv", files / "skeletal_events.csv"))


def test_engine_cohort_typed_parquet_and_relations(files, tmp_path):
    pandas_cohort = bm.read_cohort(files / "patients.csv", files / "skeletal_events.csv")
    typed = pandas_cohort.patients.astype({c: "string" for c in ("menopausal", "er", "pr", "her2", "subtype",
                                                                   "histology", "stage", "bta_type",
                                                                   "cause_of_death")})
    typed.to_parquet(tmp_path / "p.parquet", index=False)
    held = bm.read_cohort(tmp_path / "p.parquet", engine="duckdb")
    pd.testing.assert_frame_equal(held.patients, bm.read_cohort(tmp_path / "p.parquet").patients)
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{tmp_path / 'p.parquet'}')")
    by_relation = bm.read_cohort(rel, engine=con)
    assert by_relation.engine_tables.connection is con
    pd.testing.assert_frame_equal(by_relation.patients, held.patients)


def test_engine_views_are_lazy_sql(files):
    held = bm.read_cohort(files / "patients.parquet", files / "skeletal_events.parquet", engine="duckdb")
    t = held.engine_tables
    got = t.fetch(f'SELECT count(*) AS n FROM "{t.events}" e JOIN "{t.patients}" p USING (patient_id)')
    assert int(got["n"].iloc[0]) == held.n_events
    first = t.fetch(f'SELECT * FROM "{t.patients}" ORDER BY row LIMIT 1')
    assert list(first.columns[:3]) == ["row", "patient_id", "dx_date"] and first["row"].iloc[0] == 2


def test_glob_reads_files_as_one_table(files, tmp_path):
    events = pd.read_parquet(files / "skeletal_events.parquet")
    events.iloc[:1000].to_parquet(tmp_path / "part-1.parquet")
    events.iloc[1000:].to_parquet(tmp_path / "part-2.parquet")
    held = bm.read_cohort(files / "patients.parquet", str(tmp_path / "part-*.parquet"), engine="duckdb")
    whole = bm.read_cohort(files / "patients.parquet", files / "skeletal_events.parquet", engine="duckdb")
    pd.testing.assert_frame_equal(held.events, whole.events)


def test_hostile_inputs_raise_the_package_errors(files, tmp_path):
    with pytest.raises(CohortReadError, match="no file matches"):
        bm.read_cohort(str(tmp_path / "nothing-*.parquet"), engine="duckdb")
    with pytest.raises(CohortReadError, match="file not found"):
        bm.read_cohort(tmp_path / "missing.parquet", engine="duckdb")
    with pytest.raises(CohortReadError, match="engine=None"):
        bm.read_cohort(pd.DataFrame({"patient_id": ["a"]}), engine="duckdb")
    with pytest.raises(InputError, match="engine must be"):
        bm.read_cohort(files / "patients.csv", engine="spark")
    blank = tmp_path / "blank.csv"
    blank.write_text("patient_id,dx_date,last_fu_date\nA,2020-01-01,2021-01-01\n\nB,2020-01-01,2021-01-01\n")
    with pytest.raises(CohortReadError, match="blank lines"):
        bm.read_cohort(blank, engine="duckdb")
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("patient_id,dx_date,last_fu_date\nA,2020-01-01,2021-01-01\n\n\n")
    assert bm.read_cohort(trailing, engine="duckdb").n_patients == 1
    wide = tmp_path / "wide.csv"
    wide.write_text("patient_id,dx_date\nA,2020-01-01,extra\n")
    with pytest.raises(CohortReadError, match="wide.csv"):
        bm.read_cohort(wide, engine="duckdb")
    listy = tmp_path / "listy.parquet"
    pd.DataFrame({"patient_id": ["a"], "codes": [[1, 2]]}).to_parquet(listy)
    with pytest.raises(CohortReadError, match="'codes' has type"):
        bm.read_cohort(listy, engine="duckdb")
    with pytest.raises(MappingError, match="not supported on the engine path"):
        bm.read_cohort(files / "patients.csv", engine="duckdb", mapping={"date_format": "%x"})
