"""bmstats' own warnings: statsmodels' convergence warnings are re-issued as bm.ConvergenceWarning with a
``converged`` field, other warnings pass through unchanged, and nothing is silenced."""
import warnings

import pytest
from statsmodels.tools import sm_exceptions

import bmstats as bm
from bmstats._warnings import reissue_fit_warnings


def test_statsmodels_convergence_warning_becomes_bmstats_own():
    with pytest.warns(bm.ConvergenceWarning, match="my model: did not converge") as record:
        with reissue_fit_warnings("my model") as issued:
            warnings.warn("IRLS stopped", sm_exceptions.ConvergenceWarning, stacklevel=1)
            warnings.warn("IRLS stopped again", sm_exceptions.ConvergenceWarning, stacklevel=1)
    assert len(issued) == 1 and issued[0].converged is False  # the same problem once per fit
    assert not [w for w in record if issubclass(w.category, sm_exceptions.ConvergenceWarning)]


def test_perfect_separation_is_a_diverging_coefficient_of_a_converged_fit():
    with pytest.warns(bm.ConvergenceWarning, match="perfect separation") as record:
        with reissue_fit_warnings("logit"):
            warnings.warn("separated", sm_exceptions.PerfectSeparationWarning, stacklevel=1)
    assert record[0].message.converged is True


def test_other_warnings_pass_through_unchanged():
    with pytest.warns(RuntimeWarning, match="overflow"):
        with reissue_fit_warnings("m") as issued:
            warnings.warn("overflow in exp", RuntimeWarning, stacklevel=1)
    assert issued == []


def test_newton_raphson_non_convergence_carries_converged_false(monkeypatch):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    d = pd.DataFrame({"time": rng.exponential(1, 200), "event": rng.integers(0, 2, 200), "x": rng.normal(size=200)})
    with pytest.warns(bm.ConvergenceWarning, match="did not converge") as record:
        bm.cox(d, "time", "event", "x", max_iter=1)
    assert [w.message.converged for w in record if isinstance(w.message, bm.ConvergenceWarning)] == [False]
