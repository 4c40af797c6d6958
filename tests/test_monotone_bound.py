"""The curvature bound of bmstats.estimate.monotone: it settles a direction only when the likelihood profile
could not flag it, so the answer is the profile's, and a well-determined fit evaluates no profile point."""
import warnings

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
import bmstats.estimate.monotone as monotone
from bmstats._checks import InputError


def _data(rng, case):
    n = 150
    x = rng.normal(size=n) * 10 ** rng.uniform(-2, 2)
    b = rng.binomial(1, 0.2, n)
    g = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    t = np.round(rng.exponential(size=n) * np.exp(-0.7 * b), 1) + 0.05
    ev = rng.binomial(1, 0.7, n)
    if case == "level without events":
        ev[g == "c"] = 0
    if case == "binary without events":
        ev[b == 1] = 0
    if case == "perfect order":
        t = np.argsort(np.argsort(-x)) + 1.0
    status = np.where(ev == 1, 1 + (rng.random(n) < 0.3), 0)
    return pd.DataFrame({"time": t, "event": ev, "status": status, "x": x, "b": b, "g": g})


FITS = {
    "cox efron": lambda d: bm.cox(d, "time", "event", "x + b + C(g)"),
    "cox breslow": lambda d: bm.cox(d, "time", "event", "x + b + C(g)", ties="breslow"),
    "fine-gray": lambda d: bm.fine_gray(d, "time", "status", "x + b + C(g)", cause=1),
}


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
@pytest.mark.parametrize("case", ["estimable", "level without events", "binary without events", "perfect order"])
def test_the_bound_changes_no_answer(monkeypatch, fit, case):
    rng = np.random.default_rng(len(case))
    for _ in range(5):
        d = _data(rng, case)
        answers = []
        for bound in (monotone._certain_loss, lambda *a: -np.inf):  # with the bound, and every point evaluated
            monkeypatch.setattr(monotone, "_certain_loss", bound)
            with warnings.catch_warnings(action="ignore"):
                try:
                    answers.append(tuple(fit(d).summary["estimable"]))
                except InputError as error:  # a Newton path out to where the information vanishes
                    answers.append(str(error))
        assert answers[0] == answers[1]
        if case.endswith("without events"):
            assert not all(answers[0])


def test_a_well_determined_fit_evaluates_no_profile_point():
    beta = np.array([0.3, -0.2])
    calls = []

    def loglik_many(points):
        calls.append(len(points))
        return np.zeros(len(points))

    info = np.array([[400.0, 20.0], [20.0, 300.0]])  # 400 events' worth of information
    flagged = monotone.monotone_columns(None, beta, info, np.array([4.0, 1.0]), loglik_many,
                                        score=np.array([1e-9, -1e-9]), value=-2000.0)
    assert flagged == [] and calls == []
    # a flat direction (the information of a diverging effect) is evaluated, and only it and the estimate
    info_flat = np.array([[400.0, 0.0], [0.0, 1e-12]])
    monotone.monotone_columns(None, beta, info_flat, np.array([4.0, 1.0]), loglik_many,
                              score=np.zeros(2), value=-2000.0)
    assert calls and calls[-1] < 1 + 2 * 2 + 2


def test_the_bound_is_below_the_likelihood_along_a_line():
    """loglik(b + step) <= loglik(b) - bound on a real Cox fit (the inequality the settling rests on)."""

    rng = np.random.default_rng(9)
    d = _data(rng, "estimable")
    res = bm.cox(d, "time", "event", "x + b")
    X = d[["x", "b"]].to_numpy()
    spread = np.ptp(X, axis=0)
    beta = res.coef.to_numpy()

    def loglik(bb):
        eta = X @ bb
        order = np.argsort(d["time"].to_numpy(), kind="stable")
        t, ev, e = d["time"].to_numpy()[order], d["event"].to_numpy()[order], eta[order]
        total = 0.0
        for time in np.unique(t[ev == 1]):
            risk = t >= time
            dead = (t == time) & (ev == 1)
            m = dead.sum()
            s_risk, s_dead = np.exp(e[risk]).sum(), np.exp(e[dead]).sum()
            total += e[dead].sum() - sum(np.log(s_risk - k / m * s_dead) for k in range(m))
        return total

    info = res.information if hasattr(res, "information") else np.linalg.inv(res.naive_cov.to_numpy())
    base = loglik(beta)
    for step in (np.array([1.0, 0.0]), np.array([0.0, -2.0]), np.array([0.5, 0.5]), np.array([5.0, 3.0])):
        bound = monotone._certain_loss(step, np.asarray(info), np.zeros(2), spread)
        assert loglik(beta + step) <= base - bound + 1e-8 * abs(base)
