"""Engines for registry-scale data: the aggregation step of every estimator run where the rows live.

An estimator's ``data`` may be a pandas DataFrame (in memory), a path to Parquet or CSV files (a glob or a
folder included), a DuckDB relation or a polars DataFrame (DuckDB, embedded), or a pyspark DataFrame (its
own Spark session).  Only small per-time tables leave the engine; docs/scale.md says what each estimator
sends and what is not supported there yet.
"""
from bmstats.engine.counts import EngineCounts, engine_counts, engine_person_time
from bmstats.engine.source import Source, engine_source, is_engine_data

__all__ = ["EngineCounts", "Source", "engine_counts", "engine_person_time", "engine_source", "is_engine_data"]
