"""The validation rules (catalogue in :mod:`bmstats.cohort.issues`), each a vectorised check.

Per-column domain checks (codes, plausible ranges) run through a pandera schema; the cross-column and
cross-table rules (dates in order, events against patients) are ours.  Every check returns a tidy issue
frame naming the rule, the table, the file row and the patient.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats.cohort import schema
from bmstats.cohort.issues import concat_issues, empty_issues, issue_frame

WINDOW_DAYS = 21
DRUGS = tuple(b for b in schema.BTA_TYPES if b != "none")

# column -> (rule, check kind, argument); the range limits are the ones the rule explanations state
_DOMAIN = {
    "age": ("BM017-plausible-age", "range", (15, 110)),
    "tumor_size_mm": ("BM018-plausible-tumor-size", "range", (0, 300)),
    "nodes_positive": ("BM019-plausible-nodes", "range", (0, 100)),
    "grade": ("BM020-plausible-grade", "isin", (1, 2, 3)),
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


def required_values(p: pd.DataFrame, e: pd.DataFrame, absent: dict, read_issues: pd.DataFrame) -> list[pd.DataFrame]:
    """BM004: a value in every row of the required columns (absent columns are BM003, bad cells BM005/6)."""
    out = []
    for table, frame in (("patients", p), ("skeletal_events", e)):
        for col in schema.TABLES[table]:
            if not col.required or col.name in absent.get(table, ()):
                continue
            na = frame[col.name].isna().to_numpy()
            if not na.any():
                continue
            bad_cells = read_issues.loc[(read_issues["table"] == table) & (read_issues["column"] == col.name), "row"]
            na &= ~frame.index.isin(bad_cells.to_numpy())
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

    out.append(_emit("BM021-subtype-receptors", T, p, subtype_contradicts(p), "subtype",
                     lambda s: "subtype '" + s["subtype"].astype(str) + "' contradicts er/pr/her2 = "
                     + s["er"].fillna("").astype(str) + "/" + s["pr"].fillna("").astype(str) + "/"
                     + s["her2"].fillna("").astype(str)))

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
    # the gap to the previous *day* with an event (same-day repeats do not restart the window)
    first_of_day = ~same_day
    day_seq = seq.loc[first_of_day]
    dgap = (day_seq["event_date"] - day_seq["event_date"].shift()).dt.days.to_numpy()
    dsame = (day_seq["patient_id"] == day_seq["patient_id"].shift()).to_numpy()
    near = dsame & (dgap >= 1) & (dgap <= WINDOW_DAYS)
    dprev = day_seq["_row"].shift().to_numpy()

    if same_day.any():
        rows = seq["_row"].to_numpy()[same_day]
        msgs = ("another skeletal event on " + _fmt(seq["event_date"][same_day]) + " in row "
                + pd.Series(prev_row[same_day]).astype("int64").astype(str).to_numpy())
        out.append(issue_frame("BM101-same-day-events", T, rows, seq["patient_id"].to_numpy()[same_day],
                               "event_date", msgs.to_numpy()))
    if near.any():
        rows = day_seq["_row"].to_numpy()[near]
        msgs = (pd.Series(dgap[near]).astype("int64").astype(str) + " days after the event in row "
                + pd.Series(dprev[near]).astype("int64").astype(str))
        out.append(issue_frame("BM102-events-within-21-days", T, rows, day_seq["patient_id"].to_numpy()[near],
                               "event_date", msgs.to_numpy()))
    return out


def run_all(p: pd.DataFrame, e: pd.DataFrame, absent: dict, read_issues: pd.DataFrame) -> pd.DataFrame:
    found = [read_issues]
    found += required_values(p, e, absent, read_issues)
    found += domain_checks(p, e)
    found += patient_rules(p)
    found += event_rules(p, e)
    return concat_issues(found)
