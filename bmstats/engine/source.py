"""Where the rows live: a pandas frame, or a table inside an engine that aggregates them for us.

Every estimator aggregates first (shared/DESIGN.md): what it needs from the rows is a GROUP BY that yields
a small per-time table.  :func:`engine_source` turns what a user passes as ``data`` into a
:class:`Source` when the rows should stay where they are:

- a path to Parquet or CSV files (a glob included): read by DuckDB, the embedded default, without
  loading them into pandas;
- a DuckDB relation: queried where it is;
- a polars DataFrame: handed to DuckDB through Arrow, without a copy;
- a pyspark DataFrame: queried by its own Spark session (pyspark is imported only when one arrives).

A pandas DataFrame is not a source: it takes the in-memory path.  Both engines run the same SQL text; only
the quoting of identifiers differs (``"name"`` in DuckDB, ```name``` in Spark).
"""
from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bmstats._checks import InputError
from bmstats._relation import EngineFrame

_VIEW_NAMES = itertools.count()


@dataclass(frozen=True)
class Source:
    """A table inside an engine (DuckDB or Spark) that estimators aggregate with SQL.

    ``view`` is the name to use in ``FROM``; ``columns`` maps each column name to its engine type name.
    """

    dialect: str  # "duckdb" or "spark"
    view: str
    columns: dict
    description: str
    _run: Any = field(repr=False)  # sql text -> pandas frame
    _keep: Any = field(default=None, repr=False)  # objects that must outlive the view (a connection, a frame)

    def quote(self, name: str) -> str:
        """The column name as an identifier of this dialect."""
        if self.dialect == "spark":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def query(self, sql: str, tables: dict | None = None) -> pd.DataFrame:
        """Run ``sql`` (which reads ``self.view`` and, by name, the small pandas ``tables`` sent along to the
        engine for a join) and return its (small) result as a pandas frame."""
        return self._run(sql, tables or {})

    def require_columns(self, names) -> None:
        wanted = [c for c in names if c is not None]
        missing = [c for c in wanted if c not in self.columns]
        if missing:
            raise InputError(
                f"column(s) {', '.join(repr(c) for c in missing)} not found in {self.description}; "
                f"available: {', '.join(self.columns)}"
            )

    def is_numeric(self, name: str) -> bool:
        kind = self.columns[name].upper()
        return any(word in kind for word in (
            "INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC", "BOOL", "LONG", "SHORT", "BYTE"))


def is_engine_data(data: object) -> bool:
    """True when ``data`` is not a pandas frame but something an engine can aggregate."""
    if isinstance(data, pd.DataFrame):
        return False
    if isinstance(data, EngineFrame):
        return True
    if isinstance(data, (str, os.PathLike)):
        return True
    module = type(data).__module__ or ""
    return module.startswith(("duckdb", "polars", "pyspark"))


def engine_source(data: object) -> Source:
    """The :class:`Source` for ``data`` (see the module docstring), or the package's error naming what
    was given."""
    if isinstance(data, EngineFrame):  # rows derived by an engine-backed cohort, still in DuckDB
        return _duckdb_relation_source(data.engine_relation(), "the cohort's rows in DuckDB")
    if isinstance(data, (str, os.PathLike)):
        return _path_source(str(data))
    module = type(data).__module__ or ""
    if module.startswith("duckdb"):
        return _duckdb_relation_source(data)
    if module.startswith("polars"):
        return _polars_source(data)
    if module.startswith("pyspark"):
        return _spark_source(data)
    raise InputError(
        "data must be a pandas DataFrame, a path to Parquet or CSV files, a DuckDB relation, a polars "
        f"DataFrame or a pyspark DataFrame; got {type(data).__name__}"
    )


def _duckdb():
    import duckdb
    return duckdb


def _new_connection():
    duckdb = _duckdb()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a library does not draw on its caller's terminal
    # every query bmstats sends is an aggregate: no row order to keep, so DuckDB may stream without buffering
    con.execute("SET preserve_insertion_order = false")
    threads = os.environ.get("BMSTATS_DUCKDB_THREADS")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    limit = os.environ.get("BMSTATS_DUCKDB_MEMORY_LIMIT")
    if limit:
        con.execute("SET memory_limit = " + _sql_string(limit))
    spill = os.environ.get("BMSTATS_DUCKDB_TEMP_DIRECTORY")
    if spill:
        con.execute("SET temp_directory = " + _sql_string(spill))
    return con


def _sql_string(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _describe_columns(con, view: str) -> dict:
    rows = con.execute(f'DESCRIBE "{view}"').fetchall()
    return {r[0]: str(r[1]) for r in rows}


def _path_source(path: str) -> Source:
    lowered = path.lower()
    has_glob = any(ch in path for ch in "*?[")
    if not has_glob and not Path(path).exists():
        raise InputError(f"data: no such file or folder {path!r}")
    target = path
    if not has_glob and Path(path).is_dir():
        parquet = sorted(Path(path).glob("**/*.parquet"))
        csv = sorted(Path(path).glob("**/*.csv"))
        if parquet:
            target, lowered = str(Path(path) / "**" / "*.parquet"), ".parquet"
        elif csv:
            target, lowered = str(Path(path) / "**" / "*.csv"), ".csv"
        else:
            raise InputError(f"data: folder {path!r} holds no .parquet or .csv files")
    con = _new_connection()
    literal = "'" + target.replace("'", "''") + "'"
    if lowered.endswith((".parquet", ".parq", ".pq")):
        reader = f"read_parquet({literal})"
    elif lowered.endswith((".csv", ".tsv", ".txt", ".csv.gz")):
        reader = f"read_csv({literal}, header = true)"
    else:
        raise InputError(f"data: {path!r} is neither Parquet (.parquet) nor CSV (.csv); pass one of those")
    view = f"bmstats_source_{next(_VIEW_NAMES)}"
    try:
        con.execute(f'CREATE VIEW "{view}" AS SELECT * FROM {reader}')
        columns = _describe_columns(con, view)
    except _duckdb().Error as exc:
        raise InputError(f"data: DuckDB cannot read {path!r}: {str(exc).splitlines()[0]}") from None
    return Source("duckdb", view, columns, f"{path!r}", _duckdb_runner(con), con)


def _duckdb_relation_source(rel, description: str = "the DuckDB relation") -> Source:
    duckdb = _duckdb()
    if not isinstance(rel, duckdb.DuckDBPyRelation):
        raise InputError(f"data: a DuckDB {type(rel).__name__} is not a relation; pass con.sql('...') or "
                         "con.table('name')")
    view = f"bmstats_source_{next(_VIEW_NAMES)}"
    columns = {name: str(kind) for name, kind in zip(rel.columns, rel.types)}
    # the relation stays lazy in its own connection: each query runs over it there
    return Source("duckdb", view, columns, description, _relation_runner(rel, view), rel)


def _polars_source(frame) -> Source:
    import polars as pl
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"data: a polars {type(frame).__name__} is not a DataFrame")
    con = _new_connection()
    view = f"bmstats_source_{next(_VIEW_NAMES)}"
    arrow = frame.to_arrow()
    con.register(view, arrow)
    return Source("duckdb", view, _describe_columns(con, view), "the polars DataFrame",
                  _duckdb_runner(con), (con, arrow))


def _spark_source(frame) -> Source:
    if "pyspark" not in sys.modules:  # pragma: no cover - a pyspark object implies pyspark is imported
        raise InputError("data looks like a Spark DataFrame but pyspark is not importable")
    from pyspark.sql import DataFrame as SparkDataFrame
    if not isinstance(frame, SparkDataFrame):
        raise InputError(f"data: a pyspark {type(frame).__name__} is not a DataFrame")
    view = f"bmstats_source_{next(_VIEW_NAMES)}"
    frame.createOrReplaceTempView(view)
    columns = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    return Source("spark", view, columns, "the Spark DataFrame", _spark_runner(frame.sparkSession), frame)


def _duckdb_runner(con):
    def run(sql: str, tables: dict) -> pd.DataFrame:
        for name, table in tables.items():
            con.register(name, table)
        try:
            return con.execute(sql).fetchdf()
        finally:
            for name in tables:
                con.unregister(name)
    return run


def _relation_runner(rel, view: str):
    def run(sql: str, tables: dict) -> pd.DataFrame:
        # a relation keeps its connection private; DuckDB finds the small tables by their Python names
        # (a replacement scan of this frame's locals), so they are bound here under those names
        scope = dict(tables)
        return eval("rel.query(view, sql).fetchdf()", {}, {"rel": rel, "view": view, "sql": sql, **scope})
    return run


def _spark_runner(session):
    def run(sql: str, tables: dict) -> pd.DataFrame:
        for name, table in tables.items():
            session.createDataFrame(table).createOrReplaceTempView(name)
        try:
            return session.sql(sql).toPandas()
        finally:
            for name in tables:
                session.catalog.dropTempView(name)
    return run


def fetch_numpy(frame: pd.DataFrame, column: str, dtype=float) -> np.ndarray:
    """A column of an aggregated result as a numpy array (nullable engine types become NaN)."""
    values = pd.to_numeric(frame[column], errors="raise")
    if np.dtype(dtype).kind in "iu":
        return values.to_numpy(dtype=dtype)
    return values.to_numpy(dtype=dtype, na_value=np.nan)


def num(value: float) -> str:
    """A float as an SQL literal that both engines read as DOUBLE (with an exponent; a plain decimal
    literal is a DECIMAL in DuckDB and Spark, whose products overflow)."""
    value = float(value)
    if not np.isfinite(value):
        raise InputError(f"a non-finite number ({value}) reached an engine query")
    return f"{value:.17e}"
