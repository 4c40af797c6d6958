"""Event-rate regression: Poisson and negative binomial GLMs with a log person-time offset.

log E[events] = log(person_time) + X beta, so exp(beta) are rate ratios.  The fits are statsmodels GLMs
(IRLS).  The negative binomial dispersion follows ``MASS::glm.nb`` (Venables & Ripley 2002, section
7.4): Var Y = mu + mu^2 / theta, theta estimated by maximum likelihood, alternating a GLM fit at fixed
theta with a one-dimensional maximisation of the likelihood in theta at fixed mu until the log likelihood
no longer changes; coefficients, standard errors (the GLM's, at the ML theta, dispersion 1), deviance
and AIC (counting theta as a parameter) are those glm.nb reports, and the standard error of theta is
from the observed information at fixed mu.  Wald confidence limits (``confint.default`` in R).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, special

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, describe_rows, fail, numeric_array, require_columns, require_frame
from bmstats._deprecation import legacy_arguments, renamed_attribute
from bmstats._warnings import ConvergenceWarning, reissue_fit_warnings
from bmstats.engine import engine_source, is_engine_data
from bmstats.estimate._regression import coefficient_table, warn_diverging
from bmstats.estimate._result import ModelResult
from bmstats.estimate.count_likelihood import CountFit, MemoryRows, negbin_fit, poisson_fit
from bmstats.estimate.prepare import prepare

FAMILIES = ("poisson", "negative_binomial")


@dataclass(frozen=True, repr=False)
class RateRegression(ModelResult):
    """A fitted rate model.  ``summary``: index term; coef (log rate ratio), std_err, rate_ratio, lower,
    upper, statistic (z), p_value.  ``theta``/``theta_se``: negative binomial dispersion (None for Poisson).
    ``n_events``: the total count, ``person_time`` the total person-time."""

    family: str
    theta: float | None
    theta_se: float | None
    loglik: float
    aic: float
    deviance: float
    null_deviance: float
    df_residual: int
    person_time: float
    engine: str | None = None  # the source, when fitted on an engine (the rows stayed there)

    ratio_name = "rate_ratio"

    @property
    def events(self) -> int:
        """Deprecated: ``n_events``."""
        renamed_attribute("RateRegression", "events", "n_events")
        return self.n_events

    @property
    def reference_levels(self) -> dict:
        return dict(self.design.reference_levels)

    @property
    def _title(self) -> str:  # type: ignore[override]
        return "Negative binomial rate regression" if self.family == "negative_binomial" else "Poisson rate regression"

    def _notes(self) -> list[str]:
        notes = [f"n = {self.n}, events = {self.n_events}, person-time = {self.person_time:g}; "
                 f"deviance = {self.deviance:.4g} on {self.df_residual} df, AIC = {self.aic:.4g}"]
        if self.theta is not None:
            notes.append(f"theta = {self.theta:.4g} (se {self.theta_se:.3g})")
        if self.engine:
            notes.append(f"fitted on an engine ({self.engine})")
        return notes

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_forest(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("Forest plot of the rate ratios with their confidence limits", "plot_forest")


def _nb_loglik(y: np.ndarray, mu: np.ndarray, theta: float) -> float:
    return float(np.sum(special.gammaln(theta + y) - special.gammaln(theta) - special.gammaln(y + 1)
                        + theta * np.log(theta) + special.xlogy(y, mu) - (theta + y) * np.log(theta + mu)))


def _theta_ml(y: np.ndarray, mu: np.ndarray, start: float) -> float:
    """Maximise the negative binomial log likelihood in theta at fixed means (on the log scale)."""

    def score(log_t: float) -> float:
        t = np.exp(log_t)
        return float(np.sum(special.digamma(t + y) - special.digamma(t) + np.log(t) + 1
                            - np.log(t + mu) - (t + y) / (t + mu))) * t

    # the score is positive below the maximum and negative above it: widen until it changes sign
    lo, hi = np.log(start) - 1.0, np.log(start) + 1.0
    for _ in range(60):
        if score(lo) < 0:
            lo -= 2.0
        elif score(hi) > 0:
            hi += 2.0
        else:
            break
    if score(hi) > 0:  # likelihood increasing without bound: no overdispersion
        raise InputError("negative binomial: theta goes to infinity (no overdispersion); use family='poisson'")
    return float(np.exp(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-14)))


def _theta_se(y: np.ndarray, mu: np.ndarray, theta: float) -> float:
    info = -np.sum(special.polygamma(1, theta + y) - special.polygamma(1, theta) + 1 / theta
                   - 2 / (theta + mu) + (y + theta) / (theta + mu) ** 2)
    return float(1 / np.sqrt(info)) if info > 0 else float("nan")


def _glm(y, X, offset, family, model: str):
    """IRLS fit; statsmodels' convergence warnings come out as ConvergenceWarning, and so does a fit that
    stops at the iteration limit without a warning of its own."""
    with reissue_fit_warnings(model, stacklevel=5) as issued:
        fit = sm.GLM(y, X, family=family, offset=offset).fit(tol=1e-12, maxiter=200)
    if not fit.converged and not any(not w.converged for w in issued):
        warnings.warn(ConvergenceWarning(f"{model}: IRLS did not converge in 200 iterations; estimates are "
                                         "unreliable", converged=False), stacklevel=3)
    return fit


@legacy_arguments(positional=("family", "conf_level", "dropna", "id"))
def rate_regression(
    data: pd.DataFrame,
    events: str,
    person_time: str,
    formula: str,
    *,
    family: str = "poisson",
    conf_level: float = 0.95,
    dropna: bool = False,
    id: str | None = None,
) -> RateRegression:
    """Rate ratios from a Poisson or negative binomial model with offset log(person_time).

    log E[events] = log(person_time) + x'b, Var = mu (Poisson) or mu + mu^2 / theta (negative binomial,
    theta by maximum likelihood). Matches R's ``glm(events ~ formula + offset(log(person_time)), poisson)``
    and ``MASS::glm.nb``.

    Parameters
    ----------
    data : pandas.DataFrame, path, DuckDB relation, polars or pyspark DataFrame
        One row per subject or aggregated stratum. A path to Parquet or CSV files, a DuckDB relation, a
        polars or a Spark DataFrame stays in its engine: each Newton step is one aggregate query
        (docs/scale.md), and the numbers are the in-memory path's.
    events : str
        Column of non-negative integer event counts.
    person_time : str
        Column of positive follow-up; rates are per its unit.
    formula : str
        Right-hand side in Wilkinson syntax (``"C(group) + age"``).
    family : {"poisson", "negative_binomial"}, default "poisson"
        The count distribution.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.
    id : str, optional
        Column of subject ids, so that errors name the subject as well as the row.

    Returns
    -------
    RateRegression
        ``.summary`` (term: coef, std_err, rate_ratio, lower, upper, statistic, p_value), ``.theta``,
        ``.converged``; a :class:`~bmstats.ConvergenceWarning` when a fit does not converge or a rate ratio
        diverges.

    References
    ----------
    .. [1] Venables WN, Ripley BD. Modern Applied Statistics with S, 4th ed. Springer 2002, section 7.4.
    .. [2] McCullagh P, Nelder JA. Generalized Linear Models, 2nd ed. Chapman & Hall 1989.
    """
    if family not in FAMILIES:
        raise InputError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1; got {conf_level!r}")
    if is_engine_data(data):
        from bmstats.engine.rate_regression import rate_regression_on_engine

        return rate_regression_on_engine(engine_source(data), events, person_time, formula, family=family,
                                         conf_level=conf_level, dropna=dropna, id=id)
    if id is not None:
        require_columns(require_frame(data), [id])
    prep = prepare(data, formula, columns=[events, person_time], intercept=True, dropna=dropna)
    design, dropped = prep.design, prep.dropped
    data = prep.frame.join(data.loc[prep.rows, [id]]) if id is not None and id not in prep.frame else prep.frame
    y = numeric_array(data, events)
    bad = ~np.isfinite(y) | (y < 0) | (y != np.round(y))
    if bad.any():
        _fail(events, "event counts must be non-negative integers", data, bad, id)
    if not y.any():  # the Poisson MLE of the intercept is -infinity: IRLS would fail on a NaN deviance
        raise InputError(f"column {events!r}: no events (every count is 0), so the rates cannot be modelled")
    pt = numeric_array(data, person_time)
    bad = ~np.isfinite(pt) | (pt <= 0)
    if bad.any():
        rule = "person-time must be positive" + (" (negative values found)" if (pt < 0).any() else "")
        _fail(person_time, rule, data, bad, id)
    X = design.values()
    names = design.columns
    offset = np.log(pt)

    model = f"rate_regression ({family})"
    rows = MemoryRows(y, X, offset)
    if family == "poisson":
        fit = _glm(y, X, offset, sm.families.Poisson(), model)
        # polished to the maximum by the Newton iterations that the engine path runs on the same sums
        result = poisson_fit(rows, np.asarray(fit.params, dtype=float))
    else:
        # start as glm.nb does: Poisson fit, then theta at its means
        fit = _glm(y, X, offset, sm.families.Poisson(), model)
        mu = fit.fittedvalues
        theta = _theta_ml(y, mu, start=max(np.mean(mu) ** 2 / max(np.var(y) - np.mean(mu), 1e-8), 1e-3))
        loglik = -np.inf
        converged = False
        for _ in range(100):
            fit = _glm(y, X, offset, sm.families.NegativeBinomial(alpha=1 / theta), model)
            mu = fit.fittedvalues
            theta = _theta_ml(y, mu, start=theta)
            new = _nb_loglik(y, mu, theta)
            if abs(new - loglik) < 1e-12 * max(1.0, abs(new)):
                loglik = new
                converged = True
                break
            loglik = new
        if not converged:
            warnings.warn(ConvergenceWarning(f"{model}: the alternation of theta and the GLM fit did not converge "
                                             "in 100 rounds; estimates are unreliable", converged=False),
                          stacklevel=2)
        fit = _glm(y, X, offset, sm.families.NegativeBinomial(alpha=1 / theta), model)
        # the alternation ends near the joint maximum; Newton steps in (b, log theta) end at it
        result = negbin_fit(rows, np.asarray(fit.params, dtype=float), theta)
    converged = bool(fit.converged) and result.converged and (family == "poisson" or converged)
    return rate_result(result, family=family, names=names, n=len(y), n_events=int(y.sum()),
                       person_time=float(pt.sum()), converged=converged, conf_level=conf_level, design=design,
                       dropped=dropped, model=model)


def rate_result(fit: CountFit, *, family: str, names: list, n: int, n_events: int, person_time: float,
                converged: bool, conf_level: float, design, dropped, model: str, engine: str | None = None):
    """The result from a :class:`~bmstats.estimate.count_likelihood.CountFit` (rows in memory or in an
    engine): warns about diverging rate ratios, as glm's fits do not."""
    coef, cov = fit.coef, fit.cov
    slopes = [i for i, name in enumerate(names) if name != "Intercept"]  # a rare event has a large intercept
    warn_diverging([names[i] for i in slopes], coef[slopes], np.sqrt(np.abs(np.diag(cov)))[slopes], model, converged,
                   ratio="rate ratio", stacklevel=4)
    table = coefficient_table(names, coef, cov, conf_level, ratio="rate_ratio")
    n_par = len(names) + (1 if fit.theta is not None else 0)
    return RateRegression(
        _summary=table,
        _cov=pd.DataFrame(cov, index=names, columns=names),
        family=family,
        theta=fit.theta,
        theta_se=fit.theta_se,
        loglik=fit.loglik,
        aic=-2 * fit.loglik + 2 * n_par,
        deviance=fit.deviance,
        null_deviance=fit.null_deviance,
        df_residual=n - len(names),
        n=n,
        n_events=n_events,
        converged=converged,
        person_time=person_time,
        conf_level=conf_level,
        design=design,
        dropped=dropped,
        engine=engine,
    )


def _fail(column: str, rule: str, data: pd.DataFrame, bad: np.ndarray, id: str | None) -> None:
    if id is None:
        fail(column, rule, data.index[bad])
    ids = list(dict.fromkeys(data[id].to_numpy()[bad].tolist()))
    shown = ", ".join(map(str, ids[:10])) + (f" (and {len(ids) - 10} more)" if len(ids) > 10 else "")
    raise InputError(f"column {column!r}: {rule}; {id} {shown}; {describe_rows(data.index[bad])}")
