"""bm.net_benefit against the dcurves formula computed in R with survfit / cmprsk::cuminc within the treated
(tests/reference/R/prediction.R -> prediction.json)."""
from __future__ import annotations

import numpy as np
import pytest

import bmstats as bm
from bmstats._checks import InputError
from prediction_data import REF, RHS, rotterdam


@pytest.fixture(scope="module")
def data():
    return rotterdam()


def test_survival_net_benefit_equals_dcurves_formula(data):
    fit = bm.cox(data, "t", "relapse", RHS)
    p = bm.predict_risk(fit, data, [2000], conf_int=False)["risk"].to_numpy()
    r = REF["nb_surv"]
    nb = bm.net_benefit(data, "t", "relapse", {"cox": p}, time_horizon=2000, thresholds=r["thresholds"])
    assert list(nb.columns[:3]) == ["model", "threshold", "net_benefit"]
    np.testing.assert_allclose(nb.loc[nb.model == "cox", "net_benefit"], r["model"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(nb.loc[nb.model == "treat all", "net_benefit"], r["all"], rtol=1e-6)
    assert (nb.loc[nb.model == "treat none", "net_benefit"] == 0).all()


def test_competing_risks_net_benefit(data):
    models = bm.competing_risks_models(data, "t", "st", RHS)
    r = REF["nb_cr"]
    nb = bm.net_benefit(data, "t", "st", {"csc": models}, time_horizon=3000, thresholds=r["thresholds"])
    np.testing.assert_allclose(nb.loc[nb.model == "csc", "net_benefit"], r["model"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(nb.loc[nb.model == "treat all", "net_benefit"], r["all"], rtol=1e-6)


def test_net_benefit_bad_input(data):
    p = np.full(len(data), 0.3)
    with pytest.raises(InputError, match="thresholds"):
        bm.net_benefit(data, "t", "relapse", p, time_horizon=2000, thresholds=[0.1, 1.0])
    with pytest.raises(InputError, match="reserved"):
        bm.net_benefit(data, "t", "relapse", {"treat all": p}, time_horizon=2000, thresholds=[0.1])
    with pytest.raises(InputError, match="time_horizon"):
        bm.net_benefit(data, "t", "relapse", p, time_horizon="soon", thresholds=[0.1])
