"""Table builders on awkward input: one InputError naming the builder and the argument (the
@checked_arguments layer of bmstats.report.table_args), dates and empty groups in Table 1, and times after
the last follow-up shown as an en dash with a footnote instead of a carried-forward estimate."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.report.format import DASH
from bmstats.report.table_builders import mcf_table


@pytest.fixture(scope="module")
def rott():
    rot = bm.datasets.load_rotterdam()
    rot["time"] = rot.dtime / 365.25
    rot["status"] = np.where(rot.recur == 1, 1, np.where(rot.death == 1, 2, 0))
    return rot


@pytest.fixture(scope="module")
def cif(rott):
    return bm.cumulative_incidence(rott, "time", "status", by="hormon")


@pytest.fixture(scope="module")
def km(rott):
    return bm.kaplan_meier(rott, "time", "death", by="hormon")


@pytest.mark.parametrize("call, message", [
    (lambda r, c, k: bm.regression_table({}), r"^regression_table: models must be one fitted model"),
    (lambda r, c, k: bm.regression_table(None), r"^regression_table: models must be"),
    (lambda r, c, k: bm.regression_table({"A": []}), r"^regression_table: models\['A'\] must be"),
    (lambda r, c, k: bm.cif_table(c, times=[]), r"^cif_table: times must be a non-empty list of numbers >= 0"),
    (lambda r, c, k: bm.cif_table(c, times=[-1]), r"^cif_table: times must be"),
    (lambda r, c, k: bm.cif_table(c, times=["5"]), r"^cif_table: times must be"),
    (lambda r, c, k: bm.cif_table(c, times="5"), r"^cif_table: times must be"),
    (lambda r, c, k: bm.cif_table(c, times=[5, 5]), r"^cif_table: times must be a list of distinct times"),
    (lambda r, c, k: bm.cif_table(c, [5], cause=7), r"^cif_table: cause \[7\] is not in the result"),
    (lambda r, c, k: bm.cif_table(r, [5]), r"^cif_table: result must be a result of bmstats.cumulative_incidence"),
    (lambda r, c, k: bm.survival_table(k, [float("nan")]), r"^survival_table: times must be"),
    (lambda r, c, k: bm.survival_table(k, [1], decimals=1.5), r"^survival_table: decimals must be a whole number"),
    (lambda r, c, k: bm.median_table(None), r"^median_table: result must be a result of bmstats.kaplan_meier"),
    (lambda r, c, k: bm.rate_table(r), r"^rate_table: result must be a result of bmstats.incidence_rate"),
    (lambda r, c, k: bm.table_one(r, variables=["age"], decimals=-1), r"^table_one: decimals must be a whole number from 0"),
    (lambda r, c, k: bm.table_one(r, variables=["age"], decimals=True), r"^table_one: decimals must be"),
    (lambda r, c, k: bm.table_one(r, variables="age", labels=["x"]), r"^table_one: labels must be a mapping"),
    (lambda r, c, k: bm.table_one(r, variables=["age"], max_levels=0), r"^table_one: max_levels must be"),
    (lambda r, c, k: bm.table_one(r, variables=[3]), r"^table_one: variables must be a list of column names"),
    (lambda r, c, k: bm.table_one(r, variables=["age"], level_labels={"grade": "x"}),
     r"^table_one: level_labels\['grade'\] must be a mapping"),
])
def test_bad_arguments_are_one_line_naming_builder_and_argument(rott, cif, km, call, message):
    with pytest.raises(InputError, match=message) as info:
        call(rott, cif, km)
    assert "\n" not in str(info.value)


def test_times_after_last_follow_up_are_a_dash_with_a_footnote(rott, cif, km):
    last = km.table.groupby("group", observed=True)["time"].max()
    assert last[1] < 18 < last[0]
    t = bm.survival_table(km, [5, 18])
    body = t.body if hasattr(t, "body") else t.frame
    assert body.iloc[1, 2] == DASH and body.iloc[0, 2] != DASH
    assert any("after the last follow-up (1: 17.2 years)" in n for n in t.footnotes)
    c = bm.cif_table(cif, [5, 18])
    at18 = c.data[c.data["time"] == 18]
    assert at18.loc[at18["group"] == 1, "estimate"].isna().all() and at18.loc[at18["group"] == 0, "estimate"].notna().all()
    assert any("after the last follow-up" in n for n in c.footnotes)
    # inside follow-up: no note, values as before
    assert not any("after the last" in n for n in bm.cif_table(cif, [5, 10]).footnotes)


def test_mcf_table_says_what_the_dash_means():
    c = bm.datasets.load_bm_cohort()
    m = bm.mean_cumulative_function(c.recurrent_events(), "id", "start", "stop", "event", terminal="terminal")
    t = mcf_table(m, [1, 50])
    assert any("after the group's last follow-up" in n for n in t.footnotes)


def _dated(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "g": pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b", "c"]),
        "dx": pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D"),
        "x": rng.normal(size=n), "k": rng.choice(["u", "v"], n),
        "wait": pd.to_timedelta(rng.integers(0, 300, n), unit="D")})


def test_table_one_summarises_dates_as_dates_not_nanoseconds():
    d = _dated()
    t = bm.table_one(d, variables=["dx"])
    cell = t.body.iloc[0, 1] if hasattr(t, "body") else None
    med = d["dx"].sort_values().iloc[[39, 40]]
    assert cell is not None and cell.startswith(("2014", "2015", "2013")) and "[" in cell, cell
    assert cell.split(" ")[0] == (med.iloc[0] + (med.iloc[1] - med.iloc[0]) / 2).strftime("%Y-%m-%d")
    assert "e+" not in cell and "median" in t.body.iloc[0, 0]
    # datetime64 with a unit other than ns, and Python dates in an object column, give the same
    same = bm.table_one(d.assign(dx=d["dx"].astype("datetime64[s]")), variables=["dx"])
    assert same.body.iloc[0, 1] == cell
    objs = bm.table_one(d.assign(dx=[v.date() for v in d["dx"]]), variables=["dx"])
    assert objs.body.iloc[0, 1] == cell
    # durations are numbers of days
    w = bm.table_one(d, variables=["wait"])
    assert w.body.iloc[0, 0].startswith("wait, days, mean (SD)")
    assert w.body.iloc[0, 1] == f"{(d['wait'].dt.days).mean():.1f} ({(d['wait'].dt.days).std():.1f})"


def test_table_one_empty_category_keeps_p_values():
    d = _dated()
    with_empty = bm.table_one(d, by="g", variables=["dx", "x", "k"])
    without = bm.table_one(d.assign(g=d["g"].cat.remove_unused_categories()), by="g", variables=["dx", "x", "k"])
    b1, b0 = with_empty.body, without.body
    assert "c (n = 0)" in b1.columns
    for col in ("p", "Test", "SMD"):
        assert b1[col].tolist() == b0[col].tolist()
    assert all(v not in ("", DASH) for v in b1.loc[b1["Test"] != "", "p"])
    assert (b1["p"] != "").sum() == 3
    assert any("c: no patients" in n for n in with_empty.footnotes)


def test_table_one_group_without_values_of_one_variable_is_footnoted():
    d2 = _dated().assign(g=lambda f: np.array(["a", "b", "c"])[np.arange(len(f)) % 3])
    d2.loc[d2["g"] == "b", "x"] = np.nan
    t = bm.table_one(d2, by="g", variables=["x"])
    assert t.body.loc[0, "p"] not in ("", DASH)
    assert any("x (b without values)" in n for n in t.footnotes)
