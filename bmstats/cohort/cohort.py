"""``Cohort``: the canonical ``patients`` and ``skeletal_events`` tables of one cohort, immutable.

Build one with :func:`bmstats.read_cohort` (files, with a site mapping) or directly from canonical
DataFrames with ``Cohort.from_frames(patients, events=None, truth=None)`` (what the simulator does).
Both index the tables by the file's row number (``row``: header = row 1, first data row = row 2; frames
given directly are numbered as if written to CSV) so that validation messages can name rows.
``.patients`` and ``.events`` hand out copies: a caller editing them cannot change the cohort.

A cohort read with ``read_cohort(..., engine="duckdb")`` keeps its tables in DuckDB (``.engine_tables``);
``.patients`` / ``.events`` then fetch them into pandas on first use (the whole table: use the relations for
large ones).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import pandas as pd

from bmstats.cohort import schema
from bmstats.cohort.issues import empty_issues


@dataclass(frozen=True, eq=False, repr=False, init=False)
class Cohort:
    """One cohort in the canonical schema (docs/cohort.md): the ``patients`` and ``skeletal_events`` tables.

    Made by :func:`bmstats.read_cohort`, :meth:`Cohort.from_frames` or :func:`bmstats.simulate_cohort`;
    frozen, and its tables are handed out as copies.

    Parameters
    ----------
    patients : pandas.DataFrame
        The canonical ``patients`` table.
    events : pandas.DataFrame, optional
        The canonical ``skeletal_events`` table (empty when not given).
    truth : dict, optional
        For a synthetic cohort, the parameters it was drawn from and the true quantities they imply.
    sources : dict, optional
        The files read, by table.
    read_issues : pandas.DataFrame, optional
        Values that did not parse while reading, kept as issues for :func:`bmstats.validate`.
    absent : dict, optional
        Optional columns the files did not have, by table.
    canonical : bool, default False
        The tables are already canonical (skip the conversion).

    Attributes
    ----------
    patients : pandas.DataFrame
        A copy of the patients table, dates as datetime64.
    events : pandas.DataFrame
        A copy of the skeletal events table.
    truth : dict or None
        As given.
    sources : dict
        As given.
    engine : str or None
        ``"duckdb"`` when the tables are held in DuckDB (``read_cohort(..., engine="duckdb")``), else None.
    engine_tables : EngineTables or None
        The engine-held tables: ``.patients`` and ``.events`` are the names of the canonical views (a column
        ``row``, the file's row number, then the canonical columns in the schema's order and the site's
        extra columns; dates DATE, numbers DOUBLE, integers BIGINT, codes and ids VARCHAR), ``.connection`` the
        DuckDB connection holding them (None when read from DuckDB relations: their own connection holds the
        views), ``.sql(text)`` runs a query there and returns a lazy relation, ``.relation(table)`` the view
        as a relation.  None for a cohort held in pandas.
    patients_relation, events_relation : duckdb.DuckDBPyRelation
        The canonical views as lazy relations (engine-held cohorts only); any estimator accepts them as
        ``data``.

    Notes
    -----
    On an engine-held cohort, :func:`bmstats.validate` runs every rule as a query (only offending rows leave
    the engine); ``len``, ``n_patients``, ``n_events`` and the repr are aggregate queries; ``.patients``,
    ``.events``, ``to_files`` and the derivations that are not yet queries fetch the tables into pandas once.

    References
    ----------
    .. [1] von Elm E, Altman DG, Egger M, et al. The Strengthening the Reporting of Observational Studies in
       Epidemiology (STROBE) statement. Lancet 2007;370:1453-1457.
    """

    _p: pd.DataFrame | None
    _e: pd.DataFrame | None
    truth: dict | None = None
    sources: dict = field(default_factory=dict)
    _read_issues: pd.DataFrame = field(default_factory=empty_issues)
    _absent: dict = field(default_factory=dict)
    engine_tables: Any = None

    def __init__(
        self,
        patients: pd.DataFrame,
        events: pd.DataFrame | None = None,
        truth: dict | None = None,
        *,
        sources: dict | None = None,
        read_issues: pd.DataFrame | None = None,
        absent: dict | None = None,
        canonical: bool = False,
    ):
        """``canonical=True`` (internal, used by the readers) trusts that the frames are already canonical;
        otherwise the frames are converted like a file without a mapping (Cohort.from_frames)."""
        if not canonical:
            from bmstats.cohort.io import frames_to_tables

            patients, events, read_issues, absent = frames_to_tables(patients, events)
        set_ = object.__setattr__
        set_(self, "_p", patients)
        set_(self, "_e", events if events is not None else schema.empty_frame("skeletal_events"))
        set_(self, "truth", truth)
        set_(self, "sources", dict(sources or {}))
        set_(self, "_read_issues", read_issues if read_issues is not None else empty_issues())
        set_(self, "_absent", dict(absent or {}))
        set_(self, "engine_tables", None)

    @classmethod
    def _from_engine(cls, tables, *, truth: dict | None = None, sources: dict | None = None,
                     absent: dict | None = None) -> Cohort:
        """A cohort whose tables stay in DuckDB (made by ``read_cohort(..., engine="duckdb")``)."""
        self = cls.__new__(cls)
        set_ = object.__setattr__
        for name, value in (("_p", None), ("_e", None), ("truth", truth), ("sources", dict(sources or {})),
                            ("_read_issues", empty_issues()), ("_absent", dict(absent or {})),
                            ("engine_tables", tables)):
            set_(self, name, value)
        return self

    # -- where the tables are held --------------------------------------------------------------
    @property
    def engine(self) -> str | None:
        """``"duckdb"`` when the tables are held in DuckDB, None when they are pandas frames."""
        return None if self.engine_tables is None else "duckdb"

    @property
    def patients_relation(self):
        """The canonical patients view as a lazy DuckDB relation (engine-held cohorts only)."""
        return self._engine_only().relation("patients")

    @property
    def events_relation(self):
        """The canonical skeletal-events view as a lazy DuckDB relation (engine-held cohorts only)."""
        return self._engine_only().relation("skeletal_events")

    def _engine_only(self):
        if self.engine_tables is None:
            from bmstats._checks import InputError

            raise InputError("this cohort is held in pandas (.patients, .events); read it with "
                             "read_cohort(..., engine='duckdb') to hold its tables in DuckDB")
        return self.engine_tables

    @property
    def _patients(self) -> pd.DataFrame:
        """The patients frame (fetched from the engine once for an engine-held cohort)."""
        if self._p is None:
            from bmstats.cohort.engine_frames import fetch_table

            object.__setattr__(self, "_p", fetch_table(self.engine_tables, "patients"))
        return self._p

    @property
    def _events(self) -> pd.DataFrame:
        if self._e is None:
            from bmstats.cohort.engine_frames import fetch_table

            object.__setattr__(self, "_e", fetch_table(self.engine_tables, "skeletal_events"))
        return self._e

    @classmethod
    def from_frames(
        cls, patients: pd.DataFrame, events: pd.DataFrame | None = None, truth: dict | None = None
    ) -> Cohort:
        """A Cohort from DataFrames in the canonical schema (dates as datetime64 or ISO text).

        Missing optional columns are added empty; ``subtype`` is derived from er/pr/her2 when absent; values that
        do not parse are kept as issues for :func:`bmstats.validate`.

        Parameters
        ----------
        patients : pandas.DataFrame
            One row per patient.
        events : pandas.DataFrame, optional
            One row per skeletal event.
        truth : dict, optional
            The parameters of a synthetic cohort.

        Returns
        -------
        Cohort
            The cohort.
        """
        return cls(patients, events, truth)

    def with_truth(self, truth: dict | None) -> Cohort:
        """The same cohort carrying ``truth`` (the parameters a synthetic cohort was drawn from).

        Parameters
        ----------
        truth : dict or None
            The parameters and true quantities.

        Returns
        -------
        Cohort
            A new cohort; this one is unchanged.
        """
        if self.engine_tables is not None:
            return type(self)._from_engine(self.engine_tables, truth=truth, sources=self.sources,
                                           absent=self._absent)
        return type(self)(
            self._patients, self._events, truth, sources=self.sources,
            read_issues=self._read_issues, absent=self._absent, canonical=True,
        )

    # -- the tables -----------------------------------------------------------------------------
    @property
    def patients(self) -> pd.DataFrame:
        return self._patients.copy()

    @property
    def events(self) -> pd.DataFrame:
        """The skeletal_events table."""
        return self._events.copy()

    skeletal_events = events

    @property
    def n_patients(self) -> int:
        if self._p is None:
            return self.engine_tables.count("patients")
        return len(self._patients)

    @property
    def n_events(self) -> int:
        if self._e is None:
            return self.engine_tables.count("skeletal_events")
        return len(self._events)

    def __len__(self) -> int:
        return self.n_patients

    def __repr__(self) -> str:
        if self._p is None:
            got = self.engine_tables.fetch(
                f'SELECT count(*) AS n, count("bm_date") AS n_bm, count("death_date") AS n_dead '
                f'FROM "{self.engine_tables.patients}"')
            n, n_bm, n_dead = (int(got[c].iloc[0]) for c in ("n", "n_bm", "n_dead"))
        else:
            p = self._patients
            n, n_bm, n_dead = len(p), int(p["bm_date"].notna().sum()), int(p["death_date"].notna().sum())
        src = f" from {self.sources['patients']}" if self.sources.get("patients") else ""
        synth = " (synthetic: .truth holds its parameters)" if self.truth is not None else ""
        held = " (held in DuckDB)" if self.engine_tables is not None else ""
        return (
            f"Cohort{src}{synth}{held}: {n:,} patients ({n_bm:,} with bone metastasis, {n_dead:,} died), "
            f"{self.n_events:,} skeletal events"
        )

    def _repr_html_(self) -> str:
        import html

        if self._p is None:
            from bmstats.cohort.engine_frames import fetch_table

            head = fetch_table(self.engine_tables, "patients", limit=10)
        else:
            head = self._patients.head(10)
        return f"<div><strong>{html.escape(repr(self))}</strong>{head.to_html()}</div>"

    # -- writing --------------------------------------------------------------------------------
    def to_files(self, folder: str | Path) -> dict[str, Path]:
        """Write ``patients.csv`` and ``skeletal_events.csv`` (ISO dates, empty for missing) into ``folder``.

        Parameters
        ----------
        folder : str or Path
            Created if needed.

        Returns
        -------
        dict of str to Path
            The files written, by table.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, frame in (("patients", self._patients), ("skeletal_events", self._events)):
            path = folder / f"{name}.csv"
            out = frame.copy()
            for c in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[c]):
                    out[c] = out[c].dt.strftime("%Y-%m-%d")
                elif pd.api.types.is_bool_dtype(out[c]):
                    out[c] = out[c].map({True: "true", False: "false"})
                elif pd.api.types.is_float_dtype(out[c]):  # 54.0 -> "54", as a site file would have it
                    text = out[c].astype(str).str.replace(r"\.0$", "", regex=True)
                    out[c] = text.where(out[c].notna(), "")
            out.to_csv(path, index=False, lineterminator="\n")
            paths[name] = path
        return paths

    # -- analysis-ready frames ------------------------------------------------------------------
    def endpoint(
        self,
        event: str,
        competing: Sequence[str] = (),
        origin: str = "diagnosis",
        unit: str = "years",
        horizon: float | None = None,
        covariates: Sequence[str] | None = None,
        time_varying: dict | None = None,
    ) -> pd.DataFrame:
        """Time-to-event frame (``patient_id``, ``time``, ``status`` + covariates) from ``origin``.

        ``status`` is 0 (censored), 1 (the event) and 2.. (competing events in the order given). The exclusion
        log (a STROBE flow) is ``frame.attrs["exclusions"]``; :meth:`endpoint_with_log` returns both explicitly.

        Parameters
        ----------
        event : str
            The event of interest: ``bone_metastasis``, ``visceral_metastasis``, ``skeletal_event`` (the first),
            ``death`` or ``breast_cancer_death``.
        competing : sequence of str, default ()
            Competing events, coded 2, 3, ... in the order given.
        origin : str, default "diagnosis"
            Time zero: ``diagnosis``, ``bone_metastasis`` or ``visceral_metastasis`` (patients without it are
            excluded and counted).
        unit : {"years", "months", "days"}, default "years"
            Unit of ``time``.
        horizon : float, optional
            Administrative censoring at this time.
        covariates : sequence of str, optional
            Patient columns carried along (default: all).
        time_varying : dict, optional
            ``{name: date column | "skeletal_event"}``: counting-process rows with one 0/1 column per exposure,
            split as R's ``survival::tmerge(..., tdc())``.

        Returns
        -------
        pandas.DataFrame or EngineFrame
            One row per patient at risk from the origin (or counting-process rows with ``time_varying``). On a
            cohort read with ``engine="duckdb"``, an ``EngineFrame``: the same rows as a DuckDB query with the same
            ``attrs``, which every estimator running on the engine accepts as ``data`` (docs/scale.md).
        """
        return self.endpoint_with_log(event, competing, origin, unit, horizon, covariates, time_varying).data

    def endpoint_with_log(self, event: str, competing: Sequence[str] = (), origin: str = "diagnosis",
                          unit: str = "years", horizon: float | None = None,
                          covariates: Sequence[str] | None = None, time_varying: dict | None = None):
        """As :meth:`endpoint`, with the exclusion log returned beside the frame.

        Parameters
        ----------
        event : str
            The event of interest: ``bone_metastasis``, ``visceral_metastasis``, ``skeletal_event`` (the first),
            ``death`` or ``breast_cancer_death``.
        competing : sequence of str, default ()
            Competing events, coded 2, 3, ... in the order given.
        origin : str, default "diagnosis"
            Time zero: ``diagnosis``, ``bone_metastasis`` or ``visceral_metastasis`` (patients without it are
            excluded and counted).
        unit : {"years", "months", "days"}, default "years"
            Unit of ``time``.
        horizon : float, optional
            Administrative censoring at this time.
        covariates : sequence of str, optional
            Patient columns carried along (default: all).
        time_varying : dict, optional
            ``{name: date column | "skeletal_event"}``: counting-process rows with one 0/1 column per exposure,
            split as R's ``survival::tmerge(..., tdc())``.

        Returns
        -------
        Endpoint
            ``.data`` (the frame of :meth:`endpoint`) and ``.exclusions`` (an ``ExclusionLog``).
        """
        from bmstats.cohort.endpoints import endpoint

        if self.engine_tables is not None:  # the rows are built as a query and stay in DuckDB
            from bmstats.cohort.sql_endpoint import endpoint_query

            return endpoint_query(self.patients_relation, self.events_relation, event, competing, origin, unit,
                                  horizon, covariates, time_varying)
        return endpoint(self._patients, self._events, event, competing, origin, unit, horizon, covariates,
                        time_varying)

    def recurrent_events(
        self,
        origin: str = "bone_metastasis",
        unit: str = "years",
        window_days: int | None = None,
        event_types: Sequence[str] | None = None,
        covariates: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Counting-process rows (``id, start, stop, event, terminal, enum`` + covariates) of skeletal events.

        ``frame.attrs["exclusions"]`` holds the exclusion log and ``frame.attrs["dropped_events"]`` the events
        not counted, with reasons.

        Parameters
        ----------
        origin : str, default "bone_metastasis"
            Time zero.
        unit : {"years", "months", "days"}, default "years"
            Unit of the times.
        window_days : int, optional
            Count at most one event per this many days (e.g. 21, the skeletal morbidity window).
        event_types : sequence of str, optional
            The event types counted (default: all five).
        covariates : sequence of str, optional
            Patient columns carried along (default: all).

        Returns
        -------
        pandas.DataFrame or EngineFrame
            The rows, ready for :func:`bmstats.mean_cumulative_function` and :func:`bmstats.sre_summary` (an
            ``EngineFrame``, rows kept in DuckDB, on a cohort read with ``engine="duckdb"``).
        """
        from bmstats.cohort.recurrent import recurrent_events

        if self.engine_tables is not None:  # the rows are built as a query and stay in DuckDB
            from bmstats.cohort.sql_recurrent import recurrent_events_query

            return recurrent_events_query(self.patients_relation, self.events_relation, origin, unit, window_days,
                                          event_types, covariates).data
        return recurrent_events(self._patients, self._events, origin, unit, window_days, event_types, covariates).data

    def multistate(
        self,
        origin: str = "diagnosis",
        states: Sequence[str] = ("bone_metastasis", "death"),
        unit: str = "years",
        covariates: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Transition rows of a multi-state model (``patient_id, start, stop, from_state, to_state`` + covariates).

        The initial state is ``"free"``; ``to_state`` is missing when the patient is censored;
        ``frame.attrs["exclusions"]`` holds the exclusion log.

        Parameters
        ----------
        origin : str, default "diagnosis"
            Time zero.
        states : sequence of str, default ("bone_metastasis", "death")
            The states after ``"free"``, as event names of :meth:`endpoint`.
        unit : {"years", "months", "days"}, default "years"
            Unit of the times.
        covariates : sequence of str, optional
            Patient columns carried along (default: all).

        Returns
        -------
        pandas.DataFrame or EngineFrame
            One row per patient and state occupied (an ``EngineFrame``, rows kept in DuckDB with the states as
            text, on a cohort read with ``engine="duckdb"``).
        """
        from bmstats.cohort.multistate import multistate

        if self.engine_tables is not None:  # the rows are built as a query and stay in DuckDB
            from bmstats.cohort.sql_multistate import multistate_query

            return multistate_query(self.patients_relation, self.events_relation, origin, states, unit,
                                    covariates).data
        return multistate(self._patients, self._events, origin, states, unit, covariates).data

    def validate(self):
        """Shorthand for :func:`bmstats.validate`.

        Returns
        -------
        ValidationReport
            Every rule that fired, with row and patient_id.
        """
        from bmstats.cohort.validate import validate

        return validate(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Cohort:
        return self  # immutable
