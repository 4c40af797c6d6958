"""Input checks shared by every estimator: errors name the column, the rule and the offending rows.

Nothing is dropped silently: missing values are an error unless the caller asks for ``dropna=True``,
and then what was dropped is counted and returned so that results can report it.
"""
from __future__ import annotations

import reprlib

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from bmstats._attrs import ReadOnly, json_value
from bmstats._relation import EngineFrame

MAX_ROWS_SHOWN = 10


class InputError(ValueError):
    """Bad input to a bmstats function: the message names the column, the rule and the rows."""


class ExtrapolationWarning(UserWarning):
    """A curve or prediction read beyond the last follow-up time, where nothing was observed."""


def describe_rows(index: Iterable, limit: int = MAX_ROWS_SHOWN) -> str:
    """'rows 3, 17, 42 (and 12 more)' for the index labels of offending rows."""
    labels = list(index)
    shown = ", ".join(str(x) for x in labels[:limit])
    more = f" (and {len(labels) - limit} more)" if len(labels) > limit else ""
    noun = "row" if len(labels) == 1 else "rows"
    return f"{noun} {shown}{more}"


def fail(column: str, rule: str, bad: pd.Series | pd.Index | Sequence) -> None:
    """Raise InputError for ``column`` breaking ``rule`` at the rows where ``bad`` is true (or listed)."""
    if isinstance(bad, pd.Series) and bad.dtype == bool:
        rows = bad.index[bad.to_numpy()]
    else:
        rows = bad
    raise InputError(f"column {column!r}: {rule}; {describe_rows(rows)}")


def require_frame(data: object, name: str = "data") -> pd.DataFrame:
    """``data`` as a DataFrame with rows and unique column names (a duplicated name makes every column
    lookup ambiguous: ``data[name]`` would be a frame, not a column)."""
    if not isinstance(data, pd.DataFrame):
        hint = ""
        if isinstance(data, EngineFrame):  # rows an engine-held cohort kept in DuckDB
            hint = ("; these rows are still in DuckDB and this function needs them in memory: "
                    "pass data.to_pandas() (or a sample of it)")
        raise InputError(f"{name} must be a pandas DataFrame, got {type(data).__name__}{hint}")
    if len(data) == 0:
        raise InputError(f"{name} has no rows")
    duplicated = data.columns[data.columns.duplicated()]
    if len(duplicated):
        names = ", ".join(repr(c) for c in dict.fromkeys(duplicated))
        raise InputError(f"{name} has duplicated column name(s) {names}; rename them so that each is unique")
    return data


def require_columns(data: pd.DataFrame, columns: Iterable[str | None]) -> None:
    wanted = [c for c in columns if c is not None]
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(repr(c) for c in missing)} not found in data; "
            f"available: {', '.join(map(str, data.columns))}"
        )


def number_option(value: object, name: str, *, low: float | None = None, high: float | None = None,
                  low_open: bool = False, high_open: bool = False, integer: bool = False,
                  what: str = "") -> float:
    """A scalar option checked once: a real (not bool, not text, finite) number in the given range.

    ``number_option(h, "horizon", low=0, low_open=True, what="years")`` returns ``float(h)`` or raises
    InputError naming the option, the range and the value given (``horizon="5"`` is text, not a number).
    """
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    x = float(value) if ok else float("nan")
    if ok and integer and x != round(x):
        ok = False
    if ok and not np.isfinite(x):
        ok = False
    if ok and low is not None and (x <= low if low_open else x < low):
        ok = False
    if ok and high is not None and (x >= high if high_open else x > high):
        ok = False
    if ok:
        return x
    kind = "a whole number" if integer else "a number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    rule = kind + (" " + " and ".join(bounds) if bounds else "") + (f" ({what})" if what else "")
    got = f"text {value!r}" if isinstance(value, str) else repr(value)
    raise InputError(f"{name} must be {rule}, got {got}")


def positive_number(value: object, name: str, what: str = "") -> float:
    """``number_option(value, name, low=0, low_open=True)``: a finite number > 0."""
    return number_option(value, name, low=0, low_open=True, what=what)


def distinct_labels(labels: Sequence, column: str, values: pd.Series | None = None) -> list:
    """The levels of a grouping column, refused when two different values print the same (``1`` and
    ``"1"``, ``2.0`` and ``"2.0"``): they would become two groups that a table cannot tell apart."""
    labels = list(labels)
    seen: dict[str, object] = {}
    for level in labels:
        text = str(level)
        if text in seen:
            other = seen[text]
            where = ""
            if values is not None:
                rows = values.index[values.map(lambda v, lv=level: type(v) is type(lv) and v == lv).to_numpy(bool)]
                where = f"; {describe_rows(rows)} hold the {type(level).__name__} one"
            raise InputError(
                f"column {column!r}: values {other!r} ({type(other).__name__}) and {level!r} "
                f"({type(level).__name__}) are different groups that both print as {text!r}; "
                f"make the column one type (e.g. data[{column!r}].astype(str)){where}")
        seen[text] = level
    return labels


class Dropped(ReadOnly, dict):
    """Rows removed by ``dropna=True``: how many (``n``), which index labels (``rows``) and how many per
    column (``by_column``).

    Read-only.  It is also a mapping of its JSON form (n, rows as JSON values, by_column), so that a frame
    carrying it in ``attrs["dropped"]`` can be written with ``to_parquet``/``to_feather`` (:mod:`bmstats._attrs`).
    """

    __slots__ = ("_n", "_rows", "_by_column")

    def __init__(self, n: int, rows: tuple, by_column: dict):
        object.__setattr__(self, "_n", int(n))
        object.__setattr__(self, "_rows", tuple(rows))
        object.__setattr__(self, "_by_column", {str(k): int(v) for k, v in dict(by_column).items()})
        dict.update(self, {"n": self._n, "rows": [json_value(r) for r in self._rows],
                           "by_column": dict(self._by_column)})

    @classmethod
    def none(cls) -> Dropped:
        return cls(0, (), {})

    def _args(self) -> tuple:
        return (self._n, self._rows, self._by_column)

    @property
    def n(self) -> int:
        return self._n

    @property
    def rows(self) -> tuple:
        return self._rows

    @property
    def by_column(self) -> dict:
        return dict(self._by_column)

    def __repr__(self) -> str:
        return f"Dropped(n={self._n}, rows={self._rows!r}, by_column={self._by_column!r})"


def handle_missing(
    data: pd.DataFrame, columns: Sequence[str | None], dropna: bool
) -> tuple[pd.DataFrame, Dropped]:
    """Error on missing values in ``columns`` unless ``dropna``; then drop and count them (an error if no
    row is left)."""
    cols = [c for c in dict.fromkeys(columns) if c is not None]
    na = data[cols].isna()
    if not na.to_numpy().any():
        return data, Dropped.none()
    if not dropna:
        col = next(c for c in cols if na[c].any())
        fail(col, "missing values (pass dropna=True to drop and count them)", na[col])
    any_na = na.any(axis=1)
    by_column = {c: int(na[c].sum()) for c in cols if na[c].any()}
    if any_na.all():
        raise InputError(f"no rows left after dropping missing values ({', '.join(by_column)})")
    dropped = Dropped(int(any_na.sum()), tuple(data.index[any_na.to_numpy()]), by_column)
    return data.loc[~any_na], dropped


def numeric_array(data: pd.DataFrame, column: str) -> np.ndarray:
    """The column as float64, or an error naming the rows that are not numbers."""
    s = data[column]
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        raise InputError(f"column {column!r}: must be numeric, got {s.dtype} (convert dates to a duration, "
                         "e.g. (date - origin).dt.days / 365.25)")
    converted = pd.to_numeric(s, errors="coerce")
    not_number = converted.isna() & s.notna()
    if not_number.any():
        fail(column, "must be numeric", not_number)
    # every value reads as a number but some are stored as text ("1" beside 1): refuse rather than guess
    text = s.map(lambda v: isinstance(v, (str, bytes)), na_action="ignore").fillna(False).astype(bool)
    if text.any():
        fail(column, f"must be numeric, but holds numbers stored as text (dtype {s.dtype}); convert it with "
             "pd.to_numeric first", text)
    return converted.to_numpy(dtype=float, na_value=np.nan)


def time_array(data: pd.DataFrame, column: str, allow_zero: bool = True) -> np.ndarray:
    """Follow-up times: numeric, finite and non-negative (or positive)."""
    t = numeric_array(data, column)
    bad = ~np.isfinite(t) | (t < 0 if allow_zero else t <= 0)
    if bad.any():
        rule = "times must be finite and non-negative" if allow_zero else "times must be finite and positive"
        fail(column, rule, data.index[bad])
    return t


def status_array(
    data: pd.DataFrame, column: str, max_code: int | None = None, causes: Iterable[int] | None = None
) -> np.ndarray:
    """Status codes: integers 0 (censored), 1..k (causes); ``max_code`` caps k (1 for survival).

    ``causes``: the causes the caller declared; any other non-zero code is an error naming the code and its
    rows (a stray code such as 9 = "unknown" must not silently become a competing cause).
    """
    s = numeric_array(data, column)
    bad = ~np.isfinite(s) | (s != np.round(s)) | (s < 0)
    if max_code is not None:
        bad |= s > max_code
    if bad.any():
        allowed = "0 or 1" if max_code == 1 else (f"0..{max_code}" if max_code else "0, 1, 2, ...")
        fail(column, f"status codes must be integers {allowed} (0 = censored)", data.index[bad])
    if causes is not None:
        declared = sorted({int(c) for c in causes})
        stray = (s != 0) & ~np.isin(s, declared)
        if stray.any():
            codes = ", ".join(str(int(c)) for c in np.unique(s[stray]))
            fail(column, f"code(s) {codes} are neither 0 (censored) nor a declared cause "
                 f"({', '.join(map(str, declared))})", data.index[stray])
    return s.astype(np.int64)


def cause_code(cause: object, name: str = "cause") -> int:
    """A cause of interest: a positive integer status code (0 is the censoring code, not a cause)."""
    if isinstance(cause, (bool, np.bool_)) or not isinstance(cause, (int, np.integer)):
        if isinstance(cause, (float, np.floating)) and float(cause).is_integer():
            cause = int(cause)
        else:
            raise InputError(f"{name} must be a positive integer status code (the cause of interest), got {cause!r}")
    if cause < 1:
        raise InputError(f"{name} must be a positive integer status code (the cause of interest), got {cause!r}; "
                         "0 is the code for censored rows")
    return int(cause)


def time_points(times: object, name: str = "times") -> np.ndarray:
    """Times at which a curve or a prediction is read: a 1-d array of finite, non-negative numbers."""
    shown = f"a {type(times).__name__}" if isinstance(times, pd.DataFrame) else reprlib.repr(times)
    try:
        t = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers, got {shown}") from None
    if t.ndim != 1 or t.size == 0:
        raise InputError(f"{name} must be one number or a non-empty list of numbers, got {shown}")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        raise InputError(f"{name} must be finite and non-negative; got {', '.join(f'{x:g}' for x in t[bad])}")
    return t


def event_array(data: pd.DataFrame, column: str) -> np.ndarray:
    """A survival event indicator: 0/1 or False/True."""
    return status_array(data, column, max_code=1)


MAX_COUNT = 2**31 - 1  # as the engines' check: a larger count is a data error, never a number of events
COUNT_RULE = "event counts must be whole numbers >= 0 (and below 2^31)"
NO_TIME_RULE = "events counted in a row with no person-time (events need time at risk)"


def count_array(data: pd.DataFrame, column: str) -> np.ndarray:
    """Event counts per row: whole numbers >= 0 (0/1 indicators are counts too), as int64."""
    s = numeric_array(data, column)
    bad = ~np.isfinite(s) | (s != np.round(s)) | (s < 0) | (s > MAX_COUNT)
    if bad.any():
        fail(column, COUNT_RULE, data.index[bad])
    return s.astype(np.int64)


def beyond_follow_up(times: np.ndarray, last: float, what: str) -> None:
    """Warn when ``times`` go past the last follow-up time ``last`` (as survRM2 refuses a tau beyond it):
    the estimate there is carried forward from the last observation, not estimated."""
    far = times[times > last]
    if far.size:
        import warnings

        warnings.warn(
            f"{what} at time(s) {', '.join(f'{x:g}' for x in np.unique(far)[:5])} beyond the last follow-up time "
            f"{last:g}: the curve is carried forward there, not estimated",
            ExtrapolationWarning,
            stacklevel=3,
        )
