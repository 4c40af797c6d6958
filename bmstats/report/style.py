"""Figure style: Okabe-Ito colour-blind-safe palette, journal column widths, fonts and deterministic output.

Okabe M, Ito K. Color Universal Design (CUD): how to make figures and presentations that are friendly to
colorblind people. 2008.  Widths follow the common single (3.5 in, ~89 mm) and double (7.2 in, ~183 mm)
column sizes of medical journals.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib as mpl
import seaborn as sns

OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: weak on white)
)
SINGLE_COLUMN = 3.5  # inches
DOUBLE_COLUMN = 7.2
DPI = 300
HASH_SALT = "bmstats"
LINESTYLES = ("-", "--", ":", "-.")


def column_width(width: str | float) -> float:
    """``"single"`` -> 3.5 in, ``"double"`` -> 7.2 in, or a number of inches."""
    if isinstance(width, (int, float)):
        return float(width)
    try:
        return {"single": SINGLE_COLUMN, "double": DOUBLE_COLUMN}[width]
    except KeyError:
        raise ValueError(f"width must be 'single', 'double' or inches, got {width!r}") from None


def palette(n: int) -> list[str]:
    """``n`` Okabe-Ito colours (cycled beyond eight)."""
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(n)]


RC = {
    "font.family": "DejaVu Sans",
    "font.size": 7,
    "axes.titlesize": 8,
    "axes.labelsize": 7,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "lines.linewidth": 1.1,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "svg.hashsalt": HASH_SALT,
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "path.simplify": False,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The bmstats look (seaborn 'ticks' plus journal font sizes) for the figures drawn inside."""
    with mpl.rc_context(sns.axes_style("ticks")), mpl.rc_context(RC):
        yield
