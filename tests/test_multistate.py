"""Illness-death model: Cohort.multistate rows, bm.state_occupation against survfit(Surv(tstart, tstop, state)
~ 1, id, istate) and bm.multistate_cox against coxph(Surv(tstart, tstop, state) ~ x, id, istate)
(tests/reference/R/multistate.R -> multistate.json), and the fast influence recursion against a brute-force
per-subject one."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate.state_occupation import _estimate
from bmstats.estimate.transitions import transitions
from conftest import load_reference

REF = load_reference("multistate")
STATES = ["free", "bone_metastasis", "death"]


@pytest.fixture(scope="module")
def rows():
    r = bm.datasets.load_bm_cohort().multistate(covariates=["age", "her2"])
    r["her2pos"] = (r["her2"].astype(str) == "positive").astype(int)
    return r


def _wide(table: pd.DataFrame, column: str, states) -> np.ndarray:
    return table.pivot(index="time", columns="state", values=column)[list(states)].to_numpy()


def test_rows_equal_the_r_construction(rows):
    r = REF["rows"]
    assert rows["patient_id"].tolist() == r["patient_id"]
    np.testing.assert_allclose(rows["start"], r["start"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rows["stop"], r["stop"], rtol=1e-12)
    assert rows["from_state"].astype(str).tolist() == r["from_state"]
    assert rows["to_state"].astype(object).fillna("censor").tolist() == r["to_state"]
    assert list(rows.columns[:5]) == ["patient_id", "start", "stop", "from_state", "to_state"]
    assert (rows["stop"] > rows["start"]).all()


@pytest.mark.parametrize("conf_type, key", [("log", "overall"), ("log-log", "overall_loglog")])
def test_state_occupation_equals_survfit(rows, conf_type, key):
    fit = bm.state_occupation(rows, start="start", stop="stop", from_state="from_state", to_state="to_state",
                              id="patient_id", initial="free", conf_type=conf_type)
    o = REF[key]
    assert o["conf_type"] == conf_type
    tb = fit.table
    assert list(tb.columns) == ["state", "time", "n_risk", "n_event", "estimate", "std_err", "lower", "upper"]
    np.testing.assert_allclose(np.unique(tb["time"]), o["time"], rtol=1e-12)
    np.testing.assert_allclose(_wide(tb, "estimate", STATES), o["pstate"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(_wide(tb, "std_err", STATES), o["std_err"], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(_wide(tb, "n_risk", STATES), o["n_risk"])
    lower = np.array(o["lower"], dtype=float)
    np.testing.assert_allclose(_wide(tb, "lower", STATES)[~np.isnan(lower)], lower[~np.isnan(lower)], rtol=1e-8)
    upper = np.array(o["upper"], dtype=float)
    np.testing.assert_allclose(_wide(tb, "upper", STATES)[~np.isnan(upper)], upper[~np.isnan(upper)], rtol=1e-8)
    # .at: the vocabulary, the start values before the first time
    at = fit.at([0, 1, 5])
    assert list(at.columns) == ["state", "time", "n_risk", "n_event", "estimate", "std_err", "lower", "upper"]
    start = at[at["time"] == 0].set_index("state")["estimate"]
    assert start["free"] == pytest.approx(1 - 171 / 5000) and start["death"] == 0
    sums = at.groupby("time")["estimate"].sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)


def test_state_occupation_by_group_equals_survfit(rows):
    fit = bm.state_occupation(rows, by="her2pos")
    for g, ref in zip((0, 1), REF["by_her2pos"]):
        tb = fit.table[fit.table["group"] == g]
        np.testing.assert_allclose(_wide(tb, "estimate", STATES), ref["pstate"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(_wide(tb, "std_err", STATES), ref["std_err"], rtol=1e-8, atol=1e-14)


def _small():
    d = pd.DataFrame(REF["small_rows"])
    d["to"] = d["to"].replace("censor", np.nan)
    return d


def test_small_data_with_late_entry_ties_and_intermediate_start():
    fit = bm.state_occupation(_small(), start="tstart", stop="tstop", from_state="from", to_state="to", id="id",
                              initial="a")
    s = REF["small"]
    np.testing.assert_allclose(_wide(fit.table, "estimate", "abc"), s["pstate"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(_wide(fit.table, "std_err", "abc"), s["std_err"], rtol=1e-10, atol=1e-15)


def _brute_force_se(tr, S):
    """The influence of every subject at every time, by the product-integral recursion itself."""
    times = np.unique(tr.stop)
    moved = tr.to_code >= 0
    t_first = tr.stop[moved].min()
    h = tr.from_code
    at0 = (tr.start < t_first) & (tr.stop >= t_first)
    p = np.bincount(h[at0], minlength=S) / at0.sum()
    U = np.zeros((tr.n_subjects, S))
    out = []
    for t in times:
        risk = (tr.start < t) & (tr.stop >= t)
        Y = np.bincount(h[risk], minlength=S).astype(float)
        ev = risk & moved & (tr.stop == t)
        dN = np.zeros((S, S))
        np.add.at(dN, (h[ev], tr.to_code[ev]), 1)
        dA = np.divide(dN, Y[:, None], out=np.zeros_like(dN), where=Y[:, None] > 0)
        dA[np.arange(S), np.arange(S)] = -dA.sum(1)
        new = U @ (np.eye(S) + dA)
        for r in np.flatnonzero(risk):
            row = -dA[h[r]].copy()
            if ev[r]:
                row[tr.to_code[r]] += 1
                row[h[r]] -= 1
            new[tr.ids[r]] += p[h[r]] * row / Y[h[r]]
        U, p = new, p @ (np.eye(S) + dA)
        out.append(np.sqrt((U ** 2).sum(0)))
    return np.array(out)


def test_fast_influence_equals_brute_force_on_random_paths():
    rng = np.random.default_rng(5)
    n = 60
    t1 = rng.integers(1, 15, n).astype(float)
    ill = rng.random(n) < 0.5
    t2 = t1 + rng.integers(1, 10, n)
    late = rng.integers(0, 3, n) * (rng.random(n) < 0.2)
    recs = []
    for i in range(n):
        if ill[i]:
            recs.append((i, late[i], t1[i] + late[i], "free", "ill"))
            recs.append((i, t1[i] + late[i], t2[i] + late[i], "ill", "dead" if rng.random() < 0.6 else None))
        else:
            recs.append((i, late[i], t1[i] + late[i], "free", "dead" if rng.random() < 0.5 else None))
    d = pd.DataFrame(recs, columns=["id", "start", "stop", "from_state", "to_state"])
    tr = transitions(d, "start", "stop", "from_state", "to_state", "id", "free")
    fast = _estimate(tr, 3)[0]["se"]
    np.testing.assert_allclose(fast, _brute_force_se(tr, 3), rtol=1e-10, atol=1e-14)


def test_multistate_cox_equals_coxph(rows):
    fit = bm.multistate_cox(rows, "age + her2pos", start="start", stop="stop", from_state="from_state",
                            to_state="to_state", id="patient_id")
    c = REF["cox"]
    s = fit.summary
    assert list(s.columns[:2]) == ["from_state", "to_state"] and s.index.name == "term"
    assert list(zip(s["from_state"], s["to_state"])) == [("free", "bone_metastasis")] * 2 + [("free", "death")] * 2 + [
        ("bone_metastasis", "death")] * 2
    np.testing.assert_allclose(s["coef"], c["coef"], rtol=1e-8)
    np.testing.assert_allclose(s["std_err"], c["se"], rtol=1e-6)
    np.testing.assert_allclose(s["naive_std_err"], c["naive_se"], rtol=1e-6)
    assert fit.n_events == c["nevent"] and fit.n == 5000
    assert np.isnan(fit.cov.iloc[0, 2]) and fit.cov.iloc[0, 0] == pytest.approx(c["se"][0] ** 2, rel=1e-6)


def test_warnings_name_the_transition():
    rows = pd.DataFrame({"patient_id": [1, 1, 2, 3], "start": [0, 2, 0, 0], "stop": [2, 5, 3, 4],
                         "from_state": ["free", "ill", "free", "free"], "to_state": ["ill", None, "dead", None],
                         "x": [1.0, 2, 3, 5]})
    with warnings.catch_warnings(record=True, action="always") as caught:
        bm.multistate_cox(rows, "x")
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("transition free -> ill") for m in messages)
    # free -> dead: its one event (x = 3) has the smaller x of the two at risk: a monotone likelihood
    assert any(m.startswith("transition free -> dead: cox: 'x' not estimable") for m in messages)


def test_bad_rows_are_named():
    d = _small()
    with pytest.raises(InputError, match="chain"):
        bm.state_occupation(d.assign(tstart=d["tstart"].where(d.index != 2, 1.5)), start="tstart", stop="tstop",
                            from_state="from", to_state="to", id="id", initial="a")
    with pytest.raises(InputError, match="tstop"):
        bm.state_occupation(d.assign(tstop=d["tstart"]), start="tstart", stop="tstop", from_state="from",
                            to_state="to", id="id", initial="a")
    with pytest.raises(InputError, match="initial"):
        bm.state_occupation(d, start="tstart", stop="tstop", from_state="from", to_state="to", id="id")
    with pytest.raises(InputError, match="already in"):
        bm.state_occupation(d.assign(to=d["from"]), start="tstart", stop="tstop", from_state="from", to_state="to",
                            id="id", initial="a")
    with pytest.raises(InputError, match="conf_type"):
        bm.state_occupation(d, start="tstart", stop="tstop", from_state="from", to_state="to", id="id",
                            initial="a", conf_type="logit")
    with pytest.raises(InputError, match="no transitions"):
        bm.multistate_cox(d.assign(to=np.nan, id=d.index), "tstart", start="tstart",
                          stop="tstop", from_state="from", to_state="to", id="id", initial="a")


def test_cohort_multistate_rules():
    base = {"dx_date": "2010-01-01", "age": 60, "er": "positive", "pr": "positive", "her2": "negative",
            "last_fu_date": "2010-01-11"}
    p = pd.DataFrame([{**base, **r} for r in [
        {"patient_id": "free_cens"},
        {"patient_id": "ill_dead", "bm_date": "2010-01-04", "death_date": "2010-01-11"},
        {"patient_id": "ill_last_day", "bm_date": "2010-01-11", "death_date": "2010-01-11"},  # not a transition
        {"patient_id": "at_dx", "bm_date": "2010-01-01"},
        {"patient_id": "after_fu", "bm_date": "2010-02-01"},  # inconsistent: excluded
    ]])
    c = bm.Cohort.from_frames(p)
    rows = c.multistate(unit="days", covariates=[])
    got = {k: g[["start", "stop", "from_state", "to_state"]].astype(object).where(g[["start", "stop", "from_state", "to_state"]].notna(), None).to_numpy().tolist()
           for k, g in rows.groupby("patient_id", sort=False)}
    assert got["free_cens"] == [[0, 10, "free", None]]
    assert got["ill_dead"] == [[0, 3, "free", "bone_metastasis"], [3, 10, "bone_metastasis", "death"]]
    assert got["ill_last_day"] == [[0, 10, "free", "death"]]
    assert got["at_dx"] == [[0, 10, "bone_metastasis", None]]
    assert "after_fu" not in got
    assert rows.attrs["exclusions"].ids("event after last_fu_date (inconsistent dates)") == ("after_fu",)
    with pytest.raises(InputError, match="absorbing"):
        c.multistate(states=["bone_metastasis", "visceral_metastasis"])
    with pytest.raises(InputError, match="unknown state"):
        c.multistate(states=["relapse", "death"])


def test_plot_is_stacked_and_draws_into_given_axes(rows):
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.use("Agg")
    fit = bm.state_occupation(rows)
    fig = fit.plot()
    ax = fig.axes[0]
    assert [c.get_gid() for c in ax.collections] == [f"state:{s}" for s in STATES]
    top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(100.0)
    own = Figure()
    target = own.add_subplot(1, 1, 1)
    assert fit.plot(ax=target) is own and len(target.collections) == 3
