"""The canonical cohort schema: the ``patients`` and ``skeletal_events`` tables (docs/cohort.md documents them).

Every column has a kind (how it is stored), an optional code set and a one-line meaning; docs/cohort.md
shows the same table.  Kinds and their pandas dtypes:

- ``id``: text (``object``), never converted to a number (leading zeros matter);
- ``date``: ``datetime64[ns]``, read from ISO ``YYYY-MM-DD`` unless the mapping declares another format;
- ``number``: ``float64``;  ``integer``: nullable ``Int64``;
- ``code``: a pandas ``category`` whose categories are the code set in the schema's order (so the first
  code is the usual reference level of a model and tables list groups in clinical order); values outside
  the set are kept as further categories after the schema's codes and flagged by validation, never guessed;
- ``boolean``: nullable ``boolean`` from ``true``/``false``.

Number columns have a unit (``Column.unit``); a site's column in another unit is scaled by the mapping's
``multiply``.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

ROW = "row"
"""Name of the index of the canonical tables: the row number the file shows in a spreadsheet (the header is
row 1, the first data row is row 2).  DataFrames given directly are numbered as if written to CSV."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id | date | number | integer | code | boolean
    meaning: str
    codes: tuple = ()
    required: bool = False  # a value must be present in every row
    unit: str = ""  # number and integer columns: the unit of the values


SUBTYPES = ("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC", "unknown")
RECEPTOR = ("positive", "negative", "unknown")
EVENT_TYPES = (
    "pathologic_fracture",
    "spinal_cord_compression",
    "radiation_to_bone",
    "surgery_to_bone",
    "hypercalcaemia",
)
BTA_TYPES = ("none", "zoledronic_acid", "pamidronate", "ibandronate", "clodronate", "denosumab")

PATIENT_COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "id", "patient identifier, unique in the patients table", required=True),
    Column("dx_date", "date", "date of breast cancer diagnosis (the usual time origin)", required=True),
    Column("age", "number", "age at diagnosis, years", unit="years"),
    Column("menopausal", "code", "menopausal status at diagnosis", ("pre", "post", "unknown")),
    Column("er", "code", "oestrogen receptor status", RECEPTOR),
    Column("pr", "code", "progesterone receptor status", RECEPTOR),
    Column("her2", "code", "HER2 status", RECEPTOR),
    Column("subtype", "code", "subtype; derived from er/pr/her2 when absent (HR+ = ER or PR positive)", SUBTYPES),
    Column("grade", "integer", "histological grade", (1, 2, 3), unit="grade (1-3)"),
    Column("tumor_size_mm", "number", "largest diameter of the primary tumour, mm", unit="mm"),
    Column("nodes_positive", "integer", "number of positive axillary lymph nodes", unit="nodes"),
    Column("histology", "code", "histological type", ("ductal", "lobular", "other")),
    Column("stage", "code", "stage at diagnosis", ("I", "II", "III", "IV")),
    Column("bm_date", "date", "date of first bone metastasis; empty if none"),
    Column("visceral_met_date", "date", "date of first visceral metastasis; empty if none"),
    Column("bta_type", "code", "bone-targeted therapy", BTA_TYPES),
    Column("bta_start_date", "date", "start of bone-targeted therapy; empty if none"),
    Column("last_fu_date", "date", "date of last follow-up (the date of death for the dead)", required=True),
    Column("death_date", "date", "date of death; empty if alive at last follow-up"),
    Column("cause_of_death", "code", "cause of death; empty if alive", ("breast_cancer", "other", "unknown")),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "id", "patient identifier (must be in the patients table)", required=True),
    Column("event_date", "date", "date of the skeletal-related event", required=True),
    Column("event_type", "code", "kind of skeletal-related event", EVENT_TYPES, required=True),
    Column("symptomatic", "boolean", "whether the event was symptomatic (true/false)"),
)

TABLES = {"patients": PATIENT_COLUMNS, "skeletal_events": EVENT_COLUMNS}
DATE_COLUMNS = tuple(c.name for c in PATIENT_COLUMNS if c.kind == "date")
CODE_COLUMNS = {table: tuple(c.name for c in cols if c.kind == "code") for table, cols in TABLES.items()}


def columns(table: str) -> dict[str, Column]:
    return {c.name: c for c in TABLES[table]}


def empty_frame(table: str) -> pd.DataFrame:
    """A canonical table with no rows (e.g. a cohort read without a skeletal-events file)."""
    data = {c.name: pd.Series(dtype=dtype_of(c)) for c in TABLES[table]}
    frame = pd.DataFrame(data)
    frame.index = pd.Index([], dtype="int64", name=ROW)
    return frame


def dtype_of(column: Column):
    if column.kind == "code":
        return pd.CategoricalDtype(list(column.codes))
    return {
        "id": "object",
        "date": "datetime64[ns]",
        "number": "float64",
        "integer": "Int64",
        "boolean": "boolean",
    }[column.kind]


def as_coded(values: pd.Series, column: Column) -> pd.Series:
    """``values`` (text) as the column's categorical: the schema's codes in order, then any other value
    found (sorted), so nothing is lost and validation can still flag it."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    codes = [str(c) for c in column.codes]
    extra = sorted(set(values.dropna().astype(str).unique()) - set(codes))
    return pd.Series(pd.Categorical(values.map(str, na_action="ignore"), categories=codes + extra),
                     index=values.index, name=values.name)


def schema_table() -> pd.DataFrame:
    """The documented schema as one tidy table: table, column, type, codes, unit, required, meaning."""
    rows = [
        (table, c.name, c.kind, ", ".join(map(str, c.codes)), c.unit, c.required, c.meaning)
        for table, cols in TABLES.items()
        for c in cols
    ]
    return pd.DataFrame(rows, columns=["table", "column", "type", "codes", "unit", "required", "meaning"])
