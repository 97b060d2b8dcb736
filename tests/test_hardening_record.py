"""Ingest plausibility and truncation, one writer lock, scratch files beside the store
(issue 22, defects 2, 3, 4, 7 and 9): each test fails on the code before the fix."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from barrage.errors import StoreBusyError
from barrage.record import ingest_record
from barrage.record.lock import writer_lock
from barrage.record.scratch import PREFIX

BARRAGE = str(Path(sys.executable).with_name("barrage"))
ROW = (
    "2025-09-28 19:00,2025-09-29 08:30,{model},Kursk,Ukraine,,{launched},{destroyed},,,{{}},,,,,,,,,,,"
    "kpszsu/posts/{source}"
)


def _header(record_csv: Path) -> str:
    with record_csv.open(encoding="utf-8") as f:
        return f.readline().rstrip("\n")


def _file(tmp_path: Path, record_csv: Path, rows: list[str], name="rows.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([_header(record_csv), *rows]) + "\n", "utf-8")
    return path


def _night_total(db: Path, night: str) -> float:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT sum(launched) FROM night_totals WHERE night = ?", [night]
        ).fetchone()[0]


def test_a_truncated_file_adds_no_phantom_row(store, record_csv, tmp_path):
    """`head -c 307758` cuts a `source` field; the cut row became a new key (+70 drones
    on 2024-09-19). Now the unterminated last line is quarantined, nothing is added."""
    cut = tmp_path / "t.csv"
    cut.write_bytes(record_csv.read_bytes()[:307758])
    before = _night_total(store, "2024-09-19")
    report = ingest_record(cut, store)
    assert report.rows_added == 0 and report.rows_updated == 0, report
    assert report.quarantine_reasons.get("file") == 1, report.quarantine_reasons
    assert report.rows_read == report.rows_unchanged + report.rows_quarantined
    assert _night_total(store, "2024-09-19") == before
    with duckdb.connect(str(store), read_only=True) as con:
        reason = con.execute(
            "SELECT reason FROM quarantine WHERE source_file_sha256 = ?",
            [report.source_file_sha256],
        ).fetchall()
    assert any("no line end" in r[0] for r in reason)


@pytest.mark.parametrize(
    ("launched", "reason"),
    [
        ("1e308", "launched: implausible count"),
        ("1e23", "launched: implausible count"),
        ("1_000", "launched: expected a number"),
        ("0x10", "launched: expected a number"),
    ],
)
def test_implausible_counts_are_quarantined(store, record_csv, tmp_path, launched, reason):
    """1e308 twice on one night made `summary` raise OverflowError and the API 500."""
    rows = [
        ROW.format(model="Shahed-136/131", launched=launched, destroyed=0, source=f"x{i}")
        for i in range(2)
    ]
    report = ingest_record(_file(tmp_path, record_csv, rows), store)
    assert report.rows_added == 0 and report.rows_quarantined == 2, report
    with duckdb.connect(str(store), read_only=True) as con:
        got = con.execute(
            "SELECT reason FROM quarantine WHERE source_file_sha256 = ?",
            [report.source_file_sha256],
        ).fetchall()
    assert all(reason in r[0] for r in got), got
    out = subprocess.run(
        [BARRAGE, "summary", "--db", str(store), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr


def test_missile_counts_have_their_own_bound(store, record_csv, tmp_path):
    rows = [
        ROW.format(model="X-101/X-555", launched=1500, destroyed=0, source="m1"),
        ROW.format(model="Shahed-136/131", launched=1500, destroyed=0, source="d1"),
    ]
    report = ingest_record(_file(tmp_path, record_csv, rows), store)
    assert report.rows_added == 1 and report.rows_quarantined == 1, report
    with duckdb.connect(str(store), read_only=True) as con:
        (reason,) = con.execute(
            "SELECT reason FROM quarantine WHERE source_file_sha256 = ?",
            [report.source_file_sha256],
        ).fetchone()
    assert "launched: implausible count 1500.0 for cruise_missile" in reason


@pytest.mark.parametrize("year", [2030, 2099])
def test_far_future_dates_are_quarantined(store, record_csv, tmp_path, year):
    """Ingest accepted years to 2100; one 2099 row kept `assess` running past 1,200 s."""
    row = ROW.format(model="Shahed-136/131", launched=5, destroyed=1, source="f").replace(
        "2025-09-28 19:00", f"{year}-01-01 19:00"
    )
    report = ingest_record(_file(tmp_path, record_csv, [row]), store)
    assert report.rows_added == 0 and report.quarantine_reasons == {"time_start": 1}, report
    with duckdb.connect(str(store), read_only=True) as con:
        (reason,) = con.execute(
            "SELECT reason FROM quarantine WHERE source_file_sha256 = ?",
            [report.source_file_sha256],
        ).fetchone()
    assert "after the ingest day + 2 days" in reason


def test_an_extra_record_number_column_is_read(store, record_csv, tmp_path):
    """A `record_number` column was a DuckDB BinderException traceback."""
    path = tmp_path / "extra.csv"
    row = ROW.format(model="Shahed-136/131", launched=5, destroyed=1, source="rn")
    path.write_text(f"{_header(record_csv)},record_number\n{row},77\n", "utf-8")
    report = ingest_record(path, store)
    assert (report.rows_read, report.rows_added) == (1, 1), report


def test_ingest_waits_for_the_store_writer_lock(store, record_csv, tmp_path):
    """A plain ingest did not take the update lock, so it ran inside an update."""
    path = _file(
        tmp_path,
        record_csv,
        [ROW.format(model="Shahed-136/131", launched=5, destroyed=1, source="lk")],
    )
    errors: list[BaseException] = []

    def other_writer():
        try:
            ingest_record(path, store, lock_timeout_s=0.3)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    with writer_lock(store, what="update"):
        t = threading.Thread(target=other_writer)
        t.start()
        t.join()
    assert len(errors) == 1 and isinstance(errors[0], StoreBusyError), errors
    assert "nothing was changed" in str(errors[0])
    assert ingest_record(path, store).rows_added == 1


def test_scratch_copies_live_beside_the_store_and_are_swept(
    store, record_csv, tmp_path, monkeypatch
):
    """A killed ingest of a CR-ended file left a full copy in /tmp each time."""
    import barrage.record.ingest as ingest_module

    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(record_csv.read_bytes().replace(b"\n", b"\r\n"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = store.parent / f"{PREFIX}{dead.pid}-left.csv"
    stale.write_bytes(b"x" * 1000)
    mine = store.parent / f"{PREFIX}{os.getpid()}-live.csv"
    mine.write_bytes(b"y")
    seen: list[list[str]] = []
    real = ingest_module._ingest_locked

    def spy(src, *args, **kwargs):
        seen.append(sorted(p.name for p in store.parent.glob(PREFIX + "*")))
        assert src.read_path.parent == store.parent
        return real(src, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "_ingest_locked", spy)
    ingest_record(crlf, store)
    assert not stale.exists() and mine.exists()
    assert len(seen) == 1 and len(seen[0]) == 2, seen  # the live one and the copy
    assert sorted(p.name for p in store.parent.glob(PREFIX + "*")) == [mine.name]
    # a plain ingest (no copy needed) sweeps too
    stale.write_bytes(b"x")
    ingest_record(_file(tmp_path, record_csv, []), store)
    assert not stale.exists() and mine.exists()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_named(record_csv, tmp_path, encoding):
    """A BOM-less UTF-16LE record was reported as missing columns."""
    from barrage.errors import InputError

    path = tmp_path / "u16.csv"
    path.write_bytes("\n".join(record_csv.read_text("utf-8").splitlines()[:5]).encode(encoding))
    with pytest.raises(InputError, match="looks like UTF-16 text"):
        ingest_record(path, tmp_path / "s.duckdb")


def test_a_foreign_attacks_table_is_refused_and_left_alone(record_csv, tmp_path):
    """Another tool's DuckDB file with an ``attacks`` table was a binder or replacement-
    scan traceback in every command, and ingest's schema step ran against it."""
    from barrage.errors import InputError
    from barrage.record.store import connect

    db = tmp_path / "other.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE attacks (a INTEGER)")
    expected = r"its attacks table lacks column\(s\) time_start, .*; expected a store made by"
    with pytest.raises(InputError, match=expected):
        connect(db, read_only=True)
    with pytest.raises(InputError, match=expected):
        ingest_record(record_csv, db)
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == [("attacks",)]
