"""A mapping's ``columns:`` entry must name a column of the file: one the file lacks is the package's
MappingError naming the key, the missing column, a close match and the columns that exist, on the pandas and
the DuckDB reading paths and from the command line.  Ignoring it would leave the canonical column empty (a
typo in the death date column: every patient alive).  Recoding codes never seen stay a warning (BM107)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.cohort.mapping import MappingError

DATA = Path(__file__).parent / "data"
ENGINES = [None, "duckdb"]


@pytest.fixture
def site_files(tmp_path):
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False)
    p = p.rename(columns={"patient_id": "PatNr", "death_date": "DeathDate", "er": "ER"})
    p.to_csv(tmp_path / "p.csv", index=False)
    p.to_parquet(tmp_path / "p.parquet", index=False)
    e = pd.read_csv(DATA / "valid_skeletal_events.csv", dtype=str, keep_default_na=False)
    e.rename(columns={"patient_id": "PatNr", "event_date": "Date"}).to_csv(tmp_path / "e.csv", index=False)
    return tmp_path


def _mapping(death_key="DeathDate", date_key="Date"):
    return {"patients": {"columns": {"PatNr": "patient_id", death_key: "death_date", "ER": "er"}},
            "skeletal_events": {"columns": {"PatNr": "patient_id", date_key: "event_date"}}}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_typo_in_a_patients_column_is_an_error_naming_key_column_and_columns(site_files, engine, suffix):
    with pytest.raises(MappingError) as err:
        bm.read_cohort(site_files / f"p.{suffix}", site_files / "e.csv", _mapping(death_key="DeathDat"),
                       engine=engine)
    msg = str(err.value)
    assert isinstance(err.value, InputError)
    assert "'patients.columns.DeathDat'" in msg and "no column 'DeathDat'" in msg
    assert "did you mean 'DeathDate'?" in msg
    assert "its columns: 'PatNr', 'dx_date'" in msg and "'DeathDate'" in msg


@pytest.mark.parametrize("engine", ENGINES)
def test_a_missing_events_column_is_an_error_too(site_files, engine):
    with pytest.raises(MappingError, match=r"'skeletal_events\.columns\.EventDate' \(-> event_date\): the "
                                           r"skeletal_events table has no column 'EventDate'.*its columns: 'PatNr'"):
        bm.read_cohort(site_files / "p.csv", site_files / "e.csv", _mapping(date_key="EventDate"), engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_case_slip_suggests_the_column_and_several_misses_are_all_named(site_files, engine):
    mapping = _mapping()
    mapping["patients"]["columns"].update({"er": "er", "Stadium": "stage"})
    del mapping["patients"]["columns"]["ER"]
    with pytest.raises(MappingError) as err:
        bm.read_cohort(site_files / "p.csv", site_files / "e.csv", mapping, engine=engine)
    msg = str(err.value)
    assert "'patients.columns.er'" in msg and "did you mean 'ER'?" in msg
    assert "'patients.columns.Stadium'" in msg


def test_data_frames_with_a_mapping_and_headers_with_spaces(site_files):
    p = pd.read_csv(site_files / "p.csv", dtype=str, keep_default_na=False).rename(columns={"ER": " ER "})
    e = pd.read_csv(site_files / "e.csv", dtype=str, keep_default_na=False)
    cohort = bm.read_cohort(p, e, _mapping())  # " ER " is the column ER: spaces around headers are stripped
    assert cohort.patients["er"].notna().all()
    with pytest.raises(MappingError, match="DeathDat"):
        bm.read_cohort(p, e, _mapping(death_key="DeathDat"))


def test_the_correct_mapping_reads_and_unseen_codes_stay_a_warning(site_files):
    mapping = _mapping()
    mapping["patients"]["values"] = {"ER": {"positive": "positive", "negative": "negative", "unknown": "unknown",
                                            "borderline": "unknown"}}
    for engine in ENGINES:
        cohort = bm.read_cohort(site_files / "p.csv", site_files / "e.csv", mapping, engine=engine)
        assert cohort.patients["death_date"].notna().any()
        issues = bm.validate(cohort).issues
        bm107 = issues[issues["rule"] == "BM107-mapping-value-unused"]
        assert len(bm107) == 1 and "borderline" in bm107["message"].iloc[0]


def test_command_line_exit_2_with_one_line(site_files, tmp_path):
    import yaml

    (tmp_path / "m.yaml").write_text(yaml.safe_dump(_mapping(death_key="DeathDat")))
    for extra in ([], ["--engine", "duckdb"]):
        run = subprocess.run([sys.executable, "-m", "bmstats.cli", "validate", str(site_files / "p.csv"), "--events",
                              str(site_files / "e.csv"), "--mapping", str(tmp_path / "m.yaml"), *extra],
                             capture_output=True, text=True)
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert "patients.columns.DeathDat" in run.stderr and "did you mean 'DeathDate'?" in run.stderr
