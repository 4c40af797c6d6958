"""Writes tests/reference/data/sre_counts.csv: skeletal events per patient of a synthetic cohort, made by
``Cohort.recurrent_events(window_days=21)`` and ``bm.event_counts``; R/rates.R fits it with poisson.test, glm
and MASS::glm.nb.  Run from the top:  .venv/bin/python tests/reference/sre_counts.py"""
from __future__ import annotations

from pathlib import Path

import bmstats as bm

PATH = Path(__file__).resolve().parent / "data" / "sre_counts.csv"
COLUMNS = ["id", "age", "bta_type", "subtype", "n_events", "person_time", "entry", "exit", "terminal"]


def sre_counts():
    cohort = bm.simulate_cohort(1500, 21)
    rows = cohort.recurrent_events(window_days=21)
    return bm.event_counts(rows, "id", "start", "stop", "event", terminal="terminal",
                           covariates=["age", "bta_type", "subtype"])[COLUMNS]


if __name__ == "__main__":
    sre_counts().to_csv(PATH, index=False, float_format="%.17g")
    print(f"wrote {PATH}")
