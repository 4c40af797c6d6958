"""An engine-held canonical table fetched into pandas with the pandas cohort's dtypes and row index."""
from __future__ import annotations

import pandas as pd

from bmstats.cohort import schema


def fetch_table(tables, table: str, limit: int | None = None) -> pd.DataFrame:
    """The canonical ``table`` as the pandas reader holds it: indexed by ``row``, dates datetime64[ns],
    integers Int64, booleans boolean, codes categoricals (schema codes first), ids text.

    Parameters
    ----------
    tables : EngineTables
        The cohort's engine tables.
    table : {"patients", "skeletal_events"}
        Which table.
    limit : int, optional
        Only the first rows (for a display).

    Returns
    -------
    pandas.DataFrame
        The table.
    """
    view = tables.view(table)
    sql = f'SELECT * FROM "{view}" ORDER BY row' + (f" LIMIT {int(limit)}" if limit is not None else "")
    raw = tables.fetch(sql)
    spec = schema.columns(table)
    index = pd.Index(raw["row"].to_numpy(dtype="int64"), name=schema.ROW)
    raw.index = index
    out = {}
    for name in raw.columns:
        if name == "row":
            continue
        s = raw[name]
        col = spec.get(name)
        if col is None:
            out[name] = s.astype(object).where(s.notna(), None) if s.dtype == object else s
        elif col.kind == "date":
            out[name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.kind == "number":
            out[name] = s.astype("float64")
        elif col.kind == "integer":
            out[name] = s.astype("Int64")
        elif col.kind == "boolean":
            out[name] = s.astype("boolean")
        elif col.kind == "code":
            out[name] = schema.as_coded(s.astype(object).where(s.notna(), None), col)
        else:
            out[name] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out, index=index)
