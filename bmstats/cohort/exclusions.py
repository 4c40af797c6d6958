"""The exclusion log of an analysis frame: who was dropped, in which step and why (a STROBE flow).

Steps are applied in order; each removes patients still present for one reason, so the counts add up:
``n_start - sum(n_excluded) == n_final``.  ``.table`` is the flow (step, reason, n_excluded, n_remaining);
``.excluded`` lists every excluded patient with the reason.  The report draws it with
``bmstats.report.figures.plot_exclusion_flow(log)``.
"""
from __future__ import annotations

import html
import numpy as np
import pandas as pd

from bmstats._plot_docs import plot_doc
from bmstats._attrs import ReadOnly


class ExclusionLog(ReadOnly, dict):
    """``n_start`` patients; ``steps``: (reason, patient ids) in the order applied; ``title``: the analysis.

    Read-only.  It is also a mapping of its JSON form (``to_dict()``: title, n_start, n_final and the steps
    with reason, n_excluded and patient_ids as text), so that a frame carrying it in ``attrs["exclusions"]``
    can be written with ``to_parquet``/``to_feather`` (pandas stores ``attrs`` as JSON).  Read back, that is a
    plain dict; :meth:`from_dict` makes the log again.
    """

    __slots__ = ("_n_start", "_steps", "_title")
    _n_start: int
    _steps: tuple
    _title: str

    def __init__(self, n_start: int, steps, title: str = "exclusions"):
        steps = tuple((str(r), tuple(ids)) for r, ids in steps)
        object.__setattr__(self, "_n_start", int(n_start))
        object.__setattr__(self, "_steps", steps)
        object.__setattr__(self, "_title", str(title))
        dict.update(self, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> ExclusionLog:
        """The log from its :meth:`to_dict` form (e.g. ``pd.read_parquet(path).attrs["exclusions"]``)."""
        try:
            steps = [(s["reason"], tuple(s["patient_ids"])) for s in data["steps"]]
            return cls(data["n_start"], steps, data.get("title", "exclusions"))
        except (KeyError, TypeError) as exc:
            from bmstats._checks import InputError

            raise InputError(f"not the dict form of an exclusion log (title, n_start, steps with reason and "
                             f"patient_ids): {exc!r}") from None

    def _args(self) -> tuple:
        return (self._n_start, self._steps, self._title)

    @property
    def n_start(self) -> int:
        return self._n_start

    @property
    def steps(self) -> tuple:
        """((reason, tuple of patient ids), ...) in the order applied."""
        return self._steps

    @property
    def title(self) -> str:
        return self._title

    @property
    def n_final(self) -> int:
        return self.n_start - sum(len(ids) for _, ids in self.steps)

    @property
    def table(self) -> pd.DataFrame:
        """step, reason, n_excluded, n_remaining: one row per reason, the boxes of a flow diagram."""
        n_ex = [len(ids) for _, ids in self.steps]
        remaining = self.n_start - np.cumsum(n_ex, dtype="int64") if n_ex else np.array([], dtype="int64")
        return pd.DataFrame(
            {
                "step": np.arange(1, len(self.steps) + 1, dtype="int64"),
                "reason": [r for r, _ in self.steps],
                "n_excluded": np.asarray(n_ex, dtype="int64"),
                "n_remaining": np.asarray(remaining, dtype="int64"),
            }
        )

    @property
    def excluded(self) -> pd.DataFrame:
        """Every excluded patient: patient_id, step, reason."""
        parts = [
            pd.DataFrame({"patient_id": list(ids), "step": i, "reason": reason})
            for i, (reason, ids) in enumerate(self.steps, start=1)
            if len(ids)
        ]
        if not parts:
            return pd.DataFrame({"patient_id": pd.Series(dtype=object), "step": pd.Series(dtype="int64"),
                                 "reason": pd.Series(dtype=object)})
        return pd.concat(parts, ignore_index=True)

    def ids(self, reason: str) -> tuple:
        for r, ids in self.steps:
            if r == reason:
                return ids
        raise KeyError(f"no exclusion step {reason!r}; steps: {[r for r, _ in self.steps]}")

    def to_dict(self) -> dict:
        """The log as JSON-ready data (a new plain dict)."""
        return {
            "title": self.title,
            "n_start": self.n_start,
            "n_final": self.n_final,
            "steps": [{"reason": r, "n_excluded": len(ids), "patient_ids": list(map(str, ids))}
                      for r, ids in self.steps],
        }

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_exclusion_flow(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The STROBE flow diagram of the exclusions", "plot_exclusion_flow")

    def __repr__(self) -> str:
        lines = [f"{self.title}: {self.n_start:,} patients, {self.n_final:,} analysed"]
        for _, row in self.table.iterrows():
            lines.append(f"  {row['step']}. excluded {row['n_excluded']:,}: {row['reason']} "
                         f"({row['n_remaining']:,} remain)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = html.escape(f"{self.title}: {self.n_start:,} patients, {self.n_final:,} analysed")
        return f"<div><strong>{head}</strong>{self.table.to_html(index=False)}</div>"


class ExclusionBuilder:
    """Applies exclusion masks in order over one frame of candidates (internal helper)."""

    def __init__(self, ids: pd.Series, title: str):
        self._ids = ids.to_numpy()
        self._keep = np.ones(len(ids), dtype=bool)
        self._steps: list = []
        self._n = len(ids)
        self._title = title

    def exclude(self, reason: str, mask) -> None:
        """Drop the still-present rows where ``mask``; a step is logged even when it removes nobody."""
        hit = self._keep & np.asarray(mask, dtype=bool)
        self._steps.append((reason, tuple(self._ids[hit].tolist())))
        self._keep &= ~hit

    @property
    def keep(self) -> np.ndarray:
        return self._keep.copy()

    def log(self) -> ExclusionLog:
        return ExclusionLog(self._n, tuple(self._steps), self._title)
