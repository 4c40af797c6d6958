"""``read_cohort(..., engine="duckdb")``: Parquet / CSV files (globs included) or DuckDB relations -> a Cohort
whose tables stay in DuckDB (:class:`bmstats.cohort.engine_tables.EngineTables`).

Nothing is loaded into pandas: reading defines views (raw -> checked -> canonical) and, for CSV, checks
that the file parses.  Row numbers follow the pandas reader: header = row 1, first data row = row 2; a
Parquet file's record number + 2; a relation's rows in their order, as if written to CSV.  A glob is read
as one table, its files in name order, rows numbered as if the files were concatenated.  A CSV file with
blank lines between its rows is refused (DuckDB skips blank lines, so their row numbers could not be kept).
"""
from __future__ import annotations

import glob as globlib
import itertools
from pathlib import Path

from bmstats._checks import InputError
from bmstats.cohort import schema
from bmstats.cohort.engine_convert import (ROW, canonical_view_sql, check_date_formats, checked_view_sql, ident,
                                           lit, table_plan, type_class)
from bmstats.cohort.engine_tables import EngineTables
from bmstats.cohort.mapping import Mapping

_NAMES = itertools.count()
_PARQUET = (".parquet", ".pq", ".parq")
_CSV = {".csv": ",", ".txt": ",", ".tsv": "\t"}


def _duckdb():
    import duckdb

    return duckdb


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def read_engine_cohort(patients, events, m: Mapping, engine):
    """The cohort of :func:`bmstats.read_cohort` with ``engine`` "duckdb" or a DuckDB connection."""
    from bmstats.cohort.cohort import Cohort
    from bmstats.cohort.io import CohortReadError

    duckdb = _duckdb()
    run, con, keep = _runner(patients, events, engine)
    tag = next(_NAMES)
    views, plans, sources = {}, {}, {}
    for table, source in (("patients", patients), ("skeletal_events", events)):
        raw = f"bm_raw_{'p' if table == 'patients' else 'e'}_{tag}"
        if source is None:
            _empty_raw(run, raw)
            all_text, desc = True, table
        else:
            all_text, desc = _raw_view(run, raw, source, m, table)
            if isinstance(source, (str, Path)):
                sources[table] = str(source)
        try:
            types = {r[0]: str(r[1]) for r in run(f"DESCRIBE {ident(raw)}").fetchall() if r[0] != ROW}
        except duckdb.Error as exc:
            raise CohortReadError(f"{desc}: cannot be read ({_first_line(exc)})") from None
        if not types:
            raise CohortReadError(f"{desc}: no columns found")
        tmap = m.table(table)
        whole = _whole_floats(run, raw, types, desc)
        plan = table_plan(table, types, tmap, tuple(m.missing), all_text, whole)
        check_date_formats(run, plan)
        checked, canonical = f"bm_checked_{table}_{tag}", f"bm_{table}_{tag}"
        try:
            run(checked_view_sql(plan, raw)).create_view(checked)
            run(canonical_view_sql(plan, checked)).create_view(canonical)
        except duckdb.Error as exc:
            raise CohortReadError(f"{desc}: cannot be read on the engine path ({_first_line(exc)})") from None
        views[(table, "raw")], views[(table, "checked")], views[(table, "canonical")] = raw, checked, canonical
        plans[table] = plan
    tables = EngineTables(views[("patients", "canonical")], views[("skeletal_events", "canonical")], con,
                          _guarded(run), views, plans, keep)
    absent = {"patients": plans["patients"].absent}
    if events is not None:
        absent["skeletal_events"] = plans["skeletal_events"].absent
    return Cohort._from_engine(tables, sources=sources, absent=absent)


def _runner(patients, events, engine):
    """(sql -> relation, the connection or None, objects to keep alive)."""
    duckdb = _duckdb()
    relations = [s for s in (patients, events) if isinstance(s, duckdb.DuckDBPyRelation)]
    if isinstance(engine, duckdb.DuckDBPyConnection):
        return engine.sql, engine, tuple(relations)
    if engine != "duckdb":
        raise InputError(f"engine must be None, 'pandas', 'duckdb' or a DuckDB connection, got {engine!r}")
    if relations:
        anchor = relations[0]
        alias = f"bm_anchor_{next(_NAMES)}"
        return (lambda text: anchor.query(alias, text)), None, tuple(relations)
    from bmstats.engine.source import _new_connection

    con = _new_connection()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con.sql, con, None


def _guarded(run):
    """``run`` whose DuckDB errors (raised when a lazy view is finally read) are the package's error."""
    duckdb = _duckdb()

    def guarded(text: str):
        try:
            return run(text)
        except duckdb.Error as exc:
            raise InputError(f"cohort query failed in DuckDB: {_first_line(exc)}") from None

    return guarded


def _empty_raw(run, name: str) -> None:
    cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {ident(c.name)}" for c in schema.TABLES["skeletal_events"])
    run(f"SELECT CAST(NULL AS BIGINT) AS {ident(ROW)}, {cols} WHERE FALSE").create_view(name)


def _raw_view(run, name: str, source, m: Mapping, table: str) -> tuple[bool, str]:
    """Define the raw view of ``source``; (all cells text, description for messages)."""
    from bmstats.cohort.io import CohortReadError

    duckdb = _duckdb()
    if isinstance(source, duckdb.DuckDBPyRelation):
        rel_view = f"bm_rel_{next(_NAMES)}"
        source.create_view(rel_view)
        if ROW in source.columns:
            raise CohortReadError(f"{table}: the relation has a column {ROW!r}, a name the engine path reserves")
        run(f"SELECT row_number() OVER () + 1 AS {ident(ROW)}, * FROM {ident(rel_view)}").create_view(name)
        return False, f"{table} (the DuckDB relation)"
    if not isinstance(source, (str, Path)):
        raise CohortReadError(f"{table}: with engine='duckdb', expected a path to Parquet or CSV files (a glob "
                              f"included) or a DuckDB relation, got {type(source).__name__} (a DataFrame is read "
                              "with engine=None)")
    path = str(source)
    files = _files(path)
    suffix = Path(files[0]).suffix.lower()
    kinds = {Path(f).suffix.lower() in _PARQUET for f in files}
    if len(kinds) > 1:
        raise CohortReadError(f"{path}: the files mix Parquet and CSV; give one kind")
    listing = "[" + ", ".join(lit(f) for f in files) + "]"
    try:
        if suffix in _PARQUET:
            _parquet_view(run, name, files, listing)
            return False, path
        if suffix in _CSV:
            _csv_view(run, name, files, listing, m, _CSV[suffix], path)
            return True, path
    except duckdb.Error as exc:
        raise CohortReadError(f"{path}: cannot be read as {suffix} ({_first_line(exc)})") from None
    raise CohortReadError(f"{path}: the engine path reads Parquet ({', '.join(_PARQUET)}) and CSV "
                          f"({', '.join(_CSV)}) files, not {suffix or 'files without a suffix'}; use engine=None")


def _files(path: str) -> list[str]:
    from bmstats.cohort.io import CohortReadError

    if any(ch in path for ch in "*?["):
        files = sorted(globlib.glob(path, recursive=True))
        files = [f for f in files if Path(f).is_file()]
        if not files:
            raise CohortReadError(f"{path}: no file matches this pattern")
    else:
        p = Path(path)
        if not p.exists():
            raise CohortReadError(f"{path}: file not found")
        if p.is_dir():
            raise CohortReadError(f"{path}: is a folder, not a file (give a glob such as '{path}/*.parquet')")
        files = [path]
    for f in files:
        if Path(f).stat().st_size == 0:
            raise CohortReadError(f"{f}: file is empty")
    return files


def _parquet_view(run, name: str, files: list[str], listing: str) -> None:
    if len(files) == 1:
        run(f"SELECT file_row_number + 2 AS {ident(ROW)}, * EXCLUDE (file_row_number) "
            f"FROM read_parquet({listing}, file_row_number = true)").create_view(name)
        return
    counts = run(f"SELECT __bm_file, count(*) FROM read_parquet({listing}, filename = '__bm_file') "
                 "GROUP BY __bm_file").fetchall()
    n = dict(counts)
    offsets, start = [], 0
    for f in files:  # as if concatenated in name order
        offsets.append(f"({lit(f)}, {start})")
        start += int(n.get(f, 0))
    run(f"SELECT o.off + r.file_row_number + 2 AS {ident(ROW)}, r.* EXCLUDE (file_row_number, __bm_file) "
        f"FROM read_parquet({listing}, file_row_number = true, filename = '__bm_file') r "
        f"JOIN (VALUES {', '.join(offsets)}) o(file, off) ON r.__bm_file = o.file").create_view(name)


def _csv_view(run, name: str, files: list[str], listing: str, m: Mapping, default_sep: str, path: str) -> None:
    from bmstats.cohort.io import CohortReadError, _is_utf8, binary_reason

    encodings = set()
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read(65536)
        reason = binary_reason(head)
        if reason:
            raise CohortReadError(f"{f}: not a text file (binary content: {reason}); expected CSV text")
        if not head.strip():
            raise CohortReadError(f"{f}: file is empty")
        _refuse_blank_lines(f)
        encodings.add(m.encoding or ("utf-8" if _is_utf8(Path(f)) else "latin-1"))
    if len(encodings) > 1:
        raise CohortReadError(f"{path}: the files are in different encodings ({', '.join(sorted(encodings))}); set "
                              "encoding in the mapping")
    encoding = encodings.pop().lower().replace("_", "-")
    encoding = {"utf-8-sig": "utf-8", "utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1"}.get(
        encoding, encoding)
    sep = m.delimiter or default_sep
    names = _csv_header(files[0], encoding, sep)
    for f in files[1:]:
        if _csv_header(f, encoding, sep) != names:
            raise CohortReadError(f"{path}: {f} has other columns than {files[0]}; the files of a glob share a header")
    columns = "{" + ", ".join(f"{lit(n)}: 'VARCHAR'" for n in names) + "}"

    def define(parallel: bool) -> None:
        reader = (f"read_csv({listing}, auto_detect = false, header = true, columns = {columns}, delim = {lit(sep)}, "
                  f"quote = '\"', escape = '\"', null_padding = true, strict_mode = true, "
                  f"encoding = {lit(encoding)}, parallel = {str(parallel).lower()})")
        # rows of only empty cells are dropped after numbering (the pandas reader drops blank rows but counts them)
        run(f"SELECT row_number() OVER () + 1 AS {ident(ROW)}, * FROM {reader}").create_view(name + "_all")
        blank = " AND ".join(f"coalesce({ident(c)}, '') = ''" for c in names)
        run(f"SELECT * FROM {ident(name + '_all')} WHERE NOT ({blank})").create_view(name)
        run(f"SELECT count(*) FROM {ident(name + '_all')}").fetchall()  # every row parses, as with pandas

    try:
        define(parallel=True)
    except _duckdb().Error as exc:
        if "parallel=false" not in str(exc):  # quoted line breaks with short rows need the serial reader
            raise CohortReadError(f"{path}: cannot be read as CSV ({_first_line(exc)}; a data row with more fields "
                                  "than the header? check the delimiter and quoting)") from None
        try:
            define(parallel=False)
        except _duckdb().Error as exc2:
            raise CohortReadError(f"{path}: cannot be read as CSV ({_first_line(exc2)}; a data row with more "
                                  "fields than the header? check the delimiter and quoting)") from None


def _csv_header(path: str, encoding: str, sep: str) -> list[str]:
    """The header's column names as pandas names them (a repeated name gets .1, .2; an empty one 'Unnamed: i')."""
    import csv
    import io

    from bmstats.cohort.io import CohortReadError

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    text = head.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    try:
        first = next(csv.reader(io.StringIO(text), delimiter=sep, quotechar='"', doublequote=True))
    except (StopIteration, csv.Error) as exc:
        raise CohortReadError(f"{path}: no header row found ({exc})") from None
    names, seen = [], {}
    for i, n in enumerate(first):
        n = n or f"Unnamed: {i}"
        if n in seen:
            seen[n] += 1
            n = f"{n}.{seen[n]}"
        else:
            seen[n] = 0
        names.append(n)
    return names


def _refuse_blank_lines(path: str, chunk: int = 1 << 24) -> None:
    """A blank line before the last row would shift every later row number: refuse the file."""
    from bmstats.cohort.io import CohortReadError

    found, tail = False, b""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            data = tail + block
            hits = [pos for pos in (data.find(b"\n\n"), data.find(b"\n\r\n")) if pos >= 0]
            if hits:  # blank: harmless only when nothing but white space follows (the end of the file)
                found = bool(data[min(hits):].strip())
                while not found and (block := fh.read(chunk)):
                    found = bool(block.strip())
                break
            tail = data[-2:]
    if found:
        raise CohortReadError(f"{path}: blank lines between the rows; the engine path cannot keep the file's row "
                              "numbers across them: remove the blank lines or read with engine=None")


def _whole_floats(run, raw: str, types: dict, desc: str) -> set:
    """Float columns every value of which is whole (the pandas reader prints them without '.0')."""
    floats = [c for c, t in types.items() if type_class(t) == "float"]
    if not floats:
        return set()
    tests = ", ".join(
        f"bool_and({ident(c)} IS NULL OR isnan({ident(c)}) OR (isfinite({ident(c)}) AND {ident(c)} = round({ident(c)}) "
        f"AND abs({ident(c)}) < 9007199254740992))" for c in floats)
    row = run(f"SELECT {tests} FROM {ident(raw)}").fetchall()[0]
    return {c for c, ok in zip(floats, row) if ok is None or ok}
