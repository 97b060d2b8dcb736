"""Indicators: the as-of rule, no look-ahead, and values checked by hand."""

from __future__ import annotations

import re

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


_WEATHER = "date,avg_night_cloudcover,avg_precipitation,avg_windspeed\n2025-01-01,50,0.5,12\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        (b"", "empty file (expected a CSV with a header row)"),
        (b"date,x\n\xd0\x00\n", "not UTF-8 text (byte 0xd0 at line 2)"),
        (_WEATHER.encode() + b"2025-01-02,abc,0,1\n", "line 3, avg_night_cloudcover: expected"),
        (_WEATHER.encode() + b"2025-01-02,inf,0,1\n", "expected a number 0..100 (%), got 'inf'"),
        (_WEATHER.encode() + b"2025-01-02,5,-1,1\n", "avg_precipitation: expected a number >= 0"),
        (_WEATHER.encode() + b"2024-02-30,5,0,1\n", "line 3, date: expected a date YYYY-MM-DD"),
        (_WEATHER.encode() + b"02/01/2025,5,0,1\n", "got '02/01/2025'"),
    ],
    ids=["empty", "not-utf8", "text", "inf", "negative", "no-such-day", "not-iso"],
)
def test_bad_weather_is_one_line_naming_line_and_column(tmp_path, text, expected):
    """Junk was a pandas traceback; 'abc' a TypeError, 'inf' a scikit-learn NaN error;
    a bad date or a negative value passed silently."""
    from barrage.indicators.weather import load_weather

    path = tmp_path / "w.csv"
    path.write_bytes(text)
    with pytest.raises(InputError, match=re.escape(expected)) as err:
        load_weather(path)
    assert err.value.message.startswith(str(path)) and "\n" not in err.value.message


def test_weather_size_is_bounded_before_reading(tmp_path, monkeypatch):
    import barrage.indicators.weather as weather

    path = tmp_path / "w.csv"
    path.write_text(_WEATHER + "#" * 2048)
    monkeypatch.setattr(weather, "MAX_WEATHER_BYTES", 1024)
    with pytest.raises(InputError, match=r"larger than the limit of 1,024"):
        weather.load_weather(path)


def test_empty_weather_values_are_missing_observations(tmp_path):
    from barrage.indicators.weather import load_weather

    path = tmp_path / "w.csv"
    path.write_text(_WEATHER + "2025-01-02,,0,\n")
    out = load_weather(path)
    assert out["cloud_night_pct"].tolist()[0] == 50 and np.isnan(out["cloud_night_pct"].iloc[1])
