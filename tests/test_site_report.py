"""A site's cohort through the report: validation first, time axes labelled from the endpoint, rate wording."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import bmstats as bm
from bmstats.report.builder import build_report


def _cohort_files(tmp_path, break_dates=False):
    cohort = bm.simulate_cohort(300, 5)
    paths = cohort.to_files(tmp_path / "data")
    if break_dates:
        text = paths["patients"].read_text().splitlines()
        header, rows = text[0], text[1:]
        rows = [r.replace("20", "19", 1) if i < 40 else r for i, r in enumerate(rows)]  # dates out of order
        paths["patients"].write_text("\n".join([header, *rows]) + "\n")
    return paths


def _config(tmp_path, paths, endpoint="after_bm: {event: death, origin: bone_metastasis, unit: years}",
            analysis="{id: km, type: kaplan_meier, endpoint: after_bm}"):
    config = tmp_path / "site.yaml"
    config.write_text(f"""title: Site
data:
  patients: {paths['patients'].relative_to(tmp_path).as_posix()}
  events: {paths['skeletal_events'].relative_to(tmp_path).as_posix()}
endpoints:
  {endpoint}
analyses:
  - {analysis}
outputs: {{tables: [csv], figures: [png]}}
""")
    return config


def test_report_stops_before_any_analysis_on_validation_errors(tmp_path, capsys):
    paths = _cohort_files(tmp_path, break_dates=True)
    code = build_report(_config(tmp_path, paths), tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert "validation error" in last and "bmstats validate" in last and "no analysis was run" in last
    assert "[1/1]" not in err and not (tmp_path / "out" / "report.html").exists()


def test_report_lists_validation_warnings_in_the_methods(tmp_path):
    paths = _cohort_files(tmp_path)
    report = bm.validate(bm.read_cohort(paths["patients"], paths["skeletal_events"]))
    assert report.ok
    assert build_report(_config(tmp_path, paths), tmp_path / "out") == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "validation rules of bmstats validate" in page
    for rule in report.warnings["rule"].unique():
        assert rule in page


def test_time_axis_says_unit_and_origin_of_the_endpoint():
    cohort = bm.simulate_cohort(400, 2)
    data = cohort.endpoint("death", origin="bone_metastasis", unit="years")
    km = bm.kaplan_meier(data, "time", "status")
    assert km.table.attrs["time_label"] == "Years since bone metastasis"
    fig = km.plot()
    assert "Years since bone metastasis" in [a.get_xlabel() for a in fig.axes]
    cr = cohort.endpoint("bone_metastasis", competing=["death"], unit="months")
    cif = bm.cumulative_incidence(cr, "time", "status")
    assert cif.table.attrs["time_label"] == "Months since diagnosis"
    sre = cohort.recurrent_events()
    mcf = bm.mean_cumulative_function(sre, "id", "start", "stop", "event", terminal="terminal")
    assert mcf.table.attrs["time_label"] == "Years since bone metastasis"
    plain = bm.kaplan_meier(data.assign(time=data["time"]).copy().pipe(lambda d: d.set_axis(d.index)),
                            "time", "status")
    fig = plain.plot(xlabel="Time")
    assert "Time" in [a.get_xlabel() for a in fig.axes]
    assert "xlabel" in bm.kaplan_meier.__module__ or "xlabel" in type(km).plot.__doc__


def test_rate_table_per_one_says_per_person_year():
    cohort = bm.simulate_cohort(300, 3)
    d = cohort.endpoint("bone_metastasis", competing=["death"])
    d["bm"] = (d["status"] == 1).astype(int)
    t = bm.rate_table(bm.incidence_rate(d, "time", "bm", per=1))
    text = " ".join(t.body.columns) + " ".join(t.footnotes)
    assert "per person-year" in text and "per 1 person-years" not in text


def test_rates_of_a_recurrent_endpoint_refuse_a_cause(tmp_path, capsys):
    paths = _cohort_files(tmp_path)
    config = _config(tmp_path, paths, "sre: {recurrent: true, origin: bone_metastasis, unit: years, window_days: 21}",
                     "{id: rates, type: incidence_rate, endpoint: sre, by: bta_type, per: 1, cause: 2}")
    assert build_report(config, tmp_path / "out") != 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cause applies to competing-risk endpoints; 'sre' is recurrent" in err
    config.write_text(config.read_text().replace(", cause: 2", ""))
    assert build_report(config, tmp_path / "out") == 0
    table = (tmp_path / "out" / "tables" / "rates.csv").read_text()
    assert "Rate per person-year" in table
