"""Notebook and terminal display of results: compact summaries made with the report tables, a small inline
SVG that ``bm.options.display.figures`` switches off, inline styles that inherit the theme's colours."""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats.report import display
from bmstats.report.format import fmt_ci, fmt_int


@pytest.fixture(scope="module")
def rott():
    rott = bm.datasets.load_rotterdam()
    rott["time"] = np.where(rott.recur == 1, rott.rtime, rott.dtime) / 365.25
    rott["status"] = np.where(rott.recur == 1, 1, np.where(rott.death == 1, 2, 0))
    rott["nodes_group"] = np.select([rott.nodes == 0, rott.nodes <= 3], ["0", "1-3"], "4+")
    return rott


@pytest.fixture(autouse=True)
def default_options():
    yield
    bm.options.display.figures = True
    bm.options.display.times = None


def plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)).replace("\xa0", " ")


def test_a_model_shows_its_regression_table_rows(rott):
    fg = bm.fine_gray(rott, "time", "status", "age + C(nodes_group) + grade")
    shown = fg._repr_html_()
    s = fg.summary
    term = next(t for t in s.index if "4+" in t)
    cell = fmt_ci(s.loc[term, "shr"] if "shr" in s.columns else s.loc[term, "hr"], s.loc[term, "lower"],
                  s.loc[term, "upper"])
    for text in (plain(shown), repr(fg)):
        assert cell in text and "1 (ref)" in text and "< 0.001" in text
        assert f"{fmt_int(fg.n)} / {fmt_int(fg.n_events)}" in text
        assert "SHR (95% CI)" in text and ".summary" in text  # the full frame is one attribute away
        assert "2.032e-19" not in text and "term" not in text.split("\n")[0]
    assert "<svg" in shown and len(shown.encode()) < 50_000


def test_curves_show_round_times_the_test_and_a_small_picture(rott):
    cif = bm.cumulative_incidence(rott, "time", "status", by="nodes_group")
    shown = cif._repr_html_()
    assert len(cif.table) > 1000 and len(shown.encode()) < 50_000
    text = repr(cif)
    assert "5 years" in text and "10 years" in text and "p (Gray)" in text
    at = cif.at([5])
    row = at[(at["cause"] == 1) & (at["group"].astype(str) == "4+")].iloc[0]
    assert fmt_ci(100 * row["estimate"], 100 * row["lower"], 100 * row["upper"], 1) in text
    svg = re.search(r"<svg.*?</svg>", shown, re.S).group(0)
    assert len(svg.encode()) < 12_000
    assert ".at(times)" in text and ".table" in text


def test_the_figure_can_be_switched_off_and_times_chosen(rott):
    km = bm.kaplan_meier(rott, "time", "recur", by="nodes_group")
    bm.options.display.figures = False
    assert "<svg" not in km._repr_html_()
    bm.options.display.times = [1, 3]
    text = repr(km)
    assert "1 year" in text and "3 years" in text and "10 years" not in text


@pytest.mark.parametrize("name, value", [("figures", "yes"), ("times", ["a"]), ("times", [-1]), ("max_rows", 0),
                                         ("colour", True)])
def test_bad_display_options_are_refused_by_name(name, value):
    with pytest.raises((TypeError, AttributeError), match=name):
        setattr(bm.options.display, name, value)


def test_a_test_and_a_validation_report(rott):
    lr = bm.logrank_test(rott, "time", "recur", by="nodes_group")
    text = repr(lr)
    assert f"{lr.statistic:.2f}" in text and "< 0.001" in text and ".p_value" in text
    report = bm.validate(bm.datasets.load_bm_cohort())
    shown = report._repr_html_()
    assert report.headline in plain(shown) and "BM102-events-within-21-days" in shown
    assert len(shown.encode()) < 50_000


def test_colours_inherit_the_theme(rott):
    """No text colour is fixed (it would vanish on one of the themes); lines use the Okabe-Ito blue to orange."""
    cox = bm.cox(rott, "time", "recur", "age + C(nodes_group)")
    cif = bm.cumulative_incidence(rott, "time", "status", by="nodes_group")
    for shown in (cox._repr_html_(), cif._repr_html_()):
        assert set(re.findall(r"(?<![-\w])color:([^;\"]+)", shown)) <= {"inherit"}
        assert "background:transparent" in shown
        assert not re.search(r'fill="#(?:000|fff|000000|ffffff)"', shown, re.I)


def test_round_times():
    assert display.round_times(19.3) == [5, 10, 15]
    assert display.round_times(2.2) == [1.0, 2.0]
    assert display.round_times(0) == [] and display.round_times(float("nan")) == []


def test_a_result_with_one_curve_and_no_groups():
    frame = pd.DataFrame({"time": [1.0, 2.0, 3.0, 4.0], "event": [1, 0, 1, 1]})
    km = bm.kaplan_meier(frame, "time", "event")
    text = repr(km)
    assert "all" in text and len(km._repr_html_().encode()) < 50_000


def test_a_non_estimable_effect_is_marked_and_not_drawn():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"time": rng.exponential(1, 60), "x": np.r_[np.ones(30), np.zeros(30)],
                          "age": rng.normal(60, 10, 60)})
    frame["status"] = np.where(frame["x"] == 1, 1, 0)  # no events when x = 0: monotone likelihood
    frame.loc[0:3, "status"] = 0
    with pytest.warns(UserWarning):
        fit = bm.cox(frame, "time", "status", "x + age")
    text = repr(fit)
    assert "not estimable" in text and "Not estimable:" in text
    svg = re.search(r"<svg.*?</svg>", fit._repr_html_(), re.S).group(0)
    assert ">age<" in svg and ">x<" not in svg


def test_incidence_rates_show_as_the_report_rate_table(rott):
    frame = rott.assign(relapse=(rott["status"] == 1).astype(int))
    rates = bm.incidence_rate(frame, "time", "relapse", by="nodes_group", per=1000)
    text = repr(rates)
    row = rates.table.iloc[0]
    assert "Rate per 1,000 person-time (95% CI)" in text
    assert fmt_ci(row["rate"], row["lower"], row["upper"], 1) in text and fmt_int(row["n_event"]) in text


def test_the_display_chooses_by_result_class_not_by_attributes(rott):
    """A frame or a look-alike object is not a bmstats result: refused by name, never guessed at."""
    from bmstats._checks import InputError

    class LooksLikeAModel:
        summary = pd.DataFrame({"coef": [0.1], "lower": [0.0], "upper": [0.2]})

    for thing in (pd.DataFrame({"time": [1.0], "estimate": [0.5]}), LooksLikeAModel()):
        with pytest.raises(InputError, match=f"cannot display a {type(thing).__name__}: not a bmstats result"):
            display.to_html(thing)
    # every other result shows its tidy frame and names where its full data are
    score = bm.score(rott.assign(p=0.3), "rtime", "recur", "p", times=[2000])
    assert "Full data: `.auc`, `.brier`, `.contrasts`, `.roc`." in display.summarize(score).hint
