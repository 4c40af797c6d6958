"""Fine-Gray regression where the rows live: the in-memory core run on keys instead of rows.

Every quantity of the Fine-Gray fit (Fine & Gray 1999; :mod:`bmstats.estimate.finegray_core`) is linear in
sums over subjects that share a *key* (censoring group g, time T, class: censored / event of interest /
competing): a subject's weight in a later risk set, G_g(u-)/G_g(T-), depends on nothing else.  So the
engine groups rows by key (one GROUP BY per Newton step, the per-key sums of exp(x'b), exp(x'b) x and
exp(x'b) x x'), and :class:`~bmstats.estimate.finegray_core.FGProblem` runs unchanged with one "row" per
key: its backward sums (still under observation) and forward sums (competing events, Kawaguchi et al. 2021's
scan) give the same risk sets as from the rows.  The sandwich variance (crr's ``var``) needs each row's
score residual, e_i (Wx_k - x_i W_k) + [event] (x_i - xbar) + psi_k, whose per-key parts the engine joins
to the rows before summing the outer products.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmstats._checks import Dropped, InputError
from bmstats.engine.cox import _pairs, _unpack, point_weights_sql
from bmstats.engine.counts import valid_rows
from bmstats.engine.design import EngineDesign, design_ranges, engine_design, formula_variables_sql
from bmstats.engine.source import Source, fetch_numpy, num
from bmstats.estimate.censoring import CensoringKM
from bmstats.estimate.finegray_core import CompetingGroup, FGProblem, rev_cumsum
from bmstats.estimate.finegray_variance import _censoring_parts, _censoring_term, _padded_rev_cumsum


@dataclass
class EngineFineGray:
    """A Fine-Gray fit's keys and their constant parts; ``prob`` is the in-memory core over the keys."""

    src: Source
    where: str
    design: EngineDesign
    time: str
    status: str
    cause: int
    cengroup: str | None
    means: np.ndarray
    bounds: np.ndarray
    keys: pd.DataFrame  # g, t, cls, n, sorted by t (the order of prob's rows)
    prob: FGProblem
    n: int
    n_events: int
    dropped: Dropped
    _cache: list = field(default_factory=list, repr=False)  # [(beta 0, sums), (last beta, sums)]

    @property
    def p(self) -> int:
        return len(self.design.columns)

    def _x(self, j: int) -> str:
        return f"(({self.design.expressions[j]}) - {num(self.means[j])})"

    def _class_sql(self) -> str:
        s = self.src.quote(self.status)
        return f"(CASE WHEN {s} = {int(self.cause)} THEN 1 WHEN {s} = 0 THEN 0 ELSE 2 END)"

    def _group_sql(self) -> str:
        return self.src.quote(self.cengroup) if self.cengroup else "0"

    def _key_group_by(self) -> str:
        keys = [self.src.quote(self.cengroup)] if self.cengroup else []
        return ", ".join(keys + [f"CAST({self.src.quote(self.time)} AS DOUBLE)", self._class_sql()])

    def shift(self, beta: np.ndarray) -> float:
        return float(np.sum(np.maximum(beta * self.bounds[:, 0], beta * self.bounds[:, 1])))

    def rows_sql(self, beta: np.ndarray | None = None, betas: list | None = None) -> str:
        """One row per source row: key (g, t, cls), centred design columns x0.. and e = exp(x'b - shift)
        (or e0, e1, .. for each of ``betas``), each computed once."""
        q = self.src.quote
        cols = [f"{self._group_sql()} AS g", f"CAST({q(self.time)} AS DOUBLE) AS t", f"{self._class_sql()} AS cls"]
        cols += [f"{self._x(j)} AS x{j}" for j in range(self.p)]
        inner = f"SELECT {', '.join(cols)} FROM {self.src.view} WHERE {self.where}"
        if beta is None and betas is None:
            return inner
        named = [(beta, "e")] if betas is None else [(b, f"e{k}") for k, b in enumerate(betas)]
        exps = ", ".join(
            f"EXP({' + '.join(f'{num(b)} * x{j}' for j, b in enumerate(coef) if b != 0) or '0.0'} "
            f"- {num(self.shift(coef))}) AS {name}" for coef, name in named)
        return f"SELECT *, {exps} FROM ({inner}) rows_x"

    def _key_positions(self, frame: pd.DataFrame) -> np.ndarray:
        """Where each row of a per-key result of the engine sits in ``keys``."""
        found = pd.MultiIndex.from_arrays([_norm(frame["g"]), fetch_numpy(frame, "t"),
                                           fetch_numpy(frame, "cls", np.int64)])
        return pd.MultiIndex.from_frame(self.keys[["g", "t", "cls"]]).get_indexer(found)

    def key_sums(self, beta: np.ndarray):
        """Per-key sums of e and e x (e = exp(x'b - shift)), in the order of ``keys``.  The last ones asked
        for are kept (the variance and the baseline at the estimate reuse the fit's last pass), and those at
        beta = 0 come from the setup's grouped pass."""
        beta = np.asarray(beta, dtype=float)
        for known, value in self._cache:
            if np.array_equal(known, beta):
                return value
        value = self._key_sums(beta)
        self._cache[1:] = [(beta.copy(), value)]
        return value

    def _key_sums(self, beta: np.ndarray):
        p = self.p
        shift = self.shift(beta)
        cols = ["SUM(e) AS e0"] + [f"SUM(e * x{j}) AS e1_{j}" for j in range(p)]
        frame = self.src.query(f"SELECT g, t, cls, {', '.join(cols)} FROM ({self.rows_sql(beta)}) r "
                               "GROUP BY g, t, cls")
        pos = self._key_positions(frame)
        names = ["e0"] + [f"e1_{j}" for j in range(p)]
        out = np.zeros((len(self.keys), len(names)))
        out[pos] = np.column_stack([fetch_numpy(frame, c) for c in names])
        return shift, out

    def _join_keys(self, beta: np.ndarray, columns: dict, select: str, inner: str | None = None) -> pd.Series:
        """Run ``select`` over the rows joined to a per-key table holding ``columns`` (alias k); with
        ``inner``, over the projection ``inner`` of that join (alias sub)."""
        table = {"g": self.keys["g"].to_numpy(), "t": self.keys["t"].to_numpy(),
                 "cls": self.keys["cls"].to_numpy(), **columns}
        joined = (f"({self.rows_sql(beta)}) r JOIN bmstats_fg_keys k "
                  "ON r.g = k.g AND r.t = k.t AND r.cls = k.cls")
        if inner is not None:
            joined = f"(SELECT {inner} FROM {joined}) sub"
        return self.src.query(f"SELECT {select} FROM {joined}", {"bmstats_fg_keys": pd.DataFrame(table)}).iloc[0]

    def loglik_many(self, betas: list) -> np.ndarray:
        """The log pseudo-likelihood at several points in one grouped pass over the keys."""
        shifts = [self.shift(b) for b in betas]
        sums = ", ".join(f"SUM(r{k}) AS a{k}" for k in range(len(betas)))
        rows = point_weights_sql(betas, shifts, self.rows_sql())
        frame = self.src.query(f"SELECT g, t, cls, {sums} FROM ({rows}) r GROUP BY g, t, cls")
        pos = self._key_positions(frame)
        out = np.empty(len(betas))
        with np.errstate(divide="ignore", invalid="ignore"):
            for k, beta in enumerate(betas):
                e = np.zeros(len(self.keys))
                e[pos] = fetch_numpy(frame, f"a{k}")
                s0 = self.prob.risk_sum(e)
                out[k] = float(np.asarray(beta) @ self.prob.x_events - self.prob.d @ (np.log(s0) + shifts[k]))
        return out

    def loglik(self, beta: np.ndarray) -> float:
        """The log pseudo-likelihood alone: the grouped pass only."""
        shift, sums = self.key_sums(beta)
        s0 = self.prob.risk_sum(np.ascontiguousarray(sums[:, 0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(beta @ self.prob.x_events - self.prob.d @ (np.log(s0) + shift))

    def evaluate(self, beta: np.ndarray):
        """Log pseudo-likelihood, score and information: a grouped pass for S0 and S1 at the event times,
        and an ungrouped pass for sum_j a_j e_j x_j x_j' (a_j = sum_k (d_k / S0_k) w_j(u_k), the same for
        every subject of a key; :func:`bmstats.estimate.finegray_core.fg_risk_sums`)."""
        loglik, score = self.gradient(beta)
        return loglik, score, self.information(beta)

    def _risk(self, beta: np.ndarray):
        p, prob = self.p, self.prob
        shift, sums = self.key_sums(beta)
        s0 = prob.risk_sum(np.ascontiguousarray(sums[:, 0]))
        xbar = np.column_stack([prob.risk_sum(np.ascontiguousarray(sums[:, 1 + j])) for j in range(p)]) \
            / s0[:, None]
        return shift, s0, xbar

    def gradient(self, beta: np.ndarray):
        """Log pseudo-likelihood and score at ``beta``: the grouped pass only."""
        prob = self.prob
        shift, s0, xbar = self._risk(beta)
        loglik = float(beta @ prob.x_events - prob.d @ (np.log(s0) + shift))
        return loglik, prob.x_events - prob.d @ xbar

    def information(self, beta: np.ndarray) -> np.ndarray:
        """The information at ``beta``: the grouped pass's sums (kept from :meth:`gradient` at the same point)
        and the ungrouped pass of the row part (see :meth:`evaluate`)."""
        p, prob = self.p, self.prob
        _, s0, xbar = self._risk(beta)
        a = prob.weight_sum(prob.d / s0)
        row = self._join_keys(beta, {"a": a}, ", ".join(
            f"SUM(r.e * k.a * r.x{i} * r.x{j}) AS v{c}" for c, (i, j) in enumerate(_pairs(p))))
        info1 = _unpack(np.array([[float(row[f"v{c}"]) for c in range(len(_pairs(p)))]]), p)[0]
        return info1 - (xbar * prob.d[:, None]).T @ xbar

    def sandwich(self, beta: np.ndarray, inv_info: np.ndarray) -> np.ndarray:
        """crr's robust variance I^-1 [sum_i (eta_i + psi_i)(eta_i + psi_i)'] I^-1, summed in the engine."""
        p, prob = self.p, self.prob
        shift, sums = self.key_sums(beta)
        e_key = sums[:, 0]
        ex_key = sums[:, 1:1 + p]
        s0 = prob.risk_sum(np.ascontiguousarray(e_key))
        xbar = np.column_stack([prob.risk_sum(np.ascontiguousarray(ex_key[:, j])) for j in range(p)]) / s0[:, None]
        c = prob.d / s0
        W = prob.weight_sum(c)
        Wx = prob.weight_sum(c[:, None] * xbar)
        psi = np.zeros((len(self.keys), p))
        # the censoring parts read e and X per "row": with one row per key, X = (sum e x)/(sum e) gives
        # X * e = sum e x, so the forward sums over competing keys equal those over competing subjects
        with np.errstate(invalid="ignore", divide="ignore"):
            prob.X = np.where(e_key[:, None] > 0, ex_key / e_key[:, None], 0.0)
        rs = _KeySums(e_key, s0)
        for g, cg in enumerate(prob.comp):
            parts = _censoring_parts(prob, rs, g, with_x=True)
            if parts is None:
                continue
            cgrid, v0, v1, first_event = parts
            c_g = cg.d / s0
            P = _padded_rev_cumsum(c_g * cg.g_event)[first_event]
            Q = _padded_rev_cumsum(xbar * (c_g * cg.g_event)[:, None])[first_event]
            _censoring_term(prob, g, v1 * P[:, None] - v0[:, None] * Q, cgrid, psi)
        ev_xbar = np.zeros((len(self.keys), p))
        ev = np.flatnonzero(prob.event)
        ev_xbar[ev] = xbar[prob.pos[ev] - 1]
        columns = {"w0": W}
        for j in range(p):
            columns[f"wx{j}"] = Wx[:, j]
            columns[f"xb{j}"] = ev_xbar[:, j]
            columns[f"psi{j}"] = psi[:, j]
        resid = [f"(r.e * (k.wx{j} - r.x{j} * k.w0) + (CASE WHEN r.cls = 1 THEN r.x{j} - k.xb{j} ELSE 0.0 END)"
                 f" + k.psi{j})" for j in range(p)]
        products = ", ".join(f"SUM(u{i} * u{j}) AS v{k}" for k, (i, j) in enumerate(_pairs(p)))
        row = self._join_keys(beta, columns, f"COUNT(*) AS n, {products}",
                              inner=", ".join(f"{r} AS u{j}" for j, r in enumerate(resid)))
        if int(row["n"]) != self.n:  # pragma: no cover - every row has its key
            raise InputError("the engine's join of rows to their keys lost rows")
        UU = _unpack(np.array([[float(row[f"v{k}"]) for k in range(len(_pairs(p)))]]), p)[0]
        return inv_info @ UU @ inv_info


@dataclass
class _KeySums:
    """The two fields of FGRiskSums that the censoring parts read."""

    e: np.ndarray
    s0: np.ndarray


def _norm(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=object)


def build_fine_gray(src: Source, time: str, status: str, formula: str, *, cause: int = 1,
                    cengroup: str | None = None, causes=None, dropna: bool = False) -> EngineFineGray:
    """Check the rows, build the design as SQL, and the in-memory Fine-Gray core over the keys."""
    variables = formula_variables_sql(src, formula)
    where, n, dropped = valid_rows(src, time, status, groups=[cengroup] if cengroup else [], dropna=dropna,
                                   causes=causes, covariates=variables)
    q = src.quote
    design = engine_design(src, formula, where)
    p = len(design.columns)
    x = [f"({e})" for e in design.expressions]
    lo, hi, _ = design_ranges(src, design, where, all_rows=dropped.n == 0)
    model = EngineFineGray(src, where, design, time, status, int(cause), cengroup, np.zeros(p), np.zeros((p, 2)),
                           pd.DataFrame(), None, n, 0, dropped)  # type: ignore[arg-type]
    # one grouped pass by key: the keys, the means, and the per-key sums at beta = 0 (where e = 1)
    keys = src.query(
        f"SELECT {model._group_sql()} AS g, CAST({q(time)} AS DOUBLE) AS t, {model._class_sql()} AS cls, "
        "COUNT(*) AS n" + "".join(f", SUM({x[j]}) AS sx{j}" for j in range(p))
        + f" FROM {src.view} WHERE {where} GROUP BY {model._key_group_by()}")
    count = fetch_numpy(keys, "n")
    sx = np.column_stack([fetch_numpy(keys, f"sx{j}") for j in range(p)]) if p else np.zeros((len(keys), 0))
    means = sx.sum(axis=0) / count.sum()
    model.means = means
    model.bounds = np.column_stack([lo - means, hi - means]).reshape(p, 2)
    centred = sx - count[:, None] * means
    for j in range(p):
        keys[f"xe{j}"] = np.where(fetch_numpy(keys, "cls", np.int64) == 1, centred[:, j], 0.0)
        keys[f"xc{j}"] = centred[:, j]
    keys["g"] = _norm(keys["g"])
    keys = keys.sort_values(["t", "cls"], kind="stable").reset_index(drop=True)
    model.keys = keys[["g", "t", "cls", "n"]].assign(t=fetch_numpy(keys, "t"), cls=fetch_numpy(keys, "cls", np.int64))
    n_events = int(keys.loc[keys["cls"] == 1, "n"].sum())
    if n_events == 0:
        raise InputError(f"column {status!r}: no events of cause {cause}")
    model.n_events = n_events
    x_events = np.array([float(keys[f"xe{j}"].sum()) for j in range(p)])
    zero = np.column_stack([fetch_numpy(keys, "n")] + [fetch_numpy(keys, f"xc{j}") for j in range(p)])
    model._cache = [(np.zeros(p), (0.0, zero))]
    model.prob = _key_problem(model.keys, x_events, p)
    return model


def _key_problem(keys: pd.DataFrame, x_events: np.ndarray, p: int) -> FGProblem:
    """FGProblem with one row per key (sorted by time), its censoring KM weighted by the keys' counts."""
    t = keys["t"].to_numpy(dtype=float)
    cls = keys["cls"].to_numpy()
    count = keys["n"].to_numpy(dtype=float)
    gcode, glabels = pd.factorize(keys["g"], sort=True)
    n_groups = len(glabels)
    times, grid = np.unique(t, return_inverse=True)
    m = len(times)
    event, censored = cls == 1, cls == 0
    competing = cls == 2
    left = np.empty((n_groups, m))
    at_risk = np.empty((n_groups, m))
    cens = np.empty((n_groups, m))
    for g in range(n_groups):
        in_g = gcode == g
        total = np.bincount(grid[in_g], weights=count[in_g], minlength=m)
        dnc = np.bincount(grid[in_g & censored], weights=count[in_g & censored], minlength=m)
        y = np.cumsum(total[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(y > 0, dnc / y, 0.0)
        surv = np.cumprod(1.0 - hazard)
        left[g, 0] = 1.0
        left[g, 1:] = surv[:-1]
        left[g, y == 0] = 0.0
        at_risk[g], cens[g] = y, dnc
    km = CensoringKM(left, at_risk, cens)
    d_grid = np.bincount(grid[event], weights=count[event], minlength=m)
    ev_grid = np.flatnonzero(d_grid)
    pos = np.searchsorted(ev_grid, grid, "right")
    starts = np.flatnonzero(np.r_[True, grid[1:] != grid[:-1]])
    ev_start = starts[ev_grid]
    comp = []
    for g in range(n_groups):
        rows = np.flatnonzero(competing & (gcode == g))
        d_g = np.bincount(grid[event & (gcode == g)], weights=count[event & (gcode == g)], minlength=m)[ev_grid]
        comp.append(CompetingGroup(rows, grid[rows], 1.0 / left[g, grid[rows]], pos[rows], left[g, ev_grid], d_g))
    zeros = np.zeros((len(t), p))
    return FGProblem(X=zeros, XT=np.ascontiguousarray(zeros.T), mean=np.zeros(p), order=np.arange(len(t)),
                     times=times, grid=grid, event=event, competing=competing, censored=censored, group=gcode,
                     km=km, ev_grid=ev_grid, ev_start=ev_start, pos=pos, seg=pos[ev_start[0]:] - 1,
                     d=d_grid[ev_grid].astype(float), x_events=x_events, comp=comp)


__all__ = ["EngineFineGray", "build_fine_gray", "rev_cumsum"]
