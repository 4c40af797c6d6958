"""``EngineTables``: a cohort's canonical tables held as views inside DuckDB (``read_cohort(..., engine="duckdb")``).

The site files (Parquet or CSV, a glob included) or DuckDB relations are never loaded into pandas.  Each table
is three views in one DuckDB connection:

- the raw view: the file's columns as read, plus ``__bm_row``, the file's row number (header = row 1, first
  data row = row 2, as in the pandas reader; a glob's files are numbered as if concatenated in name order);
- the checked view: the canonical columns (the mapping applied as SQL: renames, value recodes, unit factors,
  dates parsed in the mapping's format) plus, per checked column, its text and a flag for a value that did
  not parse; :mod:`bmstats.cohort.engine_rules` validates from it;
- the canonical view (:attr:`EngineTables.patients`, :attr:`EngineTables.events`): ``row`` then the canonical
  columns in the schema's order (dates as DATE, numbers DOUBLE, integers BIGINT, codes and ids VARCHAR,
  ``symptomatic`` BOOLEAN), then the site's extra columns.  What the pandas cohort holds in its frames, with the
  row number as a column instead of the index.

:meth:`EngineTables.sql` runs a query where the views live and returns a lazy DuckDB relation, which every
estimator accepts as ``data``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

TABLES = ("patients", "skeletal_events")


@dataclass(frozen=True, eq=False, repr=False)
class EngineTables:
    """The canonical ``patients`` and ``skeletal_events`` tables of a cohort, as views in one DuckDB connection.

    Attributes
    ----------
    patients : str
        Name of the canonical patients view (``row`` + canonical columns + extra columns).
    events : str
        Name of the canonical skeletal-events view (the same shape; no rows when no events were given).
    connection : duckdb.DuckDBPyConnection or None
        The connection holding the views when bmstats made it (or it was passed as ``engine=``); None when
        the cohort was read from DuckDB relations, whose own connection holds the views.
    """

    patients: str
    events: str
    connection: Any
    _run: Any = field(repr=False)  # sql text -> lazy DuckDB relation in the connection holding the views
    _views: dict = field(repr=False)  # (table, "raw" | "checked") -> view name
    _plans: dict = field(repr=False)  # table -> engine_convert.TablePlan
    _keep: Any = field(default=None, repr=False)  # objects the views need alive (relations)

    def sql(self, text: str):
        """Run ``text`` (SQL that may name :attr:`patients` and :attr:`events`) where the views live.

        Parameters
        ----------
        text : str
            A query.

        Returns
        -------
        duckdb.DuckDBPyRelation
            Lazy: nothing is computed until it is fetched or aggregated (an estimator accepts it as ``data``).
        """
        return self._run(text)

    def relation(self, table: str):
        """The canonical view of ``table`` ("patients" or "skeletal_events") as a lazy DuckDB relation.

        Parameters
        ----------
        table : {"patients", "skeletal_events"}
            Which table.

        Returns
        -------
        duckdb.DuckDBPyRelation
            ``SELECT * FROM`` the canonical view.
        """
        return self.sql(f'SELECT * FROM "{self.view(table)}"')

    def view(self, table: str, kind: str = "canonical") -> str:
        """Name of the ``kind`` ("canonical", "checked" or "raw") view of ``table``."""
        if table not in TABLES:
            from bmstats._checks import InputError

            raise InputError(f"table must be one of {', '.join(TABLES)}, got {table!r}")
        if kind == "canonical":
            return self.patients if table == "patients" else self.events
        return self._views[(table, kind)]

    def fetch(self, text: str) -> pd.DataFrame:
        """Run ``text`` and fetch its (small) result as a pandas DataFrame; a DuckDB error (a malformed row
        met only now, a view's file gone) is the package's ``InputError``."""
        import duckdb

        try:
            return self._run(text).fetchdf()
        except duckdb.Error as exc:
            from bmstats._checks import InputError

            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise InputError(f"cohort query failed in DuckDB: {first}") from None

    def count(self, table: str) -> int:
        """Number of rows of ``table``."""
        return int(self.fetch(f'SELECT count(*) AS n FROM "{self.view(table)}"')["n"].iloc[0])

    def plan(self, table: str):
        """How ``table``'s canonical columns are computed from its raw columns (engine_convert.TablePlan)."""
        return self._plans[table]
