"""The metadata of the frames the cohort layer hands out (``DataFrame.attrs``): JSON values only.

pandas writes ``attrs`` into Parquet and Feather files as JSON (and reads them back), and refuses to write a
frame whose attrs are not JSON (``to_parquet`` raised a bare ``TypeError`` on the exclusion log).  So every
value the cohort layer puts in ``attrs`` is JSON: plain dicts, lists, text and numbers, or one of the
read-only ``dict``/``list`` subclasses here and in :mod:`bmstats.cohort.exclusions` whose JSON form is
their content (``ExclusionLog`` is a mapping of its ``to_dict()``; :class:`DroppedEvents` a list of one
record per event).  Read back from a file, they are the plain dict and list; ``ExclusionLog.from_dict`` and
``DroppedEvents.from_records`` make the objects again.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


DICT_MUTATORS = ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "setdefault", "update")
LIST_MUTATORS = ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend", "insert", "pop",
                 "remove", "clear", "sort", "reverse")


def _refuse(self, *args, **kwargs):
    raise TypeError(f"{type(self).__name__} is read-only")


class ReadOnly:
    """Base of the read-only ``dict``/``list`` subclasses kept in ``attrs`` (put it before dict or list):
    their mutating methods and attribute setting raise, a copy is the object itself (pandas deep-copies
    ``attrs`` on many operations: this keeps that free), and they pickle by their constructor arguments
    (``_args()``).  Subclasses set their state with ``object.__setattr__`` and their content with
    ``dict.update`` / ``list.extend`` in ``__init__``."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in DICT_MUTATORS if issubclass(cls, dict) else LIST_MUTATORS:
            setattr(cls, name, _refuse)

    def _args(self) -> tuple:
        raise NotImplementedError

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only (cannot set {name!r})")

    def __reduce__(self):
        return (type(self), self._args())

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def json_value(value: Any) -> Any:
    """A cell as JSON: None for missing, ISO text for dates, Python numbers for numpy ones."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        value = pd.Timestamp(value)
        return None if pd.isna(value) else value.strftime("%Y-%m-%d")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as JSON records (column -> value)."""
    columns = [str(c) for c in frame.columns]
    return [dict(zip(columns, map(json_value, row))) for row in frame.itertuples(index=False, name=None)]
