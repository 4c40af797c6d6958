"""Every number in the publication tables equals the estimator result (or the data summary) it came from."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bmstats as bm
from bmstats.report.expressions import column
from bmstats.report.format import fmt_ci, fmt_int, fmt_mean_sd, fmt_median_iqr, fmt_n_pct, fmt_p, fmt_pct_ci
from bmstats.report.table_builders import mcf_table


@pytest.fixture(scope="module")
def rott():
    d = bm.datasets.load_rotterdam()
    d["nodal"] = column('cut(nodes, [1, 4], ["0", "1-3", "4+"])', d)
    d["t"] = column("where(recur == 1, rtime, dtime) / 365.25", d)
    d["s"] = column("where(recur == 1, 1, where(death == 1, 2, 0))", d)
    d["os"] = d["dtime"] / 365.25
    d["menopausal"] = column('category(where(meno == 1, "post", "pre"), ["pre", "post"])', d)
    return d


def test_table_one_counts_means_tests_and_smd(rott):
    d = rott.copy()
    d.loc[[3, 10, 700], "age"] = np.nan
    t = bm.table_one(d, "nodal", ["age", "menopausal", "size", "er"], nonnormal=["er"])
    col = "1-3 (n = 764)"
    assert list(t.body.columns[:2]) == ["Characteristic", "Overall (n = 2,982)"]
    g = d[d["nodal"] == "1-3"]
    # categorical: n (%) of non-missing
    n_post = int((g["menopausal"] == "post").sum())
    assert t.cell("post", col) == fmt_n_pct(n_post, len(g))
    # continuous: mean (SD) with missing excluded, and a Missing row
    assert t.cell("age, mean (SD)", col) == fmt_mean_sd(g["age"].mean(), g["age"].std())
    assert t.cell("Missing", "Overall (n = 2,982)") == fmt_n_pct(3, len(d))
    q1, med, q3 = np.percentile(g["er"], [25, 50, 75])
    assert t.cell("er, median [Q1, Q3]", col) == fmt_median_iqr(med, q1, q3)
    # tests named and equal to scipy
    groups = [d.loc[d["nodal"] == k, "age"].dropna() for k in ["0", "1-3", "4+"]]
    assert t.cell("age, mean (SD)", "p") == fmt_p(stats.f_oneway(*groups).pvalue)
    assert t.cell("age, mean (SD)", "Test") == "ANOVA"
    ct = pd.crosstab(d["nodal"], d["size"]).to_numpy()
    assert t.cell("size, n (%)", "p") == fmt_p(stats.chi2_contingency(ct, correction=False)[1])
    assert t.cell("er, median [Q1, Q3]", "Test") == "Kruskal-Wallis"
    # SMD of a two-group comparison: |m1 - m2| / sqrt((s1^2 + s2^2) / 2)
    two = bm.table_one(d[d["nodal"] != "4+"].assign(nodal=lambda x: x["nodal"].astype(str)), "nodal", ["age"])
    a, b = [d.loc[d["nodal"] == k, "age"].dropna() for k in ["0", "1-3"]]
    smd = abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
    assert two.cell("age, mean (SD)", "SMD") == f"{smd:.2f}"
    assert two.cell("age, mean (SD)", "Test") == "t-test"
    # binary variable: Yang & Dalton reduces to |p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)
    two = bm.table_one(d[d["nodal"] != "4+"].assign(nodal=lambda x: x["nodal"].astype(str)), "nodal", ["menopausal"])
    p1, p2 = [(d.loc[d["nodal"] == k, "menopausal"] == "post").mean() for k in ["0", "1-3"]]
    smd = abs(p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert two.cell("menopausal, n (%)", "SMD") == f"{smd:.2f}"
    # the tidy numbers are there too
    row = t.data[(t.data["variable"] == "menopausal") & (t.data["level"] == "post") & (t.data["column"] == "1-3")]
    assert int(row["n"].iloc[0]) == n_post


def test_table_one_fisher_for_sparse_two_by_two():
    d = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 6, "x": ["y"] * 5 + ["n"] + ["n"] * 5 + ["y"]})
    t = bm.table_one(d, "g", ["x"])
    assert t.cell("x, n (%)", "Test") == "Fisher's exact"
    assert t.cell("x, n (%)", "p") == fmt_p(stats.fisher_exact([[1, 5], [5, 1]])[1])


def test_table_one_rejects_missing_group(rott):
    d = rott.assign(nodal=rott["nodal"].astype(object))
    d.loc[5, "nodal"] = None
    with pytest.raises(ValueError, match="'nodal'"):
        bm.table_one(d, "nodal", ["age"])


def test_regression_table_numbers_and_reference_levels(rott):
    f = "age + menopausal + size + nodal"
    crm = bm.competing_risks_models(rott, "t", "s", f, cause=[1])
    cs, fg = crm.fits[("cause-specific Cox", 1)], crm.fits[("Fine-Gray", 1)]
    t = bm.regression_table({"Cause-specific": cs, "Fine-Gray": fg}, labels={"nodal": "Nodes"})
    for heading, fit, ratio in (("Cause-specific", cs, "HR"), ("Fine-Gray", fg, "SHR")):
        s = fit.summary
        for label, term in (("age", "age"), ("post", "menopausal[T.post]"), ("20-50", "size[T.20-50]"),
                            ("4+", "nodal[T.4+]")):
            assert t.cell(label, (heading, f"{ratio} (95% CI)")) == fmt_ci(*s.loc[term, [fit.ratio_name, "lower", "upper"]])
            assert t.cell(label, (heading, "p")) == fmt_p(s.loc[term, "p_value"])
        for ref in ("pre", "<=20", "0"):  # reference levels from the design layer
            assert t.cell(ref, (heading, f"{ratio} (95% CI)")) == "1 (ref)"
        assert t.cell("Patients / events", (heading, f"{ratio} (95% CI)")) == f"{fmt_int(fit.n)} / {fmt_int(fit.n_events)}"
    assert "Nodes" in list(t.body.iloc[:, 0])
    # the competing_risks_models result itself gives the same table
    same = bm.regression_table(crm)
    assert same.body.iloc[:, 1].tolist() == t.body.iloc[:, 1].tolist()


def test_regression_table_univariable_stacks_models(rott):
    uni = [bm.cox(rott, "os", "death", x) for x in ("age", "nodal")]
    multi = bm.cox(rott, "os", "death", "age + nodal")
    t = bm.regression_table({"Univariable": uni, "Multivariable": multi})
    assert t.cell("age", ("Univariable", "HR (95% CI)")) == fmt_ci(*uni[0].summary.loc["age", ["hr", "lower", "upper"]])
    assert t.cell("1-3", ("Univariable", "HR (95% CI)")) == fmt_ci(
        *uni[1].summary.loc["nodal[T.1-3]", ["hr", "lower", "upper"]])
    assert t.cell("1-3", ("Multivariable", "p")) == fmt_p(multi.summary.loc["nodal[T.1-3]", "p_value"])


def test_cif_table_equals_at_and_gray(rott):
    ci = bm.cumulative_incidence(rott, "t", "s", by="nodal")
    t = bm.cif_table(ci, [2, 5, 10], cause_labels={1: "Relapse", 2: "Death"})
    at = ci.at([2, 5, 10])
    for row in at.itertuples():
        name = {1: "Relapse", 2: "Death"}[row.cause]
        occurrence = 0 if row.cause == 1 else 1
        label = f"{int(row.time)} years"
        assert t.cell(str(row.group), label, occurrence) == fmt_pct_ci(row.estimate, row.lower, row.upper)
        assert name in list(t.body.iloc[:, 0])
    gray = ci.gray_test.set_index("cause")
    assert t.cell("Relapse", "p (Gray)") == fmt_p(gray.loc[1, "p_value"])
    assert t.cell("Death", "p (Gray)") == fmt_p(gray.loc[2, "p_value"])


def test_survival_and_median_tables_equal_km(rott):
    km = bm.kaplan_meier(rott, "os", "death", by="nodal")
    lr = bm.logrank_test(rott, "os", "death", by="nodal")
    t = bm.survival_table(km, [5, 10], test=lr)
    at = km.at([5, 10])
    for row in at.itertuples():
        assert t.cell(str(row.group), f"{int(row.time)} years") == fmt_pct_ci(row.estimate, row.lower, row.upper)
    assert t.body["p (log-rank)"].iloc[0] == fmt_p(lr.p_value)
    m = bm.median_table(km)
    med = km.median()
    for row in med.itertuples():
        g = rott[rott["nodal"] == row.group]
        text = m.cell(str(row.group), "Median, years (95% CI)")
        if np.isfinite(row.estimate):
            assert text.startswith(f"{row.estimate:.1f} (")
        else:
            assert text == "not reached"
        assert m.cell(str(row.group), "Patients") == fmt_int(len(g))
        assert m.cell(str(row.group), "Events") == fmt_int(g["death"].sum())


def test_rate_table_equals_rates_and_ratios(rott):
    d = rott.assign(relapse=(rott["s"] == 1).astype(int))
    rates = bm.incidence_rate(d, "t", "relapse", by="nodal", per=1000)
    ratios = bm.rate_ratio(d, "t", "relapse", by="nodal")
    t = bm.rate_table(rates, ratios=ratios, per=1000)
    rt = rates.table
    rate_col = [c for c in t.labels if c.startswith("Rate per")][0]
    for row in rt.itertuples():
        assert t.cell(str(row.group), "Events") == fmt_int(row.n_event)
        assert t.cell(str(row.group), "Person-years") == f"{row.person_time:,.1f}"
        assert t.cell(str(row.group), rate_col) == fmt_ci(row.rate, row.lower, row.upper, 1)
    rr = ratios.table.set_index("group")
    assert t.cell("0", "Rate ratio (95% CI)") == "1 (ref)"
    assert t.cell("4+", "Rate ratio (95% CI)") == fmt_ci(*rr.loc["4+", ["rate_ratio", "lower", "upper"]])
    assert t.cell("4+", "p") == fmt_p(rr.loc["4+", "p_value"])


def test_mcf_table_equals_at():
    rows = pd.DataFrame({"id": [1, 1, 2, 3, 3, 4], "start": [0, 1, 0, 0, 2, 0], "stop": [1, 3, 2, 2, 4, 5],
                         "event": [1, 0, 0, 1, 1, 0], "terminal": [0, 1, 0, 0, 0, 0], "g": ["a", "a", "a", "b", "b", "b"]})
    mcf = bm.mean_cumulative_function(rows, "id", "start", "stop", "event", terminal="terminal", by="g")
    t = mcf_table(mcf, [1, 2])
    at = mcf.at([1, 2])
    assert t.labels == ["Group", "1 year", "2 years"]
    for row in at.itertuples():
        label = "1 year" if row.time == 1 else f"{int(row.time)} years"
        assert t.cell(str(row.group), label) == fmt_ci(row.estimate, row.lower, row.upper)


def test_text_in_a_continuous_row_is_counted_as_missing_with_a_footnote():
    d = pd.DataFrame({"size": ["20", "15", "n/a", None, "30", "unk"], "g": ["a", "a", "a", "b", "b", "b"]})
    t = bm.table_one(d, "g", ["size"], nonnormal=["size"])
    assert t.cell("size, median [Q1, Q3]", "Overall (n = 6)") == fmt_median_iqr(20, 17.5, 25)
    assert t.cell("Missing", "Overall (n = 6)") == fmt_n_pct(3, 6)
    assert t.cell("Missing", "a (n = 3)") == fmt_n_pct(1, 3)
    assert any("2 value(s) that are not numbers ('n/a', 'unk') counted as missing" in n for n in t.footnotes)


def test_whole_number_counts_have_no_decimals():
    d = pd.DataFrame({"nodes": [0, 0, 1, 0, 2, 5, 0, 1, 3]})
    t = bm.table_one(d, None, ["nodes"], nonnormal=["nodes"])
    assert t.cell("nodes, median [Q1, Q3]", "Overall (n = 9)") == "1 [0, 2]"
    half = bm.table_one(pd.DataFrame({"nodes": [0, 1]}), None, ["nodes"], nonnormal=["nodes"])
    assert half.cell("nodes, median [Q1, Q3]", "Overall (n = 2)") == "0.5 [0.2, 0.8]"
    assert "median [Q1, Q3]" in " ".join(t.footnotes)
