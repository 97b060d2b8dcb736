"""The record's boundaries: the as-of rule (a forecast as of D uses the rows whose window
closed before 12:00 Kyiv on D; a date-only end is known only by the day's end) and the
massive-night threshold (30 missiles or more)."""

from __future__ import annotations

import pandas as pd
import pytest

from _recordgen import row, write_record
from barrage.indicators import KnownRecord
from barrage.record import ingest_record, open_store
from barrage.record.nights import MASSIVE_MISSILES, known_rows, massive_nights, night_totals_as_of

#: One night (2024-03-01, windows from 20:00) with rows closing around noon next day.
BOUNDARY_ROWS = {
    "X-101/X-555": ("2024-03-02 11:59", 10, "2024-03-02"),
    "Kalibr": ("2024-03-02 12:00", 20, "2024-03-03"),
    "Iskander-M": ("2024-03-02 12:01", 40, "2024-03-03"),
    "Shahed-136/131": ("2024-03-02", 80, "2024-03-03"),  # date only: read as 23:59:59
}


@pytest.fixture(scope="module")
def boundary_db(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("as_of")
    rows = [row("2024-02-20 20:00", "2024-02-21 06:00", "Shahed-136/131", 5, 4)]
    rows += [
        row("2024-03-01 20:00", end, model, n, 0, source=f"kpszsu/posts/{i}")
        for i, (model, (end, n, _)) in enumerate(BOUNDARY_ROWS.items())
    ]
    db = tmp / "store.duckdb"
    report = ingest_record(write_record(tmp / "rec.csv", rows), db)
    assert report.rows_quarantined == 0 and report.unknown_models == []
    return str(db)


def test_each_row_is_known_from_the_first_date_it_closed_before_noon(boundary_db):
    with open_store(boundary_db) as con:
        rows = known_rows(con)
    rows = rows[rows["night"] == "2024-03-01"].set_index("launched")
    for _model, (end, n, known) in BOUNDARY_ROWS.items():
        assert rows.loc[float(n), "known_from"] == pd.Timestamp(known), end


@pytest.mark.parametrize(
    ("as_of", "launched"),
    [("2024-03-01", 0.0), ("2024-03-02", 10.0), ("2024-03-03", 150.0)],
)
def test_the_night_counts_only_rows_closed_before_noon(boundary_db, as_of, launched):
    with open_store(boundary_db) as con:
        record = KnownRecord.from_store(con)
        sql = night_totals_as_of(con, f"{as_of} 12:00:00")
    totals = record.night_totals(as_of)
    night = totals[totals["night"] == "2024-03-01"]["launched"].sum()
    assert night == launched
    assert sql[sql["night"] == "2024-03-01"]["launched"].sum() == launched


def _noon_dates(record_csv) -> list[str]:
    """Every date with a row whose window closes between 11:00 and 12:59 (a time of day
    given), and the day after it."""
    raw = pd.read_csv(record_csv, dtype=str, keep_default_na=False)
    timed = raw["time_end"].str.len() > 10
    end = pd.to_datetime(raw.loc[timed, "time_end"], format="mixed")
    near = end[end.dt.hour.isin([11, 12])].dt.normalize()
    days = pd.DatetimeIndex(near).union(pd.DatetimeIndex(near) + pd.Timedelta(days=1))
    return [d.strftime("%Y-%m-%d") for d in days.unique()]


def test_as_of_equals_a_store_cut_at_noon_on_every_date_with_a_row_ending_near_noon(
    record_db, record_csv
):
    """The as-of view (known_from) equals the plain SQL filter time_end < D 12:00 on every
    date where the noon boundary decides a row, family by family."""
    dates = _noon_dates(record_csv)
    assert len(dates) >= 50  # 29 dates with a row closing at 12:00, 28 with one at 11:xx
    keys = ["night", "weapon_class", "family"]
    with open_store(record_db) as con:
        record = KnownRecord.from_store(con)
        for as_of in dates:
            ours = record.night_totals(as_of).set_index(keys)["launched"]
            sql = night_totals_as_of(con, f"{as_of} 12:00:00")
            sql = sql[sql["night"] < as_of].groupby(keys)["launched"].sum()
            sql = sql[sql > 0]
            ours = ours[ours > 0]
            pd.testing.assert_series_equal(
                ours.sort_index(), sql.sort_index(), check_names=False, obj=as_of
            )


def test_a_night_of_exactly_the_threshold_is_massive(tmp_path):
    """29, 30 and 31 missiles (cruise + ballistic on one night): 30 and 31 are massive."""
    assert MASSIVE_MISSILES == 30
    rows = []
    for day, n in ((10, 29), (12, 30), (14, 31)):
        start, end = f"2024-05-{day} 22:00", f"2024-05-{day + 1} 05:00"
        rows += [
            row(start, end, "X-101/X-555", n - 4, n - 5, source=f"kpszsu/posts/{day}a"),
            row(start, end, "Iskander-M", 4, 1, source=f"kpszsu/posts/{day}b"),
        ]
    db = tmp_path / "store.duckdb"
    ingest_record(write_record(tmp_path / "rec.csv", rows), db)
    with open_store(db) as con:
        assert [str(n) for n in massive_nights(con)] == ["2024-05-12", "2024-05-14"]


@pytest.mark.parametrize(
    ("start", "night"),
    [
        ("2024-06-02 00:30", "2024-06-01"),
        ("2024-06-02 05:59", "2024-06-01"),
        ("2024-06-02 06:00", "2024-06-01"),
        ("2024-06-02 11:59", "2024-06-01"),  # a morning start belongs to the night before
        ("2024-06-02 12:00", "2024-06-02"),
        ("2024-06-02 23:59", "2024-06-02"),
    ],
)
def test_a_window_belongs_to_the_night_of_the_evening_before_its_noon(tmp_path, start, night):
    rows = [row(start, "2024-06-03 06:00", "Shahed-136/131", 7, 5)]
    db = tmp_path / "store.duckdb"
    ingest_record(write_record(tmp_path / "rec.csv", rows), db)
    with open_store(db) as con:
        got = con.execute("SELECT night FROM attacks").fetchall()
    assert [str(n) for (n,) in got] == [night]
