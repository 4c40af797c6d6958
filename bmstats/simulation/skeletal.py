"""Bone-targeted therapy after bone metastasis and skeletal-related events (SREs) as a recurrent process.

SREs follow a Poisson process from the date of bone metastasis to the end of follow-up, with a constant
rate ``sre.rate * Z`` per year, Z a gamma frailty with mean 1 and variance ``sre.frailty_variance`` (so the
counts are negative binomial and first-and-subsequent events cluster within patients, as in the trials'
Andersen-Gill analyses).  From the start of bone-targeted therapy the rate is multiplied by the therapy's
rate ratio (Kohno 2005: zoledronic acid vs placebo 0.61; Stopeck 2010: denosumab vs zoledronic acid 0.77).
Each event's type and whether it was symptomatic are drawn independently from ``sre.type_mix`` and
``sre.symptomatic``.  Therapy use and timing are independent of prognosis (no confounding by indication).
"""
from __future__ import annotations

from typing import Any

import numpy as np


DAYS_PER_YEAR = 365.25


def _lookup(codes: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """``table[code]`` for every element (through the distinct codes, not a per-row loop)."""
    uniq, inverse = np.unique(codes, return_inverse=True)
    return np.array([float(table[u]) for u in uniq], dtype=float)[inverse] if len(codes) else np.zeros(0)


def _choose(rng: np.random.Generator, n: int, mix: dict[str, float]) -> np.ndarray:
    names = np.array(list(mix), dtype=object)
    cum = np.cumsum(np.array(list(mix.values()), dtype=float))
    return names[np.minimum(np.searchsorted(cum / cum[-1], rng.random(n), side="right"), len(names) - 1)]


def draw_therapy(
    rng: np.random.Generator, p: dict[str, Any], bm_day: np.ndarray, end_day: np.ndarray, dx_calendar: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Therapy type (``none`` or a drug) and start day (days from diagnosis; nan if none) per patient.

    Started with probability ``bta.use`` after an exponential delay of mean ``bta.mean_delay_days`` from
    bone metastasis; recorded only if it starts before the end of follow-up.  The drug depends on the
    calendar date of the start (denosumab from ``bta.denosumab_from``) unless ``bta.mix`` is given.
    """
    n = len(bm_day)
    bta = p["bta"]
    treated = np.isfinite(bm_day) & (rng.random(n) < bta["use"])
    start = bm_day + rng.standard_exponential(n) * bta["mean_delay_days"]
    treated &= start <= end_day
    if bta["mix"] is not None:
        drug = _choose(rng, n, bta["mix"])
    else:
        before, after = _choose(rng, n, bta["mix_before"]), _choose(rng, n, bta["mix_after"])
        cutoff = np.datetime64(str(bta["denosumab_from"]), "D").astype(np.int64)
        start_calendar = dx_calendar + np.floor(np.where(treated, start, 0.0))
        drug = np.where(start_calendar >= cutoff, after, before)
    return np.where(treated, drug, "none"), np.where(treated, start, np.nan)


def draw_events(
    rng: np.random.Generator,
    p: dict[str, Any],
    bm_day: np.ndarray,
    end_day: np.ndarray,
    bta_type: np.ndarray,
    bta_start: np.ndarray,
) -> dict[str, np.ndarray]:
    """SREs of every patient with an observed bone metastasis: patient index, day from diagnosis, type, symptomatic."""
    n = len(bm_day)
    sre = p["sre"]
    theta = sre["frailty_variance"]
    frailty = rng.gamma(1.0 / theta, theta, n) if theta > 0 else np.ones(n)
    rate = sre["rate"] / DAYS_PER_YEAR * frailty
    has_bm = np.isfinite(bm_day)
    treated = ~np.isnan(bta_start)
    ratio_of = dict(p["bta"]["rate_ratio"], none=1.0)
    rr = _lookup(bta_type, ratio_of)
    # two windows: before therapy (rate), on therapy (rate * rr)
    switch = np.where(treated, np.minimum(bta_start, end_day), end_day)
    lo = np.concatenate([bm_day, switch])
    hi = np.concatenate([switch, end_day])
    lam = np.concatenate([rate, rate * rr])
    length = np.where(np.concatenate([has_bm, has_bm & treated]), np.maximum(hi - lo, 0.0), 0.0)
    counts = rng.poisson(lam * length)
    window = np.repeat(np.arange(2 * n), counts)
    day = lo[window] + rng.random(window.size) * length[window]
    patient = window % n
    event_type = _choose(rng, window.size, sre["type_mix"])
    p_sym = _lookup(event_type, sre["symptomatic"])
    symptomatic = rng.random(window.size) < p_sym
    order = np.lexsort((day, patient))
    return {
        "patient": patient[order],
        "day": day[order],
        "event_type": event_type[order],
        "symptomatic": symptomatic[order],
    }
