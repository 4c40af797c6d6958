"""Cox regression where the rows live: per-time sums from the engine, Newton-Raphson in numpy.

The log partial likelihood, its score and its information depend on the rows only through sums per
(stratum, time) (Cox 1972; Efron 1977):

    E_m(s, t) = sum over rows of stratum s leaving at t of w exp(eta) x^{(m)},   m = 0, 1, 2,
    D_m(s, t) = the same sum over the rows with an event at t,
    N_m(s, e) = the same sum over rows of stratum s entering at e (delayed entry, start-stop rows),

with x^{(0)} = 1, x^{(1)} = x, x^{(2)} = x x'.  The risk-set sums at an event time t are
S_m(t) = sum_{stop >= t} E_m - sum_{entry >= t} N_m (reverse cumulative sums over the small tables), and with
Efron's ties, for the l-th of d tied events (f = l/d) and mean event weight omega = sum w / d,

    loglik = sum_events w eta - sum_l omega log(S0 - f D0),
    score  = sum_events w x   - sum_l omega (S1 - f D1) / (S0 - f D0),
    info   = sum_l omega [(S2 - f D2) / (S0 - f D0) - a a'],  a = (S1 - f D1) / (S0 - f D0)

(Breslow: f = 0, omega = sum w).  One GROUP BY per Newton step sends these tables (a few MB) out of the
engine; the rows never leave it.  The robust variance (Lin & Wei 1989) needs each row's score residual,
U_i = delta_i (x_i - abar_k(i)) - w_i r_i (x_i H_i - G_i), where H_i and G_i are sums over the event times
at which row i is at risk: they are differences of cumulative tables looked up at the row's exit and entry
times, which the engine joins to the rows before summing U_i U_i' (per cluster when ``cluster`` is given).
The estimates equal :func:`bmstats.cox` on the same rows (and so R's ``coxph``) to rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bmstats._checks import Dropped, InputError
from bmstats.engine.counts import valid_rows
from bmstats.engine.design import EngineDesign, engine_design
from bmstats.engine.source import Source, fetch_numpy, num


def _pairs(p: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(p) for j in range(i, p)]


def _unpack(flat: np.ndarray, p: int) -> np.ndarray:
    """(K, p(p+1)/2) packed upper triangles -> (K, p, p) symmetric matrices."""
    out = np.empty((flat.shape[0], p, p))
    for c, (i, j) in enumerate(_pairs(p)):
        out[:, i, j] = flat[:, c]
        out[:, j, i] = flat[:, c]
    return out


@dataclass
class EngineCoxProblem:
    """Everything a Cox fit on an engine needs between Newton steps (small arrays only)."""

    src: Source
    where: str
    design: EngineDesign
    stop: str
    event: str
    entry: str | None
    weights: str | None
    strata: list
    ties: str
    means: np.ndarray
    n: int
    n_events: int
    dropped: Dropped
    # event keys k: (stratum code, time) with d_k events, weight sum wd_k and sum of w x over the events
    strata_labels: list
    key_stratum: np.ndarray
    key_time: np.ndarray
    d: np.ndarray
    wd: np.ndarray
    wxd: np.ndarray  # (p,) total over all events, centered
    bounds: np.ndarray  # (p, 2) min and max of each centered column, for an overflow-safe shift

    @property
    def p(self) -> int:
        return len(self.design.columns)

    def _x(self, j: int) -> str:
        return f"({self.design.expressions[j]} - {num(self.means[j])})"

    def _w(self) -> str:
        return f"CAST({self.src.quote(self.weights)} AS DOUBLE)" if self.weights else "1.0"

    def _strata_sql(self) -> str:
        """GROUP BY keys for the strata, ending in a comma (none without strata: a literal is an ordinal)."""
        return "".join(f"{self.src.quote(s)}, " for s in self.strata)

    def eta_sql(self, beta: np.ndarray) -> str:
        terms = [f"{num(b)} * {self._x(j)}" for j, b in enumerate(beta) if b != 0]
        return " + ".join(terms) if terms else "0.0"

    def shift(self, beta: np.ndarray) -> float:
        """An upper bound of max eta: exp(eta - shift) cannot overflow; the shift cancels in every ratio."""
        return float(np.sum(np.maximum(beta * self.bounds[:, 0], beta * self.bounds[:, 1])))

    def rows_sql(self, beta: np.ndarray | None = None, extra: str = "") -> str:
        """A subquery with one row per source row: strata s0.., exit t, entry e, event ev, weight w, the
        centred design columns x0.. and, given ``beta``, wr = w exp(x'b - shift).  Each design column and
        exp() is computed once per row here, then only referenced by the aggregates."""
        q = self.src.quote
        cols = [strata_select(self.strata, q), f"CAST({q(self.stop)} AS DOUBLE) AS t",
                f"CAST({q(self.event)} AS DOUBLE) AS ev", f"{self._w()} AS w"]
        if self.entry is not None:
            cols.append(f"CAST({q(self.entry)} AS DOUBLE) AS e")
        cols += [f"{self._x(j)} AS x{j}" for j in range(self.p)]
        inner = f"SELECT {', '.join(cols)}{extra} FROM {self.src.view} WHERE {self.where}"
        if beta is None:
            return inner
        eta = " + ".join(f"{num(b)} * x{j}" for j, b in enumerate(beta) if b != 0) or "0.0"
        return f"SELECT *, w * EXP({eta} - {num(self.shift(beta))}) AS wr FROM ({inner}) rows_x"

    def sums(self, beta: np.ndarray):
        """Per-time tables at ``beta``: exits (sums of w r and w r x, over all rows and over the events) and
        entries (the same over all rows), keyed by stratum and time."""
        p = self.p
        shift = self.shift(beta)
        cols = ["SUM(wr) AS e0"] + [f"SUM(wr * x{j}) AS e1_{j}" for j in range(p)]
        ecols = list(cols)
        cols += ["SUM(ev * wr) AS d0"] + [f"SUM(ev * wr * x{j}) AS d1_{j}" for j in range(p)]
        keys = "".join(f"s{i}, " for i in range(len(self.strata)))
        s_out = ", ".join(f"s{i}" for i in range(len(self.strata))) or "0 AS s0"
        rows = self.rows_sql(beta)
        exits = self.src.query(f"SELECT {s_out}, t, {', '.join(cols)} FROM ({rows}) r GROUP BY {keys}t")
        entries = None
        if self.entry is not None:
            entries = self.src.query(
                f"SELECT {s_out}, e AS t, {', '.join(ecols)} FROM ({rows}) r GROUP BY {keys}e")
        return shift, exits, entries

    def risk_tables(self, beta: np.ndarray):
        """(shift, S, D, exits, entries): S = (S0, S1) over the risk set and D = (D0, D1) over the events at
        each event key, from one grouped pass (two with delayed entry)."""
        p = self.p
        shift, exits, entries = self.sums(beta)
        names0 = ["e0"] + [f"e1_{j}" for j in range(p)]
        names_d = ["d0"] + [f"d1_{j}" for j in range(p)]
        s_code = self._codes(exits)
        t = fetch_numpy(exits, "t")
        E = np.column_stack([fetch_numpy(exits, c) for c in names0])
        S = self._reverse_sums(s_code, t, E, side="left")  # stop >= t
        if entries is not None:
            es = self._codes(entries)
            et = fetch_numpy(entries, "t")
            N = np.column_stack([fetch_numpy(entries, c) for c in names0])
            S = S - self._reverse_sums(es, et, N, side="left")  # entry >= t leaves the risk set
        Dk = self._at_keys(s_code, t, np.column_stack([fetch_numpy(exits, c) for c in names_d]))
        return shift, S, Dk, exits, entries

    def _codes(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.strata:
            return np.zeros(len(frame), dtype=np.int64)
        keys = pd.MultiIndex.from_frame(frame[[f"s{i}" for i in range(len(self.strata))]])
        lookup = pd.MultiIndex.from_tuples(self.strata_labels) if len(self.strata) > 1 else \
            pd.Index([lab[0] for lab in self.strata_labels])
        codes = lookup.get_indexer(keys if len(self.strata) > 1 else keys.get_level_values(0))
        return codes.astype(np.int64)

    def _reverse_sums(self, code: np.ndarray, t: np.ndarray, V: np.ndarray, side: str) -> np.ndarray:
        """For each event key (s, t_k): sum of V over table rows of stratum s with time >= t_k."""
        order = np.lexsort((t, code))
        code, t, V = code[order], t[order], V[order]
        out = np.zeros((len(self.key_time), V.shape[1]))
        for s in np.unique(self.key_stratum):
            keys = np.flatnonzero(self.key_stratum == s)
            rows = np.flatnonzero(code == s)
            if len(rows) == 0:
                continue
            rev = np.cumsum(V[rows][::-1], axis=0)[::-1]
            rev = np.vstack([rev, np.zeros((1, V.shape[1]))])
            pos = np.searchsorted(t[rows], self.key_time[keys], side=side)
            out[keys] = rev[pos]
        return out

    def _at_keys(self, code: np.ndarray, t: np.ndarray, V: np.ndarray) -> np.ndarray:
        """The table's row at each event key (its exit time equals the key's time)."""
        index = pd.MultiIndex.from_arrays([code, t])
        pos = index.get_indexer(pd.MultiIndex.from_arrays([self.key_stratum, self.key_time]))
        return V[pos]

    def steps(self):
        K = len(self.d)
        if self.ties == "efron":
            rep = np.repeat(np.arange(K), self.d)
            first = np.concatenate([[0], np.cumsum(self.d)[:-1]])
            frac = (np.arange(len(rep)) - first[rep]) / self.d[rep]
            omega = (self.wd / np.maximum(self.d, 1))[rep]
        else:
            rep, frac, omega = np.arange(K), np.zeros(K), self.wd
        return rep, frac, omega

    def loglik_many(self, betas: list) -> np.ndarray:
        """The log partial likelihood at several points in one grouped pass (the profile of the
        monotone-likelihood check needs 2p + 3 of them)."""
        keys = "".join(f"s{i}, " for i in range(len(self.strata)))
        s_out = ", ".join(f"s{i}" for i in range(len(self.strata))) or "0 AS s0"
        shifts = [self.shift(b) for b in betas]
        rs = ", ".join(
            f"w * EXP({' + '.join(f'{num(b)} * x{j}' for j, b in enumerate(beta) if b != 0) or '0.0'} "
            f"- {num(shift)}) AS r{k}" for k, (beta, shift) in enumerate(zip(betas, shifts)))
        rows = f"SELECT *, {rs} FROM ({self.rows_sql()}) rows_x"
        cols = ", ".join(f"SUM(r{k}) AS a{k}, SUM(ev * r{k}) AS b{k}" for k in range(len(betas)))
        exits = self.src.query(f"SELECT {s_out}, t, {cols} FROM ({rows}) r GROUP BY {keys}t")
        code, t = self._codes(exits), fetch_numpy(exits, "t")
        A = np.column_stack([fetch_numpy(exits, f"a{k}") for k in range(len(betas))])
        S = self._reverse_sums(code, t, A, side="left")
        if self.entry is not None:
            ecols = ", ".join(f"SUM(r{k}) AS a{k}" for k in range(len(betas)))
            entries = self.src.query(f"SELECT {s_out}, e AS t, {ecols} FROM ({rows}) r GROUP BY {keys}e")
            N = np.column_stack([fetch_numpy(entries, f"a{k}") for k in range(len(betas))])
            S = S - self._reverse_sums(self._codes(entries), fetch_numpy(entries, "t"), N, side="left")
        D = self._at_keys(code, t, np.column_stack([fetch_numpy(exits, f"b{k}") for k in range(len(betas))]))
        rep, frac, omega = self.steps()
        out = np.empty(len(betas))
        with np.errstate(divide="ignore", invalid="ignore"):
            for k, beta in enumerate(betas):
                S0l = S[rep, k] - frac * D[rep, k]
                out[k] = float(np.asarray(beta) @ self.wxd - omega @ (np.log(S0l) + shifts[k]))
        return out

    def loglik(self, beta: np.ndarray) -> float:
        """The log partial likelihood alone: the grouped pass only."""
        shift, S, Dk, _, _ = self.risk_tables(beta)
        rep, frac, omega = self.steps()
        S0l = S[:, 0][rep] - frac * Dk[:, 0][rep]
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(beta @ self.wxd - omega @ (np.log(S0l) + shift))

    def evaluate(self, beta: np.ndarray):
        """Log partial likelihood, score and information at ``beta``: two passes over the rows.

        The grouped pass gives S0, S1, D0, D1 at the event keys, hence the log likelihood, the score and
        the part of the information made of per-time sums (as in :class:`bmstats.estimate.cox._CoxModel`,
        sums over the Efron steps in closed form).  The information's other part,
        sum_i w_i r_i H_i x_i x_i', with H_i the sum of omega_l / S0_l over the event times at which row i
        is at risk, is one ungrouped pass that joins each row to a cumulative table of H by time: ungrouped
        sums of the p(p+1)/2 products cost a fraction of grouped ones.
        """
        p = self.p
        shift, S, Dk, exits, entries = self.risk_tables(beta)
        rep, frac, omega = self.steps()
        K = len(self.d)
        S0, S1 = S[:, 0], S[:, 1:1 + p]
        D0, D1 = Dk[:, 0], Dk[:, 1:1 + p]
        S0l = S0[rep] - frac * D0[rep]
        if np.any(S0l <= 0):
            raise InputError("risk set sums are not positive: check the entry and exit times")
        inv = omega / S0l
        loglik = float(beta @ self.wxd - omega @ (np.log(S0l) + shift))
        c = np.bincount(rep, inv, minlength=K)
        e = np.bincount(rep, inv * frac, minlength=K)
        score = self.wxd - (S1.T @ c - D1.T @ e)
        c2 = np.bincount(rep, inv / S0l, minlength=K)
        e2 = np.bincount(rep, inv * frac / S0l, minlength=K)
        f2 = np.bincount(rep, inv * frac * frac / S0l, minlength=K)
        cross = (S1 * e2[:, None]).T @ D1
        info2 = (S1 * c2[:, None]).T @ S1 - cross - cross.T + (D1 * f2[:, None]).T @ D1
        tables, joins, entry_c = self.row_tables(exits, entries, c[:, None], e[:, None])
        H = f"(ts.c0 - {entry_c[0]} - r.ev * ts.ev0)"
        sums = ", ".join(f"SUM(r.wr * {H} * r.x{i} * r.x{j}) AS v{k}" for k, (i, j) in enumerate(_pairs(p)))
        row = self.src.query(f"SELECT {sums} FROM ({self.rows_sql(beta)}) r{joins}", tables).iloc[0]
        info1 = _unpack(np.array([[float(row[f"v{k}"]) for k in range(len(_pairs(p)))]]), p)[0]
        return loglik, score, info1 - info2

    def row_tables(self, exits: pd.DataFrame, entries: pd.DataFrame | None, cum: np.ndarray, ev: np.ndarray):
        """Small tables that give each row, by an equi-join on (stratum, time), the sums over the event keys
        at which it is at risk of the columns of ``cum`` (K, m) and, for a row with an event, the values of
        ``ev`` (K, q) at its own key.  Returns (tables, join SQL with aliases ts/te, entry terms)."""
        m = cum.shape[1]

        def cumulative_at(code: np.ndarray, t: np.ndarray) -> np.ndarray:
            out = np.zeros((len(t), m))
            for s in np.unique(code):
                keys = np.flatnonzero(self.key_stratum == s)
                rows = np.flatnonzero(code == s)
                total = np.vstack([np.zeros((1, m)), np.cumsum(cum[keys], axis=0)])
                out[rows] = total[np.searchsorted(self.key_time[keys], t[rows], side="right")]
            return out

        def table(frame: pd.DataFrame, with_events: bool) -> pd.DataFrame:
            code = self._codes(frame)
            t = fetch_numpy(frame, "t")
            C = cumulative_at(code, t)
            out = {f"s{i}": frame[f"s{i}"].to_numpy() for i in range(max(len(self.strata), 1))}
            out["t"] = t
            for j in range(m):
                out[f"c{j}"] = C[:, j]
            if with_events:
                idx = pd.MultiIndex.from_arrays([self.key_stratum, self.key_time]).get_indexer(
                    pd.MultiIndex.from_arrays([code, t]))
                hit = idx >= 0
                safe = np.where(hit, idx, 0)
                for j in range(ev.shape[1]):
                    out[f"ev{j}"] = np.where(hit, ev[safe, j], 0.0)
            return pd.DataFrame(out)

        n_strata = max(len(self.strata), 1)
        tables = {"bmstats_stop_table": table(exits, True)}
        joins = " JOIN bmstats_stop_table ts ON " + " AND ".join(
            [f"r.s{i} = ts.s{i}" for i in range(n_strata)] + ["r.t = ts.t"])
        entry_c = ["0.0"] * m
        if entries is not None:
            tables["bmstats_entry_table"] = table(entries, False)
            joins += " JOIN bmstats_entry_table te ON " + " AND ".join(
                [f"r.s{i} = te.s{i}" for i in range(n_strata)] + ["r.e = te.t"])
            entry_c = [f"te.c{j}" for j in range(m)]
        return tables, joins, entry_c


def strata_select(strata: list, q) -> str:
    if not strata:
        return "0 AS s0"
    return ", ".join(f"{q(s)} AS s{i}" for i, s in enumerate(strata))


def build_problem(src: Source, stop: str, event: str, formula: str, *, strata=(), entry=None, weights=None,
                  cluster=None, ties="efron", dropna=False) -> EngineCoxProblem:
    """Check the rows, build the design as SQL and compute what does not change between Newton steps."""
    from bmstats.engine.design import formula_variables_sql

    strata = list(strata)
    variables = formula_variables_sql(src, formula)
    where, n, dropped = valid_rows(src, stop, event, groups=[*strata, cluster] if cluster else strata,
                                   entry=entry, dropna=dropna, max_code=1,
                                   extra=[weights] if weights else [], covariates=variables)
    if weights:
        bad = int(src.query(f"SELECT COUNT(*) AS n FROM {src.view} WHERE {where} AND NOT "
                            f"({src.quote(weights)} > 0 AND {src.quote(weights)} <= 1.7976931348623157e308)")
                  .iloc[0]["n"])
        if bad:
            raise InputError(f"column {weights!r}: case weights must be finite and positive; {bad} rows")
    design = engine_design(src, formula, where)
    p = len(design.columns)
    q = src.quote
    w = f"CAST({q(weights)} AS DOUBLE)" if weights else "1.0"
    x = [f"({e})" for e in design.expressions]
    cols = [f"SUM({w}) AS sw"]
    cols += [f"SUM({w} * {x[j]}) AS m{j}" for j in range(p)]
    cols += [f"MIN({x[j]}) AS lo{j}" for j in range(p)] + [f"MAX({x[j]}) AS hi{j}" for j in range(p)]
    cols += [f"SUM(CASE WHEN {x[j]} = 0 OR {x[j]} = 1 THEN 0 ELSE 1 END) AS nb{j}" for j in range(p)]
    first = src.query(f"SELECT {', '.join(cols)} FROM {src.view} WHERE {where}").iloc[0]
    sw = float(first["sw"])
    means = np.array([float(first[f"m{j}"]) / sw for j in range(p)])
    binary = np.array([int(first[f"nb{j}"]) == 0 for j in range(p)])
    means[binary] = 0.0  # as coxph: 0/1 columns are not centered
    bounds = np.array([[float(first[f"lo{j}"]) - means[j], float(first[f"hi{j}"]) - means[j]] for j in range(p)])

    strata_sql = "".join(f"{q(s)}, " for s in strata)
    stop_sql = f"CAST({q(stop)} AS DOUBLE)"
    evq = src.query(
        f"SELECT {strata_select(strata, q)}, {stop_sql} AS t, COUNT(*) AS d, SUM({w}) AS wd, "
        + ", ".join(f"SUM({w} * {x[j]}) AS wx{j}" for j in range(p))
        + f" FROM {src.view} WHERE {where} AND {q(event)} = 1 GROUP BY {strata_sql}{stop_sql}")
    if len(evq) == 0:
        raise InputError(f"column {event!r}: no events (every row is 0); a Cox model needs events")
    n_events = int(fetch_numpy(evq, "d").sum())
    if n_events < p:
        raise InputError(f"too few events ({n_events}) for {p} coefficients ({', '.join(design.columns)})")
    if strata:
        labels_frame = evq[[f"s{i}" for i in range(len(strata))]]
        labels = sorted(set(map(tuple, labels_frame.itertuples(index=False, name=None))))
    else:
        labels = [(0,)]
    problem = EngineCoxProblem(
        src, where, design, stop, event, entry, weights, strata, ties, means, n, n_events, dropped,
        labels, np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(p), bounds)
    code = problem._codes(evq)
    t = fetch_numpy(evq, "t")
    order = np.lexsort((t, code))
    problem.key_stratum, problem.key_time = code[order], t[order]
    problem.d = fetch_numpy(evq, "d", np.int64)[order]
    problem.wd = fetch_numpy(evq, "wd")[order]
    wx = np.column_stack([fetch_numpy(evq, f"wx{j}") for j in range(p)]) if p else np.zeros((len(evq), 0))
    problem.wxd = wx.sum(axis=0) - problem.wd.sum() * means
    return problem


def robust_covariance(problem: EngineCoxProblem, beta: np.ndarray, naive: np.ndarray,
                      cluster: str | None) -> np.ndarray:
    """Sandwich variance D'D with D = U naive, U the (cluster sums of) weighted score residuals
    (Lin & Wei 1989; coxph's ``robust``/``cluster``), computed in the engine by joining each row to the
    per-time tables of the fit (as :meth:`bmstats.estimate.cox._CoxModel.score_residuals`)."""
    src, p, q = problem.src, problem.p, problem.src.quote
    _, S, Dk, exits, entries = problem.risk_tables(beta)
    rep, frac, omega = problem.steps()
    K = len(problem.d)
    S0, S1 = S[:, 0], S[:, 1:1 + p]
    D0, D1 = Dk[:, 0], Dk[:, 1:1 + p]
    S0l = S0[rep] - frac * D0[rep]
    A = (S1[rep] - frac[:, None] * D1[rep]) / S0l[:, None]
    inv = omega / S0l
    c = np.bincount(rep, inv, minlength=K)
    e = np.bincount(rep, inv * frac, minlength=K)
    ca = np.column_stack([np.bincount(rep, A[:, j] * inv, minlength=K) for j in range(p)])
    g = np.column_stack([np.bincount(rep, A[:, j] * inv * frac, minlength=K) for j in range(p)])
    abar = np.column_stack([np.bincount(rep, A[:, j] * omega, minlength=K) for j in range(p)]) / \
        np.where(problem.wd > 0, problem.wd, 1)[:, None]
    # cumulative columns: c0 = H, c1.. = G; event columns: ev0 = e, ev1.. = g, then abar
    tables, joins, entry_c = problem.row_tables(exits, entries, np.column_stack([c, ca]),
                                                np.column_stack([e, g, abar]))
    H = f"(ts.c0 - {entry_c[0]} - r.ev * ts.ev0)"
    u = [f"(r.ev * r.w * (r.x{j} - ts.ev{1 + p + j}) - r.wr * (r.x{j} * {H} - "
         f"(ts.c{j + 1} - {entry_c[j + 1]} - r.ev * ts.ev{1 + j})))" for j in range(p)]
    extra = f", {q(cluster)} AS cl" if cluster is not None else ""
    rows = problem.rows_sql(beta, extra)
    if cluster is not None:
        inner = (f"SELECT r.cl, {', '.join(f'SUM({uj}) AS u{j}' for j, uj in enumerate(u))} "
                 f"FROM ({rows}) r{joins} GROUP BY r.cl")
    else:
        inner = f"SELECT {', '.join(f'{uj} AS u{j}' for j, uj in enumerate(u))} FROM ({rows}) r{joins}"
    outer = ", ".join(f"SUM(u{i} * u{j}) AS v{k}" for k, (i, j) in enumerate(_pairs(p)))
    counts = src.query(f"SELECT COUNT(*) AS n, {outer} FROM ({inner}) sub", tables).iloc[0]
    if cluster is None and int(counts["n"]) != problem.n:  # pragma: no cover - every row has its exit time
        raise InputError("the engine's join of rows to the per-time tables lost rows")
    UU = _unpack(np.array([[float(counts[f"v{k}"]) for k in range(len(_pairs(p)))]]), p)[0]
    return naive @ UU @ naive
