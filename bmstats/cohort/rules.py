"""The validation rules (catalogue in :mod:`bmstats.cohort.issues`), each a vectorised check.

Per-column domain checks (codes, plausible ranges) run through a pandera schema; the cross-column and
cross-table rules (dates in order, events against patients) are ours.  Every check returns a tidy issue
frame naming the rule, the table, the file row and the patient.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats._sre_window import WINDOW_DAYS, counted_events
from bmstats.cohort import schema
from bmstats.cohort.issues import concat_issues, empty_issues, issue_frame

DRUGS = tuple(b for b in schema.BTA_TYPES if b != "none")

# column -> (rule, check kind, argument); the range limits are the ones the rule explanations state
_DOMAIN = {
    "age": ("BM017-plausible-age", "range", (15, 110)),
    "tumor_size_mm": ("BM018-plausible-tumor-size", "range", (0, 300)),
    "nodes_positive": ("BM019-plausible-nodes", "range", (0, 100)),
    "grade": ("BM020-plausible-grade", "isin", (1, 2, 3)),
}


# rules that compare or need dates: not checked where one of these dates did not parse (BM006 says why)
_DATE_DEPENDS = {
    "BM008-followup-after-diagnosis": ("dx_date", "last_fu_date"),
    "BM009-bm-after-diagnosis": ("dx_date", "bm_date"),
    "BM010-bm-before-followup-end": ("bm_date", "last_fu_date"),
    "BM011-dates-in-followup": ("dx_date", "last_fu_date", "visceral_met_date", "bta_start_date"),
    "BM012-event-after-bm": ("event_date", "bm_date"),
    "BM013-event-before-followup-end": ("event_date", "last_fu_date"),
    "BM014-nothing-after-death": ("death_date", "bm_date", "visceral_met_date", "bta_start_date", "event_date"),
    "BM015-death-is-last-followup": ("death_date", "last_fu_date"),
    "BM016-cause-without-death": ("death_date",),
    "BM022-events-need-bm": ("bm_date",),
    "BM101-same-day-events": ("event_date",),
    "BM102-events-within-21-days": ("event_date",),
    "BM103-bta-before-bm": ("bta_start_date", "bm_date"),
    "BM104-death-cause-missing": ("death_date",),
    "BM106-bta-type-date": ("bta_start_date",),
}

# number columns whose typical values give away another unit: column -> (test on the median, message)
_UNIT_HINTS = {
    "tumor_size_mm": (lambda med: med < 5, "values look like centimetres: add multiply: 10 to the column's "
                      "mapping entry ({to: tumor_size_mm, multiply: 10})"),
    "age": (lambda med: 180 <= med <= 1320, "values look like months: add multiply: 0.0833333 to the column's "
            "mapping entry, or give age in years"),
}


def _fmt(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").fillna("(missing)")


def _emit(rule: str, table: str, frame: pd.DataFrame, mask, column: str, message) -> pd.DataFrame:
    """Issues for the rows of ``frame`` where ``mask``; ``message(sub)`` builds the texts of those rows."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return empty_issues()
    sub = frame.loc[mask]
    msgs = message(sub) if callable(message) else message
    if isinstance(msgs, pd.Series):
        msgs = msgs.to_numpy()
    return issue_frame(rule, table, sub.index.to_numpy(), sub["patient_id"].to_numpy(), column, msgs)


def domain_checks(p: pd.DataFrame, e: pd.DataFrame) -> list[pd.DataFrame]:
    """BM007 codes in their sets and BM017-BM020 plausible values, through pandera."""
    import pandera.pandas as pa

    out = []
    for table, frame in (("patients", p), ("skeletal_events", e)):
        if len(frame) == 0:
            continue
        rule_of, columns = {}, {}
        for col in schema.TABLES[table]:
            if col.name in _DOMAIN and table == "patients":
                rule, kind, arg = _DOMAIN[col.name]
                check = pa.Check.in_range(*arg) if kind == "range" else pa.Check.isin(list(arg))
            elif col.kind == "code":
                rule, check = "BM007-code-in-set", pa.Check.isin(list(col.codes))
            else:
                continue
            rule_of[col.name] = rule
            columns[col.name] = pa.Column(checks=check, nullable=True, required=False)
        try:
            pa.DataFrameSchema(columns).validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            fc = exc.failure_cases
            fc = fc[fc["index"].notna() & fc["column"].isin(list(rule_of))]
            for column, cases in fc.groupby("column", sort=True):
                rows = cases["index"].astype("int64").to_numpy()
                spec = schema.columns(table)[column]
                allowed = _allowed_text(column, spec)
                msgs = column + " '" + cases["failure_case"].map(_value_text).to_numpy().astype(object) + "' " + allowed
                out.append(issue_frame(rule_of[column], table, rows, frame.loc[rows, "patient_id"].to_numpy(),
                                       column, msgs))
    return out


def _value_text(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _allowed_text(column: str, spec: schema.Column) -> str:
    if column in _DOMAIN and _DOMAIN[column][1] == "range":
        lo, hi = _DOMAIN[column][2]
        return f"is outside {lo}-{hi}"
    return "is not one of " + ", ".join(map(str, spec.codes))


def unit_checks(p: pd.DataFrame) -> list[pd.DataFrame]:
    """BM108: a number column whose median gives away another unit (tumour size in cm passes as mm)."""
    out = []
    for column, (looks_wrong, advice) in _UNIT_HINTS.items():
        values = pd.to_numeric(p[column], errors="coerce").dropna()
        if len(values) < 5:
            continue
        median = float(values.median())
        if looks_wrong(median):
            unit = schema.columns("patients")[column].unit
            out.append(issue_frame("BM108-unit-suspect", "patients", [1], "", column,
                                   f"{column}: median {median:g} {unit} over {len(values):,} patients; {advice}"))
    return out


def unparsed_rows(p: pd.DataFrame, e: pd.DataFrame, read_issues: pd.DataFrame) -> dict:
    """{(table, column): file rows whose value did not parse} from the read issues; a column summarised in
    one BM006 issue (most of its dates failed) counts every row where it is missing."""
    out = {}
    bad = read_issues[read_issues["rule"].isin(["BM005-value-type", "BM006-date-parse"])]
    frames = {"patients": p, "skeletal_events": e}
    for (table, column), g in bad.groupby(["table", "column"], sort=False):
        frame = frames.get(table)
        if frame is None or column not in frame.columns:
            continue
        if (g["row"] == 1).any():
            out[(table, column)] = frame.index[frame[column].isna().to_numpy()]
        else:
            out[(table, column)] = pd.Index(g["row"].to_numpy())
    return out


def _unchecked(issues: pd.DataFrame, p: pd.DataFrame, unparsed: dict) -> pd.DataFrame:
    """``issues`` without those of date rules on rows where a date they need did not parse."""
    if not unparsed or issues.empty:
        return issues
    drop = np.zeros(len(issues), dtype=bool)
    failed_ids = {col: set(p.loc[p.index.intersection(rows), "patient_id"].dropna())
                  for (table, col), rows in unparsed.items() if table == "patients"}
    for rule, depends in _DATE_DEPENDS.items():
        mine = (issues["rule"] == rule).to_numpy()
        if not mine.any():
            continue
        for col in depends:
            for table in ("patients", "skeletal_events"):
                rows = unparsed.get((table, col))
                if rows is not None:
                    drop |= mine & (issues["table"] == table).to_numpy() & issues["row"].isin(rows).to_numpy()
            if col in failed_ids:
                drop |= mine & issues["patient_id"].isin(failed_ids[col]).to_numpy()
    return issues.loc[~drop]


def required_values(p: pd.DataFrame, e: pd.DataFrame, absent: dict, read_issues: pd.DataFrame,
                    unparsed: dict | None = None) -> list[pd.DataFrame]:
    """BM004: a value in every row of the required columns (absent columns are BM003, bad cells BM005/6)."""
    unparsed = unparsed if unparsed is not None else unparsed_rows(p, e, read_issues)
    out = []
    for table, frame in (("patients", p), ("skeletal_events", e)):
        for col in schema.TABLES[table]:
            if not col.required or col.name in absent.get(table, ()):
                continue
            na = frame[col.name].isna().to_numpy()
            if not na.any():
                continue
            na &= ~frame.index.isin(unparsed.get((table, col.name), []))
            out.append(_emit("BM004-required-value", table, frame, na, col.name, f"{col.name} is missing"))
    return out


def patient_rules(p: pd.DataFrame) -> list[pd.DataFrame]:
    out = []
    T = "patients"
    if len(p) == 0:
        return [issue_frame("BM023-no-patients", T, [1], "", "", "the patients table has no rows")]
    ids = p["patient_id"]
    dup = (ids.notna() & ids.duplicated(keep="first")).to_numpy()
    if dup.any():
        both = ids.notna() & ids.duplicated(keep=False)
        first_row = pd.Series(p.index[both.to_numpy()], index=ids[both].to_numpy()).groupby(level=0).min()
        out.append(_emit("BM001-unique-patient-id", T, p, dup, "patient_id",
                         lambda s: "patient_id '" + s["patient_id"].astype(str) + "' already in row "
                         + s["patient_id"].map(first_row).astype(str)))

    dx, bm, vm, bta = p["dx_date"], p["bm_date"], p["visceral_met_date"], p["bta_start_date"]
    fu, death = p["last_fu_date"], p["death_date"]

    def order(rule, col, bad, a, a_name, rel, b, b_name):
        out.append(_emit(rule, T, p, bad, col,
                         lambda s: f"{a_name} " + _fmt(a[s.index]) + f" is {rel} {b_name} " + _fmt(b[s.index])))

    order("BM008-followup-after-diagnosis", "last_fu_date", fu < dx, fu, "last_fu_date", "before", dx, "dx_date")
    order("BM009-bm-after-diagnosis", "bm_date", bm < dx, bm, "bm_date", "before", dx, "dx_date")
    order("BM010-bm-before-followup-end", "bm_date", bm > fu, bm, "bm_date", "after", fu, "last_fu_date")
    for col, d in (("visceral_met_date", vm), ("bta_start_date", bta)):
        order("BM011-dates-in-followup", col, d < dx, d, col, "before", dx, "dx_date")
        order("BM011-dates-in-followup", col, d > fu, d, col, "after", fu, "last_fu_date")
    for col, d in (("bm_date", bm), ("visceral_met_date", vm), ("bta_start_date", bta)):
        order("BM014-nothing-after-death", col, d > death, d, col, "after", death, "death_date")
    order("BM015-death-is-last-followup", "death_date", death.notna() & fu.notna() & (death != fu),
          death, "death_date", "not equal to", fu, "last_fu_date")
    cause = p["cause_of_death"]
    out.append(_emit("BM016-cause-without-death", T, p, cause.notna() & death.isna(), "cause_of_death",
                     lambda s: "cause_of_death '" + s["cause_of_death"].astype(str) + "' but no death_date"))
    out.append(_emit("BM104-death-cause-missing", T, p, death.notna() & cause.isna(), "cause_of_death",
                     "death_date given but cause_of_death is empty (use 'unknown')"))

    def receptor(s, name):
        return s[name].astype(object).fillna("").astype(str)

    out.append(_emit("BM021-subtype-receptors", T, p, subtype_contradicts(p), "subtype",
                     lambda s: "subtype '" + s["subtype"].astype(str) + "' contradicts er/pr/her2 = "
                     + receptor(s, "er") + "/" + receptor(s, "pr") + "/" + receptor(s, "her2")))

    btype = p["bta_type"]
    early = bta.notna() & (bm.isna() | (bta < bm))
    out.append(_emit("BM103-bta-before-bm", T, p, early & bm.notna(), "bta_start_date",
                     lambda s: "bta_start_date " + _fmt(bta[s.index]) + " is before bm_date " + _fmt(bm[s.index])))
    out.append(_emit("BM103-bta-before-bm", T, p, early & bm.isna(), "bta_start_date",
                     lambda s: "bta_start_date " + _fmt(bta[s.index]) + " but no bm_date (adjuvant use?)"))
    drug = btype.isin(DRUGS)
    out.append(_emit("BM106-bta-type-date", T, p, drug & bta.isna(), "bta_start_date",
                     lambda s: "bta_type '" + s["bta_type"].astype(str) + "' but no bta_start_date"))
    out.append(_emit("BM106-bta-type-date", T, p, bta.notna() & ~drug & (btype.isna() | (btype == "none")), "bta_type",
                     "bta_start_date given but bta_type is empty or 'none'"))
    return out


def subtype_contradicts(p: pd.DataFrame) -> pd.Series:
    """True where the subtype's HR or HER2 part is the opposite of what er/pr/her2 say."""
    st, er, pr, her2 = p["subtype"], p["er"], p["pr"], p["her2"]
    hr_pos = (er == "positive") | (pr == "positive")
    hr_neg = (er == "negative") & (pr == "negative")
    claims_hr_pos = st.isin(["HR+/HER2-", "HR+/HER2+"])
    claims_hr_neg = st.isin(["HR-/HER2+", "TNBC"])
    claims_h_pos = st.isin(["HR+/HER2+", "HR-/HER2+"])
    claims_h_neg = st.isin(["HR+/HER2-", "TNBC"])
    return (
        (claims_hr_pos & hr_neg)
        | (claims_hr_neg & hr_pos)
        | (claims_h_pos & (her2 == "negative"))
        | (claims_h_neg & (her2 == "positive"))
    )


def event_rules(p: pd.DataFrame, e: pd.DataFrame) -> list[pd.DataFrame]:
    if len(e) == 0:
        return []
    out = []
    T = "skeletal_events"
    known_p = p.loc[p["patient_id"].notna() & ~p["patient_id"].duplicated(keep="first"),
                    ["patient_id", "bm_date", "last_fu_date", "death_date"]]
    pos = pd.Index(known_p["patient_id"]).get_indexer(e["patient_id"])
    known = pos >= 0
    out.append(_emit("BM002-event-patient-known", T, e, e["patient_id"].notna().to_numpy() & ~known, "patient_id",
                     lambda s: "patient_id '" + s["patient_id"].astype(str) + "' is not in the patients table"))
    take = np.where(known, pos, 0)

    def pcol(name):
        if len(known_p) == 0:  # no patients (BM023): no event is known
            return pd.Series(pd.NaT, index=e.index, dtype="datetime64[ns]")
        vals = known_p[name].to_numpy()[take]
        return pd.Series(vals, index=e.index).where(known)

    bm, fu, death, d = pcol("bm_date"), pcol("last_fu_date"), pcol("death_date"), e["event_date"]
    out.append(_emit("BM022-events-need-bm", T, e, known & bm.isna().to_numpy(), "event_date",
                     lambda s: "skeletal event on " + _fmt(d[s.index]) + " but the patient has no bm_date"))
    out.append(_emit("BM012-event-after-bm", T, e, d < bm, "event_date",
                     lambda s: "event_date " + _fmt(d[s.index]) + " is before bm_date " + _fmt(bm[s.index])))
    out.append(_emit("BM013-event-before-followup-end", T, e, d > fu, "event_date",
                     lambda s: "event_date " + _fmt(d[s.index]) + " is after last_fu_date " + _fmt(fu[s.index])))
    out.append(_emit("BM014-nothing-after-death", T, e, d > death, "event_date",
                     lambda s: "event_date " + _fmt(d[s.index]) + " is after death_date " + _fmt(death[s.index])))

    # warnings on the sequence of each patient's events
    ok = e["patient_id"].notna() & d.notna()
    seq = e.loc[ok, ["patient_id", "event_date", "event_type"]].assign(_row=e.index[ok.to_numpy()])
    seq = seq.sort_values(["patient_id", "event_date", "_row"], kind="stable")
    same_pid = (seq["patient_id"] == seq["patient_id"].shift()).to_numpy()
    gap = (seq["event_date"] - seq["event_date"].shift()).dt.days.to_numpy()
    prev_row = seq["_row"].shift().to_numpy()
    same_day = same_pid & (gap == 0)
    # the window rule over the first event of each day (same-day repeats are BM101): BM102 flags exactly the
    # events that the skeletal morbidity window does not count, with the gap to the previous *counted* event
    day_seq = seq.loc[~same_day]
    day_no = (day_seq["event_date"] - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    counted = counted_events(day_seq["patient_id"].to_numpy(), day_no, WINDOW_DAYS)
    last_counted = np.maximum.accumulate(np.where(counted, np.arange(len(counted)), -1))
    near = ~counted
    dgap = day_no - day_no[last_counted]
    dprev = day_seq["_row"].to_numpy()[last_counted]

    if same_day.any():
        rows = seq["_row"].to_numpy()[same_day]
        msgs = ("another skeletal event on " + _fmt(seq["event_date"][same_day]) + " in row "
                + pd.Series(prev_row[same_day]).astype("int64").astype(str).to_numpy())
        out.append(issue_frame("BM101-same-day-events", T, rows, seq["patient_id"].to_numpy()[same_day],
                               "event_date", msgs.to_numpy()))
    if near.any():
        rows = day_seq["_row"].to_numpy()[near]
        out.append(issue_frame("BM102-events-within-21-days", T, rows, day_seq["patient_id"].to_numpy()[near],
                               "event_date", window_messages(dgap[near], dprev[near])))
    return out


def window_messages(gap, counted_row) -> np.ndarray:
    """The texts of BM102: the gap in days to the patient's previous counted event and its file row."""
    return (pd.Series(gap).astype("int64").astype(str) + " days after the counted event in row "
            + pd.Series(counted_row).astype("int64").astype(str)).to_numpy()


def run_all(p: pd.DataFrame, e: pd.DataFrame, absent: dict, read_issues: pd.DataFrame) -> pd.DataFrame:
    unparsed = unparsed_rows(p, e, read_issues)
    found = [read_issues]
    found += required_values(p, e, absent, read_issues, unparsed)
    found += domain_checks(p, e)
    found += unit_checks(p)
    checked = concat_issues(patient_rules(p) + event_rules(p, e))
    found.append(_unchecked(checked, p, unparsed))
    return concat_issues(found)
