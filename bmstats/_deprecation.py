"""Old argument spellings that keep working for this release, each with a FutureWarning naming the new one.

:func:`legacy_arguments` wraps an estimator whose options became keyword-only or were renamed::

    @legacy_arguments(positional=("by", "entry"), renamed={"start": "entry"})
    def kaplan_meier(data, time, event, *, by=None, entry=None): ...

``positional``: the options, in their old order, that used to be accepted by position after the required
arguments; ``renamed``: old keyword -> new keyword.  Both still work and warn.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["legacy_arguments", "renamed_argument", "renamed_attribute"]


def renamed_argument(func: str, old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(f"{func}({old}=...) is deprecated and will be removed; use {new}= instead",
                  FutureWarning, stacklevel=stacklevel)


def renamed_attribute(cls: str, old: str, new: str) -> None:
    warnings.warn(f"{cls}.{old} is deprecated and will be removed; use .{new} instead", FutureWarning, stacklevel=3)


def legacy_arguments(positional: Sequence[str] = (), renamed: Mapping[str, str] | None = None) -> Callable:
    renamed = dict(renamed or {})

    def decorate(func: Callable) -> Callable:
        params = inspect.signature(func).parameters
        n_positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params.values())
        name = func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > n_positional:
                extra = args[n_positional:]
                if len(extra) > len(positional):
                    raise TypeError(f"{name}() takes {n_positional} positional arguments but {len(args)} were given")
                names = list(positional[: len(extra)])
                warnings.warn(f"{name}(): pass {', '.join(n + '=' for n in names)} by keyword; options given by "
                              "position are deprecated and will be removed", FutureWarning, stacklevel=2)
                for key, value in zip(names, extra):
                    key = renamed.get(key, key)
                    if key in kwargs:
                        raise TypeError(f"{name}() got multiple values for argument {key!r}")
                    kwargs[key] = value
                args = args[:n_positional]
            for old, new in renamed.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{name}() got both {old}= (deprecated) and {new}=; pass only {new}=")
                    renamed_argument(name, old, new)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate
