"""A hospital's cohort in its own coding (Excel, 1/0/9 codes, blanks, cm, dd/mm/yyyy) through the package."""
from __future__ import annotations

import numpy as np
import pandas as pd

import bmstats as bm

MAPPING = {
    "date_format": "%d/%m/%Y",
    "patients": {
        "columns": {"PatNr": "patient_id", "DiagDate": "dx_date", "ER": "er", "PR": "pr", "HER2": "her2",
                    "TumourSize_cm": {"to": "tumor_size_mm", "multiply": 10}, "Age": "age",
                    "BoneMetDate": "bm_date", "BTA": "bta_type", "BTAStart": "bta_start_date",
                    "LastFU": "last_fu_date", "DeathDate": "death_date", "Cause": "cause_of_death"},
        "values": {"ER": {1: "positive", 0: "negative", 9: "unknown"},
                   "PR": {1: "positive", 0: "negative", 9: "unknown"},
                   "HER2": {1: "positive", 0: "negative", 9: "unknown"},
                   "BTA": {"": "none", "ZOL": "zoledronic_acid", "DMAB": "denosumab"},
                   "Cause": {"BC": "breast_cancer", "OTH": "other"}},
    },
    "skeletal_events": {"columns": {"PatNr": "patient_id", "Date": "event_date", "Type": "event_type"},
                        "values": {"Type": {"MSCC": "spinal_cord_compression", "FRAC": "pathologic_fracture",
                                            "RT": "radiation_to_bone"}}},
}


def _site_files(tmp_path):
    """The synthetic cohort written as a site would: its names, codes, cm, dd/mm/yyyy text, blank for none."""
    cohort = bm.simulate_cohort(600, 17, bta={"use": 0.6, "mix": {"zoledronic_acid": 0.5, "denosumab": 0.5}})
    p, e = cohort.patients.reset_index(drop=True), cohort.events.reset_index(drop=True)
    code = {"positive": 1, "negative": 0, "unknown": 9}

    def dmy(s):
        return s.dt.strftime("%d/%m/%Y").fillna("")

    site = pd.DataFrame({
        "PatNr": p["patient_id"], "DiagDate": dmy(p["dx_date"]), "Age": p["age"],
        "ER": p["er"].map(code).astype(int), "PR": p["pr"].map(code).astype(int), "HER2": p["her2"].map(code).astype(int),
        "TumourSize_cm": p["tumor_size_mm"] / 10, "BoneMetDate": dmy(p["bm_date"]),
        "BTA": p["bta_type"].astype(object).map({"none": "", "zoledronic_acid": "ZOL", "denosumab": "DMAB"}).fillna(""),
        "BTAStart": dmy(p["bta_start_date"]), "LastFU": dmy(p["last_fu_date"]), "DeathDate": dmy(p["death_date"]),
        "Cause": p["cause_of_death"].astype(object).map({"breast_cancer": "BC", "other": "OTH", "unknown": "OTH"}).fillna(""),
    })
    events = e[e["event_type"].isin(["spinal_cord_compression", "pathologic_fracture", "radiation_to_bone"])]
    site_events = pd.DataFrame({"PatNr": events["patient_id"], "Date": dmy(events["event_date"]),
                                "Type": events["event_type"].astype(object).map(
                                    {"spinal_cord_compression": "MSCC", "pathologic_fracture": "FRAC",
                                     "radiation_to_bone": "RT"})})
    pp, ep = tmp_path / "site.xlsx", tmp_path / "site_events.xlsx"
    site.to_excel(pp, index=False)
    site_events.to_excel(ep, index=False)
    return cohort, pp, ep


def test_site_cohort_reads_validates_and_analyses_as_the_canonical_one(tmp_path):
    truth, pp, ep = _site_files(tmp_path)
    site = bm.read_cohort(pp, ep, mapping=MAPPING)
    p, t = site.patients, truth.patients
    # every number right: codes, blanks as 'none', cm -> mm, day/month dates
    assert (p["bta_type"].astype(object) == t["bta_type"].astype(object)).all()
    assert p["er"].astype(object).tolist() == t["er"].astype(object).tolist()
    np.testing.assert_allclose(p["tumor_size_mm"], t["tumor_size_mm"], rtol=1e-12)
    assert (p["dx_date"] == t["dx_date"]).all() and p["bm_date"].equals(t["bm_date"])
    assert list(p["subtype"].cat.categories)[0] == "HR+/HER2-"
    report = bm.validate(site)
    assert report.ok, report.errors.head().to_string()
    assert "BM108-unit-suspect" not in set(report.issues["rule"])
    # Table 1 in clinical order, CIF, a model with the usual reference, MCF
    t1 = bm.table_one(p, "subtype", ["age", "tumor_size_mm", "bta_type"], nonnormal=["tumor_size_mm"])
    assert [c.split(" (n")[0] for c in t1.body.columns[2:7]] == ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC", "unknown"]
    cr = site.endpoint("bone_metastasis", competing=["death"])
    cif = bm.cumulative_incidence(cr, "time", "status")
    assert cif.table.attrs["time_label"] == "Years since diagnosis"
    fit = bm.cox(cr.assign(ev=(cr["status"] == 1).astype(int)), "time", "ev", "age + subtype")
    assert not any("HR+/HER2-" in term for term in fit.summary.index)
    mcf = bm.mean_cumulative_function(site.recurrent_events(), "id", "start", "stop", "event", terminal="terminal")
    assert mcf.n > 0


def test_the_same_site_without_multiply_or_blank_key_is_warned(tmp_path):
    _, pp, ep = _site_files(tmp_path)
    m = {**MAPPING, "patients": {**MAPPING["patients"],
                                 "columns": {**MAPPING["patients"]["columns"], "TumourSize_cm": "tumor_size_mm"},
                                 "values": {**MAPPING["patients"]["values"],
                                            "BTA": {"ZOL": "zoledronic_acid", "DMAB": "denosumab", "Zometa": "x"}}}}
    rules = set(bm.validate(bm.read_cohort(pp, ep, mapping=m)).issues["rule"])
    assert {"BM108-unit-suspect", "BM107-mapping-value-unused"} <= rules
    wrong_dates = bm.validate(bm.read_cohort(pp, ep, mapping={k: v for k, v in MAPPING.items() if k != "date_format"}))
    dates = wrong_dates.issues[wrong_dates.issues["rule"] == "BM006-date-parse"]
    assert len(dates) <= 8 and dates["message"].str.contains("%d/%m/%Y").all()
