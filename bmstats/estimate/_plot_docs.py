"""Docstrings of the ``.plot`` methods that several results share (what ``help(result.plot)`` shows).

Each is numpydoc: ``ax``, then every keyword of the figure function the method delegates to, with its default;
``tests/test_plot_docs.py`` keeps the lists equal to the figure functions' signatures.
"""
from __future__ import annotations

_FOREST = """
Drawn by :func:`bmstats.report.figures.plot_forest`, which takes ``ax`` and the keywords below.

Parameters
----------
ax : matplotlib.axes.Axes, optional
    Draw into this axes (a picture of several parts is laid out inside its area); a new figure when None.
xlabel : str, optional
    Label of the ratio axis (default: the ratio's name, e.g. 'HR (95% CI, log scale)').
title : str, optional
    Figure title.
width : {'single', 'double'} or float, default 'double'
    Journal column width of the figure, or its width in inches.
colors : sequence of str, optional
    Marker colours, one per model.
decimals : int, default 2
    Decimals of the ratios and limits written beside the plot.
xlim : tuple of float, optional
    Limits of the ratio axis (log scale).
**table_kw
    Passed on to :func:`bmstats.regression_table` (``labels``, ``level_labels``, ``ratio_label``,
    ``title``, ``footnotes``).

Returns
-------
matplotlib.figure.Figure
    The figure drawn (that of ``ax`` when given).
"""

_CUMULATIVE_INCIDENCE = """
Drawn by :func:`bmstats.report.figures.plot_cumulative_incidence`, which takes ``ax`` and the keywords below.

Parameters
----------
ax : matplotlib.axes.Axes, optional
    Draw into this axes (a picture of several parts is laid out inside its area); a new figure when None.
cause : int, default 1
    The cause drawn per group (colour = group).
causes : sequence of int, optional
    Several causes drawn (line style = cause); with ``stacked`` the causes stacked (default 1 and 2).
stacked : bool, default False
    Stack the causes' incidences as areas, one panel per group: the top edge is the probability of any
    event.
risk_table : bool, optional
    Number at risk under the time axis (default: yes without ``ax``).
cumulative_events : bool, default True
    Cumulative numbers of events in the risk table.
conf_int : bool, optional
    Confidence bands (default: yes for up to a few groups).
ticks : sequence of float, optional
    Time axis ticks (and the times of the risk table).
xmax : float, optional
    End of the time axis.
ymax : float, optional
    Top of the y axis.
xlabel : str, optional
    Time axis label (default: the unit and origin of the endpoint, e.g. 'Years since bone metastasis',
    for data from ``Cohort.endpoint``; else 'Time').
ylabel : str, default 'Cumulative incidence'
    Y axis label.
title : str, optional
    Figure title.
labels : mapping, optional
    Display names of the groups.
cause_labels : mapping, optional
    Display names of the causes.
legend_title : str, optional
    Legend heading.
percent : bool, default False
    Y axis in percent.
p_value : float, optional
    A p-value to print (instead of the one the result carries).
width : {'single', 'double'} or float, optional
    Journal column width of the figure, or its width in inches (default: single, double for stacked
    panels).
colors : sequence of str, optional
    Line or marker colours, one per group (or model).

Returns
-------
matplotlib.figure.Figure
    The figure drawn (that of ``ax`` when given).
"""


def forest_doc(what: str) -> str:
    """The docstring of a model's ``.plot``: a forest plot of ``what`` (e.g. "hazard ratios")."""
    return f"Forest plot of the {what} with their confidence limits.\n" + _FOREST


def cumulative_incidence_doc(what: str) -> str:
    """The docstring of a ``.plot`` drawing cumulative incidence curves of ``what``."""
    return f"{what}.\n" + _CUMULATIVE_INCIDENCE
