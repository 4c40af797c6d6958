"""Pieces shared by the regression results (Cox, cause-specific Cox, Fine-Gray): the coefficient table,
Wald/score/likelihood-ratio tests, and Newton-Raphson with step halving.

``coefficient_table(names, coef, cov, conf_level, naive_cov=None, ratio="hr")`` gives the tidy summary
indexed by term: coef, std_err, <ratio>, lower, upper, statistic (Wald z), p_value (normal), plus
``robust_std_err`` and ``naive_std_err`` when a robust variance is used (then ``std_err`` is the robust one
and ``naive_std_err`` the model-based one, as R's coxph prints them).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._checks import InputError
from bmstats._warnings import ConvergenceWarning

def summary_columns(ratio: str = "hr") -> list[str]:
    """The columns of every model summary (docs/api.md), the ratio named for what it is."""
    return ["coef", "std_err", ratio, "lower", "upper", "statistic", "p_value"]


class NotEstimableWarning(ConvergenceWarning):
    """The likelihood is monotone along a coefficient (no finite maximum): that effect is not estimable."""


def coefficient_table(names, coef, cov, conf_level: float = 0.95, naive_cov=None, not_estimable=(),
                      ratio: str = "hr") -> pd.DataFrame:
    """Tidy table of log ratios: coef, std_err, <ratio> (exp(coef)), lower, upper, statistic (z), p_value
    (index ``term``), and ``estimable``.

    When ``naive_cov`` is given, ``cov`` is a robust (sandwich) variance: ``std_err`` is the robust standard
    error used for the CI and test, ``robust_std_err`` repeats it and ``naive_std_err`` is the model-based one.
    ``not_estimable``: positions of coefficients with a monotone likelihood; the column ``estimable`` is
    False there and every quantity but ``coef`` (where the fit stopped) is NaN.
    """
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level}")
    coef = np.asarray(coef, dtype=float)
    se = np.sqrt(np.diag(np.asarray(cov, dtype=float)))
    q = stats.norm.ppf(0.5 + conf_level / 2)
    z = coef / se
    with np.errstate(over="ignore"):  # a diverging coefficient (already warned about) gives inf, not an error
        table = _table(names, coef, se, q, z, ratio)
    if naive_cov is not None:
        table["robust_std_err"] = se
        table["naive_std_err"] = np.sqrt(np.diag(np.asarray(naive_cov, dtype=float)))
    return mark_not_estimable(table, not_estimable)


def mark_not_estimable(table: pd.DataFrame, positions) -> pd.DataFrame:
    """Add the boolean column ``estimable``; rows at ``positions`` keep only ``coef`` (the rest NaN)."""
    table = table.copy()
    estimable = np.ones(len(table), dtype=bool)
    estimable[list(positions)] = False
    values = [c for c in table.columns if c != "coef"]
    table.loc[~estimable, values] = np.nan
    table["estimable"] = estimable
    return table


def _table(names, coef, se, q, z, ratio) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "coef": coef,
            "std_err": se,
            ratio: np.exp(coef),
            "lower": np.exp(coef - q * se),
            "upper": np.exp(coef + q * se),
            "statistic": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
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
    not_estimable: tuple = ()  # positions of coefficients with a monotone likelihood


def newton_raphson(
    evaluate: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
    beta0: np.ndarray,
    names: list[str],
    tol: float = 1e-9,
    max_iter: int = 50,
    model: str = "model",
    spread: np.ndarray | None = None,
    loglik: Callable[[np.ndarray], float] | None = None,
    loglik_many: Callable[[list], np.ndarray] | None = None,
    split: tuple[Callable, Callable] | None = None,
) -> NewtonResult:
    """Maximise a concave log likelihood by Newton-Raphson with step halving (as coxph and crr do).

    ``evaluate(beta) -> (loglik, score, information)``. Stops when the relative change in the log likelihood
    is below ``tol`` and then takes one more full Newton step from the last point (so the coefficients are
    accurate to roughly the square of the tolerance). Warns when it does not converge. With ``spread`` (each
    column's range) the likelihood's profile is checked for coefficients without a finite maximum
    (:func:`bmstats.estimate.monotone.monotone_columns`); they are warned about by name and returned in
    ``not_estimable``.

    ``split = (gradient, information)``, with ``gradient(beta) -> (loglik, score)`` and ``information(beta)``,
    is for a model whose information costs a pass over the data of its own (an engine): the information is
    then not computed at the point where the convergence test passes, and the one more step from there uses
    the information of the point before (a chord step, from within the tolerance of the estimate: its
    error is that point's error times the small change of the information between them, as small as
    Newton's squared error); the information at the estimate itself is computed as always.
    """
    # far out along a diverging effect the sums over- or underflow: such a point is not finite (_finite) and
    # the step is halved, so numpy's floating-point warnings say nothing the fit does not handle
    evaluate = _quietly(evaluate)
    if split is not None:
        split = (_quietly(split[0]), _quietly(split[1]))
    beta = np.asarray(beta0, dtype=float).copy()
    ll, u, info = evaluate(beta)
    initial = (ll, u, info)
    converged = False
    it = 0
    singular = False
    current = True  # info is the information at beta (not that of the point before)

    def at(point):
        if split is None:
            return evaluate(point)
        return (*split[0](point), None)

    for it in range(1, max_iter + 1):
        try:
            new = beta + _solve(info, u, names)
        except InputError:
            if it == 1 or spread is None:
                raise
            # the information vanished on the way out along a diverging effect: judged below, from the profile
            singular = True
            break
        ll_new, u_new, info_new = at(new)
        halvings = 0
        while (not _finite(ll_new, info_new) or ll_new < ll - 1e-12 * abs(ll)) and halvings < 30:
            halvings += 1
            new = (new + beta) / 2
            ll_new, u_new, info_new = at(new)
        rel = abs(1 - ll / ll_new) if ll_new != 0 else abs(ll_new - ll)
        beta, ll, u = new, ll_new, u_new
        if info_new is not None:
            info = info_new
        current = info_new is not None
        if rel <= tol:
            converged = True
            break
        if not current:
            info, current = split[1](beta), True
    if converged and not singular:
        # one more Newton step (quadratic convergence) if it does not lower the likelihood
        try:
            step = _solve(info, u, names)
        except InputError:
            if spread is None:
                raise
            singular = True  # the information was lost on the way out along a diverging effect: the profile
        if not singular:
            cand = beta + step
            ll_c, u_c, info_c = evaluate(cand)
            if _finite(ll_c, info_c) and ll_c >= ll - 1e-12 * abs(ll):
                beta, ll, u, info = cand, ll_c, u_c, info_c
                current = True
    if not current:
        info = split[1](beta)
    not_estimable: tuple = ()
    if spread is not None:
        from bmstats.estimate.monotone import carried_columns, monotone_columns

        # the profile needs only the log likelihood: a model that can compute it alone (an engine) says so
        profile = loglik if loglik is not None else (lambda b: evaluate(b)[0])
        not_estimable = tuple(monotone_columns(profile, beta, info, spread, loglik_many, score=u, value=ll))
        if singular and not not_estimable:
            _solve(info, u, names)  # raises the InputError naming the terms
        converged = converged or singular
        if not_estimable:
            warnings.warn(
                NotEstimableWarning(
                    f"{model}: {', '.join(repr(names[j]) for j in not_estimable)} not estimable: the likelihood "
                    "has no finite maximum along this effect (monotone likelihood, e.g. no events in one category "
                    "or a covariate that orders the events perfectly); its ratio, interval and p-value are not "
                    "reported",
                    converged=converged,
                ),
                stacklevel=3,
            )
            carried = carried_columns(evaluate, beta, info, spread, not_estimable)
            if carried:
                warnings.warn(
                    NotEstimableWarning(
                        f"{model}: {', '.join(repr(names[j]) for j in carried)} not estimable either: their "
                        f"information vanishes as {', '.join(repr(names[j]) for j in not_estimable)} diverges "
                        "(the diverging effect orders the events), so their estimates only say where the fit "
                        "stopped; their ratio, interval and p-value are not reported",
                        converged=converged,
                    ),
                    stacklevel=3,
                )
                not_estimable = tuple(sorted((*not_estimable, *carried)))
    if not converged:
        warnings.warn(
            ConvergenceWarning(
                f"{model}: Newton-Raphson did not converge in {max_iter} iterations (relative change in log "
                f"likelihood above {tol}); estimates are unreliable",
                converged=False,
            ),
            stacklevel=3,
        )
    return NewtonResult(beta, ll, u, info, it, converged, initial, not_estimable)


def _quietly(f: Callable) -> Callable:
    def call(*args):
        with np.errstate(all="ignore"):
            return f(*args)

    return call


def _finite(loglik: float, information: np.ndarray | None) -> bool:
    """A point Newton-Raphson may move to: its log likelihood and (when computed) its information are finite
    (far out along a diverging effect the risk-set sums underflow before the likelihood says so)."""
    return bool(np.isfinite(loglik)) and (information is None or bool(np.all(np.isfinite(information))))


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


def warn_diverging(names, beta, se, model: str, converged: bool, ratio: str = "hazard ratio",
                   stacklevel: int = 3) -> None:
    """NotEstimableWarning naming the coefficients that run off to infinity (monotone likelihood), for fits
    (statsmodels GLMs) that do not detect it themselves."""
    bad = [n for n, b, s in zip(names, beta, se) if abs(b) > 15 or (np.isfinite(s) and s > 1e3 and abs(b) > 5)]
    if bad:
        warnings.warn(
            NotEstimableWarning(
                f"{model}: coefficient(s) for {', '.join(map(repr, bad))} diverging (monotone likelihood: the "
                f"covariate separates the events, e.g. no events in one category); {ratio} and its "
                "confidence interval are not estimable",
                converged=converged,
            ),
            stacklevel=stacklevel,
        )


def invert_information(info: np.ndarray, names: list[str], not_estimable=()) -> np.ndarray:
    """Variance = inverse information (Cholesky), with an error naming the term if it is singular.

    ``not_estimable``: positions of coefficients with a monotone likelihood; the others get the inverse of
    their own block (their variance with the diverging effects held at their limit) and the rows and
    columns of the diverging ones are 0 (so that sandwich products leave them out; see :func:`blank`).
    """
    if len(not_estimable):
        keep = [j for j in range(len(names)) if j not in set(not_estimable)]
        out = np.zeros_like(info)
        if keep:
            try:
                out[np.ix_(keep, keep)] = invert_information(info[np.ix_(keep, keep)], [names[j] for j in keep])
            except InputError:
                gone = ", ".join(repr(names[j]) for j in not_estimable)
                raise InputError(
                    f"with {gone} not estimable (a monotone likelihood), the information left on "
                    f"{', '.join(repr(names[j]) for j in keep)} is singular: along the diverging effect the "
                    "events' risk sets shrink to the events themselves, so the data say nothing more; fit "
                    f"the model without {gone} (or with a penalised likelihood)") from None
        return out
    try:
        c = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        raise InputError("information matrix is singular at the estimate: collinear or constant covariates "
                         f"among those at risk ({', '.join(names)})") from None
    ci = np.linalg.inv(c)
    return ci.T @ ci


def blank(cov: np.ndarray, not_estimable) -> np.ndarray:
    """``cov`` with NaN in the rows and columns of the coefficients that are not estimable."""
    cov = np.array(cov, dtype=float, copy=True)
    positions = list(not_estimable)
    cov[positions, :] = np.nan
    cov[:, positions] = np.nan
    return cov


def wald_statistic(beta: np.ndarray, cov: np.ndarray, not_estimable=()) -> float:
    """beta' cov^-1 beta over the estimable coefficients."""
    keep = [j for j in range(len(beta)) if j not in set(not_estimable)]
    b = beta[keep]
    return float(b @ np.linalg.solve(cov[np.ix_(keep, keep)], b)) if keep else float("nan")
