"""The validation rules as queries on an engine-held cohort (:mod:`bmstats.cohort.rules`, in SQL).

Each rule is a condition on the checked view (:mod:`bmstats.cohort.engine_tables`); a query per table
returns only the offending rows (row, patient_id and the values the message names), and the messages are
built from them in pandas with the pandas validator's texts, so the two give the same report.  Passes over
the rows of each table: one aggregate (parse counts, recode keys, unit medians), one for the offending rows
of every row rule, one for cells that did not parse (only when some did), and for the skeletal events one
window over (patient, date) for the same-day and 21-day warnings.

A rule that compares a date is not checked where that date did not parse (``rules._DATE_DEPENDS``): the
exclusion is part of the rule's condition, so a wrong ``date_format`` on 50 million rows is one message,
not 50 million.
"""
from __future__ import annotations

import pandas as pd

from bmstats._sre_window import WINDOW_DAYS, sql_counted_days
from bmstats.cohort import schema
from bmstats.cohort.convert import _bad, _unused_keys, date_format_issue
from bmstats.cohort.engine_convert import ident, lit
from bmstats.cohort.issues import concat_issues, issue_frame
from bmstats.cohort.rules import (_DATE_DEPENDS, _DOMAIN, _UNIT_HINTS, DRUGS, _allowed_text, _emit, _fmt,
                                  _value_text, window_messages)

T_P, T_E = "patients", "skeletal_events"


def run_all(tables, absent: dict) -> tuple[pd.DataFrame, int, int]:
    """(issues, number of patients, number of skeletal events) of an engine-held cohort."""
    v = _Views(tables)
    read_found, unparsed, n = [], {}, {}
    aggregates = {}
    for table in (T_P, T_E):
        aggregates[table] = _aggregate(tables, table)
        n[table] = int(aggregates[table]["__n"])
    for table in (T_P, T_E):
        if table == T_E and T_E not in absent:
            continue  # no events file: the pandas reader reads no events table either
        found, unparsed_t = _read_issues(tables, table, aggregates[table])
        read_found += found
        unparsed.update(unparsed_t)
    required = _required(tables, absent, unparsed)
    domain = _domain(tables, n)
    units = _units(aggregates[T_P])
    checked = _patient_rules(tables, v, n[T_P], unparsed) + _event_rules(tables, v, n[T_E], unparsed)
    issues = concat_issues([concat_issues(read_found)] + required + domain + units + [concat_issues(checked)])
    return issues, n[T_P], n[T_E]


class _Views:
    def __init__(self, tables):
        self.p = ident(tables.view(T_P, "checked"))
        self.e = ident(tables.view(T_E, "checked"))


def _dates(frame: pd.DataFrame, names) -> pd.DataFrame:
    for c in names:
        if c in frame.columns:
            frame[c] = pd.to_datetime(frame[c]).astype("datetime64[ns]")
    return frame


def _fetch(tables, sql: str) -> pd.DataFrame:
    """The offending rows, indexed by row (the file's row number)."""
    frame = tables.fetch(sql)
    frame.index = pd.Index(frame["row"].to_numpy(dtype="int64"), name=schema.ROW)
    if "patient_id" in frame.columns:
        frame["patient_id"] = frame["patient_id"].astype(object).where(frame["patient_id"].notna(), None)
    return frame


# -- reading: parse failures, recode keys, structure -----------------------------------------------
def _aggregate(tables, table: str) -> dict:
    plan = tables.plan(table)
    items = ["count(*) AS __n"]
    for c in plan.checked:
        items += [f"coalesce(count_if({ident('__bad_' + c.name)}), 0) AS {ident('nb_' + c.name)}",
                  f"count({c.t}) AS {ident('np_' + c.name)}"]
    for c in plan.recoded:
        for i, key in enumerate(c.recode_keys):
            items.append(f"coalesce(bool_or({ident('__k_' + c.name)} = {lit(key)}), FALSE) AS "
                         f"{ident(f'hit_{c.name}_{i}')}")
    if table == T_P:
        for column in _UNIT_HINTS:
            items += [f"count({ident(column)}) AS {ident('uc_' + column)}",
                      f"median({ident(column)}) AS {ident('um_' + column)}"]
    got = tables.fetch(f"SELECT {', '.join(items)} FROM {ident(tables.view(table, 'checked'))}")
    return got.iloc[0].to_dict()


def _read_issues(tables, table: str, agg: dict) -> tuple[list, dict]:
    """Issues of reading ``table`` in the pandas reader's order, and {(table, column): SQL true where the
    column did not parse}."""
    from bmstats.cohort.io import structure_issues

    plan = tables.plan(table)
    view = ident(tables.view(table, "checked"))
    cells, summarised, unparsed = [], {}, {}
    for c in plan.checked:
        nb, npres = int(agg["nb_" + c.name]), int(agg["np_" + c.name])
        if nb == 0:
            continue
        if c.kind == "date" and 2 * nb > npres:
            summarised[c.name] = (nb, npres)
            unparsed[(table, c.name)] = f"({ident(c.name)} IS NULL)"
        else:
            cells.append(c)
            unparsed[(table, c.name)] = ident("__bad_" + c.name)
    bad_rows = None
    if cells:
        cols = ", ".join(f"{c.t}, {ident('__bad_' + c.name)}" for c in cells)
        cond = " OR ".join(ident("__bad_" + c.name) for c in cells)
        bad_rows = _fetch(tables, f"SELECT row, patient_id, {cols} FROM {view} WHERE {cond} ORDER BY row")
    found = []
    for c in plan.columns:
        if c.recode_key is not None:
            found.append(_unused(tables, plan, c, agg))
        if c.bad is None:
            continue
        if c.name in summarised:
            nb, npres = summarised[c.name]
            sample = tables.fetch(
                f"SELECT {c.t} AS t, min(row) AS r FROM {view} WHERE {ident('__bad_' + c.name)} GROUP BY 1 "
                "ORDER BY r LIMIT 2000")
            found.append(date_format_issue(table, c.name, nb, npres, int(sample["r"].iloc[0]), sample["t"].iloc[0],
                                           sample["t"].astype(object), c.what))
        elif c in cells:
            bad = bad_rows["__bad_" + c.name].fillna(False).astype(bool)
            text = bad_rows["__t_" + c.name].astype(object)
            if c.kind == "date":
                found.append(_bad(table, "BM006-date-parse", c.name, bad_rows["patient_id"], text, bad,
                                  f"is not a date in format {c.what}"))
            else:
                found.append(_bad(table, "BM005-value-type", c.name, bad_rows["patient_id"], text, bad, c.what))
    for c in plan.extras:
        if c.recode_key is not None:
            found.append(_unused(tables, plan, c, agg))
    for name in plan.unmatched_values:
        found.append(issue_frame("BM107-mapping-value-unused", table, [1], "", name,
                                 f"values: recoding given for column {plan.tmap.value_keys.get(name, name)!r}, "
                                 "which the file does not have"))
    found.append(structure_issues(table, plan.raw_columns, plan.absent, plan.tmap))
    return found, unparsed


def _unused(tables, plan, c, agg: dict) -> pd.DataFrame:
    unused = [k for i, k in enumerate(c.recode_keys) if not bool(agg[f"hit_{c.name}_{i}"])]
    return _unused_keys(plan.table, plan.tmap, c.name, unused)


# -- rules on values ---------------------------------------------------------------------------------
def _required(tables, absent: dict, unparsed: dict) -> list:
    """BM004, as rules.required_values."""
    out = []
    for table in (T_P, T_E):
        cols = [c for c in schema.TABLES[table] if c.required and c.name not in absent.get(table, ())]
        flags = {c.name: f"({ident(c.name)} IS NULL AND NOT {unparsed.get((table, c.name), 'FALSE')})" for c in cols}
        if not flags:
            continue
        select = ", ".join(f"{f} AS {ident('f_' + n)}" for n, f in flags.items())
        got = _fetch(tables, f"SELECT row, patient_id, {select} FROM {ident(tables.view(table, 'checked'))} "
                     f"WHERE {' OR '.join(flags.values())} ORDER BY row")
        for name in flags:
            out.append(_emit("BM004-required-value", table, got, got["f_" + name], name, f"{name} is missing"))
    return out


def _domain(tables, n: dict) -> list:
    """BM007 and BM017-BM020, as rules.domain_checks (columns in name order within a table)."""
    out = []
    for table in (T_P, T_E):
        if n[table] == 0:
            continue
        checks = {}
        for col in schema.TABLES[table]:
            q = ident(col.name)
            if col.name in _DOMAIN and table == T_P:
                rule, kind, arg = _DOMAIN[col.name]
                cond = (f"NOT ({q} BETWEEN {arg[0]} AND {arg[1]})" if kind == "range"
                        else f"NOT list_contains([{', '.join(map(str, arg))}], {q})")
            elif col.kind == "code":
                rule, cond = "BM007-code-in-set", f"NOT list_contains([{', '.join(lit(c) for c in col.codes)}], {q})"
            else:
                continue
            checks[col.name] = (rule, f"coalesce({q} IS NOT NULL AND {cond}, FALSE)")
        select = ", ".join(f"{ident(c)}, {f} AS {ident('f_' + c)}" for c, (_, f) in checks.items())
        got = _fetch(tables, f"SELECT row, patient_id, {select} FROM {ident(tables.view(table, 'checked'))} WHERE "
                     f"{' OR '.join(f for _, f in checks.values())} ORDER BY row")
        for column in sorted(checks):
            mask = got["f_" + column].to_numpy(dtype=bool)
            if not mask.any():
                continue
            sub = got.loc[mask]
            allowed = _allowed_text(column, schema.columns(table)[column])
            values = sub[column].map(_value_text if column in _DOMAIN else str).astype(object)
            msgs = column + " '" + values + "' " + allowed
            out.append(issue_frame(checks[column][0], table, sub.index.to_numpy(), sub["patient_id"].to_numpy(),
                                   column, msgs.to_numpy()))
    return out


def _units(agg: dict) -> list:
    """BM108, as rules.unit_checks, from the aggregate's counts and medians."""
    out = []
    for column, (looks_wrong, advice) in _UNIT_HINTS.items():
        count = int(agg["uc_" + column])
        if count < 5:
            continue
        median = float(agg["um_" + column])
        if looks_wrong(median):
            unit = schema.columns(T_P)[column].unit
            out.append(issue_frame("BM108-unit-suspect", T_P, [1], "", column,
                                   f"{column}: median {median:g} {unit} over {count:,} patients; {advice}"))
    return out


# -- rules across columns and tables ------------------------------------------------------------------
def _excluded(rule: str, table: str, unparsed: dict, id_column: str = "patient_id", p_view: str = "") -> str:
    """SQL true where ``rule`` is not checked: a date it needs did not parse in this row, or in the row of a
    patient with this patient_id (rules._unchecked)."""
    terms = []
    for col in _DATE_DEPENDS.get(rule, ()):
        if (table, col) in unparsed:
            terms.append(unparsed[(table, col)])
        if (T_P, col) in unparsed:
            terms.append(f"coalesce({id_column} IN (SELECT patient_id FROM {p_view} WHERE {unparsed[(T_P, col)]} "
                         "AND patient_id IS NOT NULL), FALSE)")
    return "(" + " OR ".join(terms) + ")" if terms else "FALSE"


def _patient_rules(tables, v: _Views, n: int, unparsed: dict) -> list:
    """As rules.patient_rules, each instance a flag of one query over the patients."""
    if n == 0:
        return [issue_frame("BM023-no-patients", T_P, [1], "", "", "the patients table has no rows")]
    dx, bm, _, bta, fu, death = ('"dx_date"', '"bm_date"', '"visceral_met_date"', '"bta_start_date"',
                                  '"last_fu_date"', '"death_date"')
    cause, btype = '"cause_of_death"', '"bta_type"'
    drugs = "list_contains([" + ", ".join(lit(d) for d in DRUGS) + "], bta_type)"
    early = f"({bta} IS NOT NULL AND ({bm} IS NULL OR {bta} < {bm}))"
    # (rule, column, condition, message builder); in the pandas validator's order
    instances = [("BM001-unique-patient-id", "patient_id", "first_row IS NOT NULL AND row > first_row",
                  lambda s: "patient_id '" + s["patient_id"].astype(str) + "' already in row "
                  + s["first_row"].astype("int64").astype(str))]

    def order(rule, col, cond, a, a_name, rel, b, b_name):
        instances.append((rule, col, cond, lambda s: f"{a_name} " + _fmt(s[a]) + f" is {rel} {b_name} " + _fmt(s[b])))

    order("BM008-followup-after-diagnosis", "last_fu_date", f"{fu} < {dx}", "last_fu_date", "last_fu_date", "before",
          "dx_date", "dx_date")
    order("BM009-bm-after-diagnosis", "bm_date", f"{bm} < {dx}", "bm_date", "bm_date", "before", "dx_date", "dx_date")
    order("BM010-bm-before-followup-end", "bm_date", f"{bm} > {fu}", "bm_date", "bm_date", "after", "last_fu_date",
          "last_fu_date")
    for col in ("visceral_met_date", "bta_start_date"):
        order("BM011-dates-in-followup", col, f"{ident(col)} < {dx}", col, col, "before", "dx_date", "dx_date")
        order("BM011-dates-in-followup", col, f"{ident(col)} > {fu}", col, col, "after", "last_fu_date",
              "last_fu_date")
    for col in ("bm_date", "visceral_met_date", "bta_start_date"):
        order("BM014-nothing-after-death", col, f"{ident(col)} > {death}", col, col, "after", "death_date",
              "death_date")
    order("BM015-death-is-last-followup", "death_date",
          f"{death} IS NOT NULL AND {fu} IS NOT NULL AND {death} <> {fu}", "death_date", "death_date",
          "not equal to", "last_fu_date", "last_fu_date")
    instances += [
        ("BM016-cause-without-death", "cause_of_death", f"{cause} IS NOT NULL AND {death} IS NULL",
         lambda s: "cause_of_death '" + s["cause_of_death"].astype(str) + "' but no death_date"),
        ("BM104-death-cause-missing", "cause_of_death", f"{death} IS NOT NULL AND {cause} IS NULL",
         "death_date given but cause_of_death is empty (use 'unknown')"),
        ("BM021-subtype-receptors", "subtype", _contradicts(),
         lambda s: "subtype '" + s["subtype"].astype(str) + "' contradicts er/pr/her2 = " + _receptor(s, "er") + "/"
         + _receptor(s, "pr") + "/" + _receptor(s, "her2")),
        ("BM103-bta-before-bm", "bta_start_date", f"{early} AND {bm} IS NOT NULL",
         lambda s: "bta_start_date " + _fmt(s["bta_start_date"]) + " is before bm_date " + _fmt(s["bm_date"])),
        ("BM103-bta-before-bm", "bta_start_date", f"{early} AND {bm} IS NULL",
         lambda s: "bta_start_date " + _fmt(s["bta_start_date"]) + " but no bm_date (adjuvant use?)"),
        ("BM106-bta-type-date", "bta_start_date", f"coalesce({drugs}, FALSE) AND {bta} IS NULL",
         lambda s: "bta_type '" + s["bta_type"].astype(str) + "' but no bta_start_date"),
        ("BM106-bta-type-date", "bta_type",
         f"{bta} IS NOT NULL AND NOT coalesce({drugs}, FALSE) AND ({btype} IS NULL OR {btype} = 'none')",
         "bta_start_date given but bta_type is empty or 'none'"),
    ]
    flags = [f"coalesce(({cond}) AND NOT {_excluded(rule, T_P, unparsed, 'p.patient_id', v.p)}, FALSE)"
             for rule, _, cond, _ in instances]
    select = ", ".join(f"{f} AS f{i}" for i, f in enumerate(flags))
    needed = ("patient_id", "dx_date", "bm_date", "visceral_met_date", "bta_start_date", "last_fu_date", "death_date",
              "cause_of_death", "subtype", "er", "pr", "her2", "bta_type")
    got = _fetch(tables, f"""
        WITH dup AS (SELECT patient_id, min(row) AS first_row FROM {v.p} WHERE patient_id IS NOT NULL
                     GROUP BY patient_id HAVING count(*) > 1)
        SELECT * FROM (
            SELECT p.row, {', '.join('p.' + ident(c) for c in needed)}, dup.first_row, {select}
            FROM {v.p} p LEFT JOIN dup ON p.patient_id = dup.patient_id)
        WHERE {' OR '.join(f'f{i}' for i in range(len(flags)))} ORDER BY row""")
    _dates(got, ("dx_date", "bm_date", "visceral_met_date", "bta_start_date", "last_fu_date", "death_date"))
    return [_emit(rule, T_P, got, got[f"f{i}"], col, message) for i, (rule, col, _, message) in enumerate(instances)]


def _receptor(s: pd.DataFrame, name: str) -> pd.Series:
    return s[name].astype(object).fillna("").astype(str)


def _contradicts() -> str:
    """rules.subtype_contradicts in SQL."""
    def is_in(values):
        return "list_contains([" + ", ".join(lit(x) for x in values) + "], subtype)"

    hr_pos = "(er = 'positive' OR pr = 'positive')"
    hr_neg = "(er = 'negative' AND pr = 'negative')"
    terms = [f"({is_in(['HR+/HER2-', 'HR+/HER2+'])} AND {hr_neg})", f"({is_in(['HR-/HER2+', 'TNBC'])} AND {hr_pos})",
             f"({is_in(['HR+/HER2+', 'HR-/HER2+'])} AND her2 = 'negative')",
             f"({is_in(['HR+/HER2-', 'TNBC'])} AND her2 = 'positive')"]
    return " OR ".join(f"coalesce({t}, FALSE)" for t in terms)


def _event_rules(tables, v: _Views, n: int, unparsed: dict) -> list:
    """As rules.event_rules: the events against their patient (first row of each patient_id), then the
    same-day and 21-day warnings over each patient's events in date order."""
    if n == 0:
        return []
    d = '"event_date"'
    instances = [
        ("BM002-event-patient-known", "patient_id", "e.patient_id IS NOT NULL AND k.patient_id IS NULL",
         lambda s: "patient_id '" + s["patient_id"].astype(str) + "' is not in the patients table"),
        ("BM022-events-need-bm", "event_date", "k.patient_id IS NOT NULL AND k.bm_date IS NULL",
         lambda s: "skeletal event on " + _fmt(s["event_date"]) + " but the patient has no bm_date"),
        ("BM012-event-after-bm", "event_date", f"e.{d} < k.bm_date",
         lambda s: "event_date " + _fmt(s["event_date"]) + " is before bm_date " + _fmt(s["bm_date"])),
        ("BM013-event-before-followup-end", "event_date", f"e.{d} > k.last_fu_date",
         lambda s: "event_date " + _fmt(s["event_date"]) + " is after last_fu_date " + _fmt(s["last_fu_date"])),
        ("BM014-nothing-after-death", "event_date", f"e.{d} > k.death_date",
         lambda s: "event_date " + _fmt(s["event_date"]) + " is after death_date " + _fmt(s["death_date"])),
    ]
    flags = [f"coalesce(({cond}) AND NOT {_excluded(rule, T_E, unparsed, 'e.patient_id', v.p)}, FALSE)"
             for rule, _, cond, _ in instances]
    select = ", ".join(f"{f} AS f{i}" for i, f in enumerate(flags))
    got = _fetch(tables, f"""
        WITH k AS (SELECT patient_id, bm_date, last_fu_date, death_date FROM {v.p}
                   WHERE row IN (SELECT min(row) FROM {v.p} WHERE patient_id IS NOT NULL GROUP BY patient_id))
        SELECT * FROM (
            SELECT e.row, e.patient_id, e.{d}, k.bm_date, k.last_fu_date, k.death_date, {select}
            FROM {v.e} e LEFT JOIN k ON e.patient_id = k.patient_id)
        WHERE {' OR '.join(f'f{i}' for i in range(len(flags)))} ORDER BY row""")
    _dates(got, ("event_date", "bm_date", "last_fu_date", "death_date"))
    out = [_emit(rule, T_E, got, got[f"f{i}"], col, message) for i, (rule, col, _, message) in enumerate(instances)]
    return out + _sequence(tables, v)


def _sequence(tables, v: _Views) -> list:
    """BM101 (another event the same day) and BM102 (an event the skeletal morbidity window does not count:
    fewer than 21 days after the previous counted event, the rule of :mod:`bmstats._sre_window`)."""
    got = _fetch(tables, f"""
        WITH s AS (
            SELECT row, patient_id, event_date,
                   lag(event_date) OVER w AS prev_date, lag(row) OVER w AS prev_row
            FROM {v.e} WHERE patient_id IS NOT NULL AND event_date IS NOT NULL
            WINDOW w AS (PARTITION BY patient_id ORDER BY event_date, row)),
        firsts AS (
            SELECT row, patient_id, event_date, date_diff('day', DATE '1970-01-01', event_date) AS _day
            FROM s WHERE prev_date IS NULL OR prev_date <> event_date),
        flagged AS (
            SELECT f.*, c._day IS NOT NULL AS _counted FROM firsts f
            LEFT JOIN {sql_counted_days("(SELECT patient_id, _day FROM firsts)", WINDOW_DAYS)} c
            ON c.patient_id = f.patient_id AND c._day = f._day),
        marked AS (
            SELECT *, max(CASE WHEN _counted THEN _day END) OVER (PARTITION BY patient_id ORDER BY _day
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _last FROM flagged)
        SELECT row, patient_id, event_date, prev_row, NULL AS gap, TRUE AS same_day FROM s
            WHERE prev_date = event_date
        UNION ALL
        SELECT m.row, m.patient_id, m.event_date, f.row, m._day - m._last, FALSE FROM marked m
            JOIN flagged f ON f.patient_id = m.patient_id AND f._day = m._last
            WHERE NOT m._counted
        ORDER BY row""")
    _dates(got, ("event_date",))
    same = got[got["same_day"].astype(bool)]
    near = got[~got["same_day"].astype(bool)]
    out = []
    if len(same):
        msgs = ("another skeletal event on " + _fmt(same["event_date"]) + " in row "
                + same["prev_row"].astype("int64").astype(str))
        out.append(issue_frame("BM101-same-day-events", T_E, same.index.to_numpy(), same["patient_id"].to_numpy(),
                               "event_date", msgs.to_numpy()))
    if len(near):
        out.append(issue_frame("BM102-events-within-21-days", T_E, near.index.to_numpy(), near["patient_id"].to_numpy(),
                               "event_date", window_messages(near["gap"], near["prev_row"])))
    return out
