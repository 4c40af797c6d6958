"""Pieces shared by the regression results (Cox, cause-specific Cox, Fine-Gray): the coefficient table,
Wald/score/likelihood-ratio tests, and Newton-Raphson with step halving.

``coefficient_table(names, coef, cov, conf_level, robust_cov=None, naive_cov=None)`` gives the tidy summary
indexed by term: coef, se, hr, lower, upper, z, p (Wald, normal), plus ``robust_se`` when a robust variance is
used (then ``se`` is the robust one and ``naive_se`` the model-based one, as R's coxph prints them).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._checks import InputError

SUMMARY_COLUMNS = ["coef", "se", "hr", "lower", "upper", "z", "p"]


class ConvergenceWarning(UserWarning):
    """Newton-Raphson did not converge, or the likelihood is monotone in a covariate."""


def coefficient_table(names, coef, cov, conf_level: float = 0.95, naive_cov=None) -> pd.DataFrame:
    """Tidy table of log hazard ratios: coef, se, hr, lower, upper, z, p (index ``term``).

    When ``naive_cov`` is given, ``cov`` is a robust (sandwich) variance: ``se`` is the robust standard
    error used for the CI and test, ``robust_se`` repeats it and ``naive_se`` is the model-based one.
    """
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level}")
    coef = np.asarray(coef, dtype=float)
    se = np.sqrt(np.diag(np.asarray(cov, dtype=float)))
    q = stats.norm.ppf(0.5 + conf_level / 2)
    z = coef / se
    with np.errstate(over="ignore"):  # a diverging coefficient (already warned about) gives inf, not an error
        table = _table(names, coef, se, q, z)
    if naive_cov is not None:
        table["robust_se"] = se
        table["naive_se"] = np.sqrt(np.diag(np.asarray(naive_cov, dtype=float)))
    return table


def _table(names, coef, se, q, z) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "coef": coef,
            "se": se,
            "hr": np.exp(coef),
            "lower": np.exp(coef - q * se),
            "upper": np.exp(coef + q * se),
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
        },
        index=pd.Index(list(names), name="term"),
    )


@dataclass(frozen=True)
class Test:
    """A chi-square test: statistic, df, p-value."""

    name: str
    statistic: float
    df: int
    p_value: float


def chi2_test(name: str, statistic: float, df: int) -> Test:
    return Test(name, float(statistic), int(df), float(stats.chi2.sf(statistic, df)))


def tests_frame(tests: list[Test]) -> pd.DataFrame:
    return pd.DataFrame(
        [(t.name, t.statistic, t.df, t.p_value) for t in tests], columns=["test", "statistic", "df", "p_value"]
    ).set_index("test")


@dataclass(frozen=True)
class NewtonResult:
    beta: np.ndarray
    loglik: float
    score: np.ndarray
    information: np.ndarray
    iterations: int
    converged: bool
    initial: tuple | None = None  # (loglik, score, information) at beta0


def newton_raphson(
    evaluate: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
    beta0: np.ndarray,
    names: list[str],
    tol: float = 1e-9,
    max_iter: int = 50,
    model: str = "model",
) -> NewtonResult:
    """Maximise a concave log likelihood by Newton-Raphson with step halving (as coxph and crr do).

    ``evaluate(beta) -> (loglik, score, information)``. Stops when the relative change in the log likelihood
    is below ``tol`` and then takes one more full Newton step from the last point (so the coefficients are
    accurate to roughly the square of the tolerance). Warns when it does not converge and when a coefficient
    diverges (monotone likelihood: a covariate separating the events), naming the term.
    """
    beta = np.asarray(beta0, dtype=float).copy()
    ll, u, info = evaluate(beta)
    initial = (ll, u, info)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        new = beta + _solve(info, u, names)
        ll_new, u_new, info_new = evaluate(new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * abs(ll)) and halvings < 30:
            halvings += 1
            new = (new + beta) / 2
            ll_new, u_new, info_new = evaluate(new)
        rel = abs(1 - ll / ll_new) if ll_new != 0 else abs(ll_new - ll)
        beta, ll, u, info = new, ll_new, u_new, info_new
        if rel <= tol:
            converged = True
            break
    if converged:
        # one more Newton step (quadratic convergence) if it does not lower the likelihood
        step = _solve(info, u, names)
        cand = beta + step
        ll_c, u_c, info_c = evaluate(cand)
        if np.isfinite(ll_c) and ll_c >= ll - 1e-12 * abs(ll):
            beta, ll, u, info = cand, ll_c, u_c, info_c
    _warn_monotone(beta, info, names, model)
    if not converged:
        warnings.warn(
            f"{model}: Newton-Raphson did not converge in {max_iter} iterations (relative change in log "
            f"likelihood above {tol}); estimates are unreliable",
            ConvergenceWarning,
            stacklevel=3,
        )
    return NewtonResult(beta, ll, u, info, it, converged, initial)


def _solve(info: np.ndarray, u: np.ndarray, names: list[str]) -> np.ndarray:
    try:
        c = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        # not positive definite: find the term that makes it singular
        d = np.diag(info)
        bad = [n for n, v in zip(names, d) if not v > 0]
        raise InputError(
            "information matrix is singular"
            + (f" for term(s) {', '.join(map(repr, bad))} (no variation among subjects at risk at the event times)"
               if bad else " (collinear covariates among the subjects at risk)")
        ) from None
    y = np.linalg.solve(c, u)
    return np.linalg.solve(c.T, y)


def _warn_monotone(beta: np.ndarray, info: np.ndarray, names: list[str], model: str) -> None:
    try:
        var = np.diag(np.linalg.inv(info))
    except np.linalg.LinAlgError:
        var = np.full(len(beta), np.inf)
    se = np.sqrt(np.abs(var))
    bad = [n for n, b, s in zip(names, beta, se) if abs(b) > 15 or (np.isfinite(s) and s > 1e3 and abs(b) > 5)]
    if bad:
        warnings.warn(
            f"{model}: coefficient(s) for {', '.join(map(repr, bad))} diverging (monotone likelihood: the "
            "covariate separates the events, e.g. no events in one category); hazard ratio and its "
            "confidence interval are not estimable",
            ConvergenceWarning,
            stacklevel=3,
        )


def invert_information(info: np.ndarray, names: list[str]) -> np.ndarray:
    """Variance = inverse information (Cholesky), with an error naming the term if it is singular."""
    try:
        c = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        raise InputError("information matrix is singular at the estimate: collinear or constant covariates "
                         f"among those at risk ({', '.join(names)})") from None
    ci = np.linalg.inv(c)
    return ci.T @ ci
