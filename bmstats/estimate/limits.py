"""Pointwise confidence limits of a probability from its standard error, on the scale ``conf_type`` names.

With z the normal quantile of ``conf_level`` and se the standard error of the estimate p:

- ``"plain"``: p -+ z se, clipped to [0, 1];
- ``"log"``: p exp(-+ z se / p), the upper limit capped at 1 (R's ``survfit`` default);
- ``"log-log"``: the limits of log(-log p) back-transformed, p^exp(-+ z se / (p log p)) (Kalbfleisch &
  Prentice 1980, section 1.3; the package's default for probabilities: the limits stay inside (0, 1)).

Kaplan-Meier keeps its own form (:func:`bmstats.estimate.km.confidence_limits`) because ``survfit`` computes
it from the standard error of the cumulative hazard; the algebra is the same.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from bmstats.estimate._result import conf_type_option

__all__ = ["probability_limits"]


def probability_limits(p, se, conf_type: str, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits of the probabilities ``p`` with standard errors ``se``; NaN where the scale
    is undefined (p = 0 on the log scale, p = 0 or 1 on the log-log scale) or se is not finite."""
    conf_type_option(conf_type)
    p, se = np.asarray(p, dtype=float), np.asarray(se, dtype=float)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            lower, upper = np.clip(p - z * se, 0.0, 1.0), np.clip(p + z * se, 0.0, 1.0)
            undefined = np.zeros(p.shape, dtype=bool)
        elif conf_type == "log":
            lower, upper = p * np.exp(-z * se / p), np.minimum(p * np.exp(z * se / p), 1.0)
            undefined = p <= 0
        else:
            power = np.exp(z * se / (p * np.log(p)))
            lower, upper = p ** (1 / power), p**power
            undefined = (p <= 0) | (p >= 1)
    undefined = undefined | ~np.isfinite(se)
    lower, upper = np.where(undefined, np.nan, lower), np.where(undefined, np.nan, upper)
    return lower, upper
