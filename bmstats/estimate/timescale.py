"""The time scale of a frame made by the cohort layer (unit and origin), carried onto curve results.

``Cohort.endpoint``, ``Cohort.recurrent_events`` and ``Cohort.multistate`` record their ``unit`` and
``origin`` in ``frame.attrs``; an estimator given such a frame copies them into its table's ``attrs``
(``time_unit``, ``time_origin``, ``time_label``), so that a figure's time axis reads "Years since bone
metastasis" instead of "Time".  Frames from elsewhere carry nothing and the axis says "Time".
"""
from __future__ import annotations

from typing import Any

_ORIGINS = {
    "diagnosis": "diagnosis",
    "bone_metastasis": "bone metastasis",
    "visceral_metastasis": "visceral metastasis",
    "skeletal_event": "the first skeletal event",
    "death": "death",
}


def time_label(unit: str | None, origin: str | None) -> str | None:
    """``"Years since bone metastasis"`` from unit ``"years"`` and origin ``"bone_metastasis"``."""
    if not unit:
        return None
    text = str(unit).capitalize()
    return f"{text} since {_ORIGINS.get(origin, str(origin).replace('_', ' '))}" if origin else text


def time_attrs(data: Any) -> dict:
    """``{time_unit, time_origin, time_label}`` from a cohort frame's attrs; ``{}`` for other data."""
    attrs = getattr(data, "attrs", None)
    if not isinstance(attrs, dict):
        return {}
    for key in ("endpoint", "recurrent", "multistate"):
        spec = attrs.get(key)
        if isinstance(spec, dict) and spec.get("unit"):
            unit, origin = spec["unit"], spec.get("origin")
            return {"time_unit": unit, "time_origin": origin, "time_label": time_label(unit, origin)}
    return {}


def axis_label(result: Any, xlabel: str | None) -> str:
    """The time axis label: ``xlabel`` if given, else the result's time label, else ``"Time"``."""
    if xlabel is not None:
        return xlabel
    table = getattr(result, "_table", None)
    attrs = getattr(table, "attrs", None) or {}
    return attrs.get("time_label") or "Time"
