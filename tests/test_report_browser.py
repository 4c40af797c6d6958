"""The HTML reports of the example analyses in a real browser (Debian's chromium via Playwright), at 1280
and 800 px: nothing sticks out sideways outside an intentional scroll container, every image loads, every
contents link lands on its section, and the console stays clean.  Also checks that the harness itself
catches each kind of defect, so a passing run means something."""
from __future__ import annotations

import pytest

from browser_pages import (
    WIDTHS,
    broken_images,
    contents_links,
    open_page,
    overflow,
    report_problems,
    wide_tables,
)

pytestmark = pytest.mark.browser

REPORTS = ["bm_cohort", "rotterdam"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", REPORTS)
def test_example_report_in_the_browser(chromium, example_reports, name, width):
    page = open_page(chromium, example_reports[name], width=width)
    try:
        assert page.page.evaluate("document.images.length") > 3
        assert report_problems(page) == []
        assert wide_tables(page) == []
    finally:
        page.close()


BAD_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<style>body { margin: 0; } .wide { width: 1500px; height: 20px; } .scroll { overflow-x: auto; max-width: 100%; }</style>
</head><body>
<nav><a href="#one">one</a> <a href="#missing">missing</a></nav>
<div class="scroll"><table id="inscroll"><tr><td><div class="wide">fine: scrolls</div></td></tr></table></div>
<table id="loose"><tr><td><div class="wide">sticks out</div></td></tr></table>
<img src="nowhere.png" alt="lost figure">
<section id="one" style="height: 3000px"><h2>One</h2></section>
<script>console.error("boom");</script>
</body></html>"""


def test_the_harness_catches_each_kind_of_defect(chromium):
    page = open_page(chromium, BAD_PAGE, width=800)
    try:
        out = overflow(page)
        assert any("page is" in p for p in out)
        assert any("table#loose" in p for p in out) and not any("inscroll" in p for p in out)
        assert broken_images(page) == ["image lost figure did not load"]
        links = contents_links(page)
        assert links == ["contents link #missing: no element with id 'missing'"]
        assert any("boom" in e for e in page.console_errors)
        assert len(wide_tables(page)) == 1 and wide_tables(page)[0].startswith("table#loose is 15")
        assert wide_tables(page, allow_scroll=False)[0].startswith("table#inscroll")
    finally:
        page.close()
