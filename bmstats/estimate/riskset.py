"""The weighted risk-set engine shared by Cox-type models: one sort, then O(n) sums per risk-set quantity.

Rows have an optional entry time (start), an exit time (stop), an event flag, a stratum and a case weight.
Row ``i`` is at risk at event time ``t`` of its own stratum when ``start_i < t <= stop_i`` (counting-process
convention, as R's ``Surv(start, stop, event)``). Every distinct (stratum, event time) pair gets an index
``k = 0..K-1`` (strata in blocks, times increasing within a block); row ``i`` is at risk exactly at the
contiguous indices ``lo[i] <= k < hi[i]``. Hence

- a risk-set sum ``S(k) = sum_{i at risk at k} v_i`` is a cumulative sum over ``k``, from the last index of
  each stratum backwards, of ``bincount(hi, v) - bincount(lo, v)`` (exits minus later entries): O(n) per
  column, no sort per iteration, strata and delayed entry for free;
- a per-row sum over the event times at which the row is at risk, ``sum_{lo<=k<hi} c_k``, is a difference of
  the cumulative sum of ``c`` gathered at ``hi`` and ``lo`` (the "backward" direction used for information
  matrices, score residuals and the Breslow hazard).

The same index gives the concordance index (:func:`concordance_counts`) as survival's ``concordance``:
pairs formed within the risk sets, counted by a vectorised 2-d dominance count instead of a per-row tree.

Written here (not taken from lifelines) because lifelines has no Breslow ties, no start-stop model with
strata, clusters and weights together, and sorts inside every iteration.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RiskSets:
    """Index bookkeeping of the risk sets; built once per fit by :func:`risk_sets`."""

    n: int
    K: int  # number of distinct (stratum, event time) pairs
    lo: np.ndarray  # first event index at which row i is at risk
    hi: np.ndarray  # one past the last
    event: np.ndarray  # bool per row
    event_k: np.ndarray  # event index of each event row (len = number of event rows)
    event_rows: np.ndarray  # row numbers of the event rows
    times: np.ndarray  # event time of each k
    strata: np.ndarray  # stratum code of each k
    n_deaths: np.ndarray  # number of event rows at each k (unweighted)

    def risk_sum(self, v: np.ndarray) -> np.ndarray:
        """Risk-set sums at each event index: ``v`` shape (n,) -> (K,), or (n, m) -> (K, m).

        Accumulated from the last event time backwards within each stratum, as coxph does: the rows leaving
        after index k minus those entering after it. A forward sum (all rows minus those that left) would
        subtract the large early weights of a strong effect from each other and leave rounding, or a
        negative sum, for the small late risk sets."""
        if v.ndim == 1:
            hi, lo, blocks = self._layout
            size = self.K + len(blocks) + 1
            net = np.bincount(hi, v, minlength=size)
            if lo is not None:
                net -= np.bincount(lo, v, minlength=size)
            out = np.empty(self.K)
            for s, (b, e) in enumerate(blocks):  # block s holds k = b..e-1 at positions b+s..e+s
                rev = np.cumsum(net[b + s + 1:e + s + 1][::-1])[::-1]
                out[b:e] = rev
            return out
        out = np.empty((self.K, v.shape[1]))
        for j in range(v.shape[1]):
            out[:, j] = self.risk_sum(np.ascontiguousarray(v[:, j]))
        return out

    @functools.cached_property
    def _layout(self):
        """Exit (and, with delayed entry, entry) positions of the rows at risk somewhere, each stratum's block
        of event indices followed by one slot of its own (rows leaving after its last time), and the blocks
        (start, end) of k.  Entries at a block's first index are left out: no risk set sums over them."""
        starts = np.flatnonzero(np.r_[True, self.strata[1:] != self.strata[:-1]])
        ends = np.r_[starts[1:], self.K]
        block = np.searchsorted(starts, self.lo, side="right") - 1
        unread = self.K + len(starts)  # a position past every block
        never = self.lo >= self.hi  # not at risk at any event time: in no sum
        hi = np.where(never, unread, self.hi + block)
        late = ~never & (self.lo > starts[block])
        lo = np.where(late, self.lo + block, unread) if late.any() else None
        return hi, lo, list(zip(starts.tolist(), ends.tolist()))

    def death_sum(self, v: np.ndarray) -> np.ndarray:
        """Sums over the event rows at each event index: ``v`` over all rows (n,) or (n, m)."""
        ve = v[self.event_rows]
        if v.ndim == 1:
            return np.bincount(self.event_k, ve, minlength=self.K)
        out = np.empty((self.K, v.shape[1]))
        for j in range(v.shape[1]):
            out[:, j] = np.bincount(self.event_k, ve[:, j], minlength=self.K)
        return out

    def at_risk_sum(self, c: np.ndarray) -> np.ndarray:
        """Per row, the sum of ``c_k`` over the event indices at which the row is at risk: (K,) or (K, m)."""
        cum = np.concatenate([np.zeros((1,) + c.shape[1:]), np.cumsum(c, axis=0)])
        out = cum[self.hi]
        out -= cum[self.lo]
        return out


def risk_sets(stop: np.ndarray, event: np.ndarray, start: np.ndarray | None = None,
              strata: np.ndarray | None = None) -> RiskSets:
    """Build the risk-set index for rows (start, stop], event flag and integer stratum codes."""
    n = len(stop)
    event = np.asarray(event, dtype=bool)
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    if not event.any():
        raise ValueError("no events")
    es, et = s[event], np.asarray(stop, dtype=float)[event]
    order = np.lexsort((et, es))
    es, et = es[order], et[order]
    first = np.r_[True, (es[1:] != es[:-1]) | (et[1:] != et[:-1])]
    ks, kt = es[first], et[first]
    K = len(kt)
    # positions by lexicographic (stratum, time) search: combine as a structured searchsorted
    hi = _lex_searchsorted(ks, kt, s, stop, side="right")
    if start is None:
        lo = np.searchsorted(ks, s, side="left")
    else:
        lo = _lex_searchsorted(ks, kt, s, start, side="right")
    rows = np.flatnonzero(event)
    event_k = hi[rows] - 1
    n_deaths = np.bincount(event_k, minlength=K)
    return RiskSets(n, K, lo.astype(np.intp, copy=False), hi.astype(np.intp, copy=False), event,
                    event_k.astype(np.intp, copy=False), rows,
                    kt, ks, n_deaths)


def _lex_searchsorted(ks: np.ndarray, kt: np.ndarray, s: np.ndarray, t: np.ndarray, side: str) -> np.ndarray:
    """searchsorted of (s, t) pairs into the lexicographically sorted (ks, kt) pairs, vectorised.

    Times are replaced by their position among the distinct event times so that a pair becomes one
    integer key ``stratum * (M + 1) + position``.
    """
    all_t = np.unique(kt)
    M = len(all_t)
    keys = ks * (M + 1) + np.searchsorted(all_t, kt, side="left")
    query = s * (M + 1) + np.searchsorted(all_t, t, side=side)
    return np.searchsorted(keys, query, side="left")


def prefix_weight_below(y: np.ndarray, w: np.ndarray, m: np.ndarray, qy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For queries (m, qy): sums of ``w[j]`` over positions ``j < m`` with ``y[j] < qy`` and with ``y[j] <= qy``.

    ``y`` are integer ranks. Vectorised 2-d dominance count: the prefix ``[0, m)`` splits into aligned blocks
    of sizes 2^L (one per set bit of ``m``); at each level the block contents are sorted by y (a stable sort of
    the previous level's order, i.e. merges of sorted runs) and searched with a composite key (block, y).
    O(n log^2 n) at worst, vectorised; used for the concordance index.
    """
    N = len(y)
    R = int(y.max()) + 2 if N else 1
    below = np.zeros(len(m))
    upto = np.zeros(len(m))
    pos = np.arange(N)
    perm = np.arange(N)
    L = 0
    while (1 << L) <= N:
        keys = (pos[perm] >> L) * R + y[perm]
        order = np.argsort(keys, kind="stable")
        perm = perm[order]
        keys = keys[order]
        cw = np.concatenate([[0.0], np.cumsum(w[perm])])
        has = ((m >> L) & 1) == 1
        if has.any():
            block = (m[has] >> L) - 1
            lo = block << L  # a full block occupies positions [block * 2^L, (block + 1) * 2^L)
            q = block * R + qy[has]
            below[has] += cw[np.searchsorted(keys, q, side="left")] - cw[lo]
            upto[has] += cw[np.searchsorted(keys, q, side="right")] - cw[lo]
        L += 1
    return below, upto


def tie_exact_linear_predictor(X: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """X @ coef such that identical covariate rows always get bit-identical scores.

    BLAS matrix-vector products may take different SIMD paths for rows at different memory alignments, so
    two equal rows can differ in the last bit, which turns a tie in risk score (counted 1/2 in the
    concordance) into a concordant or discordant pair at random.  Elementwise multiply-adds, column by
    column, are computed the same way for every row.
    """
    X = np.asarray(X, dtype=float)
    eta = np.zeros(X.shape[0])
    for j, b in enumerate(np.asarray(coef, dtype=float)):
        eta += X[:, j] * b
    return eta


def concordance_counts(rs: RiskSets, score: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Weighted (concordant, discordant, tied-on-score) pairs over the risk sets, as survival's concordance.

    For each event row i at event index k, every other row j at risk at k (including rows censored at the
    same time, excluding rows with an event at the same time) forms a pair weighted ``w_i w_j``: concordant
    when the event row has the higher risk score.
    """
    yr = np.unique(score, return_inverse=True)[1].astype(np.int64)
    ev = rs.event_rows
    k = rs.event_k
    qy = yr[ev]

    def below(x):
        order = np.argsort(x, kind="stable")
        m = np.searchsorted(x[order], k, side="right")
        return prefix_weight_below(yr[order], w[order], m, qy)

    groups = np.unique(rs.lo)
    if len(groups) <= 64:  # no delayed entry: lo is the start of the row's stratum block, a few values only
        entered_less, entered_le = np.zeros(len(k)), np.zeros(len(k))
        for g in groups:
            rows = rs.lo == g
            order = np.argsort(yr[rows], kind="stable")
            ys = yr[rows][order]
            cw = np.concatenate([[0.0], np.cumsum(w[rows][order])])
            q = k >= g
            entered_less[q] += cw[np.searchsorted(ys, qy[q], side="left")]
            entered_le[q] += cw[np.searchsorted(ys, qy[q], side="right")]
    else:
        entered_less, entered_le = below(rs.lo)
    left_less, left_le = below(rs.hi)
    less = entered_less - left_less
    le = entered_le - left_le
    n_at = rs.risk_sum(w)[k]
    # events tied on time with i (including i itself) are not comparable
    R = int(yr.max()) + 2
    gkeys = k.astype(np.int64) * R + qy
    order = np.argsort(gkeys, kind="stable")
    sk = gkeys[order]
    cw = np.concatenate([[0.0], np.cumsum(w[ev][order])])
    g_lo = cw[np.searchsorted(sk, k * R, side="left")]
    gl = cw[np.searchsorted(sk, gkeys, side="left")] - g_lo
    gle = cw[np.searchsorted(sk, gkeys, side="right")] - g_lo
    g = cw[np.searchsorted(sk, (k + 1) * R, side="left")] - g_lo
    wi = w[ev]
    conc = float(wi @ (less - gl))
    tied = float(wi @ ((le - less) - (gle - gl)))
    disc = float(wi @ ((n_at - le) - (g - gle)))
    return conc, disc, tied
