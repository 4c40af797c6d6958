"""Aalen-Johansen variance at the edges agrees with cmprsk::cuminc (tests/reference/R/cif_edges.R)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bmstats as bm

REF = json.loads((Path(__file__).parent / "reference" / "cif_edges.json").read_text())
CASES = [k for k in REF if k != "versions"]


@pytest.mark.parametrize("case", CASES)
def test_estimate_and_variance_equal_cuminc(case):
    ref = REF[case]
    data = pd.DataFrame(ref["data"])
    several = data["group"].nunique() > 1
    res = bm.cumulative_incidence(data, "time", "status", by="group" if several else None)
    for curve in ref["curves"]:
        group = curve["group"] if several else "all"
        at = res.at(curve["time"])
        at = at[(at["group"].astype(str) == group) & (at["cause"] == curve["cause"])]
        known = np.array([v is not None for v in curve["variance"]])  # cuminc stops at a group's last time
        np.testing.assert_allclose(at["estimate"].to_numpy()[known],
                                   np.array(curve["estimate"], dtype=float)[known], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(at["std_err"].to_numpy()[known] ** 2,
                                   np.array(curve["variance"], dtype=float)[known], rtol=1e-10, atol=1e-15)


def test_last_subject_event_keeps_its_variance_term():
    """The issue's example: cause 2 at time 6 is 0.1168 in cuminc (it was 0.0674 without the n = d = 1 term)."""
    data = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "s": [1, 2, 0, 1, 2, 2]})
    at = bm.cumulative_incidence(data, "t", "s").at([6])
    assert at.loc[at["cause"] == 2, "std_err"].item() ** 2 == pytest.approx(0.11679012345679, rel=1e-12)
