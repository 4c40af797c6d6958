"""Logistic regression for a 0/1 outcome (e.g. bone metastasis present at diagnosis), as R's ``glm(family =
binomial)``.

logit P(y = 1 | x) = x'b; the fit is statsmodels' GLM (IRLS), so coefficients, standard errors, z statistics
and p-values are glm's.  Confidence limits for the odds ratios exp(b):

- ``interval="profile"`` (default): profile-likelihood limits, the values of b_j at which the profile deviance
  D(b_j) = min over the other coefficients of the deviance rises by qchisq(conf_level, 1) above its minimum
  (Venables & Ripley 2002, section 8.4).  R's ``confint`` on a glm (MASS's ``confint.glm``) targets the same
  limits but interpolates a spline through a coarse grid of profile points, so it is off by about 1e-4 in
  the fourth significant digit; here the roots are found exactly (Brent's method on the deviance), and
  agree with the exact roots computed in R to 1e-8.
- ``interval="wald"``: b -+ z se, as R's ``confint.default``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, special, stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, event_array, handle_missing, require_columns, require_frame
from bmstats._warnings import ConvergenceWarning, reissue_fit_warnings
from bmstats.estimate._regression import coefficient_table
from bmstats.estimate._result import ModelResult
from bmstats.estimate.design import Design, design_matrix, formula_variables

__all__ = ["logistic", "LogisticResult"]

SUMMARY_COLUMNS = ["coef", "std_err", "odds_ratio", "lower", "upper", "statistic", "p_value"]
INTERVALS = ("profile", "wald")


@dataclass(frozen=True, repr=False)
class LogisticResult(ModelResult):
    """A fitted logistic model: ``summary`` (index term, Intercept first): coef (log odds ratio), std_err,
    odds_ratio, lower, upper (limits of the odds ratio), statistic (z), p_value."""

    deviance: float = 0.0
    null_deviance: float = 0.0
    aic: float = 0.0
    loglik: float = 0.0
    df_residual: int = 0
    interval: str = "profile"
    design: Design | None = field(default=None, repr=False)

    _title = "Logistic regression"
    ratio_name = "odds_ratio"

    def _notes(self) -> list[str]:
        return [f"n = {self.n}, events = {self.n_events}; residual deviance {self.deviance:.4g} on "
                f"{self.df_residual} df (null {self.null_deviance:.4g}), AIC = {self.aic:.4g}; "
                f"{self.interval} {self.conf_level:.0%} limits"]

    def predict(self, newdata: pd.DataFrame) -> pd.Series:
        """Predicted probabilities P(y = 1 | x) for the rows of ``newdata``."""
        X = self.design.transform(newdata).to_numpy(dtype=float)
        return pd.Series(special.expit(X @ self.coef.to_numpy()), index=newdata.index, name="probability")

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_forest(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("Forest plot of the odds ratios with their confidence limits", "plot_forest")


def logistic(
    data: pd.DataFrame,
    outcome: str,
    formula: str,
    *,
    interval: str = "profile",
    conf_level: float = 0.95,
    dropna: bool = False,
) -> LogisticResult:
    """Fit a logistic regression of a 0/1 outcome.

    Parameters
    ----------
    data : DataFrame, one row per patient.
    outcome : 0/1 (or boolean) column.
    formula : right-hand side in Wilkinson syntax (``"C(subtype) + age"``); an intercept is always included.
    interval : "profile" (profile-likelihood limits, as R's ``confint`` on a glm) or "wald".
    conf_level : confidence level of the limits.
    dropna : drop (and count) rows with missing values in the outcome or the formula's columns.

    Returns
    -------
    LogisticResult; ``.summary`` has the Intercept row first, then the terms.

    References
    ----------
    McCullagh P, Nelder JA (1989) Generalized Linear Models, 2nd ed.  Venables WN, Ripley BD (2002) Modern
    Applied Statistics with S, 4th ed., section 8.4 (profile likelihood).  R: ``glm(y ~ x, family =
    binomial)``, ``confint``, ``confint.default``.
    """
    require_frame(data)
    if interval not in INTERVALS:
        raise InputError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    if not (isinstance(conf_level, (int, float)) and 0 < conf_level < 1):
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    if not isinstance(formula, str):
        raise InputError(f"formula must be a string such as 'age + C(subtype)', got {formula!r}")
    require_columns(data, [outcome])
    rhs = formula.split("~", 1)[-1]
    variables = formula_variables(data, rhs)
    data, dropped = handle_missing(data, [outcome, *variables], dropna)
    y = event_array(data, outcome).astype(float)
    if y.sum() in (0, len(y)):
        raise InputError(f"column {outcome!r}: every row is {int(y[0])}; a logistic model needs both outcomes")
    design = design_matrix(data, rhs, intercept=True)
    X = design.values()
    names = design.columns
    # separation and non-convergence are diagnosed below, naming the term; any other warning is passed on
    with reissue_fit_warnings("logistic", diagnosed=("ConvergenceWarning", "PerfectSeparationWarning")):
        fit = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    coef = np.asarray(fit.params, dtype=float)
    cov = np.asarray(fit.cov_params(), dtype=float)
    converged = bool(fit.converged)
    _warn_separation(coef, cov, fit.fittedvalues, names, converged)
    table = coefficient_table(names, coef, cov, conf_level, ratio="odds_ratio")[SUMMARY_COLUMNS]
    if interval == "profile":
        lo, hi = _profile_limits(X, y, coef, np.sqrt(np.diag(cov)), float(fit.deviance), conf_level, names)
        with np.errstate(over="ignore"):
            table["lower"], table["upper"] = np.exp(lo), np.exp(hi)
    loglik = float(fit.llf)
    return LogisticResult(
        _summary=table,
        _cov=pd.DataFrame(cov, index=names, columns=names),
        deviance=float(fit.deviance),
        null_deviance=float(fit.null_deviance),
        aic=-2 * loglik + 2 * len(coef),
        loglik=loglik,
        df_residual=int(round(fit.df_resid)),
        n=len(y),
        n_events=int(y.sum()),
        conf_level=float(conf_level),
        interval=interval,
        converged=converged,
        design=design,
        dropped=dropped,
    )


def _deviance(eta: np.ndarray, y: np.ndarray) -> float:
    return -2 * float(np.sum(y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)))


def _deviance_fixed(Z: np.ndarray, x: np.ndarray, y: np.ndarray, value: float,
                    b: np.ndarray) -> tuple[float, np.ndarray]:
    """Deviance minimised over the coefficients of ``Z`` with offset ``x * value`` (Newton with step
    halving from ``b``; the deviance is convex in them, so the minimum does not depend on the start)."""
    offset = x * value
    dev = _deviance(offset + Z @ b, y)
    for _ in range(100 if Z.shape[1] else 0):
        mu = special.expit(offset + Z @ b)
        w = mu * (1 - mu)
        # far out on the profile the fitted probabilities reach 0 or 1 and the information is singular:
        # a least-squares step keeps going where a solve would fail
        step = np.linalg.lstsq((Z * w[:, None]).T @ Z, Z.T @ (y - mu), rcond=None)[0]
        for _ in range(40):
            new_b = b + step
            new_dev = _deviance(offset + Z @ new_b, y)
            if np.isfinite(new_dev) and new_dev <= dev + 1e-12 * (abs(dev) + 1):
                break
            step = step / 2
        else:
            break
        converged = dev - new_dev <= 1e-13 * (abs(new_dev) + 0.1)
        b, dev = new_b, new_dev
        if converged:
            break
    return dev, b


def _profile_limits(X, y, coef, se, deviance, conf_level, names) -> tuple[np.ndarray, np.ndarray]:
    """Roots of D(b_j) - D_min - qchisq(conf_level, 1) on either side of each estimate (Brent's method,
    bracketed from the Wald limit outwards)."""
    cut = stats.chi2.ppf(conf_level, 1)
    z = np.sqrt(cut)
    lower, upper = np.empty(len(coef)), np.empty(len(coef))
    for j in range(len(coef)):
        Z, x = np.delete(X, j, axis=1), X[:, j]
        for sign, out in ((-1, lower), (1, upper)):
            start = np.delete(coef, j)

            def f(v, Z=Z, x=x, start=start):  # from the estimate each time: a function of v alone
                return _deviance_fixed(Z, x, y, v, start)[0] - deviance - cut

            step = sign * z * max(se[j], 1e-8)
            inner, outer = coef[j], coef[j] + step
            found = False
            for _ in range(20):
                if f(outer) > 0:
                    found = True
                    break
                inner, outer = outer, outer + step
                step *= 1.5
            if not found:
                out[j] = sign * np.inf
                warnings.warn(f"logistic: the profile likelihood of {names[j]!r} does not reach the "
                              f"{conf_level:.0%} cut-off on the {'upper' if sign > 0 else 'lower'} side "
                              "(separation?); that limit is infinite", ConvergenceWarning, stacklevel=3)
                continue
            a, b = sorted((inner, outer))
            try:
                out[j] = optimize.brentq(f, a, b, xtol=1e-13, rtol=1e-13)
            except (ValueError, RuntimeError):  # no sign change, or no convergence (e.g. separation)
                out[j] = np.nan
                warnings.warn(f"logistic: the profile likelihood of {names[j]!r} could not be inverted on the "
                              f"{'upper' if sign > 0 else 'lower'} side (separation?); that limit is missing",
                              ConvergenceWarning, stacklevel=3)
    return lower, upper


def _warn_separation(coef, cov, fitted, names, converged) -> None:
    se = np.sqrt(np.abs(np.diag(cov)))
    extreme = np.mean((fitted < 1e-8) | (fitted > 1 - 1e-8))
    bad = [n for n, b, s in zip(names, coef, se) if abs(b) > 15 or s > 1e3]
    if bad or not converged:
        warnings.warn(ConvergenceWarning(
            "logistic: " + (f"coefficient(s) for {', '.join(map(repr, bad))} diverging (the covariate separates "
                            "the outcomes, e.g. no events in one category); " if bad else "")
            + ("IRLS did not converge; " if not converged else "")
            + f"{extreme:.0%} of fitted probabilities are numerically 0 or 1; odds ratios are not estimable",
            converged=converged), stacklevel=3)
