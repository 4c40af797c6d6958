"""Numerical core of the Fine-Gray model: weighted risk sets by cumulative sums, Newton-Raphson pieces.

Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a competing risk.
JASA 94:496-509.  The estimating equation is the score of the weighted partial likelihood

    l(b) = sum_k [ sum_{i in D_k} x_i'b - d_k log S0(u_k) ],
    S0(t) = sum_j w_j(t) exp(x_j'b),

over the distinct times u_k of the cause of interest (Breslow ties: d_k events share one denominator).
The subdistribution risk set at t holds everyone still under observation (T_j >= t, weight 1) and everyone
who had a competing event before t, with weight w_j(t) = G(t-) / G(T_j-) (G: censoring Kaplan-Meier,
left limits, per censoring group).  Hence

    S0(u_k) = sum_{T_j >= u_k} e_j  +  sum_g G_g(u_k-) sum_{j in g competing, T_j < u_k} e_j / G_g(T_j-)

is a backward cumulative sum plus G(u_k-) times a forward cumulative sum, and likewise S1.  The information
sum_k d_k [S2(u_k)/S0(u_k) - xbar_k xbar_k'] is computed without forming S2: swapping the sums gives
sum_j a_j e_j x_j x_j' with a_j = sum_k (d_k/S0_k) w_j(u_k), again cumulative sums, then one weighted
cross-product X' diag(a e) X.  Each iteration is O(n p^2) after a single sort and never forms n x p x p arrays.

Written by hand (no Python library fits Fine-Gray; R's cmprsk::crr is O(n^2) per iteration) from the paper;
not a port of any R code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmstats.estimate.censoring import CensoringKM, censoring_km
from bmstats.estimate.design import weighted_gram

__all__ = ["FGProblem", "FGRiskSums", "fg_risk_sums"]


def _sorted_centred(X: np.ndarray, order: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(p, n): column j is X[order, j] - mean[j], made column by column (the one n x p copy)."""
    n, p = X.shape
    out = np.empty((p, n))
    for j in range(p):
        np.take(X[:, j], order, out=out[j])
        out[j] -= mean[j]
    return out


def rev_cumsum(a: np.ndarray) -> np.ndarray:
    """Inclusive backward cumulative sum along axis 0: out[k] = sum_{l >= k} a[l]."""
    return np.cumsum(a[::-1], axis=0)[::-1]


@dataclass
class CompetingGroup:
    """Competing-event rows of one censoring group (sorted positions) and where they fall among event times."""

    rows: np.ndarray  # sorted positions of competing subjects in the group
    grid: np.ndarray  # their grid positions (non-decreasing)
    weight: np.ndarray  # 1 / G_g(T_j-)
    pos: np.ndarray  # number of event times <= own time: the row counts for event times k >= pos
    g_event: np.ndarray  # (K,) G_g(u_k-) at the event times
    d: np.ndarray  # (K,) events of interest of this group at each event time (its share of d_k)


@dataclass
class FGProblem:
    """The data of one fit, sorted by time once.  ``X`` is centred (``mean`` added back for prediction).

    Two time axes: the grid of all distinct times (m, for the censoring Kaplan-Meier) and the K distinct
    times of the cause of interest, where every risk-set quantity lives.
    """

    X: np.ndarray  # (n, p) centred covariates, sorted by time (a view of XT)
    XT: np.ndarray  # (p, n) the same, transposed and contiguous (fast per-column sums)
    mean: np.ndarray  # (p,)
    order: np.ndarray  # sorted position -> original row position
    times: np.ndarray  # (m,) distinct times
    grid: np.ndarray  # (n,) grid position of each sorted subject
    event: np.ndarray  # (n,) bool: cause of interest
    competing: np.ndarray  # (n,) bool: another cause
    censored: np.ndarray  # (n,) bool
    group: np.ndarray  # (n,) censoring group code
    km: CensoringKM
    ev_grid: np.ndarray  # (K,) grid positions of the event times
    ev_start: np.ndarray  # (K,) first sorted row at each event time
    pos: np.ndarray  # (n,) number of event times <= own time
    seg: np.ndarray  # pos - 1 for the rows from the first event time on: their event-time segment
    d: np.ndarray  # (K,) events of interest at each event time
    x_events: np.ndarray  # (p,) sum of centred x over events of interest
    comp: list  # CompetingGroup per censoring group
    source: np.ndarray | None = None  # (n, p) the design in input order (a view), to remake X after release()

    @classmethod
    def build(
        cls, time: np.ndarray, status: np.ndarray, X: np.ndarray, cause: int, group: np.ndarray | None = None
    ) -> FGProblem:
        """``X``: the design (n, p), best in Fortran order (``Design.XT.T``, a view of the design's block); the
        sorted, centred copy (p, n) is the one n x p array made here."""
        n, p = X.shape
        order = np.argsort(time, kind="stable")
        t = time[order]
        st = status[order]
        mean = X.mean(axis=0)
        XTs = _sorted_centred(X, order, mean)
        Xs = XTs.T
        new = np.empty(n, dtype=bool)
        new[0] = True
        np.not_equal(t[1:], t[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        grid = np.cumsum(new) - 1
        times = t[starts]
        m = len(times)
        if group is None:
            gcode = np.broadcast_to(np.int64(0), n)  # one group: a read-only view, no n-vector
            n_groups = 1
        else:
            _, gcode = np.unique(group[order], return_inverse=True)
            n_groups = int(gcode.max()) + 1
        event = st == cause
        censored = st == 0
        competing = ~event & ~censored
        km = censoring_km(grid, censored, gcode, n_groups, m)
        d_grid = np.bincount(grid[event], minlength=m)
        ev_grid = np.flatnonzero(d_grid)
        pos = np.searchsorted(ev_grid, grid, "right")
        ev_start = starts[ev_grid]
        comp = []
        for g in range(n_groups):
            rows = np.flatnonzero(competing & (gcode == g)) if n_groups > 1 else np.flatnonzero(competing)
            cg = grid[rows]
            d_g = np.bincount(grid[event & (gcode == g)], minlength=m)[ev_grid] if n_groups > 1 else d_grid[ev_grid]
            comp.append(CompetingGroup(rows, cg, 1.0 / km.left[g, cg], pos[rows], km.left[g, ev_grid],
                                       d_g.astype(float)))
        return cls(
            X=Xs, XT=XTs, mean=mean, order=order, times=times, grid=grid, event=event,
            competing=competing, censored=censored, group=gcode, km=km, ev_grid=ev_grid, ev_start=ev_start,
            pos=pos, seg=pos[ev_start[0]:] - 1, d=d_grid[ev_grid].astype(float),
            x_events=Xs[event].sum(axis=0), comp=comp, source=X,
        )

    @property
    def n(self) -> int:
        return len(self.grid)

    @property
    def p(self) -> int:
        return len(self.mean)

    def release(self) -> None:
        """Drop the sorted, centred copy (n x p floats) once the coefficients are found; :meth:`x_rows` and
        :meth:`x_column` then make the rows and columns they are asked for from ``source``, bit for bit."""
        if self.source is not None:
            self.X = self.XT = None

    def columns(self) -> np.ndarray:
        """XT, (p, n), made again from ``source`` if it was released (and kept from then on)."""
        if self.XT is None:
            self.XT = _sorted_centred(self.source, self.order, self.mean)
            self.X = self.XT.T
        return self.XT

    def x_rows(self, rows: slice | np.ndarray) -> np.ndarray:
        """Centred covariates of the given sorted rows, (m, p)."""
        if self.X is not None:
            return self.X[rows]
        return self.source[self.order[rows]] - self.mean

    def x_column(self, j: int) -> np.ndarray:
        """Centred covariate ``j`` of every sorted row, (n,)."""
        if self.X is not None:
            return self.X[:, j]
        return self.source[:, j][self.order] - self.mean[j]

    @property
    def event_times(self) -> np.ndarray:
        return self.times[self.ev_grid]

    def risk_sum(self, v: np.ndarray) -> np.ndarray:
        """sum_j w_j(u_k) v_j at every event time u_k, for v of shape (n,) in sorted order.

        np.bincount by event-time segment, then a backward cumulative sum over the K event times (for those
        still under observation) plus, per censoring group, G(u_k-) times a forward cumulative sum over the
        competing events (weighted by 1/G(T_j-)).  bincount on contiguous n-vectors is several times faster
        than a cumulative sum or reduceat over an n x p array, hence the per-column calls.
        """
        K = len(self.d)
        f = self.ev_start[0]
        out = rev_cumsum(np.bincount(self.seg, v[f:], minlength=K))
        for cg in self.comp:
            if len(cg.rows):
                before = np.cumsum(np.bincount(cg.pos, v[cg.rows] * cg.weight, minlength=K + 1)[:K])
                out += before * cg.g_event
        return out

    def risk_sum_x(self, e: np.ndarray) -> np.ndarray:
        """(K, p): risk_sum of x_j e_j for every covariate."""
        XT = self.columns()
        return np.column_stack([self.risk_sum(XT[j] * e) for j in range(self.p)])

    def weight_sum(self, c: np.ndarray) -> np.ndarray:
        """a_j = sum_k c_k w_j(u_k) for every sorted subject j, for c of shape (K,) or (K, q)."""
        cum = np.zeros((len(c) + 1,) + c.shape[1:])
        np.cumsum(c, axis=0, out=cum[1:])
        a = cum[self.pos]
        for cg in self.comp:
            if len(cg.rows) == 0:
                continue
            later = np.zeros_like(cum)
            later[:-1] = rev_cumsum(c * (cg.g_event if c.ndim == 1 else cg.g_event[:, None]))
            add = later[self.pos[cg.rows]]
            a[cg.rows] += add * (cg.weight if c.ndim == 1 else cg.weight[:, None])
        return a


@dataclass
class FGRiskSums:
    """Risk-set quantities at one b: S0 and xbar at grid times, loglik, score, information."""

    beta: np.ndarray
    e: np.ndarray  # exp(x'b - shift), sorted order
    shift: float
    s0: np.ndarray  # (K,) at the event times, scaled by exp(-shift)
    xbar: np.ndarray  # (K, p)
    loglik: float
    score: np.ndarray
    information: np.ndarray | None
    c: np.ndarray  # (K,) d_k / S0_k (scaled): jumps of the baseline hazard at x = mean, times exp(shift)


def fg_risk_sums(prob: FGProblem, beta: np.ndarray, information: bool = True) -> FGRiskSums:
    lp = beta @ prob.columns()
    shift = float(lp.max())
    e = np.exp(lp - shift)
    s0 = prob.risk_sum(e)
    xbar = prob.risk_sum_x(e) / s0[:, None]
    loglik = float(lp[prob.event].sum() - prob.d @ (np.log(s0) + shift))
    score = prob.x_events - prob.d @ xbar
    c = prob.d / s0
    info = None
    if information:
        a = prob.weight_sum(c)
        a *= e
        info = weighted_gram(prob.XT, a) - (xbar * prob.d[:, None]).T @ xbar
    return FGRiskSums(beta, e, shift, s0, xbar, loglik, score, info, c)
