import pandas as pd

import bmstats as bm


def test_rotterdam_is_typed_and_complete():
    df = bm.datasets.load_rotterdam()
    assert df.shape == (2982, 15)
    assert df["size"].cat.categories.tolist() == ["<=20", "20-50", ">50"]
    assert pd.api.types.is_integer_dtype(df["rtime"]) and df["recur"].isin([0, 1]).all()


def test_gbsg_is_typed_and_complete():
    df = bm.datasets.load_gbsg()
    assert df.shape == (686, 11)
    assert all(pd.api.types.is_integer_dtype(df[c]) for c in df.columns)


def test_bm_cohort_carries_its_truth_and_validates():
    cohort = bm.datasets.load_bm_cohort()
    assert len(cohort.patients) == 5000
    assert cohort.truth is not None and "cumulative_incidence" in cohort.truth
    assert bm.validate(cohort).ok


def test_list_datasets_names_every_loader():
    names = set(bm.datasets.list_datasets()["name"])
    assert names == {"rotterdam", "gbsg", "bm_cohort"}
    assert all(hasattr(bm.datasets, f"load_{n}") for n in names)
