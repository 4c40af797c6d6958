"""Report types validation, calibration, decision_curve and nomogram: tables hold the numbers that the
estimators give, figures are drawn, bad keys are named."""
from __future__ import annotations

import pandas as pd
import pytest

import bmstats as bm
from bmstats.datasets import load_rotterdam_gbsg
from bmstats.report.builder import build_report

FORMULA = "age + meno + C(size) + grade + np.exp(-0.12 * nodes) + np.log(pgr + 1) + hormon"
CONFIG = f"""\
title: Prediction report
data:
  dataset: rotterdam_gbsg
endpoints:
  rfs:
    time: "rfstime / 365.25"
    status: rfs
    unit: years
analyses:
  - id: val
    type: validation
    endpoint: rfs
    formula: "{FORMULA}"
    development: 'gbsg == 0'
    validation: 'gbsg == 1'
    time_horizon: 5
    bootstrap: 4
    seed: 1
  - id: cal
    type: calibration
    endpoint: rfs
    formula: "{FORMULA}"
    development: 'gbsg == 0'
    validation: 'gbsg == 1'
    time_horizon: 3
  - id: dca
    type: decision_curve
    endpoint: rfs
    formula: "{FORMULA}"
    development: 'gbsg == 0'
    validation: 'gbsg == 1'
    time_horizon: 5
  - id: nomo
    type: nomogram
    endpoint: rfs
    formula: "{FORMULA}"
    development: 'gbsg == 0'
    times: [3, 5]
outputs:
  tables: [csv]
  figures: [png]
"""


def test_combined_dataset_is_harmonised():
    d = load_rotterdam_gbsg()
    assert d.groupby("cohort").size().to_dict() == {"GBSG": 686, "Rotterdam": 1546}
    assert set(d["grade"]) == {2, 3} and list(d["size"].cat.categories) == ["<=20", "20-50", ">50"]


def test_prediction_report_types(tmp_path):
    config = tmp_path / "p.yaml"
    config.write_text(CONFIG)
    assert build_report(config, tmp_path / "out") == 0
    out = tmp_path / "out"
    for stem in ("val_calibration", "val_roc", "val_decision_curve", "val_risk_groups", "cal_plot", "dca", "nomo"):
        assert (out / "figures" / f"{stem}.png").exists(), stem
    table = pd.read_csv(out / "tables" / "val.csv")
    d = load_rotterdam_gbsg()
    d["time"], d["status"] = d["rfstime"] / 365.25, d["rfs"]
    dev, val = d[d.cohort == "Rotterdam"].reset_index(drop=True), d[d.cohort == "GBSG"].reset_index(drop=True)
    fit = bm.cox(dev, "time", "status", FORMULA)
    sc = bm.score(val, "time", "status", {"m": fit}, times=[5])
    assert table.iloc[1, 1] == pytest.approx(round(sc.auc["estimate"].iloc[0], 3))
    assert table.iloc[2, 1] == pytest.approx(round(sc.brier.set_index("model").loc["m", "estimate"], 3))
    boot = pd.read_csv(out / "tables" / "val_bootstrap.csv")
    assert len(boot) == 4
    assert "calibration curve" in (out / "report.html").read_text()


def test_prediction_report_names_bad_filters(tmp_path, capsys):
    config = tmp_path / "p.yaml"
    config.write_text(CONFIG.replace('validation: \'gbsg == 1\'\n    time_horizon: 5\n    bootstrap',
                                     'validation: \'gbsg == 2\'\n    time_horizon: 5\n    bootstrap'))
    assert build_report(config, tmp_path / "out") != 0
    assert "selects no rows" in capsys.readouterr().err


@pytest.mark.slow
def test_example_analyses_build(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("rotterdam_gbsg_validation", "bm_cohort_validation"):
        assert build_report(root / "analyses" / f"{name}.yaml", tmp_path / name) == 0
        assert (tmp_path / name / "report.html").exists()
