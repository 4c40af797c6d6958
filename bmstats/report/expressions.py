"""Column expressions of report configs (``derive``, ``filter``, endpoint ``time``/``status``).

A small, safe language over the data's columns, evaluated vectorised with numpy (no Python ``eval``):
numbers, strings, lists, ``true``/``false``, ``missing`` (NaN), column names, ``+ - * / // % **``, comparisons,
``and or not`` (element-wise, as ``& | ~``), ``in [..]`` and the functions

- ``where(cond, a, b)``, ``isna(x)``, ``notna(x)``, ``log(x)``, ``exp(x)``, ``sqrt(x)``, ``abs(x)``,
  ``minimum(a, b)``, ``maximum(a, b)``, ``round(x)``;
- ``cut(x, [b1, b2, ...], [label0, label1, ...])``: left-closed bins ``[-inf, b1)``, ``[b1, b2)`` ...
  ``[bk, inf)`` as an ordered categorical with the labels given (one more label than breaks);
- ``category(x, [levels])``: ``x`` as an ordered categorical with that level order (first = reference).

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


FUNCTIONS = {
    "year": _year,
    "where": lambda c, a, b: np.where(np.asarray(c, dtype=bool), a, b),
    "isna": lambda x: pd.isna(pd.Series(x)).to_numpy(),
    "notna": lambda x: pd.notna(pd.Series(x)).to_numpy(),
    "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "round": np.round,
    "minimum": np.minimum, "maximum": np.maximum,
    "cut": _cut, "category": _category,
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
            return _BINOPS[type(node.op)](self._arr(self.visit(node.left)), self._arr(self.visit(node.right)))
        if isinstance(node, ast.BoolOp):
            values = [self.visit(v) for v in node.values]
            func = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = values[0]
            for v in values[1:]:
                out = func(out, v)
            return out
        if isinstance(node, ast.Compare):
            left = self._arr(self.visit(node.left))
            out = True
            for op, comp in zip(node.ops, node.comparators):
                right = self.visit(comp)
                if isinstance(op, (ast.In, ast.NotIn)):
                    res = pd.Series(left).isin(right if isinstance(right, list) else [right]).to_numpy()
                    res = ~res if isinstance(op, ast.NotIn) else res
                elif type(op) in _CMPOPS:
                    res = _CMPOPS[type(op)](left, self._arr(right))
                else:
                    self.fail(f"operator {type(op).__name__} is not allowed")
                out = np.logical_and(out, res)
                left = self._arr(right)
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
