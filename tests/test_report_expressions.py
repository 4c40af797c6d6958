"""The config expression language: vectorised, safe (no eval), errors naming the expression."""
import numpy as np
import pandas as pd
import pytest

from bmstats.report.expressions import FUNCTIONS, ExpressionError, column


@pytest.fixture
def frame():
    return pd.DataFrame({"nodes": [0, 1, 3, 4, 9, np.nan], "recur": [1, 0, 0, 1, 0, 0], "rtime": [10, 20, 30, 40, 50, 60],
                         "dtime": [15, 25, 35, 45, 55, 65], "death": [1, 1, 0, 0, 1, 0],
                         "kind": ["a", "b", "a", "c", "b", "a"]})


def test_cut_category_and_where(frame):
    g = column('cut(nodes, [1, 4], ["0", "1-3", "4+"])', frame)
    assert list(g.cat.categories) == ["0", "1-3", "4+"] and g.cat.ordered
    assert g.astype(object).where(g.notna(), None).tolist() == ["0", "1-3", "1-3", "4+", "4+", None]
    assert column("where(recur == 1, rtime, dtime) / 10", frame).tolist() == [1.0, 2.5, 3.5, 4.0, 5.5, 6.5]
    assert column("where(recur == 1, 1, where(death == 1, 2, 0))", frame).tolist() == [1, 2, 0, 1, 2, 0]
    c = column('category(kind, ["b", "a", "c"])', frame)
    assert list(c.cat.categories) == ["b", "a", "c"]


def test_boolean_logic_membership_and_missing(frame):
    assert column('kind in ["a", "c"] and not death == 1', frame).tolist() == [False, False, True, True, False, True]
    assert column("isna(nodes) or nodes >= 4", frame).tolist() == [False, False, False, True, True, True]
    assert column("1 < nodes <= 4", frame).tolist() == [False, False, True, True, False, False]
    assert column("3", frame).tolist() == [3] * 6


@pytest.mark.parametrize("expression, message", [
    ('__import__("os").system("true")', "unknown function"),
    ("nodes.sum()", "unknown function 'nodes.sum'"),
    ("nodes[0]", "Subscript is not allowed"),
    ("lambda: 1", "Lambda is not allowed"),
    ("node + 1", "unknown column 'node'"),
    ("nodes +", "cannot parse"),
    ('category(kind, ["a", "b"])', "values \\['c'\\] are not among the levels"),
    ('cut(nodes, [1, 4], ["0", "1-3"])', "one more label than breaks"),
])
def test_refused_expressions_name_the_problem(frame, expression, message):
    with pytest.raises(ExpressionError, match=message):
        column(expression, frame)


@pytest.fixture
def site():
    return pd.DataFrame({"size_cm": ["2", "1.5", None, "n/a"], "er": ["1", "0", "9", None],
                         "bta": pd.Categorical(["none", None, "denosumab", "zoledronic_acid"])})


@pytest.mark.parametrize("expression, message", [
    ("size_cm * 10", "column 'size_cm' is text: arithmetic on text is not allowed; convert it with number\\(size_cm\\)"),
    ("10 + size_cm", "column 'size_cm' is text"),
    ("size_cm > 2", "column 'size_cm' is text: '>' compares text alphabetically"),
    ("er == 1", "column 'er' is text and 1 a number: they are never equal"),
    ("1 != er", "column 'er' is text"),
    ('where(er == "1", "pos", "neg") * 2', "is text: arithmetic"),
    ('"2" * 3', "is text"),
])
def test_arithmetic_and_comparison_on_text_are_errors_naming_the_column(site, expression, message):
    with pytest.raises(ExpressionError, match=message):
        column(expression, site)


def test_number_converts_text_and_counts_what_is_not_a_number(site):
    with pytest.warns(UserWarning, match="1 value\\(s\\) are not numbers and are missing \\('n/a'\\)"):
        mm = column("number(size_cm) * 10", site)
    assert mm.tolist()[:2] == [20.0, 15.0] and mm.isna().tolist() == [False, False, True, True]
    assert column('er == "1"', site).tolist() == [True, False, False, False]


def test_where_keeps_missing_as_missing_with_text_branches(site):
    g = column('where(isna(bta), missing, where(bta == "none", "none", "drug"))', site)
    assert g.isna().tolist() == [False, True, False, False]
    assert g.tolist()[0] == "none" and g.tolist()[2] == "drug"
    c = column('category(where(isna(bta), missing, where(bta == "none", "none", "drug")), ["none", "drug"])', site)
    assert c.isna().tolist() == [False, True, False, False]


def _example_expressions():
    """Every derive/time/status expression of the example configs and the quickstart notebook."""
    import json
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1] / "analyses"
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("derive",) and isinstance(v, dict):
                    found.extend((f"{where}.{k}.{name}", e) for name, e in v.items())
                elif k in ("time", "status", "filter") and isinstance(v, str):
                    found.append((f"{where}.{k}", v))
                else:
                    walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    for path in sorted(root.glob("*.yaml")):
        walk(yaml.safe_load(path.read_text()), path.name)
    notebook = json.loads((root / "quickstart.ipynb").read_text())
    for cell in notebook["cells"]:
        for m in re.finditer(r"column\('((?:[^'\\]|\\.)*)'", "".join(cell["source"])):
            found.append(("quickstart.ipynb", m.group(1)))
    return found


# expressions where a missing value has a meaning: no visceral_met_date (bm_date) means no visceral (bone)
# metastasis; they say so with notna()
_MISSING_MEANS_NONE = {"visceral_met_date", "bm_date"}


@pytest.mark.parametrize("where, expression", _example_expressions(), ids=lambda v: str(v)[:60])
def test_every_example_expression_keeps_missing_values_missing(where, expression):
    import ast

    names = {n.id for n in ast.walk(ast.parse(expression, mode="eval")) if isinstance(n, ast.Name)}
    names -= set(FUNCTIONS) | {"missing", "true", "false", "nan", "NaN", "True", "False"}
    frame = pd.DataFrame({n: (pd.to_datetime([None]) if n.endswith("_date") else
                              [None] if n.endswith("_type") else [np.nan]) for n in names})
    out = column(expression, frame)
    if names & _MISSING_MEANS_NONE:
        assert "notna(" in expression, f"{where}: {expression!r} does not say what a missing date means"
        return
    assert pd.isna(out.iloc[0]), f"{where}: {expression!r} gives {out.iloc[0]!r} for missing values"
