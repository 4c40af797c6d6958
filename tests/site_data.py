"""A hospital's cohort in its own format, for the site tests and the example of docs/cohort.md: the synthetic
cohort written as two Excel sheets with the site's column names, receptors coded 1/0/9, a blank cell for "no
bone agent", tumour size in cm and dd/mm/yyyy dates as text (mapping: tests/data/site_excel_mapping.yaml)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

import bmstats as bm

MAPPING_PATH = Path(__file__).resolve().parent / "data" / "site_excel_mapping.yaml"
MAPPING = yaml.safe_load(MAPPING_PATH.read_text())


def write_site_files(folder: Path, n: int = 600, seed: int = 17):
    """(the canonical cohort, patients.xlsx, events.xlsx) written into ``folder``."""
    cohort = bm.simulate_cohort(n, seed, bta={"use": 0.6, "mix": {"zoledronic_acid": 0.5, "denosumab": 0.5}})
    p, e = cohort.patients.reset_index(drop=True), cohort.events.reset_index(drop=True)
    code = {"positive": 1, "negative": 0, "unknown": 9}

    def dmy(s):
        return s.dt.strftime("%d/%m/%Y").fillna("")

    site = pd.DataFrame({
        "PatNr": p["patient_id"], "DiagDate": dmy(p["dx_date"]), "Age": p["age"],
        "ER": p["er"].map(code).astype(int), "PR": p["pr"].map(code).astype(int),
        "HER2": p["her2"].map(code).astype(int),
        "TumourSize_cm": p["tumor_size_mm"] / 10, "BoneMetDate": dmy(p["bm_date"]),
        "BTA": p["bta_type"].astype(object).map({"none": "", "zoledronic_acid": "ZOL", "denosumab": "DMAB"}).fillna(""),
        "BTAStart": dmy(p["bta_start_date"]), "LastFU": dmy(p["last_fu_date"]), "DeathDate": dmy(p["death_date"]),
        "Cause": p["cause_of_death"].astype(object).map({"breast_cancer": "BC", "other": "OTH", "unknown": "OTH"})
        .fillna(""),
    })
    events = e[e["event_type"].isin(["spinal_cord_compression", "pathologic_fracture", "radiation_to_bone"])]
    site_events = pd.DataFrame({"PatNr": events["patient_id"], "Date": dmy(events["event_date"]),
                                "Type": events["event_type"].astype(object).map(
                                    {"spinal_cord_compression": "MSCC", "pathologic_fracture": "FRAC",
                                     "radiation_to_bone": "RT"})})
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pp, ep = folder / "patients.xlsx", folder / "events.xlsx"
    site.to_excel(pp, index=False)
    site_events.to_excel(ep, index=False)
    return cohort, pp, ep

REPORT_PATH = Path(__file__).resolve().parent / "data" / "site_excel_report.yaml"


def write_site_report_folder(folder: Path, n: int = 600, seed: int = 17):
    """The Excel files, mapping.yaml and report.yaml in one folder, as a site keeps them:
    (the canonical cohort, report.yaml)."""
    cohort, _, _ = write_site_files(folder, n, seed)
    (Path(folder) / "mapping.yaml").write_text(MAPPING_PATH.read_text())
    config = Path(folder) / "report.yaml"
    config.write_text(REPORT_PATH.read_text())
    return cohort, config
