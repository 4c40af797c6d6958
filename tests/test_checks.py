"""The shared input checks every estimator relies on."""
import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError, handle_missing


def test_dropna_that_leaves_no_row_is_an_error_naming_the_columns():
    data = pd.DataFrame({"t": [1.0, np.nan], "e": [np.nan, 1]})
    with pytest.raises(InputError, match=r"no rows left after dropping missing values \(t, e\)"):
        handle_missing(data, ["t", "e"], dropna=True)
    kept, dropped = handle_missing(data, ["t"], dropna=True)
    assert list(kept.index) == [0] and dropped.n == 1 and dropped.by_column == {"t": 1}


@pytest.mark.parametrize("call", [
    lambda d: bm.kaplan_meier(d, "t", "e", dropna=True),
    lambda d: bm.logrank_test(d, "t", "e", by="g", strata="s", dropna=True),
    lambda d: bm.cumulative_incidence(d, "t", "e", dropna=True),
])
def test_estimators_refuse_data_left_empty_by_dropna(call):
    data = pd.DataFrame({"t": [np.nan, 2.0], "e": [1, np.nan], "g": ["a", "b"], "s": [1, 1]})
    with pytest.raises(InputError, match="no rows left"):
        call(data)


def test_logrank_checks_the_strata_column_once_for_missing_values():
    data = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 0, 1, 1, 0, 1], "g": list("ababab"),
                         "s": [1, 1, np.nan, 2, 2, 2]})
    with pytest.raises(InputError, match="column 's': missing values"):
        bm.logrank_test(data, "t", "e", by="g", strata="s")
    result = bm.logrank_test(data, "t", "e", by="g", strata="s", dropna=True)
    assert result.dropped.n == 1 and result.dropped.by_column == {"s": 1}
