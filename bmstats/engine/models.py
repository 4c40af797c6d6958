"""Cox and Fine-Gray results fitted on an engine: the same result classes as in memory.

The numbers (coefficients, model-based, robust and sandwich variances, likelihoods, tests) come from
:mod:`bmstats.engine.cox` and :mod:`bmstats.engine.finegray`; what needs the rows themselves (prediction with
confidence limits, the PH test, concordance, influence functions) is refused on such a result with a message
that says so, rather than computed from something else.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats._checks import InputError
from bmstats.engine.cox import build_problem, robust_covariance
from bmstats.engine.finegray import build_fine_gray
from bmstats.engine.source import Source
from bmstats.estimate._regression import (
    blank, chi2_test, coefficient_table, invert_information, newton_raphson, tests_frame, wald_statistic,
)

ROWS_NEEDED = ("{what} needs the rows of the data, which stay in the engine for a model fitted on {source}; "
               "fit the model on a pandas DataFrame (a sample, or the rows you need) for {what}")


def rows_needed(result, what: str) -> None:
    """The package's error for a method that needs rows, on a result fitted on an engine."""
    raise InputError(ROWS_NEEDED.format(what=what, source=result.engine or "an engine"))


def cox_on_engine(src: Source, time: str, event: str, formula: str, *, strata: tuple, cluster, entry, weights,
                  ties: str, robust, conf_level: float, dropna: bool, tol: float, max_iter: int):
    from bmstats.estimate.cox import CoxResult

    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    problem = build_problem(src, time, event, formula, strata=strata, entry=entry, weights=weights,
                            cluster=cluster, ties=ties, dropna=dropna)
    names = problem.design.columns
    p = problem.p
    if robust is None:  # as coxph: robust with a cluster or with non-integer case weights
        robust = cluster is not None or (weights is not None and _non_integer(src, weights, problem.where))
    fit = newton_raphson(problem.evaluate, np.zeros(p), names, tol=tol, max_iter=max_iter, model="cox",
                         spread=problem.bounds[:, 1] - problem.bounds[:, 0], loglik=problem.loglik,
                         loglik_many=problem.loglik_many, split=(problem.gradient, problem.information))
    ne = fit.not_estimable
    naive = invert_information(fit.information, names, ne)
    ll0, u0, i0 = fit.initial
    score_stat = float(u0 @ np.linalg.solve(i0, u0))
    cov = robust_covariance(problem, fit.beta, naive, cluster) if robust else naive
    wald = wald_statistic(fit.beta, cov, ne) if ne else float(fit.beta @ np.linalg.solve(cov, fit.beta))
    if ne:
        cov, naive = blank(cov, ne), blank(naive, ne)
    tests = tests_frame([chi2_test("likelihood_ratio", 2 * (fit.loglik - ll0), p), chi2_test("wald", wald, p),
                         chi2_test("score", score_stat, p)])
    summary = coefficient_table(names, fit.beta, cov, conf_level, naive_cov=naive if robust else None,
                                not_estimable=ne)
    levels = tuple(lab if len(strata) > 1 else lab[0] for lab in problem.strata_labels) if strata else ("all",)
    return CoxResult(
        _summary=summary, _cov=pd.DataFrame(cov, index=names, columns=names),
        _naive_cov=pd.DataFrame(naive, index=names, columns=names), loglik=(ll0, fit.loglik), n=problem.n,
        n_events=problem.n_events, conf_level=conf_level, _tests=tests, ties=ties, robust=bool(robust),
        iterations=fit.iterations, converged=fit.converged, design=problem.design.design, dropped=problem.dropped,
        strata=tuple(strata), strata_levels=levels, _means=pd.Series(problem.means, index=names, name="mean"),
        _model=None, _stop=None, _start=None, _strata_codes=None, engine=src.description)


def _non_integer(src: Source, weights: str, where: str) -> bool:
    q = src.quote(weights)
    row = src.query(f"SELECT COUNT(*) AS n FROM {src.view} WHERE {where} AND {q} <> ROUND({q}, 0)").iloc[0]
    return int(row["n"]) > 0


def fine_gray_on_engine(src: Source, time: str, status: str, formula: str, *, cause: int, cengroup, causes,
                        conf_level: float, dropna: bool, tol: float, max_iter: int):
    from bmstats.estimate.finegray import FineGrayResult

    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    model = build_fine_gray(src, time, status, formula, cause=cause, cengroup=cengroup, causes=causes,
                            dropna=dropna)
    names = model.design.columns
    null: list[float] = []

    def evaluate(beta):
        out = model.evaluate(beta)
        if not null:
            null.append(out[0])
        return out

    fit = newton_raphson(evaluate, np.zeros(model.p), names, tol=tol, max_iter=max_iter,
                         model=f"Fine-Gray (cause {cause})", spread=model.bounds[:, 1] - model.bounds[:, 0],
                         loglik=model.loglik, loglik_many=model.loglik_many,
                         split=(model.gradient, model.information))
    try:
        inv_info = invert_information(fit.information, names, fit.not_estimable) if fit.not_estimable \
            else np.linalg.inv(fit.information)
    except np.linalg.LinAlgError:
        raise InputError("Fine-Gray: information matrix is singular at the estimate (collinear or constant "
                         f"covariates among those at risk: {', '.join(map(repr, names))})") from None
    cov = model.sandwich(fit.beta, inv_info)
    if fit.not_estimable:
        cov = blank(cov, fit.not_estimable)
    index = pd.Index(names, name="term")
    summary = coefficient_table(names, fit.beta, cov, conf_level, not_estimable=fit.not_estimable, ratio="shr")
    prob = model.prob
    shift, sums = model.key_sums(fit.beta)
    s0 = prob.risk_sum(np.ascontiguousarray(sums[:, 0]))
    base = np.cumsum(prob.d / s0) * np.exp(-shift - model.means @ fit.beta)
    counts = model.keys["n"].to_numpy()
    return FineGrayResult(
        _summary=summary, _cov=pd.DataFrame(cov, index=index, columns=index), loglik=float(fit.loglik),
        loglik_null=float(null[0]), _score=np.asarray(fit.score, dtype=float).copy(),
        _information=pd.DataFrame(fit.information, index=index, columns=index), n=model.n,
        n_events=model.n_events, n_competing=int(counts[prob.competing].sum()),
        n_censored=int(counts[prob.censored].sum()), cause=int(cause), converged=bool(fit.converged),
        iterations=int(fit.iterations), _baseline=pd.DataFrame({"time": prob.event_times, "cumulative_hazard": base}),
        conf_level=float(conf_level), cengroup=cengroup, design=model.design.design, dropped=model.dropped,
        _prob=None, _rs=None, _influence=None, engine=src.description)
