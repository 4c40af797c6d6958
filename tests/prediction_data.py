"""The data sets of the prediction reference values (tests/reference/R/prediction.R), built as R builds them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bmstats.datasets import load_rotterdam
from conftest import load_reference

REF = load_reference("prediction")
RHS = "age + meno + C(size) + grade + np.log(nodes + 1) + np.log(pgr + 1) + hormon + chemo"


def rotterdam() -> pd.DataFrame:
    d = load_rotterdam()
    d["size"] = pd.Categorical(d["size"].astype(str), categories=["<=20", "20-50", ">50"])
    d["t"] = np.where(d.recur == 1, d.rtime, d.dtime)
    d["st"] = np.where(d.recur == 1, 1, np.where(d.death == 1, 2, 0))
    d["relapse"] = (d.st == 1).astype(int)
    d["rfs"] = (d.st > 0).astype(int)
    return d


def by_time(pred: pd.DataFrame, rows) -> np.ndarray:
    """A predict_risk frame as R writes a rows x times matrix: column by column."""
    return pred.pivot(index="row", columns="time", values="risk").loc[rows].to_numpy().T.reshape(-1)
