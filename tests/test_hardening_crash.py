"""kill -9 at random points of an update, of forecast-log appends and of a long
simulation: the store always opens, holds the old or the new state, and the forecast
log keeps every entry committed before the kill.

CI runs a few kills of each (``BARRAGE_KILL_REPEATS``, default 6; kill times drawn up to
``BARRAGE_KILL_MAX_S``, default 3 s, which covers fetch, ingest and the start of the
assessment); ``benchmarks/crash_long.py`` runs many more over an update's whole length.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from barrage.pipeline import update_lock_path
from barrage.record import ingest_record
from barrage.record.lock import exclusive_lock
from barrage.warning.forecast_log import append_forecast, verify_log

REPEATS = int(os.environ.get("BARRAGE_KILL_REPEATS", "6"))
MAX_KILL_S = float(os.environ.get("BARRAGE_KILL_MAX_S", "3"))
BARRAGE = str(Path(sys.executable).with_name("barrage"))
ASSESSMENT = {"as_of": "2025-10-01", "target": "massive_missiles", "p": {"1": 0.1, "7": 0.4}}


def newer_record(record_csv: Path, path: Path, nights: int = 5) -> Path:
    """The snapshot plus two rows on each of ``nights`` new nights (an upstream update)."""
    with record_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    new = []
    for d in range(1, nights + 1):
        for model, n in (("Shahed-136/131", 100 + d), ("X-101/X-555", 10 + d)):
            r = dict.fromkeys(header, "")
            r.update(
                time_start=f"2025-10-{d:02d} 20:00",
                time_end=f"2025-10-{d + 1:02d} 06:00",
                model=model,
                launched=str(n),
                destroyed=str(n - 3),
                source=f"kpszsu/posts/new{d}",
            )
            new.append(r)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        w.writerows(new + rows)
    return path


def state(db: Path) -> tuple:
    """What an update may change, from a fresh read-only open (it must open)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return (
            con.execute("SELECT count(*), sum(launched) FROM attacks").fetchone(),
            con.execute("SELECT count(*) FROM ingests").fetchone()[0],
            con.execute(
                "SELECT count(*) FROM (SELECT time_start, time_end, model, source, key_seq "
                "FROM attacks GROUP BY ALL HAVING count(*) > 1)"
            ).fetchone()[0],
        )


def log_entries(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return verify_log(con)  # raises if the chain is broken


def _kill_after(cmd: list[str], delay_s: float, **kw) -> tuple[int, bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **kw)
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()  # a killed process ends: no timeout needed
    return proc.returncode, out


@pytest.fixture(scope="module")
def logged_store(record_db, tmp_path_factory) -> Path:
    """The snapshot store with one forecast already in its log."""
    db = tmp_path_factory.mktemp("logged") / "base.duckdb"
    shutil.copy(record_db, db)
    with duckdb.connect(str(db)) as con:
        append_forecast(con, ASSESSMENT, model_version="test", record_sha256="0" * 64)
    return db


@pytest.mark.soak
def test_kill_update_leaves_old_or_new_state_and_the_log(record_csv, logged_store, tmp_path):
    newer = newer_record(record_csv, tmp_path / "newer.csv")
    old = state(logged_store)
    new_db = tmp_path / "new.duckdb"
    shutil.copy(logged_store, new_db)
    ingest_record(newer, new_db)
    new = state(new_db)
    assert new[0][0] == old[0][0] + 10 and new[2] == old[2] == 0

    rng = np.random.default_rng(20261129)
    seen = {"old": 0, "new": 0}
    for i in range(REPEATS):
        db = tmp_path / f"k{i}.duckdb"
        shutil.copy(logged_store, db)
        cmd = [BARRAGE, "update", "--db", str(db), "--to", str(tmp_path / f"dl{i}"),
               "--url", newer.as_uri(), "--json"]  # fmt: skip
        code, _ = _kill_after(cmd, rng.uniform(0.2, MAX_KILL_S))
        now = state(db)
        assert now in (old, new), f"kill {i}: state {now} is neither old {old} nor new {new}"
        entries = log_entries(db)  # the chain verifies
        if code == 0:  # (long runs) the update finished before the kill: all of it is there
            assert now == new and entries == 2
            seen["finished"] = seen.get("finished", 0) + 1
            continue
        assert code == -signal.SIGKILL
        seen["old" if now == old else "new"] += 1
        assert entries in (1, 2)  # the forecast logged before is still there
        with exclusive_lock(update_lock_path(db), wait_s=0):  # the lock died with the process
            pass
        assert state(db) == now
        ingest_record(newer, db)  # the store still takes writes, and reaches the new rows
        assert state(db)[0::2] == new[0::2]
    print(f"update kills: {seen}")
    assert sum(seen.values()) == REPEATS


APPENDER = """
import sys, duckdb
from barrage.warning.forecast_log import append_forecast
con = duckdb.connect(sys.argv[1])
for i in range(100000):
    e = append_forecast(con, {"as_of": "2025-10-01", "target": "t", "p": {"1": i / 1e5}},
                        model_version="kill-test", record_sha256="0" * 64)
    print(e.seq, flush=True)  # printed only after the entry's transaction committed
"""


@pytest.mark.soak
def test_kill_during_log_appends_loses_no_committed_entry(logged_store, tmp_path):
    db = tmp_path / "log.duckdb"
    shutil.copy(logged_store, db)
    rng = np.random.default_rng(7)
    committed = log_entries(db)
    for i in range(REPEATS):
        proc = subprocess.Popen([sys.executable, "-c", APPENDER, str(db)], stdout=subprocess.PIPE)
        first = proc.stdout.readline()  # appends have started (startup time varies)
        time.sleep(rng.uniform(0.0, 1.0))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        printed = [int(x) for x in (first + out).split()]
        n = log_entries(db)  # opens, and the chain verifies
        last = printed[-1] if printed else committed
        # every entry acknowledged before the kill is there; at most one more (committed
        # but killed before its print)
        assert last <= n <= last + 1, (i, last, n)
        assert n >= committed
        committed = n
    print(f"log-append kills: {REPEATS}, entries committed and kept: {committed}")
    assert committed > 1 + REPEATS  # the kills really landed among appends


#: ``barrage simulate salvo-check`` through the CLI, except that it waits for the kill
#: after simulating its first night: the run is sure to outlast the kill on any machine.
SLOW_CHECK = """
import sys
import barrage.salvo.outofsample as validation
from barrage.cli import app
def first_night_then_wait(simulate):
    def wrapped(*args, **kwargs):
        out = simulate(*args, **kwargs)
        sys.stdin.read()  # the test never writes: this returns only when the process dies
        return out
    return wrapped
# both engine entries the check uses (the layered model's given shares, the baselines')
validation.simulate = first_night_then_wait(validation.simulate)
validation.simulate_given = first_night_then_wait(validation.simulate_given)
app(sys.argv[1:], prog_name="barrage")
"""


@pytest.mark.soak
def test_kill_long_simulation_leaves_the_store_untouched(logged_store, tmp_path):
    db = tmp_path / "sim.duckdb"
    shutil.copy(logged_store, db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    rng = np.random.default_rng(11)
    for _ in range(max(2, REPEATS // 3)):
        cmd = [sys.executable, "-c", SLOW_CHECK, "simulate", "salvo-check", "--db", str(db),
               "--runs", "20000", "--cut", "2024-10-01"]  # fmt: skip
        code, _ = _kill_after(cmd, rng.uniform(0.5, 4.0), stdin=subprocess.PIPE)
        assert code == -signal.SIGKILL
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before
        assert log_entries(db) == 1 and state(db) == state(logged_store)
