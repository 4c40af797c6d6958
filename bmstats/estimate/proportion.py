"""Proportions with confidence limits: how many patients have bone metastasis at diagnosis, overall or by group.

Wilson (1927) score limits, ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``, equal to R's
``prop.test(x, n, correct = FALSE)$conf.int``; Clopper & Pearson (1934) exact limits,
``[qbeta(a/2, x, n-x+1), qbeta(1-a/2, x+1, n-x)]``, equal to ``binom.test(x, n)$conf.int``.  With ``by``,
the groups' homogeneity is tested with Pearson's chi-square on the k x 2 table, as
``prop.test(x_vector, n_vector, correct = FALSE)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, event_array, handle_missing, require_columns, require_frame
from bmstats.estimate._regression import chi2_test, tests_frame
from bmstats.estimate._result import TableResult, frozen_copy

__all__ = ["proportion", "ProportionResult", "METHODS"]

METHODS = ("wilson", "clopper-pearson")


@dataclass(frozen=True, repr=False)
class ProportionResult(TableResult):
    """``table``: [group], n, events, estimate, lower, upper; ``test``: chi-square test of equal proportions
    across groups (statistic, df, p_value; None without ``by``)."""

    _test: pd.DataFrame | None = field(default=None, repr=False)
    outcome: str = ""
    by: str | None = None
    method: str = "wilson"
    conf_level: float = 0.95
    n_events: int = 0

    _title = "Proportion"

    @property
    def test(self) -> pd.DataFrame | None:
        return frozen_copy(self._test)

    def _notes(self) -> list[str]:
        notes = [f"{self.outcome}: {self.n_events} of {self.n}; {self.method} {self.conf_level:.0%} limits"]
        if self._test is not None:
            t = self._test.iloc[0]
            notes.append(f"chi-square test of equal proportions across {self.by}: {t.statistic:.2f} on "
                         f"{int(t.df)} df, p = {t.p_value:.3g}")
        return notes

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_proportion(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The proportions with their confidence limits", "plot_proportion")


def limits(events: np.ndarray, n: np.ndarray, method: str, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper confidence limits of events / n (NaN where n == 0)."""
    events = np.asarray(events, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1 - conf_level
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "wilson":
            z = stats.norm.ppf(1 - alpha / 2)
            p = events / n
            centre = p + z * z / (2 * n)
            half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
            lower = np.maximum((centre - half) / (1 + z * z / n), 0.0)
            upper = np.minimum((centre + half) / (1 + z * z / n), 1.0)
        else:
            lower = np.where(events > 0, stats.beta.ppf(alpha / 2, events, n - events + 1), 0.0)
            upper = np.where(events < n, stats.beta.ppf(1 - alpha / 2, events + 1, n - events), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def proportion(
    data: pd.DataFrame,
    outcome: str,
    *,
    by: str | None = None,
    method: str = "wilson",
    conf_level: float = 0.95,
    dropna: bool = False,
) -> ProportionResult:
    """Proportion of rows with ``outcome`` (0/1 or False/True) and its confidence limits, overall or by group.

    Parameters
    ----------
    data : DataFrame, one row per patient.
    outcome : 0/1 (or boolean) column.
    by : optional grouping column; a categorical column keeps its level order, and a level without patients
        gets a row with n = 0 and no estimate.
    method : "wilson" (R's ``prop.test(correct = FALSE)``) or "clopper-pearson" (``binom.test``).
    conf_level : confidence level of the limits.
    dropna : drop (and count) rows with a missing outcome or group instead of raising.

    Returns
    -------
    ProportionResult with ``.table`` ([group], n, events, estimate, lower, upper) and ``.test`` (Pearson
    chi-square test of equal proportions across groups, as ``prop.test(x, n, correct = FALSE)``).

    References
    ----------
    Wilson EB (1927) JASA 22:209-212.  Clopper CJ, Pearson ES (1934) Biometrika 26:404-413.
    """
    require_frame(data)
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not (isinstance(conf_level, (int, float)) and 0 < conf_level < 1):
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    require_columns(data, [outcome, by])
    data, dropped = handle_missing(data, [outcome, by], dropna)
    y = event_array(data, outcome)
    if by is None:
        events, n = np.array([y.sum()]), np.array([len(y)])
        frame = pd.DataFrame({"n": n, "events": events})
        test = None
    else:
        try:
            grouped = pd.Series(y, index=data.index).groupby(data[by], sort=True, observed=False)
            agg = grouped.agg(["size", "sum"])
        except TypeError as exc:  # unorderable mixture of types, e.g. 1 and "1"
            raise InputError(f"column {by!r}: group values of mixed types cannot be ordered ({exc})") from None
        frame = pd.DataFrame({"group": agg.index.to_numpy(), "n": agg["size"].to_numpy(),
                              "events": agg["sum"].to_numpy()})
        events, n = frame["events"].to_numpy(), frame["n"].to_numpy()
        test = _homogeneity(events, n)
    lower, upper = limits(events, n, method, conf_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["estimate"] = np.where(n > 0, events / np.maximum(n, 1), np.nan)
    frame["lower"], frame["upper"] = lower, upper
    frame = frame.astype({"n": "int64", "events": "int64"})
    return ProportionResult(_table=frame, _test=test, outcome=outcome, by=by, method=method,
                            conf_level=float(conf_level),
                            n=int(len(y)), n_events=int(y.sum()), dropped=dropped)


def _homogeneity(events: np.ndarray, n: np.ndarray):
    """Pearson chi-square of the k x 2 table (groups with patients only); None when it is undefined."""
    keep = n > 0
    x, m = events[keep].astype(float), n[keep].astype(float)
    if len(x) < 2 or x.sum() in (0, m.sum()):
        return None
    p = x.sum() / m.sum()
    stat = float(np.sum((x - m * p) ** 2 / (m * p * (1 - p))))
    return tests_frame([chi2_test("chi_square", stat, len(x) - 1)])
