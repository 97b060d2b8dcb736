"""Ingest of the real snapshot and of synthetic files for every quirk and bad input."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from datetime import datetime, timedelta

import duckdb
import pytest

from _recordgen import HEADER, row, write_record
from barrage.errors import InputError
from barrage.record import ingest_record, open_store, summarise
from barrage.record.taxonomy import classify_model

MISSILES = {"cruise_missile", "ballistic_missile", "mixed_missile"}


def _counts_add_up(report):
    assert report.rows_read == (
        report.rows_added + report.rows_updated + report.rows_unchanged + report.rows_quarantined
    )


def _table_count(db, table="attacks"):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- the real snapshot -------------------------------------------------------------------


def test_snapshot_twice_then_ten_corrupted_rows(record_csv, tmp_path):
    db = tmp_path / "s.duckdb"
    first = ingest_record(record_csv, db)
    _counts_add_up(first)
    assert (first.rows_read, first.rows_added, first.rows_quarantined) == (2946, 2946, 0)
    assert first.unknown_models == []

    second = ingest_record(record_csv, db)
    _counts_add_up(second)
    assert (second.rows_added, second.rows_updated, second.rows_unchanged) == (0, 0, 2946)
    assert _table_count(db) == 2946

    corrupted = tmp_path / "corrupted.csv"
    shutil.copy(record_csv, corrupted)
    bad = [
        row("2025-13-01 20:00", "2025-10-02 08:00", "Kalibr", 5, 4),  # month 13
        row("yesterday", "2025-10-02 08:00", "Kalibr", 5, 4),  # not a time
        row("", "2025-10-02 08:00", "Kalibr", 5, 4),  # empty start
        row("2025-10-01 20:00", "2025-10-01 08:00", "Kalibr", 5, 4),  # ends before start
        row("2025-10-01 20:00", "2025-10-02 08:00", "Kalibr", -3, 0),  # negative
        row("2025-10-01 20:00", "2025-10-02 08:00", "Kalibr", 5, 9),  # destroyed > launched
        row("2025-10-01 20:00", "2025-10-02 08:00", "Kalibr", "five", 4),  # not a number
        row("2025-10-01 20:00", "2025-10-02 08:00", "Kalibr", 2.5, 1),  # half a missile
        row("2025-10-01 20:00", "2025-10-02 08:00", "", 5, 4),  # no model
        row("1899-10-01 20:00", "1899-10-02 08:00", "Kalibr", 5, 4),  # implausible year
    ]
    with corrupted.open("a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=HEADER).writerows(bad)
    third = ingest_record(corrupted, db)
    _counts_add_up(third)
    assert third.rows_read == 2956
    assert (third.rows_added, third.rows_updated, third.rows_unchanged) == (0, 0, 2946)
    assert third.rows_quarantined == 10
    assert _table_count(db) == 2946
    with duckdb.connect(str(db), read_only=True) as con:
        reasons = [
            r[0]
            for r in con.execute("SELECT reason FROM quarantine ORDER BY record_number").fetchall()
        ]
        numbers = [
            r[0]
            for r in con.execute(
                "SELECT record_number FROM quarantine ORDER BY record_number"
            ).fetchall()
        ]
    assert numbers == list(range(2947, 2957))
    for reason, fragment in zip(
        reasons,
        [
            "time_start: cannot read '2025-13-01 20:00'",
            "time_start: cannot read 'yesterday'",
            "time_start: empty",
            "time_end: 2025-10-01 08:00 is before time_start",
            "launched: negative count -3",
            "destroyed: 9 exceeds launched 5",
            "launched: expected a number, got 'five'",
            "launched: expected a whole number",
            "model: empty",
            "time_start: implausible date",
        ],
        strict=True,
    ):
        assert fragment in reason
    # Ingesting the corrupted copy again adds nothing anywhere, quarantine included.
    fourth = ingest_record(corrupted, db)
    assert fourth.rows_quarantined == 10 and fourth.rows_added == 0
    assert _table_count(db, "quarantine") == 10


def test_provenance_is_kept(record_db):
    with duckdb.connect(str(record_db), read_only=True) as con:
        shas, missing = con.execute(
            "SELECT count(DISTINCT source_file_sha256), count(*) FILTER "
            "(WHERE ingested_at IS NULL OR first_ingested_at IS NULL) FROM attacks"
        ).fetchone()
        log = con.execute("SELECT rows_read, rows_added FROM ingests").fetchall()
    assert (shas, missing) == (1, 0)
    assert log == [(2946, 2946)]


def test_newer_snapshot_adds_new_rows_and_updates_corrected_ones(record_csv, tmp_path):
    db = tmp_path / "s.duckdb"
    ingest_record(record_csv, db)
    with record_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows[0]["destroyed"] = "45.0"  # a correction of the newest row (was 44)
    rows[5]["target"] = "Kyiv oblast"
    new = [
        row("2025-10-01 20:00", "2025-10-02 08:00", "Kalibr", 12, 10),
        row("2025-10-01 20:00", "2025-10-02 08:00", "Shahed-136/131", 300, 250),
    ]
    newer = write_record(tmp_path / "newer.csv", new + rows)
    report = ingest_record(newer, db)
    _counts_add_up(report)
    assert (report.rows_added, report.rows_updated, report.rows_unchanged) == (2, 2, 2944)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM attacks").fetchone()[0] == 2948
        destroyed, first, last = con.execute(
            "SELECT destroyed, first_ingested_at, ingested_at FROM attacks WHERE model = "
            "'Shahed-136/131' AND time_start = TIMESTAMP '2025-09-30 20:30'"
        ).fetchone()
    assert destroyed == 45.0 and last >= first


def test_rows_sharing_a_key_are_kept_apart_in_file_order(tmp_path):
    rows = [
        row("2025-07-09", "2025-07-09", "Iskander-M", 1, 0, target="Odesa oblast"),
        row("2025-07-09", "2025-07-09", "Iskander-M", 1, 0, target="Mykolaiv oblast"),
    ]
    db = tmp_path / "s.duckdb"
    report = ingest_record(write_record(tmp_path / "a.csv", rows), db)
    assert report.rows_added == 2
    assert ingest_record(tmp_path / "a.csv", db).rows_unchanged == 2


# --- attack nights and regional duplicates ----------------------------------------------


def _nights(tmp_path, rows):
    db = tmp_path / "n.duckdb"
    ingest_record(write_record(tmp_path / "n.csv", rows), db)
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT model, night::VARCHAR, is_regional_duplicate FROM attack_rows ORDER BY model"
        ).fetchall()


def test_night_is_the_evening_the_window_started(tmp_path):
    rows = [
        row("2025-03-06 21:00 ", "2025-03-07 10:00", "Kalibr", 5, 4),  # evening, crosses midnight
        row("2023-05-16 3:30", "2023-05-16 07:00", "Kinzhal X", 6, 6),  # before noon
        row("2023-06-23", "2023-06-23 08:00", "X-101/X-555", 13, 13),  # date only
        row("2024-05-16 12:00", "2024-05-16 15:00", "Iskander-M", 1, 0),  # noon: same day
    ]
    got = {m: n for m, n, _ in _nights(tmp_path, rows)}
    assert got == {
        "Kalibr": "2025-03-06",
        "Kinzhal X": "2023-05-15",
        "X-101/X-555": "2023-06-22",
        "Iskander-M": "2024-05-16",
    }


def test_regional_report_repeating_the_national_one_is_flagged(tmp_path):
    national = row("2025-09-03 19:30", "2025-09-04 09:00", "Shahed-136/131", 112, 84)
    rows = [
        national,
        row(
            "2025-09-03 20:00",
            "2025-09-04 08:00",
            "Shahed-136/131",
            10,
            9,
            source="PvKPivden/posts/x",
        ),  # subset: duplicate
        row(
            "2025-09-04 13:00",
            "2025-09-04 16:00",
            "Shahed-136/131",
            4,
            4,
            source="PvKPivden/posts/y",
        ),  # later window: kept
        row(
            "2025-09-03 20:00", "2025-09-04 08:00", "X-59", 2, 1, source="pvkshid/posts/z"
        ),  # other model: kept
    ]
    got = _nights(tmp_path, rows)
    flags = sorted((m, dup) for m, _, dup in got)
    assert flags == [
        ("Shahed-136/131", False),
        ("Shahed-136/131", False),
        ("Shahed-136/131", True),
        ("X-59", False),
    ]


def test_real_regional_duplicates(record_db):
    """2025-09-03: PvKPivden's 10 Shaheds sit inside the national 112 of the same night."""
    with duckdb.connect(str(record_db), read_only=True) as con:
        dup = con.execute(
            "SELECT launched, source_channel FROM attack_rows WHERE night = DATE '2025-09-03' "
            "AND model = 'Shahed-136/131' AND is_regional_duplicate"
        ).fetchall()
        total = con.execute(
            "SELECT launched FROM night_totals WHERE night = DATE '2025-09-03' "
            "AND family = 'shahed'"
        ).fetchone()[0]
        n_dup = con.execute(
            "SELECT count(*) FROM attack_rows WHERE is_regional_duplicate"
        ).fetchone()[0]
    assert dup == [(10.0, "PvKPivden")]
    assert total == 112.0
    assert 0 < n_dup < 100


# --- the summary against an independent computation from the CSV ------------------------


def _parse(value: str, end: bool) -> datetime:
    value = value.strip()
    if len(value) <= 10:
        d = datetime.strptime(value, "%Y-%m-%d")
        return d + timedelta(seconds=86399) if end else d
    return datetime.strptime(value, "%Y-%m-%d %H:%M")


def _independent_totals(record_csv):
    """Night totals from the CSV with plain Python: night rule, regional de-duplication."""
    with record_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["start"], r["end"] = _parse(r["time_start"], False), _parse(r["time_end"], True)
        r["night"] = (r["start"] - timedelta(hours=12)).date()
        r["n"] = float(r["launched"] or 0)
        r["regional"] = r["source"].lower().startswith("pvk")
    national = defaultdict(list)
    for r in rows:
        if not r["regional"]:
            national[(r["night"], r["model"].strip())].append(r)
    totals = defaultdict(float)
    for r in rows:
        if r["regional"] and any(
            n["start"] <= r["end"] and r["start"] <= n["end"] and r["n"] <= n["n"]
            for n in national[(r["night"], r["model"].strip())]
        ):
            continue
        totals[(r["night"], r["model"].strip())] += r["n"]
    return totals


def test_summary_matches_independent_totals(record_csv, record_db):
    totals = _independent_totals(record_csv)
    drones_by_year = defaultdict(int)
    missiles_by_night = defaultdict(float)
    for (night, model), n in totals.items():
        if "Shahed" in model or model == "Unknown UAV":
            drones_by_year[str(night.year)] += int(n)
        if classify_model(model).weapon_class in MISSILES:
            missiles_by_night[night] += n
    with open_store(record_db) as con:
        s = summarise(con)
    assert s["launched_by_class_year"]["attack_drone"] == dict(drones_by_year)
    assert s["massive_nights"] == sum(v >= 30 for v in missiles_by_night.values())
    assert s["nights"] == len({night for night, _ in totals})
    assert s["first_night"] == "2022-09-27" and s["last_night"] == "2025-09-30"
    assert s["largest_nights"][0]["night"] == "2025-09-06"


# --- bad files ------------------------------------------------------------------------------


def test_file_level_errors_name_the_file_and_leave_the_store_alone(record_csv, tmp_path):
    db = tmp_path / "s.duckdb"
    ingest_record(record_csv, db)
    before = db.read_bytes()
    cp1251 = tmp_path / "cp1251.csv"
    cp1251.write_bytes(record_csv.read_text(encoding="utf-8").encode("cp1251", errors="replace"))
    no_cols = write_record(tmp_path / "nocols.csv", [], header=["time_start", "model", "source"])
    cases = {
        tmp_path / "missing.csv": "file not found",
        cp1251: "not UTF-8 text",
        no_cols: "missing required column(s) time_end, launched, destroyed",
    }
    (tmp_path / "empty.csv").write_text("")
    cases[tmp_path / "empty.csv"] = "empty file"
    for path, message in cases.items():
        with pytest.raises(
            InputError, match=message.replace("(", r"\(").replace(")", r"\)")
        ) as exc:
            ingest_record(path, db)
        assert str(path) in str(exc.value)
    assert db.read_bytes() == before


def test_malformed_csv_lines_are_quarantined_not_lost(tmp_path):
    good = ",".join(row("2025-10-01 20:00", "2025-10-02 08:00", "Kalibr", 5, 4).values())
    text = (
        ",".join(HEADER)
        + "\n"
        + good
        + "\n"
        + "2025-10-01,too,few\n"
        + good.replace("Kalibr", "X-22")
        + "\n"
    )
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "s.duckdb"
    report = ingest_record(path, db)
    assert (report.rows_read, report.rows_added, report.rows_quarantined) == (3, 2, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        line, reason = con.execute("SELECT line, reason FROM quarantine").fetchone()
    assert line == 3 and reason.startswith("csv: ")


def test_the_key_is_unique_after_repeated_and_corrected_ingests(record_csv, tmp_path):
    db = tmp_path / "s.duckdb"
    with record_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ingest_record(record_csv, db)
    rows[3]["destroyed"] = "0.0"
    ingest_record(write_record(tmp_path / "v2.csv", rows[::-1]), db)  # reordered + corrected
    ingest_record(record_csv, db)
    with duckdb.connect(str(db), read_only=True) as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT (time_start, time_end, model, source, key_seq)) "
            "FROM attacks"
        ).fetchone()
    assert total == distinct == 2946


def test_bad_encoding_past_the_head_is_found_while_parsing(record_csv, tmp_path):
    """The head is checked up front, the rest beside DuckDB's parse: same one-line error,
    same untouched store."""
    db = tmp_path / "s.duckdb"
    ingest_record(record_csv, db)
    data = record_csv.read_bytes()
    cut = data.index(b"\n", 200_000) + 1
    line = data[:cut].count(b"\n") + 1
    bad = tmp_path / "late.csv"
    bad.write_bytes(data[:cut] + "Молнія".encode("cp1251") + data[cut:])
    with pytest.raises(InputError, match=f"not UTF-8 text .* at line {line}"):
        ingest_record(bad, db)
    assert _table_count(db) == 2946
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ingests").fetchone()[0] == 1
