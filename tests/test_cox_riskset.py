"""The weighted risk-set engine against brute force (strata, delayed entry, ties) and the concordance counts."""
from __future__ import annotations

import numpy as np

from bmstats.estimate.riskset import concordance_counts, prefix_weight_below, risk_sets


def data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 5, n).astype(float)
    stop = start + rng.integers(1, 8, n)
    event = rng.uniform(size=n) < 0.6
    strata = rng.integers(0, 3, n)
    return start, stop, event, strata


def test_risk_sums_equal_brute_force():
    start, stop, event, strata = data()
    rs = risk_sets(stop, event, start, strata)
    v = np.random.default_rng(1).uniform(size=len(stop))
    at_risk = (start[None, :] < rs.times[:, None]) & (stop[None, :] >= rs.times[:, None]) & (
        strata[None, :] == rs.strata[:, None])
    np.testing.assert_allclose(rs.risk_sum(v), at_risk @ v)
    dies = event[None, :] & (stop[None, :] == rs.times[:, None]) & (strata[None, :] == rs.strata[:, None])
    np.testing.assert_allclose(rs.death_sum(v), dies @ v)
    np.testing.assert_array_equal(rs.n_deaths, dies.sum(axis=1))
    c = np.random.default_rng(2).uniform(size=rs.K)
    np.testing.assert_allclose(rs.at_risk_sum(c), at_risk.T @ c)
    assert np.all(np.diff(rs.strata) >= 0)


def test_risk_sums_of_a_strong_effect_keep_the_small_late_risk_sets():
    """Weights spanning 1e-20 to 1e20 (a large coefficient): the late risk sets hold only the small ones, which
    a forward sum (everyone minus those who left) would bury in the rounding of the large early weights."""
    rng = np.random.default_rng(4)
    for entry in (False, True):
        n = 400
        stop = rng.permutation(n).astype(float) + 1
        start = np.where(rng.uniform(size=n) < 0.3, stop - 2.5, 0.0) if entry else None
        strata = rng.integers(0, 2, n)
        v = np.exp(-(stop - n / 2) / 4.5)  # from about 1e19 for the first to 1e-19 for the last
        rs = risk_sets(stop, rng.uniform(size=n) < 0.7, start, strata)
        s0 = np.zeros(n) if start is None else start
        at_risk = (s0[None, :] < rs.times[:, None]) & (stop[None, :] >= rs.times[:, None]) & (
            strata[None, :] == rs.strata[:, None])
        exact = np.array([np.sort(v[row]).sum() for row in at_risk])  # the small ones first
        np.testing.assert_allclose(rs.risk_sum(v), exact, rtol=1e-12)
        assert np.all(rs.risk_sum(v) > 0)


def test_without_entry_everyone_is_at_risk_from_the_start():
    _, stop, event, strata = data(3)
    rs = risk_sets(stop, event, None, strata)
    at_risk = (stop[None, :] >= rs.times[:, None]) & (strata[None, :] == rs.strata[:, None])
    np.testing.assert_allclose(rs.risk_sum(np.ones(len(stop))), at_risk.sum(axis=1))


def test_prefix_weight_below_brute_force():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 7, 50)
    w = rng.uniform(size=50)
    m = rng.integers(0, 51, 30)
    qy = rng.integers(0, 8, 30)
    got_below, got_upto = prefix_weight_below(y, w, m, qy)
    for inclusive, got in ((False, got_below), (True, got_upto)):
        want = [w[:mm][(y[:mm] <= q) if inclusive else (y[:mm] < q)].sum() for mm, q in zip(m, qy)]
        np.testing.assert_allclose(got, want)


def test_concordance_counts_brute_force():
    start, stop, event, strata = data(5)
    rs = risk_sets(stop, event, start, strata)
    score = np.round(np.random.default_rng(6).normal(size=len(stop)), 1)  # ties in the score
    w = np.random.default_rng(7).uniform(0.5, 2, len(stop))
    conc = disc = tied = 0.0
    for i in np.flatnonzero(event):
        t = stop[i]
        for j in range(len(stop)):
            if j == i or strata[j] != strata[i] or not (start[j] < t <= stop[j]):
                continue
            if event[j] and stop[j] == t:
                continue  # tied on time
            if score[i] > score[j]:
                conc += w[i] * w[j]
            elif score[i] < score[j]:
                disc += w[i] * w[j]
            else:
                tied += w[i] * w[j]
    np.testing.assert_allclose(concordance_counts(rs, score, w), (conc, disc, tied))


def test_identical_rows_get_identical_scores_at_any_memory_alignment():
    """Concordance counts exact ties in risk score; equal covariate rows must never differ in the last bit."""
    from bmstats.estimate.riskset import tie_exact_linear_predictor

    rng = np.random.default_rng(0)
    row = rng.normal(size=3)
    coef = rng.normal(size=3)
    for offset in range(8):  # shift the rows through every alignment of the buffer
        buf = np.empty(offset + 1001 * 3)
        X = buf[offset:].reshape(1001, 3)
        X[:] = row
        eta = tie_exact_linear_predictor(X, coef)
        assert np.unique(eta).size == 1
