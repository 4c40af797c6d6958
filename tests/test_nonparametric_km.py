"""Kaplan-Meier against R's survfit (tests/reference/R/nonparametric.R -> nonparametric.json)."""
import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, load_reference

import bmstats as bm
from bmstats.datasets import load_gbsg, load_rotterdam


def nan(values):
    return np.array([np.nan if v == "NA" else v for v in np.atleast_1d(values)], dtype=float)


@pytest.fixture(scope="module")
def ref():
    return load_reference("nonparametric")


@pytest.fixture(scope="module")
def rott():
    df = load_rotterdam()
    df["cr_time"] = np.where(df["recur"] == 1, df["rtime"], df["dtime"])
    df["cr_status"] = np.where(df["recur"] == 1, 1, np.where(df["death"] == 1, 2, 0))
    df["relapse"] = (df["cr_status"] == 1).astype(int)
    df["nodegrp"] = pd.cut(df["nodes"], [-1, 0, 3, np.inf], labels=["0", "1-3", "4+"])
    return df


@pytest.fixture(scope="module")
def ties():
    df = pd.read_csv(REFERENCE / "data" / "ties.csv")
    df["event"] = (df["status"] > 0).astype(int)
    return df


def cases(rott, ties):
    gbsg = load_gbsg()
    return {
        "rotterdam_os": dict(data=rott, time="dtime", event="death", by="nodegrp"),
        "rotterdam_relapse_km": dict(data=rott, time="cr_time", event="relapse", by="nodegrp"),
        "gbsg_rfs": dict(data=gbsg, time="rfstime", event="status", by="hormon"),
        "gbsg_rfs_pooled": dict(data=gbsg, time="rfstime", event="status"),
        "ties_km": dict(data=ties, time="time", event="event", by="group"),
        "ties_km_entry": dict(data=ties, time="time", event="event", by="group", entry="entry"),
    }


NAMES = ["rotterdam_os", "rotterdam_relapse_km", "gbsg_rfs", "gbsg_rfs_pooled", "ties_km", "ties_km_entry"]


def close(actual, expected, atol):
    actual, expected = np.asarray(actual, dtype=float), nan(expected)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("conf_type", ["plain", "log", "log-log"])
def test_table_matches_survfit(ref, rott, ties, name, conf_type):
    r = ref[name]["table"]
    km = bm.kaplan_meier(**cases(rott, ties)[name], conf_type=conf_type)
    tb = km.table
    assert list(tb.columns) == ["group", "time", "n_risk", "n_event", "n_censor", "estimate", "std_err",
                                "lower", "upper"]
    assert [str(g) for g in tb["group"]] == [str(g) for g in r["group"]]
    close(tb["time"], r["time"], 0)
    close(tb["n_risk"], r["n_risk"], 0)
    close(tb["n_event"], r["n_event"], 0)
    close(tb["n_censor"], r["n_censor"], 0)
    close(tb["estimate"], r["surv"], 1e-8)
    # survfit's std.err is that of the cumulative hazard; ours is of S (summary.survfit's)
    expected_se = nan(r["surv"]) * nan(r["std_err_cumhaz"])
    close(tb["std_err"], expected_se, 1e-8)
    close(tb["lower"], r[f"lower_{conf_type}"], 1e-8)
    close(tb["upper"], r[f"upper_{conf_type}"], 1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_at_times_matches_summary(ref, rott, ties, name):
    r = ref[name]["at"]  # survfit's default limits are "log"
    km = bm.kaplan_meier(**cases(rott, ties)[name], conf_type="log")
    at = km.at(sorted(set(r["time"])))
    close(at["n_risk"], r["n_risk"], 0)
    close(at["n_event"], r["n_event"], 0)
    close(at["estimate"], r["surv"], 1e-8)
    close(at["std_err"], r["std_err"], 1e-8)
    close(at["lower"], r["lower"], 1e-8)
    close(at["upper"], r["upper"], 1e-8)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("conf_type", ["plain", "log", "log-log"])
def test_quantiles_match_quantile_survfit(ref, rott, ties, name, conf_type):
    r = ref[name]["quantile"][conf_type]
    km = bm.kaplan_meier(**cases(rott, ties)[name], conf_type=conf_type)
    q = km.quantile([0.25, 0.5, 0.75])
    for p in (25, 50, 75):
        sub = q[q["p"] == p / 100]
        close(sub["estimate"], r[f"q{p}"], 1e-9)
        close(sub["lower"], r[f"lower{p}"], 1e-9)
        close(sub["upper"], r[f"upper{p}"], 1e-9)
    med = km.median()
    close(med["estimate"], r["q50"], 1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_rmst_matches_print_survfit(ref, rott, ties, name):
    km = bm.kaplan_meier(**cases(rott, ties)[name])
    for r in ref[name]["rmst"]:
        got = km.rmst(r["tau"])
        close(got["estimate"], r["rmean"], 1e-7)
        np.testing.assert_allclose(got["std_err"], nan(r["se"]), rtol=1e-7)


def test_rmst_difference(ref):
    km = bm.kaplan_meier(load_gbsg(), "rfstime", "status", by="hormon")
    r = ref["gbsg_rfs"]["rmst"][1]
    diff = km.rmst_difference(r["tau"])
    assert diff["estimate"].iloc[0] == pytest.approx(r["rmean"][1] - r["rmean"][0], abs=1e-7)
    se = np.hypot(*r["se"])
    assert diff["std_err"].iloc[0] == pytest.approx(se, rel=1e-7)
    assert diff["lower"].iloc[0] == pytest.approx(diff["estimate"].iloc[0] - 1.959963984540054 * se, rel=1e-9)
    with pytest.raises(ValueError, match="two groups"):
        bm.kaplan_meier(load_gbsg(), "rfstime", "status", by="grade").rmst_difference(1000)


def test_cumulative_failure_is_one_minus_km(rott):
    km = bm.kaplan_meier(rott, "cr_time", "relapse", by="nodegrp")
    f = km.cumulative_failure()
    np.testing.assert_allclose(f["estimate"], 1 - km.table["estimate"])
    np.testing.assert_allclose(f["lower"], 1 - km.table["upper"])


def test_result_is_immutable_and_prints(ties):
    km = bm.kaplan_meier(ties, "time", "event", by="group")
    with pytest.raises((AttributeError, TypeError)):  # frozen result
        km.conf_level = 0.9
    handed_out = km.table
    handed_out.loc[0, "estimate"] = -1  # a copy: the result keeps its own table
    assert km.table.loc[0, "estimate"] > 0
    assert "Kaplan-Meier" in repr(km)
    assert "<table" in km._repr_html_()


def test_plot_delegates_to_report_figures(ties):
    fig = bm.kaplan_meier(ties, "time", "event", by="group").plot()
    assert fig is not None
