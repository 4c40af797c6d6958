"""A hospital's cohort in its own coding (Excel, 1/0/9 codes, blanks, cm, dd/mm/yyyy) through the package."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

import bmstats as bm
from bmstats.report.builder import build_report
from site_data import MAPPING, write_site_files, write_site_report_folder


def test_site_cohort_reads_validates_and_analyses_as_the_canonical_one(tmp_path):
    truth, pp, ep = write_site_files(tmp_path)
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
    _, pp, ep = write_site_files(tmp_path)
    m = {**MAPPING, "patients": {**MAPPING["patients"],
                                 "columns": {**MAPPING["patients"]["columns"], "TumourSize_cm": "tumor_size_mm"},
                                 "values": {**MAPPING["patients"]["values"],
                                            "BTA": {"ZOL": "zoledronic_acid", "DMAB": "denosumab", "Zometa": "x"}}}}
    rules = set(bm.validate(bm.read_cohort(pp, ep, mapping=m)).issues["rule"])
    assert {"BM108-unit-suspect", "BM107-mapping-value-unused"} <= rules
    wrong_dates = bm.validate(bm.read_cohort(pp, ep, mapping={k: v for k, v in MAPPING.items() if k != "date_format"}))
    dates = wrong_dates.issues[wrong_dates.issues["rule"] == "BM006-date-parse"]
    assert len(dates) <= 8 and dates["message"].str.contains("%d/%m/%Y").all()


def _ci(cell: str) -> tuple[float, float, float]:
    """'1.28 (1.03–1.57)' -> (1.28, 1.03, 1.57)."""
    m = re.fullmatch(r"\s*([-\d.]+) \(([-\d.]+)–([-\d.]+)\)\s*", cell)
    assert m, cell
    return tuple(float(x) for x in m.groups())


def _same(shown: tuple, values, decimals: int) -> None:
    assert shown == tuple(round(float(v), decimals) for v in values), (shown, values)


def test_site_report_numbers_equal_the_direct_calls(tmp_path):
    """bmstats report on the Excel site cohort (tests/data/site_excel_report.yaml, the example of docs/cohort.md):
    every number of its tables is the direct call's, and the validation warnings are in the methods."""
    _, config = write_site_report_folder(tmp_path / "site")
    out = tmp_path / "report"
    assert build_report(config, out) == 0
    tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in (out / "tables").glob("*.csv")}
    assert set(tables) == {"table1", "bm_cif", "bm_cox", "sre_mcf", "sre_rates", "sre_model"}
    site = bm.read_cohort(tmp_path / "site" / "patients.xlsx", tmp_path / "site" / "events.xlsx",
                          mapping=tmp_path / "site" / "mapping.yaml")

    # Table 1: age mean (SD) per subtype, in clinical order
    p = site.patients
    t1 = tables["table1"].set_index("Characteristic")
    groups = [c for c in t1.columns if c.split(" (n")[0] in p["subtype"].cat.categories]
    assert [g.split(" (n")[0] for g in groups] == list(p["subtype"].cat.categories)
    for g in groups:
        age = p.loc[p["subtype"] == g.split(" (n")[0], "age"]
        assert t1.loc["age, mean (SD)", g] == f"{age.mean():.1f} ({age.std():.1f})"

    # cumulative incidence of bone metastasis at 2 and 5 years, per subtype, in percent
    cr = site.endpoint("bone_metastasis", competing=["death"])
    cif = bm.cumulative_incidence(cr, "time", "status", by="subtype")
    at = cif.at([2, 5])
    at = at[at["cause"] == 1].set_index(["group", "time"])
    rows = tables["bm_cif"].set_index("subtype")
    first_cause = rows.index.get_loc("Bone metastasis")
    block = rows.iloc[first_cause + 1: first_cause + 1 + len(cif.groups)]
    for label, row in block.iterrows():
        for t in (2, 5):
            r = at.loc[(label.strip(), t)]
            _same(_ci(row[f"{t} years"]), (100 * r["estimate"], 100 * r["lower"], 100 * r["upper"]), 1)
    assert rows.loc["Bone metastasis", "p (Gray)"] == f"{cif.gray_test.iloc[0]['p_value']:.3f}"

    # cause-specific Cox model
    fit = bm.cause_specific_cox(cr, "time", "status", "age + subtype", cause=1)
    cox = tables["bm_cox"].set_index("Variable")
    assert cox.loc["Patients / events"].iloc[0] == f"{fit.n} / {fit.n_events}"
    s = fit.summary
    _same(_ci(cox.loc["age"].iloc[0]), s.loc["age", ["hr", "lower", "upper"]], 2)
    for level in ("HR+/HER2+", "TNBC"):
        _same(_ci(cox.loc[f"  {level}"].iloc[0]), s.loc[f"subtype[T.{level}]", ["hr", "lower", "upper"]], 2)

    # recurrent skeletal events: mean cumulative function, rates and rate regression via bm.event_counts
    sre = site.recurrent_events(window_days=21)
    mcf = bm.mean_cumulative_function(sre, "id", "start", "stop", "event", terminal="terminal").at([1, 2])
    for t, col in ((1, "1 year"), (2, "2 years")):
        r = mcf[mcf["time"] == t].iloc[0]
        _same(_ci(tables["sre_mcf"].iloc[0][col]), (r["estimate"], r["lower"], r["upper"]), 2)
    counts = bm.event_counts(sre, "id", "start", "stop", "event", terminal="terminal", covariates=["age", "bta_type"])
    counts["bta_type"] = counts["bta_type"].cat.remove_unused_categories()
    rates = bm.incidence_rate(counts, "person_time", count="n_events", by="bta_type", per=1).table.set_index("group")
    ratios = bm.rate_ratio(counts, "person_time", count="n_events", by="bta_type").table.set_index("group")
    shown = tables["sre_rates"].set_index("bta_type")
    assert list(shown.index) == list(rates.index) == ["none", "zoledronic_acid", "denosumab"]
    for g, row in shown.iterrows():
        assert int(row["Events"]) == rates.loc[g, "n_event"]
        assert float(row["Person-years"]) == round(rates.loc[g, "person_time"], 1)
        _same(_ci(row["Rate per person-year (95% CI)"]), rates.loc[g, ["rate", "lower", "upper"]], 2)
        if g != "none":
            _same(_ci(row["Rate ratio (95% CI)"]), ratios.loc[g, ["rate_ratio", "lower", "upper"]], 2)
            assert row["p"] == f"{ratios.loc[g, 'p_value']:.3f}"
    model = bm.rate_regression(counts, "n_events", "person_time", "age + bta_type")
    shown = tables["sre_model"].set_index("Variable")
    assert shown.loc["Patients / events"].iloc[0] == f"{model.n} / {model.n_events}"
    assert model.n_events == counts["n_events"].sum() == rates["n_event"].sum()
    _same(_ci(shown.loc["  denosumab"].iloc[0]), model.summary.loc["bta_type[T.denosumab]",
                                                                   ["rate_ratio", "lower", "upper"]], 2)

    # validation warnings listed in the methods section
    report = bm.validate(site)
    assert report.ok and report.n_warnings > 0
    page = (out / "report.html").read_text()
    assert f"with {report.n_warnings:,} warning(s)" in page
    for rule in report.warnings["rule"].unique():
        assert rule in page
