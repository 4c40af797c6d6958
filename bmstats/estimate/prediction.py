"""Absolute risk of an event by a time horizon, from a fitted or a published model.

One entry point, :func:`predict_risk`, for every model that predicts risk:

- a Cox model: ``1 - S(t | x)`` with ``S`` as R's ``survfit(coxph, newdata)`` (standard error and limits from
  its log-scale interval), each row with its own stratum's baseline;
- a Fine-Gray model: the cumulative incidence ``1 - exp(-Lambda0(t) exp(x'b))`` as ``cmprsk::predict.crr``;
- cause-specific Cox models for every cause (:func:`bmstats.competing_risks_models`): the absolute risk of
  ``cause`` as ``riskRegression::predictRisk`` on a ``CSC`` fit, product-limit form (its default),
  ``F_c(t | x) = sum_{s <= t} S(s- | x) dLambda_c(s | x)`` with ``S(s- | x) = prod_{u < s}
  (1 - sum_k dLambda_k(u | x))`` (Benichou & Gail 1990; Ozenne et al. 2017), each row with its own stratum's
  baseline hazards for every cause, standard errors from influence functions as ``predict(CSC, se = TRUE)``
  (:mod:`bmstats.estimate.risk_influence`);
- a lifelines ``CoxPHFitter`` or a scikit-survival estimator with ``predict_survival_function`` (adapters,
  the libraries are imported only when such a model is passed);
- a published model (:class:`PublishedModel`): coefficients, a baseline cumulative hazard or a baseline risk
  at t, and the covariate transforms (caps, spline bases), so that a published nomogram can be validated
  without refitting.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmstats._checks import (
    InputError, cause_code, describe_rows, numeric_array, require_columns, require_frame, time_points,
)

__all__ = ["predict_risk", "PublishedModel", "rcs_basis", "cap"]

def predict_risk(model, newdata: pd.DataFrame, times, *, cause: int | None = None,
                 product_limit: bool = True, conf_int: bool = True) -> pd.DataFrame:
    """Predicted absolute risk of the event (of ``cause``) by each time in ``times`` for each row of ``newdata``.

    Parameters
    ----------
    model : CoxResult, FineGrayResult, CompetingRisksModels, PublishedModel, lifelines CoxPHFitter or a
        scikit-survival estimator with ``predict_survival_function``
        The fitted (or published) model.
    newdata : pandas.DataFrame
        One row per subject, with the model's covariates (and strata columns).
    times : float or sequence of float
        Horizons, finite and non-negative.
    cause : int, optional
        Cause of interest for competing-risks models: default 1 for cause-specific models and the fitted
        cause for a Fine-Gray model (another cause is an error). Must be omitted or 1 for survival models.
    product_limit : bool, default True
        Cause-specific models only: overall survival by the product-limit form (``riskRegression``'s default)
        or, when False, ``exp(-sum_k Lambda_k)``.
    conf_int : bool, default True
        Add ``std_err`` and the 95% pointwise limits where the model gives them (False saves time: for
        cause-specific models the standard error costs about ``O(rows x times x cells)``, cells being the
        distinct (stratum, exit time, cause) of the fitted data).

    Returns
    -------
    pandas.DataFrame
        ``row`` (the index label of newdata, in its order), ``time``, ``risk``, and ``std_err``, ``lower``,
        ``upper`` where the model gives them:

        - Cox: ``survfit(coxph, newdata)``: ``std_err = S se(Lambda)``, ``var Lambda = exp(2 lp) [sum dN / S0^2
          + q' V q]`` (Tsiatis 1981), limits ``1 - exp(-Lambda -+ z se(Lambda))``;
        - Fine-Gray: :meth:`bmstats.estimate.finegray.FineGrayResult.predict` (influence functions of Fine &
          Gray 1999, cloglog limits; R's ``predict.crr`` and ``FGR`` give no standard error);
        - cause-specific models: ``std_err = sqrt(sum_i IF_i(t, x)^2)``, limits ``exp(-exp(log(-log F) -+
          z std_err / (-F log F)))`` (riskRegression's default ``"loglog"``), both equal to
          ``riskRegression::predict.CauseSpecificCox(..., se = TRUE)``; with tied event times its convention for
          the coefficients' influence is kept (see :mod:`bmstats.estimate.risk_influence`).

    Raises
    ------
    InputError
        A covariate or strata column missing from newdata, a factor or stratum level not seen in fitting
        (naming it and the column), a cause the model has no model for, bad times. Times past the last
        follow-up warn (:class:`~bmstats._checks.ExtrapolationWarning`) and carry the last value forward.

    References
    ----------
    Benichou J, Gail MH (1990). Estimates of absolute cause-specific risk in cohort studies. Biometrics 46.
    Cheng SC, Fine JP, Wei LJ (1998). Prediction of cumulative incidence function under the proportional
    hazards model. Biometrics 54:219-228.
    Ozenne B et al. (2017). riskRegression: predicting the risk of an event using Cox regression models.
    R Journal 9(2):440-460. R: ``riskRegression::predictRisk``, ``riskRegression::predict.CauseSpecificCox``,
    ``survival::survfit.coxph``, ``cmprsk::predict.crr``.
    """
    require_frame(newdata, "newdata")
    t = time_points(times)
    cause = None if cause is None else cause_code(cause)
    from bmstats.estimate.cause_specific import CompetingRisksModels
    from bmstats.estimate.cox import CoxResult
    from bmstats.estimate.finegray import FineGrayResult

    if isinstance(model, CoxResult):
        _survival_cause(cause, "a Cox model")
        out = _cox_risk(model, newdata, t, conf_int)
    elif isinstance(model, FineGrayResult):
        fitted = _fitted_cause(model)
        if cause is not None and int(cause) != fitted:
            raise InputError(f"the Fine-Gray model was fitted for cause {fitted}; it cannot predict cause {cause}")
        p = model.predict(newdata, t)
        out = pd.DataFrame({"row": p["row"], "time": p["time"], "risk": p["estimate"], "std_err": p["std_err"],
                            "lower": p["lower"], "upper": p["upper"]})
    elif isinstance(model, CompetingRisksModels):
        out = _cause_specific_risk(model, newdata, t, 1 if cause is None else int(cause), product_limit,
                                   conf_int)
    elif isinstance(model, PublishedModel):
        _survival_cause(cause, "a published model") if model.kind == "cox" else None
        out = model.predict(newdata, t)
    elif type(model).__module__.startswith("lifelines"):
        _survival_cause(cause, "a lifelines model")
        out = _lifelines_risk(model, newdata, t)
    elif hasattr(model, "predict_survival_function"):
        _survival_cause(cause, "a survival model")
        out = _sksurv_risk(model, newdata, t)
    else:
        raise InputError(
            f"predict_risk does not know a model of type {type(model).__name__}: pass a bmstats Cox, Fine-Gray or "
            "competing_risks_models result, a PublishedModel, a lifelines CoxPHFitter or a scikit-survival estimator"
        )
    bad = ~np.isfinite(out["risk"].to_numpy(dtype=float))
    if bad.any():
        raise InputError(f"newdata: no risk could be computed for {describe_rows(pd.unique(out['row'][bad]))} "
                         "(missing or non-finite covariate values)")
    return out.reset_index(drop=True)


def _fitted_cause(model) -> int:
    value = getattr(model, "cause", None)
    return int(value if isinstance(value, (int, np.integer)) else model.event)


def fine_gray_for_cause(data: pd.DataFrame, time: str, status: str, formula: str, cause: int, **kw):
    """``bmstats.fine_gray`` for ``cause`` whichever spelling (``cause=`` or the older ``event=``) it takes."""
    import inspect

    from bmstats.estimate.finegray import fine_gray

    key = "cause" if "cause" in inspect.signature(fine_gray).parameters else "event"
    return fine_gray(data, time, status, formula, **{key: cause}, **kw)


def _survival_cause(cause, what: str) -> None:
    if cause is not None and int(cause) != 1:
        raise InputError(f"{what} predicts one event; cause={cause} is only for competing-risks models")


def _tidy(index: pd.Index, t: np.ndarray, risk: np.ndarray) -> pd.DataFrame:
    """risk is rows x times; the frame is row-major (each row's times together)."""
    return pd.DataFrame({"row": np.repeat(np.asarray(index, dtype=object), len(t)),
                         "time": np.tile(t, len(index)), "risk": risk.reshape(-1)})


def _cox_risk(fit, newdata: pd.DataFrame, t: np.ndarray, conf_int: bool) -> pd.DataFrame:
    """1 - S(t | x) of a Cox fit, each row with its own stratum's baseline, vectorised over the rows of a stratum.

    Standard error and limits as ``survfit(coxph, newdata)`` (:meth:`bmstats.estimate.cox.CoxResult.predict`):
    ``var Lambda(t | x) = exp(2 lp) [sum dN / S0^2 + q(t)' V q(t)]`` with ``q(t) = sum (xbar(s) - x) dLambda0(s)``,
    ``std_err = S(t | x) se(Lambda)`` and log-scale limits of the survival ``exp(-Lambda -+ z se)``, capped at 1.
    """
    from scipy import stats as _stats

    from bmstats._checks import beyond_follow_up
    from bmstats.estimate.risk_influence import stratum_codes

    fit._need_rows("prediction")
    beyond_follow_up(t, float(fit._stop.max()), "Cox predictions")
    X = fit.design.transform(newdata).to_numpy(dtype=float) - fit.means.to_numpy()
    codes = stratum_codes(fit, newdata)
    lp = X @ fit.coef.to_numpy()
    rs = fit._model.rs
    c, v, qa = fit._hazard_parts
    V = fit.cov.to_numpy()
    z = _stats.norm.ppf(0.975)
    cumhaz = np.empty((len(newdata), len(t)))
    se = np.empty_like(cumhaz)
    for s in np.unique(codes):
        rows = np.flatnonzero(codes == s)
        b0, b1 = np.searchsorted(rs.strata, s, "left"), np.searchsorted(rs.strata, s, "right")
        idx = np.searchsorted(rs.times[b0:b1], t, side="right")
        C = np.concatenate([[0.0], np.cumsum(c[b0:b1])])[idx]
        cumhaz[rows] = np.exp(lp[rows])[:, None] * C[None, :]
        if not conf_int:
            continue
        Vs = np.concatenate([[0.0], np.cumsum(v[b0:b1])])[idx]
        QA = np.vstack([np.zeros((1, qa.shape[1])), np.cumsum(qa[b0:b1], axis=0)])[idx]
        for j in range(len(t)):
            q = QA[j][None, :] - C[j] * X[rows]
            se[rows, j] = np.exp(lp[rows]) * np.sqrt(Vs[j] + np.einsum("ij,jk,ik->i", q, V, q))
    out = _tidy(newdata.index, t, -np.expm1(-cumhaz))
    if not conf_int:
        return out
    out["std_err"] = (np.exp(-cumhaz) * se).reshape(-1)
    # survfit caps the survival's upper limit at 1: the risk's lower limit at 0
    out["lower"] = np.maximum(-np.expm1(-cumhaz + z * se), 0.0).reshape(-1)
    out["upper"] = np.minimum(1.0, -np.expm1(-cumhaz - z * se)).reshape(-1)
    return out


# ---- cause-specific Cox models ----------------------------------------------------------------------------

def _cause_specific_risk(model, newdata, t, cause: int, product_limit: bool, conf_int: bool) -> pd.DataFrame:
    from bmstats._checks import beyond_follow_up
    from bmstats.estimate.risk_influence import absolute_risk, hazard_parts, stratum_codes

    fits = {c: r for (kind, c), r in model.fits.items() if kind == "cause-specific Cox"}
    if cause not in fits:
        raise InputError(f"cause {cause} has no cause-specific model; fitted causes: {sorted(fits)}")
    missing = sorted(set(getattr(model, "causes_in_data", ()) or ()) - set(fits))
    if missing:
        raise InputError(f"the absolute risk needs a cause-specific model for every cause; causes {missing} "
                         "occur in the data but were not fitted (competing_risks_models(..., cause=None))")
    parts = {c: hazard_parts(f) for c, f in fits.items()}  # first: an engine-fitted model has no rows
    beyond_follow_up(t, max(float(p.stop.max()) for p in parts.values()), "Absolute risks")
    X = {c: f.design.transform(newdata).to_numpy(dtype=float) - f.means.to_numpy() for c, f in fits.items()}
    codes = {c: stratum_codes(f, newdata) for c, f in fits.items()}
    risk, se = absolute_risk(parts, X, codes, cause, t, product_limit=product_limit, se=conf_int)
    out = _tidy(newdata.index, t, risk)
    if conf_int:
        out["std_err"] = se.reshape(-1)
        out["lower"], out["upper"] = _loglog_limits(out["risk"].to_numpy(), out["std_err"].to_numpy(), 0.95)
    return out


def _loglog_limits(risk: np.ndarray, se: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """riskRegression's default ``absRisk.transform = "loglog"``: limits ``exp(-exp(log(-log F) -+ z se /
    (-F log F)))``, within [0, 1]; where the risk is 0 (before the first event) or 1 both limits equal it, as R."""
    from scipy import stats as _stats

    z = _stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(-np.log(risk))
        s = se / (-risk * np.log(risk))
        lower = np.exp(-np.exp(eta + z * s))
        upper = np.exp(-np.exp(eta - z * s))
    defined = (risk > 0) & (risk < 1) & np.isfinite(s)
    lower = np.where(defined, np.clip(lower, 0, 1), risk)
    upper = np.where(defined, np.clip(upper, 0, 1), risk)
    return lower, upper


# ---- adapters for other libraries ---------------------------------------------------------------------------

def _lifelines_risk(model, newdata, t) -> pd.DataFrame:
    if not hasattr(model, "predict_survival_function"):
        raise InputError(f"the lifelines model {type(model).__name__} has no predict_survival_function")
    sf = model.predict_survival_function(newdata, times=t)  # times x rows
    surv = np.asarray(sf, dtype=float).T
    return _tidy(newdata.index, t, 1 - surv)


def _sksurv_risk(model, newdata, t) -> pd.DataFrame:
    cols = getattr(model, "feature_names_in_", None)
    X = newdata[list(cols)] if cols is not None else newdata
    if cols is not None:
        require_columns(newdata, cols)
    surv = np.asarray(model.predict_survival_function(X, return_array=True), dtype=float)  # rows x event times
    grid = np.asarray(getattr(model, "unique_times_", getattr(model, "event_times_", None)), dtype=float)
    if grid.ndim != 1 or len(grid) != surv.shape[1]:
        raise InputError(f"{type(model).__name__}: its survival function has no time grid (unique_times_)")
    k = np.searchsorted(grid, t, side="right")
    padded = np.hstack([np.ones((surv.shape[0], 1)), surv])
    return _tidy(newdata.index, t, 1 - padded[:, k])


# ---- published models ---------------------------------------------------------------------------------------

def rcs_basis(x, knots) -> np.ndarray:
    """Restricted cubic spline basis of Stone & Koo (1985) as ``rms::rcs`` (Harrell's normalisation).

    Columns: ``x`` and, for j = 1..k-2, ``[(x-t_j)_+^3 - (x-t_{k-1})_+^3 (t_k-t_j)/(t_k-t_{k-1})
    + (x-t_k)_+^3 (t_{k-1}-t_j)/(t_k-t_{k-1})] / (t_k-t_1)^2``.
    """
    x = np.asarray(x, dtype=float)
    kn = np.asarray(knots, dtype=float)
    if kn.ndim != 1 or len(kn) < 3 or np.any(np.diff(kn) <= 0):
        raise InputError(f"spline knots must be 3 or more increasing numbers, got {knots!r}")
    k = len(kn)
    norm = (kn[-1] - kn[0]) ** 2

    def cube(at):  # (x - t)_+^3 by products (a power function call is several times slower on large data)
        u = np.maximum(x - at, 0)
        return u * u * u

    last, next_to_last = cube(kn[k - 1]), cube(kn[k - 2])
    cols = [x]
    for j in range(k - 2):
        cols.append((cube(kn[j])
                     - next_to_last * (kn[k - 1] - kn[j]) / (kn[k - 1] - kn[k - 2])
                     + last * (kn[k - 2] - kn[j]) / (kn[k - 1] - kn[k - 2])) / norm)
    return np.column_stack(cols)


def cap(column: str, lower: float | None = None, upper: float | None = None) -> Callable[[pd.DataFrame], np.ndarray]:
    """A transform for :class:`PublishedModel`: the column truncated to [lower, upper] (published caps)."""
    def transform(data: pd.DataFrame) -> np.ndarray:
        return np.clip(numeric_array(data, column), lower, upper)
    return transform


@dataclass(frozen=True)
class PublishedModel:
    """A prediction model as published: ``risk(t | x) = 1 - exp(-H0(t) exp(lp - center))`` or, given the
    baseline risk ``F0(t)`` instead, ``1 - (1 - F0(t))^exp(lp - center)``, with ``lp = sum_j coef_j x_j``.

    Parameters
    ----------
    coef : mapping of str to float
        Coefficient per covariate name. A name is a column of newdata (numeric or 0/1) unless ``transforms``
        maps it to a function ``data -> values`` (e.g. :func:`cap`, a spline column from :func:`rcs_basis`,
        an indicator ``lambda d: d.grade == 3``).
    baseline_cumhaz : mapping of time to cumulative hazard, or DataFrame with columns time, cumhaz
        Baseline cumulative (subdistribution) hazard at ``lp = center``, a step function of time; a horizon
        past its last time is an error (no extrapolation).
    baseline_risk : mapping of time to risk
        Alternatively the baseline risk at each horizon (a horizon not given is an error).
    transforms : mapping of str to callable
        Derived covariates, each a function of the newdata frame.
    center : float, default 0
        The linear predictor at which the baseline is given (e.g. the mean linear predictor).
    kind : "cox" or "fine_gray"
        The meaning of the risk: of the event (Cox) or the cumulative incidence of one cause (Fine-Gray).
    """

    coef: Mapping[str, float]
    baseline_cumhaz: Mapping | pd.DataFrame | None = None
    baseline_risk: Mapping | None = None
    transforms: Mapping[str, Callable] = field(default_factory=dict)
    center: float = 0.0
    kind: str = "cox"

    def __post_init__(self):
        if not self.coef:
            raise InputError("PublishedModel needs coefficients")
        if (self.baseline_cumhaz is None) == (self.baseline_risk is None):
            raise InputError("PublishedModel needs exactly one of baseline_cumhaz and baseline_risk")
        if self.kind not in ("cox", "fine_gray"):
            raise InputError(f"kind must be 'cox' or 'fine_gray', got {self.kind!r}")
        bad = [k for k, v in self.coef.items() if not np.isfinite(float(v))]
        if bad:
            raise InputError(f"coefficients must be finite numbers: {bad}")

    def linear_predictor(self, newdata: pd.DataFrame) -> np.ndarray:
        """``sum_j coef_j x_j - center`` for each row of newdata.

        Parameters
        ----------
        newdata : pandas.DataFrame
            The covariates (or the columns the transforms read).

        Returns
        -------
        numpy.ndarray
            One linear predictor per row.
        """
        lp = np.zeros(len(newdata))
        for name, b in self.coef.items():
            if name in self.transforms:
                x = np.asarray(self.transforms[name](newdata), dtype=float).reshape(-1)
                if len(x) != len(newdata):
                    raise InputError(f"transform for {name!r} returned {len(x)} values for {len(newdata)} rows")
            else:
                require_columns(newdata, [name])
                x = numeric_array(newdata, name)
            nan = ~np.isfinite(x)
            if nan.any():
                raise InputError(f"covariate {name!r}: missing or non-finite values in newdata "
                                 f"{describe_rows(newdata.index[nan])}")
            lp += float(b) * x
        return lp - self.center

    def _baseline(self, t: np.ndarray) -> tuple[np.ndarray, str]:
        if self.baseline_risk is not None:
            given = {float(k): float(v) for k, v in self.baseline_risk.items()}
            missing = [x for x in t if x not in given]
            if missing:
                raise InputError(f"baseline_risk is given at {sorted(given)}; not at {missing}")
            return np.array([given[x] for x in t]), "risk"
        b = self.baseline_cumhaz
        if isinstance(b, pd.DataFrame):
            require_columns(b, ["time", "cumhaz"])
            bt, bh = b["time"].to_numpy(dtype=float), b["cumhaz"].to_numpy(dtype=float)
        else:
            bt = np.array([float(k) for k in b], dtype=float)
            bh = np.array([float(v) for v in b.values()], dtype=float)
        order = np.argsort(bt, kind="stable")
        bt, bh = bt[order], bh[order]
        if len(bt) == 0 or np.any(np.diff(bh) < 0) or np.any(bh < 0):
            raise InputError("baseline_cumhaz must be a non-decreasing, non-negative step function of time")
        if (t > bt[-1]).any():
            raise InputError(f"times {t[t > bt[-1]].tolist()} are past the baseline's last time {bt[-1]}")
        k = np.searchsorted(bt, t, side="right")
        return np.concatenate([[0.0], bh])[k], "cumhaz"

    def predict(self, newdata: pd.DataFrame, times) -> pd.DataFrame:
        """Predicted risk by each time for each row of ``newdata`` (see :func:`bmstats.predict_risk`).

        Parameters
        ----------
        newdata : pandas.DataFrame
            The covariates.
        times : float or sequence of float
            Prediction horizons.

        Returns
        -------
        pandas.DataFrame
            Tidy frame: row, time, risk.
        """
        t = time_points(times)
        base, what = self._baseline(t)
        r = np.exp(self.linear_predictor(newdata))[:, None]
        if what == "risk":
            risk = 1 - (1 - base[None, :]) ** r
        else:
            risk = -np.expm1(-base[None, :] * r)
        return _tidy(newdata.index, t, risk)
