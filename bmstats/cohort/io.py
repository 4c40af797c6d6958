"""``read_cohort``: site files (CSV, Parquet, Excel, Stata, SAS) or DataFrames -> a canonical :class:`Cohort`.

Text files are read with every column as text, so that a bad cell becomes a validation issue instead of
a crash.  Every row keeps its number in the file as the index (``row``): the header is row 1 and the first
data row is row 2, as a spreadsheet shows it (for Parquet, Stata and SAS, which have no header row, the
record number + 1, so that numbering is the same as after exporting to CSV).  Blank lines of a CSV file
are skipped but still counted.  A file that cannot be read at all (missing, empty, binary, unknown type)
raises :class:`CohortReadError`.

Input is opened in one place (:func:`_open`): a regular file is read from its path; a pipe, FIFO or ``-``
(standard input), which can be read only once, is read into memory first and, having no file type, is
read as CSV text unless its name ends in a known suffix.  Text input is checked for binary content first
(NUL bytes, or control characters no text file holds), so random bytes are an error, not a Latin-1 read.
"""
from __future__ import annotations

import io
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from bmstats._checks import InputError
from bmstats.cohort import schema
from bmstats.cohort.cohort import Cohort
from bmstats.cohort.convert import canonical_table
from bmstats.cohort.issues import concat_issues, issue_frame
from bmstats.cohort.mapping import Mapping, load_mapping

# What pandas' readers (and pyarrow, openpyxl, the Stata/SAS parsers under them) raise for a file they cannot
# parse: pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError, ArrowNotImplementedError a
# NotImplementedError; a truncated xlsx is a BadZipFile, a truncated Stata/SAS file an EOFError or struct.error;
# an ImportError names the optional reader (xlrd for .xls) that is not installed.
_READ_ERRORS = (OSError, ValueError, EOFError, NotImplementedError, ImportError, struct.error, zipfile.BadZipFile)

TEXT_SUFFIXES = {".csv": ",", ".txt": ",", ".tsv": "\t"}
SUFFIXES = (".csv", ".txt", ".tsv", ".parquet", ".pq", ".xlsx", ".xlsm", ".xls", ".dta", ".sas7bdat", ".xpt")


class CohortReadError(InputError):
    """A cohort file that cannot be read at all (missing, empty, binary, unknown type)."""


def read_cohort(patients, events=None, mapping=None, *, engine=None) -> Cohort:
    """Read a cohort from files or DataFrames, with a site's mapping to the canonical columns and codes.

    File type by suffix: .csv/.txt/.tsv, .parquet, .xlsx/.xls, .dta (Stata), .sas7bdat/.xpt (SAS). Values that
    do not parse are kept as issues for :func:`bmstats.validate`; an unreadable file raises ``CohortReadError``
    (an ``InputError``) naming it.

    Parameters
    ----------
    patients : str, Path or pandas.DataFrame
        The patients table.
    events : str, Path or pandas.DataFrame, optional
        The skeletal events table.
    mapping : str, Path or dict, optional
        A YAML mapping (or its dict) renaming the site's columns and recoding its values (docs/cohort.md).
    engine : {None, "pandas", "duckdb"} or duckdb.DuckDBPyConnection, default None
        None or "pandas": read into pandas frames.  "duckdb" (or a DuckDB connection to use): keep the tables
        in DuckDB; ``patients`` and ``events`` are then paths to Parquet or CSV files (a glob included) or
        DuckDB relations, the mapping is applied as SQL, and :func:`bmstats.validate` runs as queries
        (docs/scale.md, "Cohorts at scale").

    Returns
    -------
    Cohort
        The cohort in the canonical schema.

    References
    ----------
    .. [1] von Elm E, Altman DG, Egger M, et al. The Strengthening the Reporting of Observational Studies in
       Epidemiology (STROBE) statement. Lancet 2007;370:1453-1457.
    """
    m = load_mapping(mapping)
    if engine is not None and not (isinstance(engine, str) and engine == "pandas"):
        from bmstats.cohort.engine_io import read_engine_cohort

        return read_engine_cohort(patients, events, m, engine)
    raw_p, src_p = _read_any(patients, m, "patients")
    raw_e, src_e = (None, None) if events is None else _read_any(events, m, "skeletal_events")
    sources = {name: src for name, src in (("patients", src_p), ("skeletal_events", src_e)) if src}
    p, e, issues, absent = _tables(raw_p, raw_e, m)
    return Cohort(p, e, sources=sources, read_issues=issues, absent=absent, canonical=True)


def frames_to_tables(patients: pd.DataFrame, events: pd.DataFrame | None, mapping: Mapping | None = None):
    """Canonical tables, read issues and absent columns from DataFrames (used by Cohort.from_frames)."""
    m = mapping or Mapping()
    raw_p, _ = _read_any(patients, m, "patients")
    raw_e = None if events is None else _read_any(events, m, "skeletal_events")[0]
    return _tables(raw_p, raw_e, m)


def _tables(raw_p: pd.DataFrame, raw_e: pd.DataFrame | None, m: Mapping):
    p, issues_p, absent_p = canonical_table(raw_p, "patients", m)
    found = [issues_p, structure_issues("patients", raw_p.columns, absent_p, m.table("patients"))]
    absent = {"patients": absent_p}
    if raw_e is None:
        e = schema.empty_frame("skeletal_events")
    else:
        e, issues_e, absent_e = canonical_table(raw_e, "skeletal_events", m)
        found += [issues_e, structure_issues("skeletal_events", raw_e.columns, absent_e, m.table("skeletal_events"))]
        absent["skeletal_events"] = absent_e
    return p, e, concat_issues(found), absent


def structure_issues(table: str, columns, absent: tuple, tmap) -> pd.DataFrame:
    """BM003 (a required column is missing) and BM105 (a column outside the schema) from the file's column
    names ``columns`` and the table's mapping ``tmap``."""
    spec = schema.columns(table)
    columns = list(columns)
    renamed = [tmap.columns.get(str(c).strip(), str(c).strip()) for c in columns]
    out = []
    missing_required = [c for c in absent if spec[c].required]
    for c in missing_required:
        out.append(issue_frame("BM003-required-column", table, [1], "", c,
                               f"required column {c!r} is missing (columns found: {', '.join(map(str, columns))})"))
    for c in renamed:
        if c not in spec:
            out.append(issue_frame("BM105-extra-column", table, [1], "", c,
                                   f"column {c!r} is not in the canonical schema; kept as it is "
                                   "(rename it in the mapping?)"))
    return concat_issues(out)


def _read_any(source, m: Mapping, table: str) -> tuple[pd.DataFrame, str | None]:
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.index = pd.RangeIndex(2, len(frame) + 2, name=schema.ROW)
        return frame, None
    if isinstance(source, (str, Path)):
        path = Path(source)
        return read_table_file(path, m), str(path)
    raise CohortReadError(f"{table}: expected a file path or a DataFrame, got {type(source).__name__}")


def _open(path: Path) -> tuple[Path | bytes, str]:
    """(what to read, file type): the path of a regular file, or the bytes of a pipe / standard input."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise CohortReadError("standard input: nothing was piped in")
        return data, ".csv"
    if not path.exists():
        raise CohortReadError(f"{path}: file not found")
    if path.is_dir():
        raise CohortReadError(f"{path}: is a folder, not a file")
    suffix = path.suffix.lower()
    if path.is_file():
        if path.stat().st_size == 0:
            raise CohortReadError(f"{path}: file is empty")
        return path, suffix
    try:  # a pipe, FIFO or device: it can be read once, so read it whole
        data = path.read_bytes()
    except OSError as exc:
        raise CohortReadError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not data:
        raise CohortReadError(f"{path}: nothing to read (empty pipe)")
    return data, suffix if suffix in SUFFIXES else ".csv"


def read_table_file(path: Path, m: Mapping | None = None) -> pd.DataFrame:
    """One table file as a DataFrame indexed by file row number; text files with every column as text."""
    m = m or Mapping()
    source, suffix = _open(path)
    src = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        if suffix in TEXT_SUFFIXES:
            frame = _read_text(source, path, m, TEXT_SUFFIXES[suffix])
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(src)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(src, sheet_name=m.sheet, dtype=object)
        elif suffix == ".dta":
            frame = pd.read_stata(src, convert_categoricals=False)
        elif suffix in (".sas7bdat", ".xpt"):
            frame = pd.read_sas(src, format="xport" if suffix == ".xpt" else "sas7bdat", encoding=m.encoding or "utf-8")
        else:
            raise CohortReadError(f"{path}: unknown file type {suffix!r}; expected one of {', '.join(SUFFIXES)}")
    except CohortReadError:
        raise
    except _READ_ERRORS as exc:  # what the readers raise on a file they cannot parse; anything else is a bug
        raise CohortReadError(
            f"{path}: cannot be read as {suffix or 'a table'} ({type(exc).__name__}: {_first_line(exc)})") from None
    if frame.shape[1] == 0:
        raise CohortReadError(f"{path}: no columns found")
    if suffix not in TEXT_SUFFIXES:
        frame.index = pd.RangeIndex(2, len(frame) + 2, name=schema.ROW)
    return frame


# C0 control characters that text files hold: tab, line feed, form feed, carriage return, DOS end-of-file
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1a")
_CONTROL_BYTES = bytes(c for c in range(32) if c not in _TEXT_CONTROLS) + b"\x7f"


def binary_reason(head: bytes) -> str | None:
    """Why the first bytes of a file are not text (None if they may be): NUL bytes, or more than a stray
    control character or two (random or compressed bytes hold about one in ten)."""
    if b"\x00" in head:
        return "NUL bytes"
    n = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if n > max(2, len(head) // 1000):
        return f"{n} control characters in the first {len(head):,} bytes"
    return None


def _read_text(source: Path | bytes, path: Path, m: Mapping, default_sep: str) -> pd.DataFrame:
    if isinstance(source, Path):
        with source.open("rb") as fh:
            head = fh.read(65536)
    else:
        head = source[:65536]
    reason = binary_reason(head)
    if reason:
        raise CohortReadError(f"{path}: not a text file (binary content: {reason}); expected CSV text")
    if not head.strip():
        raise CohortReadError(f"{path}: file is empty")
    encoding = m.encoding or ("utf-8-sig" if _is_utf8(source) else "latin-1")
    # a first data row longer than the header would otherwise silently become an index or lose cells
    with warnings.catch_warnings(action="error", category=pd.errors.ParserWarning):
        try:
            frame = pd.read_csv(
                source if isinstance(source, Path) else io.BytesIO(source),
                dtype=str,
                sep=m.delimiter or default_sep,
                keep_default_na=False,
                na_values=[],
                skip_blank_lines=False,
                encoding=encoding,
                engine="c",
                index_col=False,
            )
        except pd.errors.ParserWarning:
            raise CohortReadError(
                f"{path}: a data row has more fields than the header (check the delimiter and quoting)") from None
    frame.index = pd.RangeIndex(2, len(frame) + 2, name=schema.ROW)
    # blank lines: skipped, but their numbers stay counted (only rows with an empty first cell can be blank)
    first = frame.iloc[:, 0]
    candidates = np.flatnonzero((first.isna() | (first == "")).to_numpy())
    if len(candidates):
        sub = frame.iloc[candidates]
        blank = (sub.isna() | (sub == "")).all(axis=1).to_numpy()
        frame = frame.drop(index=sub.index[blank])
    frame = frame.fillna("")  # a blank line read as NaN cells: every cell is text
    frame.attrs["all_text"] = True
    return frame


def _is_utf8(source: Path | bytes, chunk: int = 1 << 20) -> bool:
    """Whether the whole input decodes as UTF-8 (a file is read in chunks: no second copy in memory)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        if isinstance(source, bytes):
            decoder.decode(source)
        else:
            with source.open("rb") as fh:
                while block := fh.read(chunk):
                    decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
