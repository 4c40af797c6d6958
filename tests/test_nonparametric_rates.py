"""Incidence rates and rate ratios against R's poisson.test."""
import numpy as np
import pandas as pd
import pytest
from conftest import load_reference

import bmstats as bm
from bmstats.datasets import load_rotterdam


@pytest.fixture(scope="module")
def ref():
    return load_reference("nonparametric")["rates"]


@pytest.fixture(scope="module")
def rott():
    df = load_rotterdam()
    df["nodegrp"] = pd.cut(df["nodes"], [-1, 0, 3, np.inf], labels=["0", "1-3", "4+"])
    return df


def test_rates_match_poisson_test(ref, rott):
    res = bm.incidence_rate(rott, "rtime", "recur", by="nodegrp", per=1000)
    tb = res.table
    for r in ref["rotterdam_recur"]:
        row = tb[tb["group"] == r["group"]].iloc[0]
        assert row["n_event"] == r["events"]
        assert row["person_time"] == pytest.approx(r["person_time"], rel=1e-12)
        assert row["rate"] == pytest.approx(r["rate"] * 1000, rel=1e-10)
        assert row["lower"] == pytest.approx(r["lower"] * 1000, rel=1e-8)
        assert row["upper"] == pytest.approx(r["upper"] * 1000, rel=1e-8)


def test_zero_events_has_zero_lower_limit(ref):
    r = ref["zero_events"]
    df = pd.DataFrame({"t": [r["person_time"] / 2] * 2, "e": [0, 0]})
    row = bm.incidence_rate(df, "t", "e", per=1).table.iloc[0]
    assert row["rate"] == 0 and row["lower"] == 0
    assert row["upper"] == pytest.approx(r["upper"], rel=1e-8)


@pytest.mark.parametrize("key,group", [("ratio_1_3_vs_0", "1-3"), ("ratio_4_vs_0", "4+")])
def test_rate_ratio_matches_poisson_test(ref, rott, key, group):
    r = ref[key]
    tb = bm.rate_ratio(rott, "rtime", "recur", by="nodegrp").table
    row = tb[tb["group"] == group].iloc[0]
    assert row["reference"] == "0"
    assert row["rate_ratio"] == pytest.approx(r["ratio"], rel=1e-10)
    assert row["lower"] == pytest.approx(r["lower"], rel=1e-7)
    assert row["upper"] == pytest.approx(r["upper"], rel=1e-7)
    assert row["p_value"] == pytest.approx(r["p_value"], rel=1e-6, abs=1e-300)


def test_rate_ratio_reference_and_entry(rott):
    df = rott.assign(start=0.0)
    a = bm.rate_ratio(df, "rtime", "recur", by="nodegrp", reference="4+").table
    assert set(a["group"]) == {"0", "1-3"}
    b = bm.incidence_rate(df.assign(start=df["rtime"] / 2), "rtime", "recur", entry="start", per=1).table
    assert b["person_time"].iloc[0] == pytest.approx(df["rtime"].sum() / 2)
    with pytest.raises(ValueError, match="reference"):
        bm.rate_ratio(rott, "rtime", "recur", by="nodegrp", reference="9")
    assert "Incidence rate" in repr(bm.incidence_rate(rott, "rtime", "recur"))
