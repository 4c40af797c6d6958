"""Rows that stay inside DuckDB, with the ``attrs`` a pandas frame of the cohort layer would carry.

An engine-backed cohort derives its analysis rows (``Cohort.endpoint``, ``Cohort.recurrent_events``) as SQL
queries; the result is an :class:`EngineFrame`: a lazy DuckDB relation plus the metadata that the pandas
path keeps in ``frame.attrs`` (the exclusion log, the unit and origin of the time scale).  Every estimator
accepts it as ``data`` and aggregates it in the engine; nothing is computed until an estimator (or
:meth:`EngineFrame.to_pandas`) asks.  It lives outside ``cohort`` and ``engine`` so that both can know it
without the cohort layer importing the estimators.
"""
from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

_TABLES = itertools.count()


class EngineFrame:
    """Analysis rows as a DuckDB relation (``.relation``) with pandas-like ``.attrs`` and ``.columns``.

    Parameters
    ----------
    relation : duckdb.DuckDBPyRelation
        The rows, a lazy query.
    attrs : dict
        What the pandas frame of the same derivation holds in ``attrs``.
    order : sequence of str, optional
        Columns that give the pandas path's row order (used by :meth:`to_pandas`).
    keep : object, optional
        Objects the relation depends on (connection, registered frames), kept alive with it.
    pandas_attrs : callable, optional
        Gives the ``attrs`` values that :meth:`to_pandas` puts in place of engine-held ones (e.g. the events
        not counted, fetched into their JSON form), so that the pandas frame's ``attrs`` are JSON as on the
        pandas path and it can be written with ``to_parquet``.
    """

    __slots__ = ("_relation", "_attrs", "_order", "_keep", "_table", "_pandas_attrs")

    def __init__(self, relation: Any, attrs: dict, order=(), keep: Any = None, pandas_attrs=None):
        self._relation = relation
        self._pandas_attrs = pandas_attrs
        self._attrs = dict(attrs)
        self._order = tuple(order)
        self._keep = keep
        self._table: tuple[str, Any] | None = None

    def engine_relation(self):
        """The relation estimators aggregate: the rows stored once, on first use, in a temporary table of
        the relation's own DuckDB connection (buffer-managed: it spills to DuckDB's temp directory rather than
        growing the process), so that a model iterating over them (one query per Newton step) does not derive
        them again each time.  The table is dropped with this object."""
        if self._table is None:
            name = f"bmstats_rows_{next(_TABLES)}"
            self._relation.query("bmstats_rows", f'CREATE TEMP TABLE "{name}" AS SELECT * FROM bmstats_rows')
            self._table = (name, self._relation.query("bmstats_rows", f'SELECT * FROM "{name}"'))
        return self._table[1]

    def __del__(self):
        table = getattr(self, "_table", None)
        if table is not None:
            try:
                self._relation.query("bmstats_rows", f'DROP TABLE IF EXISTS "{table[0]}"')
            except Exception:  # noqa: BLE001 - the connection may already be closed at interpreter exit
                pass

    @property
    def relation(self):
        """The DuckDB relation (lazy: each use runs the query)."""
        return self._relation

    @property
    def attrs(self) -> dict:
        """A copy of the metadata (``exclusions``, ``endpoint`` / ``recurrent`` with unit and origin)."""
        return dict(self._attrs)

    @property
    def columns(self) -> list[str]:
        return list(self._relation.columns)

    def __len__(self) -> int:
        return int(self._relation.aggregate("count(*)").fetchall()[0][0])

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas frame (in the pandas path's order, with its ``attrs``): for small results."""
        rel = self._relation
        if self._order:
            rel = rel.order(", ".join('"' + c.replace('"', '""') + '"' for c in self._order))
        frame = rel.df()
        frame.attrs.update(self._attrs)
        if self._pandas_attrs is not None:
            frame.attrs.update(self._pandas_attrs())
        return frame

    def __repr__(self) -> str:
        columns = ", ".join(self.columns)
        return f"EngineFrame (rows in DuckDB, computed when an estimator aggregates them): {columns}"

    def __deepcopy__(self, memo):
        return self  # immutable
