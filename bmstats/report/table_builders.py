"""Publication tables built from data or from estimator results, each returned as a :class:`Table`.

- :func:`table_one`: patient characteristics by group (gtsummary's ``tbl_summary`` / R ``tableone``):
  n (%), mean (SD) or median [Q1, Q3], missing counts, a p-value with the test named and standardised mean
  differences (Yang & Dalton 2012 for categorical variables; the mean of the pairwise SMDs for > 2 groups,
  as ``tableone`` does).
- :func:`regression_table`: hazard (or rate) ratios with 95% CI and p, several models side by side
  (univariable and multivariable; cause-specific and Fine-Gray), reference levels as ``1 (ref)``.
- :func:`cif_table`, :func:`survival_table`, :func:`median_table`, :func:`rate_table`: estimates at chosen
  times, medians and incidence rates, as % or per person-time with 95% CI.

Every table keeps the numbers it was formatted from in ``Table.data`` (tidy), so each cell can be checked
against the estimator result it came from.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._checks import InputError, distinct_labels, require_columns, require_frame
from bmstats.report.format import (
    DASH,
    REF,
    fmt_ci,
    fmt_int,
    fmt_mean_sd,
    fmt_median_iqr,
    fmt_n_pct,
    fmt_num,
    fmt_p,
    fmt_pct_ci,
)
from bmstats._deprecation import renamed_argument
from bmstats.estimate._result import ModelResult
from bmstats.estimate.cause_specific import CompetingRisksModels
from bmstats.estimate.cif import CumulativeIncidence
from bmstats.estimate.km import KaplanMeier
from bmstats.estimate.mcf import MeanCumulativeFunction
from bmstats.estimate.multistate_cox import MultiStateCox
from bmstats.estimate.rates import IncidenceRate, RateRatio
from bmstats.report.table import Table
from bmstats.report.table_args import checked_arguments

__all__ = ["table_one", "regression_table", "cif_table", "survival_table", "median_table", "rate_table"]


# ------------------------------------------------------------------------------------------- table one
def _is_categorical(s: pd.Series, max_levels: int) -> bool:
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_bool_dtype(s):
        return True
    if pd.api.types.is_string_dtype(s):
        return True
    return s.dropna().nunique() <= max_levels


def _levels(s: pd.Series) -> list:
    """Levels in categorical order, else sorted; two levels that print the same (1 and "1") are an error."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = list(s.cat.categories)
    else:
        values = s.dropna().unique()
        try:
            levels = sorted(values)
        except TypeError:
            levels = sorted(values, key=str)
    return distinct_labels(levels, str(s.name), s)


def _as_dates(s: pd.Series) -> pd.Series | None:
    """A date column (datetime64, or Python dates/datetimes in an object column) as datetime64, else None."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("datetime", "datetime64", "date"):
        return pd.to_datetime(s, errors="coerce")
    return None


_EPOCH = pd.Timestamp("1970-01-01")


def _numbers(s: pd.Series, is_date: bool) -> np.ndarray:
    """Non-missing values as floats: dates as days since 1970-01-01 (any datetime unit), else numbers."""
    if is_date:
        return ((s.dropna() - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    return pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)


def _day_text(days: float) -> str:
    return DASH if not np.isfinite(days) else (_EPOCH + pd.Timedelta(days=round(days))).strftime("%Y-%m-%d")


def _smd_continuous(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or len(b) < 2:  # no variance: the SMD is not defined (never a plausible 0)
        return float("nan")
    s2 = (np.var(a, ddof=1) + np.var(b, ddof=1)) / 2
    return float(abs(a.mean() - b.mean()) / np.sqrt(s2)) if s2 > 0 else 0.0


def _smd_categorical(pa: np.ndarray, pb: np.ndarray) -> float:
    """Yang & Dalton (2012) multinomial SMD over levels 2..k (proportions pa, pb over all levels)."""
    t, c = pa[1:], pb[1:]
    if t.size == 0:
        return 0.0
    cov = (np.diag(t) - np.outer(t, t) + np.diag(c) - np.outer(c, c)) / 2
    d = t - c
    value = d @ np.linalg.pinv(cov) @ d
    return float(np.sqrt(max(value, 0.0)))


def _mean_pairwise(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


@checked_arguments
def table_one(
    data: pd.DataFrame,
    by: str | None = None,
    variables: Sequence[str] | None = None,
    *,
    categorical: Sequence[str] | None = None,
    nonnormal: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    level_labels: Mapping[str, Mapping[Any, str]] | None = None,
    overall: bool = True,
    tests: bool = True,
    smd: bool = True,
    missing: str = "ifany",
    max_levels: int = 5,
    decimals: int = 1,
    title: str = "Patient characteristics",
) -> Table:
    """Table 1: patient characteristics overall and by group, with p-values and standardised mean differences.

    Categorical: n (%) of non-missing; continuous: mean (SD), or median [Q1, Q3] for ``nonnormal`` (without
    decimals for whole numbers whose quartiles are whole; text that is not a number is counted as missing, and
    a footnote says how many); SMD =
    abs(mean_a - mean_b) / sqrt((s_a^2 + s_b^2) / 2). Matches R's ``tableone::CreateTableOne`` (and
    ``gtsummary::tbl_summary``).

    Categorical p-values: Pearson's chi-squared (Fisher's exact for a 2 x 2 table with an expected count below
    5); mean (SD) rows: one-way ANOVA (t-test for two groups); median rows: Kruskal-Wallis (Wilcoxon rank-sum
    for two groups). A ``by`` group without patients keeps its column; a footnote says which groups a
    p-value compares.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per patient.
    by : str, optional
        Column of the groups compared (columns of the table).
    variables : sequence of str, optional
        Columns summarised (default: every column except ``by``).
    categorical : sequence of str, optional
        Columns shown as n (%) whatever their type.
    nonnormal : sequence of str, optional
        Numeric columns shown as median [Q1, Q3] (text columns are read as numbers; values that are not
        numbers count as missing).
    labels : mapping of str to str, optional
        Display names of the variables.
    level_labels : mapping of str to mapping, optional
        Display names of the levels, per variable.
    overall : bool, default True
        Add an "Overall" column.
    tests : bool, default True
        Add p-values (with ``by``).
    smd : bool, default True
        Add standardised mean differences (with ``by``).
    missing : {"ifany", "always", "no"}, default "ifany"
        When to add a "Missing" row, n (% of the group).
    max_levels : int, default 5
        Numeric columns with at most this many distinct values are categorical unless named otherwise.
    decimals : int, default 1
        Decimals of means, SDs and percentages.
    title : str, default "Patient characteristics"
        Table title.

    Returns
    -------
    Table
        The formatted table; ``Table.data`` holds the numbers behind every cell.

    References
    ----------
    .. [1] Yang D, Dalton JE. A unified approach to measuring the effect size between two groups using SAS.
       SAS Global Forum 2012, paper 335.
    .. [2] von Elm E, Altman DG, Egger M, et al. The Strengthening the Reporting of Observational Studies in
       Epidemiology (STROBE) statement. Lancet 2007;370:1453-1457.
    """
    require_frame(data)
    require_columns(data, [by])
    variables = list(variables) if variables is not None else [c for c in data.columns if c != by]
    require_columns(data, variables)
    if missing not in ("ifany", "always", "no"):
        raise InputError(f"missing must be 'ifany', 'always' or 'no', got {missing!r}")
    labels = dict(labels or {})
    level_labels = {k: dict(v) for k, v in (level_labels or {}).items()}
    nonnormal = set(nonnormal or ())
    forced_cat = set(categorical) if categorical is not None else None

    # dates are summarised as dates, durations in days: never as a mean of nanoseconds
    dates: set[str] = set()
    durations: set[str] = set()
    converted: dict[str, pd.Series] = {}
    for var in variables:
        as_dates = _as_dates(data[var])
        if as_dates is not None:
            dates.add(var)
            converted[var] = as_dates
        elif pd.api.types.is_timedelta64_dtype(data[var]):
            converted[var] = data[var] / pd.Timedelta(days=1)
            durations.add(var)
    # text in a continuous row: values that are not numbers are counted as missing, and a footnote says so
    not_numbers: list[str] = []
    for var in variables:
        s = data[var]
        if var in nonnormal and var not in converted and not pd.api.types.is_numeric_dtype(s):
            values = pd.to_numeric(s.astype(object), errors="coerce").astype(float)
            bad = s.notna() & values.isna()
            if bad.any():
                shown = ", ".join(repr(v) for v in s[bad].astype(str).unique()[:3])
                not_numbers.append(f"{labels.get(var, var)}: {int(bad.sum()):,} value(s) that are not numbers "
                                   f"({shown}) counted as missing.")
            converted[var] = values
    if converted:
        data = data.copy()
        for var, values in converted.items():
            data[var] = values

    if by is not None:
        if data[by].isna().any():
            raise InputError(f"column {by!r}: the grouping variable has missing values; "
                             "recode them (e.g. as 'unknown') or drop those rows first")
        group_levels = _levels(data[by])
        groups = [(str(level_labels.get(by, {}).get(g, g)), data[data[by] == g]) for g in group_levels]
    else:
        groups = []
    columns: list[tuple[str, pd.DataFrame]] = ([("Overall", data)] if overall or by is None else []) + groups
    col_names = [f"{name} (n = {len(frame):,})" for name, frame in columns]
    has_test = tests and by is not None and len(groups) > 1
    has_smd = smd and by is not None and len(groups) > 1
    empty_groups = [name for name, g in groups if len(g) == 0]
    partial_rows: list[str] = []  # rows whose test/SMD leave out a group with no values of the variable

    rows: list[list[str]] = []
    indent: list[int] = []
    bold: list[bool] = []
    tidy: list[dict] = []
    used_tests: list[str] = []

    def add(label: str, values: list[str], p: str = "", test: str = "", smd_text: str = "", level: int = 0,
            strong: bool = False) -> None:
        extra = ([p, test] if has_test else []) + ([smd_text] if has_smd else [])
        rows.append([label, *values, *extra])
        indent.append(level)
        bold.append(strong)

    for var in variables:
        s = data[var]
        name = labels.get(var, var)
        is_date = var in dates
        if var in nonnormal or is_date:
            is_cat = False
        elif forced_cat is not None:
            is_cat = var in forced_cat or not pd.api.types.is_numeric_dtype(s)
        else:
            is_cat = _is_categorical(s, max_levels)
        n_missing = [int(frame[var].isna().sum()) for _, frame in columns]
        p_value, test_name, smd_value = float("nan"), "", float("nan")
        # groups compared for this variable: those with at least one value (an empty group has nothing to test)
        with_values = [(gname, g) for gname, g in groups if g[var].notna().any()]
        no_values = [gname for gname, g in groups if len(g) and not g[var].notna().any()]
        if (has_test or has_smd) and no_values and len(with_values) > 1:
            partial_rows.append(f"{name} ({', '.join(no_values)} without values)")
        if is_cat:
            levels = _levels(s)
            counts = [frame[var].value_counts().reindex(levels, fill_value=0).to_numpy() for _, frame in columns]
            if has_test and len(with_values) > 1:
                table = np.array([g[var].value_counts().reindex(levels, fill_value=0).to_numpy()
                                  for _, g in with_values])
                table = table[:, table.sum(axis=0) > 0]
                if table.shape[1] < 2:
                    p_value, test_name = float("nan"), ""
                else:
                    expected = stats.contingency.expected_freq(table)
                    if table.shape == (2, 2) and expected.min() < 5:
                        p_value, test_name = float(stats.fisher_exact(table)[1]), "Fisher's exact"
                    else:
                        p_value = float(stats.chi2_contingency(table, correction=False)[1])
                        test_name = "Chi-squared"
            if has_smd and len(with_values) > 1:
                props = []
                for _, g in with_values:
                    c = g[var].value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float)
                    props.append(c / c.sum())
                smd_value = _mean_pairwise([_smd_categorical(props[i], props[j])
                                            for i in range(len(props)) for j in range(i + 1, len(props))])
            add(f"{name}, n (%)", [""] * len(columns), fmt_p(p_value), test_name,
                fmt_num(smd_value, 2) if has_smd else "", strong=True)
            for k, level in enumerate(levels):
                texts = []
                for (col, frame), c, miss in zip(columns, counts, n_missing):
                    denom = len(frame) - miss
                    texts.append(fmt_n_pct(c[k], denom, decimals))
                    tidy.append({"variable": var, "level": level, "column": col, "n": int(c[k]),
                                 "percent": 100 * c[k] / denom if denom else float("nan")})
                add(str(level_labels.get(var, {}).get(level, level)), texts, level=1)
        else:
            x_all = [_numbers(frame[var], is_date) for _, frame in columns]
            x_groups = [_numbers(g[var], is_date) for _, g in with_values]
            robust = var in nonnormal or is_date
            if has_test and len(x_groups) > 1 and all(len(x) > 1 for x in x_groups):
                if robust:
                    if len(x_groups) == 2:
                        p_value = float(stats.mannwhitneyu(*x_groups, alternative="two-sided").pvalue)
                        test_name = "Wilcoxon rank-sum"
                    else:
                        p_value, test_name = float(stats.kruskal(*x_groups).pvalue), "Kruskal-Wallis"
                else:
                    if len(x_groups) == 2:
                        p_value, test_name = float(stats.ttest_ind(*x_groups).pvalue), "t-test"
                    else:
                        p_value, test_name = float(stats.f_oneway(*x_groups).pvalue), "ANOVA"
            if has_smd and len(x_groups) > 1:
                smd_value = _mean_pairwise([_smd_continuous(x_groups[i], x_groups[j])
                                            for i in range(len(x_groups)) for j in range(i + 1, len(x_groups))])
            texts = []
            # whole numbers (counts such as positive nodes) without decimals when every quartile is whole
            whole = robust and not is_date and all(
                np.all(np.mod(np.percentile(x, [25, 50, 75]), 1) == 0) for x in x_all if len(x)
            ) and all(np.all(np.mod(x, 1) == 0) for x in x_all)
            for (col, _), x in zip(columns, x_all):
                if robust:
                    q1, med, q3 = np.percentile(x, [25, 50, 75]) if len(x) else (np.nan,) * 3
                    if is_date:
                        texts.append(DASH if not len(x) else f"{_day_text(med)} [{_day_text(q1)}, {_day_text(q3)}]")
                        tidy.append({"variable": var, "column": col, "median": _day_text(med), "q1": _day_text(q1),
                                     "q3": _day_text(q3), "n": len(x)})
                    else:
                        texts.append(fmt_median_iqr(med, q1, q3, 0 if whole else decimals))
                        tidy.append({"variable": var, "column": col, "median": med, "q1": q1, "q3": q3, "n": len(x)})
                else:
                    mean = x.mean() if len(x) else np.nan
                    sd = x.std(ddof=1) if len(x) > 1 else np.nan
                    texts.append(fmt_mean_sd(mean, sd, decimals))
                    tidy.append({"variable": var, "column": col, "mean": mean, "sd": sd, "n": len(x)})
            stat = "median [Q1, Q3]" if robust else "mean (SD)"
            unit = ", days" if var in durations else ""
            add(f"{name}{unit}, {stat}", texts, fmt_p(p_value), test_name, fmt_num(smd_value, 2) if has_smd else "",
                strong=True)
        for row in tidy:
            if row["variable"] == var:
                row.update({"p_value": p_value, "test": test_name, "smd": smd_value})
        if test_name and test_name not in used_tests:
            used_tests.append(test_name)
        if missing == "always" or (missing == "ifany" and sum(n_missing) > 0):
            add("Missing", [fmt_n_pct(m, len(frame), decimals) for m, (_, frame) in zip(n_missing, columns)],
                level=1)
            for m, (col, _) in zip(n_missing, columns):
                tidy.append({"variable": var, "level": "<missing>", "column": col, "n": m})

    header = ["Characteristic", *col_names] + (["p", "Test"] if has_test else []) + (["SMD"] if has_smd else [])
    body = pd.DataFrame(rows, columns=header)
    notes = ["n (%) of non-missing values; mean (SD); median [Q1, Q3]."]
    if dates:
        notes.append("Dates: median [Q1, Q3] date.")
    notes.extend(not_numbers)
    if has_test:
        if used_tests:
            notes.append("p: " + ", ".join(used_tests) + " test across groups, as named in the Test column.")
    if has_smd:
        notes.append("SMD: absolute standardised mean difference"
                     + (" (mean of pairwise SMDs)." if len(groups) - len(empty_groups) > 2 else "."))
    if (has_test or has_smd) and empty_groups:
        notes.append(f"{', '.join(empty_groups)}: no patients; p and SMD compare the other groups.")
    if partial_rows:
        notes.append(f"{'; '.join(partial_rows)}: p and SMD compare the groups with values.")
    tidy_frame = pd.DataFrame(tidy)
    return Table(body, title=title, footnotes=tuple(n for n in notes if n), indent=tuple(indent),
                 bold=tuple(bold), data=tidy_frame, name="table_one")


# ----------------------------------------------------------------------------------- regression tables
_RATIO_LABELS = {"hr": "HR", "shr": "SHR", "rate_ratio": "RR", "odds_ratio": "OR"}
_LEVEL = re.compile(r"^(?P<factor>.+?)\[(?:T\.)?(?P<level>.+)\]$")


def _model(result: Any, heading: str) -> ModelResult:
    if not isinstance(result, ModelResult):
        where = f" {heading!r}" if heading else ""
        raise InputError(f"regression_table: model{where} must be a fitted model of bmstats (cox, fine_gray, "
                         f"cause_specific_cox, rate_regression, ...), got {type(result).__name__}")
    return result


def _factor_variable(factor: str) -> str:
    """``C(grade, contr.treatment(2))`` -> ``grade``; ``treatment(size, '<=20')`` -> ``size``."""
    m = re.match(r"^\s*(?:C|treatment)\(\s*([^,\)]+)", factor)
    return m.group(1).strip() if m else factor.strip()


def _term_rows(result: ModelResult, summary: pd.DataFrame) -> list[dict]:
    """One dict per coefficient: variable, level (None for a numeric term), reference level, levels."""
    design = result.design
    factors = dict(design.factors) if design is not None else {}
    refs = dict(design.reference_levels) if design is not None else {}
    out = []
    for term in summary.index.astype(str):
        m = _LEVEL.match(term)
        if m and ":" not in term:
            factor = m.group("factor")
            info = factors.get(factor, {})
            variable = info.get("variable") or _factor_variable(factor)
            reference = info.get("reference", refs.get(variable, refs.get(factor)))
            out.append({"term": term, "variable": variable, "level": m.group("level"), "reference": reference,
                        "levels": list(info.get("levels", []))})
        else:
            out.append({"term": term, "variable": term, "level": None, "reference": None, "levels": []})
    return out


@checked_arguments
def regression_table(
    models: Any,
    *,
    labels: Mapping[str, str] | None = None,
    level_labels: Mapping[str, Mapping[Any, str]] | None = None,
    decimals: int = 2,
    ratio_label: str | None = None,
    title: str = "Regression results",
    footnotes: Sequence[str] = (),
) -> Table:
    """Ratios (95% CI) and p-values of one or several fitted models, side by side.

    Each cell is exp(coef) (exp(coef -+ z std_err)) from the model's ``.summary``; categorical terms grouped
    under their variable with the reference level as ``1 (ref)``, as R's ``gtsummary::tbl_regression``
    (``exponentiate = TRUE``) lays them out.

    Parameters
    ----------
    models : ModelResult, list or mapping
        One fitted model, a list (univariable models stacked into one column), or a mapping
        ``{"column heading": model or list}`` (e.g. cause-specific and Fine-Gray side by side).
    labels : mapping of str to str, optional
        Display names of the variables.
    level_labels : mapping of str to mapping, optional
        Display names of the levels, per variable.
    decimals : int, default 2
        Decimals of ratios and limits.
    ratio_label : str, optional
        Heading of the ratio column (default from each model's ``.ratio_name``: HR, SHR, RR, OR).
    title : str, default "Regression results"
        Table title.
    footnotes : sequence of str, default ()
        Footnotes (default: what the abbreviations mean).

    Returns
    -------
    Table
        The formatted table; ``Table.data`` holds the numbers behind every cell.

    References
    ----------
    .. [1] von Elm E, Altman DG, Egger M, et al. The Strengthening the Reporting of Observational Studies in
       Epidemiology (STROBE) statement. Lancet 2007;370:1453-1457.
    """
    models = _expand_models(models)
    labels = dict(labels or {})
    level_labels = {k: dict(v) for k, v in (level_labels or {}).items()}
    # per column: key -> (ratio, lower, upper, p); key = (variable, level)
    columns: dict[str, dict] = {}
    order: list[tuple] = []
    var_levels: dict[str, list] = {}
    references: dict[str, Any] = {}
    counts: dict[str, tuple] = {}
    tidy = []
    ratio_names: dict[str, str] = {}
    any_not_estimable = False
    for heading, value in models.items():
        results = list(value) if isinstance(value, (list, tuple)) else [value]
        cells: dict[tuple, tuple] = {}
        ns, evs = [], []
        for result in results:
            result = _model(result, heading)
            summary = result.summary
            rcol = result.ratio_name
            if heading not in ratio_names:
                ratio_names[heading] = ratio_label or _RATIO_LABELS.get(rcol, rcol)
            ns.append(result.n)
            evs.append(result.n_events)
            for info in _term_rows(result, summary):
                if info["term"] in ("Intercept", "(Intercept)", "const"):
                    continue  # a baseline rate, not a ratio
                row = summary.loc[info["term"]] if info["term"] in summary.index else summary.iloc[
                    list(summary.index.astype(str)).index(info["term"])]
                ratio, lo, hi, p = (float(row[c]) for c in (rcol, "lower", "upper", "p_value"))
                estimable = bool(row["estimable"]) if "estimable" in row.index else True
                any_not_estimable |= not estimable
                key = (info["variable"], info["level"])
                cells[key] = (ratio, lo, hi, p, estimable)
                tidy.append({"model": heading, "term": info["term"], "variable": info["variable"],
                             "level": info["level"], "ratio": ratio, "lower": lo, "upper": hi, "p_value": p,
                             "estimable": estimable})
                if info["level"] is not None:
                    var = info["variable"]
                    levels = var_levels.setdefault(var, [])
                    for lv in [str(x) for x in info["levels"]] + [info["level"]]:
                        if lv not in levels and lv != str(info["reference"]):
                            levels.append(lv)
                    if info["reference"] is not None:
                        references.setdefault(var, info["reference"])
                if (info["variable"], None) not in order and info["level"] is not None:
                    order.append((info["variable"], None))
                elif info["level"] is None and key not in order:
                    order.append(key)
        columns[heading] = cells
        n_val = ns[0] if len(set(map(str, ns))) == 1 else None
        e_val = evs[0] if len(set(map(str, evs))) == 1 else None
        counts[heading] = (n_val, e_val)

    rows, indent, bold = [], [], []
    row_of: dict[tuple, int] = {}
    headings = list(columns)
    if any(n is not None or e is not None for n, e in counts.values()):
        row = ["Patients / events"]
        for h in headings:
            n, e = counts[h]
            row += [f"{fmt_int(n) if n is not None else DASH} / {fmt_int(e) if e is not None else DASH}", ""]
        rows.append(row)
        indent.append(0)
        bold.append(False)
    for var, level in order:
        if level is None and var in var_levels:  # categorical variable: heading row, reference, levels
            rows.append([labels.get(var, var)] + [""] * (2 * len(headings)))
            indent.append(0)
            bold.append(True)
            ref = references.get(var)
            if ref is not None:
                rows.append([str(level_labels.get(var, {}).get(ref, level_labels.get(var, {}).get(str(ref), ref)))]
                            + sum(([REF, ""] for _ in headings), []))
                indent.append(1)
                bold.append(False)
            for lv in var_levels[var]:
                row_of[(var, lv)] = len(rows)
                row = [str(level_labels.get(var, {}).get(lv, lv))]
                for h in headings:
                    row += _ratio_cells(columns[h].get((var, lv)), decimals)
                rows.append(row)
                indent.append(1)
                bold.append(False)
        else:
            row_of[(var, None)] = len(rows)
            row = [labels.get(var, var)]
            for h in headings:
                row += _ratio_cells(columns[h].get((var, None)), decimals)
            rows.append(row)
            indent.append(0)
            bold.append(False)
    if len(headings) == 1 and headings[0] == "":
        cols: Any = ["Variable", f"{ratio_names[''] } (95% CI)", "p"]
    else:
        cols = pd.MultiIndex.from_tuples([("", "Variable")] + sum(
            ([(h, f"{ratio_names[h]} (95% CI)"), (h, "p")] for h in headings), []))
    body = pd.DataFrame(rows, columns=cols)
    tidy_frame = pd.DataFrame(tidy)
    tidy_frame["row"] = [row_of.get((v, lv), -1) for v, lv in zip(tidy_frame["variable"], tidy_frame["level"])]
    used = list(dict.fromkeys(ratio_names.values()))
    notes = list(footnotes) or [
        "; ".join(f"{r}: {_RATIO_NAMES.get(r, r)}" for r in used) + "; CI: confidence interval."]
    if any_not_estimable:
        notes.append(NOT_ESTIMABLE_NOTE)
    return Table(body, title=title, footnotes=tuple(notes), indent=tuple(indent), bold=tuple(bold),
                 data=tidy_frame, name="regression_table")


NOT_ESTIMABLE = "not estimable"
NOT_ESTIMABLE_NOTE = ("Not estimable: the likelihood has no finite maximum for this effect (monotone likelihood, "
                      "e.g. no events in a category), so no ratio, interval or p-value exists.")


def _ratio_cells(cell: tuple | None, decimals: int) -> list[str]:
    """The '<ratio> (lower-upper)' and p cells of one estimate; a dash when absent; 'not estimable' when the
    model marked it so (never a '0.00 (0.00-0.00)' from a diverging coefficient)."""
    if cell is None:
        return [DASH, ""]
    ratio, lo, hi, p, estimable = cell
    if not estimable:
        return [NOT_ESTIMABLE, ""]
    return [fmt_ci(ratio, lo, hi, decimals=decimals), fmt_p(p)]


def _expand_models(models: Any) -> dict:
    """A mapping heading -> result(s); a competing_risks_models result becomes its fits side by side."""
    if not isinstance(models, Mapping):
        models = {"": models}
    out: dict = {}
    for heading, value in models.items():
        if isinstance(value, MultiStateCox):
            for (a, b), res in value.models.items():
                out[f"{heading}: {a} -> {b}" if heading else f"{a} -> {b}"] = res
        elif isinstance(value, CompetingRisksModels):
            fits = value.fits
            causes = sorted({c for _, c in fits})
            for (model, cause), res in fits.items():
                name = model[:1].upper() + model[1:]
                key = name if len(causes) == 1 else f"{name}, cause {cause}"
                out[f"{heading}: {key}" if heading else key] = res
        else:
            out[heading] = value
    return out


_RATIO_NAMES = {"HR": "hazard ratio", "SHR": "subdistribution hazard ratio", "RR": "rate ratio", "OR": "odds ratio"}


# ------------------------------------------------------------------------------- estimates at times
def _curve_values(result: Any, times: Sequence[float], keys: Sequence[str]) -> pd.DataFrame:
    """``result.at(times)`` (the one step-function lookup), except after a curve's last time (its last
    follow-up), where nothing is known: there the values are NaN (an en dash in the table), ``beyond`` is
    True and ``last_time`` holds that last time for the footnote."""
    at = result.at(list(times))
    table = result.table
    keys = [k for k in keys if k in table.columns and k in at.columns]
    if keys:
        last = table.groupby(keys, observed=True, sort=False)["time"].max().rename("last_time")
        at = at.join(last, on=keys)
    else:
        at["last_time"] = float(table["time"].max())
    at["beyond"] = at["time"].to_numpy(dtype=float) > at["last_time"].to_numpy(dtype=float)
    at.loc[at["beyond"], [c for c in ("estimate", "std_err", "lower", "upper") if c in at.columns]] = np.nan
    return at


def _beyond_note(values: pd.DataFrame, unit: str) -> list[str]:
    """The footnote for times after a group's last follow-up (en dash cells), naming the groups."""
    if "beyond" not in values.columns or not values["beyond"].any():
        return []
    past = values[values["beyond"]]
    who = past.drop_duplicates("group") if "group" in past.columns else past.head(1)
    parts = [(f"{g}: " if "group" in past.columns else "") + f"{fmt_num(last, 1)} {unit}"
             for g, last in zip(who["group"] if "group" in who.columns else [None] * len(who), who["last_time"])]
    return [f"{DASH}: after the last follow-up ({'; '.join(parts)}); not estimated."]


def _time_label(t: float, unit: str) -> str:
    if float(t) == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{fmt_num(t, 0 if float(t).is_integer() else 1)} {unit}".strip()


@checked_arguments
def cif_table(
    result: CumulativeIncidence,
    times: Sequence[float],
    *,
    cause: int | Sequence[int] | None = None,
    cause_labels: Mapping[int, str] | None = None,
    group_label: str = "Group",
    unit: str = "years",
    decimals: int = 1,
    title: str = "Cumulative incidence",
    causes: Mapping[int, str] | None = None,
) -> Table:
    """Cumulative incidence in % (95% CI) at chosen times, per cause and group, with Gray's test.

    Cells are 100 F_k(t) (limits) from ``result.at(times)``; the p-value per cause is Gray's test, as R's
    ``cmprsk::timepoints`` and ``cuminc`` report them.

    Parameters
    ----------
    result : CumulativeIncidence
        A :func:`bmstats.cumulative_incidence` result.
    times : sequence of float
        Times at which the incidence is shown.
    cause : int or sequence of int, optional
        The cause(s) shown (default: every cause).
    cause_labels : mapping of int to str, optional
        Names of the causes (default "Cause k").
    group_label : str, default "Group"
        Heading of the group column.
    unit : str, default "years"
        Unit of the times, for the column headings.
    decimals : int, default 1
        Decimals of the percentages.
    title : str, default "Cumulative incidence"
        Table title.
    causes : mapping of int to str, optional
        Deprecated spelling of ``cause=list(causes), cause_labels=causes``.

    Returns
    -------
    Table
        The formatted table; ``Table.data`` holds the numbers behind every cell.

    References
    ----------
    .. [1] Pintilie M. Competing Risks: A Practical Perspective. Wiley 2006.
    """
    if causes is not None:
        renamed_argument("cif_table", "causes", "cause= (the codes) and cause_labels= (their names)")
        cause, cause_labels = (cause or list(causes)), {**causes, **(cause_labels or {})}
    table = result.table
    has_group = "group" in table.columns and table["group"].nunique(dropna=False) > 1
    all_causes = sorted(table["cause"].unique())
    labels_of = dict(cause_labels or {})
    causes = {c: labels_of.get(c, f"Cause {c}") for c in (cause if cause is not None else all_causes)}
    unknown = [c for c in causes if c not in all_causes]
    if unknown:
        raise InputError(f"cif_table: cause {unknown} is not in the result; its causes are "
                         f"{', '.join(map(str, all_causes))}")
    keys = ["cause", "group"] if "group" in table.columns else ["cause"]
    values = _curve_values(result, times, keys)
    values = values[values["cause"].isin(list(causes))]
    gray = result.gray_test
    rows, indent, bold = [], [], []
    tidy = []
    for cause, cause_name in causes.items():
        p_text = ""
        if gray is not None and has_group:
            match = gray[gray["cause"] == cause]
            if len(match):
                p_text = fmt_p(match["p_value"].iloc[0])
        rows.append([cause_name] + [""] * len(times) + ([p_text] if has_group else []))
        indent.append(0)
        bold.append(True)
        sub = values[values["cause"] == cause]
        groups = list(dict.fromkeys(sub["group"])) if "group" in sub.columns else [None]
        for g in groups:
            gsub = sub if g is None else sub[sub["group"] == g]
            texts = [fmt_pct_ci(r.estimate, r.lower, r.upper, decimals) for r in gsub.itertuples()]
            rows.append([str(g) if g is not None else "All"] + texts + ([""] if has_group else []))
            indent.append(1)
            bold.append(False)
            tidy.append(gsub.assign(cause_name=cause_name))
    header = [group_label] + [_time_label(t, unit) for t in times] + (["p (Gray)"] if has_group else [])
    notes = ["Cumulative incidence (Aalen-Johansen) in % (95% CI)."]
    if has_group:
        notes.append("p: Gray's test for equality of cumulative incidence across groups.")
    notes += _beyond_note(values, unit)
    return Table(pd.DataFrame(rows, columns=header), title=title, footnotes=tuple(notes), indent=tuple(indent),
                 bold=tuple(bold), data=pd.concat(tidy, ignore_index=True), name="cif_table")


@checked_arguments
def survival_table(
    result: KaplanMeier,
    times: Sequence[float],
    *,
    group_label: str = "Group",
    unit: str = "years",
    decimals: int = 1,
    test: Any = None,
    title: str = "Survival",
) -> Table:
    """Kaplan-Meier survival in % (95% CI) at chosen times per group, with the log-rank p-value.

    Cells are 100 S(t) (limits) from the result's table, as R's ``summary(survfit, times = times)`` gives
    them; the p-value is ``test.p_value``.

    Parameters
    ----------
    result : KaplanMeier
        A :func:`bmstats.kaplan_meier` result.
    times : sequence of float
        Times at which survival is shown.
    group_label : str, default "Group"
        Heading of the group column.
    unit : str, default "years"
        Unit of the times, for the column headings.
    decimals : int, default 1
        Decimals of the percentages.
    test : LogRankTest, optional
        A :func:`bmstats.logrank_test` result whose p-value is shown.
    title : str, default "Survival"
        Table title.

    Returns
    -------
    Table
        The formatted table; ``Table.data`` holds the numbers behind every cell.

    References
    ----------
    .. [1] Pocock SJ, Clayton TC, Altman DG. Survival plots of time-to-event outcomes in clinical trials: good
       practice and pitfalls. Lancet 2002;359:1686-1689.
    """
    table = result.table
    keys = ["group"] if "group" in table.columns else []
    values = _curve_values(result, times, keys)
    rows = []
    groups = list(dict.fromkeys(values["group"])) if keys else [None]
    for g in groups:
        sub = values if g is None else values[values["group"] == g]
        rows.append([str(g) if g is not None else "All"]
                    + [fmt_pct_ci(r.estimate, r.lower, r.upper, decimals) for r in sub.itertuples()])
    header = [group_label] + [_time_label(t, unit) for t in times]
    notes = ["Kaplan-Meier estimate in % (95% CI)."] + _beyond_note(values, unit)
    body = pd.DataFrame(rows, columns=header)
    if test is not None:
        body["p (log-rank)"] = [fmt_p(test.p_value)] + [""] * (len(body) - 1)
        notes.append("p: log-rank test.")
    return Table(body, title=title, footnotes=tuple(notes), data=values, name="survival_table")


@checked_arguments
def median_table(
    result: KaplanMeier,
    *,
    group_label: str = "Group",
    unit: str = "years",
    decimals: int = 1,
    title: str = "Median survival",
) -> Table:
    """Patients, events and median survival (95% CI) per group from a Kaplan-Meier result.

    n = number at risk at the first time, events = sum of n_event, median = first t with S(t) <= 0.5 (midpoint
    rule on a flat stretch), limits from the limit curves, as R's ``print(survfit)``.

    Parameters
    ----------
    result : KaplanMeier
        A :func:`bmstats.kaplan_meier` result.
    group_label : str, default "Group"
        Heading of the group column.
    unit : str, default "years"
        Unit of the times, for the column headings.
    decimals : int, default 1
        Decimals of the medians.
    title : str, default "Median survival"
        Table title.

    Returns
    -------
    Table
        The formatted table; ``Table.data`` holds the numbers behind every cell.

    References
    ----------
    .. [1] Brookmeyer R, Crowley J. A confidence interval for the median survival time. Biometrics
       1982;38:29-41.
    """
    table = result.table
    med = result.median()  # group, estimate, lower, upper
    rows, tidy = [], []
    for g, m in zip(result.groups, med.itertuples()):
        sub = table[table["group"] == g].sort_values("time", kind="mergesort")
        n = int(sub["n_risk"].iloc[0])
        events = int(sub["n_event"].sum())
        est, lo, hi = float(m.estimate), float(m.lower), float(m.upper)
        median_text = "not reached" if not np.isfinite(est) else fmt_ci(est, lo, hi, decimals)
        if np.isfinite(est) and not np.isfinite(hi):
            median_text = f"{fmt_num(est, decimals)} ({fmt_num(lo, decimals)}{DASH}NR)"
        rows.append([str(g) if g is not None else "All", fmt_int(n), fmt_int(events), median_text])
        tidy.append({"group": g, "n": n, "events": events, "median": est, "lower": lo, "upper": hi})
    header = [group_label, "Patients", "Events", f"Median, {unit} (95% CI)"]
    return Table(pd.DataFrame(rows, columns=header), title=title,
                 footnotes=("Kaplan-Meier median; NR: not reached.",), data=pd.DataFrame(tidy), name="median_table")


@checked_arguments
def rate_table(
    result: IncidenceRate,
    *,
    ratios: RateRatio | None = None,
    group_label: str = "Group",
    per: float | None = None,
    unit: str = "person-years",
    decimals: int | None = None,
    title: str = "Incidence rates",
) -> Table:
    """Events, person-time and incidence rate (95% CI) per group, optionally with rate ratios.

    rate = per * events / person-time with exact Poisson limits, ratios with exact conditional limits, as R's
    ``poisson.test``.

    Parameters
    ----------
    result : IncidenceRate
        A :func:`bmstats.incidence_rate` result.
    ratios : RateRatio, optional
        A :func:`bmstats.rate_ratio` result whose ratios are added.
    group_label : str, default "Group"
        Heading of the group column.
    per : float, optional
        Rates per this much person-time (default: the result's ``per``).
    unit : str, default "person-years"
        Unit of the person-time, for the headings.
    decimals : int, optional
        Decimals of the rates (default: chosen from their size).
    title : str, default "Incidence rates"
        Table title.

    Returns
    -------
    Table
        The formatted table; ``Table.data`` holds the numbers behind every cell.

    References
    ----------
    .. [1] Breslow NE, Day NE. Statistical Methods in Cancer Research, Vol. II. IARC 1987, chapter 2.
    """
    table = result.table
    per = per if per is not None else result.per
    if decimals is None:
        from bmstats.report.format import decimals_for

        decimals = decimals_for(table["rate"])
    rows = []
    groups = list(table["group"])
    for g, r in zip(groups, table.itertuples()):
        rows.append([str(g), fmt_int(r.n_event), fmt_num(r.person_time, 1, thousands=True),
                     fmt_ci(r.rate, r.lower, r.upper, decimals)])
    # "per 1,000 person-years", but "per person-year" (never "per 1 person-years")
    singular = unit[:-1] if unit.endswith("s") else unit
    per_text = f"per {fmt_int(per)} {unit}" if per and per != 1 else f"per {singular}"
    header = [group_label, "Events", unit.capitalize(), f"Rate {per_text} (95% CI)"]
    body = pd.DataFrame(rows, columns=header)
    if ratios is not None:
        if not isinstance(ratios, RateRatio):
            raise InputError(f"rate_table: ratios must be a result of bmstats.rate_ratio, got {type(ratios).__name__}")
        rr = ratios.table.set_index("group")
        texts, ps = [], []
        for g in groups:
            if str(g) in set(rr.index.astype(str)):
                r = rr.loc[rr.index.astype(str) == str(g)].iloc[0]
                texts.append(fmt_ci(r["rate_ratio"], r["lower"], r["upper"], 2))
                ps.append(fmt_p(r["p_value"]))
            else:
                texts.append(REF)
                ps.append("")
        body["Rate ratio (95% CI)"] = texts
        body["p"] = ps
    level = result.conf_level
    notes = [f"Rate {per_text} with exact Poisson {level:.0%} CI."]
    if ratios is not None:
        notes.append("Rate ratio to the reference group with exact conditional CI and p (as R poisson.test).")
    return Table(body, title=title, footnotes=tuple(notes),
                 data=table.reset_index(drop=True), name="rate_table")


@checked_arguments
def mcf_table(
    result: MeanCumulativeFunction,
    times: Sequence[float],
    *,
    group_label: str = "Group",
    unit: str = "years",
    decimals: int = 2,
    title: str = "Mean cumulative number of events",
) -> Table:
    """Mean number of events per patient (95% CI) at ``times`` per group, from ``result.at(times)``
    (a :func:`bmstats.mean_cumulative_function` result); an en dash beyond a group's follow-up."""
    at = result.at(list(times))
    rows = []
    keys = list(dict.fromkeys(at["group"])) if "group" in at.columns else [None]
    for g in keys:
        sub = at if g is None else at[at["group"].astype(object) == g] if g is not None else at
        if g is None and "group" in at.columns:
            sub = at[at["group"].isna()]
        rows.append([str(g) if g is not None else "All"]
                    + [fmt_ci(r.estimate, r.lower, r.upper, decimals) for r in sub.itertuples()])
    header = [group_label] + [_time_label(t, unit) for t in times]
    notes = ["Mean cumulative number of events per patient (95% CI)."]
    if at["estimate"].isna().any():
        notes.append(f"{DASH}: after the group's last follow-up; not estimated.")
    return Table(pd.DataFrame(rows, columns=header), title=title, footnotes=tuple(notes), data=at, name="mcf_table")
