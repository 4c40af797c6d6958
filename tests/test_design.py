"""The shared design-matrix layer: formulas through formulaic, reference levels, checks naming the term."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bmstats._checks import InputError
from bmstats.estimate.design import design_matrix, formula_variables


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 60
    return pd.DataFrame({
        "age": rng.normal(55, 10, n).round(1),
        "grade": rng.choice([1, 2, 3], n),
        "size": pd.Categorical(rng.choice(["<=20", "20-50", ">50"], n), categories=["<=20", "20-50", ">50"]),
        "er": rng.choice(["negative", "positive"], n),
        "nodes": rng.integers(0, 10, n),
        "flag": rng.choice([True, False], n),
    })


def test_columns_terms_and_default_reference(data):
    d = design_matrix(data, "age + size + er + np.log(nodes + 1)")
    assert d.columns == ["age", "size[T.20-50]", "size[T.>50]", "er[T.positive]", "np.log(nodes + 1)"]
    assert d.terms["size"] == ["size[T.20-50]", "size[T.>50]"]
    assert d.reference_levels == {"size": "<=20", "er": "negative"}
    assert d.X.dtypes.eq(float).all()
    assert d.rows.equals(data.index) and d.dropped.n == 0
    np.testing.assert_allclose(d.X["np.log(nodes + 1)"], np.log(data["nodes"] + 1))
    np.testing.assert_array_equal(d.X["size[T.>50]"], (data["size"] == ">50").astype(float))


def test_chosen_reference_level_both_syntaxes(data):
    a = design_matrix(data, "C(size, contr.treatment('>50'))")
    b = design_matrix(data, "treatment(size, '>50')")
    assert a.reference_levels == {"size": ">50"} and b.reference_levels == {"size": ">50"}
    np.testing.assert_array_equal(a.X.to_numpy(), b.X.to_numpy())
    np.testing.assert_array_equal(a.X.iloc[:, 0], (data["size"] == "<=20").astype(float))
    assert b.factors["treatment(size, '>50')"]["levels"] == ["<=20", "20-50", ">50"]


def test_interactions_and_splines(data):
    d = design_matrix(data, "er * age + bs(nodes, df=3)")
    assert "er[T.positive]:age" in d.columns
    np.testing.assert_allclose(d.X["er[T.positive]:age"], (data["er"] == "positive") * data["age"])
    assert d.terms["bs(nodes, df=3)"] == ["bs(nodes, df=3)[1]", "bs(nodes, df=3)[2]", "bs(nodes, df=3)[3]"]


def test_intercept_is_optional_and_full_rank(data):
    no = design_matrix(data, "size")
    yes = design_matrix(data, "size", intercept=True)
    assert no.columns == ["size[T.20-50]", "size[T.>50]"]  # no full dummy set without an intercept
    assert yes.columns == ["Intercept", "size[T.20-50]", "size[T.>50]"]
    assert list(yes.terms) == ["Intercept", "size"]


def test_transform_reuses_levels_and_knots(data):
    d = design_matrix(data, "treatment(size, '>50') + bs(age, df=3) + er")
    new = data.iloc[[3, 0, 7]]
    np.testing.assert_allclose(d.transform(new).to_numpy(), d.X.loc[[3, 0, 7]].to_numpy())
    one = pd.DataFrame({"size": pd.Categorical([">50"], categories=["<=20", "20-50", ">50"]), "age": [60.0],
                        "er": ["positive"]})
    out = d.transform(one)
    assert list(out.columns) == d.columns
    assert out.iloc[0, :2].tolist() == [0.0, 0.0]  # reference level of size


def test_immutable(data):
    d = design_matrix(data, "age")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.formula = "grade"


def test_missing_values_error_names_variable_and_rows(data):
    data.loc[[4, 9], "age"] = np.nan
    with pytest.raises(InputError, match=r"'age'.*missing.*rows 4, 9"):
        design_matrix(data, "age + grade")
    d = design_matrix(data, "age + grade", dropna=True)
    assert d.dropped.n == 2 and d.dropped.rows == (4, 9) and d.dropped.by_column == {"age": 2}
    assert len(d.X) == len(data) - 2 and 4 not in d.rows


def test_constant_column_named(data):
    data["one"] = 1.0
    with pytest.raises(InputError, match=r"term 'one'.*constant"):
        design_matrix(data, "age + one")


def test_collinear_term_named(data):
    data["age2"] = 2 * data["age"] + data["grade"]
    with pytest.raises(InputError, match=r"term 'age2'.*linear combination of 'age', 'grade'"):
        design_matrix(data, "age + grade + age2")


def test_non_finite_transformation_named(data):
    with pytest.raises(InputError, match=r"term 'np.log\(nodes\)'.*not finite"):
        design_matrix(data, "np.log(nodes)")


def test_unknown_column_and_bad_formula(data):
    with pytest.raises(InputError, match="'weight' not found"):
        design_matrix(data, "age + weight")
    with pytest.raises(InputError):
        design_matrix(data, "")
    assert formula_variables(data, "age + C(size) + np.log(nodes + 1)") == ["age", "size", "nodes"]


def test_two_sided_formula_is_refused_not_half_read(data):
    with pytest.raises(InputError, match=r"has a left-hand side \('y'\).*right-hand side only: 'age \+ grade'"):
        design_matrix(data, "y ~ age + grade")
    assert design_matrix(data, "~ age + grade").columns == ["age", "grade"]


def test_unused_levels_of_a_categorical_are_dropped_as_r_does():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"x": rng.normal(size=40),
                      "g": pd.Categorical(rng.choice(["pre", "post"], 40), categories=["pre", "post", "unknown"])})
    design = design_matrix(d, "x + g")
    assert list(design.X.columns) == ["x", "g[T.post]"]
    assert design.reference_levels["g"] == "pre"


def test_an_empty_reference_level_is_named():
    d = pd.DataFrame({"x": np.arange(6.0),
                      "bta": pd.Categorical(["denosumab", "bisphosphonate"] * 3,
                                            categories=["none", "bisphosphonate", "denosumab"], ordered=True)})
    with pytest.raises(InputError, match="level 'none' of 'bta' has no rows"):
        design_matrix(d, "x + bta")


def test_an_empty_listed_level_is_named():
    d = pd.DataFrame({"x": np.arange(6.0), "g": ["a", "b"] * 3})
    with pytest.raises(InputError, match="level 'c' of 'g' has no rows"):
        design_matrix(d, "x + C(g, levels=['a', 'b', 'c'])")


def test_an_empty_first_level_of_a_code_set_gives_the_next_reference_as_r():
    d = pd.DataFrame({"x": np.arange(8.0) % 3,
                      "g": pd.Categorical(["b", "c"] * 4, categories=["a", "b", "c"])})
    design = design_matrix(d, "x + g")
    assert list(design.X.columns) == ["x", "g[T.c]"] and design.reference_levels["g"] == "b"
