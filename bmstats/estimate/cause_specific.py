"""Cause-specific Cox regression for competing risks, and side-by-side cause-specific / Fine-Gray models.

The cause-specific hazard of cause k is the rate of k among those still free of every event (Prentice et
al. 1978); it is estimated by a Cox model in which events of the other causes are censored. It answers the
aetiological question (does the factor raise the rate of bone metastasis among those alive and event-free?),
while the Fine-Gray subdistribution hazard (Fine & Gray 1999) answers the prognostic one (who ends up with
bone metastasis?). Both are usually reported together (Austin, Lee & Fine, Circulation 2016;
Latouche et al., J Clin Epidemiol 2013): :func:`competing_risks_models` fits both for each cause.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, cause_code, require_columns, require_frame, status_array
from bmstats._deprecation import legacy_arguments
from bmstats.estimate._result import ModelResult, Result, frozen_copy
from bmstats.estimate.cox import CoxResult, cox

__all__ = ["cause_specific_cox", "competing_risks_models", "CompetingRisksModels"]


@legacy_arguments(positional=("cause", "causes"), renamed={"event": "cause"})
def cause_specific_cox(data: pd.DataFrame, time: str, status: str, formula: str, *, cause: int = 1,
                       causes=None, **cox_kwargs) -> CoxResult:
    """Cox model for the cause-specific hazard of one cause, the other causes censored.

    h_k(t | x) = h_k0(t) exp(x'b), fitted by :func:`bmstats.cox` with events of other causes as censorings.
    Matches R's ``survival::coxph(Surv(time, status == cause) ~ formula)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given).
    time : str
        Column of follow-up times.
    status : str
        Column coded 0 (censored) and 1..k (causes).
    formula : str
        Right-hand side in Wilkinson syntax.
    cause : int, default 1
        The cause whose hazard is modelled (not 0: that would model censoring).
    causes : sequence of int, optional
        The causes the data may hold; any other non-zero code is an error naming it and its rows.
    **cox_kwargs
        Further options of :func:`bmstats.cox` (strata, cluster, entry, weights, ties, robust, conf_level,
        dropna, tol, max_iter).

    Returns
    -------
    CoxResult
        As :func:`bmstats.cox`, for the cause-specific hazard.

    References
    ----------
    .. [1] Prentice RL, Kalbfleisch JD, Peterson AV, et al. The analysis of failure times in the presence of
       competing risks. Biometrics 1978;34:541-554.
    """
    require_frame(data)
    require_columns(data, [time, status])
    known = data[status].notna()
    cause = cause_code(cause, "cause")
    codes = status_array(data.loc[known], status, causes=causes)  # errors name the rows with invalid codes
    if not np.any(codes == cause):
        raise InputError(f"column {status!r}: no rows with cause {cause} (codes present: {sorted(set(codes))})")
    column = f"{status} == {cause}"  # named so that messages about it point at the status column
    if column in data.columns:
        raise InputError(f"data already has a column {column!r}; rename it")
    frame = data.copy(deep=False)
    indicator = np.full(len(data), np.nan)
    indicator[known.to_numpy()] = (codes == cause).astype(float)
    # missing status stays missing, so that cox() reports it (or drops and counts it with dropna=True)
    frame[column] = indicator
    return cox(frame, time, column, formula, **cox_kwargs)


@dataclass(frozen=True, repr=False)
class CompetingRisksModels(Result):
    """Cause-specific Cox and Fine-Gray fits for each cause.

    ``summary``: tidy frame with columns model ("cause-specific Cox" / "Fine-Gray"), cause, term, coef,
    std_err, ratio_name ("hr" / "shr"), ratio, lower, upper, statistic, p_value. ``fits``:
    {(model, cause): result}; ``causes``: the causes fitted.
    """

    _summary: pd.DataFrame
    _fits: dict
    causes: tuple
    causes_in_data: tuple = ()  # every non-zero status code in the data (absolute risk needs all of them)

    _title = "Competing risks: cause-specific Cox and Fine-Gray models"

    @property
    def summary(self) -> pd.DataFrame:
        return frozen_copy(self._summary)

    @property
    def fits(self) -> dict[tuple[str, int], ModelResult]:
        """{(model, cause): fitted result}; the results are themselves immutable."""
        return dict(self._fits)

    def _tidy(self) -> pd.DataFrame:
        return self._summary

    def _notes(self) -> list[str]:
        if not any(kind == "Fine-Gray" for kind, _ in self._fits):
            strata = self._fits[("cause-specific Cox", self.causes[0])].strata
            return [f"causes: {', '.join(map(str, self.causes))}; cause-specific Cox models only (hazard ratios, hr)"
                    + (f", strata: {', '.join(strata)}" if strata else "")]
        return [f"causes: {', '.join(map(str, self.causes))}; hazard ratios (hr) for the cause-specific hazard "
                "and subdistribution hazard ratios (shr) for the subdistribution hazard"]

    def wide(self) -> pd.DataFrame:
        """One row per (cause, term), the two models' ratio (lower-upper) side by side."""
        s = self._summary.copy()
        s["ratio_ci"] = [f"{h:.2f} ({lo:.2f}-{hi:.2f})" if ok else "not estimable"
                         for h, lo, hi, ok in zip(s.ratio, s.lower, s.upper, s.estimable)]
        return s.pivot_table(index=["cause", "term"], columns="model", values="ratio_ci", aggfunc="first",
                             sort=False)

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_forest(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("Forest plot of both models' ratios for every cause, side by side", "plot_forest")


@legacy_arguments(positional=("cause",), renamed={"events": "cause"})
def competing_risks_models(data: pd.DataFrame, time: str, status: str, formula: str, *, cause=None, causes=None,
                           fine_gray: bool = True, **kw) -> CompetingRisksModels:
    """Cause-specific Cox and Fine-Gray models for each cause, on the same formula, side by side.

    For each cause k: h_k(t | x) = h_k0(t) exp(x'b_k) and F_k(t | x) = 1 - exp(-Lambda_k0(t) exp(x'g_k)).
    Matches R's ``survival::coxph(Surv(time, status == k) ~ .)`` and ``cmprsk::crr(..., failcode = k)``; with
    ``fine_gray=False`` only the cause-specific models, as ``riskRegression::CSC``, strata allowed
    (``strata="size"`` or ``strata(size)`` in the formula: a baseline hazard per stratum for every cause).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per counting-process interval where ``entry`` is given).
    time : str
        Column of follow-up times.
    status : str
        Column coded 0 (censored) and 1..k (causes).
    formula : str
        Right-hand side in Wilkinson syntax.
    cause : int or sequence of int, optional
        The cause(s) to model (default: every non-zero status code).
    causes : sequence of int, optional
        The causes the data may hold; any other non-zero code is an error naming it and its rows.
    fine_gray : bool, default True
        Fit the Fine-Gray models too; False fits the cause-specific Cox models only (then ``strata`` is allowed).
    **kw
        ``conf_level``, ``dropna``, ``tol``, ``max_iter`` go to both models; ``ties`` and ``robust`` to the Cox
        model; ``cengroup`` to Fine-Gray. Options only one model has (weights, entry, strata, cluster) are
        refused, except ``strata`` with ``fine_gray=False``.

    Returns
    -------
    CompetingRisksModels
        The fitted models by cause and kind, ready for :func:`bmstats.regression_table`.

    References
    ----------
    .. [1] Austin PC, Lee DS, Fine JP. Introduction to the analysis of survival data in the presence of
       competing risks. Circulation 2016;133:601-609.
    .. [2] Latouche A, Allignol A, Beyersmann J, et al. A competing risks analysis should report results on
       all cause-specific hazards and cumulative incidence functions. J Clin Epidemiol 2013;66:648-653.
    """
    import inspect

    from bmstats.estimate.design import strata_terms
    from bmstats.estimate.finegray import fine_gray as fit_fine_gray

    formula, in_formula = strata_terms(formula)
    if in_formula:
        given = kw.get("strata")
        kw["strata"] = [*([given] if isinstance(given, str) else (given or [])), *in_formula]
    one_sided = [k for k in ("weights", "entry", "strata", "cluster") if kw.get(k) is not None
                 and (fine_gray or k != "strata")]
    if one_sided:
        raise InputError(
            f"competing_risks_models: {', '.join(one_sided)} would apply to the cause-specific Cox model only "
            "(Fine-Gray here supports none of them), so the two models would not be comparable; fit "
            "cause_specific_cox(...) with them on its own, or leave them out"
            + ("; with strata, fine_gray=False fits the stratified cause-specific Cox models alone (as "
               "riskRegression::CSC with strata())" if one_sided == ["strata"] else "")
        )
    known = (set(inspect.signature(cox).parameters) - {"data", "time", "event", "formula"}) | {"cengroup"}
    unknown = sorted(set(kw) - known)
    if unknown:
        raise InputError(f"competing_risks_models: unknown option(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    require_frame(data)
    require_columns(data, [time, status])
    codes = status_array(data.loc[data[status].notna()] if kw.get("dropna") else data, status, causes=causes)
    fitted = sorted(int(c) for c in set(codes) if c != 0) if cause is None else np.atleast_1d(cause)
    fitted = [cause_code(e, "cause") for e in fitted]
    if not fitted:
        raise InputError(f"column {status!r}: no events (all status codes are 0)")
    shared = {k: kw[k] for k in ("conf_level", "dropna", "tol", "max_iter") if k in kw}
    shared["causes"] = causes  # fine_gray's declaration; cause_specific_cox gets it by name below
    fg_kw = {**shared, **({"cengroup": kw["cengroup"]} if "cengroup" in kw else {})}
    cox_kw = {k: v for k, v in kw.items() if k != "cengroup"}
    fits, frames = {}, []
    for e in fitted:
        cs = cause_specific_cox(data, time, status, formula, cause=e, causes=causes, **cox_kw)
        pair = [("cause-specific Cox", cs)]
        if fine_gray:
            pair.append(("Fine-Gray", fit_fine_gray(data, time, status, formula, cause=e, **fg_kw)))
        for model, res in pair:
            fits[(model, e)] = res
            s = res.summary.rename(columns={res.ratio_name: "ratio"})
            s = s[["coef", "std_err", "ratio", "lower", "upper", "statistic", "p_value", "estimable"]].reset_index()
            s.insert(0, "cause", e)
            s.insert(0, "model", model)
            s.insert(5, "ratio_name", res.ratio_name)
            frames.append(s)
    summary = pd.concat(frames, ignore_index=True)
    first = fits[("cause-specific Cox", fitted[0])]
    present = tuple(sorted(int(c) for c in set(codes) if c != 0))
    return CompetingRisksModels(_summary=summary, _fits=fits, causes=tuple(fitted), causes_in_data=present,
                                n=first.n, dropped=first.dropped)
