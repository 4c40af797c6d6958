"""Log-rank test and the Fleming-Harrington G-rho family, stratified, with a test for trend.

Mantel N. Evaluation of survival data and two new rank order statistics. Cancer Chemother Rep 1966;50:163-170.
Harrington DP, Fleming TR. A class of rank test procedures for censored survival data. Biometrika
1982;69:553-566.  Computed as R's ``survival::survdiff``: at each event time the weight is
w = S(t-)^rho with S the pooled Kaplan-Meier estimate within the stratum; observed O_g = sum w d_g,
expected E_g = sum w d n_g / n, and the hypergeometric covariance
V_gh = sum w^2 d (n - d) / (n - 1) (n_g / n) (delta_gh - n_h / n), summed over strata.  The statistic is
(O - E)' V^- (O - E) on K - 1 degrees of freedom (generalised inverse).

Test for trend (``trend=True``): with group scores s (default 1, 2, ..., K in the order of the groups, or
``scores=``), U = s'(O - E), Var U = s' V s, and U^2 / Var U is chi-square on 1 df (the score test for a
linear trend in the log hazard ratio across ordered groups; Collett, Modelling Survival Data, 3rd ed., 2.7).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._checks import InputError, number_option, require_frame
from bmstats._deprecation import legacy_arguments
from bmstats.engine import engine_counts, engine_source, is_engine_data
from bmstats.estimate._result import TestResult, frozen_copy
from bmstats.estimate.counts import aggregate_counts, group_codes, sum_last_axis
from bmstats.estimate.inputs import strata_that_compare, survival_inputs


@dataclass(frozen=True, repr=False)
class LogRankTest(TestResult):
    """Result of :func:`logrank_test`: ``statistic``, ``df``, ``p_value``; ``.table`` has observed,
    expected per group (weighted when rho != 0); ``variance`` the covariance of observed - expected."""

    rho: float
    _table: pd.DataFrame
    _variance: np.ndarray
    n_events: int
    trend: bool = False
    scores: tuple | None = None
    strata: str | None = None
    _title = "Log-rank test"

    @property
    def table(self) -> pd.DataFrame:
        return frozen_copy(self._table)

    @property
    def variance(self) -> np.ndarray:
        return frozen_copy(self._variance)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"test": self._name(), "statistic": self.statistic, "df": self.df,
                              "p_value": self.p_value}])

    def _name(self) -> str:
        name = "log-rank" if self.rho == 0 else f"Fleming-Harrington G-rho (rho={self.rho:g})"
        return ("trend " if self.trend else "") + name + (f", stratified by {self.strata}" if self.strata else "")

    def _tidy(self) -> pd.DataFrame:
        return self._table

    def _notes(self) -> list[str]:
        return [f"{self._name()}: chi-square = {self.statistic:.4f} on {self.df} df, p = {self.p_value:.4g}"]


def weighted_observed_expected(counts, rho: float = 0.0):
    """The computing step: observed, expected and covariance summed over strata (blocks) from counts
    whose columns are the compared groups."""
    n_risk = counts.n_risk.astype(float)  # (rows, groups)
    d_g = sum_last_axis(counts.n_event).astype(float)
    n = sum_last_axis(n_risk)
    d = sum_last_axis(d_g)
    weight = np.ones_like(n)
    if rho != 0:
        for b in range(counts.n_blocks):  # per stratum: pooled KM, left-continuous
            rows = counts.rows(b)
            surv = np.cumprod(1 - d[rows] / n[rows])
            weight[rows] = np.concatenate([[1.0], surv[:-1]]) ** rho
    ev = d > 0
    n_risk, d_g, n, d, weight = n_risk[ev], d_g[ev], n[ev], d[ev], weight[ev]
    share = n_risk / n[:, None]
    observed = (weight[:, None] * d_g).sum(axis=0)
    expected = (weight[:, None] * d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hyper = np.where(n > 1, d * (n - d) / (n - 1), 0.0) * weight**2
    cov = np.einsum("t,tg,th->gh", hyper, share, share)
    variance = np.diag((hyper[:, None] * share).sum(axis=0)) - cov
    return observed, expected, variance


def quadratic_form(diff: np.ndarray, variance: np.ndarray) -> tuple[float, int]:
    """(O - E)' V^- (O - E) and the rank of V (generalised inverse, as the groups' sum is zero)."""
    rank = int(np.linalg.matrix_rank(variance, tol=1e-10 * max(1.0, np.abs(variance).max())))
    return float(diff @ np.linalg.pinv(variance, hermitian=True, rcond=1e-10) @ diff), rank


def trend_scores(values: pd.Series, by: str, labels: list, scores) -> np.ndarray:
    """One score per group for the trend test: ``scores`` (a sequence in the order of the groups, or a mapping
    group -> score), else 1, 2, ..., K when the groups have an order (numbers, booleans, an ordered
    categorical). Unordered text groups are refused: their alphabetical order is not an ordering."""
    k = len(labels)
    if scores is None:
        ordered = isinstance(values.dtype, pd.CategoricalDtype) and values.cat.ordered
        if not (ordered or pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            raise InputError(
                f"column {by!r}: a trend test needs ordered groups, but {', '.join(map(repr, labels))} are text "
                "whose alphabetical order is not an ordering; make the column an ordered categorical "
                f"(pd.Categorical(values, categories=[...], ordered=True)) or pass scores={{group: score}}")
        return np.arange(1, k + 1, dtype=float)
    if isinstance(scores, Mapping):
        missing = [g for g in labels if g not in scores and str(g) not in scores]
        extra = [key for key in scores if key not in labels and key not in [str(g) for g in labels]]
        if missing or extra:
            raise InputError(f"scores: need one score for each group of {by!r} ({', '.join(map(repr, labels))})"
                             + (f"; missing {', '.join(map(repr, missing))}" if missing else "")
                             + (f"; not groups: {', '.join(map(repr, extra))}" if extra else ""))
        scores = [scores[g] if g in scores else scores[str(g)] for g in labels]
    elif isinstance(scores, (str, bytes)) or not np.iterable(scores):
        raise InputError(f"scores must be a list with one number per group or a mapping group -> number, "
                         f"got {scores!r}")
    try:
        s = np.asarray(list(scores), dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"scores must be numbers, got {scores!r}") from None
    if s.shape != (k,):
        raise InputError(f"scores: need one score per group of {by!r} ({k}), got {len(s)}")
    if not np.isfinite(s).all():
        raise InputError(f"scores must be finite numbers, got {list(s)}")
    if np.ptp(s) == 0:
        raise InputError(f"scores must not all be equal (got {s[0]:g} for every group): there is no trend to test")
    return s


@legacy_arguments(positional=("by", "strata", "rho", "trend", "scores", "dropna"))
def logrank_test(data: pd.DataFrame, time: str, event: str, *, by: str, strata: str | None = None,
                 rho: float = 0.0, trend: bool = False, scores=None, dropna: bool = False) -> LogRankTest:
    """K-sample log-rank test, Fleming-Harrington G-rho test, stratified, or the test for trend.

    O_g - E_g = sum_j w_j (d_gj - d_j n_gj / n_j), w_j = S(t_j-)^rho; statistic (O - E)' V^- (O - E) on
    K - 1 df. Matches R's ``survival::survdiff(Surv(time, event) ~ by + strata(strata), rho = rho)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given).
    time : str
        Column of follow-up times.
    event : str
        Column coded 0 (censored) / 1 (event).
    by : str
        Column of the groups compared.
    strata : str, optional
        Column of strata: observed, expected and variance are summed over strata.
    rho : float, default 0
        Power of the pooled Kaplan-Meier weight (0: log-rank; 1: Peto-Peto-Prentice).
    trend : bool, default False
        Test a linear trend over the ordered groups (1 df) instead of heterogeneity.
    scores : sequence of float, optional
        Scores of the groups for the trend test (default 1, 2, ..., K).
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.

    Returns
    -------
    LogRankTest
        ``.statistic``, ``.df``, ``.p_value`` and ``.table`` (group, n, observed, expected, o_minus_e, variance).

    References
    ----------
    .. [1] Mantel N. Evaluation of survival data and two new rank order statistics. Cancer Chemother Rep
       1966;50:163-170.
    .. [2] Harrington DP, Fleming TR. A class of rank test procedures for censored survival data. Biometrika
       1982;69:553-566.
    """
    if by is None:
        raise InputError("logrank_test needs a grouping column `by`")
    rho = number_option(rho, "rho", what="the power of the pooled survival in the weight S(t-)^rho")
    if not isinstance(trend, (bool, np.bool_)):
        raise InputError(f"trend must be True or False, got {trend!r}")
    if is_engine_data(data):
        ec = engine_counts(engine_source(data), time, event, block=strata, column=by, dropna=dropna, max_code=1)
        if strata is not None:
            strata_that_compare(None, by, strata, groups_per_stratum=ec.groups_per_block())
        counts, labels, n, n_events, dropped = ec.counts, ec.column_labels, ec.n, ec.n_events, ec.dropped
        group_values = pd.Series(labels)  # the engine's groups, with their type (numbers order, text does not)
    else:
        data = require_frame(data)
        data, t, d, codes, labels, _, dropped = survival_inputs(data, time, event, by, None, dropna, strata=strata)
        s_codes, s_labels = group_codes(data, strata)
        strata_that_compare(data, by, strata)
        counts = aggregate_counts(t, d, block=s_codes, column=codes, n_blocks=len(s_labels),
                                  n_columns=len(labels), n_causes=1)
        n, n_events = len(t), int(d.sum())
        group_values = data[by]
    if len(labels) < 2:
        raise InputError(f"column {by!r}: a test needs at least two groups, found one ({labels[0]!r})")
    observed, expected, variance = weighted_observed_expected(counts, rho)
    diff = observed - expected
    if trend:
        s = trend_scores(group_values, by, labels, scores)
        statistic, df = float((s @ diff) ** 2 / (s @ variance @ s)), 1
        scores = tuple(s)
    else:
        statistic, df = quadratic_form(diff, variance)
    n_per = (counts.n_censor + sum_last_axis(counts.n_event)).sum(axis=0)  # exits per group
    table = pd.DataFrame({"group": labels, "n": n_per, "observed": observed, "expected": expected,
                          "o_minus_e": diff, "variance": np.diag(variance)})
    return LogRankTest(statistic=statistic, df=df, p_value=float(stats.chi2.sf(statistic, df)), rho=rho,
                       _table=table, _variance=variance, trend=trend, scores=scores, strata=strata,
                       n=n, n_events=n_events, dropped=dropped)
