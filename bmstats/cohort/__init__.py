"""Data in: canonical schema, loaders, validation and endpoint derivation. Imports neither estimate nor report.

Modules: ``schema`` (columns, types, codes), ``mapping`` (site YAML mapping), ``convert`` (raw -> canonical
types), ``io`` (``read_cohort``), ``cohort`` (``Cohort``), ``issues`` (rule catalogue), ``rules`` and
``validate`` (``validate``, ``ValidationReport``), ``endpoints`` (``Cohort.endpoint``), ``recurrent``
(``Cohort.recurrent_events``, ``DroppedEvents``), ``exclusions`` (``ExclusionLog``).  The frames' ``attrs``
hold JSON values only (:mod:`bmstats._attrs`), so that they write to Parquet and Feather.  docs/cohort.md
documents them.
"""
