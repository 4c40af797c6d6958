"""docs/cohort.md documents every column, every rule and the mapping example that the tests use."""
from __future__ import annotations

from pathlib import Path

from bmstats.cohort import schema
from bmstats.cohort.issues import RULES

ROOT = Path(__file__).resolve().parents[1]


def test_docs_list_every_column_and_rule():
    doc = (ROOT / "docs" / "cohort.md").read_text()
    for table in schema.TABLES.values():
        for col in table:
            assert f"| `{col.name}` | {col.kind} |" in doc, col.name
    for rule in RULES.values():
        assert f"| `{rule.id}` | {rule.severity} | {rule.explanation} |" in doc, rule.id
    assert (ROOT / "tests" / "data" / "site_mapping.yaml").read_text().strip() in doc
