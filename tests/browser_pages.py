"""Browser test harness: Debian's chromium driven by Playwright for Python, nothing downloaded.

Reusable by any test marked ``@pytest.mark.browser`` (the fixtures ``chromium`` and ``example_reports`` live
in tests/conftest.py):

    page = open_page(chromium, path_or_html, width=1280)   # a LoadedPage: .page, .console_errors
    overflow(page)            # elements sticking out sideways, not inside an intentional scroll container
    broken_images(page)       # images that did not load
    contents_links(page)      # contents links that do not land on their section
    wide_tables(page)         # tables wider than their container and not in a scroll container
    report_problems(page)     # the three report checks and the console errors together

Each check returns a list of one-line descriptions (empty when the page is fine), so a failing assert
prints what is wrong and where.
"""
from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
WIDTHS = (1280, 800)


@contextlib.contextmanager
def launch_chromium() -> Iterator[Any]:
    """The system chromium under Playwright (executable_path: never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class LoadedPage:
    """A page after its load event, with what went wrong while loading it."""

    page: Any
    console_errors: list = field(default_factory=list)

    def close(self) -> None:
        self.page.context.close()


def open_page(browser: Any, source: str | Path, width: int, height: int = 900) -> LoadedPage:
    """Open a file (a path) or an HTML string at ``width`` x ``height`` CSS pixels; console errors, page
    errors and failed requests are collected in ``.console_errors``."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    loaded = LoadedPage(page)
    page.on("console", lambda m: loaded.console_errors.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "assert") else None)
    page.on("pageerror", lambda e: loaded.console_errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: loaded.console_errors.append(f"request failed: {r.url[:80]} ({r.failure})"))
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("<")):
        page.goto(Path(source).resolve().as_uri(), wait_until="load")
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bmstats-page-")) / "page.html"
        tmp.write_text(source, encoding="utf-8")
        page.goto(tmp.as_uri(), wait_until="load")
    return loaded


_DESCRIBE = """
const describe = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (el.classList.length) s += '.' + Array.from(el.classList).join('.');
  const owner = el.closest('[id]');
  if (owner && owner !== el) s += ' in #' + owner.id;
  return s;
};
const scroller = (el) => {
  for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
    const o = getComputedStyle(a).overflowX;
    if (o === 'auto' || o === 'scroll') return a;
  }
  return null;
};
"""


def overflow(loaded: LoadedPage) -> list[str]:
    """What sticks out of the viewport sideways: the page being wider than the window, and the outermost
    elements past its edges that are not inside an intentional scroll container (overflow-x auto or
    scroll) that itself fits."""
    return loaded.page.evaluate("() => {" + _DESCRIBE + """
      const vw = document.documentElement.clientWidth;
      const out = [];
      const sw = document.documentElement.scrollWidth;
      if (sw > vw + 1) out.push(`page is ${sw}px wide in a ${vw}px window`);
      const bad = new Set();
      for (const el of document.body.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        if (r.right <= vw + 1 && r.left >= -1) continue;
        const box = scroller(el);
        if (box) {
          const b = box.getBoundingClientRect();
          if (b.right <= vw + 1 && b.left >= -1) continue;
        }
        if (el.parentElement && bad.has(el.parentElement)) { bad.add(el); continue; }
        bad.add(el);
        out.push(`${describe(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}px in a ${vw}px window`);
      }
      return out.slice(0, 20);
    }""")


def broken_images(loaded: LoadedPage) -> list[str]:
    """Images that did not load (not complete, or no pixels)."""
    return loaded.page.evaluate("""() => Array.from(document.images)
      .filter(i => !i.complete || i.naturalWidth === 0)
      .map(i => `image ${i.alt || i.src.slice(0, 60)} did not load`)""")


def contents_links(loaded: LoadedPage, selector: str = "nav a[href^='#']") -> list[str]:
    """Every contents link, clicked: its target exists, the address shows it and the section's top is at
    the top of the window (or the page is scrolled as far as it goes)."""
    page = loaded.page
    problems = []
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
    if not hrefs:
        return [f"no contents links ({selector})"]
    for href in hrefs:
        page.evaluate("window.scrollTo(0, 0)")
        page.click(f"{selector.split('[')[0]}[href='{href}']")
        state = page.evaluate("""(id) => {
          const t = document.getElementById(id);
          const bottom = Math.abs(window.scrollY + window.innerHeight - document.documentElement.scrollHeight) < 2;
          return {exists: !!t, top: t ? t.getBoundingClientRect().top : null, hash: location.hash, bottom};
        }""", href[1:])
        if not state["exists"]:
            problems.append(f"contents link {href}: no element with id {href[1:]!r}")
        elif state["hash"] != href:
            problems.append(f"contents link {href}: address shows {state['hash']!r}")
        elif abs(state["top"]) > 2 and not (state["bottom"] and state["top"] > 0):
            problems.append(f"contents link {href}: section top at {state['top']:.0f}px, not at the window top")
    return problems


def wide_tables(loaded: LoadedPage, allow_scroll: bool = True) -> list[str]:
    """Tables wider than the element that holds them (not counting those inside an intentional scroll
    container unless ``allow_scroll=False``)."""
    return loaded.page.evaluate("(allowScroll) => {" + _DESCRIBE + """
      const out = [];
      for (const t of document.querySelectorAll('table')) {
        if (allowScroll && scroller(t)) continue;
        const holder = t.parentElement;
        const w = t.getBoundingClientRect().width, room = holder.clientWidth;
        if (w > room + 1) out.push(`${describe(t)} is ${Math.round(w)}px wide in ${Math.round(room)}px`);
      }
      return out;
    }""", allow_scroll)


def report_problems(loaded: LoadedPage) -> list[str]:
    """The checks of an HTML report (overflow, images, contents links) plus the console errors."""
    return [*overflow(loaded), *broken_images(loaded), *contents_links(loaded), *loaded.console_errors]
