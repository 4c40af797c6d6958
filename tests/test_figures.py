"""Figures tested on their data (plotted steps = result tables, risk-table numbers = n at risk at the ticks)
and by rendering headless (Agg): PNG at 300 dpi, SVG, PDF, byte-identical when drawn twice."""
import hashlib

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

import bmstats as bm
from bmstats.report import figures
from bmstats.report.expressions import column
from bmstats.report.format import fmt_int
from bmstats.report.style import OKABE_ITO


@pytest.fixture(scope="module")
def rott():
    d = bm.datasets.load_rotterdam().sample(800, random_state=7).sort_index()
    d["nodal"] = column('cut(nodes, [1, 4], ["0", "1-3", "4+"])', d)
    d["t"] = column("where(recur == 1, rtime, dtime) / 365.25", d)
    d["s"] = column("where(recur == 1, 1, where(death == 1, 2, 0))", d)
    d["os"] = d["dtime"] / 365.25
    return d


def _curves(ax):
    return {line.get_gid().split(":", 1)[1]: line for line in ax.lines if (line.get_gid() or "").startswith("curve:")}


def _risk_rows(fig):
    """The risk-table numbers as rows of text, top to bottom, and their x positions."""
    rax = next(a for a in fig.axes if a.get_gid() == "risk_table")
    texts = [t for t in rax.texts if t.get_gid() == "risk_number"]
    rows: dict[float, list] = {}
    for t in texts:
        rows.setdefault(t.get_position()[1], []).append(t)
    return [[t.get_text() for t in sorted(rows[y], key=lambda t: t.get_position()[0])] for y in sorted(rows)], \
        sorted({t.get_position()[0] for t in texts})


def test_survival_curve_steps_equal_the_km_table(rott):
    km = bm.kaplan_meier(rott, "os", "death", by="nodal")
    lr = bm.logrank_test(rott, "os", "death", by="nodal")
    fig = figures.plot_survival(km, test=lr, xmax=15)
    assert isinstance(fig, Figure)
    main = fig.axes[0]
    curves = _curves(main)
    assert list(curves) == ["0", "1-3", "4+"]
    for g, line in curves.items():
        tb = km.table[km.table["group"] == g]
        x, y = line.get_xdata(), line.get_ydata()
        np.testing.assert_array_equal(x, np.r_[0.0, tb["time"]])
        np.testing.assert_array_equal(y, np.r_[1.0, tb["estimate"]])
        assert line.get_drawstyle() == "steps-post"
    assert [line.get_color() for line in curves.values()] == list(OKABE_ITO[:3])
    marks = [line for line in main.lines if line.get_gid() == "censor_marks"]
    tb0 = km.table[km.table["group"] == "0"]
    np.testing.assert_array_equal(marks[0].get_xdata(), tb0.loc[tb0["n_censor"] > 0, "time"])
    assert main.get_title(loc="right") == "Log-rank p < 0.001"
    # the risk table: at risk and cumulative events at the x ticks, aligned with them
    rows, xs = _risk_rows(fig)
    ticks = list(main.get_xticks())
    assert xs == ticks
    at = km.at(ticks)
    for k, g in enumerate(["0", "1-3", "4+"]):
        sub = at[at["group"] == g]
        assert rows[k] == [fmt_int(v) for v in sub["n_risk"]]
        assert rows[3 + k] == [fmt_int(v) for v in np.cumsum(sub["n_event"])]
    # n at risk at a tick = patients with follow-up >= the tick
    g0 = rott[rott["nodal"] == "0"]
    assert rows[0] == [fmt_int((g0["os"] >= t).sum()) for t in ticks]


def test_cumulative_incidence_steps_risk_numbers_and_gray(rott):
    ci = bm.cumulative_incidence(rott, "t", "s", by="nodal")
    fig = figures.plot_cumulative_incidence(ci, cause=1, xmax=12, ticks=[0, 4, 8, 12])
    main = fig.axes[0]
    for g, line in _curves(main).items():
        tb = ci.table[(ci.table["group"] == g) & (ci.table["cause"] == 1)]
        np.testing.assert_array_equal(line.get_ydata(), np.r_[0.0, tb["estimate"]])
        np.testing.assert_array_equal(line.get_xdata(), np.r_[0.0, tb["time"]])
    gray = ci.gray_test
    assert gray.loc[gray["cause"] == 1, "p_value"].iloc[0] < 0.001
    assert main.get_title(loc="right") == "Gray's test p < 0.001"
    rows, xs = _risk_rows(fig)
    assert xs == [0, 4, 8, 12]
    at = ci.at([0, 4, 8, 12])
    for k, g in enumerate(["0", "1-3", "4+"]):
        sub = at[(at["group"] == g) & (at["cause"] == 1)]
        assert rows[k] == [fmt_int(v) for v in sub["n_risk"]]
        assert rows[3 + k] == [fmt_int(v) for v in np.cumsum(sub["n_event"])]


def test_stacked_cumulative_incidence_adds_the_causes(rott):
    ci = bm.cumulative_incidence(rott, "t", "s", by="nodal")
    fig = figures.plot_cumulative_incidence(ci, stacked=True, cause_labels={1: "Relapse", 2: "Death"})
    first = fig.axes[0]
    tops = [line for line in first.lines]
    tb = ci.table[ci.table["group"] == "0"]
    t1 = tb[tb["cause"] == 1].set_index("time")["estimate"]
    t2 = tb[tb["cause"] == 2].set_index("time")["estimate"]
    x, top = tops[1].get_xdata(), tops[1].get_ydata()
    end = float(tb["time"].max())
    i = np.searchsorted(x, end, side="right") - 1
    assert top[i] == pytest.approx(t1.loc[end] + t2.loc[end])
    assert len([a for a in fig.axes if a.get_gid() == "risk_table"]) == 3


def test_mcf_curve_and_risk_numbers():
    rows = pd.DataFrame({"id": [1, 1, 2, 3, 3, 4, 5], "start": [0, 1, 0, 0, 2, 0, 0], "stop": [1, 3, 2, 2, 4, 5, 6],
                         "event": [1, 0, 0, 1, 1, 0, 1], "terminal": [0, 1, 0, 0, 0, 0, 0],
                         "g": ["a", "a", "a", "b", "b", "b", "b"]})
    mcf = bm.mean_cumulative_function(rows, "id", "start", "stop", "event", terminal="terminal", by="g")
    fig = figures.plot_mcf(mcf, ticks=[0, 2, 4])
    curves = _curves(fig.axes[0])
    tb = mcf.table[mcf.table["group"] == "b"]
    np.testing.assert_array_equal(curves["b"].get_ydata()[1:-1], tb["estimate"])
    risk, _ = _risk_rows(fig)
    # at risk just after each tick: subjects with start <= t < stop
    assert risk[0] == ["2", "1", "0"]  # a: ids 1, 2
    assert risk[1] == ["3", "3", "2"]  # b: ids 3, 4, 5
    assert risk[3] == ["0", "1", "2"]  # b: cumulative events by the tick


def test_forest_plots_the_regression_table(rott):
    fits = {"Univariable": [bm.cox(rott, "os", "death", "age"), bm.cox(rott, "os", "death", "nodal")],
            "Multivariable": bm.cox(rott, "os", "death", "age + nodal")}
    table = bm.regression_table(fits)
    fig = figures.plot_forest(table)
    ax = fig.axes[1]
    assert ax.get_xscale() == "log"
    for model in fits:
        pts = next(line for line in ax.lines if line.get_gid() == f"points:{model}")
        data = table.data[table.data["model"] == model]
        np.testing.assert_allclose(pts.get_xdata(), data["ratio"])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels[:2] == ["Variable", "age"] and "0" in labels  # reference level row is listed
    texts = [t.get_text() for t in fig.axes[2].texts]
    assert "1 (ref)" in texts
    # a result (or competing_risks_models) goes through regression_table itself
    crm = bm.competing_risks_models(rott, "t", "s", "age + nodal", cause=[1])
    assert isinstance(crm.plot(), Figure)


def test_schoenfeld_panels(rott):
    fit = bm.cox(rott, "os", "death", "age + nodal")
    z = fit.ph_test()
    fig = z.plot()
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title(loc="left").splitlines()[0] for a in visible] == [
        figures.coefficient_label(c) for c in z.residuals.columns]
    assert figures.coefficient_label("C(grade)[T.3]") == "grade: 3"
    assert visible[1].get_title(loc="left").splitlines()[1].startswith("nodal, 2 df: p")
    pts = next(line for line in visible[0].lines if line.get_gid() == "residuals")
    np.testing.assert_array_equal(pts.get_ydata(), z.residuals.iloc[:, 0])


def test_exclusion_flow_boxes():
    log = pd.DataFrame({"reason": ["no date", "prevalent", "nothing"], "n_excluded": [3, 10, 0],
                        "n_before": [100, 97, 87]})
    fig = figures.plot_exclusion_flow(log)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid() != "flow:excluded"}
    excluded = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "flow:excluded"]
    assert "(n = 100)" in texts["flow:start"] and "(n = 87)" in texts["flow:final"]
    assert len(excluded) == 2 and "(n = 10)" in excluded[1]


def test_save_figure_formats_dpi_and_bytes(rott, tmp_path):
    km = bm.kaplan_meier(rott.iloc[:200], "os", "death")
    digests = []
    for run in range(2):
        fig = figures.plot_survival(km)
        paths = figures.save_figure(fig, tmp_path / f"run{run}" / "km")
        assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in paths])
    assert digests[0] == digests[1]
    with Image.open(tmp_path / "run0" / "km.png") as im:
        assert tuple(round(v) for v in im.info["dpi"]) == (300, 300)
        assert im.size[0] == round(3.5 * 300)  # single journal column
    svg = (tmp_path / "run0" / "km.svg").read_text()
    assert "<dc:date>" not in svg
    assert b"CreationDate" not in (tmp_path / "run0" / "km.pdf").read_bytes()


def test_draws_into_a_given_axes(rott):
    km = bm.kaplan_meier(rott, "os", "death", by="nodal")
    fig = Figure()
    ax = fig.add_subplot()
    assert km.plot(ax=ax) is fig
    assert len(_curves(ax)) == 3 and len(fig.axes) == 1


def test_every_result_plot_delegates_here(rott):
    """The .plot() of each estimator result (one-line delegations) returns a Figure drawn by this module."""
    cohort = bm.datasets.load_bm_cohort()
    sre = cohort.recurrent_events()
    ep = cohort.endpoint_with_log("bone_metastasis", competing=("death",))
    per_patient = sre.groupby("id").agg(events=("event", "sum"), pt=("stop", "max"), age=("age", "first"))
    results = [
        bm.kaplan_meier(rott, "os", "death"),
        bm.cumulative_incidence(rott, "t", "s"),
        bm.cox(rott, "os", "death", "age + nodal"),
        bm.fine_gray(rott, "t", "s", "age + nodal"),
        bm.cox(rott, "os", "death", "age").ph_test(),
        bm.mean_cumulative_function(sre, "id", "start", "stop", "event", terminal="terminal"),
        bm.rate_regression(per_patient[per_patient["pt"] > 0], "events", "pt", "age"),
        bm.sre_summary(sre, "id", "start", "stop", "event", terminal="terminal"),
        ep.exclusions,
    ]
    for result in results:
        assert isinstance(result.plot(), Figure), type(result).__name__
