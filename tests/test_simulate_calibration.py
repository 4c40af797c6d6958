"""Calibration targets (docs/calibration_targets.md) on a fast 40,000-patient simulation (docs/simulation.md has 200,000).

Bands are the acceptance bands of docs/calibration_targets.md widened by about 2 standard errors of a 40,000-patient cohort
where the quantity is noisy (medians, subtype CIFs); the point of each check stays meaningful.
"""
from __future__ import annotations

import pytest

from bmstats.cohort import schema
from bmstats.simulation import simulate_frames
from bmstats.simulation.calibration import calibration_table, measure


@pytest.fixture(scope="module")
def default_measures():
    patients, events, truth = simulate_frames(40_000, 20240501)
    return measure(patients, events), truth, events


@pytest.fixture(scope="module")
def no_therapy_measures():
    patients, events, _ = simulate_frames(25_000, 20240502, bta={"use": 0.0})
    return measure(patients, events)


def test_bone_metastasis_at_diagnosis(default_measures):
    m, _, _ = default_measures
    assert 0.025 <= m["bm_at_dx"] <= 0.045
    assert m["bm_at_dx HR+/HER2+"] > m["bm_at_dx TNBC"]


def test_cumulative_incidence_after_diagnosis(default_measures):
    m, _, _ = default_measures
    assert 0.05 <= m["cif5 overall"] <= 0.10
    assert 0.08 <= m["cif10 overall"] <= 0.14
    assert m["cif10 TNBC"] < m["cif10 HR+/HER2-"]
    assert m["tnbc_share_by_3y"] > 0.5  # most TNBC bone metastases by year 3
    assert m["hr_share_after_3y"] >= 0.30  # HR+/HER2- keeps recurring late
    assert 2.3 <= m["ratio_n4_n0"] <= 6.5


def test_after_bone_metastasis(default_measures):
    m, _, _ = default_measures
    assert 0.23 <= m["bone_only"] <= 0.47
    assert 1.1 <= m["median_os_bm"] <= 3.1
    assert m["median_os_bm_only"] > m["median_os_visceral"]  # bone-only lives longer


def test_skeletal_events_without_therapy(no_therapy_measures):
    m = no_therapy_measures
    assert 0.33 <= m["sre1_no_bta"] <= 0.62


def test_therapy_lowers_the_sre_rate_as_the_trials_found(default_measures):
    m, truth, events = default_measures
    assert 0.45 <= m["rr_zol_vs_none"] <= 0.78  # Kohno 2005: 0.61
    assert set(events["event_type"]) == set(schema.EVENT_TYPES)
    assert m["share radiation_to_bone"] > m["share pathologic_fracture"] > m["share spinal_cord_compression"]


def test_calibration_table_flags_every_band(default_measures):
    m, truth, _ = default_measures
    table = calibration_table(m, truth)
    banded = table[table["acceptance"] != ""]
    assert len(banded) >= 10
    assert banded["within"].all(), banded.loc[~banded["within"].astype(bool), ["key", "simulated", "acceptance"]]
    # the measured CIF agrees with the integrated truth within a few standard errors
    row = table.set_index("key").loc["cif10 overall"]
    assert abs(row["simulated"] - row["truth"]) < 0.006
