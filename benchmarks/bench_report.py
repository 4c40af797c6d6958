"""Reporting family: the last mile, timed against the Python peer that draws the same thing.

- Kaplan-Meier figure by two groups with a number-at-risk table, saved as a 300 dpi PNG: bmstats
  (``kaplan_meier`` + ``plot_survival`` + ``save_figure``) against lifelines (``KaplanMeierFitter`` per group,
  ``plot_survival_function``, ``add_at_risk_counts``, ``savefig``).  R's survminer/ggsurvfit are not installed
  here, so R is not a peer.
- Table 1 (8 variables by 3 groups, with tests and SMDs) rendered to HTML, LaTeX and DOCX: bmstats only
  (no installed peer: R gtsummary/tableone are absent).
- A whole report build (``build_report`` on a small Rotterdam config, every format): bmstats only.
"""
from __future__ import annotations

import atexit
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from run import Case

_cache: dict[int, pd.DataFrame] = {}


def simulated(n: int, seed: int = 11) -> pd.DataFrame:
    if n not in _cache:
        rng = np.random.default_rng(seed)
        group = rng.integers(0, 2, n)
        t = rng.exponential(8.0 / (1 + 0.4 * group), n)
        c = rng.uniform(0, 20, n)
        _cache[n] = pd.DataFrame({
            "time": np.minimum(t, c), "event": (t <= c).astype(int), "group": np.where(group == 1, "B", "A"),
            "arm": rng.choice(["x", "y", "z"], n), "age": rng.normal(60, 10, n).round(),
            "size": rng.lognormal(3, 0.5, n), "grade": rng.choice([1, 2, 3], n), "meno": rng.choice(["pre", "post"], n),
            "stage": rng.choice(["I", "II", "III", "IV"], n), "er": rng.choice(["positive", "negative"], n),
            "nodes": rng.poisson(2, n), "histology": rng.choice(["ductal", "lobular", "other"], n),
        })
    return _cache[n]


def _km_bmstats(n: int):
    def run() -> None:
        import bmstats as bm
        from bmstats.report import figures

        d = simulated(n)
        fig = figures.plot_survival(bm.kaplan_meier(d, "time", "event", by="group"))
        figures.save_figure_to(fig, io.BytesIO(), "png")
    return run


def _km_lifelines(n: int):
    def run() -> None:
        import matplotlib.pyplot as plt
        from lifelines import KaplanMeierFitter
        from lifelines.plotting import add_at_risk_counts

        d = simulated(n)
        fig, ax = plt.subplots(figsize=(3.5, 3.6))
        fitters = []
        for g, sub in d.groupby("group"):
            kmf = KaplanMeierFitter(label=str(g)).fit(sub["time"], sub["event"])
            kmf.plot_survival_function(ax=ax, show_censors=True)
            fitters.append(kmf)
        add_at_risk_counts(*fitters, ax=ax)
        fig.savefig(io.BytesIO(), format="png", dpi=300)
        plt.close(fig)
    return run


def _table_one(n: int):
    def run() -> None:
        import bmstats as bm

        t = bm.table_one(simulated(n), "arm", ["age", "size", "grade", "meno", "stage", "er", "nodes", "histology"],
                         nonnormal=["size", "nodes"])
        t.to_html()
        t.to_latex()
        t.to_docx_bytes()
    return run


def _report(quick: bool):
    folder = Path(tempfile.mkdtemp(prefix="bmstats_bench_report_"))
    atexit.register(shutil.rmtree, folder, True)
    config = folder / "small.yaml"
    config.write_text(f"""\
title: Benchmark report
data:
  dataset: rotterdam
  derive:
    nodal_group: 'cut(nodes, [1, 4], ["0", "1-3", "4+"])'
  filter: "pid % {7 if quick else 1} == 0"
endpoints:
  relapse:
    time: "where(recur == 1, rtime, dtime) / 365.25"
    status: "where(recur == 1, 1, where(death == 1, 2, 0))"
  os: {{time: dtime / 365.25, status: death}}
analyses:
  - {{id: table1, type: table_one, by: nodal_group, variables: [age, meno, size, grade, er, pgr]}}
  - {{id: relapse, type: cumulative_incidence, endpoint: relapse, by: nodal_group, times: [5, 10]}}
  - {{id: os, type: kaplan_meier, endpoint: os, by: nodal_group, times: [5, 10]}}
  - {{id: models, type: regression, endpoint: relapse, model: competing_risks, formula: "age + size + nodal_group"}}
""")

    def run() -> None:
        import contextlib
        import os

        from bmstats.report.builder import build_report

        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            assert build_report(config, folder / "out") == 0
    return run


def cases(quick: bool) -> list[Case]:
    n_km = 2_000 if quick else 20_000
    n_t1 = 10_000 if quick else 200_000
    out = [
        Case("KM figure + risk table, PNG 300 dpi", n_km, "bmstats", _km_bmstats(n_km), repeat=2),
        Case("KM figure + risk table, PNG 300 dpi", n_km, "lifelines", _km_lifelines(n_km), repeat=2),
        Case("Table 1 (8 variables x 3 groups) -> HTML, LaTeX, DOCX", n_t1, "bmstats", _table_one(n_t1), repeat=2),
        Case("report build (4 analyses, every format)", 426 if quick else 2982, "bmstats", _report(quick),
             measure_memory=False),
    ]
    return out
