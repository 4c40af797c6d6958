"""The one shape every bmstats result has (docs/api.md states the vocabulary).

Every result is a frozen dataclass deriving from :class:`Result` (``n``, ``dropped``, ``notes``, ``repr``,
``_repr_html_``), usually through one of three bases:

- :class:`CurveResult`: step-function curves. ``.table`` (group, [cause | state], time, n_risk, n_event,
  estimate, std_err, lower, upper) and ``.at(times)`` from the one shared lookup :func:`step_at`;
  ``n_events``, ``conf_level``.
- :class:`ModelResult`: regression models. ``.summary`` indexed by ``term`` with coef, std_err, <ratio>,
  lower, upper, statistic, p_value; ``.ratio_name`` (hr, shr, rate_ratio, odds_ratio); ``.coef``, ``.cov``,
  ``n_events``, ``conf_level``, ``converged``.
- :class:`TestResult`: hypothesis tests. ``statistic``, ``df``, ``p_value``.

Frames are private fields handed out as copies through properties, so editing a returned frame or Series
never changes the result or a table made from it later.  A result with a sensible picture has
``plot(ax=None, **kw)``, a one-line delegation to :mod:`bmstats.report.figures`; others have no ``plot``.

Deriving a new result::

    from dataclasses import dataclass
    from bmstats.estimate._result import CurveResult

    @dataclass(frozen=True, repr=False)
    class StateOccupation(CurveResult):
        _title = "State occupation probabilities"   # first line of repr
        _keys = ("group", "state")                  # the columns that identify one curve
        _start = 0.0                                # the curve's value before its first time
        initial: str = "free"                       # fields of its own (give them defaults)

        def _start_value(self, key):               # only if the start differs between curves
            return 1.0 if key["state"] == self.initial else 0.0

        def _notes(self):                           # lines under the title (dropped rows are added)
            return [f"n = {self.n}, transitions = {self.n_events}"]

        def plot(self, ax=None, **kw):
            from bmstats.report import figures
            return figures.plot_state_occupation(self, ax=ax, **kw)

    StateOccupation(_table=frame, n=120, n_events=40, conf_level=0.95, initial="free")

The base fields are keyword-only, so a subclass may add fields with or without defaults; pass every
field by keyword.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from bmstats._checks import Dropped, InputError, time_points

__all__ = ["Result", "TableResult", "CurveResult", "ModelResult", "TestResult", "step_at", "frozen_copy",
           "MODEL_COLUMNS", "TEST_COLUMNS", "CURVE_VALUES", "CONF_TYPES", "conf_type_option"]

# the vocabulary (docs/api.md)
CURVE_VALUES = ("estimate", "std_err", "lower", "upper")
CURVE_COUNTS = ("n_event", "n_censor", "n_terminal")
MODEL_COLUMNS = ("coef", "std_err", "{ratio}", "lower", "upper", "statistic", "p_value")
TEST_COLUMNS = ("statistic", "df", "p_value")
CONF_TYPES = ("plain", "log", "log-log")  # pointwise limits: on the estimate, log estimate, log(-log estimate)
RATIO_NAMES = {"hr": "hazard ratio", "shr": "subdistribution hazard ratio", "rate_ratio": "rate ratio",
               "odds_ratio": "odds ratio"}


def frozen_copy(frame):
    """A deep copy of a frame, Series or array: results hand out copies, never their own objects."""
    if frame is None:
        return None
    return frame.copy(deep=True) if isinstance(frame, (pd.DataFrame, pd.Series)) else np.array(frame, copy=True)


@dataclass(frozen=True, repr=False)
class Result:
    """Base of every result: ``n`` (rows or subjects analysed), ``dropped`` (rows removed by
    ``dropna=True``), ``notes`` (the lines ``repr`` shows under the title)."""

    n: int = field(kw_only=True)
    dropped: Dropped = field(default_factory=Dropped.none, kw_only=True)

    _title: ClassVar[str] = "bmstats result"
    _frames: ClassVar[tuple[str, ...]] = ("summary",)  # the frames it hands out (named by the display's hint)

    def _notes(self) -> list[str]:
        """Lines shown under the title (n, events, method); subclasses override."""
        return []

    @property
    def notes(self) -> tuple[str, ...]:
        """The subclass's notes plus, when ``dropna=True`` removed rows, how many and for which columns."""
        notes = list(self._notes())
        dropped = getattr(self, "dropped", None)
        if dropped is not None and dropped.n:
            by = ", ".join(f"{col}: {k}" for col, k in dropped.by_column.items())
            rows = "row" if dropped.n == 1 else "rows"
            notes.append(f"{dropped.n} {rows} dropped for missing values ({by})")
        return tuple(notes)

    def _tidy(self) -> pd.DataFrame:
        """The frame that ``repr`` and ``_repr_html_`` show."""
        raise NotImplementedError

    def __repr__(self) -> str:
        """A compact summary made with the report tables (:mod:`bmstats.report.display`)."""
        from bmstats.report import display

        return display.to_text(self)

    def _repr_html_(self) -> str:
        from bmstats.report import display

        return display.to_html(self)


@dataclass(frozen=True, repr=False)
class TableResult(Result):
    """A result whose content is one tidy frame, ``.table`` (a copy)."""

    _table: pd.DataFrame = field(kw_only=True)

    _frames: ClassVar[tuple[str, ...]] = ("table",)

    @property
    def table(self) -> pd.DataFrame:
        return frozen_copy(self._table)

    def _tidy(self) -> pd.DataFrame:
        return self._table


@dataclass(frozen=True, repr=False)
class CurveResult(TableResult):
    """Step-function curves, right-continuous: ``.table`` one row per curve and time, ``.at(times)``."""

    n_events: int = field(kw_only=True)
    conf_level: float = field(kw_only=True)

    _keys: ClassVar[tuple[str, ...]] = ("group",)
    _start: ClassVar[float] = 1.0

    def _start_value(self, key: Mapping[str, Any]) -> float:
        """The value of the curve identified by ``key`` (column -> value) before its first time."""
        return self._start

    @property
    def groups(self) -> list:
        return list(pd.unique(self._table["group"])) if "group" in self._table.columns else [None]

    def at(self, times) -> pd.DataFrame:
        """The curves at ``times`` as R's ``summary(survfit, times=, extend=TRUE)``: see :func:`step_at`."""
        keys = [k for k in self._keys if k in self._table.columns]
        return step_at(self._table, times, keys=keys, start=self._start_value)


@dataclass(frozen=True, repr=False)
class ModelResult(Result):
    """A regression model: ``.summary`` (index term; coef, std_err, <ratio>, lower, upper, statistic,
    p_value, where <ratio> is ``.ratio_name``), ``.coef``, ``.cov``, ``n_events``, ``conf_level``,
    ``converged``; ``design`` (:class:`~bmstats.estimate.design.Design`, or None) tells the report layer
    which terms are levels of a categorical variable and their reference level."""

    _summary: pd.DataFrame = field(kw_only=True)
    _cov: pd.DataFrame = field(kw_only=True)
    n_events: int = field(kw_only=True)
    conf_level: float = field(kw_only=True)
    converged: bool = field(default=True, kw_only=True)
    design: Any = field(default=None, kw_only=True, repr=False)  # the Design (terms, factors, reference levels)

    ratio_name: ClassVar[str] = "hr"

    def __post_init__(self) -> None:
        from bmstats.estimate.design import Design

        if isinstance(self.design, Design):
            object.__setattr__(self, "design", self.design.for_result())  # read-only, without the matrix

    @property
    def summary(self) -> pd.DataFrame:
        return frozen_copy(self._summary)

    @property
    def coef(self) -> pd.Series:
        return frozen_copy(self._summary["coef"])

    @property
    def cov(self) -> pd.DataFrame:
        return frozen_copy(self._cov)

    @property
    def ratio(self) -> pd.Series:
        """exp(coef): the column named by ``ratio_name``."""
        return frozen_copy(self._summary[self.ratio_name])

    def _tidy(self) -> pd.DataFrame:
        return self._summary


@dataclass(frozen=True, repr=False)
class TestResult(Result):
    """A hypothesis test: ``statistic``, ``df``, ``p_value`` (``.summary``: them as a one-row frame)."""

    __test__ = False  # not a pytest test class

    statistic: float = field(kw_only=True)
    df: float = field(kw_only=True)
    p_value: float = field(kw_only=True)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "p_value": self.p_value}])

    def _tidy(self) -> pd.DataFrame:
        return self.summary


def conf_type_option(conf_type: Any, allowed: Sequence[str] = CONF_TYPES) -> str:
    """Check ``conf_type`` against the package's one set of choices (``allowed``: the subset that makes sense
    for the estimate, e.g. not "log-log" for a mean number of events, which is not a probability)."""
    if conf_type not in allowed:
        extra = [c for c in CONF_TYPES if c not in allowed]
        why = f" ({', '.join(extra)} is for probabilities)" if extra else ""
        raise InputError(f"conf_type must be one of {', '.join(allowed)}{why}, got {conf_type!r}")
    return conf_type


def _check_times(times) -> np.ndarray:
    """The requested times, checked once (:func:`bmstats._checks.time_points`: finite, non-negative), sorted."""
    return np.sort(time_points(times), kind="mergesort")


def step_at(table: pd.DataFrame, times, *, keys: Sequence[str] = ("group",),
            start: float | Callable[[Mapping[str, Any]], float] = 1.0,
            values: Sequence[str] | None = None) -> pd.DataFrame:
    """Right-continuous step curves of ``table`` at ``times``: the one lookup behind every ``.at``.

    As R's ``summary(survfit, times=, extend=TRUE)``: ``times`` are sorted; the value columns (estimate,
    std_err, lower, upper and any in ``values``) are those of the last row with time <= t, and before a
    curve's first time the curve's starting value (``start``: a number, or a function of the curve's key
    ``{column: value}``) with std_err 0 and both limits at the start; ``n_risk`` is that of the first row
    with time >= t (0 beyond the end); n_event, n_censor and n_terminal count the rows in
    (previous requested time, t].  ``keys``: the columns that identify one curve (each curve is answered
    separately, in the order the curves appear).
    """
    t_req = _check_times(times)
    keys = list(keys)
    value_cols = [c for c in (values or CURVE_VALUES) if c in table.columns]
    if values is None:
        value_cols += [c for c in table.columns if c not in (*keys, "time", "n_risk", *CURVE_COUNTS, *value_cols)
                       and pd.api.types.is_float_dtype(table[c])]
    count_cols = [c for c in CURVE_COUNTS if c in table.columns]
    curves = table.groupby(keys, sort=False, observed=True) if keys else [((), table)]
    out = []
    for key, tb in curves:
        key = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        tb = tb.sort_values("time", kind="mergesort")
        t = tb["time"].to_numpy(dtype=float)
        last = np.searchsorted(t, t_req, side="right") - 1  # last row with time <= t
        first = np.searchsorted(t, t_req, side="left")  # first row with time >= t
        frame = {**{k: [v] * len(t_req) for k, v in key.items()}, "time": t_req}
        if "n_risk" in tb.columns:
            frame["n_risk"] = np.append(tb["n_risk"].to_numpy(), 0)[first]
        for c in count_cols:
            cum = np.concatenate([[0], np.cumsum(tb[c].to_numpy())])[last + 1]
            frame[c] = np.diff(cum, prepend=0)
        s = float(start(key)) if callable(start) else float(start)
        for c in value_cols:
            before = 0.0 if c == "std_err" else s
            frame[c] = np.where(last >= 0, tb[c].to_numpy(dtype=float)[np.maximum(last, 0)], before)
        out.append(pd.DataFrame(frame))
    result = pd.concat(out, ignore_index=True)
    for k in keys:  # keep a categorical group categorical
        if isinstance(table[k].dtype, pd.CategoricalDtype):
            result[k] = pd.Categorical(result[k], categories=table[k].cat.categories)
    return result
