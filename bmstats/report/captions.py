"""Figure captions written from what a figure actually shows, never from what it was asked for.

The drawing functions of :mod:`bmstats.report.figures` :func:`record` on the figure what they drew (the
number of curves, the number of confidence bands and their level, a p-value, a number-at-risk table);
:func:`curve_caption` reads that record, so a caption says "with 95% confidence bands" only when bands are
on the picture, and says why they are not when the figure leaves them out.
"""
from __future__ import annotations

from typing import Any

_ATTRIBUTE = "_bmstats_drawn"


def record(fig: Any, **facts: Any) -> None:
    """Add ``facts`` (curves, bands, conf_level, p_label, risk_table, ...) to the figure's record."""
    drawn = dict(getattr(fig, _ATTRIBUTE, {}) or {})
    for key, value in facts.items():
        if key in ("curves", "bands") and key in drawn:
            value = drawn[key] + value  # several calls into one figure add up
        drawn[key] = value
    setattr(fig, _ATTRIBUTE, drawn)


def drawn(fig: Any) -> dict:
    """What the drawing functions recorded on ``fig`` (an empty dict for a figure drawn elsewhere)."""
    return dict(getattr(fig, _ATTRIBUTE, {}) or {})


def _level(conf_level: float) -> str:
    pct = 100 * float(conf_level)
    return f"{pct:.0f}%" if pct == round(pct) else f"{pct:g}%"


def band_phrase(fig: Any) -> str:
    """' with 95% confidence band(s)', or a phrase saying that (some) bands are not drawn; '' when the
    figure has no record."""
    d = drawn(fig)
    if "bands" not in d:
        return ""
    curves, bands = int(d.get("curves", 0)), int(d["bands"])
    level = _level(d.get("conf_level", 0.95))
    if bands == 0:
        return f" (confidence bands left out: {curves} curves would overlap)" if d.get("bands_omitted") else ""
    noun = "band" if bands == 1 else "bands"
    if bands < curves:
        return f" with {level} confidence {noun} for {bands} of the {curves} curves"
    return f" with {level} confidence {noun}"


def curve_caption(fig: Any, title: str, what: str, p_phrase: str = "") -> str:
    """'<title>: <what> with 95% confidence bands; <p_phrase>.' from what ``fig`` shows (``p_phrase`` only
    when a p-value is printed on the figure)."""
    d = drawn(fig)
    text = f"{title}: {what}{band_phrase(fig)}"
    if p_phrase and d.get("p_shown", True):
        text += f"; {p_phrase}"
    if d.get("risk_table"):
        text += "; numbers at risk below the time axis"
    return text + "."
