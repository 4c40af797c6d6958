"""Absolute risk of an event by a time horizon, from a fitted or a published model.

One entry point, :func:`predict_risk`, for every model that predicts risk:

- a Cox model: ``1 - S(t | x)`` with ``S`` as R's ``survfit(coxph, newdata)`` (limits from its log-scale
  interval);
- a Fine-Gray model: the cumulative incidence ``1 - exp(-Lambda0(t) exp(x'b))`` as ``cmprsk::predict.crr``;
- cause-specific Cox models for every cause (:func:`bmstats.competing_risks_models`): the absolute risk of
  ``cause`` as ``riskRegression::predictRisk`` on a ``CSC`` fit, product-limit form (its default),
  ``F_c(t | x) = sum_{s <= t} S(s- | x) dLambda_c(s | x)`` with ``S(s- | x) = prod_{u < s}
  (1 - sum_k dLambda_k(u | x))`` (Benichou & Gail 1990; Ozenne et al. 2017);
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
    InputError, cause_code, describe_rows, numeric_array, require_columns, require_frame,
)

__all__ = ["predict_risk", "PublishedModel", "rcs_basis", "cap"]

_ROW_CHUNK = 2048  # rows of newdata per block in the cause-specific product (bounds memory to chunk x times)


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
        Add the pointwise limits where the model gives them (False saves time on large data).

    Returns
    -------
    pandas.DataFrame
        ``row`` (the index label of newdata, in its order), ``time``, ``risk``, and ``lower``, ``upper``
        where the model gives pointwise limits (Cox, Fine-Gray).

    References
    ----------
    Benichou J, Gail MH (1990). Estimates of absolute cause-specific risk in cohort studies. Biometrics 46.
    Ozenne B et al. (2017). riskRegression: predicting the risk of an event using Cox regression models.
    R Journal 9(2). R: ``riskRegression::predictRisk``, ``survival::survfit.coxph``, ``cmprsk::predict.crr``.
    """
    require_frame(newdata, "newdata")
    t = _check_times(times)
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
        out = pd.DataFrame({"row": p["row"], "time": p["time"], "risk": p["estimate"],
                            "lower": p["lower"], "upper": p["upper"]})
    elif isinstance(model, CompetingRisksModels):
        out = _cause_specific_risk(model, newdata, t, 1 if cause is None else int(cause), product_limit)
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


def _check_times(times) -> np.ndarray:
    try:
        t = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"times must be numbers, got {times!r}") from None
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or (t < 0).any():
        raise InputError(f"times must be one or more finite, non-negative numbers, got {times!r}")
    return t


def _survival_cause(cause, what: str) -> None:
    if cause is not None and int(cause) != 1:
        raise InputError(f"{what} predicts one event; cause={cause} is only for competing-risks models")


def _tidy(index: pd.Index, t: np.ndarray, risk: np.ndarray) -> pd.DataFrame:
    """risk is rows x times; the frame is row-major (each row's times together)."""
    return pd.DataFrame({"row": np.repeat(np.asarray(index, dtype=object), len(t)),
                         "time": np.tile(t, len(index)), "risk": risk.reshape(-1)})


def _cox_risk(fit, newdata: pd.DataFrame, t: np.ndarray, conf_int: bool) -> pd.DataFrame:
    """1 - S(t | x) of a Cox fit, vectorised over rows; limits as survfit.coxph (log scale), see
    :meth:`bmstats.estimate.cox.CoxResult.predict` (used as it is for stratified fits)."""
    fit._need_rows("prediction")
    if fit.strata:
        p = fit.predict(newdata, t)
        return pd.DataFrame({"row": p["row"], "time": p["time"], "risk": 1 - p["estimate"],
                             "lower": 1 - p["upper"], "upper": 1 - p["lower"]})
    from scipy import stats as _stats

    X = fit.design.transform(newdata).to_numpy(dtype=float) - fit.means.to_numpy()
    lp = X @ fit.coef.to_numpy()
    rs = fit._model.rs
    c, v, qa = fit._hazard_parts
    idx = np.searchsorted(rs.times, t, side="right")
    C = np.concatenate([[0.0], np.cumsum(c)])[idx]
    cumhaz = np.exp(lp)[:, None] * C[None, :]
    out = _tidy(newdata.index, t, -np.expm1(-cumhaz))
    if not conf_int:
        return out
    Vs = np.concatenate([[0.0], np.cumsum(v)])[idx]
    QA = np.vstack([np.zeros((1, qa.shape[1])), np.cumsum(qa, axis=0)])[idx]
    V = fit.cov.to_numpy()
    z = _stats.norm.ppf(0.975)
    se = np.empty_like(cumhaz)
    for j in range(len(t)):
        q = QA[j][None, :] - C[j] * X
        se[:, j] = np.exp(lp) * np.sqrt(Vs[j] + np.einsum("ij,jk,ik->i", q, V, q))
    out["lower"] = (-np.expm1(-cumhaz + z * se)).reshape(-1)
    out["upper"] = np.minimum(1.0, -np.expm1(-cumhaz - z * se)).reshape(-1)
    # survfit caps the survival's upper limit at 1: the risk's lower limit at 0
    out["lower"] = np.maximum(out["lower"], 0.0)
    return out


# ---- cause-specific Cox models ----------------------------------------------------------------------------

def _hazard_increments(fit, newdata: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """rows x grid matrix of dLambda(s | x) of a Cox fit, its baseline jumps put on the common time grid."""
    if fit.strata:
        raise InputError("predict_risk: cause-specific models with strata are not supported; fit without strata "
                         "or with the strata variable as a covariate")
    lp = (fit.design.transform(newdata).to_numpy(dtype=float) - fit.means.to_numpy()) @ fit.coef.to_numpy()
    base = fit._hazard  # (stratum, time, hazard) at the centered covariates, Efron-adjusted for an Efron fit
    jumps = np.zeros(len(grid))
    jumps[np.searchsorted(grid, base["time"].to_numpy())] = base["hazard"].to_numpy()
    return np.exp(lp)[:, None] * jumps[None, :]


def _cause_specific_risk(model, newdata, t, cause: int, product_limit: bool) -> pd.DataFrame:
    fits = {c: r for (kind, c), r in model.fits.items() if kind == "cause-specific Cox"}
    if cause not in fits:
        raise InputError(f"cause {cause} has no cause-specific model; fitted causes: {sorted(fits)}")
    missing = sorted(set(getattr(model, "causes_in_data", ()) or ()) - set(fits))
    if missing:
        raise InputError(f"the absolute risk needs a cause-specific model for every cause; causes {missing} "
                         "occur in the data but were not fitted (competing_risks_models(..., cause=None))")
    grid = np.unique(np.concatenate([r._hazard["time"].to_numpy() for r in fits.values()]))
    k = np.searchsorted(grid, t, side="right")  # number of grid times <= t
    risk = np.empty((len(newdata), len(t)))
    for lo in range(0, len(newdata), _ROW_CHUNK):
        block = newdata.iloc[lo:lo + _ROW_CHUNK]
        dl = {c: _hazard_increments(r, block, grid) for c, r in fits.items()}
        total = sum(dl.values())
        if product_limit:
            surv = np.cumprod(1 - total, axis=1)
        else:
            surv = np.exp(-np.cumsum(total, axis=1))
        surv_minus = np.hstack([np.ones((len(block), 1)), surv[:, :-1]])
        F = np.hstack([np.zeros((len(block), 1)), np.cumsum(surv_minus * dl[cause], axis=1)])
        risk[lo:lo + len(block)] = F[:, k]
    return _tidy(newdata.index, t, risk)


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
    cols = [x]
    for j in range(k - 2):
        cols.append((np.maximum(x - kn[j], 0) ** 3
                     - np.maximum(x - kn[k - 2], 0) ** 3 * (kn[k - 1] - kn[j]) / (kn[k - 1] - kn[k - 2])
                     + np.maximum(x - kn[k - 1], 0) ** 3 * (kn[k - 2] - kn[j]) / (kn[k - 1] - kn[k - 2])) / norm)
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
        t = _check_times(times)
        base, what = self._baseline(t)
        r = np.exp(self.linear_predictor(newdata))[:, None]
        if what == "risk":
            risk = 1 - (1 - base[None, :]) ** r
        else:
            risk = -np.expm1(-base[None, :] * r)
        return _tidy(newdata.index, t, risk)
