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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmstats._checks import Dropped, InputError
from bmstats.engine.counts import valid_rows
from bmstats.engine.design import EngineDesign, design_ranges, engine_design
from bmstats.engine.efron_sums import SUMS, tie_step_sums
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


def point_weights_sql(betas: list, shifts: list, rows: str, weight: str = "1.0") -> str:
    """A subquery over ``rows`` (with centred design columns x0..) adding r0, r1, .. = weight exp(x'b_k -
    shift_k) for each point b_k of ``betas``.

    The likelihood profile's points (:func:`bmstats.estimate.monotone.monotone_columns`) are the estimate and,
    per coefficient j, a pair b0 +- c_j e_j: the pair shares one exponential, q = exp(c_j x_j - a), as
    r = r0 q and r' = r0 exp(-a - a') / q (a, a' the differences of the shifts; q stays within exp(+-REACH)
    of 1, the step being REACH units of the linear predictor), so 2p + 3 points cost p + 3 exponentials."""
    b0 = np.asarray(betas[0], dtype=float)

    def eta(coef) -> str:
        return " + ".join(f"{num(b)} * x{j}" for j, b in enumerate(coef) if b != 0) or "0.0"

    inner = [f"{weight} * EXP({eta(b0)} - {num(shifts[0])}) AS r0"]
    outer = []
    shared: dict = {}  # column j -> (point k, its step, its shift difference)
    for k in range(1, len(betas)):
        delta = np.asarray(betas[k], dtype=float) - b0
        nz = np.flatnonzero(delta)
        a = shifts[k] - shifts[0]
        if len(nz) == 1:
            j = int(nz[0])
            if j not in shared:
                shared[j] = (k, delta[j], a)
                inner.append(f"EXP({num(delta[j])} * x{j} - {num(a)}) AS q{j}")
                outer.append(f"r0 * q{j} AS r{k}")
                continue
            _, step, a_first = shared[j]
            factor = np.exp(-(a + a_first))
            if abs(delta[j] + step) <= 1e-12 * abs(step) and np.isfinite(factor) and factor > 0:
                outer.append(f"r0 * {num(factor)} / q{j} AS r{k}")
                continue
        inner.append(f"{weight} * EXP({eta(betas[k])} - {num(shifts[k])}) AS r{k}")
        outer.append(f"r{k}")
    return (f"SELECT *{''.join(', ' + c for c in outer if ' AS ' in c)} FROM "
            f"(SELECT *, {', '.join(inner)} FROM ({rows}) rows_p) points")


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
    # the per-time sums at beta = 0 (from the setup's grouped pass) and at the last beta asked for
    zero_exits: pd.DataFrame | None = field(default=None, repr=False)
    _last: tuple | None = field(default=None, repr=False)

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
        entries (the same over all rows), keyed by stratum and time.  At beta = 0 the exits come from the
        setup's grouped pass (:func:`build_problem`), without another pass over the rows."""
        p = self.p
        shift = self.shift(beta)
        cols = ["SUM(wr) AS e0"] + [f"SUM(wr * x{j}) AS e1_{j}" for j in range(p)]
        ecols = list(cols)
        cols += ["SUM(ev * wr) AS d0"] + [f"SUM(ev * wr * x{j}) AS d1_{j}" for j in range(p)]
        keys = "".join(f"s{i}, " for i in range(len(self.strata)))
        s_out = ", ".join(f"s{i}" for i in range(len(self.strata))) or "0 AS s0"
        rows = self.rows_sql(beta)
        if self.zero_exits is not None and not np.any(beta):
            exits = self.zero_exits
        else:
            exits = self.src.query(f"SELECT {s_out}, t, {', '.join(cols)} FROM ({rows}) r GROUP BY {keys}t")
        entries = None
        if self.entry is not None:
            entries = self.src.query(
                f"SELECT {s_out}, e AS t, {', '.join(ecols)} FROM ({rows}) r GROUP BY {keys}e")
        return shift, exits, entries

    def risk_tables(self, beta: np.ndarray):
        """(shift, S, D, exits, entries): S = (S0, S1) over the risk set and D = (D0, D1) over the events at
        each event key, from one grouped pass (two with delayed entry); the last one is kept, so that the
        variance at the estimate does not pass over the rows again for them."""
        beta = np.asarray(beta, dtype=float)
        if self._last is not None and np.array_equal(self._last[0], beta):
            return self._last[1]
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
        out = (shift, S, Dk, exits, entries)
        self._last = (beta.copy(), out)
        return out

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

    def _steps(self):
        """(number of tie steps, weight omega of each step) per event key: Efron's d_k steps of weight
        sum w / d_k, or Breslow's one step of weight sum w."""
        if self.ties == "efron":
            return self.d, self.wd / np.maximum(self.d, 1)
        return np.ones_like(self.d), self.wd

    def _tie_sums(self, S0: np.ndarray, D0: np.ndarray, need=SUMS) -> dict:
        steps, omega = self._steps()
        sums = tie_step_sums(S0, D0, steps, self.ties == "efron", need)
        if sums and next(iter(sums.values())).ndim == 2:
            omega = omega[:, None]
        return {name: omega * value for name, value in sums.items()}

    def loglik_many(self, betas: list) -> np.ndarray:
        """The log partial likelihood at several points in one grouped pass (the profile of the
        monotone-likelihood check needs 2p + 3 of them)."""
        keys = "".join(f"s{i}, " for i in range(len(self.strata)))
        s_out = ", ".join(f"s{i}" for i in range(len(self.strata))) or "0 AS s0"
        shifts = [self.shift(b) for b in betas]
        rows = point_weights_sql(betas, shifts, self.rows_sql(), "w")
        sums = ", ".join(f"SUM(r{k}) AS a{k}" for k in range(len(betas)))
        # by (stratum, time, event): the sums over all rows and over the events from one set of sums
        frame = self.src.query(f"SELECT {s_out}, t, ev, {sums} FROM ({rows}) r GROUP BY {keys}t, ev")
        exits = frame
        events = frame[fetch_numpy(frame, "ev") == 1].reset_index(drop=True)
        code, t = self._codes(exits), fetch_numpy(exits, "t")
        A = np.column_stack([fetch_numpy(exits, f"a{k}") for k in range(len(betas))])
        S = self._reverse_sums(code, t, A, side="left")
        if self.entry is not None:
            ecols = ", ".join(f"SUM(r{k}) AS a{k}" for k in range(len(betas)))
            entries = self.src.query(f"SELECT {s_out}, e AS t, {ecols} FROM ({rows}) r GROUP BY {keys}e")
            N = np.column_stack([fetch_numpy(entries, f"a{k}") for k in range(len(betas))])
            S = S - self._reverse_sums(self._codes(entries), fetch_numpy(entries, "t"), N, side="left")
        D = self._at_keys(self._codes(events), fetch_numpy(events, "t"),
                          np.column_stack([fetch_numpy(events, f"a{k}") for k in range(len(betas))]))
        good = np.all(S - D * (self.ties == "efron") * (1 - 1 / np.maximum(self.d, 1))[:, None] > 0, axis=0)
        out = np.full(len(betas), np.nan)  # far out, risk-set sums may underflow: not finite there
        if np.any(good):
            logs = self._tie_sums(S[:, good], D[:, good], ("log",))["log"].sum(axis=0)
            wx = np.array([np.asarray(b) @ self.wxd for b in betas])[good]
            out[good] = wx - logs - np.asarray(shifts)[good] * self.wd.sum()
        return out

    def loglik(self, beta: np.ndarray) -> float:
        """The log partial likelihood alone: the grouped pass only."""
        shift, S, Dk, _, _ = self.risk_tables(beta)
        try:
            logs = self._tie_sums(S[:, 0], Dk[:, 0], ("log",))["log"]
        except InputError:
            return float("nan")
        return float(beta @ self.wxd - logs.sum() - shift * self.wd.sum())

    def evaluate(self, beta: np.ndarray):
        """Log partial likelihood, score and information at ``beta``: two passes over the rows.

        The grouped pass gives S0, S1, D0, D1 at the event keys, hence the log likelihood, the score and
        the part of the information made of per-time sums (as in :class:`bmstats.estimate.cox._CoxModel`,
        sums over the Efron steps per key: :func:`tie_step_sums`).  The information's other part,
        sum_i w_i r_i H_i x_i x_i', with H_i the sum of omega_l / S0_l over the event times at which row i
        is at risk, is one ungrouped pass that joins each row to a cumulative table of H by time: ungrouped
        sums of the p(p+1)/2 products cost a fraction of grouped ones.
        """
        loglik, score = self.gradient(beta)
        return loglik, score, self.information(beta)

    def gradient(self, beta: np.ndarray):
        """Log partial likelihood and score at ``beta``: the grouped pass only."""
        p = self.p
        shift, S, Dk, _, _ = self.risk_tables(beta)
        S1, D1 = S[:, 1:1 + p], Dk[:, 1:1 + p]
        ts = self._tie_sums(S[:, 0], Dk[:, 0], ("log", "c", "e"))
        loglik = float(beta @ self.wxd - ts["log"].sum() - shift * self.wd.sum())
        return loglik, self.wxd - (S1.T @ ts["c"] - D1.T @ ts["e"])

    def information(self, beta: np.ndarray) -> np.ndarray:
        """The information at ``beta``: the grouped pass's tables (kept from :meth:`gradient` at the same
        point) and the ungrouped pass of the row part (see :meth:`evaluate`)."""
        p = self.p
        _, S, Dk, exits, entries = self.risk_tables(beta)
        S1, D1 = S[:, 1:1 + p], Dk[:, 1:1 + p]
        ts = self._tie_sums(S[:, 0], Dk[:, 0])
        c, e = ts["c"], ts["e"]
        cross = (S1 * ts["e2"][:, None]).T @ D1
        info2 = (S1 * ts["c2"][:, None]).T @ S1 - cross - cross.T + (D1 * ts["f2"][:, None]).T @ D1
        tables, joins, entry_c = self.row_tables(exits, entries, c[:, None], e[:, None])
        H = f"(ts.c0 - {entry_c[0]} - r.ev * ts.ev0)"
        sums = ", ".join(f"SUM(r.wr * {H} * r.x{i} * r.x{j}) AS v{k}" for k, (i, j) in enumerate(_pairs(p)))
        row = self.src.query(f"SELECT {sums} FROM ({self.rows_sql(beta)}) r{joins}", tables).iloc[0]
        info1 = _unpack(np.array([[float(row[f"v{k}"]) for k in range(len(_pairs(p)))]]), p)[0]
        return info1 - info2

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
    lo, hi, binary = design_ranges(src, design, where, all_rows=dropped.n == 0, binary=True)

    # one grouped pass by (stratum, exit time) over all rows: the event keys and their sums, the weighted
    # means, and the per-time sums of the first Newton step (at beta = 0, where w exp(x'b) = w)
    strata_sql = "".join(f"{q(s)}, " for s in strata)
    stop_sql = f"CAST({q(stop)} AS DOUBLE)"
    ev = f"CAST({q(event)} AS DOUBLE)"
    grouped = src.query(
        f"SELECT {strata_select(strata, q)}, {stop_sql} AS t, "
        f"SUM(CASE WHEN {q(event)} = 1 THEN 1 ELSE 0 END) AS d, SUM({w}) AS e0, SUM({ev} * {w}) AS wd, "
        + ", ".join(f"SUM({w} * {x[j]}) AS e1_{j}, SUM({ev} * {w} * {x[j]}) AS wx{j}" for j in range(p))
        + f" FROM {src.view} WHERE {where} GROUP BY {strata_sql}{stop_sql}")
    sw = float(fetch_numpy(grouped, "e0").sum())
    means = np.array([fetch_numpy(grouped, f"e1_{j}").sum() / sw for j in range(p)])
    means[binary] = 0.0  # as coxph: 0/1 columns are not centered
    bounds = np.column_stack([lo - means, hi - means])
    evq = grouped[fetch_numpy(grouped, "d", np.int64) > 0].reset_index(drop=True)
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
    # the exits table of sums() at beta = 0 in the centred columns (the shift is 0 there)
    zero = {f"s{i}": grouped[f"s{i}"] for i in range(max(len(strata), 1))}
    zero["t"] = fetch_numpy(grouped, "t")
    e0, d0 = fetch_numpy(grouped, "e0"), fetch_numpy(grouped, "wd")
    zero["e0"] = e0
    for j in range(p):
        zero[f"e1_{j}"] = fetch_numpy(grouped, f"e1_{j}") - e0 * means[j]
    zero["d0"] = d0
    for j in range(p):
        zero[f"d1_{j}"] = fetch_numpy(grouped, f"wx{j}") - d0 * means[j]
    problem.zero_exits = pd.DataFrame(zero)
    return problem


def robust_covariance(problem: EngineCoxProblem, beta: np.ndarray, naive: np.ndarray,
                      cluster: str | None) -> np.ndarray:
    """Sandwich variance D'D with D = U naive, U the (cluster sums of) weighted score residuals
    (Lin & Wei 1989; coxph's ``robust``/``cluster``), computed in the engine by joining each row to the
    per-time tables of the fit (as :meth:`bmstats.estimate.cox._CoxModel.score_residuals`)."""
    src, p, q = problem.src, problem.p, problem.src.quote
    _, S, Dk, exits, entries = problem.risk_tables(beta)
    S1 = S[:, 1:1 + p]
    D1 = Dk[:, 1:1 + p]
    ts = problem._tie_sums(S[:, 0], Dk[:, 0])
    c, e = ts["c"], ts["e"]
    # the sums over each key's tie steps of a_l omega / S0l, of the same times f_l, and of a_l omega, with
    # a_l = (S1 - f_l D1) / S0l, are linear in S1 and D1 with the per-key sums of tie_step_sums
    ca = S1 * ts["c2"][:, None] - D1 * ts["e2"][:, None]
    g = S1 * ts["e2"][:, None] - D1 * ts["f2"][:, None]
    abar = (S1 * c[:, None] - D1 * e[:, None]) / np.where(problem.wd > 0, problem.wd, 1)[:, None]
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
