"""The site mapping as SQL: raw engine columns -> canonical columns, exactly as :mod:`bmstats.cohort.convert`.

Each canonical column is one SQL expression over the raw view (:func:`table_plan`); a column whose cells
can fail to parse also gets the text shown in its issues and a flag for the cells that failed.  The rules
are the pandas reader's, written once more in SQL:

- text of a cell: typed numbers as the pandas reader prints them (whole floats without ``.0`` when every
  value of the column is whole), booleans ``true``/``false``, dates ISO; text stripped of white space; the
  mapping's ``missing`` texts (and an empty CSV cell) are missing;
- value recodes compare that text before the missing texts apply (the key ``""`` maps empty cells);
- numbers: the grammar ``pandas.to_numeric`` reads (``1``, ``-2.5``, ``.5``, ``1e3``, ``inf``; not ``1_000``,
  ``0x10`` or ``1,5``); whole numbers must be whole; ``multiply`` scales after parsing;
- dates: ``strptime`` with the mapping's format, and only dates pandas can hold (1677-09-22 to 2262-04-11);
  typed DATE / TIMESTAMP cells are dates whatever the format (a time zone is dropped at UTC).

A format directive or a column type DuckDB cannot read raises the package's error naming it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bmstats.cohort import schema
from bmstats.cohort.mapping import MappingError, TableMapping, check_source_columns

ROW = "__bm_row"

# white space Python's str.strip() removes (the pandas reader strips cells with it)
_WHITE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"
NUMBER_RE = r"(?i)[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity)"
INF_RE = r"(?i)[+-]?inf(inity)?"
# the dates a pandas datetime64[ns] holds
FIRST_DATE, LAST_DATE = "1677-09-22", "2262-04-11"

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT")
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")


def lit(text: str) -> str:
    """A text as an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A name as a quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def type_class(sql_type: str) -> str:
    """'integer', 'float', 'decimal', 'boolean', 'date', 'timestamp', 'timestamptz', 'text' or 'other'."""
    t = sql_type.upper()
    if t in _INTEGER_TYPES:
        return "integer"
    if t in _FLOAT_TYPES:
        return "float"
    if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        return "decimal"
    if t == "BOOLEAN":
        return "boolean"
    if t == "DATE":
        return "date"
    if t in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return "timestamptz"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "VARCHAR" or t.startswith("ENUM"):
        return "text"
    return "other"


@dataclass(frozen=True)
class ColumnPlan:
    """How one canonical column is computed, in four levels of the checked view (so no expression is
    repeated): ``text`` over the raw view (the cell's text, or its typed value), ``parse`` over level 1,
    ``clean`` over level 2, and ``value`` / ``bad`` over level 3.  Level names: ``__t_<name>``,
    ``__p_<name>``, ``__n_<name>``; the recode key is ``__k_<name>``."""

    name: str
    kind: str
    text: str  # level 1, over the raw view
    parse: str | None = None  # level 2
    clean: str | None = None  # level 3
    value: str = ""  # level 4
    bad: str | None = None  # level 4: true where a present value did not parse
    what: str = ""  # "is not a number", ... or the date format
    recode_key: str | None = None  # level 1: the text a recode key is compared with
    recode_keys: tuple = ()
    site_name: str = ""  # the mapping's name for the recoded column (messages)

    @property
    def t(self) -> str:
        return ident("__t_" + self.name)

    @property
    def p(self) -> str:
        return ident("__p_" + self.name)

    @property
    def n(self) -> str:
        return ident("__n_" + self.name)


@dataclass(frozen=True)
class TablePlan:
    """The canonical columns of one table as SQL over its raw view."""

    table: str
    raw_columns: tuple  # the file's column names, as read
    columns: tuple  # ColumnPlan of every canonical column, in the schema's order
    extras: tuple  # ColumnPlan of the file's columns outside the schema
    absent: tuple  # canonical columns the file does not have
    unmatched_values: tuple = ()  # recoded columns the file does not have (BM107)
    tmap: TableMapping = field(default_factory=TableMapping)

    @property
    def checked(self) -> tuple:
        """Columns whose cells can fail to parse."""
        return tuple(c for c in self.columns if c.bad is not None)

    @property
    def recoded(self) -> tuple:
        return tuple(c for c in self.columns + self.extras if c.recode_key is not None)


def _missing_case(expr: str, missing: tuple) -> str:
    if not missing:
        return expr
    # a CASE, not IN or list_contains: those become joins, which DuckDB cannot drop from a view when unused
    whens = " ".join(f"WHEN {lit(m)} THEN NULL" for m in missing)
    return f"(CASE {expr} {whens} ELSE {expr} END)"


def cell_text(col: str, sql_type: str, all_text: bool, whole: bool) -> str:
    """The cell as text before the missing texts apply (convert._text with no missing tokens)."""
    q, kind = ident(col), type_class(sql_type)
    if kind == "integer":
        return f"CAST({q} AS VARCHAR)"
    if kind == "float":
        shown = f"CAST(CAST({q} AS HUGEINT) AS VARCHAR)" if whole else f"CAST({q} AS VARCHAR)"
        return f"(CASE WHEN isnan({q}) THEN NULL ELSE {shown} END)"
    if kind == "boolean":
        return f"(CASE WHEN {q} THEN 'true' WHEN NOT {q} THEN 'false' END)"
    if kind in ("date", "timestamp"):
        return f"strftime(CAST({q} AS DATE), '%Y-%m-%d')"
    if kind == "timestamptz":
        return f"strftime(CAST(timezone('UTC', {q}) AS DATE), '%Y-%m-%d')"
    base = f"coalesce({q}, '')" if all_text else f"CAST({q} AS VARCHAR)"
    return _strip(base)


def _strip(x: str) -> str:
    """``str.strip()`` in SQL.  Trimming with a set of characters is slow, so only a cell whose first or last
    character is not printable ASCII is trimmed."""
    ends = " AND ".join(f"ord({side}({x}, 1)) BETWEEN 33 AND 126" for side in ("left", "right"))
    return f"(CASE WHEN {x} = '' OR ({ends}) THEN {x} ELSE trim({x}, {lit(_WHITE)}) END)"


def text_of(col: str, sql_type: str, missing: tuple, all_text: bool, whole: bool) -> str:
    """convert._text: the cell's text with the missing texts as NULL (numbers and booleans are never missing
    texts in the pandas reader)."""
    text = cell_text(col, sql_type, all_text, whole)
    if type_class(sql_type) in ("integer", "float", "boolean"):
        return text
    return _missing_case(text, missing)


def _recoded(key: str, recode: dict, fallback: str, missing: tuple) -> str:
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in recode.items())
    return _missing_case(f"(CASE {key} {whens} ELSE {fallback} END)", missing)


def _typed_date(q: str, kind: str) -> str:
    return f"CAST(timezone('UTC', {q}) AS DATE)" if kind == "timestamptz" else f"CAST({q} AS DATE)"


def _in_range(d: str) -> str:
    return f"(CASE WHEN {d} BETWEEN DATE {lit(FIRST_DATE)} AND DATE {lit(LAST_DATE)} THEN {d} END)"


def column_plan(spec: schema.Column, col: str, sql_type: str, tmap: TableMapping, missing: tuple,
                all_text: bool, whole: bool) -> ColumnPlan:
    """One canonical column from the raw column ``col`` (convert.canonical_table, column by column)."""
    name, kind, tclass = spec.name, spec.kind, type_class(sql_type)
    recode = tmap.values.get(name) if name != "patient_id" else None
    key = None
    if recode is not None:
        key = f"coalesce({cell_text(col, sql_type, all_text, whole)}, '')"
        text = _recoded(key, recode, cell_text(col, sql_type, all_text, whole), missing)
    else:
        text = text_of(col, sql_type, missing, all_text, whole)
    extra = {"recode_key": key, "recode_keys": tuple(recode or ()), "site_name": tmap.value_keys.get(name, name)}
    probe = ColumnPlan(name, kind, text)
    t, p, n = probe.t, probe.p, probe.n
    if kind in ("id", "code"):
        return ColumnPlan(name, kind, text, t, p, n, **extra)
    if kind == "date":
        if recode is None and tclass in ("date", "timestamp", "timestamptz"):
            return ColumnPlan(name, kind, text, _typed_date(ident(col), tclass), _in_range(p), n, **extra)
        fmt = tmap.date_format_of(name)
        return ColumnPlan(name, kind, text, f"CAST(try_strptime({t}, {lit(fmt)}) AS DATE)", _in_range(p), n,
                          bad=f"({t} IS NOT NULL AND {n} IS NULL)", what=fmt, **extra)
    if kind in ("number", "integer"):
        if recode is None and tclass in ("integer", "float"):
            parse, bad = f"CAST({ident(col)} AS DOUBLE)", "FALSE"
            clean = f"(CASE WHEN isnan({p}) THEN NULL ELSE {p} END)"
        else:
            parse = f"(CASE WHEN regexp_full_match({t}, {lit(NUMBER_RE)}) THEN TRY_CAST({t} AS DOUBLE) END)"
            # a literal beyond the double range (1e400) is not a number to pandas: only 'inf' is infinite
            clean = f"(CASE WHEN isinf({p}) AND NOT regexp_full_match({t}, {lit(INF_RE)}) THEN NULL ELSE {p} END)"
            bad = f"({t} IS NOT NULL AND {n} IS NULL)"
        what = "is not a number"
        if kind == "integer":
            bad = f"({bad} OR ({n} IS NOT NULL AND (NOT isfinite({n}) OR {n} <> round({n}))))"
            what = "is not a whole number"
        value = f"(CASE WHEN {bad} THEN NULL ELSE {n} END)"
        if kind == "integer":
            value = f"CAST({value} AS BIGINT)"
        if name in tmap.multiply:
            value = f"({value} * {float(tmap.multiply[name])!r})"
        return ColumnPlan(name, kind, text, parse, clean, value, bad, what, **extra)
    if kind == "boolean":
        if recode is None and tclass == "boolean":
            return ColumnPlan(name, kind, text, ident(col), p, n, **extra)
        return ColumnPlan(name, kind, text, f"(CASE lower({t}) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END)",
                          p, n, bad=f"({t} IS NOT NULL AND {n} IS NULL)", what="is not true/false", **extra)
    raise AssertionError(kind)  # pragma: no cover - the schema has no other kind


def _passed(name: str, text: str, **extra) -> ColumnPlan:
    """A column whose value is its level-1 expression."""
    probe = ColumnPlan(name, "extra", text)
    return ColumnPlan(name, "extra", text, probe.t, probe.p, probe.n, **extra)


def empty_value(spec: schema.Column) -> str:
    """The SQL NULL of a canonical column the file does not have."""
    return {"date": "CAST(NULL AS DATE)", "number": "CAST(NULL AS DOUBLE)", "integer": "CAST(NULL AS BIGINT)",
            "boolean": "CAST(NULL AS BOOLEAN)"}.get(spec.kind, "CAST(NULL AS VARCHAR)")


def subtype_sql(er: str, pr: str, her2: str) -> str:
    """convert.derive_subtype in SQL."""
    hr_pos = f"({er} = 'positive' OR {pr} = 'positive')"
    hr_neg = f"({er} = 'negative' AND {pr} = 'negative')"
    h_pos, h_neg = f"{her2} = 'positive'", f"{her2} = 'negative'"
    return (f"CASE WHEN coalesce({hr_pos} AND {h_neg}, FALSE) THEN 'HR+/HER2-' "
            f"WHEN coalesce({hr_pos} AND {h_pos}, FALSE) THEN 'HR+/HER2+' "
            f"WHEN coalesce({hr_neg} AND {h_pos}, FALSE) THEN 'HR-/HER2+' "
            f"WHEN coalesce({hr_neg} AND {h_neg}, FALSE) THEN 'TNBC' ELSE 'unknown' END")


def table_plan(table: str, raw_types: dict, tmap: TableMapping, missing: tuple, all_text: bool,
               whole: set) -> TablePlan:
    """The plan of ``table`` from the raw view's columns ``{name: type}`` (names as in the file).

    ``whole``: the float columns whose every value is whole (printed without ``.0``, as pandas does).
    """
    from bmstats.cohort.io import CohortReadError

    spec = schema.columns(table)
    check_source_columns(tmap, table, raw_types)
    stripped = {str(c).strip(): c for c in raw_types}
    renamed: dict[str, str] = {}
    for s, c in stripped.items():
        target = tmap.columns.get(s, s)
        if target in renamed:
            raise CohortReadError(f"{table}: column(s) {[target]} appear more than once (after the mapping's renaming)")
        renamed[target] = c
    if len(stripped) != len(raw_types):
        dup = sorted({str(c).strip() for c in raw_types if list(map(lambda x: str(x).strip(), raw_types)).count(
            str(c).strip()) > 1})
        raise CohortReadError(f"{table}: column(s) {dup} appear more than once (after the mapping's renaming)")
    if "row" in renamed:
        raise CohortReadError(f"{table}: a column is named 'row', which the engine path uses for the file's row "
                              "number; rename it in the mapping (columns: {row: another_name})")
    for c, t in raw_types.items():
        if type_class(t) == "other":
            raise CohortReadError(f"{table}: column {str(c).strip()!r} has type {t}, which the engine path does not "
                                  "read; cast it to text, a number or a date first (or use engine=None)")
    absent = tuple(name for name in spec if name not in renamed)
    cols = []
    for name, col in spec.items():
        if name not in renamed:
            probe = ColumnPlan(name, col.kind, empty_value(col))
            cols.append(ColumnPlan(name, col.kind, empty_value(col), probe.t, probe.p, probe.n))
            continue
        raw = renamed[name]
        cols.append(column_plan(col, raw, raw_types[raw], tmap, missing, all_text, raw in whole))
    extras = []
    for name, raw in renamed.items():
        if name in spec:
            continue
        t = raw_types[raw]
        recode = tmap.values.get(name)
        if recode is not None:
            key = f"coalesce({cell_text(raw, t, all_text, raw in whole)}, '')"
            value = _recoded(key, recode, cell_text(raw, t, all_text, raw in whole), missing)
            extras.append(_passed(name, value, recode_key=key, recode_keys=tuple(recode),
                                  site_name=tmap.value_keys.get(name, name)))
        elif type_class(t) in ("text", "date", "decimal"):  # what pandas reads as object: text
            extras.append(_passed(name, text_of(raw, t, missing, all_text, raw in whole)))
        else:
            extras.append(_passed(name, ident(raw)))
    unmatched = tuple(sorted(set(tmap.values) - set(renamed)))
    return TablePlan(table, tuple(raw_types), tuple(cols), tuple(extras), absent, unmatched, tmap)


def checked_view_sql(plan: TablePlan, raw_view: str) -> str:
    """The checked view: ``row``, the canonical and extra columns, and per parsed column ``__t_<name>`` (its
    text) and ``__bad_<name>`` (it did not parse), and per recoded column ``__k_<name>`` (the recode key).
    Four nested levels (text, parse, clean, value) so that no expression is written twice."""
    cols = plan.columns + plan.extras
    level1 = [f"{ident(ROW)} AS row"] + [f"{c.text} AS {c.t}" for c in cols] + [
        f"{c.recode_key} AS {ident('__k_' + c.name)}" for c in cols if c.recode_key is not None]
    sql = f"SELECT *, {', '.join(level1)} FROM {ident(raw_view)}"
    sql = f"SELECT *, {', '.join(f'{c.parse} AS {c.p}' for c in cols)} FROM ({sql})"
    sql = f"SELECT *, {', '.join(f'{c.clean} AS {c.n}' for c in cols)} FROM ({sql})"
    out = ["row"]
    for c in cols:
        out.append(f"{c.value} AS {ident(c.name)}")
        if c.bad is not None:
            out += [c.t, f"{c.bad} AS {ident('__bad_' + c.name)}"]
        if c.recode_key is not None:
            out.append(ident("__k_" + c.name))
    sql = f"SELECT {', '.join(out)} FROM ({sql})"
    if plan.table != "patients":
        return sql
    derived = subtype_sql('"er"', '"pr"', '"her2"')
    return f'SELECT * REPLACE (coalesce("subtype", {derived}) AS "subtype") FROM ({sql})'


def canonical_view_sql(plan: TablePlan, checked_view: str) -> str:
    names = ["row"] + [c.name for c in plan.columns + plan.extras]
    return f"SELECT {', '.join(ident(n) for n in names)} FROM {ident(checked_view)}"


def check_date_formats(run, plan: TablePlan) -> None:
    """Refuse, naming the column and format, a date format DuckDB's strptime does not read as Python does
    (probed with dates written by Python's strftime in that format)."""
    import datetime as dt

    import duckdb

    for c in plan.checked:
        if c.kind != "date":
            continue
        probes = [dt.date(2001, 12, 23), dt.date(2010, 3, 4), dt.date(1999, 1, 31)]
        texts = [d.strftime(c.what) for d in probes]
        try:
            got = run("SELECT " + ", ".join(f"CAST(try_strptime({lit(t)}, {lit(c.what)}) AS DATE)" for t in texts)
                      ).fetchall()[0]
            reason = None if list(got) == probes else f"it reads {texts[0]!r} as {got[0]}"
        except duckdb.Error as exc:  # a directive DuckDB does not know
            reason = str(exc).splitlines()[0]
        if reason:
            raise MappingError(f"mapping: date_format {c.what!r} of {plan.table}.{c.name} is not supported on the "
                               f"engine path ({reason}); use engine=None or another format")
