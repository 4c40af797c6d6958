"""Every public name has a numpydoc docstring with its sections, so that the API reference (make docs) is
complete: functions Parameters, Returns and References; estimators also the R function they match; public
classes Parameters or Attributes; their public methods Parameters and Returns where they apply."""
import inspect
import re
import typing

import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

import bmstats as bm


def _objects():
    for name in sorted(bm._PUBLIC):
        obj = getattr(bm, name)
        yield name, obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj)


def _takes_arguments(func) -> bool:
    params = list(inspect.signature(func).parameters.values())
    return any(p.name not in ("self", "cls") for p in params)


def _returns_something(func) -> bool:
    hints = typing.get_type_hints(func) if getattr(func, "__annotations__", None) else {}
    return hints.get("return", object) is not type(None)


@pytest.mark.parametrize("name, obj", list(_objects()), ids=[n for n, _ in _objects()])
def test_public_name_has_numpydoc_sections(name, obj):
    if inspect.isclass(obj):
        doc = ClassDoc(obj)
        assert doc["Summary"], f"bm.{name}: no docstring"
        assert doc["Parameters"] or doc["Attributes"], f"bm.{name}: no Parameters or Attributes section"
        return
    doc = FunctionDoc(obj)
    missing = [s for s in ("Parameters", "Returns", "References") if not doc[s]]
    if not _takes_arguments(obj):
        missing = [s for s in missing if s != "Parameters"]
    assert not missing, f"bm.{name}: numpydoc section(s) {missing} missing"
    documented = {n for p in doc["Parameters"] for n in p.name.replace("*", "").split(", ")}
    params = {p.name for p in inspect.signature(obj).parameters.values()}
    assert params <= documented, f"bm.{name}: parameter(s) {sorted(params - documented)} not documented"
    if bm._PUBLIC[name].startswith("bmstats.estimate."):
        text = inspect.getdoc(obj)
        assert re.search(r"::|\bR\b", text), f"bm.{name}: does not name the R function it matches"


def _methods():
    for name in sorted(bm._PUBLIC):
        cls = getattr(bm, name)
        if not inspect.isclass(cls) or issubclass(cls, Warning):
            continue
        for attr, member in vars(cls).items():
            func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            if attr.startswith("_") or not inspect.isfunction(func):
                continue
            yield f"{name}.{attr}", func


@pytest.mark.parametrize("name, func", list(_methods()), ids=[n for n, _ in _methods()])
def test_public_method_has_numpydoc_sections(name, func):
    doc = FunctionDoc(func)
    assert doc["Summary"], f"{name}: no docstring"
    if _takes_arguments(func):
        assert doc["Parameters"], f"{name}: no Parameters section"
    if _returns_something(func):
        assert doc["Returns"], f"{name}: no Returns section"
