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
- ``bs(age, df=3)`` B-spline basis; ``cr(age, df=3)`` natural and ``cc(x, df=4)`` cyclic cubic regression
  splines (centred, as mgcv's, so that they are identifiable beside the baseline hazard);
- ``scale(x)``, ``center(x)``, ``np.log(x + 1)``: every column a term reads, inside any transform, is known
  to the missing-value handling;
- column names that are not Python names (``ph.ecog`` from R data) in backticks, as in R.

Only the right-hand side is accepted: the outcome comes from the estimator's ``time``/``status`` arguments,
so a two-sided formula (``Surv(t, d) ~ x``) is refused rather than half-read.

Regression models without an intercept column (Cox, Fine-Gray) still get full-rank treatment coding: the
matrix is built with an intercept, which is then removed.

Bad input is an :class:`~bmstats._checks.InputError` naming the variable or term: missing covariate values
(unless ``dropna=True``, which drops and counts them), non-finite values produced by a transformation
(e.g. ``np.log(0)``), text or date columns of the wrong kind, a level present in the data but missing from
``C(x, levels=[...])`` or unseen when fitting (prediction), constant columns and exact collinearity (the
term whose column is a linear combination of earlier ones). Nothing becomes a silent NaN coefficient.
"""
from __future__ import annotations

import ast
import builtins
import warnings
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec
from formulaic.errors import FormulaicError
from formulaic.transforms import TRANSFORMS
from formulaic.transforms.contrasts import C, TreatmentContrasts
from formulaic.transforms.cubic_spline import cubic_spline
from formulaic.utils.code import sanitize_variable_names
from formulaic.utils.stateful_transforms import stateful_transform

from bmstats._checks import Dropped, InputError, describe_rows, fail, handle_missing, require_frame

__all__ = ["Design", "design_matrix", "formula_variables", "right_hand_side", "treatment"]

INTERCEPT = "Intercept"
COLLINEAR_TOL = 1e-10


def treatment(x: Any, reference: Any = None):
    """``treatment(x, "b")`` in a formula: treatment (dummy) coding of ``x`` with reference level ``"b"``."""
    return C(x, TreatmentContrasts(base=reference))


# natural (cr, cs) and cyclic (cc) cubic regression splines with mgcv's centring constraint: without it the
# basis sums to one in every row and duplicates the intercept that Cox and Fine-Gray absorb into the baseline
_natural = stateful_transform(partial(cubic_spline, cyclic=False, constraints="center"))
_cyclic = stateful_transform(partial(cubic_spline, cyclic=True, constraints="center"))
_CONTEXT = {"treatment": treatment, "cr": _natural, "cs": _natural, "cc": _cyclic}
_KNOWN_NAMES = set(TRANSFORMS) | set(_CONTEXT) | set(dir(builtins)) | {"numpy", "pd", "pandas", "math"}
_LEVEL_WARNING = "outside of the nominated levels"


def right_hand_side(formula: object) -> str:
    """The formula's right-hand side; a missing, empty or two-sided formula is an error."""
    if not isinstance(formula, str) or not formula.strip():
        raise InputError(f"formula must be a non-empty string such as 'age + C(grade)', got {formula!r}")
    if "~" in formula:
        lhs, rhs = formula.split("~", 1)
        if lhs.strip():
            raise InputError(
                f"formula {formula!r} has a left-hand side ({lhs.strip()!r}); the outcome comes from the time and "
                f"status arguments, so give the right-hand side only: {rhs.strip()!r}"
            )
        formula = rhs
    if not formula.strip():
        raise InputError(f"formula {formula!r} has no terms")
    return formula.strip()


def formula_terms(formula: str) -> list[str]:
    """Top-level ``+`` terms of a formula's right-hand side (parentheses and brackets respected, empty terms
    dropped): ``"age + np.log(nodes + 1)"`` -> ``["age", "np.log(nodes + 1)"]``."""
    terms, depth, current = [], 0, ""
    for ch in formula.split("~", 1)[-1]:
        depth += (ch in "([") - (ch in ")]")
        if ch == "+" and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    terms.append(current.strip())
    return [t for t in terms if t]


def strata_terms(formula: object) -> tuple[object, tuple[str, ...]]:
    """Split R-style ``strata(a)`` / ``strata(a, b)`` terms off a formula: (the other terms, the strata columns).

    ``"age + strata(size)"`` -> ``("age", ("size",))``, as ``coxph(... ~ age + strata(size))``; a formula without
    such terms comes back unchanged. A strata term inside an interaction, or with anything but column names
    (backticks allowed), is an error naming it; a formula of strata terms only is an error too.
    """
    if not isinstance(formula, str) or "strata(" not in formula:
        return formula, ()
    kept, strata = [], []
    for term in formula_terms(right_hand_side(formula)):
        if term.startswith("strata(") and term.endswith(")"):
            names = [n.strip().strip("`") for n in term[len("strata("):-1].split(",")]
            if not all(names) or any(set(n) & set("()[]+*:~=") for n in names):
                raise InputError(f"formula term {term!r}: strata() takes column names, e.g. strata(size, chemo)")
            strata.extend(names)
        elif "strata(" in term:
            raise InputError(f"formula term {term!r}: strata() must be a term of its own (as in coxph), "
                             "not inside an interaction or a function")
        else:
            kept.append(term)
    if not kept:
        raise InputError(f"formula {formula!r} has strata() terms only; give at least one covariate")
    return " + ".join(kept), tuple(dict.fromkeys(strata))


def formula_variables(data: pd.DataFrame, formula: str) -> list[str]:
    """Every data column the formula reads, inside transforms too (``bs(age)``, ``scale(x)``,
    ``np.log(`ph.ecog`)``), in the order they appear in ``data``; unknown names are an error."""
    rhs = right_hand_side(formula)
    try:
        parsed = Formula(rhs)
    except (FormulaicError, SyntaxError, ValueError) as exc:
        raise InputError(f"formula {rhs!r} could not be parsed: {exc}") from None
    columns = {str(c) for c in data.columns}
    needed: set[str] = set()
    unknown: set[str] = set()
    for term in parsed:
        for factor in term.factors:
            method = getattr(factor.eval_method, "value", str(factor.eval_method))
            if method == "literal":
                continue
            if method == "lookup":
                (needed if factor.expr in columns else unknown).add(factor.expr)
                continue
            for name in _expression_names(factor.expr, columns):
                if name in columns:
                    needed.add(name)
                elif name not in _KNOWN_NAMES:
                    unknown.add(name)
    if unknown:
        raise InputError(
            f"formula {rhs!r} uses column(s) {', '.join(map(repr, sorted(unknown)))} not found in data; "
            f"available: {', '.join(map(str, data.columns))} (names that are not Python names go in "
            "backticks: `ph.ecog`)"
        )
    return [c for c in data.columns if c in needed]


def _expression_names(expr: str, columns: set[str]) -> set[str]:
    """Names an expression reads as values: plain names and the roots of attribute chains (``x.fillna``)
    whose root is a column; functions called by name (``np.log``, ``C``) are not data."""
    env = {c: None for c in columns}
    aliases: dict[str, str] = {}
    try:
        tree = ast.parse(sanitize_variable_names(expr, env, aliases), mode="eval")
    except SyntaxError as exc:
        raise InputError(f"formula term {expr!r} could not be parsed: {exc.msg}") from None
    names: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            skip.add(id(node.func))  # a function called by name: C(...), bs(...), np.log(...)
        if isinstance(node, ast.Attribute):
            skip.add(id(node))
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and aliases.get(root.id, root.id) in columns:
                names.add(aliases.get(root.id, root.id))  # x.fillna(0) reads the column x
            skip.add(id(root))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in skip:
            names.add(aliases.get(node.id, node.id))
    return names


def model_frame(data: pd.DataFrame, variables: list[str], *, fitting: bool = True) -> pd.DataFrame:
    """The formula's columns in a form formulaic reads safely: pandas ``string`` (also pyarrow-backed) as
    object, nullable numbers as float; dates and mixtures of text and numbers are refused by name.  When
    ``fitting``, categoricals lose the categories no row has (a category left empty by a filter is not a
    level of this fit; keeping the order of the others keeps the reference level), see :func:`_used_levels`."""
    out = {}
    for name in variables:
        s = data[name]
        dtype = s.dtype
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
            raise InputError(
                f"column {name!r}: a date or duration ({dtype}) cannot enter a formula; convert it to a number "
                "first, e.g. years: (data[col] - origin).dt.days / 365.25"
            )
        if isinstance(dtype, pd.CategoricalDtype):
            out[name] = _used_levels(s, name) if fitting else s
        elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
            out[name] = s.astype(object).where(s.notna(), None)
        elif pd.api.types.is_bool_dtype(dtype):
            out[name] = s.astype(bool) if not s.isna().any() else s.astype(object)
        elif dtype == np.float64:
            out[name] = s.to_numpy()  # a view: formulaic only reads it
        elif pd.api.types.is_numeric_dtype(dtype):
            out[name] = s.to_numpy(dtype=float, na_value=np.nan)
        elif pd.api.types.is_object_dtype(dtype):
            kinds = s.dropna().map(lambda v: "text" if isinstance(v, str) else type(v).__name__)
            if kinds.nunique() > 1:
                minority = kinds.value_counts().index[-1]
                fail(name, f"mixes values of different kinds ({', '.join(sorted(kinds.unique()))}), e.g. 1 and "
                     f"'1' would be two levels; make the column one type (values of kind {minority!r} at)",
                     kinds.index[(kinds == minority).to_numpy()])
            out[name] = s
        else:
            out[name] = s
    return pd.DataFrame(out, index=data.index, copy=False)


def _used_levels(s: pd.Series, name: str) -> pd.Series:
    """A categorical without the levels no row has, as R's model.frame drops unused levels: a cohort's coded
    column (an unordered categorical of the schema's codes) fits on a subset without, say, 'unknown' rows.
    An ordered categorical's levels were declared (``category(x, [...])``, ``cut``): there an empty first
    level is an error, since the next level would silently become the reference."""
    counts = s.value_counts(sort=False)
    empty = [level for level, n in counts.items() if n == 0]
    if not empty:
        return s
    first = s.cat.categories[0]
    if s.cat.ordered and first in empty and counts.sum() > 0:
        raise InputError(
            f"level {first!r} of {name!r} has no rows; it is the first level, the reference of the model. Drop it "
            f"from the levels (the reference is then {next(c for c in s.cat.categories if c not in empty)!r}) "
            "or choose another reference"
        )
    return s.cat.remove_unused_categories()


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
        return len(self.rows)

    def for_result(self) -> Design:
        """The design a fitted model keeps: read-only terms, levels and reference levels (mappings that cannot
        be edited), the rows used, the formula and its fitted transforms, but not the n x p matrix, which the
        fit has used and which would double the memory a result holds (``X`` keeps its columns, no rows)."""
        def frozen(mapping):
            return MappingProxyType({k: (tuple(v) if isinstance(v, list) else
                                         frozen(v) if isinstance(v, dict) else v) for k, v in mapping.items()})

        return Design(X=self.X.iloc[:0].copy(), terms=frozen(dict(self.terms)),
                      reference_levels=frozen(dict(self.reference_levels)), factors=frozen(dict(self.factors)),
                      dropped=self.dropped, rows=self.rows, formula=self.formula, intercept=self.intercept,
                      model_spec=self.model_spec)

    def term_of(self, column: str) -> str:
        """The term label a column belongs to."""
        for term, cols in self.terms.items():
            if column in cols:
                return term
        raise KeyError(column)

    def values(self) -> np.ndarray:
        """The matrix as a C-contiguous float64 array (a copy)."""
        return np.ascontiguousarray(self.X.to_numpy(dtype=float))

    @property
    def XT(self) -> np.ndarray:
        """The matrix transposed, (p, n) float64, C-contiguous and read-only: a view of ``X``'s one block
        when the design was built here (no copy of n x p values)."""
        view = self.X.to_numpy(dtype=float).T
        if not view.flags.c_contiguous:
            view = np.ascontiguousarray(view)
        view = view.view()
        view.flags.writeable = False
        return view

    def transform(self, newdata: pd.DataFrame, *, dropna: bool = False) -> pd.DataFrame:
        """The same columns for new data (categorical levels, spline knots as fitted); for prediction.

        Missing values in the columns the formula reads, and levels of a categorical variable that were not
        in the fitted data, are errors naming the column, level and rows; with ``dropna=True`` those rows are
        dropped and counted in ``frame.attrs["dropped"]`` (a :class:`~bmstats._checks.Dropped`).
        """
        require_frame(newdata, "newdata")
        variables = formula_variables(newdata, self.formula)
        newdata, dropped = handle_missing(newdata, variables, dropna)
        frame = model_frame(newdata, variables, fitting=False)
        unseen = _unlisted_levels(self.factors, frame)
        if unseen:
            if not dropna:
                variable, levels, rows = unseen[0]
                raise InputError(
                    f"newdata column {variable!r}: level(s) {', '.join(map(repr, levels))} not seen when the model "
                    f"was fitted (fitted levels: {', '.join(map(repr, self._levels_of(variable)))}) at "
                    f"{describe_rows(rows)}; pass dropna=True to drop and count these rows"
                )
            bad = unseen[0][2].append([rows for _, _, rows in unseen[1:]]).unique()
            by_column = dict(dropped.by_column)
            for variable, _, rows in unseen:
                by_column[f"{variable} (unseen level)"] = len(rows)
            if len(bad) == len(frame):
                raise InputError("no rows of newdata left after dropping unseen levels")
            dropped = Dropped(dropped.n + len(bad), dropped.rows + tuple(bad), by_column)
            frame = frame.drop(index=bad)
        mm, level_warning = _evaluate(
            lambda: self.model_spec.get_model_matrix(frame, context=_CONTEXT, na_action="ignore"), self.formula
        )
        if level_warning:
            raise InputError(f"newdata does not fit the formula {self.formula!r}: {level_warning}")
        out = pd.DataFrame(np.asarray(mm, dtype=float), columns=list(mm.columns), index=frame.index)[self.columns]
        _check_finite(out, self.terms, what="newdata: ")
        out.attrs["dropped"] = dropped
        return out

    def _levels_of(self, variable: str) -> list:
        return next((f["levels"] for f in self.factors.values() if f["variable"] == variable), [])


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
    every column the formula reads are an error unless ``dropna=True``. ``check_rank`` raises on constant
    columns and exact collinearity, naming the term.
    """
    require_frame(data)
    rhs = right_hand_side(formula)
    variables = formula_variables(data, rhs)
    data, dropped = handle_missing(data, variables, dropna)
    return build_design(data, rhs, variables, intercept=intercept, check_rank=check_rank, dropped=dropped)


def build_design(
    data: pd.DataFrame,
    formula: str,
    variables: list[str],
    *,
    intercept: bool = False,
    check_rank: bool = True,
    dropped: Dropped | None = None,
) -> Design:
    """The model matrix of rows already checked for missing values in ``variables`` (the columns
    :func:`formula_variables` found); the step :func:`bmstats.estimate.prepare.prepare` calls."""
    frame = model_frame(data, variables)

    def evaluate():
        with np.errstate(all="ignore"):  # non-finite results are reported by _check_finite, naming the term
            return Formula(formula).get_model_matrix(
                frame, context=_CONTEXT, na_action="ignore", ensure_full_rank=True, output="pandas"
            )

    mm, level_warning = _evaluate(evaluate, formula)
    spec: ModelSpec = mm.model_spec
    names = list(mm.columns)
    terms: dict[str, list[str]] = {}
    for term, sl in spec.term_slices.items():
        cols = names[sl]
        if cols:
            terms[str(term)] = cols
    keep = [i for i, c in enumerate(names) if intercept or c != INTERCEPT]
    names = [names[i] for i in keep]
    if not intercept:
        terms.pop("1", None)
    else:
        terms = {(INTERCEPT if k == "1" else k): v for k, v in terms.items()}
    if not names:
        raise InputError(f"formula {formula!r} gives no covariate columns")
    # the one float64 copy of the design, filled column by column as one (p, n) block (an n x p matrix in
    # Fortran order, which the DataFrame holds without copying): no intermediate n x p arrays
    values = np.empty((len(keep), len(data)))
    for j, i in enumerate(keep):
        values[j] = mm.iloc[:, i].to_numpy(dtype=float)
    del mm
    X = pd.DataFrame(values.T, columns=names, index=data.index, copy=False)

    factors, reference_levels = _factor_info(spec, frame)
    unlisted = _unlisted_levels(factors, frame)
    if unlisted:
        variable, levels, rows = unlisted[0]
        raise InputError(
            f"column {variable!r}: level(s) {', '.join(map(repr, levels))} are in the data but not among the "
            f"levels the formula lists ({', '.join(map(repr, _listed(factors, variable)))}); they would be merged "
            f"into the reference level. List every level, or drop those rows first ({describe_rows(rows)})"
        )
    if level_warning:  # a factor whose levels could not be traced to one column: still never merge silently
        raise InputError(f"formula {formula!r}: {level_warning}")
    design = Design(
        X=X,
        terms=terms,
        reference_levels=reference_levels,
        factors=factors,
        dropped=dropped if dropped is not None else Dropped.none(),
        rows=data.index,
        formula=formula,
        intercept=intercept,
        model_spec=spec,
    )
    _check_finite(design.X, design.terms)
    if check_rank:
        check_full_rank(design)
    return design


def _evaluate(build, formula: str):
    """Run formulaic: (model matrix, its warning about values outside a factor's levels or None), with
    formulaic's errors turned into InputErrors naming the formula."""
    with warnings.catch_warnings(record=True, action="always") as caught:
        try:
            mm = build()
        except (FormulaicError, ValueError, TypeError, KeyError, NameError, AttributeError) as exc:
            raise InputError(f"formula {formula!r} could not be evaluated on the data: {exc}") from None
    level_warning = None
    for w in caught:
        if _LEVEL_WARNING in str(w.message):
            level_warning = str(w.message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return mm, level_warning


def _listed(factors: dict, variable: str) -> list:
    return next((f["levels"] for f in factors.values() if f["variable"] == variable), [])


def _unlisted_levels(factors: dict, frame: pd.DataFrame) -> list[tuple[str, list, pd.Index]]:
    """(column, values, rows) for every factor read straight from a column whose values include ones that
    are not among the factor's levels (listed in ``C(x, levels=...)`` or seen when fitting)."""
    found = []
    for info in factors.values():
        variable = info["variable"]
        if not info.get("direct") or variable not in frame.columns:
            continue
        values = frame[variable]
        outside = values.notna() & ~values.isin(info["levels"])
        if outside.any():
            found.append((variable, list(pd.unique(values[outside])), values.index[outside.to_numpy()]))
    return found


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
        factors[str(factor)] = {"variable": variable, "levels": levels, "reference": base,
                                "direct": len(found) == 1 and _reads_column(str(factor.expr), variable, data)}
        reference_levels[variable] = base
    return factors, reference_levels


def _reads_column(expr: str, variable: str, data: pd.DataFrame) -> bool:
    """Whether a factor's values are the column's own values: ``x``, ``C(x, ...)``, ``treatment(x, ...)``."""
    if expr == variable:
        return True
    aliases: dict[str, str] = {}
    try:
        tree = ast.parse(sanitize_variable_names(expr, {c: None for c in data.columns}, aliases), mode="eval")
    except SyntaxError:
        return False
    node = tree.body
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id) == variable
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("C", "treatment")
            and bool(node.args) and isinstance(node.args[0], ast.Name)
            and aliases.get(node.args[0].id, node.args[0].id) == variable)


def _check_finite(X: pd.DataFrame, terms: dict, what: str = "") -> None:
    values = X.to_numpy()
    for j in range(values.shape[1]):  # column by column: no n x p temporaries
        bad = ~np.isfinite(values[:, j])
        if not bad.any():
            continue
        column = X.columns[j]
        term = next((t for t, cols in terms.items() if column in cols), column)
        rows = X.index[bad]
        raise InputError(
            f"{what}term {term!r} (column {column!r}) is not finite (NaN or infinite after "
            f"transformation) at {describe_rows(rows)}"
        )


def _empty_level(design: Design, column: str) -> tuple[str, str] | None:
    """(variable, level) when ``column`` is the indicator of a level of a factor of the design."""
    for factor, info in design.factors.items():
        prefix = factor + "["
        if column.startswith(prefix) and column.endswith("]"):
            level = column[len(prefix):-1]
            return info["variable"], level[2:] if level.startswith("T.") else level
    return None


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
    XT = design.XT
    if len(names) < len(XT):
        XT = XT[[j for j, c in enumerate(design.columns) if c != INTERCEPT]]
    w = np.ones(XT.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    mean = (XT @ w) / w.sum()
    gram = centered_gram(XT, mean, w)
    scale = np.diag(gram).copy()
    for j, name in enumerate(names):
        if scale[j] <= 0 or np.ptp(XT[j]) == 0:
            level = _empty_level(design, name) if XT[j, 0] == 0 else None
            if level is not None:
                raise InputError(f"level {level[1]!r} of {level[0]!r} has no rows; it cannot be estimated - drop "
                                 "the level (or those with no rows) from the levels listed")
            raise InputError(
                f"term {design.term_of(name)!r}: column {name!r} is constant (value {XT[j, 0]:g} in every row); "
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


CHUNK_ROWS = 16_384  # rows per block of the chunked products: a few p x 16,384 doubles, never n x p


def centered_gram(XT: np.ndarray, mean: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_i w_i (x_i - mean)(x_i - mean)' from the (p, n) columns, accumulated over blocks of rows (no n x p
    temporary)."""
    p, n = XT.shape
    gram = np.zeros((p, p))
    with single_threaded_blas():
        for a in range(0, n, CHUNK_ROWS):
            block = XT[:, a:a + CHUNK_ROWS] - mean[:, None]
            gram += (block * w[a:a + CHUNK_ROWS]) @ block.T
    return gram


def single_threaded_blas():
    """Context with one BLAS thread (threadpoolctl): the blocked products here are small and memory-bound,
    and OpenBLAS threads only add contention for them (measured 2-7x slower on a loaded 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def weighted_gram(XT: np.ndarray, v: np.ndarray) -> np.ndarray:
    """sum_i v_i x_i x_i' from the (p, n) columns, accumulated over blocks of rows (no n x p temporary)."""
    p, n = XT.shape
    gram = np.zeros((p, p))
    with single_threaded_blas():
        for a in range(0, n, CHUNK_ROWS):
            block = XT[:, a:a + CHUNK_ROWS]
            gram += (block * v[a:a + CHUNK_ROWS]) @ block.T
    return gram
