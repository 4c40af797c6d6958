"""The engine path (DuckDB for paths, relations and polars frames) gives the pandas path's answers.

Seeded data with tied times, a categorical covariate, strata, delayed entry, case weights and clusters; each
estimator is run on the pandas frame and on every engine source, and the numbers must agree to rounding.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import bmstats as bm
from bmstats._checks import InputError

RTOL = 1e-9


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 3000
    df = pd.DataFrame({
        "age": rng.normal(60, 10, n).round(1),
        "grade": rng.choice(["1", "2", "3"], n),
        "her2": rng.integers(0, 2, n),
        "site": rng.choice(["north", "south"], n),
        "hospital": rng.integers(0, 150, n),
        "w": rng.uniform(0.5, 2.0, n).round(3),
    })
    lp = 0.03 * (df.age - 60) + 0.5 * (df.grade == "3") - 0.4 * df.her2
    t_event = rng.exponential(np.exp(-lp)) * 8
    t_compete = rng.exponential(1, n) * 12
    censor = rng.uniform(0, 10, n)
    df["time"] = np.ceil(np.minimum(np.minimum(t_event, t_compete), censor) * 12) / 12  # months: ties
    df["status"] = np.where(t_event <= np.minimum(t_compete, censor), 1, np.where(t_compete <= censor, 2, 0))
    df["event"] = (df.status == 1).astype(int)
    df["entry"] = np.floor(df.time * rng.uniform(0, 0.4, n) * 12) / 12
    return df


@pytest.fixture(scope="module")
def parquet(frame, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("engine") / "cohort.parquet"
    frame.to_parquet(path)
    return str(path)


@pytest.fixture(scope="module", params=["parquet", "csv", "glob", "relation", "polars"])
def source(request, frame, parquet, tmp_path_factory):
    """(data for the engine, the same data as a pandas frame: a CSV's columns get the types read_csv gives)."""
    kind = request.param
    if kind == "parquet":
        return parquet, frame
    if kind == "csv":
        path = tmp_path_factory.mktemp("engine_csv") / "cohort.csv"
        frame.to_csv(path, index=False)
        return str(path), pd.read_csv(path)
    if kind == "glob":
        folder = tmp_path_factory.mktemp("engine_glob")
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(folder / "part-0.parquet")
        frame.iloc[half:].to_parquet(folder / "part-1.parquet")
        return str(folder / "*.parquet"), frame
    if kind == "relation":
        return duckdb.connect().read_parquet(parquet), frame
    return pl.from_pandas(frame), frame


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


def test_kaplan_meier(source):
    source, frame = source
    for kw in ({}, {"by": "grade"}, {"by": "site", "entry": "entry"}):
        ref = bm.kaplan_meier(frame, "time", "event", **kw).table
        got = bm.kaplan_meier(source, "time", "event", **kw).table
        assert list(got["group"].astype(str)) == list(ref["group"].astype(str))
        for col in ("time", "n_risk", "n_event", "n_censor", "estimate", "std_err", "lower", "upper"):
            close(got[col], ref[col])


def test_logrank_and_gray(source):
    source, frame = source
    for kw in ({"by": "grade"}, {"by": "grade", "strata": "site"}, {"by": "grade", "rho": 1.0}):
        ref = bm.logrank_test(frame, "time", "event", **kw)
        got = bm.logrank_test(source, "time", "event", **kw)
        close(got.statistic, ref.statistic)
        assert got.df == ref.df
    ref = bm.cumulative_incidence(frame, "time", "status", by="grade")
    got = bm.cumulative_incidence(source, "time", "status", by="grade")
    for col in ("time", "n_risk", "estimate", "std_err", "lower", "upper"):
        close(got.table[col], ref.table[col])
    close(got.gray_test["statistic"], ref.gray_test["statistic"])


def test_incidence_rate(source):
    source, frame = source
    ref = bm.incidence_rate(frame, "time", "event", by="grade", entry="entry").table
    got = bm.incidence_rate(source, "time", "event", by="grade", entry="entry").table
    for col in ("n_event", "person_time", "rate", "lower", "upper"):
        close(got[col], ref[col])


@pytest.mark.parametrize("options", [
    {},
    {"ties": "breslow"},
    {"strata": "site", "entry": "entry"},
    {"weights": "w", "robust": False},
    {"cluster": "hospital"},
    {"strata": "site", "entry": "entry", "weights": "w", "cluster": "hospital"},
])
def test_cox(source, options):
    source, frame = source
    formula = "age + C(grade) + her2 + age:her2"
    ref = bm.cox(frame, "time", "event", formula, **options)
    got = bm.cox(source, "time", "event", formula, **options)
    assert list(got.summary.index) == list(ref.summary.index)
    close(got.coef, ref.coef, 1e-8)
    close(got.summary["std_err"], ref.summary["std_err"], 1e-8)
    assert got.n == ref.n and got.n_events == ref.n_events


@pytest.mark.parametrize("options", [{}, {"cengroup": "site"}])
def test_fine_gray(source, options):
    source, frame = source
    formula = "age + C(grade) + her2"
    ref = bm.fine_gray(frame, "time", "status", formula, cause=1, **options)
    got = bm.fine_gray(source, "time", "status", formula, cause=1, **options)
    close(got.coef, ref.coef, 1e-8)
    close(got.summary["std_err"], ref.summary["std_err"], 1e-8)
    close(got.summary["p_value"], ref.summary["p_value"], 1e-6)


def test_missing_values_are_named_or_dropped_and_counted(frame, tmp_path):
    df = frame.copy()
    df.loc[[3, 10, 11], "age"] = np.nan
    path = tmp_path / "na.parquet"
    df.to_parquet(path)
    with pytest.raises(InputError, match="'age'.*missing values"):
        bm.cox(str(path), "time", "event", "age + her2")
    got = bm.cox(str(path), "time", "event", "age + her2", dropna=True)
    ref = bm.cox(df, "time", "event", "age + her2", dropna=True)
    assert got.dropped.n == 3 and got.dropped.by_column == {"age": 3}
    close(got.coef, ref.coef, 1e-8)


def test_bad_rows_are_named(frame, tmp_path):
    df = frame.copy()
    df.loc[5, "time"] = -1.0
    path = tmp_path / "neg.parquet"
    df.to_parquet(path)
    with pytest.raises(InputError, match=r"'time'.*non-negative.*1 rows.*time=-1\.0"):
        bm.kaplan_meier(str(path), "time", "event")
    df = frame.copy()
    df.loc[5, "event"] = 2
    df.to_parquet(path)
    with pytest.raises(InputError, match="'event'.*0 or 1"):
        bm.cox(str(path), "time", "event", "age")


def test_unsupported_terms_are_refused_by_name(parquet):
    with pytest.raises(InputError, match=r"cr\(age, df=3\).*engine path"):
        bm.cox(parquet, "time", "event", "cr(age, df=3) + her2")
    with pytest.raises(InputError, match="not found"):
        bm.cox(parquet, "time", "event", "age + nodes")


def test_paths_that_are_not_data(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        bm.kaplan_meier(str(tmp_path / "absent.parquet"), "time", "event")
    other = tmp_path / "notes.txt.gz2"
    other.write_text("x")
    with pytest.raises(InputError, match="neither Parquet"):
        bm.kaplan_meier(str(other), "time", "event")


def test_non_estimable_effects_are_found_on_the_engine_too(frame, tmp_path):
    df = frame.copy()
    df.loc[df.grade == "3", "event"] = 0  # no events in one level: a monotone likelihood
    df.loc[df.grade == "3", "status"] = np.where(df.loc[df.grade == "3", "status"] == 1, 0,
                                                 df.loc[df.grade == "3", "status"])
    path = tmp_path / "monotone.parquet"
    df.to_parquet(path)
    with pytest.warns(Warning, match="not estimable"):
        ref = bm.cox(df, "time", "event", "age + C(grade)")
    with pytest.warns(Warning, match="not estimable"):
        got = bm.cox(str(path), "time", "event", "age + C(grade)")
    assert list(got.summary["estimable"]) == list(ref.summary["estimable"])
    assert not got.summary.loc["C(grade)[T.3]", "estimable"]
    with pytest.warns(Warning, match="not estimable"):
        fg = bm.fine_gray(str(path), "time", "status", "age + C(grade)", cause=1)
    assert not fg.summary.loc["C(grade)[T.3]", "estimable"]


def test_engine_results_refuse_what_needs_rows(parquet):
    fit = bm.cox(parquet, "time", "event", "age + her2")
    assert "fitted on an engine" in repr(fit)
    new = pd.DataFrame({"age": [60.0], "her2": [1]})
    with pytest.raises(InputError, match="prediction needs the rows"):
        fit.predict(new, [1.0])
    with pytest.raises(InputError, match="prediction needs the rows"):  # was an AttributeError on None
        bm.predict_risk(fit, new, [1.0])
    with pytest.raises(InputError, match="proportional-hazards test needs the rows"):
        fit.ph_test()
    fg = bm.fine_gray(parquet, "time", "status", "age + her2", cause=1)
    assert list(fg.baseline.columns) == ["time", "cumulative_hazard"]
    with pytest.raises(InputError, match="prediction needs the rows"):
        fg.predict(new, [1.0])
    with pytest.raises(InputError, match="prediction needs the rows"):
        bm.predict_risk(fg, new, [1.0])


def test_strata_that_leave_nothing_to_compare_are_refused(parquet):
    with pytest.raises(InputError, match="grouping column itself"):
        bm.logrank_test(parquet, "time", "event", by="grade", strata="grade")
    with pytest.raises(InputError, match="grouping column itself"):
        bm.cumulative_incidence(parquet, "time", "status", by="grade", strata="grade")


def test_nan_and_infinite_covariates_are_named():
    con = duckdb.connect()
    rows = ("SELECT (i % 37 + 1)::DOUBLE AS time, (i % 3 = 0)::INT AS event, (i % 4)::INT AS status, "
            "CASE WHEN i = 5 THEN '{v}'::DOUBLE ELSE i % 50 + 30.0 END AS age FROM range(400) t(i)")
    for value in ("nan", "inf"):
        with pytest.raises(InputError, match="'age': covariate values must be finite"):
            bm.cox(con.sql(rows.format(v=value)), "time", "event", "age")
        with pytest.raises(InputError, match="'age': covariate values must be finite"):
            bm.fine_gray(con.sql(rows.format(v=value)), "time", "status", "age", cause=1)


def test_profile_points_share_exponentials_exactly(parquet):
    """The likelihood profile evaluates its points b +- c e_j with one exponential per pair; each value must
    equal the likelihood evaluated at that point alone (Cox with Efron ties, strata and delayed entry, and
    Fine-Gray)."""
    from bmstats.engine.cox import build_problem
    from bmstats.engine.finegray import build_fine_gray
    from bmstats.engine.source import engine_source

    src = engine_source(parquet)
    formula = "age + C(grade) + her2"
    cox = build_problem(src, "time", "event", formula, strata=["site"], entry="entry")
    fg = build_fine_gray(src, "time", "status", formula, cause=1)
    for model in (cox, fg):
        beta = np.array([0.03, 0.1, 0.5, -0.4])
        spread = model.bounds[:, 1] - model.bounds[:, 0]
        points = [beta]
        for j in range(4):
            step = np.zeros(4)
            step[j] = 50.0 / spread[j]
            points += [beta + step, beta - step]
        points += [beta + np.array([1.0, -2.0, 0.5, 0.0]), beta - np.array([1.0, -2.0, 0.5, 0.0])]
        together = model.loglik_many(points)
        alone = [model.loglik(b) for b in points]
        close(together, alone, 1e-10)
