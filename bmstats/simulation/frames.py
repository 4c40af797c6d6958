"""Calendar time, censoring and the canonical tables (bmstats.cohort.schema; docs/cohort.md).

Diagnosis dates are uniform over the accrual window; follow-up ends at the first of death, the study end
(administrative censoring) and loss to follow-up (exponential, independent of everything).  Events after
the end of follow-up are not recorded.  Times are kept in days from diagnosis and turned into dates by
flooring, which keeps every order (diagnosis <= metastasis <= events <= last follow-up).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .skeletal import DAYS_PER_YEAR


def calendar_day(date: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(str(date), "D").astype(np.int64))


def draw_follow_up(rng: np.random.Generator, p: dict[str, Any], t_death_years: np.ndarray) -> dict[str, np.ndarray]:
    """Diagnosis day (calendar), end of follow-up (days from diagnosis) and whether death was observed."""
    n = len(t_death_years)
    start, end = calendar_day(p["accrual"]["start"]), calendar_day(p["accrual"]["end"])
    dx = start + rng.integers(0, end - start + 1, n)
    admin = (calendar_day(p["study_end"]) - dx).astype(float)
    e = rng.standard_exponential(n)
    ltfu = p["loss_to_follow_up"]
    lost = e / ltfu * DAYS_PER_YEAR if ltfu > 0 else np.full(n, np.inf)
    censor = np.minimum(admin, lost)
    death = t_death_years * DAYS_PER_YEAR
    dead = death <= censor
    return {"dx_calendar": dx, "end_day": np.where(dead, death, censor), "dead": dead}


def observed(day: np.ndarray, end_day: np.ndarray) -> np.ndarray:
    """The day if it falls within follow-up, else inf."""
    return np.where(day <= end_day, day, np.inf)


def to_dates(dx_calendar: np.ndarray, day: np.ndarray) -> pd.Series:
    """Calendar dates (datetime64[ns], NaT where ``day`` is not finite)."""
    ok = np.isfinite(day)
    out = np.full(len(day), np.datetime64("NaT"), dtype="datetime64[D]")
    out[ok] = (dx_calendar[ok] + np.floor(day[ok]).astype(np.int64)).astype("datetime64[D]")
    return pd.Series(out.astype("datetime64[ns]"))


def patient_ids(n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def patients_frame(
    ids: np.ndarray, cov: dict[str, np.ndarray], fu: dict[str, np.ndarray], bm_day: np.ndarray,
    visc_day: np.ndarray, bta_type: np.ndarray, bta_start: np.ndarray, cause: np.ndarray,
) -> pd.DataFrame:
    dx = fu["dx_calendar"]
    zero = np.zeros(len(dx))
    return pd.DataFrame(
        {
            "patient_id": ids,
            "dx_date": to_dates(dx, zero),
            "age": cov["age"].astype(float),
            "menopausal": cov["menopausal"].astype(object),
            "er": cov["er"].astype(object),
            "pr": cov["pr"].astype(object),
            "her2": cov["her2"].astype(object),
            "subtype": cov["subtype"].astype(object),
            "grade": pd.array(cov["grade"], dtype="Int64"),
            "tumor_size_mm": cov["tumor_size_mm"].astype(float),
            "nodes_positive": pd.array(cov["nodes_positive"], dtype="Int64"),
            "histology": cov["histology"].astype(object),
            "stage": cov["stage"].astype(object),
            "bm_date": to_dates(dx, bm_day),
            "visceral_met_date": to_dates(dx, visc_day),
            "bta_type": bta_type.astype(object),
            "bta_start_date": to_dates(dx, bta_start),
            "last_fu_date": to_dates(dx, fu["end_day"]),
            "death_date": to_dates(dx, np.where(fu["dead"], fu["end_day"], np.inf)),
            "cause_of_death": pd.Series(cause, dtype=object).where(fu["dead"], None),
        }
    )


def events_frame(ids: np.ndarray, dx_calendar: np.ndarray, ev: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "patient_id": ids[ev["patient"]],
            "event_date": to_dates(dx_calendar[ev["patient"]], ev["day"]),
            "event_type": ev["event_type"].astype(object),
            "symptomatic": pd.array(ev["symptomatic"], dtype="boolean"),
        }
    )
    # two events of one type on the same day are one event in a record
    return frame.drop_duplicates(["patient_id", "event_date", "event_type"]).reset_index(drop=True)
