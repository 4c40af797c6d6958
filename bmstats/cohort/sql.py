"""The SQL pieces shared by the cohort derivations that run inside DuckDB (endpoints, time-varying rows,
recurrent events): the two tables as views of one connection, identifiers and literals, and the date of
each named event or origin as an SQL expression.

The definitions are those of the pandas path (:mod:`bmstats.cohort.endpoints`); the SQL computes the same
whole days between dates and divides them by the same factor in double precision, so the times are equal
to the last bit.  Patients are ordered by the ``row`` column (the file's row number) when the relation has
one, else by ``patient_id``; that order lists excluded patients in the logs.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from bmstats._checks import InputError, describe_rows

ROW = "row"
_NAMES = itertools.count()
_DATE_TYPES = ("DATE", "TIMESTAMP")
_DATE_COLUMN = {
    "diagnosis": "dx_date",
    "bone_metastasis": "bm_date",
    "visceral_metastasis": "visceral_met_date",
    "death": "death_date",
}
PATIENT_COLUMNS = ("patient_id", "dx_date", "bm_date", "visceral_met_date", "last_fu_date", "death_date",
                   "cause_of_death")


def q(name: str) -> str:
    """``name`` as a DuckDB identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def num(value: float) -> str:
    """A float as a DOUBLE literal (a plain decimal literal would be a DECIMAL in DuckDB)."""
    return f"CAST({float(value):.17e} AS DOUBLE)"


def is_relation(obj: object) -> bool:
    return (type(obj).__module__ or "").startswith("duckdb") and hasattr(obj, "create_view")


class Tables:
    """``patients`` and ``skeletal_events`` relations as views of one DuckDB connection.

    ``.p`` and ``.e`` are the view names to use in ``FROM``; ``.patient_columns`` maps each patients column to
    its DuckDB type; :meth:`query` runs SQL over them and returns a lazy relation.
    """

    def __init__(self, patients, events):
        if not is_relation(patients):
            raise InputError(f"patients must be a DuckDB relation, got {type(patients).__name__}")
        if events is not None and not is_relation(events):
            raise InputError(f"events must be a DuckDB relation, got {type(events).__name__}")
        self.patients, self.events = patients, events
        self.patient_columns = {c: str(t) for c, t in zip(patients.columns, patients.types)}
        self.event_columns = ({c: str(t) for c, t in zip(events.columns, events.types)} if events is not None
                              else {"patient_id": "VARCHAR", "event_date": "DATE", "event_type": "VARCHAR"})
        missing = [c for c in PATIENT_COLUMNS if c not in self.patient_columns]
        if missing:
            raise InputError(f"the patients relation lacks column(s) {', '.join(map(repr, missing))}; "
                             f"available: {', '.join(self.patient_columns)}")
        missing = [c for c in ("patient_id", "event_date", "event_type") if c not in self.event_columns]
        if missing:
            raise InputError(f"the skeletal_events relation lacks column(s) {', '.join(map(repr, missing))}; "
                             f"available: {', '.join(self.event_columns)}")
        n = next(_NAMES)
        self.p = self._cte = f"bmstats_patients_{n}"
        self.e = f"bmstats_events_{n}"
        self.stored: StoredTables | None = None
        if events is None:
            events = patients.query(self.p, "SELECT CAST(NULL AS VARCHAR) AS patient_id, CAST(NULL AS DATE) AS "
                                            "event_date, CAST(NULL AS VARCHAR) AS event_type LIMIT 0")
            self.events = events
        events.create_view(self.e, replace=True)
        try:
            patients.query(self.p, f"SELECT 1 FROM {self.e} LIMIT 0").fetchall()
        except Exception:  # noqa: BLE001 - DuckDB's catalog error: the events live in another connection
            raise InputError("patients and skeletal_events must be relations of the same DuckDB connection") from None

    @property
    def has_row(self) -> bool:
        return ROW in self.patient_columns

    @property
    def patient_order(self) -> str:
        return q(ROW) if self.has_row else q("patient_id")

    def query(self, sql: str):
        """``sql`` (reading the views ``self.p`` and ``self.e``) as a lazy relation of the patients' connection."""
        return self.patients.query(self._cte, sql)

    def store(self, patient_columns: Sequence[str], events: bool) -> None:
        """Read the columns a derivation uses once, into temporary tables of the connection that ``self.p``
        and ``self.e`` then name: a cohort's canonical views convert the site's columns at every read, and a
        derivation reads the patients several times (ids, exclusions, rows).  The tables are dropped with
        the frames made from them (``self.stored`` goes into their ``keep``)."""
        n = next(_NAMES)
        names = []
        wanted = [c for c in dict.fromkeys([ROW, *PATIENT_COLUMNS, *patient_columns]) if c in self.patient_columns]
        table = f"bmstats_patients_stored_{n}"
        self.query(f"CREATE TEMP TABLE {table} AS SELECT {', '.join(map(q, wanted))} FROM {self.p}")
        names.append(table)
        self.p = table
        if events:
            wanted = [c for c in (ROW, "patient_id", "event_date", "event_type") if c in self.event_columns]
            table = f"bmstats_events_stored_{n}"
            self.query(f"CREATE TEMP TABLE {table} AS SELECT {', '.join(map(q, wanted))} FROM {self.e}")
            names.append(table)
            self.e = table
        self.stored = StoredTables(self.patients, self._cte, names)

    def fetch(self, sql: str) -> pd.DataFrame:
        return self.query(sql).df()

    def is_date(self, column: str) -> bool:
        return str(self.patient_columns.get(column, "")).upper().startswith(_DATE_TYPES)

    def check_unique_ids(self) -> None:
        """As the pandas path: duplicate patient ids are an error naming their rows."""
        order = self.patient_order
        dup = self.fetch(
            f"SELECT {order} AS r FROM (SELECT {order}, COUNT(*) OVER (PARTITION BY patient_id) AS k "
            f"FROM {self.p}) WHERE k > 1 ORDER BY r")
        if len(dup):
            raise InputError(f"column 'patient_id': duplicate patient ids (run bmstats.validate first); "
                             f"{describe_rows(dup['r'].tolist())}")

    def columns_for(self, covariates: Sequence[str] | None, reserved: Sequence[str]) -> list[str]:
        """The pandas path's choice of carried columns; the ``row`` column is the pandas index, not carried."""
        from bmstats.cohort.endpoints import _covariates

        names = [c for c in self.patient_columns if not (c == ROW and self.has_row)]
        return _covariates(pd.DataFrame(columns=names), covariates, reserved)


class StoredTables:
    """Temporary tables that derived rows read; dropped when the last frame holding this object goes."""

    def __init__(self, relation, cte: str, names: list[str]):
        self._relation, self._cte, self._names = relation, cte, list(names)

    def __del__(self):
        for name in self._names:
            try:
                self._relation.query(self._cte, f"DROP TABLE IF EXISTS {name}")
            except Exception:  # noqa: BLE001 - the connection may already be closed at interpreter exit
                pass


def carried(tables: Tables, cov: Sequence[str], alias: str = "p") -> str:
    """``, expr AS name`` for each carried patients column.  Coded canonical columns held as text become a
    DuckDB ENUM of the schema's codes in order, then any other value found (sorted), as the pandas cohort's
    categoricals: estimators then take the same reference level and list groups in the same order."""
    from bmstats.cohort import schema

    coded = {c.name: [str(x) for x in c.codes] for c in schema.columns("patients").values() if c.kind == "code"}
    text = [c for c in cov if c in coded and tables.patient_columns[c].upper() == "VARCHAR"]
    extras: dict[str, list] = {c: [] for c in text}
    if text:
        parts = ", ".join(
            f"list_sort(list_distinct(list({q(c)}) FILTER (WHERE {q(c)} NOT IN ({', '.join(map(lit, coded[c]))})))) "
            f"AS {q(c)}" for c in text)
        found = tables.query(f"SELECT {parts} FROM {tables.p}").fetchall()[0]
        extras = {c: [str(v) for v in (values or [])] for c, values in zip(text, found)}
    out = []
    for c in cov:
        if c in extras:
            levels = ", ".join(lit(v) for v in coded[c] + extras[c])
            out.append(f", CAST({alias}.{q(c)} AS ENUM({levels})) AS {q(c)}")
        else:
            out.append(f", {alias}.{q(c)}")
    return "".join(out)


def date_expr(name: str, alias: str = "p", first_event: str = "fse") -> str:
    """The SQL date of the named event or origin (a DATE, NULL when it did not happen) over the patients row
    ``alias``; ``skeletal_event`` reads ``first_event.first_date`` (join :func:`first_event_sql`)."""
    if name in _DATE_COLUMN:
        return f"CAST({alias}.{q(_DATE_COLUMN[name])} AS DATE)"
    if name == "breast_cancer_death":
        return (f"CASE WHEN CAST({alias}.cause_of_death AS VARCHAR) = 'breast_cancer' "
                f"THEN CAST({alias}.death_date AS DATE) END")
    if name == "skeletal_event":
        return f"{first_event}.first_date"
    raise InputError(f"unknown event {name!r}")


def first_event_sql(events_view: str) -> str:
    """The first skeletal event date per patient (a subquery to LEFT JOIN on patient_id)."""
    return (f"(SELECT patient_id, MIN(CAST(event_date AS DATE)) AS first_date FROM {events_view} "
            "WHERE event_date IS NOT NULL GROUP BY patient_id)")


def days(later: str, origin: str) -> str:
    """Whole days from ``origin`` to ``later`` (two DATE expressions) as DOUBLE."""
    return f"CAST(({later}) - ({origin}) AS DOUBLE)"


def follow_up_end_expr(alias: str = "p") -> str:
    """last_fu_date, or death_date when that is earlier (as :func:`bmstats.cohort.endpoints.follow_up_end`)."""
    fu, death = f"CAST({alias}.last_fu_date AS DATE)", f"CAST({alias}.death_date AS DATE)"
    return f"(CASE WHEN {death} < {fu} THEN {death} ELSE {fu} END)"


def step_case(steps: Sequence[tuple[str, str]]) -> str:
    """The number (1..) of the first exclusion step whose condition holds, NULL for a patient kept."""
    whens = " ".join(f"WHEN {cond} THEN {i}" for i, (_, cond) in enumerate(steps, start=1))
    return f"CASE {whens} END"


def exclusion_log(tables: Tables, base: str, steps: Sequence[tuple[str, str]], title: str):
    """The :class:`~bmstats.cohort.exclusions.ExclusionLog` of ``steps`` over the rows of ``base`` (a
    subquery with ``patient_id``, ``_step`` and ``_order``): one query fetching the excluded patients only."""
    from bmstats.cohort.exclusions import ExclusionLog

    n_start = int(tables.query(f"SELECT COUNT(*) FROM {tables.p}").fetchall()[0][0])
    out = tables.fetch(f"SELECT patient_id, _step FROM {base} WHERE _step IS NOT NULL ORDER BY _order")
    ids = out["patient_id"].to_numpy(dtype=object)
    step = out["_step"].to_numpy()
    log = tuple((reason, tuple(ids[step == i].tolist())) for i, (reason, _) in enumerate(steps, start=1))
    return ExclusionLog(n_start, log, title)
