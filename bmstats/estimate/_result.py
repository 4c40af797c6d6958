"""The shape every estimator result shares: immutable, tidy, notebook-friendly, lazily plottable."""
from __future__ import annotations

import html

import pandas as pd


def frozen_copy(frame: pd.DataFrame) -> pd.DataFrame:
    """Results hand out copies so that a caller editing a table cannot change the result."""
    return frame.copy(deep=True)


class ResultMixin:
    """Mixin for frozen dataclass results.

    A subclass exposes its tidy frame as ``.table`` or ``.summary`` and sets ``_title``.
    ``_repr_html_`` shows the title and the tidy frame (truncated) in Jupyter.
    """

    _title: str = "bmstats result"

    def _tidy(self) -> pd.DataFrame:
        for name in ("summary", "table"):
            if hasattr(type(self), name) or name in getattr(self, "__dataclass_fields__", {}):
                value = getattr(self, name)
                if isinstance(value, pd.DataFrame):
                    return value
        raise AttributeError(f"{type(self).__name__} has no tidy frame")

    def _notes(self) -> list[str]:
        """Lines shown under the title (n, events, method); subclasses extend."""
        return []

    def _all_notes(self) -> list[str]:
        """The subclass's notes plus, when ``dropna=True`` removed rows, how many and for which columns."""
        notes = self._notes()
        dropped = getattr(self, "dropped", None)
        if dropped is not None and dropped.n:
            by = ", ".join(f"{col}: {k}" for col, k in dropped.by_column.items())
            rows = "row" if dropped.n == 1 else "rows"
            notes.append(f"{dropped.n} {rows} dropped for missing values ({by})")
        return notes

    def __repr__(self) -> str:
        lines = [self._title, *self._all_notes(), self._tidy().to_string(max_rows=20)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        notes = "".join(f"<br><small>{html.escape(n)}</small>" for n in self._all_notes())
        return (
            f"<div><strong>{html.escape(self._title)}</strong>{notes}"
            f"{self._tidy().to_html(max_rows=20, float_format=lambda x: f'{x:.4g}')}</div>"
        )
