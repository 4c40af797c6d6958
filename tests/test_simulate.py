"""bm.simulate_cohort / write_simulation: determinism, canonical schema, validation, knobs, truth."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.cohort import schema
from bmstats.simulation import simulate_frames, true_values, write_simulation
from bmstats.simulation.calibration import cif_at


def _digest(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = write_simulation(3000, 7, tmp_path / "a")
    b = write_simulation(3000, 7, tmp_path / "b")
    c = write_simulation(3000, 8, tmp_path / "c")
    assert sorted(_digest(a)) == ["patients.csv", "skeletal_events.csv", "truth.json"]
    assert _digest(a) == _digest(b)
    assert _digest(a)["patients.csv"] != _digest(c)["patients.csv"]


def test_csv_has_iso_dates_and_empty_missing(tmp_path):
    out = write_simulation(2000, 3, tmp_path)
    text = (out / "patients.csv").read_text()
    header = text.splitlines()[0].split(",")
    assert header == [c.name for c in schema.PATIENT_COLUMNS]
    raw = pd.read_csv(out / "patients.csv", dtype=str, keep_default_na=False)
    assert raw["dx_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert (raw["bm_date"] == "").any() and raw["bm_date"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()
    events = pd.read_csv(out / "skeletal_events.csv", dtype=str, keep_default_na=False)
    assert list(events.columns) == [c.name for c in schema.EVENT_COLUMNS]
    assert set(events["symptomatic"]) == {"true", "false"}
    truth = json.loads((out / "truth.json").read_text())
    assert truth["simulation"] == {"n": 2000, "seed": 3, "scenario": {}}


def test_round_trip_through_read_cohort(tmp_path):
    out = write_simulation(1500, 4, tmp_path)
    cohort = bm.read_cohort(out / "patients.csv", out / "skeletal_events.csv")
    patients, events, _ = simulate_frames(1500, 4)
    read = cohort.patients.reset_index(drop=True)
    coded = list(schema.CODE_COLUMNS["patients"])
    assert all(isinstance(read[c].dtype, pd.CategoricalDtype) for c in coded)
    read[coded] = read[coded].astype(object).where(read[coded].notna(), None)
    pd.testing.assert_frame_equal(read, patients, check_dtype=False, check_index_type=False)
    assert len(cohort.events) == len(events)


SCENARIOS = [
    {},
    {"bta": {"use": 0.0}},
    {"bta": {"use": 1.0, "mix": {"denosumab": 1.0}}},
    {"subtype_mix": {"HR+/HER2-": 0.0, "HR+/HER2+": 0.0, "HR-/HER2+": 0.0, "TNBC": 1.0}},
    {"loss_to_follow_up": 0.3, "accrual": {"start": "2015-01-01", "end": "2019-12-31"}, "study_end": "2020-06-30"},
    {"effects": {"nodes_4plus": 6.0}, "receptor_unknown": 0.5, "cause_of_death_unknown": 0.5},
]


@pytest.mark.parametrize("seed,scenario", list(enumerate(SCENARIOS)))
def test_every_simulated_cohort_passes_validation(seed, scenario):
    cohort = bm.simulate_cohort(4000, 100 + seed, **scenario)
    report = bm.validate(cohort)
    errors = report.issues[report.issues["severity"] == "error"]
    assert report.ok and errors.empty, errors.head().to_string()
    assert cohort.truth["simulation"]["seed"] == 100 + seed


def test_schema_codes_and_dtypes():
    patients, events, _ = simulate_frames(20000, 11)
    assert list(patients.columns) == [c.name for c in schema.PATIENT_COLUMNS]
    for col in schema.PATIENT_COLUMNS:
        # the simulator writes a site's file: codes as text; the Cohort made from it holds categoricals
        expected = "object" if col.kind == "code" else schema.dtype_of(col)
        assert str(patients[col.name].dtype) == expected, col.name
        if col.codes:
            values = set(patients[col.name].dropna().unique())
            assert values <= set(col.codes), (col.name, values - set(col.codes))
    assert patients["patient_id"].is_unique
    assert set(events["event_type"]) == set(schema.EVENT_TYPES)  # all types occur
    # subtype consistent with the receptors (HR+ = ER or PR positive)
    hr = (patients["er"] == "positive") | (patients["pr"] == "positive")
    known = patients["subtype"] != "unknown"
    derived = np.where(hr, "HR+", "HR-") + "/HER2" + np.where(patients["her2"] == "positive", "+", "-")
    derived = np.where(derived == "HR-/HER2-", "TNBC", derived)
    assert (derived[known] == patients.loc[known, "subtype"]).all()
    # orders of dates; dead <=> death date; BTA only after BM
    assert (patients["bm_date"].dropna() >= patients.loc[patients["bm_date"].notna(), "dx_date"]).all()
    assert (patients["last_fu_date"] >= patients["dx_date"]).all()
    dead = patients["death_date"].notna()
    assert (patients.loc[dead, "death_date"] == patients.loc[dead, "last_fu_date"]).all()
    assert patients.loc[dead, "cause_of_death"].notna().all() and patients.loc[~dead, "cause_of_death"].isna().all()
    treated = patients["bta_type"] != "none"
    assert patients.loc[treated, "bm_date"].notna().all()
    assert (patients.loc[treated, "bta_start_date"] >= patients.loc[treated, "bm_date"]).all()
    ev = events.merge(patients[["patient_id", "bm_date", "last_fu_date"]], on="patient_id")
    assert ((ev["event_date"] >= ev["bm_date"]) & (ev["event_date"] <= ev["last_fu_date"])).all()
    # denosumab only from 2011 (calendar-dependent default mix)
    dmab = patients["bta_type"] == "denosumab"
    assert dmab.any() and (patients.loc[dmab, "bta_start_date"] >= "2011-01-01").all()


def test_unknown_knob_and_bad_values_raise_clear_errors():
    with pytest.raises(InputError, match="unknown scenario knob 'subtype_mixx'"):
        simulate_frames(10, 1, subtype_mixx={})
    with pytest.raises(InputError, match=r"unknown scenario knob 'effects.nodes_4'.*nodes_4plus"):
        simulate_frames(10, 1, effects={"nodes_4": 3})
    with pytest.raises(InputError, match="subtype_mix.*sum to 1"):
        simulate_frames(10, 1, subtype_mix={"TNBC": 0.5})
    with pytest.raises(InputError, match="bta.use"):
        simulate_frames(10, 1, bta={"use": 1.5})
    with pytest.raises(InputError, match="n must be a positive integer"):
        simulate_frames(0, 1)
    with pytest.raises(InputError, match="seed"):
        simulate_frames(10, -1)
    with pytest.raises(InputError, match="ISO date"):
        simulate_frames(10, 1, study_end="end of 2020")


def test_scenario_yaml_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("bta:\n  use: 0\nloss_to_follow_up: 0.1\n")
    out = write_simulation(2000, 5, tmp_path / "out", scenario=path)
    patients = pd.read_csv(out / "patients.csv")
    assert (patients["bta_type"] == "none").all()
    truth = json.loads((out / "truth.json").read_text())
    assert truth["parameters"]["loss_to_follow_up"] == 0.1
    bad = tmp_path / "bad.yaml"
    bad.write_text("bta_use: 0\n")
    with pytest.raises(InputError, match="bta_use"):
        write_simulation(10, 1, tmp_path / "o2", scenario=bad)


def test_knobs_change_the_cohort():
    tnbc, _, _ = simulate_frames(3000, 2, subtype_mix={"HR+/HER2-": 0, "HR+/HER2+": 0, "HR-/HER2+": 0, "TNBC": 1})
    assert set(tnbc["subtype"]) == {"TNBC", "unknown"}
    p, _, _ = simulate_frames(3000, 2, accrual={"start": "2010-01-01", "end": "2010-12-31"})
    assert p["dx_date"].min() >= pd.Timestamp("2010-01-01") and p["dx_date"].max() <= pd.Timestamp("2010-12-31")
    lost, _, _ = simulate_frames(3000, 2, loss_to_follow_up=2.0)
    assert lost["last_fu_date"].max() < pd.Timestamp("2020-12-31") - pd.Timedelta(days=365)
    # a mix given replaces the default mix
    drugs, _, _ = simulate_frames(3000, 2, bta={"use": 1.0, "mix_before": {"clodronate": 1.0}, "mix_after": {"ibandronate": 1.0}})
    assert set(drugs["bta_type"]) == {"none", "clodronate", "ibandronate"}


def test_truth_matches_a_large_uncensored_simulation():
    """The integrated truth against the empirical CIF of 150,000 patients followed to 15 years."""
    scenario = {"loss_to_follow_up": 0.0, "accrual": {"start": "2000-01-01", "end": "2000-01-01"}}
    patients, _, truth = simulate_frames(150_000, 2024, **scenario)
    rest = patients[patients["bm_date"] != patients["dx_date"]]
    has = rest["bm_date"].notna().to_numpy()
    time = ((rest["bm_date"].where(has, rest["last_fu_date"]) - rest["dx_date"]).dt.days / 365.25).to_numpy()
    status = np.where(has, 1, np.where(rest["death_date"].notna().to_numpy(), 2, 0))
    times = truth["cumulative_incidence"]["times"]
    for group, mask in {
        "overall": np.ones(len(rest), bool),
        "TNBC": (rest["subtype"] == "TNBC").to_numpy(),
        "N4+": (rest["nodes_positive"] >= 4).to_numpy(),
    }.items():
        est = cif_at(time[mask], status[mask], [1.0, 5.0, 10.0])
        true = np.array([truth["cumulative_incidence"]["bone_metastasis"][group][times.index(t)] for t in (1.0, 5.0, 10.0)])
        se = np.sqrt(true * (1 - true) / mask.sum())
        assert np.all(np.abs(est - true) < 4 * se), (group, est, true)
    at_dx = (patients["bm_date"] == patients["dx_date"]).mean()
    p = truth["bm_at_diagnosis"]["overall"]
    assert abs(at_dx - p) < 4 * np.sqrt(p * (1 - p) / len(patients))


def test_truth_structure_and_closed_forms():
    truth = true_values()
    assert truth["bm_at_diagnosis"]["HR+/HER2-"] == pytest.approx(0.043 * 0.721)
    sk = truth["skeletal_events"]
    assert sk["rate_ratio_vs_none"]["zoledronic_acid"] == pytest.approx(0.6)
    assert sk["rate_ratio_denosumab_vs_zoledronic_acid"] == pytest.approx(0.77)
    theta, rate = 1.5, 2.0
    assert sk["p_any_sre_alive_without_therapy"]["1"] == pytest.approx(1 - (1 + theta * rate) ** (-1 / theta))
    curves = truth["cumulative_incidence"]["bone_metastasis"]
    for values in curves.values():
        assert np.all(np.diff(values) >= 0) and 0 <= values[0] and values[-1] < 1
    # a scenario changes the truth: stronger node effect -> larger N4+/N0 ratio
    stronger = true_values(effects={"nodes_4plus": 6.0})
    assert stronger["derived"]["ratio_10y_N4+_vs_N0"] > truth["derived"]["ratio_10y_N4+_vs_N0"]


def test_cli_simulate_writes_the_files(tmp_path):
    from bmstats.cli import main

    assert main(["simulate", "--n", "500", "--seed", "9", "--out", str(tmp_path / "cli")]) == 0
    direct = write_simulation(500, 9, tmp_path / "direct")
    assert _digest(tmp_path / "cli") == _digest(direct)


@pytest.mark.slow
def test_coverage_study_runs(tmp_path, root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("coverage_study", root / "benchmarks" / "coverage_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "coverage.md"
    assert module.main(["--replicates", "3", "--n", "3000", "--output", str(out)]) == 0
    text = out.read_text()
    for name in ("Aalen-Johansen", "cause-specific Cox", "Fine-Gray"):
        assert name in text
