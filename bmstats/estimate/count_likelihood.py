"""Poisson and negative binomial log likelihoods with a log person-time offset, from sums over rows.

Both rate models need the rows only through sums, so that the same Newton iterations serve rows in memory
and rows inside an engine (one aggregate query per step).  With mu_i = pt_i exp(x_i'b):

- Poisson: loglik = b'sum(y x) + sum(y log pt) - sum(mu) - sum(log y!), score = sum((y - mu) x), information
  = sum(mu x x') (McCullagh & Nelder 1989);
- negative binomial (Var y = mu + mu^2 / theta; Venables & Ripley 2002, section 7.4): loglik = sum[lgamma(theta
  + y) - lgamma(theta) - log y! + theta log theta + y log mu - (theta + y) log(theta + mu)], maximised jointly
  in (b, log theta).  The terms in y alone (lgamma, digamma, trigamma of theta + y) come from the frequency
  table of the counts, which is small: the rest are sums of functions of (y, mu) over rows.

:func:`maximise` is Newton-Raphson with step halving on such an ``evaluate``; it stops when the step is below
1e-11 relative and takes one more, so the estimates are those of the maximum to rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
from scipy import special

from bmstats._checks import InputError

MAX_LOG_THETA = 30.0  # theta above e^30: the data show no overdispersion


@dataclass(frozen=True)
class CountTable:
    """Frequency table of the counts: the distinct values and how many rows have each."""

    values: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> float:
        return float(self.counts.sum())

    def total(self) -> float:
        return float(self.counts @ self.values)

    def log_factorials(self) -> float:
        """sum over rows of log y!"""
        return float(self.counts @ special.gammaln(self.values + 1))

    def y_log_y(self) -> float:
        return float(self.counts @ special.xlogy(self.values, self.values))

    def theta_terms(self, theta: float) -> tuple[float, float, float]:
        """sum over rows of lgamma(theta + y), digamma(theta + y), trigamma(theta + y)."""
        v = theta + self.values
        return (float(self.counts @ special.gammaln(v)), float(self.counts @ special.digamma(v)),
                float(self.counts @ special.polygamma(1, v)))

    def plus_theta_log(self, theta: float) -> float:
        """sum over rows of (y + theta) log(y + theta)."""
        v = theta + self.values
        return float(self.counts @ (v * np.log(v)))


def count_table(y: np.ndarray) -> CountTable:
    values, counts = np.unique(y, return_counts=True)
    return CountTable(values.astype(float), counts.astype(float))


@dataclass(frozen=True)
class NegBinSums:
    """Row sums at (b, theta) that the negative binomial likelihood needs (mu = pt exp(x'b)):
    ``log_sum`` = sum (theta + y) log(theta + mu); ``score`` = sum x theta (y - mu) / (theta + mu);
    ``info`` = sum x x' (theta + y) mu theta / (theta + mu)^2; ``cross`` = sum x mu (y - mu) / (theta + mu)^2;
    ``b_sum`` = sum [log(theta + mu) + (theta + y) / (theta + mu)]; ``c_sum`` = sum [(theta + y) / (theta + mu)^2
    - 2 / (theta + mu)]; ``fisher`` = sum x x' mu theta / (theta + mu) (the GLM's weights)."""

    log_sum: float
    score: np.ndarray
    info: np.ndarray
    cross: np.ndarray
    b_sum: float
    c_sum: float
    fisher: np.ndarray


def negbin_rows(y: np.ndarray, X: np.ndarray, offset: np.ndarray, beta: np.ndarray, theta: float) -> NegBinSums:
    """:class:`NegBinSums` computed over rows in memory."""
    mu = np.exp(X @ beta + offset)
    tm = theta + mu
    ty = theta + y
    w_info = ty * mu * theta / tm ** 2
    return NegBinSums(float(np.sum(ty * np.log(tm))), X.T @ (theta * (y - mu) / tm), (X * w_info[:, None]).T @ X,
                      X.T @ (mu * (y - mu) / tm ** 2), float(np.sum(np.log(tm) + ty / tm)),
                      float(np.sum(ty / tm ** 2 - 2 / tm)), (X * (mu * theta / tm)[:, None]).T @ X)


def negbin_evaluate(sums: Callable[[np.ndarray, float], NegBinSums], table: CountTable, syx: np.ndarray,
                    sy_log_pt: float):
    """``evaluate(params) -> (loglik, score, information, sums)`` in params = (b, log theta), from ``sums``
    (rows in memory or an engine query), the count table, sum(y x) and sum(y log pt)."""
    n = table.n

    def evaluate(params: np.ndarray):
        beta, alpha = params[:-1], float(params[-1])
        if alpha > MAX_LOG_THETA:
            raise InputError("negative binomial: theta goes to infinity (no overdispersion); use family='poisson'")
        theta = float(np.exp(alpha))
        s = sums(beta, theta)
        lg, dg, tg = table.theta_terms(theta)
        ll = (lg - n * special.gammaln(theta) - table.log_factorials() + n * theta * np.log(theta)
              + float(beta @ syx) + sy_log_pt - s.log_sum)
        g_theta = dg - n * special.digamma(theta) + n * np.log(theta) + n - s.b_sum
        h_theta = tg - n * special.polygamma(1, theta) + n / theta + s.c_sum
        p = len(beta)
        score = np.empty(p + 1)
        score[:p], score[p] = s.score, theta * g_theta
        info = np.empty((p + 1, p + 1))
        info[:p, :p] = s.info
        info[:p, p] = info[p, :p] = -theta * s.cross
        info[p, p] = -(theta * theta * h_theta + theta * g_theta)
        return float(ll), score, info, s

    return evaluate


def maximise(evaluate, start: np.ndarray, *, max_iter: int = 100, tol: float = 1e-11):
    """Newton-Raphson with step halving: (params, loglik, last evaluation, iterations, converged).

    ``evaluate(params) -> (loglik, score, information, extra)``.  Where the information is not positive
    definite (far from the maximum) it is made so by adding to its diagonal (Levenberg's damping)."""
    params = np.asarray(start, dtype=float).copy()
    ll, u, info, extra = evaluate(params)
    for it in range(1, max_iter + 1):
        step = _ascent_step(info, u)
        new = params + step
        halvings = 0
        while True:
            try:
                out = evaluate(new)
            except FloatingPointError:
                out = None
            if out is not None and np.isfinite(out[0]) and out[0] >= ll - 1e-12 * abs(ll):
                break
            halvings += 1
            if halvings > 40:
                return params, ll, (ll, u, info, extra), it, False
            step = step / 2
            new = params + step
        flat = abs(out[0] - ll) <= 1e-15 * abs(ll)  # along a diverging effect the likelihood only levels off
        params, (ll, u, info, extra) = new, out
        if flat or np.max(np.abs(step) / np.maximum(1.0, np.abs(params))) < tol:
            # one more full step: quadratic convergence takes the estimates to rounding
            final = params + _ascent_step(info, u)
            out = evaluate(final)
            if np.isfinite(out[0]) and out[0] >= ll - 1e-12 * abs(ll):
                params, (ll, u, info, extra) = final, out
            return params, ll, (ll, u, info, extra), it, True
    return params, ll, (ll, u, info, extra), max_iter, False


def _ascent_step(info: np.ndarray, u: np.ndarray) -> np.ndarray:
    damp = 0.0
    scale = float(np.max(np.abs(np.diag(info)))) or 1.0
    for _ in range(60):
        try:
            c = np.linalg.cholesky(info + damp * np.eye(len(u)))
            return np.linalg.solve(c.T, np.linalg.solve(c, u))
        except np.linalg.LinAlgError:
            damp = scale * 1e-8 if damp == 0 else damp * 10
    raise InputError("information matrix is singular (collinear or constant covariates)")


class MemoryRows:
    """The row sums of rows in memory: counts ``y``, design ``X``, offset log(pt)."""

    def __init__(self, y: np.ndarray, X: np.ndarray, offset: np.ndarray):
        self.y, self.X, self.offset = y, X, offset
        self.table = count_table(y)
        self.syx = X.T @ y
        self.sy_log_pt = float(y @ offset)
        self.person_time = float(np.exp(offset).sum())

    def poisson(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(sum mu, sum mu x, sum mu x x')."""
        mu = np.exp(self.X @ beta + self.offset)
        return float(mu.sum()), self.X.T @ mu, (self.X * mu[:, None]).T @ self.X

    def negbin(self, beta: np.ndarray, theta: float) -> NegBinSums:
        return negbin_rows(self.y, self.X, self.offset, beta, theta)

    def negbin_null(self, b0: float, theta: float) -> NegBinSums:
        """The sums of the intercept-only model (with the offset)."""
        return negbin_rows(self.y, np.ones((len(self.y), 1)), self.offset, np.array([b0]), theta)


@dataclass(frozen=True)
class CountFit:
    """What a rate model reports, computed from row sums at the maximum."""

    coef: np.ndarray
    cov: np.ndarray
    theta: float | None
    theta_se: float | None
    loglik: float
    deviance: float
    null_deviance: float
    converged: bool
    iterations: int


def poisson_evaluate(rows):
    t = rows.table
    log_fact = t.log_factorials()

    def evaluate(beta: np.ndarray):
        s_mu, s_mux, s_muxx = rows.poisson(beta)
        ll = float(beta @ rows.syx) + rows.sy_log_pt - s_mu - log_fact
        return ll, rows.syx - s_mux, s_muxx, s_mu
    return evaluate


def poisson_fit(rows, start: np.ndarray) -> CountFit:
    """Poisson maximum likelihood from ``start``, with the deviances glm reports."""
    beta, ll, (_, _, info, s_mu), it, converged = maximise(poisson_evaluate(rows), start)
    t = rows.table
    y_total, pt = t.total(), rows.person_time
    deviance = 2 * (t.y_log_y() - float(beta @ rows.syx) - rows.sy_log_pt - y_total + s_mu)
    # the intercept-only model has mu_i = pt_i Y / PT
    null = 2 * (t.y_log_y() - rows.sy_log_pt - float(special.xlogy(y_total, y_total / pt)))
    return CountFit(beta, _inverse(info), None, None, ll, deviance, null, converged, it)


def negbin_fit(rows, start: np.ndarray, theta: float) -> CountFit:
    """Negative binomial maximum likelihood in (b, log theta) from (``start``, ``theta``): glm.nb's estimates,
    standard errors from the GLM's information at the ML theta, its deviances, and the standard error of theta
    from the observed information at fixed means."""
    t = rows.table
    evaluate = negbin_evaluate(rows.negbin, t, rows.syx, rows.sy_log_pt)
    params, ll, (_, _, _, _), it, converged = maximise(evaluate, np.r_[start, np.log(theta)])
    beta, theta = params[:-1], float(np.exp(params[-1]))
    s = rows.negbin(beta, theta)
    _, _, tg = t.theta_terms(theta)
    n = t.n
    h_theta = tg - n * special.polygamma(1, theta) + n / theta + s.c_sum
    theta_se = float(1 / np.sqrt(-h_theta)) if h_theta < 0 else float("nan")
    fixed = t.y_log_y() - t.plus_theta_log(theta)
    deviance = 2 * (fixed - float(beta @ rows.syx) - rows.sy_log_pt + s.log_sum)
    # the intercept-only model at the same theta (as glm's null deviance)
    y_total = t.total()

    def null_evaluate(b: np.ndarray):
        z = rows.negbin_null(float(b[0]), theta)
        return -z.log_sum + float(b[0]) * y_total, z.score, z.info, z
    b0, _, (_, _, _, z), _, _ = maximise(null_evaluate, np.array([np.log(max(y_total, 1e-12) / rows.person_time)]))
    null = 2 * (fixed - float(b0[0]) * y_total - rows.sy_log_pt + z.log_sum)
    return CountFit(beta, _inverse(s.fisher), theta, theta_se, ll, deviance, null, converged, it)


def _inverse(info: np.ndarray) -> np.ndarray:
    """The inverse information; its pseudo-inverse (as statsmodels' GLM) when a diverging effect makes it
    singular (the rate ratio is then warned about as not estimable)."""
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)
