"""Log-rank / G-rho tests against R's survdiff; the trend test against a direct computation."""
import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, load_reference
from scipy import stats

import bmstats as bm
from bmstats.datasets import load_gbsg, load_rotterdam


@pytest.fixture(scope="module")
def ref():
    return load_reference("nonparametric")["logrank"]


@pytest.fixture(scope="module")
def data():
    rott = load_rotterdam()
    rott["nodegrp"] = pd.cut(rott["nodes"], [-1, 0, 3, np.inf], labels=["0", "1-3", "4+"])
    ties = pd.read_csv(REFERENCE / "data" / "ties.csv")
    ties["event"] = (ties["status"] > 0).astype(int)
    return {"rott": rott, "gbsg": load_gbsg(), "ties": ties}


CASES = {
    "rotterdam_os": ("rott", "dtime", "death", "nodegrp", None, 0),
    "rotterdam_os_rho1": ("rott", "dtime", "death", "nodegrp", None, 1),
    "rotterdam_os_strat": ("rott", "dtime", "death", "nodegrp", "meno", 0),
    "gbsg_rfs": ("gbsg", "rfstime", "status", "hormon", None, 0),
    "gbsg_rfs_grade": ("gbsg", "rfstime", "status", "grade", None, 0),
    "gbsg_rfs_strat": ("gbsg", "rfstime", "status", "hormon", "meno", 0.5),
    "ties": ("ties", "time", "event", "group", None, 0),
    "ties_rho1": ("ties", "time", "event", "group", None, 1),
    "ties_strat": ("ties", "time", "event", "group", "stratum", 0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_survdiff(ref, data, name):
    frame, time, event, by, strata, rho = CASES[name]
    r = ref[name]
    res = bm.logrank_test(data[frame], time, event, by=by, strata=strata, rho=rho)
    assert res.statistic == pytest.approx(r["chisq"], abs=1e-6, rel=1e-9)
    assert res.df == r["df"]
    assert res.p_value == pytest.approx(r["p"], rel=1e-6)
    np.testing.assert_allclose(res.table["observed"], r["obs"], rtol=1e-9)
    np.testing.assert_allclose(res.table["expected"], r["exp"], rtol=1e-9)
    np.testing.assert_allclose(res.variance, np.array(r["var"]).reshape(res.variance.shape), rtol=1e-9, atol=1e-9)


def trend_by_hand(frame, time, event, by, scores):
    """A direct loop over the distinct event times (independent of the vectorised code)."""
    levels = sorted(frame[by].unique())
    u = v = 0.0
    for t in np.unique(frame.loc[frame[event] == 1, time]):
        at_risk = frame[frame[time] >= t]
        n = len(at_risk)
        d = int(((frame[time] == t) & (frame[event] == 1)).sum())
        n_g = np.array([(at_risk[by] == g).sum() for g in levels])
        d_g = np.array([((frame[time] == t) & (frame[event] == 1) & (frame[by] == g)).sum() for g in levels])
        u += scores @ (d_g - d * n_g / n)
        if n > 1:
            v += d * (n - d) / (n - 1) * (scores**2 @ n_g / n - (scores @ n_g / n) ** 2)
    return u * u / v


def test_trend_matches_direct_computation(data):
    ties = data["ties"].copy()
    ties["group"] = pd.Categorical(ties["group"], categories=sorted(ties["group"].unique()), ordered=True)
    for scores in (None, [0.0, 1.0, 3.0]):
        res = bm.logrank_test(ties, "time", "event", by="group", trend=True, scores=scores)
        s = np.array([1.0, 2.0, 3.0]) if scores is None else np.array(scores)
        expected = trend_by_hand(ties, "time", "event", "group", s)
        assert res.df == 1
        assert res.statistic == pytest.approx(expected, rel=1e-10)
        assert res.p_value == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-10)


def test_trend_with_two_groups_is_the_logrank_test(data):
    gbsg = data["gbsg"]
    a = bm.logrank_test(gbsg, "rfstime", "status", by="hormon")
    b = bm.logrank_test(gbsg, "rfstime", "status", by="hormon", trend=True)
    assert b.statistic == pytest.approx(a.statistic, rel=1e-10)


def test_result_prints(data):
    res = bm.logrank_test(data["gbsg"], "rfstime", "status", by="hormon")
    assert "chi-square" in repr(res) and "<table" in res._repr_html_()
    assert list(res.summary.columns) == ["test", "statistic", "df", "p_value"]
