"""``bmstats report CONFIG -o DIR``: one YAML analysis config -> a self-contained HTML report plus files.

``build_report(config, out_dir)`` reads and checks the config (:mod:`bmstats.report.config`, errors name
the key and line), loads the data (a bundled data set or cohort files with a mapping), derives columns
and endpoints, runs each analysis in order and writes

- ``DIR/report.html``: one file, no outside resources (CSS inline, figures as base64 PNG), a table of
  contents, every table and figure, and a generated methods paragraph naming the estimators, bmstats and
  its dependencies' versions and the SHA-256 of every data file;
- ``DIR/tables/<id>.{html,md,tex,docx,csv}`` and ``DIR/figures/<id>.{png,svg,pdf}``.

Progress goes to stderr, one line per step.  The same inputs give byte-identical outputs: no timestamps,
no absolute paths, fixed figure and DOCX metadata.  Exit codes: 0 built, 1 an analysis failed, 2 the
config or data could not be read.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import platform
import sys
import time as _time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bmstats._checks import InputError, describe_rows
from bmstats.estimate.cause_specific import CompetingRisksModels
from bmstats.estimate.design import formula_terms
from bmstats.report import captions
from bmstats.report import figures as figs
from bmstats.report import table_builders as tabs
from bmstats.report.expressions import ExpressionError, column
from bmstats.report.config import ConfigError, load_config
from bmstats.report.table import TABLE_FORMATS, Table

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
_EVENT = "__event__"


class ValidationFailed(InputError):
    """The cohort has validation errors: the report stops before any analysis."""


class AnalysisError(InputError):
    """An analysis of a report config that cannot be run on these data (the message says why)."""


@dataclass
class Section:
    id: str
    title: str
    kind: str
    description: str = ""
    tables: list = field(default_factory=list)  # (Table, file stem)
    figures: list = field(default_factory=list)  # (Figure, file stem, caption)
    notes: list = field(default_factory=list)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ReportBuilder:
    def __init__(self, config: dict, config_path: Path, out_dir: Path):
        self.config = config
        self.base = config_path.parent
        self.name = config_path.stem
        self.out = out_dir
        self.data_files: list[tuple[str, str]] = []
        self.cohort = None
        self.frame: pd.DataFrame | None = None
        self._endpoints: dict[str, tuple[pd.DataFrame, Any]] = {}
        self.labels = dict(config.get("labels") or {})
        self.level_labels = {k: dict(v) for k, v in (config.get("level_labels") or {}).items()}
        outputs = config.get("outputs") or {}
        self.table_formats = tuple(outputs.get("tables", TABLE_FORMATS))
        self.figure_formats = tuple(outputs.get("figures", figs.FIGURE_FORMATS))
        self.width = outputs.get("width", "single")
        self.methods: list[str] = []
        self.table_one_shown: dict = {"tests": [], "smd": False}
        self.validation = None  # the cohort's ValidationReport (cohort data only)
        self.pdf = False  # also write report.pdf (bmstats report --pdf)
        self.pdf_figures: dict[str, bytes] = {}

    # ------------------------------------------------------------------------------------- data
    def load_data(self) -> None:
        from bmstats import datasets

        data = self.config["data"]
        if "dataset" in data:
            name = data["dataset"]
            if name == "bm_cohort":
                folder = datasets.dataset_path("bm_cohort")
                self.cohort = datasets.load_bm_cohort()
                for f in ("patients.csv", "skeletal_events.csv"):
                    self.data_files.append((f"bm_cohort/{f}", _sha256(folder / f)))
            else:
                files = ("rotterdam", "gbsg") if name == "rotterdam_gbsg" else (name,)
                self.frame = {"rotterdam": datasets.load_rotterdam, "gbsg": datasets.load_gbsg,
                              "rotterdam_gbsg": datasets.load_rotterdam_gbsg}[name]()
                for f in files:
                    path = datasets.dataset_path(f"{f}.csv")
                    self.data_files.append((path.name, _sha256(path)))
        elif "patients" in data:
            from bmstats.cohort.io import read_cohort

            paths = {k: self.base / data[k] for k in ("patients", "events", "mapping") if k in data}
            for key, path in paths.items():
                if not path.exists():
                    raise ConfigError(f"{self.config['_source']}:{self.config['_lines'][('data', key)]}: "
                                      f"data.{key}: file {data[key]!r} not found (paths are relative to the config)")
                self.data_files.append((data[key], _sha256(path)))
            self.cohort = read_cohort(paths["patients"], paths.get("events"), paths.get("mapping"))
        else:
            path = self.base / data["table"]
            if not path.exists():
                raise ConfigError(f"{self.config['_source']}:{self.config['_lines'][('data', 'table')]}: "
                                  f"data.table: file {data['table']!r} not found (paths are relative to the config)")
            self.data_files.append((data["table"], _sha256(path)))
            self.frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            self.frame.index = pd.RangeIndex(2, len(self.frame) + 2, name="row")  # file rows, for messages
        if self.cohort is not None:
            self._validate()
            self.frame = self.cohort.patients.copy()
        self.frame = self._derive(self.frame, data.get("derive"), ("data", "derive"))
        if "filter" in data:
            keep = self._expr(data["filter"], self.frame, ("data", "filter")).astype(bool)
            self.frame = self.frame.loc[keep.to_numpy()]

    def _validate(self) -> None:
        """Validate the cohort before any analysis: errors stop the report with one line, warnings go to
        the methods section."""
        from bmstats.cohort.validate import validate

        self.validation = validate(self.cohort)
        if self.validation.ok:
            return
        data = self.config["data"]
        if "patients" in data:
            cmd = "bmstats validate " + (self.base / data["patients"]).as_posix()
            for key, flag in (("events", "--events"), ("mapping", "--mapping")):
                if key in data:
                    cmd += f" {flag} {(self.base / data[key]).as_posix()}"
        else:
            cmd = f"bmstats datasets export {data['dataset']} DIR, then bmstats validate DIR/patients.csv"
        n = self.validation.n_errors
        raise ValidationFailed(f"{n:,} validation error{'s' if n != 1 else ''} in the data, so no analysis was run; "
                               f"run `{cmd}` to list them")

    def validation_text(self) -> str:
        """The validation result for the methods section: rules checked, and every warning rule with its count."""
        report = self.validation
        if report is None:
            return ""
        n_rules = len(report.summary())
        if not report.n_warnings:
            return f"The data passed all {n_rules} validation rules of bmstats validate without warnings."
        counts = report.warnings["rule"].value_counts(sort=False)
        explained = report.summary().set_index("rule")["explanation"]
        parts = [f"{rule} ({int(k):,}: {explained.get(rule, '')})" for rule, k in counts.items()]
        return (f"The data passed the {n_rules} validation rules of bmstats validate without errors, with "
                f"{report.n_warnings:,} warning(s): " + "; ".join(parts) + ".")

    def _expr(self, expression: str, frame: pd.DataFrame, path: tuple) -> pd.Series:
        try:
            return column(expression, frame)
        except ExpressionError as exc:
            line = self.config["_lines"].get(path, 1)
            raise ConfigError(f"{self.config['_source']}:{line}: {'.'.join(map(str, path))}: {exc}") from None

    def _derive(self, frame: pd.DataFrame, derive: dict | None, path: tuple) -> pd.DataFrame:
        if not derive:
            return frame
        frame = frame.copy()
        for name, expression in derive.items():
            frame[name] = self._expr(expression, frame, path + (name,))
        return frame

    def endpoint(self, name: str) -> tuple[pd.DataFrame, Any]:
        """(analysis frame with time, status (and __event__), exclusion log or None)."""
        if name in self._endpoints:
            return self._endpoints[name]
        spec = self.config["endpoints"][name]
        path = ("endpoints", name)
        log = None
        if "time" in spec:
            frame = self.frame.copy()
            for key in ("time", "status"):  # numbers here; checked (and status made whole) after the filter
                frame[key] = self._number_column(self._expr(spec[key], frame, path + (key,)), path + (key,))
        elif spec.get("recurrent"):
            if self.cohort is None:
                raise ConfigError(f"{self.config['_source']}:{self.config['_lines'][path]}: endpoints.{name}: "
                                  "recurrent endpoints need cohort data (dataset bm_cohort or patients/events files)")
            frame = self.cohort.recurrent_events(origin=spec.get("origin", "bone_metastasis"),
                                                 unit=spec.get("unit", "years"), window_days=spec.get("window_days"),
                                                 event_types=spec.get("event_types"), covariates=spec.get("covariates"))
            log = frame.attrs.get("exclusions")
            frame = self._merge_derived(frame, "id")
        elif spec.get("states"):
            if self.cohort is None:
                raise ConfigError(f"{self.config['_source']}:{self.config['_lines'][path]}: endpoints.{name}: "
                                  "multi-state endpoints need cohort data (dataset bm_cohort or patients/events files)")
            frame = self.cohort.multistate(origin=spec.get("origin", "diagnosis"), states=spec["states"],
                                           unit=spec.get("unit", "years"), covariates=spec.get("covariates"))
            log = frame.attrs.get("exclusions")
            frame = self._merge_derived(frame, "patient_id")
        else:
            if self.cohort is None:
                raise ConfigError(f"{self.config['_source']}:{self.config['_lines'][path]}: endpoints.{name}: "
                                  "event endpoints need cohort data; with a flat table give time and status")
            ep = self.cohort.endpoint_with_log(spec["event"], tuple(spec.get("competing", ())),
                                               spec.get("origin", "diagnosis"), spec.get("unit", "years"),
                                               spec.get("horizon"), spec.get("covariates"),
                                               spec.get("time_varying"))
            frame, log = ep.data.copy(), ep.exclusions
            frame = self._merge_derived(frame, "patient_id")
        frame = self._derive(frame, spec.get("derive"), path + ("derive",))
        if "filter" in spec:
            keep = self._expr(spec["filter"], frame, path + ("filter",)).astype(bool).to_numpy()
            frame = frame.loc[keep]
        if "time" in spec:
            self._check_flat_endpoint(frame, path)
        self._check_causes(frame, path)
        if "status" in frame.columns:
            frame[_EVENT] = (frame["status"] > 0).astype("int64")
        frame = frame.reset_index(drop=True)
        self._endpoints[name] = (frame, log)
        return frame, log

    def _fail(self, path: tuple, message: str) -> None:
        line = self.config["_lines"].get(path, self.config["_lines"].get(path[:-1], 1))
        raise ConfigError(f"{self.config['_source']}:{line}: {'.'.join(map(str, path))}: {message}")

    def _number_column(self, values: pd.Series, path: tuple) -> pd.Series:
        if pd.api.types.is_bool_dtype(values):
            return values.astype("float64")
        if not pd.api.types.is_numeric_dtype(values):
            bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
            self._fail(path, f"the expression gives values that are not numbers ({describe_rows(values.index[bad])}, "
                             f"e.g. {values[bad].iloc[0]!r})")
        return values.astype("float64")

    def _check_flat_endpoint(self, frame: pd.DataFrame, path: tuple) -> None:
        """time: finite and >= 0; status: whole numbers >= 0, no missing values (rows named; a filter
        can drop rows that should not be analysed)."""
        for key, rule, bad in (
            ("time", "missing values", frame["time"].isna()),
            ("time", "values that are infinite or negative", ~np.isfinite(frame["time"]) & frame["time"].notna()
             | (frame["time"] < 0)),
            ("status", "missing values", frame["status"].isna()),
            ("status", "codes that are not whole numbers >= 0 (0 censored, 1, 2, ... causes)",
             frame["status"].notna() & ((frame["status"] % 1 != 0) | (frame["status"] < 0))),
        ):
            if bad.any():
                self._fail(path + (key,), f"the expression gives {rule} in {int(bad.sum()):,} row(s) "
                                          f"({describe_rows(frame.index[bad.to_numpy()])}); fix it or add a filter")
        frame["status"] = frame["status"].astype("int64")

    def _check_causes(self, frame: pd.DataFrame, path: tuple) -> None:
        """Every status code > 0 is one of the endpoint's declared ``causes`` (when it declares them)."""
        declared = self.config["endpoints"][path[1]].get("causes")
        if not declared or "status" not in frame.columns:
            return
        codes = {int(k) for k in declared}
        present = pd.unique(frame["status"][frame["status"] > 0])
        extra = sorted(int(c) for c in present if int(c) not in codes)
        if extra:
            rows = frame.index[frame["status"].isin(extra).to_numpy()]
            self._fail(path + ("causes",), f"status code(s) {', '.join(map(str, extra))} occur "
                                           f"({describe_rows(rows)}) but are not declared; declared: "
                                           f"{', '.join(map(str, sorted(codes)))}")

    def _merge_derived(self, frame: pd.DataFrame, key: str) -> pd.DataFrame:
        """Bring the patient-level derived columns (data.derive) onto an endpoint frame."""
        derived = [c for c in (self.config["data"].get("derive") or {}) if c not in frame.columns]
        if not derived or key not in frame.columns:
            return frame
        extra = self.frame.set_index("patient_id")[derived]
        return frame.join(extra, on=key)

    def causes(self, endpoint: str) -> dict[int, str]:
        spec = self.config["endpoints"][endpoint]
        causes = {int(k): str(v) for k, v in (spec.get("causes") or {}).items()}
        if not causes:
            frame, _ = self.endpoint(endpoint)
            causes = {int(c): f"Cause {int(c)}" for c in sorted(frame["status"].unique()) if c > 0}
        return causes

    def label(self, column_name: str | None) -> str | None:
        return None if column_name is None else self.labels.get(column_name, column_name)

    def group_column(self, frame: pd.DataFrame, by: str | None) -> pd.DataFrame:
        """Relabel the levels of ``by`` with level_labels (keeping their order).  A coded cohort column is a
        categorical with every code of the schema; codes no patient of this frame has (a drug the site does not
        give) are not groups: they are dropped here rather than refused by the estimators as empty groups."""
        if by is not None and by in frame and isinstance(frame[by].dtype, pd.CategoricalDtype):
            frame = frame.assign(**{by: frame[by].cat.remove_unused_categories()})
        if by is None or by not in self.level_labels:
            return frame
        mapping = self.level_labels[by]
        frame = frame.copy()
        s = frame[by]
        if isinstance(s.dtype, pd.CategoricalDtype):
            frame[by] = s.cat.rename_categories({c: mapping.get(str(c), mapping.get(c, c)) for c in s.cat.categories})
        else:
            levels = sorted(s.dropna().unique(), key=lambda v: (str(type(v)), v))
            frame[by] = pd.Categorical(s.map(lambda v: mapping.get(str(v), mapping.get(v, v))),
                                       categories=[mapping.get(str(v), mapping.get(v, v)) for v in levels])
        return frame

    # --------------------------------------------------------------------------------- analyses
    def run(self, analysis: dict) -> Section:
        kind = analysis["type"]
        title = analysis.get("title") or analysis["id"].replace("_", " ").capitalize()
        section = Section(analysis["id"], title, kind, analysis.get("description", ""))
        getattr(self, f"_run_{kind}")(analysis, section)
        return section

    def _fig_kw(self, analysis: dict, frame: pd.DataFrame, by: str | None) -> dict:
        kw = {k: v for k, v in (analysis.get("figure") or {}).items()}
        kw.setdefault("width", self.width)
        if "xlabel" not in kw:
            spec = self.config["endpoints"].get(analysis.get("endpoint"), {})
            cohort_kind = "event" in spec or spec.get("recurrent")
            unit = spec.get("unit", "years" if cohort_kind else None)
            origin = spec.get("origin", "bone_metastasis" if spec.get("recurrent") else "diagnosis") \
                if cohort_kind else None
            from bmstats.estimate.timescale import time_label

            kw["xlabel"] = (time_label(unit, origin) if origin else f"Time ({unit})") if unit else "Time"
        if by is not None:
            kw.setdefault("legend_title", self.label(by))
        return kw

    def _run_table_one(self, a: dict, s: Section) -> None:
        frame = self.endpoint(a["endpoint"])[0] if "endpoint" in a else self.frame
        t = tabs.table_one(
            frame, a.get("by"), a["variables"], categorical=a.get("categorical"), nonnormal=a.get("nonnormal"),
            labels=self.labels, level_labels=self.level_labels, overall=a.get("overall", True),
            tests=a.get("tests", True), smd=a.get("smd", True), missing=a.get("missing", "ifany"),
            decimals=a.get("decimals", 1), title=s.title)
        s.tables.append((t, a["id"]))
        self._method("table_one")
        # the methods text names only the tests and SMDs that a Table 1 of this report shows
        used = [x for x in (t.data["test"] if "test" in t.data.columns else []) if isinstance(x, str) and x]
        self.table_one_shown["tests"] += [x for x in dict.fromkeys(used) if x not in self.table_one_shown["tests"]]
        self.table_one_shown["smd"] |= "SMD" in t.body.columns

    def _run_kaplan_meier(self, a: dict, s: Section) -> None:
        import bmstats as bm

        by = a.get("by")
        frame = self.group_column(self.endpoint(a["endpoint"])[0], by)
        km = bm.kaplan_meier(frame, "time", _EVENT, by=by)
        test = bm.logrank_test(frame, "time", _EVENT, by=by) if by and a.get("test", True) else None
        kw = self._fig_kw(a, frame, by)
        kw.setdefault("ylabel", "Survival probability")
        fig = figs.plot_survival(km, test=test, **kw)
        s.figures.append((fig, a["id"], captions.curve_caption(
            fig, s.title, "Kaplan-Meier estimate",
            f"log-rank p {_p_phrase(test.p_value)}" if test is not None else "")))
        unit = self.config["endpoints"][a["endpoint"]].get("unit", "years")
        if a.get("times"):
            s.tables.append((tabs.survival_table(km, a["times"], group_label=self.label(by) or "Group", unit=unit,
                                                 test=test, title=f"{s.title}: survival at chosen times"),
                             f"{a['id']}_at_times"))
        if a.get("median", True):
            s.tables.append((tabs.median_table(km, group_label=self.label(by) or "Group", unit=unit,
                                               title=f"{s.title}: median survival"), f"{a['id']}_median"))
        self._method("kaplan_meier", test is not None)

    def _run_cumulative_incidence(self, a: dict, s: Section) -> None:
        import bmstats as bm

        by = a.get("by")
        frame = self.group_column(self.endpoint(a["endpoint"])[0], by)
        ci = bm.cumulative_incidence(frame, "time", "status", by=by)
        causes = self.causes(a["endpoint"])
        cause = a.get("cause", 1)
        kw = self._fig_kw(a, frame, by)
        kw.setdefault("ylabel", f"Cumulative incidence of {causes.get(cause, f'cause {cause}').lower()}")
        fig = figs.plot_cumulative_incidence(ci, cause=cause, cause_labels=causes, **kw)
        gray = ci.gray_test
        p_phrase = ""
        if gray is not None:
            row = gray[gray["cause"] == cause]
            p_phrase = f"Gray's test p {_p_phrase(row['p_value'].iloc[0])}" if len(row) else ""
        s.figures.append((fig, a["id"], captions.curve_caption(
            fig, s.title, f"cumulative incidence of {causes.get(cause, cause)} (Aalen-Johansen)", p_phrase)))
        if a.get("stacked"):
            skw = {k: v for k, v in kw.items() if k in ("xlabel", "xmax", "ticks", "percent", "legend_title")}
            stacked = figs.plot_cumulative_incidence(ci, stacked=True, causes=a.get("causes") or list(causes)[:2],
                                                     cause_labels=causes, ylabel="Cumulative incidence", **skw)
            s.figures.append((stacked, f"{a['id']}_stacked", f"{s.title}: stacked cumulative incidence of "
                              + " and ".join(causes.get(c, str(c)) for c in (a.get("causes") or list(causes)[:2]))
                              + "; the top edge is the probability of either event."))
        if a.get("times"):
            shown = {c: causes.get(c, f"Cause {c}") for c in (a.get("causes") or list(causes))}
            unit = self.config["endpoints"][a["endpoint"]].get("unit", "years")
            s.tables.append((tabs.cif_table(ci, a["times"], cause=list(shown), cause_labels=shown,
                                            group_label=self.label(by) or "Group", unit=unit,
                                            title=f"{s.title}: cumulative incidence at chosen times"),
                             a["id"]))
        self._method("cumulative_incidence", by is not None)

    def _fit(self, model: str, frame: pd.DataFrame, formula: str, cause: int, dropna: bool = False):
        import bmstats as bm

        if model == "cox":
            return bm.cox(frame, "time", _EVENT, formula, dropna=dropna)
        if model == "fine_gray":
            return bm.fine_gray(frame, "time", "status", formula, cause=cause, dropna=dropna)
        if model == "cause_specific":
            return bm.cause_specific_cox(frame, "time", "status", formula, cause=cause, dropna=dropna)
        return bm.competing_risks_models(frame, "time", "status", formula, cause=[cause], dropna=dropna)

    def _run_regression(self, a: dict, s: Section) -> None:
        frame = self.endpoint(a["endpoint"])[0]
        model = a.get("model", "cox")
        cause = a.get("cause", 1)
        formula = a["formula"]
        names = {"cox": "Cox", "fine_gray": "Fine-Gray", "cause_specific": "Cause-specific Cox"}
        dropna = a.get("dropna", False)
        multi = self._fit(model, frame, formula, cause, dropna)
        if model == "competing_risks":
            fits = {m: r for (m, _), r in multi.fits.items()}
            columns = {m[:1].upper() + m[1:]: r for m, r in fits.items()}
        else:
            columns = {names[model]: multi}
        models: dict[str, Any] = {}
        terms = a.get("variables") or formula_terms(formula)
        for heading, result in columns.items():
            if a.get("univariable") and len(terms) > 1:
                key = {"Cause-specific Cox": "cause_specific", "Fine-Gray": "fine_gray", "Cox": "cox"}[heading]
                models[f"{heading}, univariable"] = [self._fit(key, frame, t, cause, dropna) for t in terms]
                models[f"{heading}, multivariable"] = result
            else:
                models[heading] = result
        level_labels = {**self.level_labels, **{k: dict(v) for k, v in (a.get("level_labels") or {}).items()}}
        notes = _dropped_notes(models)
        t = tabs.regression_table(models, labels=self.labels, level_labels=level_labels, title=s.title)
        if notes:
            t = dataclasses.replace(t, footnotes=t.footnotes + tuple(notes))
        s.tables.append((t, a["id"]))
        if a.get("forest", True):
            fig = figs.plot_forest(t, width="double")
            s.figures.append((fig, f"{a['id']}_forest", f"{s.title}: forest plot of the ratios with 95% CI."))
        if a.get("ph_test") and model in ("cox", "cause_specific", "competing_risks"):
            fit = multi if model != "competing_risks" else next(r for (m, _), r in multi.fits.items() if "Cox" in m)
            z = fit.ph_test()
            zt = z.table
            body = pd.DataFrame({"Term": [self.labels.get(str(i), str(i)) for i in zt.index],
                                 "Chi-squared": [f"{v:.2f}" for v in zt["statistic"]],
                                 "df": [str(int(v)) for v in zt["df"]],
                                 "p": [tabs.fmt_p(v) for v in zt["p_value"]]})
            s.tables.append((Table(body, title=f"{s.title}: test of proportional hazards",
                                   footnotes=("Score test of the scaled Schoenfeld residuals against "
                                              "Kaplan-Meier-transformed time (Grambsch & Therneau 1994), as "
                                              "R survival::cox.zph.",), data=zt.reset_index(), name="ph_test"),
                             f"{a['id']}_ph_test"))
            fig = figs.plot_schoenfeld(z)
            s.figures.append((fig, f"{a['id']}_schoenfeld", f"{s.title}: scaled Schoenfeld residuals with LOWESS "
                              "smooth; a flat smooth supports proportional hazards."))
        self._method(model, bool(a.get("ph_test")))

    def _run_incidence_rate(self, a: dict, s: Section) -> None:
        import bmstats as bm

        by = a.get("by")
        frame = self.group_column(self.endpoint(a["endpoint"])[0], by)
        per = a.get("per", 1000)
        if self.config["endpoints"][a["endpoint"]].get("recurrent"):
            # recurrent events: each patient's events and time at risk, then rates of counts per person-time
            if "cause" in a:
                raise AnalysisError(f"cause applies to competing-risk endpoints; {a['endpoint']!r} is recurrent "
                                    "(every counted event is an event)")
            frame = bm.event_counts(frame, "id", "start", "stop", "event", terminal="terminal",
                                    covariates=[by] if by is not None else [])
            time, events = "person_time", {"count": "n_events"}
            self._method("incidence_rate_recurrent")
        else:
            cause = a.get("cause", 1)
            frame = frame.assign(**{_EVENT: (frame["status"] == cause).astype("int64")})
            time, events = "time", {"event": _EVENT}
        rates = bm.incidence_rate(frame, time, **events, by=by, per=per)
        ratios = None
        if by is not None:
            ratios = bm.rate_ratio(frame, time, **events, by=by)
        unit = self.config["endpoints"][a["endpoint"]].get("unit", "years")
        s.tables.append((tabs.rate_table(rates, ratios=ratios, group_label=self.label(by) or "Group", per=per,
                                         unit=f"person-{unit}", title=s.title), a["id"]))
        self._method("incidence_rate")

    def _run_mean_cumulative_function(self, a: dict, s: Section) -> None:
        import bmstats as bm

        by = a.get("by")
        frame = self.group_column(self.endpoint(a["endpoint"])[0], by)
        mcf = bm.mean_cumulative_function(frame, "id", "start", "stop", "event", terminal="terminal", by=by,
                                          method=a.get("method", "ghosh-lin"))
        kw = self._fig_kw(a, frame, by)
        kw.setdefault("ylabel", "Mean number of events per patient")
        kw.pop("percent", None)
        p, p_label = None, ""
        if by is not None and len(mcf.groups) > 1:
            comparison = mcf.compare()
            p = comparison.p_value
            unit = self.config["endpoints"][a["endpoint"]].get("unit", "years")
            p_label = f"Equal means at {comparison.tau:.3g} {unit}:"
        fig = figs.plot_mcf(mcf, p_value=p, p_label=p_label, **{k: v for k, v in kw.items() if k not in ("ymax",)})
        s.figures.append((fig, a["id"], captions.curve_caption(
            fig, s.title, "mean cumulative number of events per patient",
            f"Wald test at the end of common follow-up p {_p_phrase(p)}" if p is not None else "")))
        if a.get("times"):
            unit = self.config["endpoints"][a["endpoint"]].get("unit", "years")
            s.tables.append((tabs.mcf_table(mcf, a["times"], group_label=self.label(by) or "Group", unit=unit,
                                            title=f"{s.title}: mean number of events per patient"), a["id"]))
        self._method("mcf_" + mcf.method)

    def _run_rate_regression(self, a: dict, s: Section) -> None:
        import bmstats as bm

        frame = self.endpoint(a["endpoint"])[0]
        per_patient = bm.event_counts(frame, "id", "start", "stop", "event", terminal="terminal",
                                      covariates=[c for c in frame.columns if c not in (
                                          "id", "start", "stop", "event", "terminal", "enum", "event_type", _EVENT)])
        family = a.get("family", "poisson")
        fit = bm.rate_regression(per_patient, "n_events", "person_time", a["formula"], family=family,
                                 dropna=a.get("dropna", False))
        level_labels = {**self.level_labels, **{k: dict(v) for k, v in (a.get("level_labels") or {}).items()}}
        heading = {"poisson": "Poisson", "negative_binomial": "Negative binomial"}[family]
        t = tabs.regression_table({heading: fit}, labels=self.labels, level_labels=level_labels, title=s.title,
                                  ratio_label="RR")
        notes = _dropped_notes({heading: fit})
        if notes:
            t = dataclasses.replace(t, footnotes=t.footnotes + tuple(notes))
        s.tables.append((t, a["id"]))
        s.figures.append((figs.plot_forest(t, width="double"), f"{a['id']}_forest",
                          f"{s.title}: rate ratios with 95% CI."))
        self._method("rate_regression_" + family)

    def _run_exclusion_flow(self, a: dict, s: Section) -> None:
        frame, log = self.endpoint(a["endpoint"])
        if log is None:
            raise AnalysisError(f"endpoint {a['endpoint']!r} has no exclusion log (only cohort endpoints have one)")
        fig = figs.plot_exclusion_flow(log)
        s.figures.append((fig, a["id"], f"{s.title}: patients included and excluded (STROBE flow)."))
        tb = log.table
        body = pd.DataFrame({"Step": tb["step"].astype(str), "Reason": tb["reason"],
                             "Excluded": [f"{int(v):,}" for v in tb["n_excluded"]],
                             "Remaining": [f"{int(v):,}" for v in tb["n_remaining"]]})
        s.tables.append((Table(body, title=s.title, footnotes=(f"Starting from {log.n_start:,} patients.",),
                               data=tb, name="exclusions"), a["id"]))

    def _model_table(self, a: dict, s: Section, heading: str, fit: Any, ratio_label: str | None = None) -> None:
        level_labels = {**self.level_labels, **{k: dict(v) for k, v in (a.get("level_labels") or {}).items()}}
        labels = {**self.labels, **(a.get("labels") or {})}
        t = tabs.regression_table({heading: fit}, labels=labels, level_labels=level_labels, title=s.title,
                                  ratio_label=ratio_label)
        notes = _dropped_notes({heading: fit})
        if notes:
            t = dataclasses.replace(t, footnotes=t.footnotes + tuple(notes))
        s.tables.append((t, a["id"]))
        if a.get("forest", True):
            s.figures.append((figs.plot_forest(t, width="double"), f"{a['id']}_forest",
                              f"{s.title}: {ratio_label or 'ratios'} with 95% CI."))

    def _run_time_varying_cox(self, a: dict, s: Section) -> None:
        import bmstats as bm

        frame = self.endpoint(a["endpoint"])[0]
        if "start" not in frame.columns:
            raise AnalysisError(f"endpoint {a['endpoint']!r} has no counting-process rows: give it time_varying")
        fit = bm.cox(frame, "stop", _EVENT, a["formula"], entry="start", dropna=a.get("dropna", False))
        # the table's "Patients" are patients, not their counting-process intervals
        fit = dataclasses.replace(fit, n=int(frame.loc[frame.index.isin(fit.design.rows), "patient_id"].nunique()))
        exposures = list(self.config["endpoints"][a["endpoint"]].get("time_varying") or {})
        s.notes.append(f"{frame['patient_id'].nunique():,} patients in {len(frame):,} counting-process intervals; "
                       f"time-varying exposures ({', '.join(self.label(e) or e for e in exposures)}) switch on at "
                       "their start date, so the time before it counts as unexposed.")
        self._model_table(a, s, "Time-varying Cox", fit)
        self._method("time_varying_cox")

    def _run_landmark(self, a: dict, s: Section) -> None:
        import bmstats as bm

        rows = self.endpoint(a["endpoint"])[0]
        exposures = list(self.config["endpoints"][a["endpoint"]].get("time_varying") or {})
        lm = bm.landmark(rows.drop(columns=[_EVENT], errors="ignore"), a["at"], time_varying=exposures)
        lm[_EVENT] = (lm["status"] > 0).astype("int64")
        unit = self.config["endpoints"][a["endpoint"]].get("unit", "years")
        counts = lm.attrs["landmark"][0]
        s.notes.append(f"Landmark at {a['at']:g} {unit}: {counts['at_risk']:,} patients alive and under follow-up "
                       f"({counts['ended_before']:,} died or were censored before it); exposure as recorded at the "
                       "landmark, follow-up from the landmark.")
        by = a.get("by")
        if by is not None:
            frame = self.group_column(lm, by)
            km = bm.kaplan_meier(frame, "time", _EVENT, by=by)
            test = bm.logrank_test(frame, "time", _EVENT, by=by)
            kw = self._fig_kw(a, frame, by)
            kw.setdefault("ylabel", "Survival probability")
            kw["xlabel"] = (a.get("figure") or {}).get("xlabel", f"Time since the landmark ({unit})")
            fig = figs.plot_survival(km, test=test, **kw)
            s.figures.append((fig, a["id"], captions.curve_caption(
                fig, s.title, "Kaplan-Meier estimate from the landmark", f"log-rank p {_p_phrase(test.p_value)}")))
            if a.get("times"):
                group_label = (a.get("labels") or {}).get(by) or self.label(by) or "Group"
            s.tables.append((tabs.survival_table(km, a["times"], group_label=group_label, unit=unit,
                                                     test=test, title=f"{s.title}: survival from the landmark"),
                                 f"{a['id']}_at_times"))
        if a.get("formula"):
            fit = bm.cox(lm, "time", _EVENT, a["formula"])
            level_labels = {**self.level_labels, **{k: dict(v) for k, v in (a.get("level_labels") or {}).items()}}
            t = tabs.regression_table({"Landmark Cox": fit}, labels={**self.labels, **(a.get("labels") or {})},
                                      level_labels=level_labels,
                                      title=f"{s.title}: hazard ratios from the landmark")
            s.tables.append((t, f"{a['id']}_cox"))
        self._method("landmark")

    def _run_state_occupation(self, a: dict, s: Section) -> None:
        import bmstats as bm

        rows = self.endpoint(a["endpoint"])[0]
        fit = bm.state_occupation(rows)
        names = {st: str(st).replace("_", " ") for st in fit.states}
        names.update(a.get("state_labels") or {})
        kw = {k: v for k, v in (a.get("figure") or {}).items() if k in ("xlabel", "ylabel", "percent", "width")}
        unit = self.config["endpoints"][a["endpoint"]].get("unit", "years")
        kw.setdefault("xlabel", f"Time ({unit})")
        kw.setdefault("width", self.width)
        fig = figs.plot_state_occupation(fit, labels=names, **kw)
        s.figures.append((fig, a["id"], f"{s.title}: probability of being in each state (Aalen-Johansen), stacked; "
                          "the bands add up to 100%."))
        if a.get("times"):
            at = fit.at(a["times"])
            rows_out = []
            for st in fit.states:
                sub = at[at["state"] == st]
                rows_out.append([names[st]] + [tabs.fmt_ci(e * 100, lo * 100, hi * 100, decimals=1)
                                               for e, lo, hi in zip(sub["estimate"], sub["lower"], sub["upper"])])
            body = pd.DataFrame(rows_out, columns=["State"] + [f"{t:g} {unit}, % (95% CI)" for t in a["times"]])
            s.tables.append((Table(body, title=f"{s.title}: probability of being in each state",
                                   footnotes=("Aalen-Johansen estimates; infinitesimal-jackknife standard errors "
                                              "and log-scale 95% confidence intervals, as R survival::survfit.",),
                                   data=at, name="state_occupation"), a["id"]))
        self._method("state_occupation")

    def _run_proportion(self, a: dict, s: Section) -> None:
        import bmstats as bm

        by = a.get("by")
        frame = self.group_column(self.frame, by)
        method = a.get("method", "wilson")
        overall = bm.proportion(frame, a["outcome"], method=method)
        res = bm.proportion(frame, a["outcome"], by=by, method=method) if by else overall
        tb = res.table
        labels = [str(g) for g in tb["group"]] if by else []
        parts = [(lab, r) for lab, (_, r) in zip(labels, tb.iterrows())] + [("All patients", overall.table.iloc[0])]
        body = pd.DataFrame({
            self.label(by) or "Group": [lab for lab, _ in parts],
            "Patients": [f"{int(r['n']):,}" for _, r in parts],
            a.get("outcome_label", self.label(a["outcome"])): [f"{int(r['events']):,}" for _, r in parts],
            "% (95% CI)": [tabs.fmt_ci(r["estimate"] * 100, r["lower"] * 100, r["upper"] * 100, decimals=1)
                           if r["n"] > 0 else "-" for _, r in parts],
        })
        notes = [f"{'Wilson score' if method == 'wilson' else 'Clopper-Pearson exact'} 95% confidence intervals."]
        if res.test is not None:
            t = res.test.iloc[0]
            notes.append(f"Chi-squared test of equal proportions: {t['statistic']:.2f} on {int(t['df'])} df, "
                         f"p {_p_phrase(t['p_value'])}.")
        s.tables.append((Table(body, title=s.title, footnotes=tuple(notes), data=tb, name="proportion"), a["id"]))
        self._method("proportion_" + method)

    def _run_logistic(self, a: dict, s: Section) -> None:
        import bmstats as bm

        fit = bm.logistic(self.frame, a["outcome"], a["formula"], interval=a.get("interval", "profile"),
                          dropna=a.get("dropna", False))
        self._model_table(a, s, "Logistic", fit, ratio_label="OR")
        self._method("logistic_" + fit.interval)

    # ---------------------------------------------------------------------------------- methods
    # ------------------------------------------------------------------ risk prediction and its validation
    def _prediction_fit(self, a: dict):
        """(fit, development rows, validation rows, status column, cause, competing) of a prediction analysis:
        the model is fitted on the rows ``development`` selects and judged on those ``validation`` selects
        (both default to every row of the endpoint)."""
        import bmstats as bm

        frame = self.endpoint(a["endpoint"])[0]

        def rows(key):
            if key not in a:
                return frame
            keep = self._expr(a[key], frame, ("analyses", a["id"], key)).astype(bool).to_numpy()
            if not keep.any():
                self._fail(("analyses", a["id"], key), f"the expression {a[key]!r} selects no rows")
            return frame.loc[keep].reset_index(drop=True)

        dev, val = rows("development"), rows("validation")
        model, cause = a.get("model", "cox"), int(a.get("cause", 1))
        dropna = a.get("dropna", False)
        if model == "cox":
            fit = bm.cox(dev, "time", _EVENT, a["formula"], dropna=dropna)
            status = _EVENT
        elif model == "fine_gray":
            from bmstats.estimate.prediction import fine_gray_for_cause

            fit = fine_gray_for_cause(dev, "time", "status", a["formula"], cause, dropna=dropna)
            status = "status"
        else:
            fit = bm.competing_risks_models(dev, "time", "status", a["formula"], dropna=dropna)
            status = "status"
        competing = status == "status" and bool((val["status"] > 0).any() and (val["status"] > 1).any())
        self._method(f"prediction_{model}")
        return fit, dev, val, status, cause, competing

    def _horizon_unit(self, a: dict) -> str:
        return self.config["endpoints"][a["endpoint"]].get("unit", "years")

    def _run_validation(self, a: dict, s: Section) -> None:
        import bmstats as bm
        from bmstats.report import prediction_figures as pfig

        fit, dev, val, status, cause, competing = self._prediction_fit(a)
        h = float(a["time_horizon"])
        unit = self._horizon_unit(a)
        name = a.get("model_label", "Model")
        s.notes.append(f"Model fitted on {len(dev):,} patients ({int((dev[status] == cause).sum()):,} events), "
                       f"validated on {len(val):,} ({int((val[status] == cause).sum()):,} events); horizon "
                       f"{h:g} {unit}.")
        if a.get("model", "cox") != "cause_specific":
            t = tabs.regression_table({name: fit}, labels=self.labels, level_labels=self.level_labels,
                                      title=f"{s.title}: the model (development data)")
            s.tables.append((t, f"{a['id']}_model"))
        sc = bm.score(val, "time", status, {name: fit}, times=[h], cause=cause)
        risk = bm.predict_risk(fit, val, [h], cause=cause if status == "status" else None,
                               conf_int=False)["risk"].to_numpy()
        conc = bm.concordance(val.assign(__risk__=risk), "time", status, "__risk__",
                              cause=cause if competing else None, tau=h)
        cal = bm.calibration(val, "time", status, {name: risk}, time_horizon=h, cause=cause)
        auc = sc.auc.iloc[0]
        brier = sc.brier.set_index("model")
        rows = [("C index (truncated at the horizon)", conc.estimate, conc.lower, conc.upper),
                (f"AUC at {h:g} {unit}", auc.estimate, auc.lower, auc.upper),
                (f"Brier score at {h:g} {unit}", brier.loc[name, "estimate"], brier.loc[name, "lower"],
                 brier.loc[name, "upper"]),
                ("Brier score, null model", brier.loc["Null model", "estimate"], brier.loc["Null model", "lower"],
                 brier.loc["Null model", "upper"]),
                ("Index of prediction accuracy (IPA)", brier.loc[name, "ipa"], np.nan, np.nan)]
        cs = cal.summary.set_index("measure")
        labels = {"oe": "Observed / expected", "intercept": "Calibration intercept", "slope": "Calibration slope",
                  "ici": "ICI", "e50": "E50", "e90": "E90", "emax": "Emax"}
        rows += [(labels[m], cs.loc[m, "estimate"], cs.loc[m, "lower"], cs.loc[m, "upper"]) for m in cs.index]
        body = pd.DataFrame({"Measure": [r[0] for r in rows], "Estimate": [f"{r[1]:.3f}" for r in rows],
                             "95% CI": ["" if not np.isfinite(r[2]) else f"{r[2]:.3f} to {r[3]:.3f}" for r in rows]})
        what = (f"cause {cause} with competing events (Wolbers C; Aalen-Johansen O/E)" if competing
                else "Kaplan-Meier based")
        s.tables.append((Table(body, title=f"{s.title}: discrimination and calibration",
                               footnotes=(f"Validation at {h:g} {unit}, {what}; AUC and Brier score with inverse "
                                          "probability of censoring weights (riskRegression::Score); calibration "
                                          "curve from a restricted cubic spline of log(-log(1 - risk)) (Austin "
                                          "et al. 2020).",),
                               data=pd.DataFrame(rows, columns=["measure", "estimate", "lower", "upper"]),
                               name="validation"), a["id"]))
        thresholds = a.get("thresholds") or [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]
        nb = bm.net_benefit(val, "time", status, {name: risk}, time_horizon=h, thresholds=thresholds, cause=cause)
        wide = nb.pivot_table(index="threshold", columns="model", values="net_benefit", sort=False)
        nb_body = pd.DataFrame({"Threshold": [f"{t:.0%}" for t in wide.index],
                                **{m: [f"{v:.3f}" for v in wide[m]] for m in [name, "treat all", "treat none"]}})
        s.tables.append((Table(nb_body, title=f"{s.title}: net benefit", data=nb, name="net_benefit",
                               footnotes=("Net benefit of treating those whose predicted risk is at least the "
                                          "threshold (Vickers et al. 2008).",)), f"{a['id']}_net_benefit"))
        s.figures.append((cal.plot(), f"{a['id']}_calibration",
                          f"{s.title}: calibration at {h:g} {unit}, smoothed curve with 95% band, observed risk in "
                          "tenths of predicted risk, and the distribution of the predictions."))
        s.figures.append((pfig.plot_roc(sc), f"{a['id']}_roc", f"{s.title}: ROC curve at {h:g} {unit}."))
        s.figures.append((pfig.plot_decision_curve(nb), f"{a['id']}_decision_curve",
                          f"{s.title}: decision curve at {h:g} {unit}."))
        s.figures.append((pfig.plot_risk_groups(val, "time", status, risk, time_horizon=h, cause=cause),
                          f"{a['id']}_risk_groups",
                          f"{s.title}: observed risk by quarter of predicted risk, each quarter's mean predicted "
                          f"risk at {h:g} {unit} marked on the right."))
        if a.get("bootstrap") and a.get("model", "cox") == "cox":
            formula = a["formula"]
            bv = bm.bootstrap_validate(lambda d: bm.cox(d, "time", _EVENT, formula), dev, "time", _EVENT,
                                       n_boot=int(a["bootstrap"]), seed=int(a.get("seed", 1)), time_horizon=h)
            t = bv.summary
            body = pd.DataFrame({"Measure": [{"c": "C index", "slope": "Calibration slope", "d": "Royston D",
                                              "brier": f"Brier score at {h:g} {unit}"}[m] for m in t.index],
                                 **{c.capitalize(): [f"{v:.3f}" for v in t[c]] for c in
                                    ("apparent", "optimism", "corrected")}})
            s.tables.append((Table(body, title=f"{s.title}: internal validation (bootstrap)", data=t.reset_index(),
                                   name="bootstrap", footnotes=(f"Harrell's optimism correction, {bv.n_boot} "
                                                                f"bootstrap samples (seed {bv.seed}).",)),
                             f"{a['id']}_bootstrap"))
        self._method("validation")

    def _run_calibration(self, a: dict, s: Section) -> None:
        import bmstats as bm

        fit, dev, val, status, cause, competing = self._prediction_fit(a)
        h = float(a["time_horizon"])
        cal = bm.calibration(val, "time", status, {a.get("model_label", "Model"): fit}, time_horizon=h, cause=cause)
        t = cal.summary
        body = pd.DataFrame({"Measure": t["measure"], "Estimate": [f"{v:.3f}" for v in t["estimate"]],
                             "95% CI": ["" if not np.isfinite(lo) else f"{lo:.3f} to {hi:.3f}"
                                        for lo, hi in zip(t["lower"], t["upper"])]})
        s.tables.append((Table(body, title=s.title, data=t, name="calibration"), a["id"]))
        s.figures.append((cal.plot(), f"{a['id']}_plot", f"{s.title}: calibration at {h:g} "
                          f"{self._horizon_unit(a)}."))
        self._method("validation")

    def _run_decision_curve(self, a: dict, s: Section) -> None:
        import bmstats as bm
        from bmstats.report import prediction_figures as pfig

        fit, dev, val, status, cause, competing = self._prediction_fit(a)
        h = float(a["time_horizon"])
        thresholds = a.get("thresholds") or list(np.round(np.arange(0.01, 0.61, 0.01), 2))
        nb = bm.net_benefit(val, "time", status, {a.get("model_label", "Model"): fit}, time_horizon=h,
                            thresholds=thresholds, cause=cause)
        s.figures.append((pfig.plot_decision_curve(nb), a["id"], f"{s.title}: decision curve at {h:g} "
                          f"{self._horizon_unit(a)}."))
        self._method("validation")

    def _run_nomogram(self, a: dict, s: Section) -> None:
        from bmstats.report import prediction_figures as pfig

        fit, dev, val, status, cause, competing = self._prediction_fit(a)
        if a.get("model", "cox") == "cause_specific":
            self._fail(("analyses", a["id"], "model"), "a nomogram needs a Cox or Fine-Gray model")
        s.figures.append((pfig.plot_nomogram(fit, dev, times=a["times"], time_label=self._horizon_unit(a)),
                          a["id"], f"{s.title}: points per covariate, total points and predicted risk."))

    def _method(self, key: str, *flags: bool) -> None:
        if key not in self.methods:
            self.methods.append(key)
        if flags and flags[0] and f"{key}+" not in self.methods:
            self.methods.append(f"{key}+")

    def methods_paragraph(self) -> str:
        m = self.methods
        text = []
        if "table_one" in m:
            names = {"Chi-squared": "Pearson's chi-squared test", "Fisher's exact": "Fisher's exact test (sparse 2 x 2 "
                     "tables)", "t-test": "the t-test", "ANOVA": "one-way ANOVA", "Wilcoxon rank-sum":
                     "the Wilcoxon rank-sum test", "Kruskal-Wallis": "the Kruskal-Wallis test"}
            tests = [names.get(x, x) for x in self.table_one_shown["tests"]]
            sentence = "Patient characteristics are summarised as n (%), mean (SD) or median [Q1, Q3]"
            if tests:
                sentence += " and compared across groups with " + (
                    tests[0] if len(tests) == 1 else ", ".join(tests[:-1]) + " or " + tests[-1])
            if self.table_one_shown["smd"]:
                sentence += "; standardised mean differences are given (Yang & Dalton 2012)"
            text.append(sentence + ".")
        if "kaplan_meier" in m:
            text.append("Survival was estimated with the Kaplan-Meier method with Greenwood variance and log-log "
                        "confidence intervals" + (" and compared between groups with the log-rank test"
                                                   if "kaplan_meier+" in m else "") + ".")
        if "cumulative_incidence" in m:
            text.append("Cumulative incidence in the presence of competing risks was estimated with the "
                        "Aalen-Johansen estimator" + (" and compared between groups with Gray's test (Gray 1988)"
                                                      if "cumulative_incidence+" in m else "") + ".")
        models = []
        if "cox" in m:
            models.append("Cox proportional hazards models (Efron ties)")
        if "cause_specific" in m or "competing_risks" in m:
            models.append("cause-specific Cox models (competing events censored)")
        if "fine_gray" in m or "competing_risks" in m:
            models.append("Fine-Gray subdistribution hazard models (Fine & Gray 1999)")
        if models:
            text.append("Hazard ratios come from " + ", ".join(models) + ", with 95% Wald confidence intervals.")
        if any(k.endswith("+") and k.split("+")[0] in ("cox", "cause_specific", "competing_risks") for k in m):
            text.append("Proportional hazards were checked with scaled Schoenfeld residuals (Grambsch & Therneau "
                        "1994).")
        if "time_varying_cox" in m:
            text.append("Exposures that start during follow-up entered Cox models as time-dependent covariates "
                        "(counting-process intervals split at each exposure's start, as R survival::tmerge), so "
                        "that the time before an exposure starts counts as unexposed (no immortal-time bias).")
        if "landmark" in m:
            text.append("Landmark analyses (Anderson, Cain & Gelber 1983) follow the patients alive at the landmark "
                        "time, classified by their exposure at that time.")
        if "state_occupation" in m:
            text.append("State occupation probabilities of the illness-death model were estimated with the "
                        "Aalen-Johansen estimator with infinitesimal-jackknife standard errors.")
        if any(k.startswith("proportion_") for k in m):
            text.append("Proportions are given with " + " and ".join(
                n for k, n in (("proportion_wilson", "Wilson score"), ("proportion_clopper-pearson",
                                                                       "Clopper-Pearson exact")) if k in m)
                        + " 95% confidence intervals.")
        if any(k.startswith("logistic_") for k in m):
            text.append("Odds ratios come from logistic regression with "
                        + ("profile-likelihood" if "logistic_profile" in m else "Wald") + " 95% confidence intervals.")
        if "validation" in m:
            text.append("Prediction models were validated at the stated horizon: discrimination by the concordance "
                        "index and the time-dependent AUC, overall accuracy by the Brier score and the index of "
                        "prediction accuracy (inverse probability of censoring weights, as riskRegression::Score), "
                        "calibration by the observed/expected ratio, the calibration slope and a smoothed "
                        "calibration curve with the integrated calibration index (Austin et al. 2020), and "
                        "clinical usefulness by decision curves (Vickers & Elkin 2006); with competing risks the "
                        "absolute risk accounts for the competing events.")
        if "incidence_rate" in m:
            text.append("Incidence rates are events per person-time with 95% confidence intervals.")
        if "incidence_rate_recurrent" in m:
            text.append("Rates of recurrent events are the events counted per patient over the time at risk "
                        "(bm.event_counts of the recurrent-event rows), summed by group, with exact Poisson 95% "
                        "confidence intervals; rate ratios have exact conditional limits and p-values (R's "
                        "poisson.test).")
        if "mcf_ghosh-lin" in m:
            text.append("The mean cumulative number of recurrent events per patient was estimated with the "
                        "Ghosh-Lin estimator, death being a terminal event (Ghosh & Lin 2000), with robust "
                        "standard errors.")
        if "mcf_nelson-aalen" in m:
            text.append("The mean cumulative function of recurrent events was estimated with the Nelson-Aalen "
                        "estimator with robust standard errors (Lawless & Nadeau 1995).")
        for fam, name in (("poisson", "Poisson"), ("negative_binomial", "negative binomial")):
            if f"rate_regression_{fam}" in m:
                text.append(f"Rate ratios of recurrent events come from {name} regression with the log of "
                            "person-time as offset.")
        return " ".join(text)

    def versions(self) -> str:
        import bmstats

        parts = [f"bmstats {bmstats.__version__}", f"Python {platform.python_version()}"]
        for dist in ("numpy", "pandas", "scipy", "statsmodels", "formulaic", "matplotlib", "seaborn", "python-docx"):
            try:
                parts.append(f"{dist} {metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                pass
        return ", ".join(parts)

    # ------------------------------------------------------------------------------------ output
    def write(self, sections: list[Section]) -> None:
        from jinja2 import Environment, PackageLoader, select_autoescape

        tdir, fdir = self.out / "tables", self.out / "figures"
        table_no = figure_no = 0
        rendered = []
        for s in sections:
            items = []
            for fig, stem, caption in s.figures:
                figure_no += 1
                paths = figs.save_figure(fig, fdir / stem, formats=self.figure_formats)
                png = next((p for p in paths if p.suffix == ".png"), None)
                if png is not None:
                    data = png.read_bytes()
                else:  # PNG files not asked for: render one for the page only
                    buf = io.BytesIO()
                    figs.save_figure_to(fig, buf, "png")
                    data = buf.getvalue()
                items.append({"kind": "figure", "number": figure_no, "caption": caption,
                              "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
                              "files": [f"figures/{stem}.{ext}" for ext in self.figure_formats],
                              "width": int(fig.get_figwidth() * 96), "width_in": fig.get_figwidth(),
                              "pdf_name": f"figures/{stem}.pdf"})
                if self.pdf:
                    buf = io.BytesIO()
                    figs.save_figure_to(fig, buf, "pdf")
                    self.pdf_figures[f"figures/{stem}.pdf"] = buf.getvalue()
                _close(fig)
            for table, stem in s.tables:
                table_no += 1
                table.save(tdir / stem, formats=self.table_formats)
                items.append({"kind": "table", "number": table_no, "html": table.to_html(table_id=f"table-{stem}"),
                              "files": [f"tables/{stem}.{ext}" for ext in self.table_formats],
                              "tex": table.to_latex(label=f"tab:{stem}") if self.pdf else ""})
            # tables first, then figures: a reader meets the numbers before the picture
            items.sort(key=lambda it: 0 if it["kind"] == "table" else 1)
            rendered.append({"id": s.id, "title": s.title, "description": s.description, "items": items,
                             "notes": s.notes})
        env = Environment(loader=PackageLoader("bmstats.report", "templates"), autoescape=select_autoescape(["html"]),
                          keep_trailing_newline=True)
        page = env.get_template("report.html.j2").render(
            title=self.config["title"], description=self.config.get("description", ""),
            author=self.config.get("author", ""), sections=rendered,
            methods=" ".join(t for t in (self.methods_paragraph(), self.validation_text()) if t),
            versions=self.versions(), data_files=self.data_files, config_name=f"{self.name}.yaml",
        )
        (self.out / "report.html").write_text(page, encoding="utf-8")
        if self.pdf:
            from bmstats.report.pdf import compile_pdf, latex_document

            tex = latex_document(
                title=self.config["title"], description=self.config.get("description", ""),
                author=self.config.get("author", ""), sections=rendered, methods=self.methods_paragraph(),
                versions=self.versions(), data_files=self.data_files, config_name=f"{self.name}.yaml")
            (self.out / "report.tex").write_text(tex, encoding="utf-8")
            compile_pdf(tex, self.pdf_figures, self.out / "report.pdf")


def _dropped_notes(models: dict) -> list[str]:
    """'Model: 12 patients with missing values excluded.' for fits made with dropna=True."""
    notes = []
    for heading, value in models.items():
        for fit in (value if isinstance(value, list) else [value]):
            for f in (fit.fits.values() if isinstance(fit, CompetingRisksModels) else [fit]):
                n = f.dropped.n
                if n:
                    note = f"{heading}: {n:,} rows with missing values excluded." if heading else \
                        f"{n:,} rows with missing values excluded."
                    if note not in notes:
                        notes.append(note)
    return notes


def _p_phrase(p: float) -> str:
    text = tabs.fmt_p(p)
    return text if text.startswith(("<", ">")) else f"= {text}"


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)  # a no-op for a Figure that pyplot does not manage


OUTPUTS = ("report.html", "tables/", "figures/")  # what a build writes inside its output folder


def output_problem(out_dir: Path, outputs: tuple[str, ...] = OUTPUTS) -> str | None:
    """Why ``out_dir`` cannot receive a report (None if it can), found before any analysis runs: the
    folder is made (with its parents) and a probe file written and removed; a place the build writes to
    that is a folder where a file belongs, or the reverse, is named."""
    import tempfile

    if out_dir.exists() and not out_dir.is_dir():
        return "exists and is a file, not a folder"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".bmstats-probe-"):
            pass
    except OSError as exc:
        where = f" ({Path(exc.filename).as_posix()})" if getattr(exc, "filename", None) else ""
        return f"cannot be written to: {exc.strerror or type(exc).__name__}{where}"
    for name in outputs:
        target = out_dir / name.rstrip("/")
        if name.endswith("/") and target.exists() and not target.is_dir():
            return f"{target.as_posix()} exists and is a file, not a folder"
        if not name.endswith("/") and target.is_dir():
            return f"{target.as_posix()} exists and is a folder, not a file"
    return None


def build_report(config_path: str | Path, out_dir: str | Path, *, debug: bool = False,
                 outputs: dict | None = None, pdf: bool = False) -> int:
    """Build one report.

    Parameters
    ----------
    config_path : str or Path
        The report's YAML config (docs/reports.md).
    out_dir : str or Path
        Folder for ``report.html``, ``tables/`` and ``figures/``; created if needed.  Problems with it (a
        file where a folder belongs, not writable) are found before any analysis runs.
    debug : bool, default False
        Raise bmstats' own errors and ``OSError`` with their traceback instead of printing one line.
    outputs : dict, optional
        Overrides the config's ``outputs`` keys (e.g. ``{"tables": ["html"], "figures": ["png"]}`` writes only
        what the HTML page needs; the page itself is the same).
    pdf : bool, default False
        Also write ``report.pdf`` and ``report.tex``, the whole report typeset by pdflatex
        (:mod:`bmstats.report.pdf`); a missing or failing pdflatex makes the exit code 1.

    Returns
    -------
    int
        0 on success, 1 if an analysis failed, 2 for a bad config, unreadable data or an unusable output
        folder. bmstats' own errors (:class:`~bmstats._checks.InputError` and its subclasses) and ``OSError``
        are one line on stderr naming the analysis; any other exception is a bug and propagates with its
        traceback.
    """
    config_path, out_dir = Path(config_path), Path(out_dir)
    started = _time.perf_counter()
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        if debug:
            raise
        _progress(f"error: {exc}")
        return EXIT_CONFIG
    if outputs:
        config["outputs"] = {**(config.get("outputs") or {}), **outputs}
    problem = output_problem(out_dir)
    if problem:
        _progress(f"error: output folder {out_dir.as_posix()}: {problem} (nothing was run)")
        return EXIT_CONFIG
    _progress(f"{config_path.name}: {config['title']}")
    builder = ReportBuilder(config, config_path, out_dir)
    builder.pdf = pdf
    try:
        t0 = _time.perf_counter()
        builder.load_data()
        _progress(f"  data: {', '.join(f for f, _ in builder.data_files)} ({len(builder.frame):,} rows) "
                  f"[{_time.perf_counter() - t0:.1f}s]")
    except (InputError, OSError) as exc:
        if debug:
            raise
        _progress(f"error: {exc}")
        return EXIT_CONFIG
    sections = []
    analyses = config["analyses"]
    for i, analysis in enumerate(analyses, start=1):
        t0 = _time.perf_counter()
        _progress(f"  [{i}/{len(analyses)}] {analysis['id']} ({analysis['type']}) ...")
        try:
            sections.append(builder.run(analysis))
        except ConfigError as exc:
            if debug:
                raise
            _progress(f"error: {exc}")
            return EXIT_CONFIG
        except (InputError, OSError) as exc:  # which analysis failed and why; anything else is a bug: traceback
            if debug:
                raise
            line = config["_lines"].get(("analyses", i - 1), "?")
            _progress(f"error: {config['_source']}:{line}: analyses[{i - 1}] ({analysis['id']}): "
                      f"{type(exc).__name__}: {exc}")
            return EXIT_FAILED
        _progress(f"      done [{_time.perf_counter() - t0:.1f}s]")
    t0 = _time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    from bmstats.report.pdf import PdfError

    try:
        builder.write(sections)
    except PdfError as exc:
        _progress(f"error: {exc}")
        return EXIT_FAILED
    written = "report.html" + (", report.pdf" if pdf else "")
    _progress(f"  wrote {out_dir.as_posix()}/{written}, tables/ and figures/ [{_time.perf_counter() - t0:.1f}s]")
    _progress(f"  total {_time.perf_counter() - started:.1f}s")
    return EXIT_OK


def build_all(folder: str | Path, out_dir: str | Path, *, debug: bool = False) -> int:
    """Build every ``*.yaml`` config in ``folder`` into ``out_dir/<name>/``; returns the worst exit code.

    Parameters
    ----------
    folder : str or Path
        Folder whose ``*.yaml`` files are report configs.
    out_dir : str or Path
        Each config ``NAME.yaml`` is built into ``out_dir/NAME/``.
    debug : bool, default False
        As in :func:`build_report`.

    Returns
    -------
    int
        The largest exit code of :func:`build_report` over the configs; 2 when there is none.
    """
    folder, out_dir = Path(folder), Path(out_dir)
    configs = sorted(p for p in folder.glob("*.yaml") if p.is_file())
    if not configs:
        _progress(f"error: no *.yaml report configs in {folder.as_posix()}")
        return EXIT_CONFIG
    worst = EXIT_OK
    for path in configs:
        code = build_report(path, out_dir / path.stem, debug=debug)
        worst = max(worst, code)
    return worst
