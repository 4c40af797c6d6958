"""Internal validation by the bootstrap: Harrell's optimism correction (as ``rms::validate``), and bootstrap
intervals for any performance measure on validation data without refitting.

Optimism (Efron 1983; Harrell, Lee & Mark 1996): for each bootstrap sample b, refit the model on it and
measure its performance on the sample itself (training) and on the original data (test);
``optimism = mean_b (training_b - test_b)`` and ``corrected = apparent - optimism``. Measures: Harrell's C of
the linear predictor, the calibration slope (Cox coefficient of the linear predictor; 1 on the training
sample by construction), Royston's D and, given a horizon, the Brier score at it.

Bootstrap samples are drawn in the parent process from ``numpy.random.default_rng(seed)``, so the result is
the same for a seed whatever the number of worker processes.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmstats._checks import InputError, require_columns, require_frame
from bmstats.estimate._result import Result, frozen_copy

__all__ = ["bootstrap_validate", "bootstrap_interval", "BootstrapValidation"]

MEASURES = ("c", "slope", "d", "brier")


@dataclass(frozen=True, repr=False)
class BootstrapValidation(Result):
    """``summary`` (index measure): apparent, optimism, corrected, n_boot (successful replicates);
    ``replicates``: one row per replicate and measure with training and test values."""

    _summary: pd.DataFrame = field(kw_only=True)
    _replicates: pd.DataFrame = field(kw_only=True)
    n_boot: int = field(kw_only=True)
    seed: int | None = field(kw_only=True)
    time_horizon: float | None = field(kw_only=True)
    failed: int = field(default=0, kw_only=True)

    _title = "Bootstrap validation (optimism-corrected performance)"

    @property
    def summary(self) -> pd.DataFrame:
        return frozen_copy(self._summary)

    @property
    def replicates(self) -> pd.DataFrame:
        return frozen_copy(self._replicates)

    def _tidy(self) -> pd.DataFrame:
        return self._summary

    def _notes(self) -> list[str]:
        notes = [f"n = {self.n}; {self.n_boot} bootstrap replicates (seed {self.seed}); Harrell's optimism "
                 "correction as rms::validate"]
        if self.failed:
            notes.append(f"{self.failed} replicates failed to fit and were left out")
        return notes


def _linear_predictor(model, data: pd.DataFrame) -> np.ndarray:
    from bmstats.estimate.concordance import _prognostic_index

    return _prognostic_index(model, data)


def _measures(model, data, time, status, horizon, *, training: bool) -> dict:
    from bmstats.estimate.concordance import concordance, royston_d
    from bmstats.estimate.cox import cox
    from bmstats.estimate.score import score

    lp = _linear_predictor(model, data)
    out = {"c": concordance(data, time, status, lp).estimate}
    if training:
        out["slope"] = 1.0
    else:
        frame = pd.DataFrame({"t": data[time].to_numpy(), "s": data[status].to_numpy(), "lp": lp})
        out["slope"] = float(cox(frame, "t", "s", "lp").coef.iloc[0])
    out["d"] = royston_d(lp, data, time, status).estimate
    if horizon is not None:
        b = score(data, time, status, {"m": model}, times=[horizon], null_model=False).brier
        out["brier"] = float(b["estimate"].iloc[0])
    return out


def _replicate(args):
    fit, data, time, status, horizon, idx = args
    boot = data.iloc[idx].reset_index(drop=True)
    try:
        model = fit(boot)
        train = _measures(model, boot, time, status, horizon, training=True)
        test = _measures(model, data, time, status, horizon, training=False)
    except (InputError, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        return None, str(exc)
    return (train, test), None


_WORK: tuple | None = None  # (function, tasks) inherited by forked workers, so that no task is pickled


def _run_index(i: int):
    func, tasks = _WORK
    return func(tasks[i])


def _pool_map(func, tasks, n_jobs):
    """``[func(t) for t in tasks]``, over ``n_jobs`` forked processes (the fit function may be a lambda: the
    tasks reach the workers by fork, only indices and results are pickled)."""
    global _WORK
    if n_jobs <= 1 or len(tasks) < 4:
        return [func(t) for t in tasks]
    import multiprocessing as mp

    from bmstats.estimate.design import single_threaded_blas

    ctx = mp.get_context("fork")
    _WORK = (func, tasks)
    try:
        with single_threaded_blas(), ctx.Pool(n_jobs) as pool:
            return pool.map(_run_index, range(len(tasks)), chunksize=max(1, len(tasks) // (4 * n_jobs)))
    finally:
        _WORK = None


def bootstrap_validate(fit: Callable[[pd.DataFrame], object], data: pd.DataFrame, time: str, status: str, *,
                       n_boot: int = 200, seed: int | None = None, time_horizon: float | None = None,
                       n_jobs: int | None = None) -> BootstrapValidation:
    """Optimism-corrected C, calibration slope, Royston's D and (with ``time_horizon``) Brier score.

    Parameters
    ----------
    fit : callable
        ``fit(data) -> model``: refits the whole modelling procedure (a Cox or Fine-Gray fit, or any model
        with ``design`` and ``coef``) on a data set.
    data : pandas.DataFrame
        The development data.
    time, status : str
        Follow-up time and 0/1 status.
    n_boot : int, default 200
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for the bootstrap samples: the same seed gives the same result.
    time_horizon : float, optional
        Horizon of the Brier score (omitted without it).
    n_jobs : int, optional
        Worker processes (default: the machine's cores when n_boot >= 20, else 1).

    Returns
    -------
    BootstrapValidation
        ``summary`` (index measure): apparent, optimism, corrected, n_boot.

    References
    ----------
    Harrell FE, Lee KL, Mark DB (1996). Multivariable prognostic models. Stat Med 15:361-387. Efron B (1983).
    Estimating the error rate of a prediction rule. JASA 78. R: ``rms::validate(cph_fit, B = n_boot)``
    (its Dxy = 2 (C - 1/2) and Slope rows).
    """
    require_frame(data)
    require_columns(data, [time, status])
    if not callable(fit):
        raise InputError("fit must be a function data -> model (e.g. lambda d: bm.cox(d, 'time', 'status', f))")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise InputError(f"n_boot must be a positive integer, got {n_boot!r}")
    model = fit(data)
    apparent = _measures(model, data, time, status, time_horizon, training=True)
    apparent["slope"] = 1.0
    rng = np.random.default_rng(seed)
    n = len(data)
    tasks = [(fit, data, time, status, time_horizon, rng.integers(0, n, n)) for _ in range(n_boot)]
    jobs = n_jobs if n_jobs is not None else ((os.cpu_count() or 1) if n_boot >= 20 else 1)
    results = _pool_map(_replicate, tasks, int(jobs))
    rows = []
    failed = 0
    for b, (res, _err) in enumerate(results):
        if res is None:
            failed += 1
            continue
        train, test = res
        for m in train:
            rows.append({"replicate": b, "measure": m, "training": train[m], "test": test[m]})
    if not rows:
        raise InputError(f"every bootstrap replicate failed to fit; the first error: {results[0][1]}")
    reps = pd.DataFrame(rows)
    opt = (reps["training"] - reps["test"]).groupby(reps["measure"]).mean()
    count = reps.groupby("measure").size()
    measures = [m for m in MEASURES if m in apparent]
    summary = pd.DataFrame({
        "apparent": [apparent[m] for m in measures],
        "optimism": [float(opt[m]) for m in measures],
        "n_boot": [int(count[m]) for m in measures],
    }, index=pd.Index(measures, name="measure"))
    summary.insert(2, "corrected", summary["apparent"] - summary["optimism"])
    return BootstrapValidation(n=n, _summary=summary, _replicates=reps, n_boot=n_boot, seed=seed,
                               time_horizon=time_horizon, failed=failed)


def bootstrap_interval(data: pd.DataFrame, statistic: Callable[[pd.DataFrame], object], *, n_boot: int = 200,
                       seed: int | None = None, conf_level: float = 0.95, n_jobs: int = 1) -> pd.DataFrame:
    """Percentile bootstrap interval of any statistic of validation data (no refitting).

    Parameters
    ----------
    data : pandas.DataFrame
        Validation data (rows are resampled with replacement).
    statistic : callable
        ``statistic(data)`` returns a number or a Series of numbers (e.g. ``lambda d: bm.calibration(d, ...)
        .summary.set_index("measure")["estimate"]``).
    n_boot : int, default 200
    seed : int, optional
        Seed of ``numpy.random.default_rng``.
    conf_level : float, default 0.95
    n_jobs : int, default 1
        Unused for now (the statistic runs in this process).

    Returns
    -------
    pandas.DataFrame
        Index: the statistic's names; estimate (on the data), std_err (bootstrap standard deviation), lower,
        upper (percentile interval).

    References
    ----------
    Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall, chapter 13.
    R: ``boot::boot.ci(boot::boot(data, statistic, R = n_boot), type = "perc")``.
    """
    require_frame(data)
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level}")
    value = statistic(data)
    est = pd.Series({"statistic": float(value)}) if np.isscalar(value) else pd.Series(value, dtype=float)
    rng = np.random.default_rng(seed)
    n = len(data)
    values = []
    for _ in range(n_boot):
        v = statistic(data.iloc[rng.integers(0, n, n)].reset_index(drop=True))
        values.append(pd.Series(v, dtype=float).to_numpy() if not np.isscalar(v) else np.array([float(v)]))
    arr = np.vstack(values)
    a = (1 - conf_level) / 2
    return pd.DataFrame({"estimate": est.to_numpy(), "std_err": np.nanstd(arr, axis=0, ddof=1),
                         "lower": np.nanquantile(arr, a, axis=0), "upper": np.nanquantile(arr, 1 - a, axis=0)},
                        index=est.index)
