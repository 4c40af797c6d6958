"""Calibration of the synthetic cohort: the published figures, and what a simulated cohort gives for each.

:data:`TARGETS` lists every figure of docs/calibration_targets.md (with its source and the acceptance band
stated there, where there is one); :func:`measure` computes the same quantity from a simulated cohort's canonical
tables with the estimator an analyst would use (Aalen-Johansen for cumulative incidence with death
competing, ``bm.cumulative_incidence``; Kaplan-Meier for survival after bone metastasis,
``bm.kaplan_meier``); :func:`calibration_table` puts them side by side.  docs/simulation.md shows the table for
200,000 patients; tests check the bands on a smaller cohort.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .parameters import SUBTYPES

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Target:
    key: str
    quantity: str
    published: str
    source: str
    low: float | None = None  # acceptance band (docs/calibration_targets.md) if any
    high: float | None = None


TARGETS: tuple[Target, ...] = (
    Target("bm_at_dx", "BM at diagnosis, all", "3.3-3.6%", "SEER: Xiong 2018; 295,213-patient SEER study",
           0.025, 0.045),
    Target("bm_at_dx HR+/HER2-", "BM at diagnosis, HR+/HER2-", "3.1%", "Xiong 2018"),
    Target("bm_at_dx HR+/HER2+", "BM at diagnosis, HR+/HER2+", "5.0%", "Xiong 2018"),
    Target("bm_at_dx HR-/HER2+", "BM at diagnosis, HR-/HER2+", "4.5%", "Xiong 2018"),
    Target("bm_at_dx TNBC", "BM at diagnosis, TNBC", "2.8%", "Xiong 2018"),
    Target("bone_in_stage_iv", "bone involvement among metastatic at diagnosis", "62.5%", "Xiong 2018; Gong 2018"),
    Target("cif5 overall", "CIF of BM at 5 y, no BM at diagnosis (death competing)",
           "6.5% first / 8.4% any (stage I-III)", "Toronto 2016", 0.05, 0.10),
    Target("cif10 overall", "CIF of BM at 10 y, no BM at diagnosis", "10.3% first / 12.5% any (stage I-III)",
           "Toronto 2016", 0.08, 0.14),
    Target("cif15 overall", "CIF of BM at 15 y, no BM at diagnosis", "11.3% first / 13.6% any", "Toronto 2016"),
    Target("cif10 HR+/HER2-", "CIF of BM at 10 y, HR+/HER2-", "~10% (target)", "derived (calibration_targets.md)"),
    Target("cif10 HR+/HER2+", "CIF of BM at 10 y, HR+/HER2+", "8-10% (target)", "derived (calibration_targets.md)"),
    Target("cif10 HR-/HER2+", "CIF of BM at 10 y, HR-/HER2+", "8-10% (target)", "derived (calibration_targets.md)"),
    Target("cif10 TNBC", "CIF of BM at 10 y, TNBC", "5-7% (target)", "derived (calibration_targets.md)"),
    Target("tnbc_minus_hr_10y", "CIF at 10 y, TNBC minus HR+/HER2-", "< 0", "derived (calibration_targets.md)",
           None, -1e-9),
    Target("tnbc_share_by_3y", "TNBC: share of 10-y BMs by year 3", "most (early peak)",
           "derived (calibration_targets.md)", 0.5, 1.0),
    Target("hr_share_after_3y", "HR+/HER2-: share of 10-y BMs after year 3", "late-persisting hazard",
           "derived (calibration_targets.md)", 0.30, 1.0),
    Target("ratio_n4_n0", "CIF at 10 y, N4+ / N0", "N4+ hazard ~3-4x N0", "derived (calibration_targets.md)", 2.5, 6.0),
    Target("ratio_n13_n0", "CIF at 10 y, N1-3 / N0", "N1-3 hazard ~2x N0", "derived (calibration_targets.md)"),
    Target("bone_only", "bone-only (never visceral) among patients with BM", "33.7%", "Harries 2014", 0.25, 0.45),
    Target("bone_then_visceral", "bone first (or with) then visceral, among BM", "54.8%", "Harries 2014"),
    Target("visceral_first", "visceral first, among BM", "11.5%", "Harries 2014"),
    Target("median_os_bm", "median survival after BM (years), metachronous BM", "1.6 y", "Toronto 2016", 1.2, 3.0),
    Target("median_os_bm_all", "median survival after BM (years), all BM", "1.6 y", "Toronto 2016", 1.2, 3.0),
    Target("os1_bm", "survival 1 y after BM", "51%", "Svensson 2017"),
    Target("os5_bm", "survival 5 y after BM", "13%", "Svensson 2017"),
    Target("median_os_bm_only", "median survival after BM, no visceral disease at BM", "2.3 y (bone-only)",
           "Harries 2014"),
    Target("median_os_visceral", "median survival after BM, visceral disease at BM", "< 1 y", "Harries 2014"),
    Target("median_os_de_novo", "median survival, de novo stage IV with BM (years)", "2.5-3.2 y (30-38 months)",
           "Gong 2018"),
    Target("bm_among_bc_deaths", "BM among patients dying of breast cancer", "69%", "Coleman & Rubens 1987"),
    Target("sre1_no_bta", "SRE within 1 y of BM without BTA (death competing)", "49.6% (placebo); 46.4% in 0.7 y",
           "Kohno 2005; Svensson 2017", 0.35, 0.60),
    Target("median_first_sre_no_bta", "median time to first SRE without BTA (months, alive)", "7.0 months",
           "Protocol 19"),
    Target("sre_rate_no_bta", "SRE rate per patient-year without BTA", "2.2-4.0 (low authority)", "sanity range"),
    Target("rr_zol_vs_none", "SRE rate ratio, zoledronic acid vs none", "0.61 (0.59 Andersen-Gill)", "Kohno 2005"),
    Target("rr_dmab_vs_zol", "SRE rate ratio, denosumab vs zoledronic acid", "0.77", "Stopeck 2010"),
    Target("share radiation_to_bone", "SRE mix: radiation to bone", "most common", "trial reports"),
    Target("share pathologic_fracture", "SRE mix: pathologic fracture", "second", "trial reports"),
    Target("share spinal_cord_compression", "SRE mix: spinal cord compression", "rarer", "trial reports"),
    Target("share surgery_to_bone", "SRE mix: surgery to bone", "rarer", "trial reports"),
    Target("share hypercalcaemia", "SRE mix: hypercalcaemia", "rare (some trials)", "trial reports"),
)


def cif_at(time: np.ndarray, status: np.ndarray, at: list[float]) -> np.ndarray:
    """Aalen-Johansen cumulative incidence of cause 1 (status 0 censored, 1 cause, 2 competing) at ``at``."""
    from bmstats.estimate.cif import cumulative_incidence

    frame = pd.DataFrame({"time": time, "status": status})
    table = cumulative_incidence(frame, "time", "status").at(at)
    return table.loc[table["cause"] == 1, "estimate"].to_numpy()


def _km(time: np.ndarray, event: np.ndarray):
    from bmstats.estimate.km import kaplan_meier

    return kaplan_meier(pd.DataFrame({"time": time, "event": event.astype(int)}), "time", "event")


def kaplan_meier_median(time: np.ndarray, event: np.ndarray) -> float:
    return float(_km(time, event).median()["estimate"].iloc[0])


def kaplan_meier_at(time: np.ndarray, event: np.ndarray, at: float) -> float:
    return float(_km(time, event).at([at])["estimate"].iloc[0])


def _years(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    return ((later - earlier).dt.days / DAYS_PER_YEAR).to_numpy(dtype=float)


def measure(patients: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    """The calibration quantities of one simulated cohort (keys of :data:`TARGETS`)."""
    pt = patients
    out: dict[str, float] = {}
    at_dx = (pt["bm_date"] == pt["dx_date"]).to_numpy()
    out["bm_at_dx"] = at_dx.mean()
    for s in SUBTYPES:
        out[f"bm_at_dx {s}"] = at_dx[(pt["subtype"] == s).to_numpy()].mean()
    iv = (pt["stage"] == "IV").to_numpy()
    out["bone_in_stage_iv"] = at_dx[iv].mean()

    # first BM from diagnosis, death competing, among patients without BM at diagnosis
    rest = pt[~at_dx]
    has_bm = rest["bm_date"].notna().to_numpy()
    dead = rest["death_date"].notna().to_numpy()
    end = rest["bm_date"].where(has_bm, rest["last_fu_date"])
    time = _years(end, rest["dx_date"])
    status = np.where(has_bm, 1, np.where(dead, 2, 0))
    groups = {"overall": np.ones(len(rest), bool)}
    groups.update({s: (rest["subtype"] == s).to_numpy() for s in SUBTYPES})
    nodes = rest["nodes_positive"].to_numpy(dtype=float)
    groups.update({"N0": nodes == 0, "N1-3": (nodes >= 1) & (nodes <= 3), "N4+": nodes >= 4})
    cif = {g: cif_at(time[m], status[m], [3.0, 5.0, 10.0, 15.0]) for g, m in groups.items()}
    for g, (c3, c5, c10, c15) in cif.items():
        out[f"cif3 {g}"], out[f"cif5 {g}"], out[f"cif10 {g}"], out[f"cif15 {g}"] = c3, c5, c10, c15
    out["tnbc_minus_hr_10y"] = out["cif10 TNBC"] - out["cif10 HR+/HER2-"]
    out["tnbc_share_by_3y"] = out["cif3 TNBC"] / out["cif10 TNBC"]
    out["hr_share_after_3y"] = 1 - out["cif3 HR+/HER2-"] / out["cif10 HR+/HER2-"]
    out["ratio_n4_n0"] = out["cif10 N4+"] / out["cif10 N0"]
    out["ratio_n13_n0"] = out["cif10 N1-3"] / out["cif10 N0"]

    # patterns and survival among patients with BM
    bm = pt[pt["bm_date"].notna()]
    visc = bm["visceral_met_date"]
    out["bone_only"] = visc.isna().mean()
    out["bone_then_visceral"] = (visc >= bm["bm_date"]).mean()
    out["visceral_first"] = (visc < bm["bm_date"]).mean()
    t_os = _years(bm["last_fu_date"], bm["bm_date"])
    d_os = bm["death_date"].notna().to_numpy()
    meta = (bm["bm_date"] > bm["dx_date"]).to_numpy()
    out["median_os_bm"] = kaplan_meier_median(t_os[meta], d_os[meta])
    out["median_os_bm_all"] = kaplan_meier_median(t_os, d_os)
    out["os1_bm"] = kaplan_meier_at(t_os[meta], d_os[meta], 1.0)
    out["os5_bm"] = kaplan_meier_at(t_os[meta], d_os[meta], 5.0)
    visceral_at_bm = (visc <= bm["bm_date"]).to_numpy()
    out["median_os_bm_only"] = kaplan_meier_median(t_os[~visceral_at_bm], d_os[~visceral_at_bm])
    out["median_os_visceral"] = kaplan_meier_median(t_os[visceral_at_bm], d_os[visceral_at_bm])
    out["median_os_de_novo"] = kaplan_meier_median(t_os[~meta], d_os[~meta])
    bc = pt["cause_of_death"] == "breast_cancer"
    out["bm_among_bc_deaths"] = pt.loc[bc, "bm_date"].notna().mean()

    out.update(_measure_sre(bm, events))
    return {k: float(v) for k, v in out.items()}


def _measure_sre(bm: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    ev = events.merge(bm[["patient_id", "bm_date", "bta_type", "bta_start_date"]], on="patient_id", how="inner")
    # person-time and events before therapy (untreated time) and on each drug
    end_untreated = bm["bta_start_date"].fillna(bm["last_fu_date"]).clip(upper=bm["last_fu_date"])
    pt_none = _years(end_untreated, bm["bm_date"]).clip(min=0).sum()
    before = ev["bta_start_date"].isna() | (ev["event_date"] < ev["bta_start_date"])
    rate_none = before.sum() / pt_none if pt_none > 0 else float("nan")
    out["sre_rate_no_bta"] = rate_none
    rates = {}
    for drug in ("zoledronic_acid", "denosumab"):
        on = bm["bta_type"] == drug
        pt_drug = _years(bm.loc[on, "last_fu_date"], bm.loc[on, "bta_start_date"]).clip(min=0).sum()
        n_drug = ((ev["bta_type"] == drug) & ~before).sum()
        rates[drug] = n_drug / pt_drug if pt_drug > 0 else float("nan")
    out["rr_zol_vs_none"] = rates["zoledronic_acid"] / rate_none
    out["rr_dmab_vs_zol"] = rates["denosumab"] / rates["zoledronic_acid"]

    # first SRE within 1 year of BM among the never treated (death competing)
    never = bm[bm["bta_type"] == "none"]
    first = ev.groupby("patient_id")["event_date"].min()
    first_date = never["patient_id"].map(first)
    has = first_date.notna().to_numpy()
    t = _years(first_date.where(has, never["last_fu_date"]), never["bm_date"])
    status = np.where(has, 1, np.where(never["death_date"].notna().to_numpy(), 2, 0))
    if len(never):
        out["sre1_no_bta"] = cif_at(t, status, [1.0])[0]
        alive_t, alive_e = t, (status == 1)
        out["median_first_sre_no_bta"] = 12 * kaplan_meier_median(alive_t, alive_e)
    else:
        out["sre1_no_bta"] = out["median_first_sre_no_bta"] = float("nan")
    mix = events["event_type"].value_counts(normalize=True)
    kinds = ("radiation_to_bone", "pathologic_fracture", "spinal_cord_compression", "surgery_to_bone", "hypercalcaemia")
    for kind in kinds:
        out[f"share {kind}"] = float(mix.get(kind, 0.0))
    return out


def calibration_table(measured: dict[str, float], truth: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per target: quantity, published figure, source, acceptance band, simulated value, truth."""
    true_values: dict[str, float] = {}
    if truth is not None:
        d = truth["derived"]
        true_values["bm_at_dx"] = truth["bm_at_diagnosis"]["overall"]
        for s in SUBTYPES:
            true_values[f"bm_at_dx {s}"] = truth["bm_at_diagnosis"][s]
        for g in ("overall", *SUBTYPES):
            true_values[f"cif5 {g}"] = d["cif_bm_5y"][g]
            true_values[f"cif10 {g}"] = d["cif_bm_10y"][g]
        times = truth["cumulative_incidence"]["times"]
        true_values["cif15 overall"] = truth["cumulative_incidence"]["bone_metastasis"]["overall"][times.index(15.0)]
        true_values["tnbc_minus_hr_10y"] = d["cif_bm_10y"]["TNBC"] - d["cif_bm_10y"]["HR+/HER2-"]
        true_values["tnbc_share_by_3y"] = 1 - d["share_of_10y_bm_after_year_3"]["TNBC"]
        true_values["hr_share_after_3y"] = d["share_of_10y_bm_after_year_3"]["HR+/HER2-"]
        true_values["ratio_n4_n0"] = d["ratio_10y_N4+_vs_N0"]
        true_values["ratio_n13_n0"] = d["cif_bm_10y"]["N1-3"] / d["cif_bm_10y"]["N0"]
        sk = truth["skeletal_events"]
        true_values["rr_zol_vs_none"] = sk["rate_ratio_vs_none"]["zoledronic_acid"]
        true_values["rr_dmab_vs_zol"] = sk["rate_ratio_denosumab_vs_zoledronic_acid"]
        true_values["sre_rate_no_bta"] = sk["mean_rate_per_year_without_therapy"]
    rows = []
    for t in TARGETS:
        value = measured.get(t.key, float("nan"))
        band = "" if t.low is None and t.high is None else _band(t)
        ok = None if band == "" else bool((t.low is None or value >= t.low) and (t.high is None or value <= t.high))
        rows.append((t.key, t.quantity, t.published, t.source, band, value, true_values.get(t.key, np.nan), ok))
    return pd.DataFrame(rows, columns=["key", "quantity", "published", "source", "acceptance", "simulated", "truth",
                                       "within"])


def _band(t: Target) -> str:
    if t.low is None:
        return "< 0" if t.high is not None and t.high <= 0 else f"<= {t.high:g}"
    if t.high is None:
        return f">= {t.low:g}"
    return f"{t.low:g}-{t.high:g}"
