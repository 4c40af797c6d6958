"""Figures of prediction and validation: each draws what its result holds (calibration, ROC, decision curve,
risk groups, nomogram)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import bmstats as bm
from bmstats.report import prediction_figures as pf
from prediction_data import rotterdam

RHS = "age + C(size) + np.log(nodes + 1) + hormon"


@pytest.fixture(scope="module")
def setup():
    d = rotterdam().sample(1200, random_state=1)
    fit = bm.cox(d, "t", "relapse", RHS)
    p = bm.predict_risk(fit, d, [2000], conf_int=False)["risk"].to_numpy()
    return d, fit, p


def test_calibration_plot_draws_curve_band_and_groups(setup):
    d, fit, p = setup
    res = bm.calibration(d, "t", "relapse", {"cox": p}, time_horizon=2000)
    fig, ax = plt.subplots()
    assert res.plot(ax=ax) is fig
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(res.curve)]
    np.testing.assert_allclose(lines[0].get_ydata(), res.curve["observed"])
    assert "Predicted risk by 2000" in ax.get_xlabel()
    plt.close(fig)


def test_roc_and_decision_curve(setup):
    d, fit, p = setup
    sc = bm.score(d, "t", "relapse", {"cox": fit}, times=[1000, 2000])
    fig = pf.plot_roc(sc, time=2000)
    ax = fig.axes[0]
    auc = sc.auc.query("time == 2000")["estimate"].iloc[0]
    assert f"{auc:.3f}" in ax.get_legend().get_texts()[0].get_text()
    roc = sc.roc.query("time == 2000")
    assert roc["tpr"].is_monotonic_increasing and roc["fpr"].is_monotonic_increasing
    with pytest.raises(ValueError, match="horizons"):
        pf.plot_roc(sc, time=5)
    nb = bm.net_benefit(d, "t", "relapse", {"cox": p}, time_horizon=2000, thresholds=np.linspace(0.05, 0.6, 12))
    fig = pf.plot_decision_curve(nb)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["treat all", "treat none", "cox"]


def test_risk_groups_and_nomogram(setup):
    d, fit, p = setup
    fig = pf.plot_risk_groups(d, "t", "relapse", p, time_horizon=2000, groups=4)
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    fig = pf.plot_nomogram(fit, d, times=[1000, 2000])
    texts = [t.get_text() for t in fig.axes[0].texts]
    for label in ("Points", "Total points", "Risk by 1000", "Risk by 2000", "age", "size", "nodes", "hormon"):
        assert label in texts
    fg = bm.fine_gray(d, "t", "st", "age + np.log(nodes + 1)")
    fig = pf.plot_nomogram(fg, d, times=[2000])
    assert "Risk by 2000" in [t.get_text() for t in fig.axes[0].texts]
