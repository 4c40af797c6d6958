"""Aalen-Johansen cumulative incidence and Gray's test against R's cmprsk::cuminc."""
import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, load_reference
from scipy import stats

import bmstats as bm
from bmstats._checks import InputError
from bmstats.datasets import load_rotterdam


def nan(values):
    return np.array([np.nan if v == "NA" else v for v in values], dtype=float)


@pytest.fixture(scope="module")
def ref():
    return load_reference("nonparametric")["cuminc"]


@pytest.fixture(scope="module")
def data():
    rott = load_rotterdam()
    rott["cr_time"] = np.where(rott["recur"] == 1, rott["rtime"], rott["dtime"])
    rott["cr_status"] = np.where(rott["recur"] == 1, 1, np.where(rott["death"] == 1, 2, 0))
    rott["nodegrp"] = pd.cut(rott["nodes"], [-1, 0, 3, np.inf], labels=["0", "1-3", "4+"])
    ties = pd.read_csv(REFERENCE / "data" / "ties.csv")
    return {"rott": rott, "ties": ties}


CASES = {
    "rotterdam": ("rott", "cr_time", "cr_status", "nodegrp", None, 0),
    "rotterdam_strat_rho1": ("rott", "cr_time", "cr_status", "nodegrp", "meno", 1),
    "ties": ("ties", "time", "status", "group", None, 0),
    "ties_strat": ("ties", "time", "status", "group", "stratum", 0),
    "ties_rho": ("ties", "time", "status", "group", None, -0.5),
}


def fit(data, name, **kw):
    frame, time, status, by, strata, rho = CASES[name]
    return bm.cumulative_incidence(data[frame], time, status, by=by, strata=strata, rho=rho, **kw)


@pytest.mark.parametrize("name", ["rotterdam", "ties"])
def test_estimate_and_variance_match_cuminc(ref, data, name):
    res = fit(data, name)
    for curve in ref[name]["curves"]:
        times = np.array(curve["time"], dtype=float)
        at = res.at(times)
        got = at[(at["group"].astype(str) == curve["group"]) & (at["cause"] == curve["cause"])]
        est, var = nan(curve["estimate"]), nan(curve["variance"])
        ok = ~np.isnan(est)  # timepoints() gives NA beyond the group's last time
        assert ok.sum() > 10
        np.testing.assert_allclose(got["estimate"].to_numpy()[ok], est[ok], rtol=0, atol=1e-9)
        np.testing.assert_allclose(got["std_err"].to_numpy()[ok] ** 2, var[ok], rtol=1e-7, atol=1e-300)


def test_table_shape_and_limits(data):
    res = fit(data, "ties", km_complement=True)
    tb = res.table
    assert list(tb.columns) == ["group", "cause", "time", "n_risk", "n_event", "estimate", "std_err",
                                "lower", "upper", "km_complement"]
    z = stats.norm.ppf(0.975)
    f, se = tb["estimate"].to_numpy(), tb["std_err"].to_numpy()
    pos = (f > 0) & (f < 1)
    # log(-log) limits: lower = F^exp(-z se / (F log F)), upper = F^exp(z se / (F log F))
    np.testing.assert_allclose(tb["lower"][pos], f[pos] ** np.exp(-z * se[pos] / (f[pos] * np.log(f[pos]))))
    np.testing.assert_allclose(tb["upper"][pos], f[pos] ** np.exp(z * se[pos] / (f[pos] * np.log(f[pos]))))
    assert (tb["lower"][pos] <= f[pos]).all() and (tb["upper"][pos] >= f[pos]).all()
    # 1 - KM censoring the competing cause overstates the incidence
    assert (tb["km_complement"] >= tb["estimate"] - 1e-12).all()
    km = bm.kaplan_meier(data["ties"].assign(e1=(data["ties"]["status"] == 1).astype(int)), "time", "e1",
                         by="group")
    one = tb[tb["cause"] == 1]
    np.testing.assert_allclose(one["km_complement"], 1 - km.table["estimate"], rtol=1e-12)


def test_conf_type_log_and_plain_limits(data):
    z = stats.norm.ppf(0.95)
    default = fit(data, "ties", conf_level=0.9).table
    log = fit(data, "ties", conf_type="log", conf_level=0.9)
    plain = fit(data, "ties", conf_type="plain", conf_level=0.9).table
    f, se = default["estimate"].to_numpy(), default["std_err"].to_numpy()
    pos = f > 0
    np.testing.assert_allclose(log.table["lower"][pos], f[pos] * np.exp(-z * se[pos] / f[pos]), rtol=1e-12)
    np.testing.assert_allclose(log.table["upper"][pos], np.minimum(f[pos] * np.exp(z * se[pos] / f[pos]), 1),
                               rtol=1e-12)
    np.testing.assert_allclose(plain["lower"], np.clip(f - z * se, 0, 1), rtol=1e-12)
    np.testing.assert_allclose(plain["upper"], np.clip(f + z * se, 0, 1), rtol=1e-12)
    for tb in (log.table, plain):  # the estimate and its standard error do not depend on the scale
        np.testing.assert_array_equal(tb["estimate"], f)
        np.testing.assert_array_equal(tb["std_err"], se)
    assert log.conf_type == "log" and "90% CI (log)" in log.notes[0]
    with pytest.raises(InputError, match="conf_type must be one of plain, log, log-log, got 'arcsine'"):
        fit(data, "ties", conf_type="arcsine")


def test_causes_sum_with_survival_to_one(data):
    res = fit(data, "ties")
    tb = res.table
    total = tb.groupby(["group", "time"], sort=False, observed=True)["estimate"].sum().to_numpy()
    km = bm.kaplan_meier(data["ties"].assign(any=(data["ties"]["status"] > 0).astype(int)), "time", "any",
                         by="group")
    np.testing.assert_allclose(total + km.table["estimate"].to_numpy(), 1, atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_gray_test_matches_cuminc(ref, data, name):
    r = ref[name]["tests"]
    g = fit(data, name).gray_test
    assert list(g.columns) == ["cause", "statistic", "df", "p_value"]
    assert list(g["cause"]) == r["cause"]
    assert list(g["df"]) == r["df"]
    np.testing.assert_allclose(g["statistic"], r["statistic"], rtol=GRAY_RTOL)


# Gray's statistic with the paper's variance estimator in cmprsk's discrete-time form (see
# bmstats/estimate/gray.py): it reproduces cuminc's $Tests to ~1e-14 on these cases.
GRAY_RTOL = 1e-6


def test_no_gray_test_without_groups(data):
    res = bm.cumulative_incidence(data["ties"], "time", "status")
    assert res.gray_test is None
    assert set(res.table["group"]) == {"all"}
    assert "Aalen-Johansen" in repr(res) and "<table" in res._repr_html_()


def test_plot_delegates_to_report_figures(data):
    assert fit(data, "ties").plot() is not None
