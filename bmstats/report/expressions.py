"""Column expressions of report configs (``derive``, ``filter``, endpoint ``time``/``status``).

A small, safe language over the data's columns, evaluated vectorised with numpy (no Python ``eval``):
numbers, strings, lists, ``true``/``false``, ``missing`` (NaN), column names, ``+ - * / // % **``, comparisons,
``and or not`` (element-wise, as ``& | ~``), ``in [..]`` and the functions

- ``where(cond, a, b)``, ``isna(x)``, ``notna(x)``, ``log(x)``, ``exp(x)``, ``sqrt(x)``, ``abs(x)``,
  ``minimum(a, b)``, ``maximum(a, b)``, ``round(x)``;
- ``cut(x, [b1, b2, ...], [label0, label1, ...])``: left-closed bins ``[-inf, b1)``, ``[b1, b2)`` ...
  ``[bk, inf)`` as an ordered categorical with the labels given (one more label than breaks);
- ``category(x, [levels])``: ``x`` as an ordered categorical with that level order (first = reference);
- ``number(x)``: text as numbers (``"2.5"`` -> 2.5); a value that is not a number becomes missing, with a
  warning counting them.

Arithmetic (``+ - * / // % **``) and ordering comparisons (``< <= > >=``) on text are errors naming the
column (convert with ``number(x)``), as is ``==``/``!=`` between text and a number (``er == 1`` on a column
holding ``"1"``): text never silently repeats (``"2" * 3``) or compares as unequal.  A missing value is
never equal to anything, so an expression over a column with missing values should say what they become:
``where(isna(bta_type), missing, where(bta_type == "none", "none", "drug"))``.

Anything else (attributes, subscripts, other calls) is refused with an error naming the expression.
"""
from __future__ import annotations

import ast
from typing import Any

import numpy as np
import pandas as pd

from bmstats._checks import InputError


class ExpressionError(InputError):
    """An expression of a report config that cannot be parsed or evaluated (the message names it)."""


def _cut(x: Any, breaks: list, labels: list) -> pd.Categorical:
    values = pd.Series(x).astype(float).to_numpy()
    if len(labels) != len(breaks) + 1:
        raise ExpressionError(f"cut() needs one more label than breaks ({len(breaks)} breaks, {len(labels)} labels)")
    codes = np.searchsorted(np.asarray(breaks, dtype=float), values, side="right")
    codes = np.where(np.isnan(values), -1, codes)
    return pd.Categorical.from_codes(codes, categories=[str(v) for v in labels], ordered=True)


def _category(x: Any, levels: list) -> pd.Categorical:
    s = pd.Series(x)
    levels = list(levels)
    unknown = sorted(set(s.dropna().astype(str)) - {str(v) for v in levels})
    if unknown:
        raise ExpressionError(f"category(): values {unknown} are not among the levels {levels}")
    return pd.Categorical(s.astype(str).where(s.notna()), categories=[str(v) for v in levels], ordered=True)


def _year(x: Any) -> np.ndarray:
    """The calendar year of dates (NaN where missing), e.g. ``year(dx_date) < 2008``."""
    s = pd.Series(x)
    if not pd.api.types.is_datetime64_any_dtype(s):
        raise ExpressionError("year() needs a date column")
    return s.dt.year.to_numpy(dtype=float)


def _number(x: Any) -> np.ndarray:
    s = pd.Series(x).astype(object)
    values = pd.to_numeric(s, errors="coerce").astype(float)
    bad = s.notna() & values.isna() & (s.astype(str).str.strip() != "")
    if bad.any():
        import warnings

        shown = ", ".join(repr(v) for v in s[bad].astype(str).unique()[:5])
        warnings.warn(f"number(): {int(bad.sum()):,} value(s) are not numbers and are missing ({shown})",
                      UserWarning, stacklevel=2)
    return values.to_numpy()


def _where(c: Any, a: Any, b: Any) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "USO" or b.dtype.kind in "USO":  # text: object, so that `missing` stays missing, not 'nan'
        a, b = a.astype(object), b.astype(object)
    return np.where(np.asarray(c, dtype=bool), a, b)


def _is_text(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, pd.Categorical):
        value = np.asarray(value, dtype=object)
    if not isinstance(value, np.ndarray):
        return False
    if value.dtype.kind in "US":
        return True
    if value.dtype != object:
        return False
    return pd.api.types.infer_dtype(value, skipna=True) in ("string", "bytes", "mixed", "mixed-integer")


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.number)):
        return not (isinstance(value, float) and np.isnan(value))
    return isinstance(value, np.ndarray) and value.dtype.kind in "iuf"


FUNCTIONS = {
    "year": _year,
    "where": _where,
    "isna": lambda x: pd.isna(pd.Series(x)).to_numpy(),
    "notna": lambda x: pd.notna(pd.Series(x)).to_numpy(),
    "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "round": np.round,
    "minimum": np.minimum, "maximum": np.maximum,
    "cut": _cut, "category": _category, "number": _number,
}
_BINOPS = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power, ast.BitAnd: np.logical_and,
    ast.BitOr: np.logical_or,
}
_CMPOPS = {
    ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
    ast.Gt: np.greater, ast.GtE: np.greater_equal,
}


_SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def evaluate(expression: str, data: pd.DataFrame) -> Any:
    """Value of ``expression`` over the columns of ``data`` (an array, or a scalar if no column is used)."""
    try:
        tree = ast.parse(str(expression), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {expression!r}: {exc.msg}") from None
    return _Eval(data, str(expression)).visit(tree.body)


class _Eval:
    def __init__(self, data: pd.DataFrame, source: str):
        self.data, self.source = data, source

    def fail(self, message: str) -> None:
        raise ExpressionError(f"in {self.source!r}: {message}")

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.data.columns:
                col = self.data[node.id]
                return col.array if isinstance(col.dtype, pd.CategoricalDtype) else col.to_numpy()
            if node.id in ("nan", "NaN", "missing"):
                return np.nan
            if node.id in ("true", "True"):
                return True
            if node.id in ("false", "False"):
                return False
            self.fail(f"unknown column {node.id!r}; available: {', '.join(map(str, self.data.columns))}")
        if isinstance(node, ast.List):
            return [self.visit(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp):
            v = self.visit(node.operand)
            if isinstance(node.op, (ast.Not, ast.Invert)):
                return np.logical_not(v)
            if isinstance(node.op, ast.USub):
                return np.negative(v)
            return v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self._arr(self.visit(node.left)), self._arr(self.visit(node.right))
            if type(node.op) not in (ast.BitAnd, ast.BitOr):
                for side, value in ((node.left, left), (node.right, right)):
                    if _is_text(value):
                        self.fail(f"{self._what(side)} is text: arithmetic on text is not allowed; convert it with "
                                  f"number({ast.unparse(side)})")
            return self._apply(_BINOPS[type(node.op)], left, right)
        if isinstance(node, ast.BoolOp):
            values = [self.visit(v) for v in node.values]
            func = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = values[0]
            for v in values[1:]:
                out = func(out, v)
            return out
        if isinstance(node, ast.Compare):
            left = self._arr(self.visit(node.left))
            left_node = node.left
            out = True
            for op, comp in zip(node.ops, node.comparators):
                right = self.visit(comp)
                if isinstance(op, (ast.In, ast.NotIn)):
                    res = pd.Series(left).isin(right if isinstance(right, list) else [right]).to_numpy()
                    res = ~res if isinstance(op, ast.NotIn) else res
                elif type(op) in _CMPOPS:
                    right = self._arr(right)
                    self._check_comparison(op, (left_node, left), (comp, right))
                    res = self._apply(_CMPOPS[type(op)], left, right)
                else:
                    self.fail(f"operator {type(op).__name__} is not allowed")
                out = np.logical_and(out, res)
                left, left_node = self._arr(right), comp
            return out
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            if node.keywords:
                self.fail("functions take positional arguments only")
            args = [self.visit(a) for a in node.args]
            try:
                return FUNCTIONS[node.func.id](*args)
            except ExpressionError as exc:
                self.fail(str(exc))
            except TypeError as exc:
                self.fail(f"{node.func.id}(): {exc}")
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", ast.unparse(node.func))
            self.fail(f"unknown function {name!r}; allowed: {', '.join(FUNCTIONS)}")
        self.fail(f"{type(node).__name__} is not allowed in an expression")

    def _what(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name) and node.id in self.data.columns:
            return f"column {node.id!r}"
        return repr(ast.unparse(node))

    def _check_comparison(self, op: ast.cmpop, *sides: tuple) -> None:
        (lnode, lval), (rnode, rval) = sides
        if isinstance(op, (ast.Eq, ast.NotEq)):
            for (tnode, tval), (nnode, nval) in (((lnode, lval), (rnode, rval)), ((rnode, rval), (lnode, lval))):
                if _is_text(tval) and _is_number(nval):
                    self.fail(f"{self._what(tnode)} is text and {ast.unparse(nnode)} a number: they are never equal; "
                              f"compare with the text ({ast.unparse(tnode)} == \"{ast.unparse(nnode)}\") or convert "
                              f"with number({ast.unparse(tnode)})")
            return
        for node, value in sides:
            if _is_text(value):
                self.fail(f"{self._what(node)} is text: {_SYMBOLS[type(op)]!r} compares text alphabetically; "
                          f"convert it with number({ast.unparse(node)})")

    def _apply(self, func: Any, left: Any, right: Any) -> Any:
        try:
            return func(left, right)
        except (TypeError, ValueError) as exc:  # e.g. dates against numbers
            self.fail(f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _arr(v: Any) -> Any:
        if isinstance(v, pd.Categorical) or isinstance(v, pd.api.extensions.ExtensionArray):
            return np.asarray(v, dtype=object)
        return v


def column(expression: str, data: pd.DataFrame) -> pd.Series:
    """The expression as a Series aligned with ``data`` (scalars broadcast)."""
    value = evaluate(expression, data)
    if isinstance(value, pd.Categorical):
        return pd.Series(value, index=data.index)
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(len(data), arr.item())
    return pd.Series(arr, index=data.index)
