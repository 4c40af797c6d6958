"""Predicted risks and horizons as the validation functions take them: the one reading of ``predictions``
(and of ``times`` / ``time_horizon``) behind :func:`bmstats.score`, :func:`bmstats.calibration`,
:func:`bmstats.net_benefit` and :func:`bmstats.concordance`.

``predictions`` is a column name of predicted risks, an array (rows, or rows x horizons), a fitted model that
:func:`bmstats.predict_risk` knows (predicted on the validation data), or a dict mapping model names to any
of these. Every problem is an :class:`~bmstats._checks.InputError` that names the model and the problem:
unknown column, wrong length or shape, missing or non-finite values (naming the rows), risks outside [0, 1],
a model that cannot predict at the horizon (with the model's own reason).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats._checks import (
    InputError,
    describe_rows,
    numeric_array,
    positive_number,
    require_columns,
    time_points,
)

__all__ = ["horizon", "horizons", "named_predictions", "risk_scores", "risk_matrix", "risk_vector"]

_ARRAYS = (np.ndarray, pd.Series, pd.DataFrame, list, tuple)


def horizons(times, name: str = "times") -> np.ndarray:
    """One or more horizons: finite numbers > 0, in the order given."""
    t = time_points(times, name)
    if (t <= 0).any():
        raise InputError(f"{name} must be positive, got {', '.join(f'{x:g}' for x in t[t <= 0])}")
    return t


def horizon(time_horizon, name: str = "time_horizon") -> float:
    """One horizon: a finite number > 0."""
    if isinstance(time_horizon, np.ndarray) and time_horizon.size == 1:
        time_horizon = time_horizon.reshape(-1)[0]
    return positive_number(time_horizon, name)


def named_predictions(predictions, reserved: tuple[str, ...] = ()) -> dict[str, object]:
    """``predictions`` as {model name: item}: a dict as given (names as text), a column under its own name,
    anything else as ``"model"``. ``reserved``: names the caller gives its own rows (null model, treat all)."""
    if isinstance(predictions, dict):
        items = {str(k): v for k, v in predictions.items()}
    else:
        items = {predictions if isinstance(predictions, str) else "model": predictions}
    if not items:
        raise InputError("predictions: no models given")
    taken = [r for r in reserved if r in items]
    if taken:
        raise InputError(f"predictions: the name(s) {', '.join(map(repr, taken))} are reserved "
                         f"({', '.join(map(repr, reserved))})")
    return items


def _finite(data: pd.DataFrame, x: np.ndarray, what: str) -> np.ndarray:
    bad = ~np.isfinite(x)
    if bad.ndim > 1:
        bad = bad.any(axis=1)
    if bad.any():
        raise InputError(f"{what}: missing or non-finite values at {describe_rows(data.index[bad])}")
    return x


def _as_array(data: pd.DataFrame, item, what: str) -> np.ndarray:
    try:
        x = item.to_numpy(dtype=float) if isinstance(item, (pd.Series, pd.DataFrame)) else np.asarray(item, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a column name or an array of numbers (higher = higher risk); for a "
                         "fitted model pass its predictions, e.g. bm.predict_risk(model, data, [t])['risk']") from None
    if x.ndim == 0 or x.ndim > 2 or len(x) != len(data):
        raise InputError(f"{what}: {x.shape[0] if x.ndim else 1} values (shape {x.shape}) for {len(data)} rows "
                         "of data")
    return x


def risk_scores(data: pd.DataFrame, item, what: str = "predictor", allow_missing: bool = False) -> np.ndarray:
    """One real-valued score per row (higher = higher risk) from a column name or an array; ``what`` names
    it in errors. ``allow_missing``: NaN passes (for the caller to drop and count); infinities never do."""
    if isinstance(item, str):
        require_columns(data, [item])
        what, x = f"{what} (column {item!r})", numeric_array(data, item)
    elif isinstance(item, _ARRAYS):
        x = _as_array(data, item, what)
        if x.ndim == 2:
            if x.shape[1] != 1:
                raise InputError(f"{what}: one score per row expected, got shape {x.shape}")
            x = x[:, 0]
    else:
        raise InputError(f"{what} must be a column name or an array of numbers (higher = higher risk), got "
                         f"{type(item).__name__}; for a fitted model pass its predictions, e.g. "
                         "bm.predict_risk(model, data, [t])['risk']")
    if allow_missing:
        _finite(data, np.where(np.isnan(x), 0.0, x), what)
        return x
    return _finite(data, x, what)


def _is_competing_model(model) -> bool:
    from bmstats.estimate.cause_specific import CompetingRisksModels
    from bmstats.estimate.finegray import FineGrayResult
    from bmstats.estimate.prediction import PublishedModel

    return isinstance(model, (FineGrayResult, CompetingRisksModels)) or (
        isinstance(model, PublishedModel) and model.kind == "fine_gray")


def risk_matrix(data: pd.DataFrame, item, times: np.ndarray, cause: int, name: str) -> np.ndarray:
    """Predicted risks (rows x times), probabilities in [0, 1], from a column name, an array or a model."""
    from bmstats.estimate.prediction import predict_risk

    what = f"predictions {name!r}"
    n, k = len(data), len(times)
    if isinstance(item, str):
        if k > 1:
            raise InputError(f"{what}: the column {item!r} holds risks at one horizon; with {k} times give an "
                             "array (rows x times) or a model")
        p = risk_scores(data, item, what)[:, None]
    elif isinstance(item, _ARRAYS):
        p = _as_array(data, item, what)
        if p.ndim == 1:
            p = p[:, None]
        if p.shape != (n, k):
            raise InputError(f"{what}: shape {p.shape} does not match {n} rows x {k} times")
        _finite(data, p, what)
    else:
        try:
            pred = predict_risk(item, data, times, cause=cause if _is_competing_model(item) else None,
                                conf_int=False)
        except InputError as exc:
            raise InputError(f"{what}: the model cannot predict at {', '.join(f'{x:g}' for x in times)}: "
                             f"{exc}") from None
        p = pred["risk"].to_numpy(dtype=float).reshape(n, k)
    out = (p < 0) | (p > 1)
    if out.any():
        raise InputError(f"{what}: risks must be probabilities in [0, 1]; "
                         f"{describe_rows(data.index[out.any(axis=1)])}")
    return p


def risk_vector(data: pd.DataFrame, item, time_horizon: float, cause: int, name: str) -> np.ndarray:
    """Predicted risks by one horizon, one per row (:func:`risk_matrix` at one time)."""
    return risk_matrix(data, item, np.array([time_horizon]), cause, name)[:, 0]
