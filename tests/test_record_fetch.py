"""`barrage fetch` against a local HTTP server on loopback, never the internet."""

from __future__ import annotations

import csv
import io
import socket
import zipfile

import pytest

from _loopback import LoopbackServer
from _recordgen import row, write_record
from barrage.errors import StoreBusyError
from barrage.record import ingest_record
from barrage.record.fetch import FetchError, fetch_record
from barrage.record.lock import exclusive_lock


@pytest.fixture
def server():
    s = LoopbackServer()
    yield s
    s.close()


@pytest.fixture
def newer_record(record_csv, tmp_path):
    """The snapshot with 2 corrected rows and 3 new rows on 2 new nights."""
    with record_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows[0]["destroyed"] = "45.0"
    rows[1]["launched"] = "2.0"
    new = [
        row("2025-10-01 20:00", "2025-10-02 08:00", "Kalibr", 12, 10),
        row("2025-10-01 20:00", "2025-10-02 08:00", "Shahed-136/131", 300, 250),
        row("2025-10-03 19:00", "2025-10-04 09:00", "X-101/X-555", 40, 33),
    ]
    return write_record(tmp_path / "newer.csv", new + rows).read_bytes()


def test_fetch_reports_new_and_corrected_rows(server, newer_record, record_csv, tmp_path):
    db = tmp_path / "s.duckdb"
    ingest_record(record_csv, db)
    before = db.read_bytes()
    server.routes["/record.csv"] = (newer_record, None)
    report = fetch_record(tmp_path / "dl", db=db, url=server.url("/record.csv"), use_kaggle=False)
    assert (report.rows_new, report.rows_corrected, report.rows_unchanged) == (3, 2, 2944)
    assert report.new_nights == ["2025-10-01", "2025-10-03"]
    assert (tmp_path / "dl" / "missile_attacks_daily.csv").read_bytes() == newer_record
    assert db.read_bytes() == before  # fetch reports; it does not ingest


def test_fetch_accepts_the_kaggle_zip(server, newer_record, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("missile_attacks_daily.csv", newer_record)
        zf.writestr("missiles_and_uavs.csv", b"model,category\n")
    server.routes["/dl"] = (buf.getvalue(), None)
    report = fetch_record(tmp_path / "dl", url=server.url("/dl"), use_kaggle=False)
    assert report.rows_read == 2949 and report.rows_new == 2949


def test_truncated_download_is_rejected_and_nothing_changes(
    server, newer_record, record_csv, tmp_path
):
    db = tmp_path / "s.duckdb"
    ingest_record(record_csv, db)
    before = db.read_bytes()
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "missile_attacks_daily.csv").write_bytes(b"old")
    cut = newer_record[: len(newer_record) // 2]
    # The server says the full length but sends half (a dropped connection) ...
    server.routes["/short"] = (cut, len(newer_record))
    with pytest.raises(FetchError, match="incomplete|truncated"):
        fetch_record(dest, db=db, url=server.url("/short"), use_kaggle=False)
    # ... or honestly sends a file cut mid-row.
    server.routes["/cut"] = (cut, None)
    with pytest.raises(FetchError, match="truncated"):
        fetch_record(dest, db=db, url=server.url("/cut"), use_kaggle=False)
    assert (dest / "missile_attacks_daily.csv").read_bytes() == b"old"
    assert db.read_bytes() == before


def test_offline_is_a_clear_error_with_its_own_exit_code(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(FetchError, match="cannot reach") as exc:
        fetch_record(tmp_path, url=f"http://127.0.0.1:{port}/x.csv", use_kaggle=False, timeout_s=5)
    assert exc.value.exit_code == 4
    assert not (tmp_path / "missile_attacks_daily.csv").exists()


def test_not_found_and_not_a_record(server, tmp_path):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_record(tmp_path, url=server.url("/missing"), use_kaggle=False)
    server.routes["/html"] = (b"<html>login</html>\n", None)
    with pytest.raises(FetchError, match="not a usable record"):
        fetch_record(tmp_path, url=server.url("/html"), use_kaggle=False)


def test_second_lock_holder_waits_then_gets_a_clear_error(tmp_path):
    lock = tmp_path / "store.update.lock"
    with exclusive_lock(lock):
        with pytest.raises(StoreBusyError, match="another update is running"):
            with exclusive_lock(lock, wait_s=0.3):
                pass
    with exclusive_lock(lock):  # released on exit
        pass
