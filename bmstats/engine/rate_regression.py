"""Poisson and negative binomial rate regression where the rows live: one aggregate query per Newton step.

Both likelihoods depend on the rows through sums (:mod:`bmstats.estimate.count_likelihood`): for Poisson,
sum(mu), sum(mu x) and sum(mu x x') at the current coefficients, mu = pt exp(x'b); for the negative binomial,
sums of functions of (y, mu, theta) and the frequency table of the counts.  Each Newton step sends one
SUM query to the engine (p(p+1)/2 + O(p) numbers come back); the numpy iterations, variances and deviances
are those of the in-memory path, so the two agree to rounding.  Nothing is aggregated by covariate pattern,
so continuous covariates and person-times cost no more than categorical ones.

Checks as in memory: missing values (an error naming the column, or dropped and counted with ``dropna``),
non-negative integer counts, positive person-time, finite covariates; errors name the column, the rule,
the number of rows and, with ``id=``, the subjects.
"""
from __future__ import annotations

import warnings

import numpy as np

from bmstats._checks import Dropped, InputError
from bmstats._warnings import ConvergenceWarning
from bmstats.engine.counts import usable_rows
from bmstats.engine.design import engine_design, formula_variables_sql
from bmstats.engine.source import Source, fetch_numpy, num
from bmstats.estimate.count_likelihood import CountTable, NegBinSums, negbin_fit, poisson_fit

_MAX_DOUBLE = "1.7976931348623157e308"
_SHOWN = 10


class EngineRows:
    """The row sums of :mod:`bmstats.estimate.count_likelihood`, computed by the engine."""

    def __init__(self, src: Source, where: str, expressions: list, events: str, person_time: str):
        q = src.quote
        self.src, self.p = src, len(expressions)
        cols = [f"CAST({q(events)} AS DOUBLE) AS y", f"CAST({q(person_time)} AS DOUBLE) AS pt"]
        cols += [f"{e} AS x{j}" for j, e in enumerate(expressions)]
        self.rows = f"SELECT {', '.join(cols)} FROM {src.view} WHERE {where}"
        xs = [f"x{j}" for j in range(self.p)]
        sums = ["SUM(y * LN(pt)) AS ylpt", "SUM(pt) AS pt"] + [f"SUM(y * {x}) AS yx{j}" for j, x in enumerate(xs)]
        row = src.query(f"SELECT {', '.join(sums)} FROM ({self.rows}) r").iloc[0]
        self.sy_log_pt, self.person_time = float(row["ylpt"]), float(row["pt"])
        self.syx = np.array([float(row[f"yx{j}"]) for j in range(self.p)])
        freq = src.query(f"SELECT y, COUNT(*) AS n FROM ({self.rows}) r GROUP BY y")
        y, n = fetch_numpy(freq, "y"), fetch_numpy(freq, "n")
        order = np.argsort(y)
        self.table = CountTable(y[order], n[order])

    def _eta(self, beta: np.ndarray, xs=None) -> str:
        xs = xs or [f"x{j}" for j in range(len(beta))]
        return " + ".join(f"{num(b)} * {x}" for b, x in zip(beta, xs) if b != 0) or "0.0"

    def poisson(self, beta: np.ndarray):
        p = self.p
        mu = f"SELECT *, pt * EXP({self._eta(beta)}) AS mu FROM ({self.rows}) r"
        sums = ["SUM(mu) AS s"] + [f"SUM(mu * x{j}) AS m{j}" for j in range(p)]
        sums += [f"SUM(mu * x{i} * x{j}) AS m{i}_{j}" for i in range(p) for j in range(i, p)]
        row = self.src.query(f"SELECT {', '.join(sums)} FROM ({mu}) m").iloc[0]
        return (float(row["s"]), np.array([float(row[f"m{j}"]) for j in range(p)]),
                self._matrix(row, "m", p))

    def negbin(self, beta: np.ndarray, theta: float) -> NegBinSums:
        return self._negbin([f"x{j}" for j in range(self.p)], beta, theta)

    def negbin_null(self, b0: float, theta: float) -> NegBinSums:
        return self._negbin(["1.0"], np.array([b0]), theta)

    def _negbin(self, xs: list, beta: np.ndarray, theta: float) -> NegBinSums:
        p, t = len(xs), num(theta)
        inner = (f"SELECT y, {', '.join(f'{x} AS z{j}' for j, x in enumerate(xs))}, pt * EXP({self._eta(beta, xs)}) "
                 f"AS mu FROM ({self.rows}) r")
        step = f"SELECT *, {t} + mu AS tm, {t} + y AS ty FROM ({inner}) i"
        sums = ["SUM(ty * LN(tm)) AS ls", "SUM(LN(tm) + ty / tm) AS bs", "SUM(ty / (tm * tm) - 2.0 / tm) AS cs"]
        sums += [f"SUM(z{j} * {t} * (y - mu) / tm) AS u{j}" for j in range(p)]
        sums += [f"SUM(z{j} * mu * (y - mu) / (tm * tm)) AS c{j}" for j in range(p)]
        sums += [f"SUM(z{i} * z{j} * ty * mu * {t} / (tm * tm)) AS h{i}_{j}" for i in range(p) for j in range(i, p)]
        sums += [f"SUM(z{i} * z{j} * mu * {t} / tm) AS f{i}_{j}" for i in range(p) for j in range(i, p)]
        row = self.src.query(f"SELECT {', '.join(sums)} FROM ({step}) s").iloc[0]
        return NegBinSums(float(row["ls"]), np.array([float(row[f"u{j}"]) for j in range(p)]),
                          self._matrix(row, "h", p), np.array([float(row[f"c{j}"]) for j in range(p)]),
                          float(row["bs"]), float(row["cs"]), self._matrix(row, "f", p))

    @staticmethod
    def _matrix(row, prefix: str, p: int) -> np.ndarray:
        out = np.empty((p, p))
        for i in range(p):
            for j in range(i, p):
                out[i, j] = out[j, i] = float(row[f"{prefix}{i}_{j}"])
        return out


def rate_regression_on_engine(src: Source, events: str, person_time: str, formula: str, *, family: str,
                              conf_level: float, dropna: bool, id: str | None):
    from bmstats.estimate.rate_regression import rate_result

    variables = formula_variables_sql(src, formula)
    src.require_columns([events, person_time, id])
    where, n, dropped = _check_rows(src, events, person_time, variables, id, dropna)
    design = engine_design(src, formula, where, intercept=True)
    names = list(design.columns)
    rows = EngineRows(src, where, design.expressions, events, person_time)
    y_total = rows.table.total()
    if y_total == 0:  # as in memory: the intercept's maximum likelihood estimate is -infinity
        raise InputError(f"column {events!r}: no events (every count is 0), so the rates cannot be modelled")
    start = np.zeros(len(names))
    if "Intercept" in names and y_total > 0:
        start[names.index("Intercept")] = np.log(y_total / rows.person_time)
    _check_rank(rows, start, names)
    model = f"rate_regression ({family})"
    fit = poisson_fit(rows, start)
    if family == "negative_binomial":
        # glm.nb's start: the Poisson fit, theta from the moments at its means
        mean_mu = float(rows.poisson(fit.coef)[0]) / n
        values, counts = rows.table.values, rows.table.counts
        mean_y = float(counts @ values) / n
        var_y = float(counts @ (values - mean_y) ** 2) / n
        theta0 = max(mean_mu ** 2 / max(var_y - mean_mu, 1e-8), 1e-3)
        fit = negbin_fit(rows, fit.coef, theta0)
    if not fit.converged:
        warnings.warn(ConvergenceWarning(f"{model}: Newton-Raphson did not converge in 100 iterations; estimates "
                                         "are unreliable", converged=False), stacklevel=3)
    return rate_result(fit, family=family, names=names, n=n, n_events=int(round(y_total)),
                       person_time=rows.person_time, converged=fit.converged, conf_level=conf_level,
                       design=design.design, dropped=dropped, model=model, engine=src.description)


def _check_rank(rows: EngineRows, start: np.ndarray, names: list) -> None:
    """Constant or collinear design columns, named, before any iteration (the in-memory design does it)."""
    _, _, info = rows.poisson(start)
    d = np.sqrt(np.diag(info))
    if np.any(d <= 0):
        raise InputError(f"design column(s) {', '.join(repr(n) for n, v in zip(names, d) if v <= 0)} are zero "
                         "on every row used")
    corr = info / np.outer(d, d)
    eig = np.linalg.eigvalsh(corr)
    if eig[0] < 1e-10 * eig[-1]:
        raise InputError(f"the design is rank deficient (collinear or constant columns among {', '.join(names)}); "
                         "remove the redundant terms")


def _check_rows(src: Source, events: str, person_time: str, variables: list, id: str | None,
                dropna: bool) -> tuple[str, int, Dropped]:
    """Missing values, then the rules of the in-memory path, in one scan each; the SQL condition of the rows
    used, their number and what ``dropna`` dropped."""
    q = src.quote
    used = list(dict.fromkeys([*variables, events, person_time]))
    for name in (events, person_time):
        if not src.is_numeric(name):
            raise InputError(f"column {name!r} must be numeric; it is {src.columns[name]} in {src.description} "
                             "(cast it in the engine, e.g. CAST(x AS DOUBLE))")
    where, n_rows, dropped = usable_rows(src, used, dropna)
    y, pt = q(events), q(person_time)
    rules = [(events, f"NOT ({y} >= 0 AND {y} = ROUND({y}, 0) AND {y} <= {_MAX_DOUBLE})",
              "event counts must be non-negative integers"),
             (person_time, f"NOT ({pt} > 0 AND {pt} <= {_MAX_DOUBLE})", "person-time must be positive")]
    for name in variables:  # NaN and infinity are values to an engine, not missing: refuse them by name
        if src.is_numeric(name) and "BOOL" not in src.columns[name].upper():
            rules.append((name, f"NOT ({q(name)} >= -{_MAX_DOUBLE} AND {q(name)} <= {_MAX_DOUBLE})",
                          "covariate values must be finite (NaN or infinite found)"))
    sums = ", ".join(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS bad{i}" for i, (_, cond, _) in enumerate(rules))
    sums += f", SUM(CASE WHEN {pt} < 0 THEN 1 ELSE 0 END) AS negative"
    bad = src.query(f"SELECT {sums} FROM {src.view} WHERE {where}").iloc[0]
    for i, (column, cond, rule) in enumerate(rules):
        k = int(bad[f"bad{i}"] or 0)
        if k:
            if column == person_time and int(bad["negative"] or 0):
                rule += " (negative values found)"
            shown = [c for c in dict.fromkeys([id, column]) if c is not None]
            examples = src.query(f"SELECT {', '.join(q(c) for c in shown)} FROM {src.view} WHERE {where} AND {cond} "
                                 f"LIMIT {_SHOWN}")
            if id is not None:
                ids = ", ".join(map(str, dict.fromkeys(examples[id].tolist())))
                raise InputError(f"column {column!r}: {rule}; {id} {ids}; {k} rows of {src.description}")
            values = ", ".join(repr(v) for v in examples[column].tolist()[:5])
            raise InputError(f"column {column!r}: {rule}; {k} rows of {src.description}, e.g. {values}")
    return where, n_rows - dropped.n, dropped
