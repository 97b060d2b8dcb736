"""Atomic ingest: a real ingest process killed with SIGKILL leaves the old state or the
new one, never a mix, and the store still opens and ingests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import numpy as np
import pytest

from barrage.record import ingest_record

REPEATS = 20


@pytest.fixture(scope="module")
def big_record(record_csv, tmp_path_factory):
    """The snapshot repeated 50 times with shifted sources: ~147k new rows."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT * REPLACE (source || '-copy' || k::VARCHAR AS source)
            FROM read_csv('{record_csv}', all_varchar=true, header=true), range(50) t(k))
            TO '{path}' (HEADER, DELIMITER ',')"""
    )
    return path


def _state(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return (
            con.execute("SELECT count(*) FROM attacks").fetchone()[0],
            con.execute("SELECT count(*) FROM ingests").fetchone()[0],
        )


INGEST = """
import sys
from barrage.record import ingest_record
print("start", flush=True)
ingest_record(sys.argv[1], sys.argv[2])
"""


def _start_ingest(record, db) -> subprocess.Popen:
    """An ingest in its own process, returned once it has imported and starts work."""
    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST, str(record), str(db)], stdout=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"start\n"
    return proc


@pytest.mark.soak
def test_kill_during_ingest_leaves_old_or_new_state(record_csv, big_record, tmp_path):
    base = tmp_path / "base.duckdb"
    ingest_record(record_csv, base)
    old = _state(base)
    # How long a full ingest takes here (from the moment the child says it starts, so
    # interpreter start-up does not count), and the state it produces. No timeout: the
    # ingest takes what it takes on this machine, and the kills are drawn within it.
    full = tmp_path / "full.duckdb"
    shutil.copy(base, full)
    proc = _start_ingest(big_record, full)
    t0 = time.perf_counter()
    proc.communicate()
    assert proc.returncode == 0
    duration = time.perf_counter() - t0
    new = _state(full)
    assert new[0] == old[0] + 50 * 2946

    rng = np.random.default_rng(20261129)
    outcomes = {"old": 0, "new": 0}
    for i in range(REPEATS):
        db = tmp_path / f"k{i}.duckdb"
        shutil.copy(base, db)
        proc = _start_ingest(big_record, db)
        time.sleep(rng.uniform(0.0, duration))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        state = _state(db)
        assert state in (old, new), f"kill {i}: state {state} is neither old {old} nor new {new}"
        outcomes["old" if state == old else "new"] += 1
        # The store still works after the kill.
        report = ingest_record(record_csv, db)
        assert report.rows_added == 0 and report.rows_quarantined == 0
        db.unlink()
        db.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    assert outcomes["old"] > 0, outcomes  # some kills really landed mid-ingest
