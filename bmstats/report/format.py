"""Journal number conventions: p-values, estimates with confidence intervals, counts with percentages.

One place decides how numbers look so that every table and figure of a report agrees:
``p < 0.001`` below a threshold, a fixed number of decimals chosen per quantity, ``"1 (ref)"`` for a
reference level, ``"12.3 (10.1-14.8)"`` for a percentage with its 95% confidence interval.  Missing values
render as an en dash (no estimate) rather than ``nan``.
"""
from __future__ import annotations

import math
from numbers import Real

DASH = "\u2013"  # en dash: missing value in a table cell
REF = "1 (ref)"


def _missing(x: object) -> bool:
    if x is None:
        return True
    try:
        return bool(math.isnan(float(x)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def fmt_num(x: object, decimals: int = 2, thousands: bool = False) -> str:
    """A number with a fixed number of decimals (``-0.00`` shown as ``0.00``); missing -> en dash;
    ``thousands=True`` adds a thousands separator (``30,355.9``)."""
    if _missing(x):
        return DASH
    value = float(x)  # type: ignore[arg-type]
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    text = f"{value:,.{decimals}f}" if thousands else f"{value:.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    return text


def fmt_int(x: object) -> str:
    """A count with a thousands separator (``1,234``)."""
    if _missing(x):
        return DASH
    return f"{int(round(float(x))):,}"  # type: ignore[arg-type]


def fmt_p(p: object, decimals: int = 3, threshold: float = 0.001) -> str:
    """A p-value with fixed ``decimals``: ``< 0.001`` below ``threshold`` and ``> 0.999`` at the top."""
    if _missing(p):
        return DASH
    value = float(p)  # type: ignore[arg-type]
    digits = max(decimals, -math.floor(math.log10(threshold)))
    if value < threshold:
        return f"< {threshold:.{digits}f}"
    upper = 1 - 10.0 ** (-digits)
    if value > upper:
        return f"> {upper:.{digits}f}"
    return f"{value:.{digits}f}"


def fmt_ci(estimate: object, lower: object, upper: object, decimals: int = 2, sep: str = DASH) -> str:
    """``estimate (lower-upper)`` with an en dash between the limits."""
    if _missing(estimate):
        return DASH
    return f"{fmt_num(estimate, decimals)} ({fmt_num(lower, decimals)}{sep}{fmt_num(upper, decimals)})"


def fmt_pct_ci(estimate: object, lower: object, upper: object, decimals: int = 1) -> str:
    """A proportion in [0, 1] shown as a percentage with its confidence interval: ``12.3 (10.1-14.8)``."""
    scale = [None if _missing(v) else float(v) * 100 for v in (estimate, lower, upper)]  # type: ignore[arg-type]
    return fmt_ci(*scale, decimals=decimals)


def fmt_n_pct(n: object, total: object, decimals: int = 1) -> str:
    """``n (%)`` of a column total; ``0 (0.0)`` for an empty level, en dash for an empty column."""
    if _missing(n):
        return DASH
    total_f = float(total)  # type: ignore[arg-type]
    if total_f <= 0:
        return f"{fmt_int(n)} ({DASH})"
    return f"{fmt_int(n)} ({fmt_num(100 * float(n) / total_f, decimals)})"  # type: ignore[arg-type]


def fmt_mean_sd(mean: object, sd: object, decimals: int = 1) -> str:
    """``mean (SD)``."""
    if _missing(mean):
        return DASH
    return f"{fmt_num(mean, decimals)} ({fmt_num(sd, decimals)})"


def fmt_median_iqr(median: object, q1: object, q3: object, decimals: int = 1) -> str:
    """``median [Q1, Q3]`` (square brackets keep it apart from a confidence interval)."""
    if _missing(median):
        return DASH
    return f"{fmt_num(median, decimals)} [{fmt_num(q1, decimals)}, {fmt_num(q3, decimals)}]"


def decimals_for(values: object, significant: int = 3) -> int:
    """Decimals giving about ``significant`` significant digits for the typical size of ``values``."""
    import numpy as np

    arr = np.asarray(values, dtype=float)
    arr = np.abs(arr[np.isfinite(arr) & (arr != 0)])
    if arr.size == 0:
        return 2
    magnitude = math.floor(math.log10(float(np.median(arr))))
    return int(min(max(significant - 1 - magnitude, 0), 4))


def is_number(x: object) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)
