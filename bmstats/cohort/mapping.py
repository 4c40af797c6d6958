"""The site mapping: a YAML file that renames a site's columns and recodes its values to the canonical ones.

Format (every key optional; docs/cohort.md has a full example)::

    date_format: "%d/%m/%Y"          # strptime format of every date column (default ISO %Y-%m-%d)
    missing: ["", "NA", "."]         # cell texts that mean "missing" (default: "", NA, N/A, NULL, .)
    encoding: utf-8                  # text files; default: UTF-8 (with or without BOM), else Latin-1
    delimiter: ";"                   # CSV delimiter (default "," ; tab for .tsv)
    patients:
      columns:                                                  # site name -> canonical name
        PatNr: patient_id
        DiagDat: dx_date
        ER: er
        Size_cm: {to: tumor_size_mm, multiply: 10}             # a number column in another unit
      values:                                                   # site or canonical column -> recoding
        ER: {1: positive, 0: negative, 9: unknown}
        BTA: {"": none, ZOL: zoledronic_acid}                   # "" (or null): the empty cell
      date_format: {dx_date: "%d.%m.%Y"}                       # per table, or per column
    skeletal_events:                                            # (alias: events)
      columns: {...}
      values: {...}

Every ``columns:`` entry must name a column of the file (after stripping spaces around the header): an
entry whose site column the file lacks is a :class:`MappingError` naming the key, the missing column, a close
match and the columns the file has.  Ignoring it would leave the canonical column silently empty (a typo in
``DeathDate`` would make every patient alive).  Recoding keys that match no cell are only a warning (BM107):
a site's code list is often its whole codebook, and one extract need not hold every code.

Recoding compares the cell's text with the key's text (YAML ``1`` and ``"1"`` are the same key); cells
not listed are kept as they are, so an unmapped site code is flagged by validation, never guessed.  The key
``""`` (or YAML ``null``) maps empty cells; keys are matched before the ``missing`` texts are applied, so
``{NA: unknown}`` recodes the text ``NA``.  A key that matches no cell is reported (rule BM107).
``multiply`` scales a number column to the canonical unit (``cm -> mm``: ``multiply: 10``).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bmstats._checks import InputError

DEFAULT_MISSING = ("", "NA", "N/A", "NULL", ".")
ISO_DATE = "%Y-%m-%d"

_TOP_KEYS = {"date_format", "missing", "encoding", "delimiter", "patients", "skeletal_events", "events", "sheet"}
_TABLE_KEYS = {"columns", "values", "date_format"}


@dataclass(frozen=True)
class TableMapping:
    columns: dict = field(default_factory=dict)  # site column -> canonical column
    values: dict = field(default_factory=dict)  # canonical column -> {site text: canonical text}
    date_format: dict = field(default_factory=dict)  # canonical date column -> strptime format
    default_date_format: str = ISO_DATE
    multiply: dict = field(default_factory=dict)  # canonical number column -> factor to its unit
    value_keys: dict = field(default_factory=dict)  # canonical column -> the mapping's name for it

    def date_format_of(self, column: str) -> str:
        return self.date_format.get(column, self.default_date_format)


@dataclass(frozen=True)
class Mapping:
    patients: TableMapping = field(default_factory=TableMapping)
    skeletal_events: TableMapping = field(default_factory=TableMapping)
    missing: tuple = DEFAULT_MISSING
    encoding: str | None = None
    delimiter: str | None = None
    sheet: Any = 0

    def table(self, name: str) -> TableMapping:
        return self.patients if name == "patients" else self.skeletal_events


class MappingError(InputError):
    """The mapping file is unreadable or malformed; the message names the key."""


_MAX_COLUMNS_SHOWN = 40


def check_source_columns(tmap: TableMapping, table: str, columns) -> None:
    """Raise :class:`MappingError` when a ``columns:`` entry of the mapping names a column that ``columns``
    (the file's header, as read) does not have; the message names the mapping key, the missing column, the
    closest column name (difflib) and the columns that exist."""
    have = [str(c).strip() for c in columns]
    present = set(have)
    missing = [site for site in tmap.columns if site not in present]
    if not missing:
        return
    by_lower = {c.lower(): c for c in have}
    parts = []
    for site in missing:
        close = [by_lower[site.lower()]] if site.lower() in by_lower else difflib.get_close_matches(site, have, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"mapping: '{table}.columns.{site}' (-> {tmap.columns[site]}): the {table} table has no "
                     f"column {site!r}{hint}")
    shown = ", ".join(repr(c) for c in have[:_MAX_COLUMNS_SHOWN])
    if len(have) > _MAX_COLUMNS_SHOWN:
        shown += f", ... ({len(have) - _MAX_COLUMNS_SHOWN} more)"
    raise MappingError("; ".join(parts) + f"; its columns: {shown or '(none)'}")


def load_mapping(mapping: str | Path | dict | Mapping | None) -> Mapping:
    """A Mapping from a YAML file path, a dict of the same shape, or None (the identity mapping)."""
    if mapping is None:
        return Mapping()
    if isinstance(mapping, Mapping):
        return mapping
    if isinstance(mapping, (str, Path)):
        import yaml

        path = Path(mapping)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(f"mapping file {str(path)!r} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"mapping file {str(path)!r} is unreadable: {exc}") from None
        except yaml.YAMLError as exc:
            raise MappingError(f"mapping file {str(path)!r} is not valid YAML: {exc}") from None
        raw = {} if raw is None else raw
    else:
        raw = mapping
    if not isinstance(raw, dict):
        raise MappingError("mapping must be a YAML mapping (key: value pairs) at the top level")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise MappingError(f"mapping: unknown key(s) {sorted(map(str, unknown))}; allowed: {sorted(_TOP_KEYS)}")
    default_format = date_format(raw.get("date_format", ISO_DATE), "date_format")
    missing = raw.get("missing", list(DEFAULT_MISSING))
    if not isinstance(missing, list):
        raise MappingError("mapping: 'missing' must be a list of texts")
    events_raw = raw.get("skeletal_events", raw.get("events"))
    return Mapping(
        patients=_table(raw.get("patients"), "patients", default_format),
        skeletal_events=_table(events_raw, "skeletal_events", default_format),
        missing=tuple("" if m is None else str(m) for m in missing),
        encoding=raw.get("encoding"),
        delimiter=raw.get("delimiter"),
        sheet=raw.get("sheet", 0),
    )


def _table(raw: Any, name: str, default_format: str) -> TableMapping:
    if raw is None:
        return TableMapping(default_date_format=default_format)
    if not isinstance(raw, dict):
        raise MappingError(f"mapping: '{name}' must hold 'columns', 'values' and/or 'date_format'")
    unknown = set(raw) - _TABLE_KEYS
    if unknown:
        raise MappingError(f"mapping: unknown key(s) {sorted(map(str, unknown))} under '{name}'; "
                           f"allowed: {sorted(_TABLE_KEYS)}")
    columns = raw.get("columns") or {}
    if not isinstance(columns, dict):
        raise MappingError(f"mapping: '{name}.columns' must map site column names to canonical names")
    columns, multiply = _columns(columns, name)
    values_raw = raw.get("values") or {}
    if not isinstance(values_raw, dict):
        raise MappingError(f"mapping: '{name}.values' must map a column to a recoding such as {{1: positive}}")
    values, value_keys = {}, {}
    for column, recode in values_raw.items():
        if not isinstance(recode, dict):
            raise MappingError(
                f"mapping: '{name}.values.{column}' must be a recoding such as {{1: positive, 0: negative}}")
        canonical = columns.get(str(column), str(column))
        values[canonical] = {_key_text(k): ("" if v is None else str(v)) for k, v in recode.items()}
        value_keys[canonical] = str(column)
    fmt = raw.get("date_format")
    if fmt is None:
        formats, table_default = {}, default_format
    elif isinstance(fmt, str):
        formats, table_default = {}, date_format(fmt, f"{name}.date_format")
    elif isinstance(fmt, dict):
        from bmstats.cohort import schema

        dates = [c for c, col in schema.columns(name).items() if col.kind == "date"]
        formats = {}
        for key, value in fmt.items():
            canonical = columns.get(str(key), str(key))
            if canonical not in dates:
                raise MappingError(f"mapping: '{name}.date_format.{key}': not a date column of {name}; "
                                   f"date columns: {', '.join(dates)}")
            formats[canonical] = date_format(value, f"{name}.date_format.{key}")
        table_default = default_format
    else:
        raise MappingError(f"mapping: '{name}.date_format' must be a format or a {{column: format}} mapping")
    return TableMapping(columns=columns, values=values, date_format=formats, default_date_format=table_default,
                        multiply=multiply, value_keys=value_keys)


def _columns(raw: dict, name: str) -> tuple[dict, dict]:
    """Renaming (site -> canonical) and unit factors from ``{site: canonical | {to: canonical, multiply: k}}``."""
    from bmstats.cohort import schema

    numbers = [c.name for c in schema.TABLES[name] if c.kind == "number"]
    renames, multiply = {}, {}
    for site, target in raw.items():
        where = f"mapping: '{name}.columns.{site}'"
        if isinstance(target, dict):
            unknown = set(target) - {"to", "multiply"}
            if unknown or "to" not in target:
                raise MappingError(f"{where} must be a canonical name or {{to: canonical name, multiply: number}}"
                                   + (f"; unknown key(s) {sorted(map(str, unknown))}" if unknown else ""))
            canonical = str(target["to"])
            if "multiply" in target:
                factor = target["multiply"]
                if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
                    raise MappingError(f"{where}: multiply must be a positive number (e.g. 10 for cm -> mm), "
                                       f"got {factor!r}")
                if canonical not in numbers:
                    raise MappingError(f"{where}: multiply applies to the number columns ({', '.join(numbers)}), "
                                       f"not to {canonical!r}")
                multiply[canonical] = float(factor)
        else:
            canonical = str(target)
        renames[str(site)] = canonical
    return renames, multiply


def date_format(value: Any, key: str) -> str:
    """A strptime date format, checked once where the mapping is read: text whose directives Python knows
    and that names a year, a month and a day (or a day of the year); the error names the mapping key."""
    import datetime as dt

    where = f"mapping: '{key}'"
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where} must be a strptime date format such as '%d/%m/%Y', got {value!r}")
    probe = dt.date(2001, 12, 23)
    try:
        text = probe.strftime(value)
        back = dt.datetime.strptime(text, value).date()
    except ValueError as exc:
        raise MappingError(f"{where}: {value!r} is not a valid date format ({exc})") from None
    if back != probe:
        raise MappingError(f"{where}: {value!r} does not name a year, a month and a day (e.g. '%d/%m/%Y')")
    return value


def _key_text(key: Any) -> str:
    """YAML reads 1 as int, 1.0 as float, true as bool: compare them as the text a CSV cell would hold."""
    if key is None:
        return ""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)
