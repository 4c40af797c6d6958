"""Regression input as a careless or hostile user gives it: every case is the right answer, a warning or an
InputError naming the column, level or row (issue: no silent wrong answers)."""
import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import ExtrapolationWarning, InputError
from bmstats.estimate._regression import ConvergenceWarning, NotEstimableWarning
from bmstats.estimate import prepare as prepare_module


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 300
    age = rng.normal(60, 10, n)
    grade = rng.choice(["g1", "g2", "g3"], n)
    t = rng.exponential(np.exp(-0.02 * (age - 60)), n)
    status = rng.choice([0, 1, 2], n, p=[0.3, 0.45, 0.25])
    return pd.DataFrame({"t": t, "status": status, "event": (status > 0).astype(int), "age": age,
                         "grade": grade})


FITS = {
    "cox": lambda d, f, **kw: bm.cox(d, "t", "event", f, **kw),
    "fine_gray": lambda d, f, **kw: bm.fine_gray(d, "t", "status", f, **kw),
}


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
@pytest.mark.parametrize("term", ["bs(age, df=3)", "cr(age, df=3)", "scale(age)", "center(age)",
                                  "np.log(age)", "I(age ** 2)"])
def test_missing_value_inside_a_transform_is_the_missing_value_error(data, fit, term):
    d = data.copy()
    d.loc[7, "age"] = np.nan
    with pytest.raises(InputError, match=r"column 'age': missing values.*row 7"):
        fit(d, term)
    res = fit(d, term, dropna=True)
    assert res.dropped.n == 1 and res.dropped.by_column == {"age": 1} and res.n == len(d) - 1


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
@pytest.mark.parametrize("term", ["cr(age, df=3)", "cs(age, df=4)", "cc(age, df=4)"])
def test_natural_and_cyclic_splines_fit(data, fit, term):
    res = fit(data, term)
    assert len(res.coef) == int(term.split("df=")[1][0]) and np.isfinite(res.coef).all()


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_level_omitted_from_levels_is_an_error_naming_it(data, fit):
    with pytest.raises(InputError, match=r"column 'grade': level\(s\) 'g3' are in the data but not among"):
        fit(data, "C(grade, levels=['g1', 'g2'])")
    res = fit(data, "C(grade, levels=['g2', 'g1', 'g3'])")  # every level listed: fine, g2 the reference
    assert len(res.coef) == 2


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_predict_unseen_level_or_missing_covariate(data, fit):
    res = fit(data, "age + grade")
    new = pd.DataFrame({"age": [50.0, 60.0, np.nan], "grade": ["g1", "g9", "g2"]}, index=[10, 11, 12])
    with pytest.raises(InputError, match=r"column 'age': missing values.*row 12"):
        res.predict(new, [1.0])
    with pytest.raises(InputError, match=r"newdata column 'grade': level\(s\) 'g9' not seen.*row 11"):
        res.predict(new.iloc[:2], [1.0])
    out = res.predict(new, [1.0], dropna=True)
    assert list(out["row"]) == [10]
    dropped = out.attrs["dropped"]
    assert dropped.n == 2 and set(dropped.rows) == {11, 12}


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
@pytest.mark.parametrize("times", [[np.nan], [-1.0], [], "one"])
def test_predict_refuses_bad_times(data, fit, times):
    res = fit(data, "age")
    with pytest.raises(InputError, match="times"):
        res.predict(data.head(2), times)


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_predict_beyond_follow_up_warns(data, fit):
    res = fit(data, "age")
    with pytest.warns(ExtrapolationWarning, match="beyond the last follow-up"):
        res.predict(data.head(2), [data["t"].max() * 2])


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]", "category"])
def test_text_columns_of_any_pandas_dtype_fit_as_object_columns(data, fit, dtype):
    expected = fit(data, "age + grade").coef
    got = fit(data.assign(grade=data["grade"].astype(dtype)), "age + grade").coef
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_nullable_string_column_with_missing_values_is_dropped_and_counted(data):
    d = data.assign(grade=data["grade"].astype("string"))
    d.loc[3, "grade"] = pd.NA
    with pytest.raises(InputError, match=r"column 'grade': missing values.*row 3"):
        bm.cox(d, "t", "event", "grade")
    assert bm.cox(d, "t", "event", "grade", dropna=True).dropped.n == 1


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_bad_covariate_kinds_are_named(data, fit):
    dated = data.assign(when=pd.Timestamp("2020-01-01") + pd.to_timedelta(data["age"], "D"))
    with pytest.raises(InputError, match=r"column 'when': a date or duration"):
        fit(dated, "when")
    mixed = data.assign(code=data["grade"].astype(object))
    mixed.loc[5, "code"] = 1
    with pytest.raises(InputError, match=r"column 'code': mixes values of different kinds.*row 5"):
        fit(mixed, "code")
    with pytest.raises(InputError, match=r"'g7'.*not among the provided levels"):
        fit(data, "treatment(grade, 'g7')")


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
@pytest.mark.parametrize("formula, message", [
    (None, "formula must be a non-empty string"),
    ("", "formula must be a non-empty string"),
    (3, "formula must be a non-empty string"),
    ("Surv(t, event) ~ age", "has a left-hand side"),
    ("age + weight", "'weight' not found"),
    ("np.log(weight)", "'weight' not found"),
    ("age +", "could not be parsed"),
])
def test_bad_formulas_are_named(data, fit, formula, message):
    with pytest.raises(InputError, match=message):
        fit(data, formula)


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_backticked_names_with_dots_as_in_r_data(data, fit):
    renamed = data.rename(columns={"age": "ph.ecog"})
    expected = fit(data, "age + np.log(age)").coef.to_numpy()
    got = fit(renamed, "`ph.ecog` + np.log(`ph.ecog`)").coef.to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_duplicated_column_names_are_refused(data, fit):
    d = data.copy()
    d.columns = ["t", "status", "event", "age", "age"]
    with pytest.raises(InputError, match="duplicated column name.*'age'"):
        fit(d, "age")


@pytest.mark.parametrize("column", ["t", "status", "event"])
def test_numbers_stored_as_text_in_the_outcome_are_named_with_rows(data, column):
    d = data.copy()
    d[column] = d[column].astype(object)
    d.loc[4, column] = str(d.loc[4, column])
    call = FITS["fine_gray"] if column == "status" else FITS["cox"]
    with pytest.raises(InputError, match=rf"column '{column}': must be numeric, but holds numbers stored as text"
                                         r".*; row 4$"):
        call(d, "age")


def test_one_preparation_pass(data, monkeypatch):
    """A fit checks the frame, its missing values and formula once (it was four times each)."""
    calls = {"require_frame": 0, "handle_missing": 0, "formula_variables": 0}
    for name in calls:
        original = getattr(prepare_module, name)

        def counted(*args, _name=name, _original=original, **kw):
            calls[_name] += 1
            return _original(*args, **kw)

        monkeypatch.setattr(prepare_module, name, counted)
    bm.fine_gray(data, "t", "status", "age + grade")
    bm.cox(data, "t", "event", "age + grade")
    assert calls == {"require_frame": 2, "handle_missing": 2, "formula_variables": 2}


def test_prepared_arrays_are_aligned_and_plain(data):
    d = data.copy()
    d.loc[[2, 9], "age"] = np.nan
    prep = prepare_module.prepare(d, "age + grade", time="t", status="status", dropna=True)
    assert isinstance(prep.time, np.ndarray) and isinstance(prep.status, np.ndarray)
    assert prep.X.shape == (len(d) - 2, 3) and len(prep.time) == prep.n == len(prep.rows)
    assert 2 not in prep.rows and prep.dropped.n == 2
    with pytest.raises(InputError, match=r"column 'status': code\(s\) 2 are neither 0"):
        prepare_module.prepare(d, "age", time="t", status="status", causes=[1], dropna=True)


# ---------------------------------------------------------------- non-estimable effects (monotone likelihood)
def _no_events_in(data, level, code=1):
    d = data.copy()
    d.loc[(d["grade"] == level) & (d["status"] == code), "status"] = 0
    d["event"] = (d["status"] > 0).astype(int)
    return d


@pytest.mark.parametrize("scale", [1.0, 0.01, 1000.0])
def test_level_without_events_of_the_cause_is_not_estimable_at_any_scale(data, scale):
    d = _no_events_in(data, "g3")
    d["g3"] = (d["grade"] == "g3") * scale
    with pytest.warns(NotEstimableWarning, match="'g3' not estimable"):
        res = bm.fine_gray(d, "t", "status", "g3 + age")
    s = res.summary
    assert not s.loc["g3", "estimable"] and s.loc["age", "estimable"]
    assert s.loc["g3", ["shr", "lower", "upper", "p_value"]].isna().all()
    assert np.isfinite(s.loc["age", ["shr", "lower", "upper", "p_value"]].astype(float)).all()


def test_reference_level_without_events_makes_every_other_level_not_estimable(data):
    d = data.copy()
    d.loc[d["grade"] == "g1", "event"] = 0
    with pytest.warns(NotEstimableWarning, match=r"'grade\[T.g2\]', 'grade\[T.g3\]'"):
        res = bm.cox(d, "t", "event", "grade + age")
    assert list(res.summary["estimable"]) == [False, False, True]
    assert np.isfinite(res.summary.loc["age", "p_value"])


def test_covariate_that_orders_the_events_perfectly_is_not_estimable(data):
    d = data.copy()
    d["x"] = np.where(d["event"] == 1, 1000 - d["t"], -d["t"]) / 1000  # every event has the largest x at risk
    with pytest.warns(NotEstimableWarning) as caught:
        res = bm.cox(d, "t", "event", "x + age")
    messages = [str(w.message) for w in caught]
    assert any("'x' not estimable: the likelihood" in m for m in messages)
    assert any("'age' not estimable either" in m for m in messages)  # its information went with x's
    assert not res.summary["estimable"].any()


@pytest.mark.parametrize("seed", range(6))
def test_a_perfectly_ordering_covariate_at_any_scale_takes_the_others_with_it(data, seed):
    """Newton-Raphson runs along the diverging effect until the risk-set sums underflow: those points are
    stepped back from (numpy says nothing), x is not estimable, and neither is age: as x diverges every
    event's risk set shrinks to the event itself, so age's estimate would only say where the fit stopped."""
    rng = np.random.default_rng(seed)
    d = data.copy()
    d["t"] = rng.permutation(len(d)) + 1.0
    d["x"] = -d["t"] * 10 ** rng.uniform(-2, 2)  # the earliest event has the largest x: every event does
    with warnings.catch_warnings(action="error", category=RuntimeWarning):
        with pytest.warns(NotEstimableWarning) as caught:
            res = bm.cox(d, "t", "event", "x + age")
    messages = [str(w.message) for w in caught]
    assert any("'x' not estimable: the likelihood has no finite maximum" in m for m in messages)
    assert any("'age' not estimable either: their information vanishes as 'x' diverges" in m for m in messages)
    assert not res.summary["estimable"].any() and res.summary["p_value"].isna().all()


def test_a_level_without_events_leaves_the_others_estimable(data):
    """The level's rows weigh nothing where the fit stopped: the others' information does not move further
    out, and their estimates are the limiting ones (not carried along with the diverging level)."""
    d = _no_events_in(data, "g3", code=1)
    with pytest.warns(NotEstimableWarning) as caught:
        res = bm.cox(d.assign(event=(d["status"] == 1).astype(int)), "t", "event", "grade + age")
    assert not any("either" in str(w.message) for w in caught)
    assert list(res.summary["estimable"]) == [True, False, True]


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_a_large_coefficient_from_the_unit_is_estimable_and_silent(data, fit):
    d = data.copy()
    rng = np.random.default_rng(5)
    d["t"] = rng.exponential(np.exp(-0.08 * (d["age"] - 60)))
    d["age_k"] = d["age"] / 1000  # age in thousands of years: coefficient ~ -80, a finite maximum
    import warnings

    with warnings.catch_warnings(action="error", category=ConvergenceWarning):
        res = fit(d, "age_k")
    assert abs(res.coef["age_k"]) > 15 and res.summary["estimable"].all()


def test_regression_table_says_not_estimable_with_a_footnote(data):
    d = _no_events_in(data, "g3")
    with pytest.warns(NotEstimableWarning):
        res = bm.fine_gray(d, "t", "status", "grade + age")
    table = bm.regression_table(res)
    text = table.to_markdown() if hasattr(table, "to_markdown") else str(table)
    assert "not estimable" in text and "0.00 (0.00" not in text
    assert any(note.startswith("Not estimable:") for note in table.footnotes)
    clean = bm.regression_table(bm.fine_gray(data, "t", "status", "grade + age"))
    assert not any(note.startswith("Not estimable:") for note in clean.footnotes)


def test_forest_plot_of_a_model_with_a_non_estimable_effect_draws(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = _no_events_in(data, "g3")
    with pytest.warns(NotEstimableWarning):
        res = bm.fine_gray(d, "t", "status", "grade + age")
    res.plot()
    plt.close("all")


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
def test_a_category_left_empty_by_a_filter_is_not_a_level(data, fit):
    d = data.assign(grade=pd.Categorical(data["grade"], categories=["g1", "g2", "g3", "g4"]))
    res = fit(d, "grade + age")
    assert list(res.coef.index) == ["grade[T.g2]", "grade[T.g3]", "age"]
    with pytest.raises(InputError, match=r"level\(s\) 'g4' not seen"):
        res.predict(d.head(1).assign(grade=pd.Categorical(["g4"], categories=["g1", "g2", "g3", "g4"])), [0.5])
