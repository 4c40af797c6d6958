"""Bad counting-process input: clear InputErrors naming the column, the rule, the id and the row."""
import numpy as np
import pandas as pd
import pytest

import bmstats as bm
from bmstats._checks import InputError
from bmstats.estimate import sre

COLS = ("id", "start", "stop", "event")
TERMINAL = {"terminal": "terminal"}


def good():
    return pd.DataFrame({
        "id": ["p1", "p1", "p1", "p2", "p3", "p3"],
        "start": [0.0, 10, 30, 0, 0, 5],
        "stop": [10.0, 30, 50, 40, 5, 60],
        "event": [1, 1, 0, 0, 1, 0],
        "terminal": [0, 0, 1, 0, 0, 1],
        "group": ["a", "a", "a", "b", "b", "b"],
    }, index=[11, 12, 13, 14, 15, 16])


def test_good_input_runs():
    res = bm.mean_cumulative_function(good(), *COLS, **TERMINAL, by="group")
    assert res.n_subjects == {"a": 1, "b": 2}


def test_reversed_interval_names_id_and_row():
    d = good()
    d.loc[15, ["start", "stop"]] = [5.0, 2.0]
    with pytest.raises(InputError, match=r"column 'stop': stop must be greater than start.*id p3; row 15"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)


def test_empty_interval_is_an_error():
    d = good()
    d.loc[14, "stop"] = 0.0
    with pytest.raises(InputError, match=r"reversed or empty.*id p2; row 14"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)


def test_overlapping_intervals_name_id_and_rows():
    d = good()
    d.loc[12, "start"] = 8.0  # (8, 30] overlaps (0, 10]
    with pytest.raises(InputError, match=r"column 'start': a subject's \(start, stop\] intervals overlap; id p1; rows 11, 12"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)


def test_events_after_terminal_event():
    d = good()
    d.loc[12, "terminal"] = 1  # p1 dies at 30 but has a row (30, 50] after it
    with pytest.raises(InputError, match=r"column 'terminal': rows or events after the subject's terminal event; id p1; row 13"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)


def test_two_terminal_events():
    d = good()
    d.loc[15, "terminal"] = 1
    with pytest.raises(InputError, match=r"after the subject's terminal event; id p3; row 16"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)


def test_ids_that_do_not_match_one_group():
    d = good()
    d.loc[13, "group"] = "b"
    with pytest.raises(InputError, match=r"column 'group': .*same group.*id p1; rows 11, 12, 13"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL, by="group")


def test_negative_time():
    d = good()
    d.loc[14, "start"] = -1.0
    with pytest.raises(InputError, match=r"column 'start': times must be finite and non-negative; row 14"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)


def test_event_codes_must_be_binary():
    d = good()
    d.loc[11, "event"] = 2
    with pytest.raises(InputError, match=r"column 'event'.*0 or 1.*row 11"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)


def test_missing_values_error_or_dropped_and_counted():
    d = good()
    d.loc[14, "stop"] = np.nan
    with pytest.raises(InputError, match=r"column 'stop': missing values.*row 14"):
        bm.mean_cumulative_function(d, *COLS, **TERMINAL)
    res = bm.mean_cumulative_function(d, *COLS, **TERMINAL, dropna=True)
    assert res.dropped.n == 1 and res.dropped.rows == (14,)
    assert "1 row dropped for missing values" in repr(res)


def test_sre_functions_share_the_checks():
    d = good()
    d.loc[12, "start"] = 8.0
    with pytest.raises(InputError, match="overlap; id p1"):
        sre.skeletal_morbidity_rate(d, *COLS, **TERMINAL, time_unit="days")
    with pytest.raises(InputError, match="overlap; id p1"):
        sre.proportion_with_event(d, *COLS, **TERMINAL)
