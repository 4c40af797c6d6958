"""A site's own coding through the mapping: blank cells, unused keys, units, date formats, coded columns."""
from __future__ import annotations

import pandas as pd
import pytest

import bmstats as bm
from bmstats.cohort import schema
from bmstats.cohort.mapping import MappingError


def _patients(n=8, **overrides):
    frame = pd.DataFrame({
        "id": [f"S{i:02d}" for i in range(n)],
        "dx": ["2010-01-15"] * n,
        "fu": ["2015-06-30"] * n,
        "bta": ["", "ZOL", "DMAB", "", "ZOL", "", "DMAB", "ZOL"][:n],
        "size_cm": ["2.1", "1.5", "3", "0.8", "4.2", "2", "2.5", "1.1"][:n],
    })
    for k, v in overrides.items():
        frame[k] = v
    return frame


BASE = {"patients": {"columns": {"id": "patient_id", "dx": "dx_date", "fu": "last_fu_date", "bta": "bta_type"},
                     "values": {"bta": {"": "none", "ZOL": "zoledronic_acid", "DMAB": "denosumab"}}}}


def _mapping(**table):
    m = {"patients": {k: dict(v) for k, v in BASE["patients"].items()}}
    for k, v in table.items():
        m["patients"][k] = {**m["patients"].get(k, {}), **v}
    return m


def _issues(cohort, rule):
    issues = bm.validate(cohort).issues
    return issues[issues["rule"] == rule]


@pytest.mark.parametrize("blank_key", ["", None])
def test_empty_cells_are_recoded_by_the_empty_or_null_key(blank_key):
    m = _mapping(values={"bta": {blank_key: "none", "ZOL": "zoledronic_acid", "DMAB": "denosumab"}})
    c = bm.read_cohort(_patients(), mapping=m)
    assert c.patients["bta_type"].tolist() == ["none", "zoledronic_acid", "denosumab", "none", "zoledronic_acid",
                                               "none", "denosumab", "zoledronic_acid"]
    assert _issues(c, "BM107-mapping-value-unused").empty


def test_yaml_null_and_empty_keys_map_blank_cells_of_a_csv(tmp_path):
    path = tmp_path / "p.csv"
    _patients().to_csv(path, index=False)
    yaml_text = ("patients:\n  columns: {id: patient_id, dx: dx_date, fu: last_fu_date, bta: bta_type}\n"
                 "  values:\n    bta: {null: none, ZOL: zoledronic_acid, DMAB: denosumab}\n")
    (tmp_path / "m.yaml").write_text(yaml_text)
    c = bm.read_cohort(path, mapping=tmp_path / "m.yaml")
    assert (c.patients["bta_type"] == "none").sum() == 3 and c.patients["bta_type"].notna().all()


def test_an_explicit_key_wins_over_the_missing_tokens():
    p = _patients(bta=["NA", "ZOL", "DMAB", "", "ZOL", "NA", "DMAB", "ZOL"])
    c = bm.read_cohort(p, mapping=_mapping(values={"bta": {"NA": "none"}}))
    assert c.patients["bta_type"].isna().tolist() == [False, False, False, True, False, False, False, False]


def test_a_key_matching_no_cell_is_a_warning_naming_the_key_and_column():
    m = _mapping(values={"bta": {"": "none", "ZOL": "zoledronic_acid", "DMAB": "denosumab", "Zometa": "zoledronic_acid"},
                         "ER": {1: "positive"}})
    report = bm.validate(bm.read_cohort(_patients(), mapping=m))
    found = report.issues[report.issues["rule"] == "BM107-mapping-value-unused"]
    assert set(found["severity"]) == {"warning"} and report.ok
    text = " ".join(found["message"])
    assert "'Zometa'" in text and "'bta'" in text and "'ER'" in text and "'ZOL'" not in text


def test_multiply_scales_a_number_column_to_its_unit():
    m = _mapping(columns={"size_cm": {"to": "tumor_size_mm", "multiply": 10}})
    c = bm.read_cohort(_patients(), mapping=m)
    assert c.patients["tumor_size_mm"].tolist() == pytest.approx([21, 15, 30, 8, 42, 20, 25, 11])
    assert _issues(c, "BM108-unit-suspect").empty


def test_a_size_in_centimetres_passed_as_mm_is_a_warning():
    c = bm.read_cohort(_patients(), mapping=_mapping(columns={"size_cm": "tumor_size_mm"}))
    found = _issues(c, "BM108-unit-suspect")
    assert len(found) == 1 and found["severity"].iloc[0] == "warning"
    assert "multiply: 10" in found["message"].iloc[0] and "median 2.05 mm" in found["message"].iloc[0]


@pytest.mark.parametrize("entry, words", [
    ({"to": "tumor_size_mm", "multiply": "ten"}, "positive number"),
    ({"to": "tumor_size_mm", "multiply": 0}, "positive number"),
    ({"to": "bta_type", "multiply": 10}, "number columns"),
    ({"multiply": 10}, "canonical name"),
    ({"to": "tumor_size_mm", "times": 10}, "'times'"),
])
def test_bad_multiply_entries_name_the_key(entry, words):
    with pytest.raises(MappingError, match="size_cm") as info:
        bm.read_cohort(_patients(), mapping=_mapping(columns={"size_cm": entry}))
    assert words in str(info.value)


def test_wrong_date_format_is_one_message_naming_the_format():
    p = _patients(dx=[f"{d:02d}/03/2010" for d in range(10, 18)], fu=[f"{d:02d}/06/2015" for d in range(20, 28)])
    p["died"] = ["", "21/06/2015", "", "", "", "", "", ""]
    p["cause"] = ["", "BC", "", "", "", "", "", ""]
    m = _mapping(columns={"died": "death_date", "cause": "cause_of_death"}, values={"cause": {"BC": "breast_cancer"}})
    report = bm.validate(bm.read_cohort(p, mapping=m))
    issues = report.issues
    dates = issues[issues["rule"] == "BM006-date-parse"]
    assert len(dates) == 3  # one per column, not one per cell
    msg = dates.loc[dates["column"] == "dx_date", "message"].iloc[0]
    assert "%d/%m/%Y" in msg and "date_format" in msg and "8 of 8" in msg
    # nothing follows from dates that did not parse: no missing-value, order or cause-of-death errors
    # (BM106: the drugs have no start date in this file, whatever the date format)
    assert set(issues["rule"]) <= {"BM006-date-parse", "BM105-extra-column", "BM106-bta-type-date"}, issues["rule"].unique()
    # with the format, the cohort is clean
    fixed = bm.read_cohort(p, mapping={**m, "date_format": "%d/%m/%Y"})
    assert bm.validate(fixed).ok


def test_ambiguous_day_month_dates_name_both_formats():
    p = _patients(dx=["01/02/2010"] * 8, fu=["03/04/2015"] * 8)
    msg = " ".join(bm.validate(bm.read_cohort(p, mapping=_mapping())).issues["message"])
    assert "%d/%m/%Y or %m/%d/%Y" in msg


def test_a_few_bad_dates_stay_one_issue_per_cell():
    p = _patients()
    p.loc[2, "dx"] = "2010-02-30"
    issues = bm.validate(bm.read_cohort(p, mapping=_mapping())).issues
    dates = issues[issues["rule"] == "BM006-date-parse"]
    assert dates["row"].tolist() == [4] and "2010-02-30" in dates["message"].iloc[0]
    assert "BM004-required-value" not in set(issues["rule"])


def test_coded_columns_are_categoricals_in_schema_order():
    c = bm.read_cohort(_patients(), mapping=_mapping())
    p = c.patients
    for name in schema.CODE_COLUMNS["patients"]:
        codes = list(schema.columns("patients")[name].codes)
        assert list(p[name].cat.categories) == codes, name
    assert list(c.events["event_type"].cat.categories) == list(schema.EVENT_TYPES)
    assert list(p["subtype"].cat.categories)[0] == "HR+/HER2-"


def test_a_code_outside_the_set_is_kept_and_flagged():
    p = _patients(bta=["", "ZOL", "DMAB", "", "Xgeva", "", "DMAB", "ZOL"])
    c = bm.read_cohort(p, mapping=_mapping())
    assert c.patients["bta_type"].iloc[4] == "Xgeva"
    assert list(c.patients["bta_type"].cat.categories) == list(schema.BTA_TYPES) + ["Xgeva"]
    found = _issues(c, "BM007-code-in-set")
    assert found["row"].tolist() == [6] and "Xgeva" in found["message"].iloc[0]


def test_cohort_from_frames_does_not_say_from_none():
    c = bm.Cohort.from_frames(pd.DataFrame({"patient_id": ["A"], "dx_date": ["2010-01-01"],
                                            "last_fu_date": ["2011-01-01"]}))
    assert "None" not in repr(c)
    assert "None" not in repr(bm.read_cohort(_patients(), mapping=_mapping()))
