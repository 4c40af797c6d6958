"""read_cohort: file types, the site mapping, canonical types, row numbers, Cohort immutability."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats.cohort import schema
from bmstats.cohort.convert import derive_subtype
from bmstats.cohort.io import CohortReadError
from bmstats.cohort.mapping import MappingError, load_mapping

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def cohort():
    return bm.read_cohort(DATA / "valid_patients.csv", DATA / "valid_skeletal_events.csv")


def test_canonical_columns_and_types(cohort):
    p, e = cohort.patients, cohort.events
    assert list(p.columns) == [c.name for c in schema.PATIENT_COLUMNS]
    assert list(e.columns) == [c.name for c in schema.EVENT_COLUMNS]
    for table, frame in (("patients", p), ("skeletal_events", e)):
        for col in schema.TABLES[table]:
            assert str(frame[col.name].dtype) == schema.dtype_of(col), col.name
    assert p.index.name == "row" and list(p.index[:3]) == [2, 3, 4]
    assert e.index.name == "row" and e.index[0] == 2
    assert p.loc[2, "dx_date"] == pd.Timestamp("2014-02-16")
    assert p.loc[3, "death_date"] is pd.NaT
    assert e["symptomatic"].tolist()[:3] == [True, True, False]


def test_site_mapping_gives_the_same_cohort(cohort):
    site = bm.read_cohort(DATA / "site_patients.csv", DATA / "site_skeletal_events.csv", mapping=DATA / "site_mapping.yaml")
    pd.testing.assert_frame_equal(site.patients, cohort.patients)
    pd.testing.assert_frame_equal(site.events, cohort.events)
    assert bm.validate(site).ok


def test_unmapped_site_code_is_flagged_not_guessed(tmp_path):
    text = (DATA / "site_patients.csv").read_text().replace("P002;16.12.2012;78;post;1", "P002;16.12.2012;78;post;7")
    path = tmp_path / "site.csv"
    path.write_text(text)
    c = bm.read_cohort(path, mapping=DATA / "site_mapping.yaml")
    assert c.patients.loc[3, "er"] == "7"
    issues = bm.validate(c).issues
    assert ((issues["rule"] == "BM007-code-in-set") & (issues["row"] == 3) & (issues["column"] == "er")).any()


def test_mapping_from_dict_per_column_date_format():
    raw = pd.DataFrame({"id": ["a", "b"], "diag": ["03/02/2010", "04/05/2011"], "fu": ["2012-01-01", "2013-01-01"],
                        "ER": [1, 0], "PR": [0, 0], "HER2": [0, 1]})
    m = {"patients": {"columns": {"id": "patient_id", "diag": "dx_date", "fu": "last_fu_date", "ER": "er", "PR": "pr", "HER2": "her2"},
                      "values": {"ER": {1: "positive", 0: "negative"}, "pr": {0: "negative"}, "HER2": {1: "positive", 0: "negative"}},
                      "date_format": {"diag": "%d/%m/%Y"}}}
    c = bm.read_cohort(raw, mapping=m)
    p = c.patients
    assert p["dx_date"].tolist() == [pd.Timestamp("2010-02-03"), pd.Timestamp("2011-05-04")]
    assert p["last_fu_date"].tolist() == [pd.Timestamp("2012-01-01"), pd.Timestamp("2013-01-01")]
    assert p["subtype"].tolist() == ["HR+/HER2-", "HR-/HER2+"]


def test_subtype_derivation_rules():
    er = pd.Series(["positive", "negative", "negative", "negative", "unknown", "unknown", "positive", "negative"])
    pr = pd.Series(["negative", "positive", "negative", "negative", "negative", "positive", "unknown", "unknown"])
    h2 = pd.Series(["negative", "positive", "positive", "negative", "negative", "negative", "unknown", "negative"])
    got = derive_subtype(er, pr, h2).tolist()
    assert got == ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC", "unknown", "HR+/HER2-", "unknown", "unknown"]


def test_present_subtype_is_kept_and_blank_cells_derived():
    p = pd.read_csv(DATA / "valid_patients.csv", dtype=str, keep_default_na=False)
    p.loc[0, "subtype"] = ""
    p.loc[3, "subtype"] = "unknown"  # P004 is TNBC by receptors: an explicit 'unknown' is kept
    c = bm.Cohort.from_frames(p)
    assert c.patients["subtype"].iloc[0] == "HR+/HER2-"
    assert c.patients["subtype"].iloc[3] == "unknown"


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx", ".dta", ".tsv"])
def test_other_file_types(tmp_path, cohort, suffix):
    p = cohort.patients.reset_index(drop=True)
    e = cohort.events.reset_index(drop=True)
    pp, ep = tmp_path / f"p{suffix}", tmp_path / f"e{suffix}"
    if suffix == ".parquet":
        p.to_parquet(pp)
        e.to_parquet(ep)
    elif suffix == ".xlsx":
        p.to_excel(pp, index=False)
        e.to_excel(ep, index=False)
    elif suffix == ".dta":
        def stata(frame):
            out = frame.copy()
            for c in out.columns:
                if out[c].dtype == object or isinstance(out[c].dtype, pd.CategoricalDtype):
                    out[c] = out[c].astype(object).fillna("")
                elif str(out[c].dtype) in ("Int64", "boolean"):
                    out[c] = out[c].astype("float64")
            return out
        stata(p).to_stata(pp, write_index=False)
        stata(e.assign(symptomatic=e["symptomatic"].map({True: "true", False: "false"}))).to_stata(ep, write_index=False)
        m = {"missing": [""]}
    else:
        bm.Cohort.from_frames(p, e).to_files(tmp_path)
        for name, target in (("patients", pp), ("skeletal_events", ep)):
            frame = pd.read_csv(tmp_path / f"{name}.csv", dtype=str, keep_default_na=False)
            frame.to_csv(target, sep="\t", index=False)
    c = bm.read_cohort(pp, ep, mapping=m if suffix == ".dta" else None)
    pd.testing.assert_frame_equal(c.patients, cohort.patients)
    pd.testing.assert_frame_equal(c.events, cohort.events)


def test_dataframes_and_files_agree_and_to_files_roundtrip(tmp_path, cohort):
    again = bm.Cohort.from_frames(cohort.patients.reset_index(drop=True), cohort.events.reset_index(drop=True))
    pd.testing.assert_frame_equal(again.patients, cohort.patients)
    paths = cohort.to_files(tmp_path)
    assert paths["patients"].read_text() == (DATA / "valid_patients.csv").read_text()
    assert paths["skeletal_events"].read_text() == (DATA / "valid_skeletal_events.csv").read_text()
    back = bm.read_cohort(paths["patients"], paths["skeletal_events"])
    pd.testing.assert_frame_equal(back.patients, cohort.patients)


def test_cohort_is_immutable(cohort):
    with pytest.raises(dataclasses.FrozenInstanceError):
        cohort.truth = {"x": 1}
    p = cohort.patients
    p.loc[2, "age"] = -1
    assert cohort.patients.loc[2, "age"] == 54
    c = bm.Cohort.from_frames(cohort.patients, truth={"hr": 0.7})
    assert c.truth == {"hr": 0.7} and cohort.truth is None
    assert "30 patients" in repr(cohort)
    import pickle

    again = pickle.loads(pickle.dumps(cohort))
    pd.testing.assert_frame_equal(again.patients, cohort.patients)
    assert again.sources == cohort.sources


def test_unparseable_cells_are_issues_not_crashes():
    p = pd.DataFrame({"patient_id": ["a", "b"], "dx_date": ["2010-01-01", "soon"], "last_fu_date": ["2011-01-01", "2012-01-01"],
                      "age": ["50", "fifty"], "grade": ["2", "2.5"]})
    c = bm.Cohort.from_frames(p)
    assert c.patients["dx_date"].isna().tolist() == [False, True]
    assert np.isnan(c.patients["age"].iloc[1])
    issues = bm.validate(c).issues
    assert set(issues.loc[issues["row"] == 3, "rule"]) == {"BM005-value-type", "BM006-date-parse"}
    assert "'soon'" in issues.loc[issues["rule"] == "BM006-date-parse", "message"].iloc[0]


def test_read_errors():
    with pytest.raises(CohortReadError, match="not found"):
        bm.read_cohort(DATA / "nope.csv")
    with pytest.raises(CohortReadError, match="unknown file type"):
        bm.read_cohort(DATA / "site_mapping.yaml")
    with pytest.raises(MappingError, match="unknown key"):
        load_mapping({"patiens": {}})
    with pytest.raises(MappingError, match="values.ER"):
        load_mapping({"patients": {"values": {"ER": "positive"}}})


def test_excel_typed_dates_with_a_text_date_format(tmp_path):
    raw = pd.DataFrame({"id": ["a", "b"], "diag": [pd.Timestamp("2010-02-03"), "04.05.2011"], "fu": ["01.01.2012", "01.01.2013"]})
    path = tmp_path / "site.xlsx"
    raw.to_excel(path, index=False)
    m = {"date_format": "%d.%m.%Y", "patients": {"columns": {"id": "patient_id", "diag": "dx_date", "fu": "last_fu_date"}}}
    p = bm.read_cohort(path, mapping=m).patients
    assert p["dx_date"].tolist() == [pd.Timestamp("2010-02-03"), pd.Timestamp("2011-05-04")]
    assert p["last_fu_date"].tolist() == [pd.Timestamp("2012-01-01"), pd.Timestamp("2013-01-01")]


def test_latin1_and_bom_files(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("patient_id,dx_date,last_fu_date\nJosé,2010-01-01,2011-01-01\n".encode("latin-1"))
    bom = tmp_path / "bom.csv"
    bom.write_bytes("patient_id,dx_date,last_fu_date\nMünster-1,2010-01-01,2011-01-01\n".encode("utf-8-sig"))
    assert bm.read_cohort(latin).patients["patient_id"].tolist() == ["José"]
    c = bm.read_cohort(bom)
    assert c.patients["patient_id"].tolist() == ["Münster-1"] and bm.validate(c).ok
