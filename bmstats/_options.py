"""``bm.options``: package-wide settings a user may change at run time.

``bm.options.display.figures`` (default True): results show a small inline SVG picture in notebooks;
``bm.options.display.times`` (default None): the times at which curves are summarised (None: a few round
times chosen from the follow-up); ``bm.options.display.max_rows`` (default 12): rows of a frame shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DisplayOptions:
    """How results show in notebooks (``bm.options.display``); each option is checked when set.

    Parameters
    ----------
    figures : bool, default True
        Show a small inline SVG picture.
    times : list of float, optional
        Times at which curves are summarised (None: a few round times from the follow-up).
    max_rows : int, default 12
        Rows of a frame shown.
    """
    figures: bool = True
    times: list[float] | None = None
    max_rows: int = 12

    def __setattr__(self, name: str, value) -> None:
        if name not in ("figures", "times", "max_rows"):
            raise AttributeError(f"bm.options.display has no option {name!r}; options: figures, times, max_rows")
        if name == "figures" and not isinstance(value, bool):
            raise TypeError(f"bm.options.display.figures must be True or False, got {value!r}")
        if name == "max_rows" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise TypeError(f"bm.options.display.max_rows must be a positive integer, got {value!r}")
        if name == "times" and value is not None:
            try:
                value = [float(t) for t in value]
            except (TypeError, ValueError):
                raise TypeError(f"bm.options.display.times must be None or a list of numbers, got {value!r}") from None
            if not value or any(t != t or t < 0 for t in value):
                raise TypeError(f"bm.options.display.times must be non-negative numbers, got {value!r}")
        object.__setattr__(self, name, value)


@dataclass
class Options:
    """Package-wide settings a user may change at run time, reached as ``bm.options``.

    Parameters
    ----------
    display : DisplayOptions
        How results show in notebooks.

    Attributes
    ----------
    display : DisplayOptions
        ``bm.options.display.figures`` (show a small inline SVG), ``.times`` (times at which curves are
        summarised; None chooses round times), ``.max_rows`` (rows of a frame shown).
    """
    display: DisplayOptions = field(default_factory=DisplayOptions)


options = Options()
