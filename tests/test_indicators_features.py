"""Indicators: the as-of rule, no look-ahead, and values checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barrage.errors import InputError
from barrage.indicators import (
    KnownRecord,
    indicator_frame,
    outcomes,
    percentile_of_last,
    resolve_target,
)
from barrage.record import nightly_by_class, open_store
from barrage.record.nights import night_totals_as_of


@pytest.fixture(scope="module")
def record(record_db) -> KnownRecord:
    with open_store(record_db) as con:
        return KnownRecord.from_store(con)


def test_final_panel_equals_record_layer_totals(record, record_db):
    with open_store(record_db) as con:
        wide = nightly_by_class(con)
    panel = record.panel(record.last_known_day)
    np.testing.assert_allclose(panel.frame().to_numpy()[: len(wide)], wide.to_numpy())


@pytest.mark.parametrize("as_of", ["2023-03-09", "2024-08-26", "2025-07-04"])
def test_panel_as_of_matches_sql_cutoff(record, record_db, as_of):
    """The numpy as-of rule equals the SQL filter time_end < D 12:00."""
    with open_store(record_db) as con:
        sql = night_totals_as_of(con, f"{as_of} 12:00:00")
    panel = record.panel(as_of).frame()
    by_night = sql.groupby("night")["launched"].sum()
    ours = panel.drop(columns="missiles").sum(axis=1)
    ours = ours[ours > 0]
    pd.testing.assert_series_equal(ours, by_night.reindex(ours.index), check_names=False)
    assert set(by_night.index) <= set(ours.index) | set(by_night[by_night == 0].index)


def test_features_do_not_change_when_the_future_is_removed(record):
    target = resolve_target(None)
    full = indicator_frame(record.panel("2025-09-30"), target)
    part = indicator_frame(record.panel("2024-06-01"), target)
    # Origins up to 2024-06-01 are computed from the same nights (all settled by then except
    # the last two days), so the older rows must be equal.
    common = part.index[part.index <= "2024-05-29"]
    pd.testing.assert_frame_equal(full.loc[common], part.loc[common])


def test_days_since_and_tempo_by_hand(record):
    target = resolve_target(None)
    panel = record.panel("2025-09-01")
    f = indicator_frame(panel, target)
    frame = panel.frame()
    massive = frame.index[frame["missiles"] >= 30]
    last = massive[massive < "2025-09-01"].max()
    assert f.loc["2025-09-01", "days_since_event_d"] == (pd.Timestamp("2025-09-01") - last).days
    expect = frame.loc["2025-08-25":"2025-08-31", "attack_drone"].mean()
    assert f.loc["2025-09-01", "tempo_attack_drone_7d"] == pytest.approx(expect)


def test_outcomes_are_unknown_past_the_panel(record):
    target = resolve_target(None)
    o = outcomes(record.panel("2025-09-01"), target, (1, 7))
    assert np.isnan(o.loc["2025-08-31", 7]) and not np.isnan(o.loc["2025-08-25", 7])


def test_percentile_of_last():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4, 10]})
    assert percentile_of_last(df)["a"] == 100.0


def test_as_of_before_record_is_input_error(record):
    with pytest.raises(InputError, match="before the record starts"):
        record.panel("2020-01-01")
