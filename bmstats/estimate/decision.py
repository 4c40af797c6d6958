"""Clinical usefulness of predicted risks: net benefit over risk thresholds (decision curve analysis).

At threshold p_t, those with predicted risk >= p_t are "treated"; with n_+ of the n treated and F_+ their
observed risk by the horizon (Kaplan-Meier 1 - S(t) within them, or the Aalen-Johansen cumulative incidence
of the cause with competing risks), ``NB = F_+ n_+ / n - (1 - F_+) n_+ / n * p_t / (1 - p_t)`` (Vickers et al.
2008, the ``dcurves`` method for time-to-event outcomes); "treat all" uses everyone's observed risk, "treat
none" is 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats._checks import (
    InputError,
    cause_code,
    handle_missing,
    require_columns,
    require_frame,
    status_array,
    time_array,
)
from bmstats.estimate.predicted_risks import horizon, named_predictions, risk_vector

__all__ = ["net_benefit", "TREAT_ALL", "TREAT_NONE"]

TREAT_ALL = "treat all"
TREAT_NONE = "treat none"


def net_benefit(data: pd.DataFrame, time: str, status: str, predictions, *, time_horizon: float, thresholds,
                cause: int = 1, dropna: bool = False) -> pd.DataFrame:
    """Net benefit of treating by predicted risk at each threshold, with "treat all" and "treat none".

    Parameters
    ----------
    data : pandas.DataFrame
    time, status : str
        Follow-up time and status (0 censored, 1..k causes).
    predictions : column name, array, model, or dict of name -> any of these
        Predicted risks by ``time_horizon`` (as in :func:`bmstats.score`).
    time_horizon : float
    thresholds : sequence of float
        Risk thresholds in [0, 1).
    cause : int, default 1
    dropna : bool, default False

    Returns
    -------
    pandas.DataFrame
        model, threshold, net_benefit, n_positive (treated) and observed_risk (theirs), with the rows of
        "treat all" and "treat none" first.

    References
    ----------
    Vickers AJ, Cronin AM, Elkin EB, Gonen M (2008). Extensions to decision curve analysis, a novel method for
    evaluating diagnostic tests, prediction models and molecular markers. BMC Med Inform Decis Mak 8:53.
    R: ``dcurves::dca(Surv(time, status) ~ ..., time = t, thresholds = ...)``.
    """
    from bmstats.estimate.calibration import observed_risk

    require_frame(data)
    require_columns(data, [time, status])
    t = horizon(time_horizon)
    try:
        th = np.atleast_1d(np.asarray(thresholds, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"thresholds must be numbers, got {thresholds!r}") from None
    if th.ndim != 1 or th.size == 0 or not np.all(np.isfinite(th)) or (th < 0).any() or (th >= 1).any():
        raise InputError(f"thresholds must be numbers in [0, 1), got {thresholds!r}")
    data, _ = handle_missing(data, [time, status], dropna)
    T = time_array(data, time)
    S = status_array(data, status)
    cause = cause_code(cause)
    n = len(T)
    items = named_predictions(predictions, reserved=(TREAT_ALL, TREAT_NONE))
    odds = th / (1 - th)
    f_all = observed_risk(T, S, cause, t)[0]
    rows = [pd.DataFrame({"model": TREAT_ALL, "threshold": th, "net_benefit": f_all - (1 - f_all) * odds,
                          "n_positive": n, "observed_risk": f_all}),
            pd.DataFrame({"model": TREAT_NONE, "threshold": th, "net_benefit": 0.0, "n_positive": 0,
                          "observed_risk": np.nan})]
    for name, item in items.items():
        p = risk_vector(data, item, t, cause, name)
        nb, npos, risk = [], [], []
        for pt, o in zip(th, odds):
            pos = p >= pt
            k = int(pos.sum())
            if k == 0:
                nb.append(0.0)
                risk.append(np.nan)
            else:
                f = observed_risk(T[pos], S[pos], cause, t)[0]
                nb.append(f * k / n - (1 - f) * k / n * o)
                risk.append(f)
            npos.append(k)
        rows.append(pd.DataFrame({"model": name, "threshold": th, "net_benefit": nb, "n_positive": npos,
                                  "observed_risk": risk}))
    return pd.concat(rows, ignore_index=True)
