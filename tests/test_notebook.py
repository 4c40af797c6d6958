"""analyses/quickstart.ipynb runs headless from top to bottom (nbclient, the venv's python3 kernel); every
result's display is a compact summary under 50 kB holding its headline numbers; the executed notebook's HTML
export (nbconvert) shows without horizontal overflow at 1000 px (Debian chromium via Playwright)."""
import html
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "analyses" / "quickstart.ipynb"
LIMIT = 50_000  # bytes of one result's display


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.fixture(scope="module")
def executed():
    import nbclient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return nb


def _display(nb, source_start: str) -> dict:
    """The display data of the cell whose source starts with ``source_start``."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))
    data = [o["data"] for o in cell.outputs if o.output_type == "execute_result"]
    assert data, f"cell {source_start!r} shows nothing"
    return data[0]


def test_notebook_executes_headless(executed):
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    tables = [o for o in outputs if "bm-table" in o.get("data", {}).get("text/html", "")]
    assert len(images) >= 6 and len(tables) >= 5


def test_every_display_is_small_and_has_a_plain_text_fallback(executed):
    displays = [o["data"] for c in executed.cells if c.cell_type == "code" for o in c.outputs
                if "bmstats-display" in o.get("data", {}).get("text/html", "")]
    assert len(displays) >= 7
    for data in displays:
        assert len(data["text/html"].encode()) < LIMIT
        assert "text/plain" in data and len(data["text/plain"].encode()) < LIMIT
        assert "<style" not in data["text/html"]  # inline styles only: front ends drop <style> when untrusted


def test_displays_carry_the_headline_numbers(executed):
    """The numbers a reader looks for, computed here independently of the notebook."""
    import bmstats as bm
    from bmstats.report.expressions import column
    from bmstats.report.format import fmt_ci, fmt_int, fmt_pct_ci

    rott = bm.datasets.load_rotterdam()
    rott["nodal_group"] = column('cut(nodes, [1, 4], ["0", "1-3", "4+"])', rott)
    rott["os_time"] = rott["dtime"] / 365.25
    cox = bm.cox(rott, "os_time", "death", "age + size + nodal_group")
    model = _display(executed, "cox  #")
    for text in (html.unescape(model["text/html"]).replace("\xa0", " "), model["text/plain"]):
        assert fmt_int(cox.n) in text and fmt_int(cox.n_events) in text  # "2,982 / 1,272"
        s = cox.summary
        term = next(t for t in s.index if "4+" in t)
        assert fmt_ci(s.loc[term, "hr"], s.loc[term, "lower"], s.loc[term, "upper"]) in text
        assert "< 0.001" in text and "1 (ref)" in text
    assert "<svg" in model["text/html"]  # the forest plot

    curves = _display(executed, "cif  #")
    assert "Gray" in curves["text/plain"] and "<svg" in curves["text/html"]
    test = _display(executed, "lr  #")
    lr = bm.logrank_test(rott, "os_time", "death", by="nodal_group")
    assert f"{lr.statistic:.2f}" in test["text/plain"] and "< 0.001" in test["text/plain"]
    validation = _display(executed, "bm.validate(cohort)")
    report = bm.validate(bm.datasets.load_bm_cohort())
    assert f"{report.n_warnings:,} warning(s)" in validation["text/plain"]
    assert "BM102-events-within-21-days" in validation["text/html"]
    no_figure = _display(executed, "bm.options.display.figures = False")
    assert "<svg" not in no_figure["text/html"]
    km_display = _display(executed, "bm.options.display.figures = True")
    km = bm.kaplan_meier(rott, "os_time", "death", by="nodal_group")
    at = km.at([5]).iloc[0]
    assert "1 year" in km_display["text/plain"] and "10 years" in km_display["text/plain"]
    assert fmt_pct_ci(at["estimate"], at["lower"], at["upper"]) in km_display["text/plain"]
    assert np.isfinite(at["estimate"])


@pytest.mark.browser
def test_html_export_has_no_horizontal_overflow_at_1000px(executed, tmp_path):
    from nbconvert import HTMLExporter
    from playwright.sync_api import sync_playwright

    body, _ = HTMLExporter().from_notebook_node(executed)
    page_file = tmp_path / "quickstart.html"
    page_file.write_text(body, encoding="utf-8")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.goto(page_file.as_uri())
            widths = page.evaluate(
                """() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,
                          displays: [...document.querySelectorAll('.bmstats-display')].map(
                              d => [d.scrollWidth, d.clientWidth, d.getBoundingClientRect().right])})""")
        finally:
            browser.close()
    assert widths["page"] <= widths["view"]
    assert len(widths["displays"]) >= 7
    for scroll, client, right in widths["displays"]:
        assert scroll <= client + 1 and right <= widths["view"]
