"""The config expression language: vectorised, safe (no eval), errors naming the expression."""
import numpy as np
import pandas as pd
import pytest

from bmstats.report.expressions import ExpressionError, column


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
