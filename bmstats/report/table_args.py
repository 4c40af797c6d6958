"""One argument-checking layer for every table builder: ``@checked_arguments`` on a builder checks each
argument by its name (``decimals``, ``times``, ``models``, ``result``, ...) before the builder runs.

A builder that gains an argument with one of these names is checked for free; a bad value is one
:class:`~bmstats._checks.InputError` naming the builder, the argument and the value
(``cif_table: times must be a non-empty list of numbers >= 0, got []``), never a numpy or pandas traceback
from deep inside the formatting.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping, Sequence
from typing import Any
from collections.abc import Callable

import numpy as np
import pandas as pd

from bmstats._checks import InputError, number_option

MAX_DECIMALS = 10


def _fail(builder: str, name: str, rule: str, value: Any) -> None:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise InputError(f"{builder}: {name} must be {rule}, got {shown}")


def _decimals(value: Any, name: str, builder: str) -> Any:
    if value is None:
        return value
    whole = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not whole or not 0 <= value <= MAX_DECIMALS:
        _fail(builder, name, f"a whole number from 0 to {MAX_DECIMALS}", value)
    return int(value)


def _times(value: Any, name: str, builder: str) -> list[float]:
    rule = "a non-empty list of numbers >= 0 (times in the result's unit)"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray, pd.Series, pd.Index)):
        scalar = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        values = [value] if scalar else None
        if values is None:
            _fail(builder, name, rule, value)
        value = values
    values = list(value)
    if not values:
        _fail(builder, name, rule, value)
    out = []
    for t in values:
        try:
            out.append(number_option(t, name, low=0))
        except InputError:
            _fail(builder, name, rule, value)
    if len(set(out)) != len(out):
        _fail(builder, name, "a list of distinct times", value)
    return sorted(out)  # a table's columns in time order, as every .at answers


def _models(value: Any, name: str, builder: str) -> Any:
    if value is None or (isinstance(value, Mapping) and not value) or (isinstance(value, (list, tuple)) and not value):
        _fail(builder, name, "one fitted model or a non-empty mapping {heading: model}", value)
    if isinstance(value, Mapping):
        for heading, fit in value.items():
            if not isinstance(heading, str):
                _fail(builder, f"{name} key", "text (a column heading)", heading)
            if fit is None or (isinstance(fit, (list, tuple)) and not fit):
                _fail(builder, f"{name}[{heading!r}]", "a fitted model or a non-empty list of them", fit)
    return value


# the result each builder tabulates: the estimator that makes it and the result class (module, name)
_RESULTS = {
    "cif_table": ("bmstats.cumulative_incidence", ("bmstats.estimate.cif", "CumulativeIncidence")),
    "survival_table": ("bmstats.kaplan_meier", ("bmstats.estimate.km", "KaplanMeier")),
    "median_table": ("bmstats.kaplan_meier", ("bmstats.estimate.km", "KaplanMeier")),
    "rate_table": ("bmstats.incidence_rate", ("bmstats.estimate.rates", "IncidenceRate")),
    "mcf_table": ("bmstats.mean_cumulative_function", ("bmstats.estimate.mcf", "MeanCumulativeFunction")),
}


def _result(value: Any, name: str, builder: str) -> Any:
    import importlib

    from bmstats.estimate._result import TableResult

    source, (module, cls) = _RESULTS.get(builder, ("an estimator", ("bmstats.estimate._result", "TableResult")))
    if not isinstance(value, getattr(importlib.import_module(module), cls)):
        _fail(builder, name, f"a result of {source}", value)
    if isinstance(value, TableResult) and len(value.table) == 0:
        _fail(builder, name, "a result with at least one row in its .table", value)
    return value


def _cause(value: Any, name: str, builder: str) -> Any:
    if value is None:
        return value
    items = [value] if not isinstance(value, (list, tuple, np.ndarray, pd.Index)) else list(value)
    if not items or not all(isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)) and c > 0
                            for c in items):
        _fail(builder, name, "a cause code (an integer >= 1) or a list of them", value)
    return [int(c) for c in items]


def _text(value: Any, name: str, builder: str) -> Any:
    if value is not None and not isinstance(value, str):
        _fail(builder, name, "text", value)
    return value


def _mapping(value: Any, name: str, builder: str) -> Any:
    if value is not None and not isinstance(value, Mapping):
        _fail(builder, name, "a mapping {name: label}", value)
    return value


def _nested_mapping(value: Any, name: str, builder: str) -> Any:
    _mapping(value, name, builder)
    for key, inner in (value or {}).items():
        if not isinstance(inner, Mapping):
            _fail(builder, f"{name}[{key!r}]", "a mapping {level: label}", inner)
    return value


def _names(value: Any, name: str, builder: str) -> Any:
    if value is None:
        return value
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, pd.Index)) or not all(isinstance(v, str) for v in items):
        _fail(builder, name, "a list of column names", value)
    return list(items)


def _per(value: Any, name: str, builder: str) -> Any:
    if value is None:
        return value
    try:
        return number_option(value, name, low=0, low_open=True)
    except InputError:
        _fail(builder, name, "a number > 0 (rates per that much person-time)", value)


def _max_levels(value: Any, name: str, builder: str) -> Any:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        _fail(builder, name, "a whole number >= 1", value)
    return int(value)


def _flag(value: Any, name: str, builder: str) -> Any:
    if not isinstance(value, (bool, np.bool_)):
        _fail(builder, name, "True or False", value)
    return bool(value)


def _footnotes(value: Any, name: str, builder: str) -> Any:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        _fail(builder, name, "a list of texts", value)
    return tuple(value)


CHECKS: dict[str, Callable[[Any, str, str], Any]] = {
    "decimals": _decimals,
    "times": _times,
    "models": _models,
    "result": _result,
    "title": _text,
    "group_label": _text,
    "unit": _text,
    "ratio_label": _text,
    "labels": _mapping,
    "causes": _mapping,
    "cause": _cause,
    "cause_labels": _mapping,
    "level_labels": _nested_mapping,
    "variables": _names,
    "categorical": _names,
    "nonnormal": _names,
    "per": _per,
    "max_levels": _max_levels,
    "overall": _flag,
    "tests": _flag,
    "smd": _flag,
    "footnotes": _footnotes,
}


def checked_arguments(builder: Callable) -> Callable:
    """Decorate a table builder: every argument named in :data:`CHECKS` is checked (and normalised, e.g.
    ``times`` to a list of floats) before the builder runs."""
    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        for name, value in list(bound.arguments.items()):
            check = CHECKS.get(name)
            if check is not None:
                bound.arguments[name] = check(value, name, builder.__name__)
        return builder(*bound.args, **bound.kwargs)

    return wrapper
