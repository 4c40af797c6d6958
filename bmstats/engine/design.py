"""A formula's design columns as SQL expressions, so that an engine computes them where the rows are.

The columns are those :func:`bmstats.estimate.design.design_matrix` builds in memory: the same names, the
same treatment coding against the same reference level.  To make sure of that, the expressions are checked
on a prototype frame that holds every combination of the categorical levels found in the data (with
random values for the numeric variables): the in-memory design of the prototype and the engine's
evaluation of the SQL expressions on it must agree exactly, or the formula is refused on the engine path
with a message naming the term.

Supported on the engine path: numeric columns, categorical columns (strings, booleans, ``C(x)``,
``C(x, levels=[...])``, ``treatment(x, "ref")``) and their interactions.  Transformations whose columns
depend on the whole data (splines ``bs``/``cr``, ``scale``, ``center``) and arbitrary numpy expressions are
refused with the term named: compute such a column in the engine (SQL) first.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.errors import FormulaicError

from bmstats._checks import InputError
from bmstats.engine.source import Source
from bmstats.estimate.design import Design, design_matrix

MAX_LEVELS = 1000
MAX_PROTOTYPE_ROWS = 200_000


@dataclass(frozen=True)
class EngineDesign:
    """Design columns of a formula as SQL expressions over the source, with the in-memory bookkeeping."""

    columns: list
    expressions: list
    variables: list
    design: Design  # the in-memory design of the prototype: names, terms, reference levels, model spec
    # per column: ("numeric", variable) for a column as it is, ("dummy", variable) for the indicator of one
    # level of a variable with at least two levels in the rows used, else ("other", None)
    kinds: list = field(default_factory=list)


def _literal(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.17e}"
    return "'" + str(value).replace("'", "''") + "'"


def formula_variables_sql(src: Source, formula: str) -> list[str]:
    """The source columns the formula's right-hand side uses, with errors as the in-memory path gives."""
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    try:
        needed = Formula(rhs).required_variables
    except FormulaicError as exc:
        raise InputError(f"formula {rhs!r} could not be parsed: {exc}") from None
    known = {"C", "treatment", "contr", "np"}
    missing = sorted(v for v in needed if v not in src.columns and v.split(".")[0] not in known)
    if missing:
        raise InputError(f"formula {rhs!r} uses column(s) {', '.join(map(repr, missing))} not found in "
                         f"{src.description}; available: {', '.join(src.columns)}")
    return [c for c in src.columns if c in needed]


def engine_design(src: Source, formula: str, where: str, *, intercept: bool = False) -> EngineDesign:
    """SQL expressions for the design columns of ``formula`` over the rows of ``src`` selected by ``where``
    (with ``intercept``, a first column of ones named ``Intercept``, as the in-memory design has)."""
    variables = formula_variables_sql(src, formula)
    q = src.quote
    levels: dict[str, list] = {}
    ordered: set[str] = set()
    coded = _coded_variables(formula, variables)
    for v in variables:
        if v not in coded and src.is_numeric(v) and "BOOL" not in src.columns[v].upper():
            continue
        found = src.query(f"SELECT DISTINCT {q(v)} AS v FROM {src.view} WHERE {where} LIMIT {MAX_LEVELS + 1}")
        if len(found) > MAX_LEVELS:
            raise InputError(f"column {v!r} has more than {MAX_LEVELS} distinct values; as a categorical "
                             "covariate it is not supported on the engine path")
        values = found["v"]
        if isinstance(values.dtype, pd.CategoricalDtype):  # an ENUM: its order, as a pandas categorical's
            levels[v] = [c for c in values.cat.categories if c in set(values.dropna())]
            ordered.add(v)
        else:
            levels[v] = sorted(values.dropna().tolist())
    prototype = _prototype(variables, levels, ordered)
    try:
        design = design_matrix(prototype, formula, check_rank=False, intercept=intercept)
    except InputError as exc:
        raise InputError(f"formula {formula!r} on the engine path: {exc}") from None
    expressions = ["1.0" if name == "Intercept" else _column_sql(src, design, name, levels) for name in design.columns]
    _verify(design, expressions, prototype, src)
    kinds = []
    for expr in expressions:
        kind = ("other", None)
        for v in variables:
            if expr == f"CAST({q(v)} AS DOUBLE)" and v not in levels:
                kind = ("numeric", v)
            elif expr.startswith(f"(CASE WHEN {q(v)} = ") and expr.count("CASE WHEN") == 1 \
                    and expr.endswith(" THEN 1.0 ELSE 0.0 END)") and len(levels.get(v, [])) >= 2:
                kind = ("dummy", v)
        kinds.append(kind)
    return EngineDesign(list(design.columns), expressions, variables, design, kinds)


def design_ranges(src: Source, design: EngineDesign, where: str, all_rows: bool, binary: bool = False):
    """(lo, hi, is_binary): each design column's minimum and maximum over the rows used and, with ``binary``,
    whether all its values are 0 or 1.  When the rows used are all the rows, a column as it is in the source
    asks for MIN and MAX of the column itself (which an engine answers from the Parquet statistics, without
    a pass), and the indicator of a level found in the rows is 0 and 1; the rest takes one pass."""
    q = src.quote
    p = len(design.columns)
    lo, hi, is_binary = np.zeros(p), np.zeros(p), np.zeros(p, dtype=bool)
    scan = []
    plain = {}
    for j, (kind, v) in enumerate(design.kinds or [("other", None)] * p):
        if all_rows and kind == "dummy":
            lo[j], hi[j], is_binary[j] = 0.0, 1.0, True
        elif all_rows and kind == "numeric" and "BOOL" not in src.columns[v].upper():
            plain[j] = v
        else:
            scan.append(j)
    if plain:
        stats = src.query("SELECT " + ", ".join(f"MIN({q(v)}) AS lo{j}, MAX({q(v)}) AS hi{j}"
                                                for j, v in plain.items()) + f" FROM {src.view}").iloc[0]
        for j, v in plain.items():
            lo[j], hi[j] = float(stats[f"lo{j}"]), float(stats[f"hi{j}"])
            if lo[j] in (0.0, 1.0) and hi[j] in (0.0, 1.0):
                if lo[j] == hi[j] or "INT" in src.columns[v].upper():
                    is_binary[j] = True  # constant 0 or 1, or an integer column within [0, 1]
                elif binary:
                    scan.append(j)  # a float column within [0, 1]: are there values in between?
    if scan:
        x = design.expressions
        cols = [f"MIN({x[j]}) AS lo{j}, MAX({x[j]}) AS hi{j}" for j in scan]
        # x (1 - x) is 0 exactly when x is 0 or 1 (it neither underflows nor cancels otherwise)
        cols += [f"MAX(ABS(({x[j]}) * (1.0 - ({x[j]})))) AS nb{j}" for j in scan] if binary else []
        row = src.query(f"SELECT {', '.join(cols)} FROM {src.view} WHERE {where}").iloc[0]
        for j in scan:
            lo[j], hi[j] = float(row[f"lo{j}"]), float(row[f"hi{j}"])
            if binary:
                is_binary[j] = float(row[f"nb{j}"]) == 0
    return lo, hi, is_binary


def _coded_variables(formula: str, variables: list[str]) -> set:
    """Variables that a factor codes as categorical whatever their type (``C(x)``, ``treatment(x, ...)``)."""
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    coded = set()
    for term in Formula(rhs):
        for factor in term.factors:
            expr = str(factor.expr).replace(" ", "")
            if expr.startswith(("C(", "treatment(")):
                coded |= {v for v in variables if expr[expr.index("(") + 1:].startswith(v + ",")
                          or expr[expr.index("(") + 1:].startswith(v + ")")}
    return coded


def _prototype(variables: list[str], levels: dict, ordered: set = frozenset()) -> pd.DataFrame:
    """A small frame holding every combination of the levels; the columns in ``ordered`` are categoricals in
    their levels' order, so that the formula takes the same reference level as on a pandas categorical."""
    n_combos = math.prod(len(v) for v in levels.values()) if levels else 1
    if n_combos > MAX_PROTOTYPE_ROWS:
        raise InputError("the categorical covariates have too many level combinations "
                         f"({n_combos:,}) for the engine path")
    rng = np.random.default_rng(20240611)
    combos = list(itertools.product(*levels.values())) if levels else [()]
    reps = max(1, 8 // len(combos))  # a few rows per combination so that numeric columns vary
    frame = {}
    names = list(levels)
    for i, name in enumerate(names):
        frame[name] = [c[i] for c in combos] * reps
        if name in ordered:
            frame[name] = pd.Categorical(frame[name], categories=levels[name])
    n = len(combos) * reps
    for v in variables:
        if v not in levels:
            frame[v] = rng.uniform(0.5, 2.0, n).round(3)
    return pd.DataFrame(frame)[variables]


def _column_sql(src: Source, design: Design, name: str, levels: dict) -> str:
    term = design.term_of(name)
    factors = _term_factors(term)
    parts = _split_column(name, factors)
    if parts is None:
        raise InputError(f"formula term {term!r} is not supported on the engine path yet (supported: numeric "
                         "and categorical columns, C(x), treatment(x, ref) and their interactions); compute "
                         "the column in the engine first or pass a pandas DataFrame")
    sql = []
    for factor, level in parts:
        variable = _factor_variable(factor, src, design)
        if variable is None:
            raise InputError(f"formula term {term!r}: {factor!r} is not supported on the engine path yet "
                             "(compute the column in the engine first, or pass a pandas DataFrame)")
        if level is None:
            if variable in levels:
                raise InputError(f"formula term {term!r}: {factor!r} is not supported on the engine path")
            sql.append(f"CAST({src.quote(variable)} AS DOUBLE)")
        else:
            match = [v for v in levels.get(variable, []) if _same_level(v, level)]
            if not match:
                raise InputError(f"formula term {term!r}: level {level!r} of {variable!r} not found in the data")
            sql.append(f"(CASE WHEN {src.quote(variable)} = {_literal(match[0])} THEN 1.0 ELSE 0.0 END)")
    return " * ".join(sql)


def _same_level(value, name: str) -> bool:
    """Is ``value`` the level that a design column names ``name`` (numbers may be written as floats)?"""
    if str(value) == name:
        return True
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        try:
            return float(value) == float(name)
        except ValueError:
            return False
    return False


def _term_factors(term: str) -> list[str]:
    return [f.strip() for f in _split_top_level(term, ":")]


def _split_top_level(text: str, sep: str) -> list[str]:
    out, depth, cur, quote = [], 0, "", None
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _split_column(name: str, factors: list[str]):
    """[(factor, level or None)] for a design column name such as ``C(g)[T.b]:age``."""
    pieces = _split_top_level(name, ":")
    if len(pieces) != len(factors):
        return None
    out = []
    for piece, factor in zip(pieces, factors):
        if piece == factor:
            out.append((factor, None))
        elif piece.startswith(factor + "[") and piece.endswith("]"):
            level = piece[len(factor) + 1:-1]
            out.append((factor, level[2:] if level.startswith("T.") else level))
        else:
            return None
    return out


def _factor_variable(factor: str, src: Source, design: Design) -> str | None:
    """The source column behind a factor expression we can write as SQL, else None."""
    if factor in src.columns:
        return factor
    info = design.factors.get(factor)
    if info and info.get("variable") in src.columns and factor.startswith(("C(", "treatment(")):
        return info["variable"]
    return None


def _verify(design: Design, expressions: list[str], prototype: pd.DataFrame, src: Source) -> None:
    """The SQL columns evaluated on the prototype must equal the in-memory design of the prototype."""
    import duckdb

    con = duckdb.connect()
    con.register("prototype", prototype)
    duck = Source("duckdb", "prototype", {}, "prototype", None)
    exprs = []
    for e in expressions:  # the same text in DuckDB's quoting
        for v in prototype.columns:
            e = e.replace(src.quote(v), duck.quote(v))
        exprs.append(e)
    select = ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))
    got = con.execute(f"SELECT {select} FROM prototype").fetchnumpy()
    want = design.values()
    for i, name in enumerate(design.columns):
        if not np.allclose(np.asarray(got[f"c{i}"], dtype=float), want[:, i], rtol=0, atol=1e-12):
            raise InputError(f"design column {name!r} (term {design.term_of(name)!r}) cannot be computed on "
                             "the engine path; pass a pandas DataFrame")
