"""Raw site tables -> canonical tables: rename, recode, parse types, derive subtype, record parse failures.

A value that does not parse (a date ``2020-13-45``, an age ``sixty``) becomes missing in the canonical
table and an issue (BM005/BM006) that validation reports with the file's row number: reading never crashes
on a bad cell.  All steps are vectorised column operations.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats.cohort import schema
from bmstats.cohort.issues import concat_issues, issue_frame
from bmstats.cohort.mapping import Mapping, check_source_columns

_MAX_VALUE_SHOWN = 40


def canonical_table(raw: pd.DataFrame, table: str, mapping: Mapping) -> tuple[pd.DataFrame, pd.DataFrame, tuple]:
    """(canonical frame, parse issues, absent canonical columns) for ``table`` ('patients'/'skeletal_events').

    ``raw`` is indexed by the file's row numbers; its cells may be text (CSV) or typed (Parquet, Stata, ...).
    """
    tmap = mapping.table(table)
    spec = schema.columns(table)
    all_text = bool(raw.attrs.get("all_text"))
    raw = raw.rename(columns=lambda c: str(c).strip())
    check_source_columns(tmap, table, raw.columns)
    raw = raw.rename(columns=tmap.columns)
    dup = raw.columns[raw.columns.duplicated()]
    if len(dup):
        from bmstats.cohort.io import CohortReadError

        raise CohortReadError(
            f"{table}: column(s) {sorted(set(dup))} appear more than once (after the mapping's renaming)")
    missing = set(mapping.missing)
    issues = []
    out: dict[str, pd.Series] = {}
    absent = tuple(name for name in spec if name not in raw.columns)

    if "patient_id" in raw.columns:
        ids = _text(_column(raw, "patient_id", all_text), missing)
    else:
        ids = _empty_column(spec["patient_id"], raw.index)
    out["patient_id"] = ids
    for name, col in spec.items():
        if name == "patient_id":
            continue
        if name not in raw.columns:
            out[name] = _empty_column(col, raw.index)
            continue
        s = _column(raw, name, all_text)
        recode = tmap.values.get(name)
        recoded = None
        if recode is not None:
            recoded, unused = _recode(_text(s, set()), recode, missing)
            issues.append(_unused_keys(table, tmap, name, unused))
        if col.kind == "date" and recode is None and pd.api.types.is_datetime64_any_dtype(s):
            out[name] = _naive(s)
            continue
        if (col.kind in ("number", "integer") and recode is None and pd.api.types.is_numeric_dtype(s)
                and not pd.api.types.is_bool_dtype(s)):
            values, bad = _numeric(s, col.kind)
        elif col.kind == "boolean" and recode is None and pd.api.types.is_bool_dtype(s):
            values, bad = s.astype("boolean"), None
        else:
            text = recoded if recoded is not None else _text(s, missing)
            if col.kind == "date":
                fmt = tmap.date_format_of(name)
                values = _parse_dates(text, fmt)
                if not all_text and s.dtype == object and recode is None:
                    # typed date cells (Excel) are dates whatever format the site's text dates use
                    typed = s.map(
                        lambda v: hasattr(v, "strftime") and not isinstance(v, str) and not pd.isna(v)).astype(bool)
                    if typed.any():
                        values = values.mask(typed, _naive(s.where(typed)))
                bad = text.notna() & values.isna()
                if bad.any():
                    issues.append(_bad_dates(table, name, ids, text, bad, fmt))
                out[name] = values
                continue
            if col.kind in ("number", "integer"):
                values, bad = _numeric(text, col.kind)
            elif col.kind == "boolean":
                low = text.str.lower()
                values = low.map({"true": True, "false": False}).astype("boolean")
                bad = text.notna() & values.isna()
            else:  # id, code
                out[name] = text
                continue
        if bad is not None and bad.any():
            rule_text = {"number": "is not a number", "integer": "is not a whole number",
                         "boolean": "is not true/false"}[col.kind]
            shown = recoded if recoded is not None else _text(s, missing)
            issues.append(_bad(table, "BM005-value-type", name, ids, shown, bad, rule_text))
            values = values.mask(bad)
        if name in tmap.multiply:
            values = values * tmap.multiply[name]
        out[name] = values

    frame = pd.DataFrame(out, index=raw.index)
    if table == "patients":
        derived = derive_subtype(frame["er"], frame["pr"], frame["her2"])
        frame["subtype"] = frame["subtype"].where(frame["subtype"].notna(), derived)
    for name in schema.CODE_COLUMNS[table]:
        frame[name] = schema.as_coded(frame[name], spec[name])
    extra = [c for c in raw.columns if c not in spec]
    for c in extra:
        recode = tmap.values.get(c)
        if recode is not None:
            frame[c], unused = _recode(_text(_column(raw, c, all_text), set()), recode, missing)
            issues.append(_unused_keys(table, tmap, c, unused))
        else:
            frame[c] = _text(_column(raw, c, all_text), missing) if raw[c].dtype == object else raw[c]
    for c in sorted(set(tmap.values) - set(raw.columns)):
        issues.append(issue_frame("BM107-mapping-value-unused", table, [1], "", c,
                                  f"values: recoding given for column {tmap.value_keys.get(c, c)!r}, "
                                  "which the file does not have"))
    frame.index.name = schema.ROW
    return frame, concat_issues(issues), absent


def _empty_column(col: schema.Column, index: pd.Index) -> pd.Series:
    fill = {"date": pd.NaT, "number": np.nan, "integer": pd.NA, "boolean": pd.NA}.get(col.kind, None)
    return pd.Series([fill] * len(index) if fill is None else fill, index=index, dtype=schema.dtype_of(col))


def derive_subtype(er: pd.Series, pr: pd.Series, her2: pd.Series) -> pd.Series:
    """Subtype from receptor codes: HR+ = ER or PR positive; HR- = both negative; else unknown.

    HR+/HER2-, HR+/HER2+, HR-/HER2+, TNBC (HR-, HER2-); any unknown (or non-canonical code) part that
    decides the class gives 'unknown'.
    """
    hr_pos = (er == "positive") | (pr == "positive")
    hr_neg = (er == "negative") & (pr == "negative")
    h_pos = her2 == "positive"
    h_neg = her2 == "negative"
    out = np.select(
        [hr_pos & h_neg, hr_pos & h_pos, hr_neg & h_pos, hr_neg & h_neg],
        ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC"],
        default="unknown",
    )
    return pd.Series(out.astype(object), index=er.index)


def _column(raw: pd.DataFrame, name: str, all_text: bool) -> pd.Series:
    s = raw[name]
    if all_text:
        s.attrs["all_text"] = True
    return s


def _text(s: pd.Series, missing: set) -> pd.Series:
    """Cells as stripped text, with the mapping's missing tokens (and real NA) as NA."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        num = s.astype("float64")
        integral = np.isfinite(num) & (num == np.round(num)) & (num.abs() < 2**53)
        if integral.all() or (integral | num.isna()).all():
            text = num.astype("Int64").astype(object).where(num.notna())
            text = text.map(str, na_action="ignore")
        else:
            text = s.astype(str).where(s.notna())
        return text.astype(object).where(text.notna(), None)
    if pd.api.types.is_bool_dtype(s):
        return s.map({True: "true", False: "false"}).astype(object)
    if s.attrs.get("all_text"):  # read from a text file: every cell is already a str, none is NaN
        text = s.str.strip()
    else:
        na = s.isna()
        if not (s.dtype == object and _all_str(s, na)):  # typed cells, categoricals, dates in a text column
            s = s.astype(object).map(_cell_text, na_action="ignore")
        text = s.astype(object).where(~na, None).str.strip()
    values = text.to_numpy(dtype=object, copy=True)
    gone = text.isna().to_numpy()
    if missing:
        gone |= text.isin(missing).to_numpy()
    values[gone] = None
    return pd.Series(values, index=text.index, name=text.name)


def _all_str(s: pd.Series, na: pd.Series) -> bool:
    sample = s[~na]
    return pd.api.types.infer_dtype(sample, skipna=True) in ("string", "empty")


def _cell_text(v) -> str:
    """Typed cells (Excel, Stata) as text: whole floats without '.0', dates as ISO."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d")
    return str(v)


def _recode(text: pd.Series, recode: dict, missing: set) -> tuple[pd.Series, list]:
    """(recoded text, keys that matched no cell).  ``text`` is the cells' text before the missing tokens are
    applied, so that the key ``""`` can map empty cells and a key such as ``NA`` its own text; cells not
    recoded that are missing tokens (or recoded to one) become missing."""
    key = text.fillna("")
    hit = key.isin(list(recode))
    out = key.map(recode).where(hit, text)
    out = out.mask(out.isna() | out.isin(missing))
    seen = set(key[hit].unique())
    unused = [k for k in recode if k not in seen]
    return out.astype(object).where(out.notna(), None), unused


def _unused_keys(table: str, tmap, column: str, unused: list) -> pd.DataFrame:
    if not unused:
        return issue_frame("BM107-mapping-value-unused", table, [], "", column, "")
    site = tmap.value_keys.get(column, column)
    keys = ", ".join(repr(k) for k in unused)
    return issue_frame("BM107-mapping-value-unused", table, [1], "", column,
                       f"values.{site}: key(s) {keys} match no cell of column {site!r} (a typo, or a code "
                       "written differently in the file?)")


# formats a site's dates are commonly written in; the first that reads the most failed values is suggested
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%y",
                 "%d.%m.%y", "%Y%m%d", "%d %b %Y", "%d-%b-%Y", "%d-%b-%y", "%b %d, %Y", "%Y-%m-%d %H:%M:%S",
                 "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M")


def guess_date_format(texts: pd.Series) -> list[str]:
    """The formats (of a list of common ones) that read the most of ``texts``; empty when none reads any.
    Several when they tie (``01/02/2010``: day and month cannot be told apart)."""
    sample = pd.Series(texts.dropna().unique()[:2000], dtype=object)
    if sample.empty:
        return []
    counts = {fmt: int(pd.to_datetime(sample, format=fmt, errors="coerce").notna().sum()) for fmt in _DATE_FORMATS}
    best = max(counts.values())
    return [] if best == 0 else [fmt for fmt, n in counts.items() if n == best]


def _bad_dates(table: str, column: str, ids: pd.Series, text: pd.Series, bad: pd.Series, fmt: str) -> pd.DataFrame:
    """BM006 per cell, or, when most of a column's dates fail, one issue naming the format they look like."""
    n_bad, n_present = int(bad.sum()), int(text.notna().sum())
    if 2 * n_bad <= n_present:
        return _bad(table, "BM006-date-parse", column, ids, text, bad, f"is not a date in format {fmt}")
    first = bad.index[bad.to_numpy()][0]
    return date_format_issue(table, column, n_bad, n_present, first, text[first], text[bad], fmt)


def date_format_issue(table: str, column: str, n_bad: int, n_present: int, first_row: int, first_text: str,
                      bad_texts: pd.Series, fmt: str) -> pd.DataFrame:
    """The one BM006 issue of a column most of whose dates fail: the format they look like, from the first
    2,000 distinct failed texts (in row order) of ``bad_texts``."""
    guess = guess_date_format(bad_texts)
    if guess:
        looks = " or ".join(guess) + (" (no day above 12 tells day and month apart)" if len(guess) > 1 else "")
        hint = f"they look like {looks}: set date_format: \"{guess[0]}\" in the mapping"
    else:
        hint = "none of the usual formats reads them: set date_format in the mapping to the format they use"
    msg = (f"{column}: {n_bad:,} of {n_present:,} values are not dates in format {fmt} (e.g. "
           f"'{str(first_text)[:_MAX_VALUE_SHOWN]}' in row {first_row}); {hint}; rules that need {column} were "
           "not checked where it did not parse")
    return issue_frame("BM006-date-parse", table, [1], "", column, msg)


def _parse_dates(text: pd.Series, fmt: str) -> pd.Series:
    values = pd.to_datetime(text, format=fmt, errors="coerce")
    return _naive(values)


def _naive(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, errors="coerce")
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.normalize().astype("datetime64[ns]")


def _numeric(s: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    num = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = s.notna() & num.isna()
    if kind == "integer":
        frac = num.notna() & (num != np.round(num))
        bad = bad | frac
        num = num.mask(frac)
        return num.astype("Int64"), bad
    return num, bad


def _bad(table: str, rule: str, column: str, ids: pd.Series, text: pd.Series, bad: pd.Series,
         what: str) -> pd.DataFrame:
    rows = bad.index[bad.to_numpy()]
    shown = text[bad].astype(str)
    shown = shown.where(shown.str.len() <= _MAX_VALUE_SHOWN, shown.str.slice(0, _MAX_VALUE_SHOWN - 1) + "\u2026")
    msgs = column + " " + ("'" + shown + "'") + " " + what
    return issue_frame(rule, table, rows, ids[bad].to_numpy(), column, msgs.to_numpy())
