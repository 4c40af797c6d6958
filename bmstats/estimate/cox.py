"""Cox proportional hazards regression (Cox 1972) by maximum partial likelihood.

Efron (1977) or Breslow (1974) handling of tied event times; strata; case weights; delayed entry and
start-stop (counting-process) data for time-varying covariates and the Andersen-Gill (1982) and
Prentice-Williams-Peterson (1981) recurrent-event models; robust sandwich variance from dfbeta residuals
collapsed by cluster (Lin & Wei 1989), as R's ``coxph(..., cluster = id)``.

Why not lifelines: its CoxPHFitter has Efron ties only, no start-stop model with strata, clusters and weights
together, no cox.zph-equal test, and it sorts inside each iteration. Here one index of the risk sets is built
once (:mod:`bmstats.estimate.riskset`) and each Newton-Raphson iteration costs O(n p^2) with one BLAS
product for the information matrix: ``I = X' diag(w r H) X - sum_k sum_l w_kl a_kl a_kl'`` where ``H_i`` sums
the hazard increments over the event times at which row ``i`` is at risk (no n x p x p array is formed).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, beyond_follow_up, distinct_labels, require_columns, time_points
from bmstats._deprecation import legacy_arguments
from bmstats.engine import engine_source, is_engine_data
from bmstats.estimate._regression import (
    blank,
    chi2_test,
    coefficient_table,
    invert_information,
    newton_raphson,
    tests_frame,
    wald_statistic,
)
from bmstats.estimate._result import ModelResult, frozen_copy
from bmstats.estimate.design import CHUNK_ROWS, Design, single_threaded_blas, strata_terms, weighted_gram
from bmstats.estimate.prepare import prepare
from bmstats.estimate.riskset import RiskSets, concordance_counts, risk_sets, tie_exact_linear_predictor

__all__ = ["cox", "CoxResult"]

_single_threaded_blas = single_threaded_blas  # the name other modules import (now shared, in design.py)


@dataclass(frozen=True)
class _CoxModel:
    """Arrays of one fit: design, centring, risk sets, weights; evaluates the partial likelihood.

    ``raw`` is the design's own (p, n) block (a read-only view, not a copy); the centred design ``XT`` is made
    from it on first use and dropped by :meth:`release` once the fit is done (made again, bit for bit, when a
    prediction or test needs it), so that a result does not keep a second n x p copy.
    """

    raw: np.ndarray  # the design transposed, (p, n) C-contiguous: per-covariate rows are fast to sum
    means: np.ndarray
    w: np.ndarray
    rs: RiskSets
    ties: str

    @functools.cached_property
    def XT(self) -> np.ndarray:
        """The centred design (p, n), C-contiguous."""
        return self.raw - self.means[:, None]

    def release(self) -> None:
        """Drop the centred copy (n x p floats); :attr:`XT` makes it again when needed."""
        self.__dict__.pop("XT", None)

    def _tie_steps(self):
        rs = self.rs
        wd = rs.death_sum(self.w)
        if self.ties == "efron":
            d = rs.n_deaths
            rep = np.repeat(np.arange(rs.K), d)
            first = np.concatenate([[0], np.cumsum(d)[:-1]])
            frac = (np.arange(len(rep)) - first[rep]) / d[rep]
            omega = (wd / np.maximum(d, 1))[rep]
        else:
            rep = np.arange(rs.K)
            frac = np.zeros(rs.K)
            omega = wd
        return rep, frac, omega, wd

    @functools.cached_property
    def steps(self):
        return self._tie_steps()

    @functools.cached_property
    def death_w(self) -> np.ndarray:
        """The weights of the event rows."""
        return self.w[self.rs.event_rows]

    @functools.cached_property
    def unit_weights(self) -> bool:
        return bool(np.all(self.w == 1))

    @functools.cached_property
    def death_wx(self) -> np.ndarray:
        """sum over event rows of w x (constant in beta)."""
        ev = self.rs.event_rows
        return self.X[ev].T @ self.w[ev]

    def _risk_and_death_sums_x(self, wr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """S1 and D1, (K, p): risk-set and death sums of x wr, column by column (no n x p temporary)."""
        rs = self.rs
        XT = self.XT
        ev = rs.event_rows
        wr_ev = wr[ev]
        S1 = np.empty((rs.K, XT.shape[0]))
        D1 = np.empty((rs.K, XT.shape[0]))
        for j in range(XT.shape[0]):
            S1[:, j] = rs.risk_sum(XT[j] * wr)
            D1[:, j] = np.bincount(rs.event_k, XT[j, ev] * wr_ev, minlength=rs.K)
        return S1, D1

    def parts(self, beta: np.ndarray):
        """Risk-set quantities at ``beta`` (Efron steps l within each tied event time k)."""
        rs = self.rs
        rep, frac, omega, wd = self.steps
        eta = self.X @ beta
        shift = eta.max()
        r = np.exp(eta - shift)
        wr = self.w * r
        S0 = rs.risk_sum(wr)
        S1, D1 = self._risk_and_death_sums_x(wr)
        D0 = rs.death_sum(wr)
        S0l = S0[rep] - frac * D0[rep]
        A = (S1[rep] - frac[:, None] * D1[rep]) / S0l[:, None]
        return eta, shift, r, wr, S0l, A

    @property
    def X(self) -> np.ndarray:
        """The centered design (n, p), a view of ``XT``."""
        return self.XT.T

    def evaluate(self, beta: np.ndarray):
        """Log partial likelihood, score and information at ``beta``.

        The Efron steps are summed in closed form per event time from S0, S1 (risk-set sums) and D0, D1
        (sums over the deaths), e.g. sum_l w_l a_l = S1 c - D1 e with c = sum_l w_l / S0_l and
        e = sum_l w_l f_l / S0_l, so no array larger than (n, p) or (K, p) is formed.
        """
        rs = self.rs
        rep, frac, omega, wd = self.steps
        XT = self.XT
        ev = rs.event_rows
        eta, shift, wr, wr_ev, S0, D0 = self._sums0(beta)
        S1, D1 = self._risk_and_death_sums_x(wr)
        S0l = S0[rep] - frac * D0[rep]
        inv = omega / S0l
        loglik = self._loglik(eta, shift, S0l)
        K = rs.K
        c = np.bincount(rep, inv, minlength=K)
        e = np.bincount(rep, inv * frac, minlength=K)
        score = self.death_wx - (S1.T @ c - D1.T @ e)
        c2 = np.bincount(rep, inv / S0l, minlength=K)
        e2 = np.bincount(rep, inv * frac / S0l, minlength=K)
        f2 = np.bincount(rep, inv * frac * frac / S0l, minlength=K)
        cross = (S1 * e2[:, None]).T @ D1
        info2 = (S1 * c2[:, None]).T @ S1 - cross - cross.T + (D1 * f2[:, None]).T @ D1
        H = rs.at_risk_sum(c)
        H[ev] -= e[rs.event_k]
        H *= wr
        info = weighted_gram(XT, H) - info2
        return loglik, score, info

    def _sums0(self, beta: np.ndarray):
        """Linear predictor, its shift, weighted risks (all rows, event rows), risk-set and death sums."""
        rs = self.rs
        eta = beta @ self.XT
        shift = eta.max()
        wr = np.subtract(eta, shift)
        np.exp(wr, out=wr)
        if not self.unit_weights:  # a weight of 1 multiplies exactly: skipped, the same numbers
            wr *= self.w
        wr_ev = wr[rs.event_rows]
        return eta, shift, wr, wr_ev, rs.risk_sum(wr), np.bincount(rs.event_k, wr_ev, minlength=rs.K)

    def _loglik(self, eta: np.ndarray, shift: float, S0l: np.ndarray) -> float:
        rep, frac, omega, wd = self.steps
        with np.errstate(invalid="ignore", divide="ignore"):  # far out along a diverging effect the Efron
            # denominators can round to <= 0: a non-finite log likelihood, which Newton-Raphson halves away from
            return float(self.death_w @ eta[self.rs.event_rows] - omega @ (np.log(S0l) + shift))

    def loglik(self, beta: np.ndarray) -> float:
        """The log partial likelihood alone (a fraction of :meth:`evaluate`'s work: the monotone-likelihood
        profile needs only this)."""
        rep, frac, omega, wd = self.steps
        eta, shift, wr, wr_ev, S0, D0 = self._sums0(beta)
        return self._loglik(eta, shift, S0[rep] - frac * D0[rep])

    def hazard_parts(self, beta: np.ndarray):
        """Per event time: hazard jump c, its variance term v, and sum of a * jump (for q(t)), at the centered
        covariates (see :meth:`CoxResult.predict`)."""
        rs = self.rs
        rep, frac, omega, wd = self.steps
        eta, shift, r, wr, S0l, A = self.parts(beta)
        S0l = S0l * np.exp(shift)
        jump = omega / S0l
        c = np.bincount(rep, jump, minlength=rs.K)
        v = np.bincount(rep, jump / S0l, minlength=rs.K)
        qa = _bincount2(rep, A * jump[:, None], rs.K)
        return c, v, qa

    def score_residuals(self, beta: np.ndarray) -> np.ndarray:
        """Per-row score residuals U_i (unweighted), Efron-adjusted; sum_i w_i U_i = score."""
        U = np.empty((self.rs.n, self.XT.shape[0]))
        for rows, block in self.score_residual_blocks(beta):
            U[rows] = block
        return U

    def score_residual_blocks(self, beta: np.ndarray):
        """The score residuals (see :meth:`score_residuals`) as (row slice, block) pairs of at most
        ``CHUNK_ROWS`` rows: the per-time tables are made once, each block from them and its own rows."""
        rs = self.rs
        rep, frac, omega, wd = self.steps
        r = self.X @ beta  # as parts(), without its (Efron steps, p) array A: the tables are made per column
        r -= r.max()
        np.exp(r, out=r)
        wr = self.w * r
        S0l = rs.risk_sum(wr)[rep] - frac * rs.death_sum(wr)[rep]
        S1, D1 = self._risk_and_death_sums_x(wr)
        del wr
        ev = rs.event_rows
        K = rs.K
        p = S1.shape[1]
        abar, ca, g = np.empty((K, p)), np.empty((K, p)), np.empty((K, p))
        for j in range(p):
            A = (S1[rep, j] - frac * D1[rep, j]) / S0l
            abar[:, j] = np.bincount(rep, A * omega, minlength=K)
            ca[:, j] = np.bincount(rep, A * (omega / S0l), minlength=K)
            g[:, j] = np.bincount(rep, A * (omega * frac / S0l), minlength=K)
        abar /= np.where(wd > 0, wd, 1)[:, None]
        c = np.bincount(rep, omega / S0l, minlength=K)
        e = np.bincount(rep, omega * frac / S0l, minlength=K)
        H = rs.at_risk_sum(c)
        H[ev] -= e[rs.event_k]
        cum = np.concatenate([np.zeros((1, ca.shape[1])), np.cumsum(ca, axis=0)])  # as rs.at_risk_sum(ca)
        X = self.X
        for a in range(0, rs.n, CHUNK_ROWS):
            rows = slice(a, min(a + CHUNK_ROWS, rs.n))
            i0, i1 = np.searchsorted(ev, [rows.start, rows.stop])
            local, k = ev[i0:i1] - a, rs.event_k[i0:i1]
            G = cum[rs.hi[rows]]
            G -= cum[rs.lo[rows]]
            G[local] -= g[k]
            Xb = X[rows]
            U = Xb * H[rows, None]  # U = -r (x H - G), in place
            U -= G
            U *= -r[rows, None]
            U[local] += Xb[local] - abar[k]
            yield rows, U

    def hazard_increments(self, beta: np.ndarray) -> np.ndarray:
        """Baseline hazard jumps at each (stratum, event time), at the centered covariates (r = exp(x-mean)b)."""
        rep, frac, omega, wd = self.steps
        eta, shift, r, wr, S0l, A = self.parts(beta)
        return np.bincount(rep, omega / (S0l * np.exp(shift)), minlength=self.rs.K)


def _robust_cov(model: _CoxModel, beta: np.ndarray, naive: np.ndarray, cluster: pd.Series | None) -> np.ndarray:
    """Lin-Wei sandwich naive' (sum_c U_c U_c') naive from the weighted score residuals U_i = w_i u_i summed
    by cluster; without clusters (each row its own) the sum of U_i U_i' is accumulated block by block, so the
    n x p residual matrix is never held whole."""
    w = model.w
    if cluster is None:
        meat = np.zeros((len(beta), len(beta)))
        for rows, U in model.score_residual_blocks(beta):
            U *= w[rows, None]
            meat += U.T @ U
        return naive.T @ meat @ naive
    cl = pd.factorize(cluster, sort=True)[0]
    U = model.score_residuals(beta)
    U *= w[:, None]
    D = _bincount2(cl, U, cl.max() + 1) @ naive
    return D.T @ D


def _bincount2(idx: np.ndarray, v: np.ndarray, K: int) -> np.ndarray:
    out = np.empty((K, v.shape[1]))
    for j in range(v.shape[1]):
        out[:, j] = np.bincount(idx, v[:, j], minlength=K)
    return out


@dataclass(frozen=True, repr=False)
class CoxResult(ModelResult):
    """A fitted Cox model. ``summary`` (index term): coef, std_err, hr, lower, upper, statistic, p_value
    (+ robust_std_err, naive_std_err with a robust variance); ``tests``: likelihood ratio, Wald, score."""

    _naive_cov: pd.DataFrame
    loglik: tuple  # (initial at beta = 0, final)
    _tests: pd.DataFrame  # likelihood ratio, Wald, score (log-rank): statistic, df, p_value
    ties: str
    robust: bool
    iterations: int
    strata: tuple
    strata_levels: tuple
    _means: pd.Series
    _model: _CoxModel = field(repr=False)
    _stop: np.ndarray = field(repr=False)
    _start: np.ndarray | None = field(repr=False)
    _strata_codes: np.ndarray = field(repr=False)
    engine: str | None = None  # the source, when fitted on an engine (the rows stayed there)

    ratio_name = "hr"
    _title = "Cox proportional hazards regression"

    @property
    def naive_cov(self) -> pd.DataFrame:
        """The model-based variance (inverse information); ``cov`` is the robust one when ``robust``."""
        return frozen_copy(self._naive_cov)

    @property
    def tests(self) -> pd.DataFrame:
        """Likelihood ratio, Wald and score (log-rank) tests of all coefficients: statistic, df, p_value."""
        return frozen_copy(self._tests)

    @property
    def means(self) -> pd.Series:
        """The centring values of the design columns (0 for 0/1 columns, as coxph)."""
        return frozen_copy(self._means)

    @property
    def reference_levels(self) -> dict:
        return dict(self.design.reference_levels)

    def _notes(self) -> list[str]:
        lr = self._tests.loc["likelihood_ratio"]
        notes = [
            f"n = {self.n}, events = {self.n_events}, ties = {self.ties}"
            + (f", strata = {', '.join(self.strata)}" if self.strata else "")
            + (", robust (sandwich) standard errors" if self.robust else ""),
            f"likelihood ratio test = {lr.statistic:.2f} on {int(lr.df)} df, p = {lr.p_value:.3g}"
            + ("" if self.engine else f"; concordance = {self.concordance:.3f}"),
        ]
        if self.engine:
            notes.append(f"fitted on an engine ({self.engine})")
        return notes

    @property
    def hr(self) -> pd.Series:
        return self.ratio

    @functools.cached_property
    def concordance(self) -> float:
        """Harrell's C as coxph reports it (pairs comparable within strata on exit time; ties in risk count 1/2)."""
        self._need_rows("concordance")
        eta = tie_exact_linear_predictor(self._model.X, self.coef.to_numpy())
        conc, disc, tied = concordance_counts(self._model.rs, eta, self._model.w)
        return (conc + tied / 2) / (conc + disc + tied)

    @functools.cached_property
    def _hazard(self) -> pd.DataFrame:
        self._need_rows("the baseline hazard")
        rs = self._model.rs
        dh = self._model.hazard_increments(self.coef.to_numpy())
        frame = pd.DataFrame({"stratum": rs.strata, "time": rs.times, "hazard": dh})
        frame["cumhaz"] = frame.groupby("stratum")["hazard"].cumsum()
        return frame

    @property
    def baseline_survival(self) -> pd.DataFrame:
        """Baseline survival at the covariate means (as R's ``survfit(coxph_fit)``), at each event time:
        stratum, time, cumulative_hazard, estimate (the survival).

        As coxph in survival 3.x, the "means" are the (weighted) means of the continuous columns and 0 for
        0/1 indicator columns (dummies of categorical variables, binary covariates).

        Cumulative hazard: Breslow's estimator for a Breslow fit, the Efron-adjusted one for an Efron fit
        (survfit.coxph's default ``ctype``); survival = exp(-cumulative hazard).
        """
        f = self._hazard
        out = pd.DataFrame(
            {
                "stratum": [self.strata_levels[s] for s in f["stratum"]] if self.strata else "all",
                "time": f["time"].to_numpy(),
                "cumulative_hazard": f["cumhaz"].to_numpy(),
                "estimate": np.exp(-f["cumhaz"].to_numpy()),
            }
        )
        return frozen_copy(out)

    def baseline_at(self, times) -> pd.DataFrame:
        """Baseline cumulative hazard and survival (at the means) at the given times, per stratum: stratum, time,
        cumulative_hazard, estimate (the survival; 1 before the first event time)."""
        times = time_points(times)
        f = self._hazard
        rows = []
        for s, sub in f.groupby("stratum", sort=True):
            idx = np.searchsorted(sub["time"].to_numpy(), times, side="right")
            cum = np.concatenate([[0.0], sub["cumhaz"].to_numpy()])[idx]
            label = self.strata_levels[s] if self.strata else "all"
            rows.append(pd.DataFrame({"stratum": label, "time": times, "cumulative_hazard": cum,
                                      "estimate": np.exp(-cum)}))
        return pd.concat(rows, ignore_index=True)

    @functools.cached_property
    def _hazard_parts(self):
        """Per (stratum, event time): hazard jump c, its variance term v, and sum of a * jump (for q(t))."""
        return self._model.hazard_parts(self.coef.to_numpy())

    def predict(self, newdata: pd.DataFrame, times, conf_level: float = 0.95, dropna: bool = False) -> pd.DataFrame:
        """Predicted survival S(t | x) = exp(-Lambda0(t) exp((x - means) b)) with confidence limits.

        As R's ``survfit(fit, newdata)``: the variance of the cumulative hazard is the Tsiatis (1981) / Link
        (1984) one, ``exp(2 lp) [sum dN / S0^2 + q(t)' V q(t)]`` with ``q(t) = sum (xbar(s) - x) dLambda0(s)``
        (Efron-adjusted for an Efron fit, ``V`` the model's variance, robust if the fit is robust), and the
        limits are ``exp(-Lambda -+ z se(Lambda))``: log-scale limits of the survival (survfit's default
        ``conf.type = "log"``, upper limit capped at 1). Tidy frame: row (newdata index), time, cumulative_hazard,
        estimate (the survival), std_err (of the survival, as summary.survfit), lower, upper. With strata,
        ``newdata`` holds the strata columns and each row uses its own stratum. Missing covariates and levels not
        seen in the fit are errors, or with ``dropna=True`` dropped and counted in ``frame.attrs["dropped"]``;
        times beyond the last follow-up time warn (the baseline hazard is not estimated there).
        """
        from scipy import stats as _stats

        if not 0 < conf_level < 1:
            raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
        times = time_points(times)
        self._need_rows("prediction")
        beyond_follow_up(times, float(self._stop.max()), "Cox predictions")
        X = self.design.transform(newdata, dropna=dropna)
        newdata = newdata.loc[X.index]
        Xn = X.to_numpy(dtype=float) - self.means.to_numpy()
        lp = Xn @ self.coef.to_numpy()
        if self.strata:
            require_columns(newdata, self.strata)
            keys = list(newdata[list(self.strata)].itertuples(index=False, name=None))
            labels = [k if len(self.strata) > 1 else k[0] for k in keys]
            code_of = {lab: i for i, lab in enumerate(self.strata_levels)}
        else:
            labels, code_of = [0] * len(newdata), {0: 0}
        rs = self._model.rs
        c, v, qa = self._hazard_parts
        V = self.cov.to_numpy()
        z = _stats.norm.ppf(0.5 + conf_level / 2)
        frames = []
        for i, (row, label) in enumerate(zip(newdata.index, labels)):
            if label not in code_of:
                raise InputError(f"newdata row {row}: stratum {label!r} was not in the fitted data")
            code = code_of[label]
            b0, b1 = np.searchsorted(rs.strata, code, "left"), np.searchsorted(rs.strata, code, "right")
            idx = np.searchsorted(rs.times[b0:b1], times, side="right")
            C = np.concatenate([[0.0], np.cumsum(c[b0:b1])])[idx]
            Vs = np.concatenate([[0.0], np.cumsum(v[b0:b1])])[idx]
            QA = np.vstack([np.zeros((1, qa.shape[1])), np.cumsum(qa[b0:b1], axis=0)])[idx]
            q = QA - np.outer(C, Xn[i])
            risk = np.exp(lp[i])
            cumhaz = C * risk
            se = risk * np.sqrt(Vs + np.einsum("tj,jk,tk->t", q, V, q))
            surv = np.exp(-cumhaz)
            frames.append(pd.DataFrame({
                "row": row, "time": times, "cumulative_hazard": cumhaz, "estimate": surv, "std_err": surv * se,
                "lower": np.exp(-cumhaz - z * se), "upper": np.minimum(1.0, np.exp(-cumhaz + z * se)),
            }))
        out = pd.concat(frames, ignore_index=True)
        out.attrs["dropped"] = X.attrs["dropped"]
        return out

    def _need_rows(self, what: str) -> None:
        if self._model is None:
            from bmstats.engine.models import rows_needed
            rows_needed(self, what)

    def ph_test(self, transform: str = "km", terms: bool = True):
        """Test of proportional hazards: the score test of R's ``cox.zph`` (survival 3.x), see :mod:`.zph`."""
        from bmstats.estimate.zph import ph_test

        self._need_rows("the proportional-hazards test")
        return ph_test(self, transform=transform, terms=terms)

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_forest(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("Forest plot of the hazard ratios with their confidence limits", "plot_forest")


@legacy_arguments(positional=("strata", "cluster", "entry", "weights", "ties", "robust", "conf_level", "dropna",
                              "tol", "max_iter"))
def cox(
    data: pd.DataFrame,
    time: str,
    event: str,
    formula: str,
    *,
    strata=None,
    cluster: str | None = None,
    entry: str | None = None,
    weights: str | None = None,
    ties: str = "efron",
    robust: bool | None = None,
    conf_level: float = 0.95,
    dropna: bool = False,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> CoxResult:
    """Cox proportional hazards regression by maximum partial likelihood.

    h(t | x) = h0(t) exp(x'b), b maximising the partial likelihood (Efron or Breslow ties), variance from the
    information or the robust sandwich. Matches R's ``survival::coxph(Surv(entry, time, event) ~ formula +
    strata(strata) + cluster(cluster), weights, ties)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given).
    time : str
        Column of exit (stop) times.
    event : str
        Column coded 0 (censored) / 1 (event).
    formula : str
        Right-hand side in Wilkinson syntax (``"age + C(grade) + cr(age, df=3)"``).
    strata : str or list of str, optional
        Column(s) with separate baseline hazards; ``strata(x)`` terms of the formula (as coxph's) add to them.
    cluster : str, optional
        Column identifying correlated rows (subject id): robust variance, as ``cluster()``.
    entry : str, optional
        Column of start times of counting-process rows ``(entry, time]`` (delayed entry, time-varying
        covariates, Andersen-Gill and PWP recurrent-event models).
    weights : str, optional
        Column of case weights.
    ties : {"efron", "breslow"}, default "efron"
        Handling of tied event times.
    robust : bool, optional
        Robust (sandwich) variance; default True with ``cluster`` or non-integer weights, as coxph.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.
    tol : float, default 1e-9
        Convergence tolerance on the relative change of the log partial likelihood.
    max_iter : int, default 50
        Iteration limit of Newton-Raphson (a :class:`~bmstats.ConvergenceWarning` when reached).

    Returns
    -------
    CoxResult
        ``.summary`` (term: coef, std_err, hr, lower, upper, statistic, p_value), ``.ph_test()``,
        ``.predict``, ``.converged``, ``.plot(ax=)``.

    References
    ----------
    .. [1] Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187-220.
    .. [2] Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977;72:557-565.
    .. [3] Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. JASA
       1989;84:1074-1078.
    """
    if ties not in ("efron", "breslow"):
        raise InputError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    formula, in_formula = strata_terms(formula)
    strata_cols = tuple(dict.fromkeys([*([strata] if isinstance(strata, str) else (strata or [])), *in_formula]))
    if is_engine_data(data):
        from bmstats.engine.models import cox_on_engine
        return cox_on_engine(engine_source(data), time, event, formula, strata=strata_cols, cluster=cluster,
                             entry=entry, weights=weights, ties=ties, robust=robust, conf_level=conf_level,
                             dropna=dropna, tol=tol, max_iter=max_iter)
    prep = prepare(data, formula, time=time, event=event, entry=entry, weights=weights,
                   columns=[cluster, *strata_cols], dropna=dropna)
    data, design, dropped = prep.frame, prep.design, prep.dropped
    stop, start = prep.time, prep.entry
    status = prep.status.astype(bool)
    w = prep.weights if prep.weights is not None else np.ones(prep.n)
    del prep  # its integer status column is not needed beyond this point
    if strata_cols:
        codes, levels = _group_codes(data, list(strata_cols))
    else:
        codes, levels = np.zeros(len(data), dtype=np.int64), ("all",)
    n_events = int(status.sum())
    p = design.X.shape[1]
    if n_events == 0:
        raise InputError(f"column {event!r}: no events (every row is 0); a Cox model needs events")
    if n_events < p:
        raise InputError(
            f"too few events ({n_events}) for {p} coefficients ({', '.join(design.columns)}): at least as many "
            "events as coefficients are needed"
        )
    if robust is None:  # as coxph in survival 3.x: robust with a cluster or with non-integer case weights
        robust = cluster is not None or bool(np.any(w != np.round(w)))

    raw = design.XT  # the design's own block, (p, n): the centred copy below is the only other n x p array
    means = (raw @ w) / w.sum()
    # as coxph in survival 3.x: 0/1 indicator columns are centered at 0, so the baseline is for the reference
    binary = np.array([bool(np.all((x == 0) | (x == 1))) for x in raw], dtype=bool)
    means[binary] = 0.0
    model = _CoxModel(raw, means, w, risk_sets(stop, status, start, codes), ties)
    names = design.columns
    _check_variation_at_events(model, names, design)
    with single_threaded_blas():
        fit = newton_raphson(model.evaluate, np.zeros(p), names, tol=tol, max_iter=max_iter, model="cox",
                             spread=np.ptp(model.XT, axis=1), loglik=model.loglik)
    beta = fit.beta
    ne = fit.not_estimable
    naive = invert_information(fit.information, names, ne)
    ll0, u0, i0 = fit.initial
    score_stat = float(u0 @ np.linalg.solve(i0, u0))
    cov = naive
    if robust:
        cov = _robust_cov(model, beta, naive, None if cluster is None else data[cluster])
    model.release()
    wald = wald_statistic(beta, cov, ne) if ne else float(beta @ np.linalg.solve(cov, beta))
    if ne:
        cov, naive = blank(cov, ne), blank(naive, ne)
    tests = tests_frame([
        chi2_test("likelihood_ratio", 2 * (fit.loglik - ll0), p),
        chi2_test("wald", wald, p),
        chi2_test("score", score_stat, p),
    ])
    summary = coefficient_table(names, beta, cov, conf_level, naive_cov=naive if robust else None,
                                not_estimable=ne)
    return CoxResult(
        _summary=summary,
        _cov=pd.DataFrame(cov, index=names, columns=names),
        _naive_cov=pd.DataFrame(naive, index=names, columns=names),
        loglik=(ll0, fit.loglik),
        n=len(data),
        n_events=n_events,
        conf_level=conf_level,
        _tests=tests,
        ties=ties,
        robust=bool(robust),
        iterations=fit.iterations,
        converged=fit.converged,
        design=design,
        dropped=dropped,
        strata=strata_cols,
        strata_levels=levels,
        _means=pd.Series(means, index=names, name="mean"),
        _model=model,
        _stop=stop,
        _start=start,
        _strata_codes=codes,
    )


def _group_codes(data: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, tuple]:
    for c in cols:
        distinct_labels(pd.unique(data[c]), c, data[c])
    if len(cols) == 1:
        codes, uniques = pd.factorize(data[cols[0]], sort=True)
        return codes.astype(np.int64), tuple(uniques)
    g = data.groupby(cols, sort=True, observed=True)
    codes = g.ngroup().to_numpy().astype(np.int64)
    # each code's label read from its first row (g.groups orders its keys by value, not by the codes'
    # category order, so the two disagree for categorical columns)
    first = np.unique(codes, return_index=True)[1]
    keys = data[cols].iloc[first]
    return codes, tuple(tuple(row) for row in keys.itertuples(index=False, name=None))


def _check_variation_at_events(model: _CoxModel, names: list[str], design: Design) -> None:
    """A covariate that is constant within every risk set (e.g. constant within strata) is not estimable."""
    rs = model.rs
    ones = model.w
    S0 = rs.risk_sum(ones)
    dead = np.zeros(len(names), dtype=bool)
    for j, x in enumerate(model.XT):  # column by column: no n x p temporaries
        var = rs.risk_sum(x**2 * ones) / S0 - (rs.risk_sum(x * ones) / S0) ** 2
        scale = max(float(np.abs(x).max()), 1e-300) ** 2
        dead[j] = np.all(var <= 1e-12 * scale)
    if dead.any():
        bad = [n for n, d in zip(names, dead) if d]
        raise InputError(
            f"term {design.term_of(bad[0])!r}: column(s) {', '.join(map(repr, bad))} do not vary within any risk "
            "set (constant within strata or among those at risk at the event times); not estimable"
        )
