"""`update` racing `ingest` (issue 22, defect 5): an ingest during an update's assess
step used to give a log entry with the new record's hash and the old record's forecast,
and the next update then said "already logged". Every writer now takes the store's lock
and the hash travels with the record the forecast read."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import barrage.warning.assess as assess_module
from _race import mismatched_entries, split_record
from barrage.pipeline import run_update
from barrage.record import ingest_record


def test_an_ingest_during_the_assess_step_waits_and_the_log_names_the_right_record(
    record_csv, tmp_path, monkeypatch
):
    base, update_file, newest = split_record(record_csv, tmp_path)
    db = tmp_path / "race.duckdb"
    ingest_record(base, db)
    t0 = time.perf_counter()
    ingest_record(newest, ":memory:", dry_run=True)
    ingest_s = time.perf_counter() - t0  # how long the racing ingest needs when free

    real_assess = assess_module.assess
    racer: dict = {}

    def assess_with_an_ingest_racing(inputs, as_of=None, **kw):
        def other_writer():
            racer["report"] = ingest_record(newest, db, lock_timeout_s=600)

        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=5 * ingest_s + 2)  # done by now unless the lock holds it
        racer["waited"] = thread.is_alive()
        racer["thread"] = thread
        return real_assess(inputs, as_of, **kw)

    monkeypatch.setattr(assess_module, "assess", assess_with_an_ingest_racing)
    result = run_update(db, to=tmp_path / "data", url=update_file.as_uri(), use_kaggle=False)
    racer["thread"].join()
    assert racer["waited"], "the racing ingest ran inside the update"
    assert racer["report"].rows_added > 0
    entries, bad = mismatched_entries(db)
    assert entries == 1 and bad == [], bad
    assert result.logged

    # the next update, on the newest record, logs a new forecast (not "already logged")
    monkeypatch.setattr(assess_module, "assess", real_assess)
    again = run_update(db, to=tmp_path / "data2", url=newest.as_uri(), use_kaggle=False)
    assert again.logged
    entries, bad = mismatched_entries(db)
    assert entries == 2 and bad == [], bad


def test_a_negative_wait_is_refused(tmp_path):
    from barrage.errors import InputError

    with pytest.raises(InputError, match="wait_s: expected a number of seconds >= 0"):
        run_update(tmp_path / "x.duckdb", wait_s=-5, url="file:///nonexistent")


def test_mismatch_check_can_fail(record_csv, tmp_path):
    """The check itself: an entry naming a later record than its forecast is caught."""
    import datetime as dt

    import duckdb

    from barrage.warning.forecast_log import append_forecast, ensure_log

    base, _, newest = split_record(record_csv, tmp_path)
    db = tmp_path / "m.duckdb"
    ingest_record(base, db)
    with duckdb.connect(str(db), read_only=True) as con:
        base_last = con.execute("SELECT max(night) FROM attacks").fetchone()[0]
    report = ingest_record(newest, db)
    with duckdb.connect(str(db)) as con:
        ensure_log(con)
        append_forecast(
            con,
            {"as_of": str(base_last + dt.timedelta(days=1)), "p": {}, "target": "massive"},
            model_version="t",
            record_sha256=report.source_file_sha256,
        )
    assert mismatched_entries(Path(db))[1] != []
