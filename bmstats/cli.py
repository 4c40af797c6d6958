"""The ``bmstats`` command (also ``python -m bmstats.cli``).

    bmstats validate PATIENTS [--events EVENTS] [--mapping MAPPING] [--format text|json|junit] [--output FILE]
    bmstats datasets [list | export NAME DIR]
    bmstats simulate --n N --seed S --out DIR [--scenario FILE.yaml]
    bmstats report CONFIG -o DIR [--pdf]
    bmstats report-all FOLDER -o DIR

Exit codes: 0 success (``validate``: no errors; warnings allowed), 1 validation errors (or a failed build),
2 unreadable input (missing, empty or binary file, bad mapping) or wrong usage.  bmstats' own errors
(``InputError`` and its subclasses) and ``OSError`` are one line on stderr; ``--debug`` (anywhere on the
command line) shows their traceback instead.  Any other exception is a bug in bmstats and is shown with its
traceback.  Importing this module is light (no pandas); handlers import what they need.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but wrong usage is one line on stderr and exit code 2 (no usage dump)."""

    def error(self, message: str):
        raise _UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bmstats", description="Epidemiology of bone metastasis in breast cancer.")
    from bmstats import __version__

    parser.add_argument("--version", action="version", version=f"bmstats {__version__}")
    # taken out of the arguments before parsing (see main), so that it works before or after the subcommand
    parser.add_argument("--debug", action="store_true", help="show the traceback of any error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    v = sub.add_parser("validate", help="check a cohort against the canonical schema and rules")
    v.add_argument("patients", metavar="PATIENTS", help="patients file (.csv, .parquet, .xlsx, .dta, .sas7bdat)")
    v.add_argument("--events", metavar="EVENTS", help="skeletal events file")
    v.add_argument("--mapping", metavar="MAPPING", help="YAML mapping of the site's columns and codes")
    v.add_argument("--format", choices=("text", "json", "junit"), default="text", help="report format (default text)")
    v.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    v.add_argument("--engine", choices=("pandas", "duckdb"), default="pandas",
                   help="duckdb: keep Parquet/CSV files (globs included) in DuckDB and run every rule as a query "
                        "(registry scale; docs/scale.md); default pandas")
    v.set_defaults(handler=_validate)

    d = sub.add_parser("datasets", help="list or export the bundled data sets")
    d.add_argument("action", nargs="?", choices=("list", "export"), default="list")
    d.add_argument("name", nargs="?", metavar="NAME", help="data set to export (see 'bmstats datasets list')")
    d.add_argument("dir", nargs="?", metavar="DIR", help="folder to export into")
    d.set_defaults(handler=_datasets)

    s = sub.add_parser("simulate", help="write a synthetic bone-metastasis cohort")
    s.add_argument("--n", type=int, required=True, metavar="N", help="number of patients")
    s.add_argument("--seed", type=int, required=True, metavar="S", help="random seed")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder")
    s.add_argument("--scenario", metavar="FILE.yaml", help="YAML scenario overriding default parameters")
    s.set_defaults(handler=_simulate)

    r = sub.add_parser("report", help="build one report from a YAML analysis config")
    r.add_argument("config", metavar="CONFIG")
    r.add_argument("-o", "--output", dest="out", required=True, metavar="DIR")
    r.add_argument("--pdf", action="store_true", help="also write the whole report as one PDF (needs pdflatex)")
    r.set_defaults(handler=_report)

    ra = sub.add_parser("report-all", help="build every *.yaml config of FOLDER into DIR/<name>/")
    ra.add_argument("folder", metavar="FOLDER")
    ra.add_argument("-o", "--output", dest="out", required=True, metavar="DIR")
    ra.set_defaults(handler=_report_all)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        args = build_parser().parse_args(argv)
        args.debug = debug
        return int(args.handler(args))
    except _UsageError as exc:
        _err(str(exc))
        return EXIT_UNREADABLE
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        _err("bmstats: interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except _expected_errors() as exc:  # bmstats' own errors and file-system errors: one line
        if debug:
            raise
        _err(f"bmstats: error: {_one_line(exc)}")
        return EXIT_UNREADABLE
    except Exception:
        _err("bmstats: internal error (a bug in bmstats; please report it with the traceback below)")
        raise


def _expected_errors() -> tuple[type[BaseException], ...]:
    # evaluated only when an exception is being matched, so that importing the CLI stays light
    from bmstats._checks import InputError

    return (InputError, OSError)


def _validate(args) -> int:
    from bmstats._checks import InputError
    from bmstats.cohort.io import read_cohort
    from bmstats.cohort.validate import validate

    try:
        cohort = read_cohort(args.patients, args.events, args.mapping, engine=args.engine)
        report = validate(cohort)  # on the engine path, a malformed file may only show now
    except InputError as exc:
        if args.debug:
            raise
        _err(f"bmstats validate: {_one_line(exc)}")
        return EXIT_UNREADABLE
    text = {"text": report.to_text, "json": report.to_json, "junit": report.to_junit}[args.format]()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(report.headline)
    else:
        sys.stdout.write(text)
    return EXIT_OK if report.ok else EXIT_INVALID


def _datasets(args) -> int:
    import shutil

    from bmstats import datasets

    if args.action == "list":
        if args.name or args.dir:
            raise _UsageError("bmstats datasets: 'list' takes no arguments")
        print(datasets.list_datasets().to_string(index=False))
        return EXIT_OK
    if not args.name or not args.dir:
        raise _UsageError("bmstats datasets: usage: bmstats datasets export NAME DIR")
    names = set(datasets.list_datasets()["name"])
    if args.name not in names:
        raise _UsageError(f"bmstats datasets: unknown data set {args.name!r}; choose from {', '.join(sorted(names))}")
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        src = datasets.dataset_path(f"{args.name}.csv")
        files = [src]
    except FileNotFoundError:
        folder = datasets.dataset_path(args.name)
        files = sorted(f for f in folder.iterdir() if f.is_file())
    for f in files:
        shutil.copyfile(f, out / f.name)
        print(out / f.name)
    return EXIT_OK


def _simulate(args) -> int:
    scenario = None
    if args.scenario:
        import yaml

        path = Path(args.scenario)
        if not path.is_file():
            _err(f"bmstats simulate: scenario file {args.scenario!r} not found")
            return EXIT_UNREADABLE
        try:
            scenario = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2030-02-30, bad UTF-8
            _err(f"bmstats simulate: scenario file {args.scenario!r} is not valid YAML: {_one_line(exc)}")
            return EXIT_UNREADABLE
        if not isinstance(scenario, dict):
            _err(f"bmstats simulate: scenario file {args.scenario!r} must be a mapping of parameter: value")
            return EXIT_UNREADABLE
    if args.n <= 0:
        raise _UsageError("bmstats simulate: --n must be a positive number of patients")
    from bmstats.simulation import write_simulation

    write_simulation(n=args.n, seed=args.seed, out=args.out, scenario=scenario)
    print(f"wrote {args.n:,} simulated patients (seed {args.seed}) to {args.out}")
    return EXIT_OK


def _report(args) -> int:
    from bmstats.report.builder import build_report

    return int(build_report(args.config, args.out, debug=args.debug, pdf=args.pdf))


def _report_all(args) -> int:
    from bmstats.report.builder import build_all

    return int(build_all(args.folder, args.out, debug=args.debug))


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


if __name__ == "__main__":
    sys.exit(main())
