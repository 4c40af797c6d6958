"""Captions say what the figure shows: 'confidence band' only when bands are drawn (counted on the axes
themselves), and the reason when they are left out (bmstats.report.captions, recorded by the figures)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection

import bmstats as bm
from bmstats.report import captions
from bmstats.report import figures as figs


@pytest.fixture(scope="module")
def rott():
    rot = bm.datasets.load_rotterdam()
    rot["time"] = rot.dtime / 365.25
    rot["status"] = np.where(rot.recur == 1, 1, np.where(rot.death == 1, 2, 0))
    rot["g5"] = (rot["pid"] % 5).astype(str)
    return rot


def _bands_on(fig) -> int:
    return sum(isinstance(c, PolyCollection) for ax in fig.axes[:1] for c in ax.collections)


@pytest.mark.parametrize("by, kwargs", [("hormon", {}), ("g5", {}), ("g5", {"conf_int": True}),
                                        ("hormon", {"conf_int": False}), (None, {})])
def test_km_caption_claims_bands_only_when_drawn(rott, by, kwargs):
    km = bm.kaplan_meier(rott, "time", "death", by=by)
    fig = figs.plot_survival(km, **kwargs)
    text = captions.curve_caption(fig, "OS", "Kaplan-Meier estimate")
    n = _bands_on(fig)
    assert ("confidence band" in text and "left out" not in text) == (n > 0), (text, n)
    if by == "g5" and not kwargs:
        assert n == 0 and "confidence bands left out: 5 curves would overlap" in text
    plt.close(fig)


@pytest.mark.parametrize("by", ["hormon", "g5"])
def test_cif_caption_claims_bands_only_when_drawn(rott, by):
    ci = bm.cumulative_incidence(rott, "time", "status", by=by)
    fig = figs.plot_cumulative_incidence(ci, cause=1)
    text = captions.curve_caption(fig, "Relapse", "cumulative incidence", "Gray's test p = 0.1")
    n = _bands_on(fig)
    assert n == (2 if by == "hormon" else 0)
    assert ("with 95% confidence bands" in text) == (n > 0)
    assert text.endswith("; Gray's test p = 0.1; numbers at risk below the time axis.")
    plt.close(fig)


def test_the_synthetic_report_bone_metastasis_caption(tmp_path):
    from bmstats.report.builder import ReportBuilder
    from bmstats.report.config import load_config
    from pathlib import Path

    cfg_path = Path(__file__).resolve().parents[1] / "analyses" / "bm_cohort.yaml"
    cfg = load_config(cfg_path)
    b = ReportBuilder(cfg, cfg_path, tmp_path)
    b.load_data()
    section = b.run(next(a for a in cfg["analyses"] if a["id"] == "bm_incidence"))
    fig, _, caption = section.figures[0]
    assert _bands_on(fig) == 0
    assert "with 95% confidence band" not in caption
    assert "confidence bands left out: 5 curves would overlap" in caption
    plt.close(fig)


@pytest.mark.parametrize("extra, tests, smd", [
    ("", False, False),
    ("    by: hormon\n", True, True),
    ("    by: hormon\n    smd: false\n", True, False),
    ("    by: hormon\n    tests: false\n", False, True),
])
def test_methods_text_names_only_the_comparisons_table_one_shows(tmp_path, extra, tests, smd):
    from bmstats.report.builder import ReportBuilder
    from bmstats.report.config import parse_config

    text = ("title: t\ndata:\n  dataset: rotterdam\nanalyses:\n  - id: t1\n    type: table_one\n"
            "    variables: [age, meno]\n" + extra)
    cfg = parse_config(text, "t.yaml")
    b = ReportBuilder(cfg, tmp_path / "t.yaml", tmp_path)
    b.load_data()
    section = b.run(cfg["analyses"][0])
    methods = b.methods_paragraph()
    table = section.tables[0][0]
    assert ("compared across groups" in methods) == tests == ("p" in table.body.columns)
    assert ("standardised mean differences" in methods) == smd == ("SMD" in table.body.columns)
    if tests:
        assert "the t-test" in methods and "Pearson's chi-squared test" in methods
        assert "Kruskal-Wallis" not in methods  # not used by this table
