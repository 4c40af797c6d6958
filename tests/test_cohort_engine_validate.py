"""validate on an engine-held cohort (rules as queries) gives the pandas validator's report, issue for issue.

Hostile cohorts are the 30-patient fixture with seeded corruption: bad codes, numbers and whole numbers,
dates that do not parse or are out of order, duplicate ids, unknown patients, events after death, same-day
and 21-day events, a date column in the wrong format (the one BM006 with the format hint), a mapping with
recodes (the empty-cell key, an unused key), unit factors and per-column date formats; read from CSV, from
text Parquet and from typed Parquet.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats.cohort import schema

DATA = Path(__file__).parent / "data"

HOSTILE = {
    "date": ["2020-13-45", "31/12/2020", "", "NA", " 2015-01-05 ", "2015-1-5", "1600-01-01", "2300-01-01",
             "20200105", "x", "2015-02-30", "2011-06-01", "2030-01-01", "2014-02-16"],
    "number": ["sixty", "1e400", "inf", "-5", "200", "1_000", "0x10", ".5", "", " 42 ", "nan", "1,5", "4.5", "0.4"],
    "integer": ["2.5", "4", "0", "3.0", "x", "-1", "150", "1e2", "", "2"],
    "code": ["POSITIVE", "pos", "", "unknown", " negative", "NA", ".", "N/A", "none", "TNBC", "other"],
    "id": ["", " P001 ", "NULL", "P002", "P999"],
    "boolean": ["TRUE", "yes", "1", "", "False"],
}


def _corrupt(frame: pd.DataFrame, table: str, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    out = frame.copy()
    spec = schema.columns(table)
    for name in out.columns:
        kind = spec[name].kind
        hit = rng.random(len(out)) < rate
        out.loc[hit, name] = rng.choice(HOSTILE[kind], hit.sum())
    return out


def _hostile_files(folder: Path, seed: int, rate: float = 0.12):
    rng = np.random.default_rng(seed)
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False)
    e = pd.read_csv(DATA / "valid_skeletal_events.csv", dtype=str, keep_default_na=False)
    # events on the same day, 3 and 30 days after, and after death
    extra = e.sample(8, random_state=seed).copy()
    shift = rng.choice([0, 3, 30, 4000], len(extra))
    extra["event_date"] = (pd.to_datetime(extra["event_date"]) + pd.to_timedelta(shift, unit="D")).dt.strftime(
        "%Y-%m-%d")
    e = pd.concat([e, extra], ignore_index=True)
    p, e = _corrupt(p, "patients", rng, rate), _corrupt(e, "skeletal_events", rng, rate)
    folder.mkdir(parents=True, exist_ok=True)
    p.to_csv(folder / "patients.csv", index=False)
    e.to_csv(folder / "skeletal_events.csv", index=False)
    p.to_parquet(folder / "patients.parquet", index=False)
    e.to_parquet(folder / "skeletal_events.parquet", index=False)
    return folder


def _same_reports(p, e, mapping=None, pandas_files=None):
    expected = bm.validate(bm.read_cohort(*(pandas_files or (p, e)), mapping))
    got = bm.validate(bm.read_cohort(p, e, mapping, engine="duckdb"))
    pd.testing.assert_frame_equal(got.issues, expected.issues)
    assert (got.n_patients, got.n_events, got.ok) == (expected.n_patients, expected.n_events, expected.ok)
    assert got.to_text() == expected.to_text()
    return got


def test_bundled_and_site_cohorts(tmp_path):
    c = bm.datasets.load_bm_cohort()
    paths = c.to_files(tmp_path)
    _same_reports(paths["patients"], paths["skeletal_events"])
    _same_reports(DATA / "site_patients.csv", DATA / "site_skeletal_events.csv", DATA / "site_mapping.yaml")
    _same_reports(DATA / "valid_patients.csv", None)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_hostile_cohorts(tmp_path, seed, suffix):
    folder = _hostile_files(tmp_path, seed)
    report = _same_reports(folder / f"patients.{suffix}", folder / f"skeletal_events.{suffix}")
    assert not report.ok and report.issues["rule"].nunique() > 8


def test_wrong_date_format_is_one_issue_with_the_hint(tmp_path):
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False)
    p["dx_date"] = pd.to_datetime(p["dx_date"]).dt.strftime("%d/%m/%Y")
    p.loc[3, "dx_date"] = "2014-02-16"
    p.to_csv(tmp_path / "p.csv", index=False)
    report = _same_reports(tmp_path / "p.csv", DATA / "valid_skeletal_events.csv")
    bm006 = report.issues[report.issues["rule"] == "BM006-date-parse"]
    assert len(bm006) == 1 and 'set date_format: "%d/%m/%Y"' in bm006["message"].iloc[0]
    assert not report.issues["rule"].isin(["BM008-followup-after-diagnosis", "BM009-bm-after-diagnosis"]).any()


def test_mapping_features(tmp_path):
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False)
    p = p.rename(columns={"er": "ER", "tumor_size_mm": "Size_cm", "bta_type": "BTA", "dx_date": "Diag"})
    p["ER"] = p["ER"].map({"positive": "1", "negative": "0", "unknown": "9"})
    p.loc[2, "ER"] = "7"
    p["Size_cm"] = (p["Size_cm"].astype(float) / 10).astype(str)
    p["BTA"] = p["BTA"].replace({"none": "", "zoledronic_acid": "ZOL"})
    p["Diag"] = pd.to_datetime(p["Diag"]).dt.strftime("%d.%m.%Y")
    p["site_note"] = ["x", "", "NA"] * 10
    p.to_csv(tmp_path / "p.csv", index=False)
    p.to_parquet(tmp_path / "p.parquet", index=False)
    mapping = {"missing": ["", "NA"],
               "patients": {"columns": {"Size_cm": {"to": "tumor_size_mm", "multiply": 10}, "BTA": "bta_type",
                                        "Diag": "dx_date", "ER": "er"},
                            "values": {"ER": {1: "positive", 0: "negative", 9: "unknown", 5: "negative"},
                                       "BTA": {"": "none", "ZOL": "zoledronic_acid", "XYZ": "denosumab"},
                                       "site_note": {"x": "y"}, "nowhere": {"a": "b"}},
                            "date_format": {"Diag": "%d.%m.%Y"}}}
    for suffix in ("csv", "parquet"):
        report = _same_reports(tmp_path / f"p.{suffix}", DATA / "valid_skeletal_events.csv", mapping)
        assert (report.issues["rule"] == "BM107-mapping-value-unused").sum() == 3
    held = bm.read_cohort(tmp_path / "p.csv", None, mapping, engine="duckdb")
    pd.testing.assert_frame_equal(held.patients, bm.read_cohort(tmp_path / "p.csv", None, mapping).patients)


def test_typed_parquet_columns(tmp_path):
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False).replace("", None)
    typed = p.assign(
        dx_date=pd.to_datetime(p["dx_date"]).dt.date, last_fu_date=pd.to_datetime(p["last_fu_date"]),
        age=pd.to_numeric(p["age"]).astype("float64"), grade=pd.to_numeric(p["grade"]).astype("Int64"),
        nodes_positive=pd.to_numeric(p["nodes_positive"]).astype("float64") + np.r_[0.5, np.zeros(29)],
        er=p["er"].map({"positive": 1, "negative": 0, "unknown": 9}).astype("Int64"))
    typed.loc[4, "age"] = np.nan
    typed.to_parquet(tmp_path / "p.parquet", index=False)
    mapping = {"patients": {"values": {"er": {1: "positive", 0: "negative", 9: "unknown"}}}}
    _same_reports(tmp_path / "p.parquet", DATA / "valid_skeletal_events.csv", mapping)
    pd.testing.assert_frame_equal(bm.read_cohort(tmp_path / "p.parquet", None, mapping, engine="duckdb").patients,
                                  bm.read_cohort(tmp_path / "p.parquet", None, mapping).patients)


def test_missing_required_columns_and_empty_tables(tmp_path):
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False).drop(columns=["last_fu_date"])
    p.to_csv(tmp_path / "p.csv", index=False)
    e = pd.read_csv(DATA / "valid_skeletal_events.csv", dtype=str, keep_default_na=False).drop(columns=["event_type"])
    e.to_csv(tmp_path / "e.csv", index=False)
    report = _same_reports(tmp_path / "p.csv", tmp_path / "e.csv")
    assert (report.issues["rule"] == "BM003-required-column").sum() == 2
    (tmp_path / "empty.csv").write_text("patient_id,dx_date,last_fu_date\n")
    _same_reports(tmp_path / "empty.csv", tmp_path / "e.csv")


def test_cli_engine_option(tmp_path, capsys):
    from bmstats.cli import main

    folder = _hostile_files(tmp_path, 7)
    args = [str(folder / "patients.parquet"), "--events", str(folder / "skeletal_events.parquet"), "--format", "json"]
    assert main(["validate", *args]) == 1
    expected = capsys.readouterr().out
    assert main(["validate", *args, "--engine", "duckdb"]) == 1
    assert capsys.readouterr().out == expected
    assert main(["validate", str(tmp_path / "none-*.parquet"), "--engine", "duckdb"]) == 2
    assert "no file matches" in capsys.readouterr().err
