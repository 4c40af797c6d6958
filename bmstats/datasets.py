"""Loaders for the bundled data (folder ``datasets/`` in a checkout, ``bmstats._datasets`` in a wheel).

- Rotterdam and GBSG: real cohorts as distributed with R's ``survival`` 3.5-3.  Cite Royston P, Altman DG.
  External validation of a Cox prognostic model: principles and methods. BMC Med Res Methodol 2013;13:33.
- bm_cohort: a synthetic bone-metastasis cohort made by ``bmstats simulate`` (see its README).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_rotterdam", "load_gbsg", "load_bm_cohort", "dataset_path", "list_datasets"]


def dataset_path(name: str) -> Path:
    """Path of a bundled file or folder, from the installed package or, in a checkout, ``datasets/``."""
    try:
        candidate = Path(str(resources.files("bmstats._datasets") / name))
        if candidate.exists():
            return candidate
    except ModuleNotFoundError:
        pass
    candidate = Path(__file__).resolve().parents[1] / "datasets" / name
    if candidate.exists():
        return candidate
    raise FileNotFoundError(f"bundled dataset {name!r} not found")


def list_datasets() -> pd.DataFrame:
    """The bundled data sets with their size and origin."""
    return pd.DataFrame(
        [
            ("rotterdam", "real", 2982, "Rotterdam Tumour Bank, primary breast cancer 1978-1993 (survival::rotterdam)"),
            ("gbsg", "real", 686, "German Breast Cancer Study Group 2 trial, node-positive (survival::gbsg)"),
            ("bm_cohort", "synthetic", 5000, "calibrated synthetic bone-metastasis cohort (bmstats simulate)"),
        ],
        columns=["name", "kind", "patients", "description"],
    )


def load_rotterdam() -> pd.DataFrame:
    """Rotterdam tumour bank (n = 2,982): relapse (``rtime`` days, ``recur``) and death (``dtime``, ``death``).

    ``size`` is an ordered category (<=20, 20-50, >50 mm); ``er``/``pgr`` are receptor levels in fmol/l;
    ``meno``, ``hormon``, ``chemo``, ``recur``, ``death`` are 0/1 integers.  43 patients who died without a
    recorded relapse have ``dtime > rtime`` (relapse follow-up stopped earlier): the usual competing-risks
    coding takes ``rtime`` when ``recur == 1`` and ``dtime`` otherwise.
    """
    df = pd.read_csv(dataset_path("rotterdam.csv"))
    ints = ["pid", "year", "age", "meno", "grade", "nodes", "pgr", "er", "hormon", "chemo", "rtime", "recur", "dtime",
            "death"]
    df[ints] = df[ints].astype("int64")
    df["size"] = pd.Categorical(df["size"], categories=["<=20", "20-50", ">50"], ordered=True)
    return df


def load_gbsg() -> pd.DataFrame:
    """GBSG 2 trial (n = 686, node-positive): recurrence-free survival (``rfstime`` days, ``status``).

    ``size`` in mm, ``er``/``pgr`` in fmol/l, ``meno``/``hormon``/``status`` 0/1 integers.
    """
    df = pd.read_csv(dataset_path("gbsg.csv"))
    return df.astype("int64")


def load_rotterdam_gbsg() -> pd.DataFrame:
    """Rotterdam (development) and GBSG (validation) harmonised for recurrence-free survival, as Royston &
    Altman (BMC Med Res Methodol 2013;13:33): the 1,546 node-positive Rotterdam patients and the 686 GBSG
    patients (all node-positive), stacked with a ``cohort`` column ("Rotterdam", "GBSG") and its 0/1 code
    ``gbsg`` (for filters: ``gbsg == 0`` is Rotterdam).

    ``rfstime`` (days) and ``rfs`` (1 = recurrence or death): in Rotterdam the relapse time when relapsed,
    otherwise the death or follow-up time; ``size`` the Rotterdam categories (GBSG millimetres cut at 20 and
    50); ``grade`` 2 or 3 (GBSG grade 1, absent in Rotterdam, counted as 2); ``age``, ``meno``, ``nodes``,
    ``pgr``, ``er``, ``hormon`` as recorded.
    """
    r = load_rotterdam()
    r = r.loc[r["nodes"] > 0]
    rot = pd.DataFrame({
        "cohort": "Rotterdam", "pid": r["pid"], "age": r["age"], "meno": r["meno"],
        "size": r["size"].astype(str), "grade": r["grade"], "nodes": r["nodes"], "pgr": r["pgr"], "er": r["er"],
        "hormon": r["hormon"],
        "rfstime": np.where(r["recur"] == 1, r["rtime"], r["dtime"]),
        "rfs": ((r["recur"] == 1) | (r["death"] == 1)).astype("int64"),
    })
    g = load_gbsg()
    gb = pd.DataFrame({
        "cohort": "GBSG", "pid": g["pid"], "age": g["age"], "meno": g["meno"],
        "size": np.where(g["size"] <= 20, "<=20", np.where(g["size"] <= 50, "20-50", ">50")),
        "grade": np.maximum(g["grade"], 2), "nodes": g["nodes"], "pgr": g["pgr"], "er": g["er"],
        "hormon": g["hormon"], "rfstime": g["rfstime"], "rfs": g["status"],
    })
    out = pd.concat([rot, gb], ignore_index=True)
    out["size"] = pd.Categorical(out["size"], categories=["<=20", "20-50", ">50"], ordered=True)
    out.insert(1, "gbsg", (out["cohort"] == "GBSG").astype("int64"))
    return out


def load_bm_cohort():
    """The synthetic bone-metastasis cohort (5,000 patients) as a :class:`bmstats.Cohort`.

    ``.truth`` holds the parameters it was drawn from and the true quantities they imply (truth.json).
    """
    import json

    from bmstats.cohort.io import read_cohort

    folder = dataset_path("bm_cohort")
    cohort = read_cohort(folder / "patients.csv", folder / "skeletal_events.csv")
    return cohort.with_truth(json.loads((folder / "truth.json").read_text()))
