"""The report YAML schema (documented in docs/reports.md), checked with the line of every offending key.

``load_config(path)`` parses the YAML keeping each value's line number, checks it against :data:`SCHEMA`
and returns a plain dict; any problem raises :class:`ConfigError` whose message names the file, the line,
the key path and what was expected, e.g.::

    analyses/rotterdam.yaml:23: analyses[2].type: 'kaplan_meyer' is not one of table_one, kaplan_meier, ...
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bmstats._checks import InputError


class ConfigError(InputError):
    """A report configuration that does not follow the schema (the message names key and line)."""


# --------------------------------------------------------------------------------------------- schema
# A spec is: a type name ("str", "int", "number", "bool", "any", "expr"), a tuple of allowed values,
# ["list", spec], {"dict": spec} (free keys), or {"keys": {name: (spec, required)}} (fixed keys).
STR, INT, NUM, BOOL, ANY = "str", "int", "number", "bool", "any"
TABLE_FORMATS = ("html", "md", "tex", "docx", "csv")
FIGURE_FORMATS = ("png", "svg", "pdf")
EVENTS = ("diagnosis", "bone_metastasis", "visceral_metastasis", "skeletal_event", "death", "breast_cancer_death")
DATASETS = ("rotterdam", "gbsg", "rotterdam_gbsg", "bm_cohort")


def _keys(required: dict | None = None, optional: dict | None = None) -> dict:
    spec = {k: (v, True) for k, v in (required or {}).items()}
    spec.update({k: (v, False) for k, v in (optional or {}).items()})
    return {"keys": spec}


_FIGURE = {
    "xlabel": STR, "ylabel": STR, "xmax": NUM, "ymax": NUM, "ticks": ["list", NUM], "width": ("single", "double"),
    "risk_table": BOOL, "conf_int": BOOL, "percent": BOOL, "legend_title": STR,
}
_COMMON = {"title": STR, "description": STR, "labels": {"dict": STR}}

_PREDICTION = {"model": ("cox", "fine_gray", "cause_specific"), "cause": INT, "development": STR, "validation": STR,
               "model_label": STR, "dropna": BOOL, **_COMMON}
ANALYSES: dict[str, dict] = {
    "table_one": _keys({"variables": ["list", STR]}, {
        "by": STR, "endpoint": STR, "categorical": ["list", STR], "nonnormal": ["list", STR], "tests": BOOL,
        "smd": BOOL, "missing": ("ifany", "always", "no"), "overall": BOOL, "decimals": INT, **_COMMON}),
    "kaplan_meier": _keys({"endpoint": STR}, {
        "by": STR, "times": ["list", NUM], "median": BOOL, "test": BOOL, "figure": _keys(optional=_FIGURE),
        **_COMMON}),
    "cumulative_incidence": _keys({"endpoint": STR}, {
        "by": STR, "times": ["list", NUM], "cause": INT, "causes": ["list", INT], "stacked": BOOL,
        "figure": _keys(optional=_FIGURE), **_COMMON}),
    "regression": _keys({"endpoint": STR, "formula": STR}, {
        "model": ("cox", "fine_gray", "cause_specific", "competing_risks"), "cause": INT, "univariable": BOOL,
        "forest": BOOL, "ph_test": BOOL, "variables": ["list", STR], "level_labels": {"dict": {"dict": STR}},
        "dropna": BOOL, **_COMMON}),
    "incidence_rate": _keys({"endpoint": STR}, {"by": STR, "per": NUM, "cause": INT, **_COMMON}),
    "mean_cumulative_function": _keys({"endpoint": STR}, {
        "by": STR, "times": ["list", NUM], "method": ("ghosh-lin", "nelson-aalen"), "figure": _keys(optional=_FIGURE),
        **_COMMON}),
    "rate_regression": _keys({"endpoint": STR, "formula": STR}, {
        "family": ("poisson", "negative_binomial"), "per": NUM, "level_labels": {"dict": {"dict": STR}},
        "dropna": BOOL, **_COMMON}),
    "exclusion_flow": _keys({"endpoint": STR}, {**_COMMON}),
    "time_varying_cox": _keys({"endpoint": STR, "formula": STR}, {
        "level_labels": {"dict": {"dict": STR}}, "dropna": BOOL, "forest": BOOL, **_COMMON}),
    "landmark": _keys({"endpoint": STR, "at": NUM}, {
        "by": STR, "formula": STR, "times": ["list", NUM], "level_labels": {"dict": {"dict": STR}},
        "figure": _keys(optional=_FIGURE), **_COMMON}),
    "state_occupation": _keys({"endpoint": STR}, {
        "times": ["list", NUM], "state_labels": {"dict": STR}, "figure": _keys(optional=_FIGURE), **_COMMON}),
    "proportion": _keys({"outcome": STR}, {
        "by": STR, "method": ("wilson", "clopper-pearson"), "outcome_label": STR, **_COMMON}),
    "logistic": _keys({"outcome": STR, "formula": STR}, {
        "interval": ("profile", "wald"), "level_labels": {"dict": {"dict": STR}}, "dropna": BOOL,
        "forest": BOOL, **_COMMON}),
    "validation": _keys({"endpoint": STR, "formula": STR, "time_horizon": NUM}, {
        "thresholds": ["list", NUM], "bootstrap": INT, "seed": INT, **_PREDICTION}),
    "calibration": _keys({"endpoint": STR, "formula": STR, "time_horizon": NUM}, {**_PREDICTION}),
    "decision_curve": _keys({"endpoint": STR, "formula": STR, "time_horizon": NUM}, {
        "thresholds": ["list", NUM], **_PREDICTION}),
    "nomogram": _keys({"endpoint": STR, "formula": STR, "times": ["list", NUM]}, {**_PREDICTION}),
}

SCHEMA = _keys(
    {"title": STR, "data": _keys(optional={
        "dataset": DATASETS, "patients": STR, "events": STR, "mapping": STR, "table": STR,
        "derive": {"dict": STR}, "filter": STR}),
     "analyses": ["list", {"analysis": True}]},
    {"description": STR, "author": STR,
     "labels": {"dict": STR},
     "level_labels": {"dict": {"dict": STR}},
     "endpoints": {"dict": _keys(optional={
         "label": STR, "time": STR, "status": STR, "causes": {"dict": STR},
         "event": EVENTS, "competing": ["list", EVENTS], "origin": EVENTS, "unit": ("days", "months", "years"),
         "horizon": NUM, "recurrent": BOOL, "window_days": INT, "event_types": ["list", STR],
         "derive": {"dict": STR}, "filter": STR, "covariates": ["list", STR],
         "time_varying": {"dict": STR}, "states": ["list", EVENTS]})},
     "outputs": _keys(optional={"tables": ["list", TABLE_FORMATS], "figures": ["list", FIGURE_FORMATS],
                                "width": ("single", "double"), "html": BOOL})},
)

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


# ------------------------------------------------------------------------------- parsing with lines
def _walk(node: yaml.Node, path: tuple, lines: dict, source: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: {_fmt(path + (key,))}: duplicate key "
                                  f"(first on line {seen[key]})")
            seen[key] = key_node.start_mark.line + 1
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, source)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, source)


def _fmt(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


class _Checker:
    def __init__(self, lines: dict, source: str):
        self.lines, self.source = lines, source

    def fail(self, path: tuple, message: str) -> None:
        line = self.lines.get(path)
        while line is None and path:
            path = path[:-1]
            line = self.lines.get(path)
        raise ConfigError(f"{self.source}:{line or 1}: {_fmt(path)}: {message}")

    def check(self, value: Any, spec: Any, path: tuple) -> None:
        if isinstance(spec, tuple):
            if value not in spec:
                self.fail(path, f"{value!r} is not one of {', '.join(map(str, spec))}")
        elif spec == STR:
            if not isinstance(value, str):
                self.fail(path, f"expected text, got {_kind(value)}")
        elif spec == INT:
            if not isinstance(value, int) or isinstance(value, bool):
                self.fail(path, f"expected a whole number, got {_kind(value)}")
        elif spec == NUM:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self.fail(path, f"expected a number, got {_kind(value)}")
        elif spec == BOOL:
            if not isinstance(value, bool):
                self.fail(path, f"expected true or false, got {_kind(value)}")
        elif spec == ANY:
            return
        elif isinstance(spec, list):
            if not isinstance(value, list):
                self.fail(path, f"expected a list, got {_kind(value)}")
            for i, item in enumerate(value):
                self.check(item, spec[1], path + (i,))
        elif isinstance(spec, dict) and "dict" in spec:
            if not isinstance(value, dict):
                self.fail(path, f"expected a mapping (key: value), got {_kind(value)}")
            for k, v in value.items():
                self.check(v, spec["dict"], path + (k,))
        elif isinstance(spec, dict) and "keys" in spec:
            if not isinstance(value, dict):
                self.fail(path, f"expected a mapping (key: value), got {_kind(value)}")
            allowed = spec["keys"]
            for k, v in value.items():
                if k not in allowed:
                    self.fail(path + (k,), f"unknown key; allowed here: {', '.join(allowed)}")
                self.check(v, allowed[k][0], path + (k,))
            for k, (_, required) in allowed.items():
                if required and k not in value:
                    self.fail(path, f"missing required key {k!r}")
        elif isinstance(spec, dict) and "analysis" in spec:
            self.check_analysis(value, path)
        else:  # pragma: no cover - a bug in SCHEMA
            raise AssertionError(spec)

    def check_analysis(self, value: Any, path: tuple) -> None:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping with id and type, got {_kind(value)}")
        for key in ("id", "type"):
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        if not isinstance(value["id"], str) or not _ID.match(value["id"]):
            self.fail(path + ("id",), "an id is a name of letters, digits, _ and - starting with a letter")
        kind = value["type"]
        if kind not in ANALYSES:
            self.fail(path + ("type",), f"{kind!r} is not one of {', '.join(ANALYSES)}")
        rest = {k: v for k, v in value.items() if k not in ("id", "type")}
        self.check(rest, ANALYSES[kind], path)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (empty value)"
    return {dict: "a mapping", list: "a list", str: f"text {value!r}", bool: f"{value}"}.get(
        type(value), f"{type(value).__name__} {value!r}")


def load_config(path: str | Path) -> dict:
    """Parse and check a report YAML; raises :class:`ConfigError` naming the key and line."""
    path = Path(path)
    source = path.as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the configuration: {exc.strerror}") from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "<config>") -> dict:
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise ConfigError(f"{source}:1: (top level): the configuration is empty")
            lines: dict = {}
            _walk(node, (), lines, source)
            value = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{source}:{line}: not valid YAML: {exc.problem or exc}") from None
    checker = _Checker(lines, source)
    checker.check(value, SCHEMA, ())
    cross_check(value, checker)
    value["_lines"] = lines
    value["_source"] = source
    return value


def cross_check(config: dict, checker: _Checker) -> None:
    """Checks across keys: unique analysis ids, endpoints that exist, data given one way."""
    data = config["data"]
    given = [k for k in ("dataset", "patients", "table") if k in data]
    if len(given) != 1:
        checker.fail(("data",), "give exactly one of dataset (a bundled name), patients (cohort files) or "
                                "table (one flat file)")
    endpoints = config.get("endpoints", {}) or {}
    for name, ep in endpoints.items():
        flat = "time" in ep or "status" in ep
        if flat and ("event" in ep or ep.get("recurrent") or ep.get("states")):
            checker.fail(("endpoints", name), "use either time and status (expressions) or event (cohort "
                                              "endpoint), not both")
        if flat and not ("time" in ep and "status" in ep):
            checker.fail(("endpoints", name), "a flat endpoint needs both time and status")
        if not flat and "event" not in ep and not ep.get("recurrent") and not ep.get("states"):
            checker.fail(("endpoints", name), "give time and status, event (and competing), recurrent: true, or "
                                              "states (a multi-state model)")
        if ep.get("states") and ("event" in ep or ep.get("recurrent")):
            checker.fail(("endpoints", name), "a multi-state endpoint (states) takes no event or recurrent")
        if ep.get("time_varying") and "event" not in ep:
            checker.fail(("endpoints", name, "time_varying"), "time-varying exposures need an event endpoint")
    seen: dict[str, int] = {}
    for i, analysis in enumerate(config["analyses"]):
        aid = analysis["id"]
        if aid in seen:
            checker.fail(("analyses", i, "id"), f"duplicate id {aid!r} (also analyses[{seen[aid]}])")
        seen[aid] = i
        ep = analysis.get("endpoint")
        if ep is not None and ep not in endpoints:
            checker.fail(("analyses", i, "endpoint"),
                         f"unknown endpoint {ep!r}; defined: {', '.join(endpoints) or 'none'}")
