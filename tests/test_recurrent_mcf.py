"""Mean cumulative function (Nelson-Aalen / Lawless-Nadeau and Ghosh-Lin) against R (mets, survival)."""
import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from conftest import REFERENCE, load_reference

REF = load_reference("recurrent")
DATA = pd.read_csv(REFERENCE / "data" / "recurrent.csv")
EXACT = ("id", "start_exact", "stop_exact", "event")
DAYS = ("id", "start", "stop", "event")
TERMINAL = {"terminal": "terminal"}


def event_rows(table, group=None):
    t = table if group is None else table[table["group"] == group]
    return t[t["n_event"] > 0]


def test_reference_data_shape():
    assert len(DATA) == REF["n_rows"] and DATA["event"].sum() == REF["n_events"]
    assert DATA["terminal"].sum() == REF["n_deaths"]
    # the day-rounded times have ties between subjects, the exact ones do not
    ev = DATA[DATA["event"] == 1]
    assert ev["stop"].duplicated().any() and not ev["stop_exact"].duplicated().any()


def test_ghosh_lin_equals_mets_recurrent_marginal():
    res = bm.mean_cumulative_function(DATA, *EXACT, **TERMINAL)
    ref = REF["ghosh_lin_exact"]
    t = event_rows(res.table)
    np.testing.assert_allclose(t["time"], ref["time"], rtol=1e-12)
    np.testing.assert_allclose(t["estimate"], ref["estimate"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(t["std_err"], ref["std_err"], rtol=0, atol=1e-5)
    assert np.max(np.abs(t["std_err"].to_numpy() - ref["std_err"])) < 1e-10  # in fact to rounding


@pytest.mark.parametrize("group", ["A", "B"])
def test_ghosh_lin_by_group_equals_mets(group):
    res = bm.mean_cumulative_function(DATA, *EXACT, **TERMINAL, by="group")
    ref = REF["ghosh_lin_exact_by"][group]
    t = event_rows(res.table, group)
    np.testing.assert_allclose(t["time"], ref["time"], rtol=1e-12)
    np.testing.assert_allclose(t["estimate"], ref["estimate"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(t["std_err"], ref["std_err"], rtol=0, atol=1e-5)


def test_at_times_and_log_limits_match_mets_summary():
    s = REF["ghosh_lin_exact_summary"]
    at = bm.mean_cumulative_function(DATA, *EXACT, **TERMINAL).at(s["time"])
    np.testing.assert_allclose(at["estimate"], s["estimate"], atol=1e-8)
    np.testing.assert_allclose(at["std_err"], s["std_err"], atol=1e-5)
    # mets uses z = 1.96, bmstats the exact normal quantile: limits agree to ~1e-5 relative
    np.testing.assert_allclose(at["lower"], s["lower"], rtol=2e-5)
    np.testing.assert_allclose(at["upper"], s["upper"], rtol=2e-5)


def test_nelson_aalen_robust_equals_mets_robust_phreg():
    res = bm.mean_cumulative_function(DATA, *EXACT, **TERMINAL, method="nelson-aalen")
    ref = REF["nelson_aalen_exact"]
    np.testing.assert_allclose(res.table["time"], ref["time"], rtol=1e-12)
    np.testing.assert_allclose(res.table["estimate"], ref["estimate"], atol=1e-10)
    np.testing.assert_allclose(res.table["std_err"], ref["std_err"], atol=1e-10)


def test_nelson_aalen_with_ties_equals_survfit_infinitesimal_jackknife():
    res = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, by="group", method="nelson-aalen")
    ref = REF["nelson_aalen_days_by"]
    t = res.table
    assert list(t["group"]) == ref["group"]
    np.testing.assert_array_equal(t["time"], ref["time"])
    np.testing.assert_array_equal(t["n_risk"], ref["n_risk"])
    np.testing.assert_array_equal(t["n_event"], ref["n_event"])
    np.testing.assert_allclose(t["estimate"], ref["estimate"], atol=1e-10)
    np.testing.assert_allclose(t["std_err"], ref["std_err"], atol=1e-10)


@pytest.mark.parametrize("group", ["A", "B"])
def test_ghosh_lin_with_ties_equals_km_and_nelson_aalen_from_survival(group):
    res = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, by="group")
    ref = REF["ghosh_lin_days_by"][group]
    t = event_rows(res.table, group)
    np.testing.assert_array_equal(t["time"], ref["time"])
    np.testing.assert_array_equal(t["n_risk"], ref["n_risk"])
    np.testing.assert_allclose(t["estimate"], ref["estimate"], atol=1e-10)


def brute_force_ghosh_lin(data, id, start, stop, event, terminal):
    """Direct subjects x times evaluation of Ghosh & Lin's estimator and influence functions."""
    times = np.unique(np.r_[data[stop].to_numpy()])
    ids = data[id].unique()
    n, k = len(ids), len(times)
    pos = {v: i for i, v in enumerate(ids)}
    Yi, dN, dD = np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k))
    for r in data.itertuples(index=False):
        i = pos[getattr(r, id)]
        a, b = getattr(r, start), getattr(r, stop)
        Yi[i] += (times > a) & (times <= b)
        j = np.searchsorted(times, b)
        dN[i, j] += getattr(r, event)
        dD[i, j] += getattr(r, terminal)
    Y = Yi.sum(0)
    dR = np.where(Y > 0, dN.sum(0) / np.maximum(Y, 1), 0)
    dL = np.where(Y > 0, dD.sum(0) / np.maximum(Y, 1), 0)
    S = np.cumprod(1 - dL)
    Sm = np.r_[1, S[:-1]]
    mu = np.cumsum(Sm * dR)
    invY = np.where(Y > 0, 1 / np.maximum(Y, 1), 0)
    dM = dN - Yi * dR
    dMD = dD - Yi * dL
    psi = np.cumsum(Sm * invY * dM + mu * invY * dMD, axis=1) - mu * np.cumsum(invY * dMD, axis=1)
    return pd.DataFrame({"time": times, "estimate": mu, "std_err": np.sqrt((psi ** 2).sum(0))})


def test_ghosh_lin_variance_with_ties_equals_direct_influence_functions():
    sub = DATA[DATA["group"] == "A"]
    res = bm.mean_cumulative_function(sub, *DAYS, **TERMINAL)
    bf = brute_force_ghosh_lin(sub, *DAYS, **TERMINAL).set_index("time").loc[res.table["time"]]
    np.testing.assert_allclose(res.table["estimate"], bf["estimate"], atol=1e-12)
    np.testing.assert_allclose(res.table["std_err"], bf["std_err"], atol=1e-12)


def test_late_entry_and_gaps_equal_direct_influence_functions():
    # subjects entering late (left truncation), and a gap in observation between two rows
    d = DATA[DATA["id"] <= 120].copy()
    first = ~d["id"].duplicated()
    late = first & (d["id"] % 3 == 0) & (d["stop"] > 30)
    d.loc[late, "start"] = 20.0
    gap_rows = (~first) & (d["id"] % 5 == 0) & (d["stop"] - d["start"] > 10)
    d.loc[gap_rows, "start"] = d.loc[gap_rows, "start"] + 5
    res = bm.mean_cumulative_function(d, *DAYS, **TERMINAL)
    bf = brute_force_ghosh_lin(d, *DAYS, **TERMINAL).set_index("time").loc[res.table["time"]]
    np.testing.assert_allclose(res.table["estimate"], bf["estimate"], atol=1e-12)
    np.testing.assert_allclose(res.table["std_err"], bf["std_err"], atol=1e-12)


def test_event_and_death_on_the_same_row():
    d = pd.DataFrame({"id": [1, 1, 2, 3, 4], "start": [0, 2, 0, 0, 0], "stop": [2, 5, 5, 3, 6],
                      "event": [1, 1, 0, 1, 0], "terminal": [0, 1, 1, 0, 0]})
    res = bm.mean_cumulative_function(d, *DAYS, **TERMINAL)
    bf = brute_force_ghosh_lin(d, *DAYS, **TERMINAL).set_index("time").loc[res.table["time"]]
    np.testing.assert_allclose(res.table["estimate"], bf["estimate"], atol=1e-14)
    np.testing.assert_allclose(res.table["std_err"], bf["std_err"], atol=1e-14)
    # t=2 and t=3: one event among 4; t=5: one event among 3 at risk with S(5-) = 1 (the deaths at 5
    # come after the event)
    assert res.at([5])["estimate"].iloc[0] == pytest.approx(1 / 4 + 1 / 4 + 1 / 3, rel=1e-14)
    assert res.at([6])["estimate"].iloc[0] == pytest.approx(1 / 4 + 1 / 4 + 1 / 3, rel=1e-14)


def test_without_deaths_ghosh_lin_is_nelson_aalen():
    gl = bm.mean_cumulative_function(DATA, "id", "start", "stop", "event")
    na = bm.mean_cumulative_function(DATA, "id", "start", "stop", "event", method="nelson-aalen")
    pd.testing.assert_frame_equal(gl.table, na.table)


def test_ghosh_lin_below_nelson_aalen_when_deaths():
    gl = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL).at([365, 1000])
    na = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, method="nelson-aalen").at([365, 1000])
    assert (gl["estimate"] < na["estimate"]).all()


def test_row_order_and_index_do_not_matter():
    shuffled = DATA.sample(frac=1, random_state=3).reset_index(drop=True)
    a = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, by="group").table
    b = bm.mean_cumulative_function(shuffled, *DAYS, **TERMINAL, by="group").table
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-13, atol=1e-15)


def test_at_steps_and_beyond_follow_up():
    res = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, by="group")
    t = res.table[res.table["group"] == "A"]
    at = res.at([0, t["time"].iloc[5], t["time"].iloc[5] + 0.5, 1e6])
    a = at[at["group"] == "A"].reset_index(drop=True)
    assert a.loc[0, "estimate"] == 0
    assert a.loc[1, "estimate"] == t["estimate"].iloc[5] == a.loc[2, "estimate"]
    assert np.isnan(a.loc[3, "estimate"])


def test_compare_groups_wald_at_tau():
    res = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, by="group")
    test = res.compare(tau=730)
    at = res.at([730])
    diff = at["estimate"].iloc[0] - at["estimate"].iloc[1]
    z = diff / np.sqrt((at["std_err"] ** 2).sum())
    assert test.statistic == pytest.approx(z ** 2, rel=1e-12)
    assert test.df == 1 and 0 < test.p_value < 1
    assert res.test.tau == min(res.max_time.values())
    with pytest.raises(InputError, match="by="):
        bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL).compare()


def test_plain_limits_and_conf_level():
    res = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, conf_type="plain", conf_level=0.9)
    t = res.table[res.table["estimate"] > 1]
    np.testing.assert_allclose(t["upper"] - t["estimate"], 1.6448536269514722 * t["std_err"], rtol=1e-12)


def test_result_is_tidy_and_immutable():
    res = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, by="group")
    assert list(res.table.columns[:2]) == ["group", "time"]
    assert {"estimate", "std_err", "lower", "upper"} <= set(res.table.columns)
    assert "Ghosh-Lin" in repr(res) and "<div>" in res._repr_html_()
    with pytest.raises((AttributeError, TypeError)):  # frozen result
        res.method = "x"
    counts = res.counts
    assert set(counts.columns) >= {"group", "time", "n_risk", "n_event", "n_terminal"}
    assert counts["n_event"].sum() == DATA["event"].sum()


def test_bad_arguments():
    with pytest.raises(InputError, match="method"):
        bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, method="km")
    with pytest.raises(InputError, match="conf_type"):
        bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, conf_type="logit")
    with pytest.raises(InputError, match="not found"):
        bm.mean_cumulative_function(DATA, "id", "start", "stop", "evnt")


def test_plot_delegates_to_report_figures():
    fig = bm.mean_cumulative_function(DATA, *DAYS, **TERMINAL, by="group").plot()
    assert fig.__class__.__name__ == "Figure"
