"""Design matrices from Wilkinson formulas (through formulaic), shared by every regression in bmstats.

``design_matrix(data, "age + C(size, contr.treatment('<=20')) + bs(age, df=3) + hormon:chemo")`` returns an
immutable :class:`Design` with the float matrix, the term -> columns map, the reference level of every
categorical variable, the rows kept and a ``transform(newdata)`` that builds the same columns for prediction.

Formula syntax (formulaic, as in lifelines and patsy):

- ``x`` numeric covariates; ``np.log(nodes + 1)`` any numpy expression;
- string, boolean or pandas-categorical columns are treatment-coded against their first level;
- ``C(x, contr.treatment("b"))`` or ``treatment(x, "b")`` (a bmstats shorthand) choose the reference level
  ``"b"``; ``C(x, levels=["b", "a", "c"])`` sets the level order (reference = first);
- ``a:b`` interaction, ``a*b`` main effects plus interaction;
- ``bs(age, df=3)`` B-spline basis (``cr``/``cc`` natural cubic splines also work).

Regression models without an intercept column (Cox, Fine-Gray) still get full-rank treatment coding: the
matrix is built with an intercept, which is then removed.

Bad input is an :class:`~bmstats._checks.InputError` naming the variable or term: missing covariate values
(unless ``dropna=True``, which drops and counts them), non-finite values produced by a transformation
(e.g. ``np.log(0)``), constant columns and exact collinearity (the term whose column is a linear
combination of earlier ones). Nothing becomes a silent NaN coefficient.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec
from formulaic.errors import FormulaicError
from formulaic.transforms.contrasts import C, TreatmentContrasts

from bmstats._checks import Dropped, InputError, describe_rows, handle_missing, require_frame

__all__ = ["Design", "design_matrix", "formula_variables", "treatment"]

INTERCEPT = "Intercept"
COLLINEAR_TOL = 1e-10


def treatment(x: Any, reference: Any = None):
    """``treatment(x, "b")`` in a formula: treatment (dummy) coding of ``x`` with reference level ``"b"``."""
    return C(x, TreatmentContrasts(base=reference))


_CONTEXT = {"treatment": treatment}


def formula_variables(data: pd.DataFrame, formula: str) -> list[str]:
    """The data columns a formula uses (right-hand side), in the order they appear in ``data``."""
    formula = formula.split("~", 1)[1] if "~" in formula else formula
    try:
        needed = Formula(formula).required_variables
    except FormulaicError as exc:
        raise InputError(f"formula {formula!r} could not be parsed: {exc}") from exc
    missing = sorted(v for v in needed if v not in data.columns and v not in _CONTEXT and not _is_module_name(v))
    if missing:
        raise InputError(
            f"formula {formula!r} uses column(s) {', '.join(map(repr, missing))} not found in data; "
            f"available: {', '.join(map(str, data.columns))}"
        )
    return [c for c in data.columns if c in needed]


def _is_module_name(name: str) -> bool:
    return name.split(".")[0] in {"np", "numpy", "pd", "math", "contr", "C", "bs", "cr", "cc", "poly", "scale",
                                  "center", "log", "exp", "sqrt"}


@dataclass(frozen=True)
class Design:
    """A model matrix with its bookkeeping.

    ``X``: float DataFrame (index = kept input rows); ``columns``: column names; ``terms``: term label ->
    its column names; ``reference_levels``: categorical variable -> reference level (for "(ref)" rows);
    ``factors``: factor expression -> {"variable", "levels", "reference"}; ``dropped``: rows removed by
    ``dropna=True``; ``rows``: index of kept rows; ``formula``: the formula as given.
    """

    X: pd.DataFrame
    terms: dict
    reference_levels: dict
    factors: dict
    dropped: Dropped
    rows: pd.Index
    formula: str
    intercept: bool
    model_spec: ModelSpec = field(repr=False)

    @property
    def columns(self) -> list[str]:
        return list(self.X.columns)

    @property
    def n(self) -> int:
        return len(self.X)

    def term_of(self, column: str) -> str:
        """The term label a column belongs to."""
        for term, cols in self.terms.items():
            if column in cols:
                return term
        raise KeyError(column)

    def values(self) -> np.ndarray:
        """The matrix as a C-contiguous float64 array (a copy)."""
        return np.ascontiguousarray(self.X.to_numpy(dtype=float))

    def transform(self, newdata: pd.DataFrame) -> pd.DataFrame:
        """The same columns for new data (categorical levels, spline knots as fitted); for prediction."""
        require_frame(newdata, "newdata")
        variables = formula_variables(newdata, self.formula)
        newdata, _ = handle_missing(newdata, variables, dropna=False)
        try:
            mm = self.model_spec.get_model_matrix(newdata, context=_CONTEXT)
        except FormulaicError as exc:
            raise InputError(f"newdata does not fit the formula {self.formula!r}: {exc}") from exc
        frame = pd.DataFrame(np.asarray(mm, dtype=float), columns=list(mm.columns), index=newdata.index)
        return frame[self.columns]


def design_matrix(
    data: pd.DataFrame,
    formula: str,
    *,
    intercept: bool = False,
    dropna: bool = False,
    check_rank: bool = True,
) -> Design:
    """Build the model matrix of ``formula`` on ``data`` (see the module docstring for the syntax).

    ``intercept=False`` (survival models) removes the intercept after full-rank coding. Missing values in
    the variables the formula uses are an error unless ``dropna=True``. ``check_rank`` raises on constant
    columns and exact collinearity, naming the term.
    """
    require_frame(data)
    if not isinstance(formula, str) or not formula.strip():
        raise InputError("formula must be a non-empty string such as 'age + C(grade)'")
    if "~" in formula:
        formula = formula.split("~", 1)[1]
    variables = formula_variables(data, formula)
    data, dropped = handle_missing(data, variables, dropna)
    try:
        with np.errstate(all="ignore"):  # non-finite results are reported by _check_finite, naming the term
            mm = Formula(formula).get_model_matrix(
                data, context=_CONTEXT, na_action="ignore", ensure_full_rank=True, output="pandas"
            )
    except FormulaicError as exc:
        raise InputError(f"formula {formula!r} could not be evaluated on the data: {exc}") from exc
    spec: ModelSpec = mm.model_spec
    values = np.asarray(mm, dtype=float)
    names = list(mm.columns)
    terms: dict[str, list[str]] = {}
    for term, sl in spec.term_slices.items():
        cols = names[sl]
        if cols:
            terms[str(term)] = cols
    if not intercept:
        keep = [i for i, c in enumerate(names) if c != INTERCEPT]
        values = values[:, keep]
        names = [names[i] for i in keep]
        terms.pop("1", None)
    else:
        terms = {(INTERCEPT if k == "1" else k): v for k, v in terms.items()}
    if not names:
        raise InputError(f"formula {formula!r} gives no covariate columns")
    X = pd.DataFrame(values, columns=names, index=data.index)

    factors, reference_levels = _factor_info(spec, data)
    design = Design(
        X=X,
        terms=terms,
        reference_levels=reference_levels,
        factors=factors,
        dropped=dropped,
        rows=data.index,
        formula=formula,
        intercept=intercept,
        model_spec=spec,
    )
    _check_finite(design)
    if check_rank:
        check_full_rank(design)
    return design


def _factor_info(spec: ModelSpec, data: pd.DataFrame) -> tuple[dict, dict]:
    factors: dict[str, dict] = {}
    reference_levels: dict[str, Any] = {}
    for factor, state in spec.factor_contrasts.items():
        levels = list(state.levels)
        base = getattr(state.contrasts, "base", None)
        if base is None or type(base).__name__ == "Sentinel" or base not in levels:
            base = levels[0] if levels else None
        found = [v for v in spec.factor_variables.get(factor, set()) if v in data.columns]
        variable = found[0] if len(found) == 1 else str(factor)
        factors[str(factor)] = {"variable": variable, "levels": levels, "reference": base}
        reference_levels[variable] = base
    return factors, reference_levels


def _check_finite(design: Design) -> None:
    values = design.X.to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        column = design.columns[j]
        rows = design.X.index[bad[:, j]]
        raise InputError(
            f"term {design.term_of(column)!r} (column {column!r}) is not finite (NaN or infinite after "
            f"transformation) at {describe_rows(rows)}"
        )


def check_full_rank(design: Design, weights: np.ndarray | None = None) -> None:
    """Raise if a column is constant or an exact linear combination of earlier columns (naming the term).

    Works on the centered p x p cross-product matrix (location shifts do not change a Cox or Fine-Gray
    fit, so a constant column is not identifiable there; with an intercept it duplicates the intercept).
    A column is collinear when its residual sum of squares on the earlier columns is below 1e-10 of its
    own centered sum of squares.
    """
    names = [c for c in design.columns if c != INTERCEPT]
    if not names:
        return
    X = design.X[names].to_numpy(dtype=float)
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=float)
    mean = (w @ X) / w.sum()
    Xc = X - mean
    gram = (Xc * w[:, None]).T @ Xc
    scale = np.diag(gram).copy()
    for j, name in enumerate(names):
        if scale[j] <= 0 or np.ptp(X[:, j]) == 0:
            raise InputError(
                f"term {design.term_of(name)!r}: column {name!r} is constant (value {X[0, j]:g} in every row); "
                "it cannot be estimated - remove it from the formula"
            )
    kept: list[int] = []
    for j, name in enumerate(names):
        if kept:
            G = gram[np.ix_(kept, kept)]
            g = gram[kept, j]
            coef = np.linalg.lstsq(G, g, rcond=None)[0]
            resid = gram[j, j] - g @ coef
        else:
            resid = gram[j, j]
        if resid <= COLLINEAR_TOL * scale[j]:
            others = [names[k] for k, c in zip(kept, coef) if abs(c) > 1e-8 * max(1.0, np.abs(coef).max())]
            raise InputError(
                f"term {design.term_of(name)!r}: column {name!r} is an exact linear combination of "
                f"{', '.join(map(repr, others)) or 'earlier columns'} (collinear); it cannot be estimated - "
                "remove one of them from the formula"
            )
        kept.append(j)
