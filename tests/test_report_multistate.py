"""Report types for multi-state designs (time_varying_cox, landmark, state_occupation, proportion, logistic) built from a
small part of the bundled synthetic cohort; the numbers in the tables are those of the estimators."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import bmstats as bm
from bmstats.report.builder import build_report

CONFIG = """\
title: New designs on a small cohort
data:
  dataset: bm_cohort
  filter: 'subtype == "TNBC" or subtype == "HR+/HER2+"'
  derive:
    bm_at_dx: 'where(bm_date <= dx_date, 1, 0)'
    tnbc: 'where(subtype == "TNBC", 1, 0)'
endpoints:
  after_bm:
    event: death
    origin: bone_metastasis
    time_varying: {bta: bta_start_date, sre: skeletal_event}
  idm:
    origin: diagnosis
    states: [bone_metastasis, death]
level_labels:
  bta: {"0": "Not started", "1": "Started"}
analyses:
  - {id: prop, type: proportion, outcome: bm_at_dx, by: subtype}
  - {id: logit, type: logistic, outcome: bm_at_dx, formula: "tnbc + age", interval: wald}
  - {id: idm, type: state_occupation, endpoint: idm, times: [2, 5]}
  - {id: tvc, type: time_varying_cox, endpoint: after_bm, formula: "bta + sre + age"}
  - {id: lm, type: landmark, endpoint: after_bm, at: 0.5, by: bta, times: [1], formula: "bta + age"}
outputs:
  tables: [csv, md]
  figures: [png]
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("ms_report")
    config = base / "new.yaml"
    config.write_text(CONFIG)
    assert build_report(config, base / "out") == 0
    return base / "out"


@pytest.fixture(scope="module")
def patients():
    p = bm.datasets.load_bm_cohort().patients
    p = p[p["subtype"].astype(str).isin(["TNBC", "HR+/HER2+"])].copy()
    p["bm_at_dx"] = (p["bm_date"] <= p["dx_date"]).astype(int)
    return p


def test_every_new_type_writes_its_outputs(built):
    files = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    assert {"tables/prop.md", "tables/logit.md", "tables/idm.md", "tables/tvc.md", "tables/lm_at_times.md",
            "tables/lm_cox.md", "figures/idm.png", "figures/lm.png", "figures/tvc_forest.png",
            "figures/logit_forest.png"} <= files
    html = (built / "report.html").read_text()
    assert "immortal-time" in html and "Landmark at 0.5 years" in html


def test_proportion_and_logistic_tables_hold_the_estimates(built, patients):
    prop = pd.read_csv(built / "tables" / "prop.csv", dtype=str)
    r = bm.proportion(patients, "bm_at_dx", by="subtype").table
    tnbc = r[r["group"] == "TNBC"].iloc[0]
    row = prop[prop.iloc[:, 0] == "TNBC"].iloc[0]
    assert row.iloc[-1].startswith(f"{tnbc['estimate'] * 100:.1f}")
    md = (built / "tables" / "logit.md").read_text()
    fit = bm.logistic(patients.assign(tnbc=(patients["subtype"] == "TNBC").astype(int)), "bm_at_dx", "tnbc + age",
                      interval="wald")
    assert "OR (95% CI)" in md and f"{fit.summary.loc['age', 'odds_ratio']:.2f}" in md


def test_time_varying_cox_counts_patients_not_intervals(built, patients):
    md = (built / "tables" / "tvc.md").read_text()
    cohort = bm.datasets.load_bm_cohort()
    rows = cohort.endpoint("death", origin="bone_metastasis", time_varying={"bta": "bta_start_date",
                                                                            "sre": "skeletal_event"})
    fit = bm.cox(rows, "stop", "status", "bta + sre + age", entry="start")
    assert f"{rows['patient_id'].nunique():,} / {fit.n_events:,}" in md
    assert f"{float(fit.summary.loc['bta', 'hr'] if 'hr' in fit.summary else fit.hr['bta']):.2f}" in md
