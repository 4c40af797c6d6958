"""Groups that print the same must not be two groups: 1 and "1" in a ``by``, strata or table column is an
error naming the column, the two values and the rows (bmstats._checks.distinct_labels, called wherever
groups are formed)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError


@pytest.fixture()
def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 40
    g = pd.Series([1, "1"] * (n // 2), dtype=object)
    return pd.DataFrame({"id": np.arange(n), "time": rng.uniform(1, 10, n), "event": rng.integers(0, 2, n),
                         "status": rng.integers(0, 3, n), "x": rng.normal(size=n), "g": g,
                         "start": 0.0, "stop": rng.uniform(1, 10, n)})


MESSAGE = r"column 'g': values 1 \(int\) and '1' \(str\) are different groups that both print as '1'"


@pytest.mark.parametrize("call", [
    lambda d: bm.kaplan_meier(d, "time", "event", by="g"),
    lambda d: bm.logrank_test(d, "time", "event", by="g"),
    lambda d: bm.logrank_test(d.assign(h=np.arange(len(d)) % 2), "time", "event", by="h", strata="g"),
    lambda d: bm.cumulative_incidence(d, "time", "status", by="g"),
    lambda d: bm.incidence_rate(d, "time", "event", by="g"),
    lambda d: bm.cox(d, "time", "event", "x", strata="g"),
    lambda d: bm.fine_gray(d, "time", "status", "x", cengroup="g"),
    lambda d: bm.mean_cumulative_function(d, "id", "start", "stop", "event", by="g"),
    lambda d: bm.table_one(d, by="g", variables=["x"]),
    lambda d: bm.table_one(d, variables=["g"]),
], ids=["km", "logrank", "logrank-strata", "cif", "rate", "cox-strata", "fg-cengroup", "mcf", "table_one-by",
        "table_one-variable"])
def test_one_and_text_one_are_refused(mixed, call):
    with pytest.raises(InputError, match=MESSAGE):
        call(mixed)


def test_the_message_names_rows(mixed):
    with pytest.raises(InputError, match=r"rows 1, 3, 5, .* hold the str one"):
        bm.kaplan_meier(mixed, "time", "event", by="g")


def test_one_type_per_column_still_works(mixed):
    fit = bm.kaplan_meier(mixed.assign(g=mixed["g"].astype(str)), "time", "event", by="g")
    assert list(fit.table["group"].unique()) == ["1"]
    # 1 and 1.0 are the same value (and print "1" / "1.0"): one group, as before
    fit = bm.kaplan_meier(mixed.assign(g=[1, 1.0] * 20), "time", "event", by="g")
    assert fit.table["group"].nunique() == 1
