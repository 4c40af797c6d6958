"""``validate(cohort) -> ValidationReport``: every rule of the catalogue, with rule id, file row and patient.

The report renders as text (one line per issue), JSON (machine-readable) and JUnit XML (one test case per
rule, a failure per rule with errors), and as an HTML table in notebooks.  ``.ok`` is true when there are
no errors; warnings do not fail a cohort.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from bmstats.cohort.issues import RULES, rules_table


@dataclass(frozen=True, repr=False, eq=False)
class ValidationReport:
    """Issues found in a cohort by :func:`bmstats.validate`, each naming rule, file row and patient.

    Parameters
    ----------
    _issues : pandas.DataFrame
        One row per issue (rule, severity, table, row, patient_id, column, message).
    n_patients : int, default 0
        Patients checked.
    n_events : int, default 0
        Skeletal events checked.
    sources : dict
        The files checked, by table.

    Attributes
    ----------
    issues : pandas.DataFrame
        A copy of the issues.
    ok : bool
        No issue of severity "error" (warnings allowed).

    References
    ----------
    .. [1] von Elm E, Altman DG, Egger M, et al. The Strengthening the Reporting of Observational Studies in
       Epidemiology (STROBE) statement. Lancet 2007;370:1453-1457.
    """

    _issues: pd.DataFrame
    n_patients: int = 0
    n_events: int = 0
    sources: dict = field(default_factory=dict)

    @property
    def issues(self) -> pd.DataFrame:
        return self._issues.copy()

    @property
    def errors(self) -> pd.DataFrame:
        return self._issues[self._issues["severity"] == "error"].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        return self._issues[self._issues["severity"] == "warning"].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        return not (self._issues["severity"] == "error").any()

    @property
    def n_errors(self) -> int:
        return int((self._issues["severity"] == "error").sum())

    @property
    def n_warnings(self) -> int:
        return int((self._issues["severity"] == "warning").sum())

    def summary(self) -> pd.DataFrame:
        """One row per rule of the catalogue: severity, explanation and how many issues it found.

        Returns
        -------
        pandas.DataFrame
            Indexed by rule.
        """
        counts = self._issues["rule"].value_counts()
        table = rules_table()
        table["n_issues"] = table["rule"].map(counts).fillna(0).astype("int64")
        return table

    @property
    def headline(self) -> str:
        """One line: OK or FAILED with the counts."""
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"bmstats validate: {verdict}: {self.n_errors:,} error(s), {self.n_warnings:,} warning(s) in "
            f"{self.n_patients:,} patients and {self.n_events:,} skeletal events"
        )

    def _file_of(self, table: str) -> str:
        return self.sources.get(table, table)

    def to_text(self, max_issues: int | None = None) -> str:
        """One line per issue: ``SEVERITY RULE file row N patient P: message``, then the headline.

        Parameters
        ----------
        max_issues : int, optional
            Show at most this many issues (all by default).

        Returns
        -------
        str
            The text report.
        """
        frame = self._issues if max_issues is None else self._issues.head(max_issues)
        if len(frame):
            files = frame["table"].map(lambda t: self._file_of(t))
            pid = frame["patient_id"].astype(str)
            who = pid.where(pid == "", " patient " + pid)
            lines = (
                frame["severity"].str.upper().str.ljust(7) + " " + frame["rule"] + " " + files
                + " row " + frame["row"].astype(str) + who + ": " + frame["message"].astype(str)
            ).tolist()
        else:
            lines = []
        if max_issues is not None and len(self._issues) > max_issues:
            lines.append(f"... and {len(self._issues) - max_issues:,} more issue(s)")
        lines.append(self.headline)
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        """The report as plain data (ok, counts, sources, issues as records).

        Returns
        -------
        dict
            JSON-serialisable.
        """
        records = self._issues.astype({"row": "int64"}).to_dict(orient="records")
        return {
            "ok": self.ok,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "n_patients": self.n_patients,
            "n_events": self.n_events,
            "sources": self.sources,
            "issues": records,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON (:meth:`to_dict`).

        Parameters
        ----------
        indent : int, optional
            Indentation (default 2; None for one line).

        Returns
        -------
        str
            The JSON text.
        """
        return json.dumps(self.to_dict(), indent=indent, default=str) + "\n"

    def to_junit(self) -> str:
        """JUnit XML: one test case per rule; a rule with errors fails and lists them; warnings go to system-out.

        Returns
        -------
        str
            The XML text.
        """
        from xml.etree import ElementTree as ET

        suite = ET.Element(
            "testsuite",
            name="bmstats validate",
            tests=str(len(RULES)),
            failures=str(self._issues.loc[self._issues["severity"] == "error", "rule"].nunique()),
            errors="0",
        )
        grouped = {rule: g for rule, g in self._issues.groupby("rule", sort=False)}
        for rule in RULES.values():
            case = ET.SubElement(suite, "testcase", classname="bmstats.validate", name=rule.id)
            found = grouped.get(rule.id)
            if found is None:
                continue
            text = "\n".join(
                f"{self._file_of(t)} row {r} patient {pid}: {m}"
                for t, r, pid, m in zip(found["table"], found["row"], found["patient_id"], found["message"])
            )
            if rule.severity == "error":
                fail = ET.SubElement(case, "failure", message=f"{rule.explanation} ({len(found)} issue(s))",
                                     type=rule.id)
                fail.text = text
            else:
                out = ET.SubElement(case, "system-out")
                out.text = text
        ET.indent(suite)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"

    def __repr__(self) -> str:
        """The headline and the rules that found something (drawn by :mod:`bmstats.report.display`)."""
        from bmstats.report import display

        return display.to_text(self)

    def _repr_html_(self) -> str:
        from bmstats.report import display

        return display.to_html(self)


def validate(cohort) -> ValidationReport:
    """Check a cohort against every rule (docs/cohort.md lists them with ids and explanations).

    Parameters
    ----------
    cohort : Cohort
        A cohort from :func:`bmstats.read_cohort` or :meth:`Cohort.from_frames`.

    Returns
    -------
    ValidationReport
        ``.ok`` is False when any rule of severity "error" fired; ``.issues`` names rule, row and patient_id.

    References
    ----------
    .. [1] von Elm E, Altman DG, Egger M, et al. The Strengthening the Reporting of Observational Studies in
       Epidemiology (STROBE) statement. Lancet 2007;370:1453-1457.
    """
    from bmstats.cohort.cohort import Cohort
    from bmstats.cohort.rules import run_all

    if not isinstance(cohort, Cohort):
        from bmstats._checks import InputError

        raise InputError("validate expects a Cohort (bm.read_cohort or bm.Cohort.from_frames), "
                         f"got {type(cohort).__name__}")
    if cohort.engine_tables is not None:  # held in DuckDB: every rule is a query
        from bmstats.cohort.engine_rules import run_all as run_queries

        issues, n_p, n_e = run_queries(cohort.engine_tables, cohort._absent)
        return ValidationReport(issues, n_patients=n_p, n_events=n_e, sources=dict(cohort.sources))
    p, e = cohort._patients, cohort._events
    issues = run_all(p, e, cohort._absent, cohort._read_issues)
    return ValidationReport(issues, n_patients=len(p), n_events=len(e), sources=dict(cohort.sources))
