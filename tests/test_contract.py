"""The contract every estimator result keeps (docs/api.md): one base class, the vocabulary of its frames,
``repr`` and ``_repr_html_``, ``.plot(ax=)`` drawing into the given axes, the matching report table, and
frames handed out as copies, so that editing one changes neither the result nor a table made later."""
from __future__ import annotations

import dataclasses
import html
import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate._result import CurveResult, ModelResult, Result, TestResult
from bmstats.report.expressions import column
from bmstats.report.table_builders import mcf_table

CURVE = ["time", "n_risk", "n_event", "estimate", "std_err", "lower", "upper"]
MODEL = ["coef", "std_err", "{ratio}", "lower", "upper", "statistic", "p_value"]


@pytest.fixture(scope="module")
def data():
    d = bm.datasets.load_rotterdam().sample(600, random_state=11).sort_index()
    d["nodal"] = column('cut(nodes, [1, 4], ["0", "1-3", "4+"])', d)
    d["t"] = column("where(recur == 1, rtime, dtime) / 365.25", d)
    d["s"] = column("where(recur == 1, 1, where(death == 1, 2, 0))", d)
    d["os"] = d["dtime"] / 365.25
    cohort = bm.datasets.load_bm_cohort()
    sre = cohort.recurrent_events()
    per_patient = sre.groupby("id").agg(events=("event", "sum"), pt=("stop", "max"), age=("age", "first"))
    ms = cohort.multistate(origin="diagnosis", states=["bone_metastasis", "death"], unit="years")
    return {"rott": d, "sre": sre, "counts": per_patient[per_patient["pt"] > 0].reset_index(), "ms": ms,
            "patients": cohort.patients.assign(bm_at_dx=lambda p: (p["bm_date"] <= p["dx_date"]).astype(int))}


def _km(d):
    return bm.kaplan_meier(d["rott"], "os", "death", by="nodal")


def _cox(d):
    return bm.cox(d["rott"], "os", "death", "age + nodal")


def _mcf(d):
    return bm.mean_cumulative_function(d["sre"], "id", "start", "stop", "event", terminal="terminal", by="subtype")


# name -> (make the result, make its report table or None when no table builder takes it)
CASES = {
    "kaplan_meier": (_km, lambda r, d: bm.survival_table(r, [2, 5])),
    "kaplan_meier median": (_km, lambda r, d: bm.median_table(r)),
    "logrank_test": (lambda d: bm.logrank_test(d["rott"], "os", "death", by="nodal"),
                     lambda r, d: bm.survival_table(_km(d), [2, 5], test=r)),
    "cumulative_incidence": (lambda d: bm.cumulative_incidence(d["rott"], "t", "s", by="nodal"),
                             lambda r, d: bm.cif_table(r, [2, 5], cause=1)),
    "cox": (_cox, lambda r, d: bm.regression_table(r)),
    "cox ph_test": (lambda d: _cox(d).ph_test(), None),
    "fine_gray": (lambda d: bm.fine_gray(d["rott"], "t", "s", "age + nodal", cause=1),
                  lambda r, d: bm.regression_table(r)),
    "cause_specific_cox": (lambda d: bm.cause_specific_cox(d["rott"], "t", "s", "age + nodal", cause=2),
                           lambda r, d: bm.regression_table(r)),
    "competing_risks_models": (lambda d: bm.competing_risks_models(d["rott"], "t", "s", "age + nodal", cause=[1]),
                               lambda r, d: bm.regression_table(r)),
    "incidence_rate": (lambda d: bm.incidence_rate(d["rott"], "os", "death", by="nodal"),
                       lambda r, d: bm.rate_table(r)),
    "rate_ratio": (lambda d: bm.rate_ratio(d["rott"], "os", "death", by="nodal"),
                   lambda r, d: bm.rate_table(bm.incidence_rate(d["rott"], "os", "death", by="nodal"), ratios=r)),
    "rate_regression": (lambda d: bm.rate_regression(d["counts"], "events", "pt", "age"),
                        lambda r, d: bm.regression_table(r)),
    "mean_cumulative_function": (_mcf, lambda r, d: mcf_table(r, [1, 2])),
    "mean_cumulative_function compare": (lambda d: _mcf(d).compare(), None),
    "sre_summary": (lambda d: bm.sre_summary(d["sre"], "id", "start", "stop", "event", terminal="terminal"), None),
    "state_occupation": (lambda d: bm.state_occupation(d["ms"]), None),
    "multistate_cox": (lambda d: bm.multistate_cox(d["ms"], "age"), lambda r, d: bm.regression_table(r)),
    "proportion": (lambda d: bm.proportion(d["patients"], "bm_at_dx", by="subtype"), None),
    "logistic": (lambda d: bm.logistic(d["patients"], "bm_at_dx", "age", interval="wald"),
                 lambda r, d: bm.regression_table(r)),
    "concordance": (lambda d: bm.concordance(d["rott"], "os", "death", "age"), None),
    "royston_d": (lambda d: bm.royston_d(_cox(d), d["rott"], "os", "death"), None),
}

# results without a sensible picture have no .plot
NO_PLOT = {"logrank_test", "incidence_rate", "rate_ratio", "mean_cumulative_function compare", "concordance",
           "royston_d"}


@pytest.fixture(scope="module")
def results(data):
    return {}


def _result(name, data, results):
    if name not in results:
        results[name] = CASES[name][0](data)
    return results[name]


@pytest.mark.parametrize("name", list(CASES))
def test_every_result_keeps_the_contract(name, data, results):
    res = _result(name, data, results)
    assert isinstance(res, Result) and dataclasses.is_dataclass(res)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n = 0
    assert isinstance(res.n, (int, np.integer)) and res.n > 0
    assert isinstance(res.notes, tuple) and all(isinstance(n, str) for n in res.notes)
    text, page = repr(res), res._repr_html_()
    assert text.splitlines()[0] == res._title and "<table" in page and html.escape(res._title) in page
    # the vocabulary
    if isinstance(res, CurveResult):
        assert set(CURVE) <= set(res.table.columns) and {"time", "estimate", "lower", "upper"} <= set(res.at([1.0]))
        assert res.n_events >= 0 and 0 < res.conf_level < 1
    if isinstance(res, ModelResult):
        want = [c.format(ratio=res.ratio_name) for c in MODEL]
        assert [c for c in res.summary.columns if c in want] == want and res.summary.index.name == "term"
        assert res.ratio_name in ("hr", "shr", "rate_ratio", "odds_ratio")
        assert res.n_events >= 0 and 0 < res.conf_level < 1 and isinstance(res.converged, bool)
    if isinstance(res, TestResult):
        assert np.isfinite([res.statistic, res.df, res.p_value]).all() and 0 <= res.p_value <= 1
    # plots draw into the given axes
    if name in NO_PLOT:
        assert not hasattr(res, "plot")
    else:
        fig = Figure()
        ax = fig.add_subplot()
        assert res.plot(ax=ax) is fig
        drawn = [a for a in fig.axes if a is ax or a in ax.child_axes]
        assert drawn and any(a.lines or a.collections or a.texts for a in [ax, *ax.child_axes])
    # the matching report table
    make_table = CASES[name][1]
    if make_table is not None:
        table = make_table(res, data)
        assert isinstance(table, bm.Table) and len(table.body) > 0 and "<table" in table.to_html()


def _exposed(res):
    """(name, value) of every public attribute that holds data: dataclass fields and properties."""
    out = []
    for name in dir(type(res)):
        if name.startswith("_") or name in ("notes",):
            continue
        static = inspect.getattr_static(type(res), name, None)
        is_field = name in {f.name for f in dataclasses.fields(res)}
        if not (is_field or isinstance(static, property)):
            continue
        with warnings.catch_warnings(action="ignore", category=FutureWarning):
            value = getattr(res, name)
        if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray, dict)):
            out.append((name, value))
    return out


def _vandalise(value):
    if isinstance(value, pd.DataFrame):
        value.iloc[:, :] = 0 if value.size else value
        value["vandal"] = 1
    elif isinstance(value, pd.Series):
        value.iloc[:] = 0
    elif isinstance(value, np.ndarray):
        if value.flags.writeable and value.size:
            value[...] = 0
    elif isinstance(value, dict):
        value.clear()


def _same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a.keys() == b.keys(), "a dict handed out is the result's own"


@pytest.mark.parametrize("name", list(CASES))
def test_editing_a_returned_frame_changes_nothing(name, data, results):
    res = _result(name, data, results)
    exposed = _exposed(res)
    before = {k: dict(v) if isinstance(v, dict) else v.copy() for k, v in exposed}
    for _, value in exposed:
        with warnings.catch_warnings(action="ignore"):
            _vandalise(value)
    for key, _ in exposed:
        with warnings.catch_warnings(action="ignore", category=FutureWarning):
            try:
                _same(before[key], getattr(res, key))
            except AssertionError as exc:
                raise AssertionError(f"{name}.{key} is not a copy: {exc}") from None


def test_editing_frames_does_not_change_a_later_table(data):
    cox = _cox(data)
    first = bm.regression_table(cox).body.copy()
    s = cox.summary
    s.loc[:, "hr"] = 99.0
    coef = cox.coef
    coef.iloc[:] = 0
    assert bm.regression_table(cox).body.equals(first)
    km = _km(data)
    before = bm.survival_table(km, [2, 5]).body.copy()
    t = km.table
    t.loc[:, "estimate"] = 0.0
    assert bm.survival_table(km, [2, 5]).body.equals(before)


def test_table_builders_take_only_their_result(data):
    km = _km(data)
    with pytest.raises(InputError, match="cif_table: result must be a result of bmstats.cumulative_incidence"):
        bm.cif_table(km, [2])
    with pytest.raises(InputError, match="regression_table: model must be a fitted model"):
        bm.regression_table(km)
    with pytest.raises(InputError, match="rate_table: ratios must be a result of bmstats.rate_ratio"):
        bm.rate_table(bm.incidence_rate(data["rott"], "os", "death", by="nodal"), ratios=km)


# ------------------------------------------------------------------------- old spellings still work, and warn
OLD_SPELLINGS = [
    # (old call, new call, the new spelling the warning names)
    (lambda d: bm.fine_gray(d["rott"], "t", "s", "age", event=2),
     lambda d: bm.fine_gray(d["rott"], "t", "s", "age", cause=2), "cause="),
    (lambda d: bm.cause_specific_cox(d["rott"], "t", "s", "age", event=2),
     lambda d: bm.cause_specific_cox(d["rott"], "t", "s", "age", cause=2), "cause="),
    (lambda d: bm.competing_risks_models(d["rott"], "t", "s", "age", events=[1]),
     lambda d: bm.competing_risks_models(d["rott"], "t", "s", "age", cause=[1]), "cause="),
    (lambda d: bm.kaplan_meier(d["rott"], "os", "death", "nodal"),
     lambda d: bm.kaplan_meier(d["rott"], "os", "death", by="nodal"), "by="),
    (lambda d: bm.cox(d["rott"], "os", "death", "age", "nodal"),
     lambda d: bm.cox(d["rott"], "os", "death", "age", strata="nodal"), "strata="),
    (lambda d: bm.logrank_test(d["rott"], "os", "death", "nodal"),
     lambda d: bm.logrank_test(d["rott"], "os", "death", by="nodal"), "by="),
    (lambda d: bm.incidence_rate(d["rott"], "os", "death", "nodal", 100),
     lambda d: bm.incidence_rate(d["rott"], "os", "death", by="nodal", per=100), "per="),
    (lambda d: bm.mean_cumulative_function(d["sre"], "id", "start", "stop", "event", "terminal"),
     lambda d: bm.mean_cumulative_function(d["sre"], "id", "start", "stop", "event", terminal="terminal"),
     "terminal="),
]


@pytest.mark.parametrize("k", range(len(OLD_SPELLINGS)))
def test_old_spellings_warn_naming_the_new_one_and_give_the_same_result(k, data):
    old, new, spelling = OLD_SPELLINGS[k]
    with pytest.warns(FutureWarning, match=spelling):
        before = old(data)
    after = new(data)
    frame = "summary" if hasattr(after, "summary") and not hasattr(after, "table") else "table"
    pd.testing.assert_frame_equal(getattr(before, frame), getattr(after, frame))


def test_deprecated_attributes_and_table_options(data):
    fg = bm.fine_gray(data["rott"], "t", "s", "age", cause=2)
    with pytest.warns(FutureWarning, match=r"\.cause"):
        assert fg.event == 2
    with pytest.warns(FutureWarning, match=r"\.shr"):
        pd.testing.assert_series_equal(fg.hr, fg.shr)
    ci = bm.cumulative_incidence(data["rott"], "t", "s", by="nodal")
    with pytest.warns(FutureWarning, match="cause="):
        old = bm.cif_table(ci, [2, 5], causes={1: "Relapse"})
    assert old.body.equals(bm.cif_table(ci, [2, 5], cause=1, cause_labels={1: "Relapse"}).body)
    with pytest.raises(TypeError, match="pass only cause="):
        bm.fine_gray(data["rott"], "t", "s", "age", event=1, cause=1)
    with pytest.raises(TypeError, match="positional arguments"):
        bm.logrank_test(data["rott"], "os", "death", "nodal", None, 0, False, None, False, "extra")


def test_conf_type_has_one_default_rule():
    """"log-log" wherever the estimate is a probability; the mean number of events, not a probability, "log"."""
    import inspect

    defaults = {}
    for name in dir(bm):
        obj = getattr(bm, name)
        if callable(obj) and not isinstance(obj, type):
            try:
                params = inspect.signature(obj).parameters
            except (TypeError, ValueError):
                continue
            if "conf_type" in params:
                defaults[name] = params["conf_type"].default
    assert defaults.pop("mean_cumulative_function") == "log"
    assert {"kaplan_meier", "cumulative_incidence", "state_occupation"} <= set(defaults)
    assert set(defaults.values()) == {"log-log"}, defaults


def test_a_models_design_cannot_be_edited_and_holds_no_matrix():
    from bmstats.datasets import load_rotterdam

    rott = load_rotterdam()
    fit = bm.cox(rott, "rtime", "recur", "age + C(grade) + C(meno)")
    design = fit.design
    with pytest.raises(TypeError):
        design.terms["age"] = ("x",)
    with pytest.raises(TypeError):
        design.reference_levels["grade"] = 3
    with pytest.raises(TypeError):
        next(iter(design.factors.values()))["reference"] = 99
    assert isinstance(design.terms["age"], tuple) and len(design.X) == 0 and design.n == len(rott)
    assert list(design.X.columns) == list(fit.summary.index)
    risk = bm.predict_risk(fit, rott.head(3), [2000])  # prediction needs only the fitted transforms
    assert len(risk) == 3 and np.isfinite(risk["risk"]).all()
