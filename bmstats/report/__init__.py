"""Data out: tables, figures, renderers and the YAML report builder. The only package that draws.

Submodules load on first use (``bm.report.figures``, ``bm.report.builder`` ...) so that importing bmstats
does not import matplotlib.
"""
from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {
    "builder", "config", "display", "docx_writer", "expressions", "figures", "format", "latex", "style", "table",
    "table_builders",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"bmstats.report.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'bmstats.report' has no attribute {name!r}")
