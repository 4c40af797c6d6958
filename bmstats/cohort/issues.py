"""The rule catalogue (id, severity, one-line explanation) and the tidy frame that holds found issues."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ISSUE_COLUMNS = ["rule", "severity", "table", "row", "patient_id", "column", "message"]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # "error" | "warning"
    explanation: str


_CATALOGUE = [
    ("BM001-unique-patient-id", "error", "every patient_id appears only once in the patients table"),
    ("BM002-event-patient-known", "error", "every skeletal event's patient_id is in the patients table"),
    ("BM003-required-column", "error",
     "required columns are present (patients: patient_id, dx_date, last_fu_date; "
     "skeletal_events: patient_id, event_date, event_type)"),
    ("BM004-required-value", "error", "required columns have a value in every row"),
    ("BM005-value-type", "error", "numbers, whole numbers and true/false values parse as such"),
    ("BM006-date-parse", "error",
     "dates parse in the declared format (ISO YYYY-MM-DD unless the mapping says otherwise); when most dates of "
     "a column fail, one issue names the format they look like"),
    ("BM007-code-in-set", "error", "coded columns hold one of their codes (see the schema)"),
    ("BM008-followup-after-diagnosis", "error", "last_fu_date is on or after dx_date"),
    ("BM009-bm-after-diagnosis", "error", "bm_date is on or after dx_date"),
    ("BM010-bm-before-followup-end", "error", "bm_date is on or before last_fu_date"),
    ("BM011-dates-in-followup", "error", "visceral_met_date and bta_start_date lie between dx_date and last_fu_date"),
    ("BM012-event-after-bm", "error", "skeletal events are on or after the patient's bm_date"),
    ("BM013-event-before-followup-end", "error", "skeletal events are on or before the patient's last_fu_date"),
    ("BM014-nothing-after-death", "error",
     "no metastasis, therapy or skeletal-event date is after death_date (last follow-up: BM015)"),
    ("BM015-death-is-last-followup", "error", "for patients who died, death_date equals last_fu_date"),
    ("BM016-cause-without-death", "error", "cause_of_death is given only for patients with a death_date"),
    ("BM017-plausible-age", "error", "age at diagnosis is between 15 and 110 years"),
    ("BM018-plausible-tumor-size", "error", "tumor_size_mm is between 0 and 300"),
    ("BM019-plausible-nodes", "error", "nodes_positive is between 0 and 100"),
    ("BM020-plausible-grade", "error", "grade is 1, 2 or 3"),
    ("BM021-subtype-receptors", "error", "subtype does not contradict er/pr/her2 (HR+ = ER or PR positive)"),
    ("BM022-events-need-bm", "error", "skeletal events occur only for patients with a bm_date"),
    ("BM023-no-patients", "error", "the patients table has at least one row"),
    ("BM101-same-day-events", "warning",
     "a patient has several skeletal events on one day (one event in recurrent-event analyses)"),
    ("BM102-events-within-21-days", "warning",
     "a skeletal event 1-20 days after the patient's previous counted one (the same 21-day skeletal morbidity "
     "window: not a new event)"),
    ("BM103-bta-before-bm", "warning",
     "bone-targeted therapy starts before bone metastasis, or without one (adjuvant use?)"),
    ("BM104-death-cause-missing", "warning",
     "a patient who died has no cause_of_death (use 'unknown' when it is not known)"),
    ("BM105-extra-column", "warning", "a column of the file is not in the canonical schema (kept as it is)"),
    ("BM106-bta-type-date", "warning", "bta_type names a drug but bta_start_date is empty, or the reverse"),
    ("BM107-mapping-value-unused", "warning", "a recoding key of the mapping's values matches no cell of its column"),
    ("BM108-unit-suspect", "warning", "a number column's values look like another unit (e.g. tumour size in cm)"),
]

RULES: dict[str, Rule] = {rid: Rule(rid, sev, text) for rid, sev, text in _CATALOGUE}


def rules_table() -> pd.DataFrame:
    """Every rule with its severity and one-line explanation (docs/cohort.md shows the same)."""
    return pd.DataFrame([(r.id, r.severity, r.explanation) for r in RULES.values()],
                        columns=["rule", "severity", "explanation"])


def empty_issues() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in ISSUE_COLUMNS})


# every issue is one line of bounded length, whatever the cells held (a quoted newline, a 5 MB cell)
MAX_ID_SHOWN, MAX_COLUMN_SHOWN, MAX_MESSAGE_SHOWN = 40, 60, 400
_ESCAPES = ({i: f"\\x{i:02x}" for i in [*range(32), *range(127, 160)]} | {i: f"\\u{i:04x}" for i in (0x2028, 0x2029)}
            | {9: "\\t", 10: "\\n", 13: "\\r"})


def one_line(values: pd.Series, limit: int) -> pd.Series:
    """Text with control characters escaped (a newline shows as ``\\n``), cut to ``limit`` characters with
    an ellipsis; what goes into an issue's patient_id, column and message."""
    text = values.astype(str).str.slice(0, limit + 1).str.translate(_ESCAPES)
    long = text.str.len() > limit
    return text.where(~long, text.str.slice(0, limit - 1) + "\u2026")


def issue_frame(rule: str, table: str, rows, patient_ids, column: str, messages) -> pd.DataFrame:
    """Issues of one rule: ``rows``/``patient_ids``/``messages`` are aligned arrays (or a scalar message).

    patient_id, column and message are made single-line and bounded here (:func:`one_line`), the one place
    every issue passes through, so no report line can break or balloon."""
    rows = np.asarray(rows, dtype="int64")
    n = len(rows)
    if n == 0:
        return empty_issues()
    if np.isscalar(patient_ids):
        pids = np.full(n, patient_ids, dtype=object)
    else:
        pids = np.asarray(patient_ids, dtype=object)
    pids = np.where(pd.isna(pids), "", pids)
    msgs = np.full(n, messages, dtype=object) if isinstance(messages, str) else np.asarray(messages, dtype=object)
    return pd.DataFrame(
        {
            "rule": rule,
            "severity": RULES[rule].severity,
            "table": table,
            "row": rows,
            "patient_id": one_line(pd.Series(pids, dtype=object), MAX_ID_SHOWN).to_numpy(dtype=object),
            "column": one_line(pd.Series([column]), MAX_COLUMN_SHOWN).iloc[0],
            "message": one_line(pd.Series(msgs, dtype=object), MAX_MESSAGE_SHOWN).to_numpy(dtype=object),
        }
    )


def concat_issues(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_issues()
    out = pd.concat(frames, ignore_index=True)
    # stable order: by table (patients first), row, then rule id
    order = out["table"].map({"patients": 0, "skeletal_events": 1}).fillna(2)
    out = out.assign(_t=order).sort_values(["_t", "row", "rule"], kind="stable").drop(columns="_t")
    return out.reset_index(drop=True)[ISSUE_COLUMNS]
