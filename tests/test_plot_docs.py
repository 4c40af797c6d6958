"""Every public result's ``.plot`` says in ``help()`` what it takes: a numpydoc Parameters section naming ``ax``
and every keyword of the figure function it passes them on to (docs/api.md, Plots)."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest
from numpydoc.docscrape import FunctionDoc

import bmstats

PACKAGES = ("bmstats.estimate", "bmstats.cohort")


def _plot_methods():
    seen = {}
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__ or cls.__name__.startswith("_"):
                    continue
                plot = vars(cls).get("plot")
                if inspect.isfunction(plot):
                    seen[f"{cls.__module__}.{cls.__qualname__}"] = plot
    return seen


METHODS = _plot_methods()


def test_the_scan_finds_the_results_with_a_picture():
    names = {k.rsplit(".", 1)[1] for k in METHODS}
    assert {"KaplanMeier", "CumulativeIncidence", "CoxResult", "FineGrayResult", "MeanCumulativeFunction",
            "RateRegression", "CalibrationResult", "ExclusionLog"} <= names, names
    assert len(METHODS) >= 15


def _figure_function(plot):
    """The function of bmstats.report the one-line delegation calls."""
    m = re.search(r"\b(figures|prediction_figures)\.(plot_\w+)\(", inspect.getsource(plot))
    assert m, f"{plot.__qualname__} does not delegate to bmstats.report"
    module = importlib.import_module(f"bmstats.report.{m.group(1)}")
    return getattr(module, m.group(2))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_plot_documents_ax_and_the_keywords_it_passes_on(name):
    plot = METHODS[name]
    doc = FunctionDoc(plot)
    assert doc["Summary"], f"{name}.plot has no docstring"
    documented = [p.name for p in doc["Parameters"]]
    assert documented and documented[0] == "ax", f"{name}.plot: Parameters must start with ax, got {documented}"
    figure = _figure_function(plot)
    wanted = [p.name for p in inspect.signature(figure).parameters.values() if p.kind is p.KEYWORD_ONLY]
    wanted += [f"**{p.name}" for p in inspect.signature(figure).parameters.values() if p.kind is p.VAR_KEYWORD]
    assert documented[1:] == wanted, f"{name}.plot documents {documented[1:]}, {figure.__name__} takes {wanted}"
    defaults = {p.name: p.default for p in inspect.signature(figure).parameters.values() if p.kind is p.KEYWORD_ONLY}
    for p in doc["Parameters"][1:]:
        if p.name.startswith("**"):
            continue
        default = defaults[p.name]
        said = "optional" if default is None else f"default {default!r}"
        assert p.type.endswith(said), f"{name}.plot: {p.name} : {p.type}, but {figure.__name__} has {p.name}={default!r}"
    assert figure.__name__ in inspect.getdoc(plot)
    assert doc["Returns"], f"{name}.plot: no Returns section"
    assert all(p.desc for p in doc["Parameters"]), f"{name}.plot: a parameter without a description"


def test_help_on_a_result_shows_the_keywords():
    import pydoc

    import pandas as pd

    km = bmstats.kaplan_meier(pd.DataFrame({"t": [1.0, 2.0, 3.0], "e": [1, 0, 1]}), "t", "e")
    shown = pydoc.render_doc(km.plot, renderer=pydoc.plaintext)
    assert "ax : matplotlib.axes.Axes" in shown and "risk_table : bool" in shown and "xlabel : str" in shown


def test_the_table_of_figure_keywords_is_the_signatures():
    from bmstats._plot_docs import FIGURES

    for figure, (module, keywords) in FIGURES.items():
        fn = getattr(importlib.import_module(f"bmstats.report.{module}"), figure)
        params = inspect.signature(fn).parameters.values()
        expected = [(p.name, p.default) for p in params if p.kind is p.KEYWORD_ONLY]
        expected += [(f"**{p.name}", None) for p in params if p.kind is p.VAR_KEYWORD]
        assert list(keywords) == expected, figure
