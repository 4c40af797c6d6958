import json
import os
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "reference"


def load_reference(name: str) -> dict:
    """The R-generated reference values tests/reference/<name>.json."""
    return json.loads((REFERENCE / f"{name}.json").read_text())


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT



# System tools some tests need. `make test` runs those tests when the tool is there and says clearly when it
# is not (a skip naming the tool, listed by -ra); CI sets BMSTATS_REQUIRE_SYSTEM=1, and there a missing tool
# fails those tests instead, so a green CI run always includes them.
SYSTEM_TOOLS = {
    "browser": ("chromium", "Debian's chromium (apt-get install -y chromium)"),
    "latex": ("pdflatex", "pdflatex (apt-get install -y texlive-latex-base texlive-latex-recommended "
                          "texlive-latex-extra)"),
    "spark": ("java", "Java for Spark (apt-get install -y openjdk-17-jre-headless)"),
}


def _missing_tools() -> dict[str, str]:
    return {marker: what for marker, (command, what) in SYSTEM_TOOLS.items() if shutil.which(command) is None}


def pytest_collection_modifyitems(config, items):
    missing = _missing_tools()
    if not missing or os.environ.get("BMSTATS_REQUIRE_SYSTEM") == "1":
        return
    for item in items:
        for marker, what in missing.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"{what} is not installed: this test did not run"))


def pytest_runtest_setup(item):
    if os.environ.get("BMSTATS_REQUIRE_SYSTEM") != "1":
        return
    for marker, what in _missing_tools().items():
        if marker in item.keywords:
            pytest.fail(f"{what} is required here (BMSTATS_REQUIRE_SYSTEM=1) but not installed", pytrace=False)


def pytest_terminal_summary(terminalreporter):
    missing = _missing_tools()
    if missing and os.environ.get("BMSTATS_REQUIRE_SYSTEM") != "1":
        terminalreporter.write_line(
            "NOTE: some system tools are missing, so their tests were skipped: " + "; ".join(missing.values()))


# ------------------------------------------------------------------------------------------ browser tests
# Fixtures for tests marked @pytest.mark.browser; the checks themselves are in tests/browser_pages.py.
@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium under Playwright, one per test session (worker)."""
    from browser_pages import launch_chromium

    with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def example_reports(tmp_path_factory, worker_id) -> dict:
    """The HTML reports of analyses/*.yaml, built once per test session (shared by xdist workers through
    a lock): {config name: path of report.html}."""
    import fcntl

    from bmstats.report.builder import build_report

    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    out = shared / "example_reports"
    out.mkdir(exist_ok=True)
    configs = sorted((ROOT / "analyses").glob("*.yaml"))
    with open(shared / "example_reports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for config in configs:
            target = out / config.stem
            if not (target / "report.html").exists():
                # only the files the page needs: the page is the same, the build several times faster
                code = build_report(config, target, outputs={"tables": ["html"], "figures": ["png"]})
                assert code == 0, f"bmstats report {config.name} failed (exit {code})"
    return {config.stem: out / config.stem / "report.html" for config in configs}
