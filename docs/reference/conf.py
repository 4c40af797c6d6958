"""Sphinx configuration of the API reference (``make docs``; output in docs/_build/html).

The reference is generated from the package itself: every name of ``bmstats._PUBLIC`` (what
``import bmstats as bm`` offers), the classes they are, and the result types the estimators return. A public
name added to ``_PUBLIC`` appears here without editing any page; numpydoc checks its docstring and, as the
build runs with -W, a missing docstring or an undocumented parameter fails the build.
"""
from __future__ import annotations

import inspect
import re
import sys
import typing
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import bmstats  # noqa: E402

project = "bmstats"
author = "bmstats developers"
release = version = bmstats.__version__
extensions = ["sphinx.ext.autodoc", "numpydoc"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
autodoc_typehints = "none"  # types are written in the numpydoc sections
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# a public function or method without a docstring (GL08), with an undocumented parameter (PR01) or a
# documented parameter it does not have (PR02), or returning a value without a Returns section (RT01)
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01"}
# result types and their members are documented but not validated member by member
numpydoc_validation_exclude: set[str] = set()

SECTIONS = {
    "bmstats.cohort": "Cohort data",
    "bmstats.estimate": "Estimators",
    "bmstats.simulation": "Simulation",
    "bmstats.report": "Reports",
    "bmstats._warnings": "Warnings",
}


def _section(module: str) -> str:
    return next((title for prefix, title in SECTIONS.items() if module.startswith(prefix)), "Other")


def _result_types() -> list[type]:
    """Classes that the public functions are annotated to return, in the package's own modules."""
    found: dict[str, type] = {}
    for name in sorted(bmstats._PUBLIC):
        obj = getattr(bmstats, name)
        if inspect.isclass(obj) or not callable(obj):
            continue
        try:
            hint = typing.get_type_hints(obj).get("return")
        except (NameError, TypeError, AttributeError):  # an annotation that does not resolve: skip it
            continue
        for cls in typing.get_args(hint) or (hint,):
            if inspect.isclass(cls) and cls.__module__.startswith("bmstats.") and cls.__name__ not in bmstats._PUBLIC:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


def write_api_page() -> None:
    groups: dict[str, list[str]] = {title: [] for title in [*SECTIONS.values(), "Other"]}
    for name in sorted(bmstats._PUBLIC, key=str.lower):
        obj = getattr(bmstats, name)
        if inspect.isclass(obj):
            entry = f".. autoclass:: bmstats.{name}\n   :members:\n"
        elif inspect.isroutine(obj):
            entry = f".. autofunction:: bmstats.{name}\n"
        else:  # a settings object such as bm.options: document its class
            cls = type(obj)
            entry = (f"``bm.{name}`` is an instance of:\n\n"
                     f".. autoclass:: {cls.__module__}.{cls.__qualname__}\n   :members:\n")
        groups[_section(bmstats._PUBLIC[name])].append(entry)
    lines = ["API reference", "=============", "",
             "Every name below is reached as ``bm.<name>`` after ``import bmstats as bm``.", ""]
    for title, entries in groups.items():
        if entries:
            lines += [title, "-" * len(title), "", *entries, ""]
    results = _result_types()
    if results:
        lines += ["Result types", "------------", "",
                  "What the estimators return: frozen objects that hand out copies.", ""]
        for cls in results:
            qual = f"{cls.__module__}.{cls.__qualname__}"
            numpydoc_validation_exclude.add("^" + re.escape(qual) + r"($|\.)")
            lines += [f".. autoclass:: {qual}\n   :members:\n"]
    (HERE / "api.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")


write_api_page()
