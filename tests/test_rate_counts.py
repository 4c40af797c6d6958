"""Rates from per-patient event counts with person-time (R's poisson.test, glm, MASS::glm.nb), and the path
from Cohort.recurrent_events to those counts (bm.event_counts)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, load_reference

import bmstats as bm
from bmstats._checks import InputError

BTA = ["none", "zoledronic_acid", "pamidronate", "ibandronate", "clodronate", "denosumab"]


@pytest.fixture(scope="module")
def ref():
    return load_reference("rates")


@pytest.fixture(scope="module")
def counts():
    d = pd.read_csv(REFERENCE / "data" / "sre_counts.csv", dtype={"id": str})
    d["bta_type"] = pd.Categorical(d["bta_type"], [b for b in BTA if b in set(d["bta_type"])])
    return d


def _pair_frame(x, t):
    """Two groups, each split over a few rows (the counts per row add up to x, the person-time to t)."""
    rows = []
    for group, xi, ti in zip(["g", "ref"], x, t):
        parts = [xi // 3, xi // 3, xi - 2 * (xi // 3)]
        rows += [{"grp": group, "n": k, "pt": ti / 3} for k in parts]
    return pd.DataFrame(rows)


def test_rate_ratio_on_counts_matches_poisson_test_two_groups(ref, counts):
    for key in ("sre_ratio_vs_none", "sre_ratio_vs_none_90"):
        for r in ref[key]:
            sub = counts[counts["bta_type"].isin([r["group"], "none"])].copy()
            sub["bta_type"] = sub["bta_type"].cat.remove_unused_categories()
            res = bm.rate_ratio(sub, "person_time", count="n_events", by="bta_type", reference="none",
                                conf_level=r["conf_level"])
            row = res.table.iloc[0]
            assert row["group"] == r["group"] and row["n_event"] == r["x"][0] and row["ref_n_event"] == r["x"][1]
            assert row["rate_ratio"] == pytest.approx(r["estimate"], rel=1e-8)
            assert row["lower"] == pytest.approx(r["lower"], rel=1e-8)
            assert row["upper"] == pytest.approx(r["upper"], rel=1e-8)
            assert row["p_value"] == pytest.approx(r["p_value"], rel=1e-8)
    # all groups at once against the same reference: the same numbers
    table = bm.rate_ratio(counts, "person_time", count="n_events", by="bta_type").table.set_index("group")
    for r in ref["sre_ratio_vs_none"]:
        assert table.loc[r["group"], "rate_ratio"] == pytest.approx(r["estimate"], rel=1e-8)
        assert table.loc[r["group"], "p_value"] == pytest.approx(r["p_value"], rel=1e-8)


@pytest.mark.parametrize("i", range(6))
def test_rate_ratio_edge_pairs_match_poisson_test(ref, i):
    r = ref["pairs"][i]
    res = bm.rate_ratio(_pair_frame(r["x"], r["T"]), "pt", count="n", by="grp", reference="ref",
                        conf_level=r["conf_level"])
    row = res.table.iloc[0]
    if r["x"][1] == 0:  # R: Inf; no events in the reference
        assert row["rate_ratio"] == np.inf
    else:
        assert row["rate_ratio"] == pytest.approx(r["estimate"], rel=1e-8)
    assert row["lower"] == pytest.approx(r["lower"], rel=1e-8, abs=1e-300)
    if isinstance(r["upper"], str) or r["upper"] is None:
        assert row["upper"] == np.inf
    else:
        assert row["upper"] == pytest.approx(r["upper"], rel=1e-8)
    assert row["p_value"] == pytest.approx(r["p_value"], rel=1e-8)
    assert res.n == 6 and res.n_events == sum(r["x"])


def test_incidence_rate_on_counts_matches_poisson_test(ref, counts):
    table = bm.incidence_rate(counts, "person_time", count="n_events", by="bta_type", per=1).table
    for r in ref["sre_by_bta"]:
        row = table[table["group"] == r["group"]].iloc[0]
        assert row["n_event"] == r["x"]
        assert row["person_time"] == pytest.approx(r["T"], rel=1e-12)
        for ours, theirs in (("rate", "estimate"), ("lower", "lower"), ("upper", "upper")):
            assert row[ours] == pytest.approx(r[theirs], rel=1e-8)
    for r in ref["singles"]:
        d = pd.DataFrame({"n": [r["x"]], "pt": [r["T"]]})
        row = bm.incidence_rate(d, "pt", count="n", per=1, conf_level=r["conf_level"]).table.iloc[0]
        assert row["rate"] == pytest.approx(r["estimate"], rel=1e-12)
        assert row["lower"] == pytest.approx(r["lower"], rel=1e-8, abs=1e-300)
        assert row["upper"] == pytest.approx(r["upper"], rel=1e-8)


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_rate_regression_on_event_counts_matches_glm(ref, counts, family):
    r = ref[family]
    fit = bm.rate_regression(counts, "n_events", "person_time", "age + bta_type", family=family)
    s = fit.summary
    terms = [t.replace("bta_type", "bta_type[T.") + "]" if t.startswith("bta_type") else t
             for t in r["term"]]
    terms = ["Intercept" if t == "(Intercept)" else t for t in terms]
    assert list(s.index) == terms
    for col in ("coef", "std_err", "statistic", "p_value"):
        np.testing.assert_allclose(s[col], r[col], rtol=1e-6, err_msg=col)
    np.testing.assert_allclose(s["rate_ratio"], np.exp(r["coef"]), rtol=1e-6)
    np.testing.assert_allclose(s["lower"], np.exp(r["lower"]), rtol=1e-6)
    np.testing.assert_allclose(s["upper"], np.exp(r["upper"]), rtol=1e-6)
    assert fit.deviance == pytest.approx(r["deviance"], rel=1e-6)
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-8)
    assert fit.aic == pytest.approx(r["aic"], rel=1e-8)
    if family == "negative_binomial":
        assert fit.theta == pytest.approx(r["theta"], rel=1e-6)
        assert fit.theta_se == pytest.approx(r["theta_se"], rel=1e-5)


def test_reference_table_is_what_event_counts_makes():
    """The committed table is bm.event_counts of the synthetic cohort (regenerate: tests/reference/sre_counts.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sre_counts", REFERENCE / "sre_counts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.sre_counts()
    stored = pd.read_csv(REFERENCE / "data" / "sre_counts.csv", dtype={"id": str})
    assert made["id"].tolist() == stored["id"].tolist()
    assert made["n_events"].tolist() == stored["n_events"].tolist()
    np.testing.assert_allclose(made["person_time"], stored["person_time"], rtol=1e-15)
    assert made["bta_type"].astype(str).tolist() == stored["bta_type"].tolist()


def _hand_count(cohort, window_days=21):
    """SREs and years at risk per patient from the canonical tables, by a plain loop over patients."""
    p, e = cohort.patients, cohort.events
    out = {}
    for _, pat in p.iterrows():
        if pd.isna(pat["bm_date"]) or pd.isna(pat["last_fu_date"]):
            continue
        end = pat["last_fu_date"] if pd.isna(pat["death_date"]) else min(pat["last_fu_date"], pat["death_date"])
        if end <= pat["bm_date"]:
            continue
        days = sorted({(d - pat["bm_date"]).days for d in e.loc[e["patient_id"] == pat["patient_id"], "event_date"]
                       if pd.notna(d) and pat["bm_date"] < d <= end})
        counted, last = 0, -np.inf
        for d in days:
            if d - last >= window_days:
                counted, last = counted + 1, d
        out[pat["patient_id"]] = (counted, (end - pat["bm_date"]).days / 365.25)
    return out


def test_sre_rate_per_patient_year_equals_a_hand_count():
    cohort = bm.simulate_cohort(400, 8)
    rows = cohort.recurrent_events(window_days=21)
    counts = bm.event_counts(rows, "id", "start", "stop", "event", terminal="terminal", covariates=["bta_type"])
    hand = _hand_count(cohort)
    assert sorted(counts["id"]) == sorted(hand)
    by_id = counts.set_index("id")
    for pid, (k, years) in hand.items():
        assert by_id.loc[pid, "n_events"] == k, pid
        assert by_id.loc[pid, "person_time"] == pytest.approx(years, rel=1e-12), pid
    total_events = sum(k for k, _ in hand.values())
    total_years = sum(y for _, y in hand.values())
    rate = bm.incidence_rate(counts, "person_time", count="n_events", per=1)
    assert rate.n_events == total_events
    assert rate.table["rate"].iloc[0] == pytest.approx(total_events / total_years, rel=1e-12)
    # without a window the pooled skeletal morbidity rate of sre_summary is the same rate
    every = cohort.recurrent_events()
    smr = bm.sre_summary(every, "id", "start", "stop", "event", terminal="terminal", window=0).morbidity_rate
    all_counts = bm.event_counts(every, "id", "start", "stop", "event", covariates=[])
    pooled = bm.incidence_rate(all_counts, "person_time", count="n_events", per=1).table
    assert smr["rate"].iloc[0] == pytest.approx(pooled["rate"].iloc[0], rel=1e-12)
    assert smr["lower"].iloc[0] == pytest.approx(pooled["lower"].iloc[0], rel=1e-10)


def test_event_counts_respect_delayed_entry_gaps_and_death():
    rows = pd.DataFrame({
        "pid": ["a", "a", "a", "b", "b", "c"],
        "start": [1.0, 2.0, 5.0, 0.0, 0.5, 0.0],   # a: enters at 1, not at risk 3..5
        "stop": [2.0, 3.0, 6.5, 0.5, 2.0, 4.0],
        "ev": [1, 0, 1, 1, 1, 0],
        "dead": [0, 0, 1, 0, 0, 0],
        "x": [1, 1, 1, 0, 0, 1],
    })
    out = bm.event_counts(rows, "pid", "start", "stop", "ev", terminal="dead")
    assert out["pid"].tolist() == ["a", "b", "c"]
    assert out["n_events"].tolist() == [2, 2, 0]
    assert out["person_time"].tolist() == [3.5, 2.0, 4.0]
    assert out["entry"].tolist() == [1.0, 0.0, 0.0] and out["exit"].tolist() == [6.5, 2.0, 4.0]
    assert out["terminal"].tolist() == [1, 0, 0] and out["x"].tolist() == [1, 0, 1]
    rr = bm.rate_ratio(out, "person_time", count="n_events", by="x").table.iloc[0]
    assert rr["rate_ratio"] == pytest.approx((2 / 7.5) / (2 / 2.0))


def test_event_counts_refuse_what_cannot_be_one_row_per_patient():
    rows = pd.DataFrame({"pid": ["a", "a", "b"], "start": [0.0, 1.0, 0.0], "stop": [1.0, 2.0, 3.0],
                         "ev": [1, 0, 1], "x": [1, 2, 0]})
    with pytest.raises(InputError, match=r"column 'x': changes between the rows of patient\(s\) a \(rows 0, 1\)"):
        bm.event_counts(rows, "pid", "start", "stop", "ev")
    assert bm.event_counts(rows, "pid", "start", "stop", "ev", covariates=[])["n_events"].tolist() == [1, 1]
    with pytest.raises(InputError, match="overlap"):
        bm.event_counts(rows.assign(start=[0.0, 0.5, 0.0]), "pid", "start", "stop", "ev", covariates=[])
    with pytest.raises(InputError, match="column 'ev'"):
        bm.event_counts(rows.assign(ev=[2, 0, 1]), "pid", "start", "stop", "ev", covariates=[])
    with pytest.raises(InputError, match="clash"):
        bm.event_counts(rows.assign(person_time=1.0), "pid", "start", "stop", "ev", covariates=["person_time"])
    with pytest.raises(InputError, match="not found"):
        bm.event_counts(rows, "pid", "start", "stop", "ev", covariates=["nope"])
    with pytest.raises(InputError, match="missing values"):
        bm.event_counts(rows.assign(stop=[1.0, np.nan, 3.0]), "pid", "start", "stop", "ev", covariates=[])
    kept = bm.event_counts(rows.assign(stop=[1.0, np.nan, 3.0]), "pid", "start", "stop", "ev", covariates=[],
                           dropna=True)
    assert kept.attrs["dropped"].n == 1 and kept["person_time"].tolist() == [1.0, 3.0]


@pytest.mark.parametrize("bad,rule", [([1, -1, 0, 2], "whole numbers >= 0"), ([1, 0.5, 0, 2], "whole numbers >= 0"),
                                      ([1, np.nan, 0, 2], "missing values"), (["1", "2", "0", "2"], "stored as text")])
def test_bad_counts_are_errors_naming_rows(bad, rule):
    d = pd.DataFrame({"n": bad, "pt": [1.0, 2.0, 1.5, 3.0], "g": ["a", "a", "b", "b"]})
    for call in (lambda: bm.incidence_rate(d, "pt", count="n"),
                 lambda: bm.rate_ratio(d, "pt", count="n", by="g")):
        with pytest.raises(InputError, match=rf"column 'n': .*{rule}.*rows? (\d, )*1\b"):
            call()


def test_counts_argument_vocabulary():
    d = pd.DataFrame({"n": [3, 0, 2, 5], "pt": [1.0, 2.0, 1.5, 3.0], "g": ["a", "a", "b", "b"], "e": [1, 0, 1, 1]})
    with pytest.raises(InputError, match="not both"):
        bm.rate_ratio(d, "pt", "e", count="n", by="g")
    with pytest.raises(InputError, match="needs the events"):
        bm.incidence_rate(d, "pt")
    # the 0/1 usage is unchanged, and a count above 1 in `event` stays an error (a cause code is not a count)
    with pytest.raises(InputError, match="column 'n': status codes must be integers 0 or 1"):
        bm.rate_ratio(d, "pt", "n", by="g")
    assert bm.incidence_rate(d, "pt", "e").n_events == bm.incidence_rate(d, "pt", count="e").n_events == 3
    with pytest.raises(InputError, match="conf_level"):
        bm.rate_ratio(d, "pt", count="n", by="g", conf_level=95)
    with pytest.raises(InputError, match="conf_level"):
        bm.incidence_rate(d, "pt", count="n", conf_level="0.9")
    # n is the rows analysed (it was the events of the last pair compared)
    assert bm.rate_ratio(d, "pt", count="n", by="g").n == 4


@pytest.mark.parametrize("kind", ["duckdb", "polars"])
def test_counts_from_an_engine_equal_the_pandas_path(kind, counts):
    frame = counts.assign(bta_type=counts["bta_type"].astype(str))
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect()
        data = con.from_df(frame)
    else:
        import polars as pl

        data = pl.from_pandas(frame)
    a = bm.incidence_rate(data, "person_time", count="n_events", by="bta_type", per=1).table
    b = bm.incidence_rate(frame, "person_time", count="n_events", by="bta_type", per=1).table
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    a = bm.rate_ratio(data, "person_time", count="n_events", by="bta_type", reference="none").table
    b = bm.rate_ratio(frame, "person_time", count="n_events", by="bta_type", reference="none").table
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    bad = frame.assign(n_events=frame["n_events"] - 1)
    bad_data = con.from_df(bad) if kind == "duckdb" else pl.from_pandas(bad)
    with pytest.raises(InputError, match="column 'n_events': event counts must be whole numbers >= 0"):
        bm.incidence_rate(bad_data, "person_time", count="n_events")


@pytest.mark.parametrize("kind", ["duckdb", "polars", "parquet"])
def test_event_counts_in_an_engine_equal_the_pandas_path(kind, tmp_path):
    rows = bm.simulate_cohort(500, 21).recurrent_events(window_days=21)
    rows = rows[["id", "start", "stop", "event", "terminal", "age", "bta_type"]].assign(
        bta_type=rows["bta_type"].astype(str))
    expected = bm.event_counts(rows, "id", "start", "stop", "event", terminal="terminal")
    expected = expected.sort_values("id").reset_index(drop=True)
    if kind == "duckdb":
        import duckdb

        data = duckdb.connect().from_df(rows)
    elif kind == "polars":
        import polars as pl

        data = pl.from_pandas(rows)
    else:
        data = tmp_path / "rows.parquet"
        rows.attrs = {}  # the exclusion log in attrs is not JSON: pandas' to_parquet cannot write it
        rows.to_parquet(data)
    got = bm.event_counts(data, "id", "start", "stop", "event", terminal="terminal")
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, check_dtype=False)
    assert got["n_events"].dtype == np.int64 and got["terminal"].dtype == np.int64


def test_event_counts_in_an_engine_refuse_what_the_pandas_path_refuses():
    import duckdb

    rows = pd.DataFrame({"pid": ["a", "a", "a", "b"], "start": [0.0, 1.0, 2.0, 0.0], "stop": [1.0, 2.0, 3.0, 3.0],
                         "ev": [1, 1, 0, 1], "dead": [0, 0, 1, 0], "x": [1, 1, 1, 0]})
    con = duckdb.connect()

    def run(frame, **kw):
        return bm.event_counts(con.from_df(frame), "pid", "start", "stop", "ev", terminal="dead", **kw)

    assert run(rows)["n_events"].tolist() == [2, 1]
    with pytest.raises(InputError, match=r"column 'x': changes between the rows of patient\(s\) \(id a"):
        run(rows.assign(x=[1, 2, 1, 0]))
    with pytest.raises(InputError, match=r"column 'x': changes"):
        run(rows.assign(x=[1, None, 1, 0]))
    with pytest.raises(InputError, match=r"column 'start': .*overlap; id a"):
        run(rows.assign(start=[0.0, 0.5, 2.0, 0.0]))
    with pytest.raises(InputError, match=r"column 'dead': rows or events after the subject's terminal event; id a"):
        run(rows.assign(dead=[1, 0, 0, 0]))
    with pytest.raises(InputError, match=r"column 'ev': status codes must be integers 0 or 1"):
        run(rows.assign(ev=[2, 1, 0, 1]))
    with pytest.raises(InputError, match=r"column 'dead': status codes must be integers 0 or 1"):
        run(rows.assign(dead=[0, 0, 2, 0]))
    with pytest.raises(InputError, match=r"column 'start': entry time must be"):
        run(rows.assign(start=[0.0, 2.0, 2.0, 0.0]))
    with pytest.raises(InputError, match="missing values"):
        run(rows.assign(stop=[1.0, None, 3.0, 3.0]))
    kept = run(rows.assign(stop=[1.0, 2.0, 3.0, None]), dropna=True)
    assert kept["pid"].tolist() == ["a"] and kept.attrs["dropped"].n == 1
    with pytest.raises(InputError, match="not found"):
        run(rows, covariates=["nope"])


def test_counts_without_person_time_or_too_large_are_errors():
    import duckdb

    d = pd.DataFrame({"n": [3, 2, 0], "pt": [1.0, 0.0, 0.0], "g": ["a", "b", "b"]})
    d.loc[2, "pt"] = 2.0
    with pytest.raises(InputError, match=r"column 'n': events counted in a row with no person-time.*row 1"):
        bm.incidence_rate(d, "pt", count="n")
    with pytest.raises(InputError, match=r"column 'n': events counted in a row with no person-time.*; 1 rows"):
        bm.rate_ratio(duckdb.connect().from_df(d), "pt", count="n", by="g")
    assert bm.incidence_rate(d.assign(n=[3, 0, 0]), "pt", count="n").n_events == 3  # no events, no time: fine
    with pytest.raises(InputError, match=r"below 2\^31.*row 0"):
        bm.incidence_rate(d.assign(n=[3e9, 0, 0]), "pt", count="n")
    with pytest.raises(InputError, match=r"below 2\^31"):
        bm.incidence_rate(duckdb.connect().from_df(d.assign(n=[3e9, 0, 0])), "pt", count="n")


def test_event_counts_of_an_engine_backed_cohort_equal_the_pandas_path():
    """Cohort.recurrent_events of an engine-backed cohort stays in DuckDB (an EngineFrame); event_counts sums it
    there and keeps its attrs (exclusion log, recurrent settings)."""
    import duckdb

    from bmstats.cohort.sql_recurrent import recurrent_events_query

    cohort = bm.simulate_cohort(600, 21)
    con = duckdb.connect()
    rows = recurrent_events_query(con.from_df(cohort.patients.rename_axis("row").reset_index()),
                                  con.from_df(cohort.events.rename_axis("row").reset_index()), window_days=21).data
    got = bm.event_counts(rows, "id", "start", "stop", "event", terminal="terminal", covariates=["age", "bta_type"])
    expected = bm.event_counts(cohort.recurrent_events(window_days=21), "id", "start", "stop", "event",
                               terminal="terminal", covariates=["age", "bta_type"]).sort_values("id")
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["n_events"].tolist() == expected["n_events"].tolist()
    np.testing.assert_allclose(got["person_time"], expected["person_time"], rtol=1e-13)
    assert got["bta_type"].astype(str).tolist() == expected["bta_type"].astype(str).tolist()
    assert got.attrs["recurrent"]["window_days"] == 21 and "exclusions" in got.attrs
