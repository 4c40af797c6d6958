"""The docstrings of the results' ``.plot`` methods (what ``help(result.plot)`` shows), made from one table.

A ``.plot`` is a one-line delegation to a figure function of :mod:`bmstats.report`; its docstring lists ``ax``
and every keyword of that function with its default, in numpydoc form::

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_survival(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The Kaplan-Meier curves", "plot_survival")

The keyword lists are written out here (so that importing a result does not import matplotlib);
``tests/test_plot_docs.py`` keeps each equal to its figure function's signature.  It lives outside
``estimate`` and ``cohort`` so that both layers use it.
"""
from __future__ import annotations

# figure function -> (module in bmstats.report, keywords in signature order with their defaults)
FIGURES: dict[str, tuple[str, tuple[tuple[str, object], ...]]] = {
    "plot_forest": ("figures", (
        ("xlabel", None), ("title", None), ("width", "double"), ("colors", None), ("decimals", 2), ("xlim", None),
        ("**table_kw", None))),
    "plot_mcf": ("figures", (
        ("risk_table", None), ("conf_int", True), ("ticks", None), ("xmax", None), ("xlabel", None),
        ("ylabel", "Mean number of events per patient"), ("title", None), ("labels", None), ("legend_title", None),
        ("p_value", None), ("p_label", "Equal means"), ("width", "single"), ("colors", None))),
    "plot_cumulative_incidence": ("figures", (
        ("cause", 1), ("causes", None), ("stacked", False), ("risk_table", None), ("cumulative_events", True),
        ("conf_int", None), ("ticks", None), ("xmax", None), ("ymax", None), ("xlabel", None),
        ("ylabel", "Cumulative incidence"), ("title", None), ("labels", None), ("cause_labels", None),
        ("legend_title", None), ("percent", False), ("p_value", None), ("width", None), ("colors", None))),
    "plot_survival": ("figures", (
        ("test", None), ("p_value", None), ("risk_table", None), ("cumulative_events", True), ("conf_int", None),
        ("censor_marks", True), ("ticks", None), ("xmax", None), ("xlabel", None), ("ylabel", "Survival probability"),
        ("title", None), ("labels", None), ("legend_title", None), ("percent", False), ("width", "single"),
        ("colors", None))),
    "plot_state_occupation": ("figures", (
        ("width", "single"), ("percent", True), ("xlabel", "Time"), ("ylabel", None), ("labels", None),
        ("title", None), ("colors", None))),
    "plot_schoenfeld": ("figures", (("terms", None), ("width", "double"), ("ncols", None), ("xlabel", "Time"))),
    "plot_proportion": ("figures", (("width", "single"), ("percent", True), ("xlabel", None), ("title", None))),
    "plot_exclusion_flow": ("figures", (
        ("show_empty", False), ("start_label", "Patients in the cohort"), ("final_label", None), ("width", "single"))),
    "plot_calibration": ("prediction_figures", (
        ("width", "single"), ("title", None), ("groups", True), ("histogram", True))),
    "plot_roc": ("prediction_figures", (("time", None), ("width", "single"), ("title", None))),
}

# keyword -> (type, description); (figure, keyword) for what one figure means differently
KEYWORDS: dict[object, tuple[str, str]] = {
    "test": ("result", "A log-rank result (``bm.logrank_test``) whose p-value is printed."),
    "p_value": ("float", "A p-value to print (instead of the one the result carries)."),
    "p_label": ("str", "Text before the p-value, naming the test."),
    "risk_table": ("bool", "Number at risk under the time axis (default: yes without ``ax``)."),
    "cumulative_events": ("bool", "Cumulative numbers of events in the risk table."),
    "conf_int": ("bool", "Confidence bands (default: yes for up to a few groups)."),
    "censor_marks": ("bool", "Ticks at the censoring times."),
    "ticks": ("sequence of float", "Time axis ticks (and the times of the risk table)."),
    "xmax": ("float", "End of the time axis."),
    "ymax": ("float", "Top of the y axis."),
    "xlabel": ("str", "Time axis label (default: the unit and origin of the endpoint, e.g. 'Years since bone "
               "metastasis', for data from ``Cohort.endpoint``; else 'Time')."),
    "ylabel": ("str", "Y axis label."),
    "title": ("str", "Figure title."),
    "labels": ("mapping", "Display names of the groups."),
    "legend_title": ("str", "Legend heading."),
    "percent": ("bool", "Y axis in percent."),
    "width": ("{'single', 'double'} or float", "Journal column width of the figure, or its width in inches."),
    "colors": ("sequence of str", "Line colours, one per group."),
    "cause": ("int", "The cause drawn per group (colour = group)."),
    "causes": ("sequence of int", "Several causes drawn (line style = cause); with ``stacked`` the causes stacked "
               "(default 1 and 2)."),
    "stacked": ("bool", "Stack the causes' incidences as areas, one panel per group: the top edge is the "
                "probability of any event."),
    "cause_labels": ("mapping", "Display names of the causes."),
    "decimals": ("int", "Decimals of the ratios and limits written beside the plot."),
    "xlim": ("tuple of float", "Limits of the ratio axis (log scale)."),
    "groups": ("bool", "Grouped observed-versus-predicted points with their limits."),
    "histogram": ("bool", "A histogram of the predicted risks under the curve."),
    "time": ("float", "The horizon whose ROC curves are drawn (default: the first one scored)."),
    "terms": ("sequence of str", "The terms drawn, one panel each (default: all)."),
    "ncols": ("int", "Panels per row."),
    "show_empty": ("bool", "Also draw the steps that excluded nobody."),
    "start_label": ("str", "Text of the first box."),
    "final_label": ("str", "Text of the last box (default: the patients analysed)."),
    "**table_kw": ("", "Passed on to :func:`bmstats.regression_table` (``labels``, ``level_labels``, "
                   "``ratio_label``, ``title``, ``footnotes``)."),
    ("plot_forest", "xlabel"): ("str", "Label of the ratio axis (default: the ratio's name, e.g. 'HR (95% CI, log "
                                "scale)')."),
    ("plot_forest", "colors"): ("sequence of str", "Marker colours, one per model."),
    ("plot_state_occupation", "xlabel"): ("str", "Time axis label."),
    ("plot_state_occupation", "ylabel"): ("str", "Y axis label (default: probability, in percent with ``percent``)."),
    ("plot_state_occupation", "labels"): ("mapping", "Display names of the states."),
    ("plot_state_occupation", "colors"): ("sequence of str", "Band colours, one per state."),
    ("plot_schoenfeld", "xlabel"): ("str", "Time axis label."),
    ("plot_proportion", "xlabel"): ("str", "Label of the proportion axis."),
    ("plot_proportion", "percent"): ("bool", "Proportions in percent."),
    ("plot_cumulative_incidence", "width"): ("{'single', 'double'} or float", "Journal column width of the figure, "
                                             "or its width in inches (default: single, double for stacked panels)."),
}

_AX = ("ax : matplotlib.axes.Axes, optional\n"
       "    Draw into this axes (a picture of several parts is laid out inside its area); a new figure when None.")


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return ["    " + line for line in textwrap.wrap(text, width)]


def plot_doc(summary: str, figure: str) -> str:
    """The numpydoc docstring of a ``.plot`` that delegates to ``bmstats.report.<module>.<figure>``."""
    module, keywords = FIGURES[figure]
    lines = [summary.rstrip(".") + ".", "",
             f"Drawn by :func:`bmstats.report.{module}.{figure}`, which takes ``ax`` and the keywords below.", "",
             "Parameters", "----------", _AX]
    for name, default in keywords:
        kind, text = KEYWORDS.get((figure, name)) or KEYWORDS[name]
        if name.startswith("**"):
            lines.append(name)
        else:
            lines.append(f"{name} : {kind}, " + ("optional" if default is None else f"default {default!r}"))
        lines += _wrap(text)
    lines += ["", "Returns", "-------", "matplotlib.figure.Figure", "    The figure drawn (that of ``ax`` when given).",
              ""]
    return "\n".join(lines)
