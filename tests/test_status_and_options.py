"""Status codes, cause choices and test options as a careless user gives them (issue: no silent wrong answers)."""
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    n = 240
    status = rng.choice([0, 1, 2], n, p=[0.3, 0.45, 0.25])
    return pd.DataFrame({"t": rng.exponential(1, n).round(2) + 0.01, "status": status,
                         "event": (status > 0).astype(int), "age": rng.normal(60, 10, n),
                         "grade": rng.choice(["low", "mid", "high"], n), "w": rng.uniform(0.5, 2, n),
                         "entry": 0.0})


def test_a_stray_code_costs_no_memory_in_proportion_to_its_value(data):
    d = data.copy()
    d.loc[5, "status"] = 10**6
    tracemalloc.start()
    res = bm.cumulative_incidence(d, "t", "status")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6  # a dense code axis would take 240 rows x 10**6 codes x 8 bytes = 1.9 GB
    assert res.causes == (1, 2, 10**6)
    clean = bm.cumulative_incidence(d.assign(status=d["status"].replace(10**6, 3)), "t", "status")
    for k_stray, k_clean in ((1, 1), (2, 2), (10**6, 3)):
        a = res.table[res.table["cause"] == k_stray]
        b = clean.table[clean.table["cause"] == k_clean]
        np.testing.assert_allclose(a["estimate"].to_numpy(), b["estimate"].to_numpy(), rtol=1e-14)


def test_gray_test_with_a_sparse_code_equals_the_dense_one(data):
    d = data.copy()
    d.loc[d["status"] == 2, "status"] = 7
    a = bm.cumulative_incidence(d, "t", "status", by="grade").gray_test
    b = bm.cumulative_incidence(data, "t", "status", by="grade").gray_test
    np.testing.assert_allclose(a["statistic"].to_numpy(), b["statistic"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda d: bm.fine_gray(d, "t", "status", "age", causes=[1, 2]),
    lambda d: bm.cause_specific_cox(d, "t", "status", "age", causes=[1, 2]),
    lambda d: bm.competing_risks_models(d, "t", "status", "age", causes=[1, 2]),
])
def test_a_code_outside_the_declared_causes_is_named_with_its_rows(data, call):
    d = data.copy()
    d.loc[[3, 8], "status"] = 9
    with pytest.raises(InputError, match=r"column 'status': code\(s\) 9 are neither 0 \(censored\) nor a declared "
                                         r"cause \(1, 2\); rows 3, 8"):
        call(d)
    call(data)  # without the stray code the declared causes are fine


@pytest.mark.parametrize("cause", [0, -1, 1.5, "1", True, None])
def test_the_censoring_code_or_a_non_code_is_not_a_cause(data, cause):
    with pytest.raises(InputError, match="cause must be a positive integer status code"):
        bm.cause_specific_cox(data, "t", "status", "age", cause=cause)
    with pytest.raises(InputError, match="cause must be a positive integer status code"):
        bm.fine_gray(data, "t", "status", "age", cause=cause)


@pytest.mark.parametrize("option", [{"weights": "w"}, {"entry": "entry"}, {"strata": "grade"}, {"cluster": "grade"}])
def test_competing_risks_models_refuses_options_fine_gray_would_drop(data, option):
    with pytest.raises(InputError, match=f"{next(iter(option))} would apply to the cause-specific Cox model only"):
        bm.competing_risks_models(data, "t", "status", "age", **option)


def test_competing_risks_models_names_an_unknown_option(data):
    with pytest.raises(InputError, match="unknown option.*wieghts"):
        bm.competing_risks_models(data, "t", "status", "age", wieghts="w")


def test_trend_test_refuses_unordered_text_groups(data):
    with pytest.raises(InputError, match="column 'grade': a trend test needs ordered groups"):
        bm.logrank_test(data, "t", "event", by="grade", trend=True)
    ordered = data.assign(grade=pd.Categorical(data["grade"], ["low", "mid", "high"], ordered=True))
    by_order = bm.logrank_test(ordered, "t", "event", by="grade", trend=True)
    by_dict = bm.logrank_test(data, "t", "event", by="grade", trend=True, scores={"low": 1, "mid": 2, "high": 3})
    assert by_order.statistic == pytest.approx(by_dict.statistic, rel=1e-12)
    numeric = bm.logrank_test(data.assign(g=data["grade"].map({"low": 0, "mid": 1, "high": 2})), "t", "event",
                              by="g", trend=True)
    assert numeric.statistic == pytest.approx(by_order.statistic, rel=1e-12)


@pytest.mark.parametrize("scores, message", [
    ({"low": 1, "mid": 2}, "missing 'high'"),
    ({"low": 1, "mid": 2, "high": 3, "top": 4}, "not groups: 'top'"),
    ([1, 2], "need one score per group"),
    ([1, 1, 1], "must not all be equal"),
    ([1, np.nan, 2], "finite"),
    (["a", "b", "c"], "must be numbers"),
    ("123", "must be a list"),
])
def test_bad_trend_scores_are_named(data, scores, message):
    with pytest.raises(InputError, match=message):
        bm.logrank_test(data, "t", "event", by="grade", trend=True, scores=scores)


@pytest.mark.parametrize("rho", [np.nan, np.inf, "1", None])
def test_bad_rho_is_named(data, rho):
    with pytest.raises(InputError, match="rho must be"):
        bm.logrank_test(data, "t", "event", by="grade", rho=rho)


# ------------------------------------------------------------------------- options that were not checked
@pytest.fixture(scope="module")
def km(data):
    return bm.kaplan_meier(data, "t", "event", by="grade")


@pytest.mark.parametrize("tau", [-1, 0, np.nan, np.inf, "2", None])
def test_rmst_refuses_a_bad_tau(km, tau):
    with pytest.raises(InputError, match="tau must be a number > 0"):
        km.rmst(tau)


def test_rmst_refuses_tau_beyond_a_groups_follow_up_as_survrm2(data, km):
    last = data.groupby("grade")["t"].max()
    with pytest.raises(InputError, match=rf"beyond the last follow-up time of group\(s\) .*'{last.idxmin()}'"):
        km.rmst(float(last.max()) + 1)
    assert len(km.rmst(float(last.min()))) == 3


@pytest.mark.parametrize("p", [0, 1, 1.5, -0.2, np.nan, "0.5"])
def test_quantile_refuses_p_outside_0_1(km, p):
    with pytest.raises(InputError, match="p must be a number > 0 and < 1"):
        km.quantile(p)


@pytest.mark.parametrize("per", [0, -1000, np.nan, "1000"])
def test_incidence_rate_refuses_per_that_is_not_positive(data, per):
    with pytest.raises(InputError, match="per must be a number > 0"):
        bm.incidence_rate(data, "t", "event", per=per)


def test_stratified_tests_refuse_strata_that_leave_nothing_to_compare(data):
    with pytest.raises(InputError, match="strata 'grade' is the grouping column itself"):
        bm.logrank_test(data, "t", "event", by="grade", strata="grade")
    with pytest.raises(InputError, match="strata 'grade' is the grouping column itself"):
        bm.cumulative_incidence(data, "t", "status", by="grade", strata="grade")
    nested = data.assign(site=data["grade"].map({"low": "A", "mid": "A2", "high": "B"}))
    with pytest.raises(InputError, match="column 'site': every stratum holds a single group of 'grade'"):
        bm.logrank_test(nested, "t", "event", by="grade", strata="site")
    crossing = data.assign(site=np.arange(len(data)) % 2)
    assert bm.logrank_test(crossing, "t", "event", by="grade", strata="site").df == 2


@pytest.mark.parametrize("times", [[np.nan], [1.0, np.nan], [-1.0], [np.inf], [], "soon"])
@pytest.mark.parametrize("curve", [
    lambda d: bm.kaplan_meier(d, "t", "event", by="grade"),
    lambda d: bm.cumulative_incidence(d, "t", "status", by="grade"),
    lambda d: bm.mean_cumulative_function(d.assign(id=np.arange(len(d)), start=0.0), "id", "start", "t", "event"),
], ids=["kaplan_meier", "cumulative_incidence", "mcf"])
def test_every_curve_at_refuses_times_that_are_not_times(data, curve, times):
    with pytest.raises(InputError, match="times must be"):
        curve(data).at(times)
