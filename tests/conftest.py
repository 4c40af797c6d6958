import json
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
