"""The live track: update (fetch + ingest + assess + log) against a loopback server,
concurrency, the log's refusal of edits, the scorecard, and replay against the backtest
and against stores ingested from only the rows known each day."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from _loopback import LoopbackServer  # noqa: E402
from _recordgen import row, write_record
from barrage.cli import app
from barrage.record import ingest_record, open_store
from barrage.warning.assess import assess, inputs_from_store
from barrage.warning.backtest import BacktestPlan
from barrage.warning.evaluate import run
from barrage.warning.forecast_log import append_forecast, model_version, read_log, target_key
from barrage.warning.models import PRIMARY_MODEL
from barrage.warning.scorecard import compare_with_backtest, replay, scorecard
from barrage.warning.stock import refit_cache_dir

BIN = Path(sys.executable).with_name("barrage")


@pytest.fixture
def server():
    s = LoopbackServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def snapshot_inputs(record_db):
    return inputs_from_store(record_db)


@pytest.fixture(scope="module")
def warm_refit_cache(snapshot_inputs, record_db) -> Path:
    """The on-disk stockpile refits of the snapshot (every month up to the day after its
    last night), computed once: a store of the same record reads the same refits."""
    rec = snapshot_inputs.record
    snapshot_inputs.stockpile(rec.first_night, rec.day_index(rec.last_night) + 1)
    folder = refit_cache_dir(record_db)
    assert len(list(folder.glob("*.json"))) > 30
    return folder


@pytest.fixture(scope="module")
def daily_replay(snapshot_inputs) -> pd.DataFrame:
    """The daily replay of the last 90 days, shared by the replay tests (read-only)."""
    start, end = _last_90(snapshot_inputs)
    return replay(snapshot_inputs, start, end)


def _newer(record_csv: Path, path: Path) -> bytes:
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
    return write_record(path, new + rows).read_bytes()


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


# --- update ---------------------------------------------------------------------------


def test_update_fetches_ingests_assesses_and_logs_once(
    server, record_csv, warm_refit_cache, tmp_path
):
    db, dl = tmp_path / "s.duckdb", tmp_path / "dl"
    # The snapshot's stockpile refits are read from the store's disk cache, as after any
    # earlier update (this test is about fetch, ingest and the log; cached == computed is
    # tested in test_warning_refit_cache.py); the newer record's changed months are fitted.
    shutil.copytree(warm_refit_cache, refit_cache_dir(db))
    snapshot = record_csv.read_bytes()
    server.routes["/r.csv"] = snapshot
    args = ["update", "--db", str(db), "--to", str(dl), "--url", server.url("/r.csv"), "--json"]

    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert (out["fetch"]["rows_new"], out["ingest"]["rows_added"]) == (2946, 2946)
    assert out["logged"] is True and out["log_seq"] == 1
    assert out["model_version"] == model_version() == f"barrage 0.1.0 / {PRIMARY_MODEL}"
    with open_store(db) as con:
        log = read_log(con)
    assert len(log) == 3  # one row per horizon
    assert set(log["record_sha256"]) == {hashlib.sha256(snapshot).hexdigest()}
    assert str(log["as_of"].iloc[0]) == out["assessment"]["as_of"] == "2025-10-01"
    assert log.set_index("horizon_days")["p"].to_dict() == {
        int(k): v for k, v in out["assessment"]["p"].items()
    }

    # the level never comes without its skill statement (JSON and text)
    assert out["assessment"]["skill"]["statement"].startswith("no demonstrated skill")

    # Nothing new upstream: no second ingest, no second forecast.
    again = json.loads(_invoke(*args).stdout)
    assert again["ingest"] is None and again["logged"] is False and again["log_seq"] == 1
    text_out = _invoke(*args[:-1]).stdout
    assert "already logged" in text_out and "\nskill: no demonstrated skill" in text_out

    # A newer record: 3 new rows on 2 new nights, 2 corrected; a new forecast is logged.
    server.routes["/r.csv"] = _newer(record_csv, tmp_path / "newer.csv")
    newer = json.loads(_invoke(*args).stdout)
    assert (newer["fetch"]["rows_new"], newer["fetch"]["rows_corrected"]) == (3, 2)
    assert newer["fetch"]["new_nights"] == ["2025-10-01", "2025-10-03"]
    assert (newer["ingest"]["rows_added"], newer["ingest"]["rows_updated"]) == (3, 2)
    assert newer["logged"] is True and newer["log_seq"] == 2
    assert newer["assessment"]["as_of"] == "2025-10-04"

    text = (tmp_path / "s.duckdb.update.log").read_text()
    assert text.count("logged forecast #") == 2
    assert "already logged as #1" in text
    assert out["log_entry_hash"] in text  # the log file witnesses each entry's hash
    assert "3 new rows on 2 new nights, 2 corrected" in text


def test_update_offline_exits_4_and_changes_nothing(record_db, tmp_path):
    db = tmp_path / "s.duckdb"
    db.write_bytes(record_db.read_bytes())
    before = db.read_bytes()
    res = _invoke("update", "--db", str(db), "--to", str(tmp_path / "dl"), "--url",
                  "http://127.0.0.1:9/none.csv")  # fmt: skip
    assert res.exit_code == 4
    assert res.stdout == "" and "nothing was changed" in res.stderr
    assert db.read_bytes() == before
    assert "update failed (exit 4)" in (tmp_path / "s.duckdb.update.log").read_text()


def _run_update(db: Path, dl: Path, url: str, wait: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(BIN),
            "update",
            "--db",
            str(db),
            "--to",
            str(dl),
            "--url",
            url,
            "--wait",
            str(wait),
            "--json",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _store_rows(db: Path) -> tuple[int, int]:
    with open_store(db) as con:
        return con.execute(
            "SELECT count(*), count(DISTINCT (time_start, time_end, model, source, key_seq)) "
            "FROM attacks"
        ).fetchone()


def test_two_concurrent_updates_one_exits_3_or_waits(record_csv, warm_refit_cache, tmp_path):
    slow = LoopbackServer(delay_s=2.0)  # the first update holds the lock while it downloads
    try:
        slow.routes["/r.csv"] = record_csv.read_bytes()
        url = slow.url("/r.csv")
        db, dl = tmp_path / "s.duckdb", tmp_path / "dl"
        # The subprocesses read the snapshot's stockpile refits from the store's disk
        # cache (this test is about the lock; cached == computed is tested elsewhere).
        shutil.copytree(warm_refit_cache, refit_cache_dir(db))
        procs = [_run_update(db, dl, url, wait=0) for _ in range(2)]
        done = [p.communicate(timeout=120) for p in procs]
        codes = sorted(p.returncode for p in procs)
        assert codes == [0, 3], done
        loser = done[[p.returncode for p in procs].index(3)]
        assert loser[0] == ""  # --json prints nothing on failure
        assert "another update is running" in loser[1] and "nothing was changed" in loser[1]
        assert _store_rows(db) == (2946, 2946)

        # With --wait, the second waits for the first (each holds the lock through its
        # 2 s download) and both find nothing new: nothing ingested or logged twice.
        t0 = time.monotonic()
        procs = [_run_update(db, dl, url, wait=90) for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert time.monotonic() - t0 > 4.0  # serialised: two 2 s downloads one after another
        results = [json.loads(o[0]) for o in outs]
        assert [(r["logged"], r["ingest"], r["log_seq"]) for r in results] == [(False, None, 1)] * 2
        assert _store_rows(db) == (2946, 2946)
        with open_store(db) as con:
            assert read_log(con)["seq"].nunique() == 1
    finally:
        slow.close()


def test_the_log_refuses_an_edit_through_every_command(server, record_db, tmp_path):
    db = tmp_path / "s.duckdb"
    db.write_bytes(record_db.read_bytes())
    res = _invoke("assess", "--db", str(db), "--as-of", "2025-09-01", "--log", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["log"] == {"seq": 1, "logged": True}
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE forecast_log SET p_json = '{\"1\": 0.9}' WHERE seq = 1")
    for args in (
        ["assess", "--db", str(db), "--as-of", "2025-09-02", "--log"],
        ["scorecard", "--db", str(db), "--json"],
    ):
        res = _invoke(*args)
        assert res.exit_code == 5, res.output
        assert "altered after it was written" in res.stderr and res.stdout == ""
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) FROM forecast_log").fetchone()[0] == 1


# --- replay ---------------------------------------------------------------------------


def _last_90(inputs) -> tuple[np.datetime64, np.datetime64]:
    end = inputs.record.last_known_day
    return end - np.timedelta64(89, "D"), end


def test_replay_equals_the_backtest_over_the_last_90_days(snapshot_inputs, daily_replay):
    start, end = _last_90(snapshot_inputs)
    plan = BacktestPlan(start=start.astype(date), end=end.astype(date), models=(PRIMARY_MODEL,))
    bt = run(snapshot_inputs, plan).forecasts  # the backtest with the same inputs and hooks
    weekly = replay(snapshot_inputs, start, end, refit_every_d=7)
    cmp7 = compare_with_backtest(weekly, bt, backtest_start=start)
    assert (cmp7["origins"], cmp7["pairs"]) == (90, 270)
    assert cmp7["max_abs_diff"] == 0.0  # the same fits on the same rows: identical

    cmp1 = compare_with_backtest(daily_replay, bt, backtest_start=start)
    assert cmp1["same_refit_pairs"] == 39  # 13 weekly refit days x 3 horizons
    assert cmp1["same_refit_max_abs_diff"] == 0.0
    # Elsewhere the backtest's model is up to 6 days older (refit timing, not look-ahead):
    # any difference there is the refit's, as the weekly replay above proves.
    assert cmp1["other_pairs"] == 231


def test_replay_equals_assess_day_by_day(snapshot_inputs, daily_replay):
    start, end = _last_90(snapshot_inputs)
    days = [start + np.timedelta64(3, "D")]
    fc = daily_replay.set_index(["as_of", "horizon_days"])["p"]
    for d in days:
        a = assess(snapshot_inputs, d)
        got = {str(k): fc[(pd.Timestamp(d), k)] for k in (1, 3, 7)}
        assert got == a["p"], d


def _known_rows_csv(record_csv: Path, day: date, path: Path) -> Path:
    """Only the CSV rows with time_end before 12:00 on ``day`` (a date-only time_end is
    the end of that day): the record as it stood when the forecast was issued."""
    cutoff = datetime(day.year, day.month, day.day, 12)
    with record_csv.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames, list(reader)
    keep = []
    for r in rows:
        te = r["time_end"].strip()
        t = datetime.fromisoformat(te) + (
            timedelta(seconds=86399) if len(te) <= 10 else timedelta()
        )
        if t < cutoff:
            keep.append(r)
    assert 0 < len(keep) < len(rows)
    return write_record(path, keep, header=header)


def test_replay_equals_a_store_ingested_from_only_the_rows_known_that_day(
    snapshot_inputs, daily_replay, record_csv, tmp_path
):
    start, end = _last_90(snapshot_inputs)
    fc = daily_replay.set_index(["as_of", "horizon_days"])["p"]
    for i, d in enumerate([start + np.timedelta64(10, "D"), start + np.timedelta64(61, "D")]):
        day = d.astype(date)
        db = tmp_path / f"known{i}.duckdb"
        ingest_record(_known_rows_csv(record_csv, day, tmp_path / f"k{i}.csv"), db)
        truncated = inputs_from_store(db, weather=snapshot_inputs.weather)
        a = assess(truncated, day)
        assert {str(k): fc[(pd.Timestamp(d), k)] for k in (1, 3, 7)} == a["p"], day


def test_replay_cli_and_its_errors(record_db, tmp_path):
    res = _invoke("replay", "--db", str(record_db), "--from", "2025-09-10", "--to", "2025-09-30",
                  "--compare-backtest", "--out", str(tmp_path / "r.csv"), "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["days"], out["from"], out["to"]) == (21, "2025-09-10", "2025-09-30")
    assert out["backtest"]["same_refit_max_abs_diff"] == 0.0
    assert out["backtest"]["same_refit_pairs"] == 9
    assert len(pd.read_csv(tmp_path / "r.csv")) == 63
    res = _invoke("replay", "--db", str(record_db), "--from", "2025-09-10", "--to", "2025-12-01")
    assert res.exit_code == 2 and "after the last date this store knows" in res.stderr
    res = _invoke("replay", "--db", str(record_db), "--from", "2022-10-01")
    assert res.exit_code == 2 and "too little history" in res.stderr


# --- scorecard ------------------------------------------------------------------------


def _log_replayed(db: Path, fc: pd.DataFrame, target: str, *, p_override=None) -> None:
    """Log replayed forecasts as the live track would have issued them (each at 06:00
    UTC on its as-of day, before the 12:00 Kyiv issue time)."""
    with duckdb.connect(str(db)) as con:
        sha = con.execute("SELECT source_file_sha256 FROM ingests LIMIT 1").fetchone()[0]
        for as_of, g in fc.groupby("as_of"):
            p = {str(k): float(v) for k, v in zip(g["horizon_days"], g["p"], strict=True)}
            if p_override is not None:
                p = dict.fromkeys(p, p_override)
            append_forecast(
                con,
                {"as_of": str(as_of.date()), "target": target, "p": p, "level": "LOW"},
                model_version=model_version(),
                record_sha256=sha,
                issued_at=as_of.to_pydatetime().replace(hour=6),
            )


def test_scorecard_scores_closed_windows_beside_the_backtest(snapshot_inputs, record_db, tmp_path):
    db = tmp_path / "s.duckdb"
    db.write_bytes(record_db.read_bytes())
    end = snapshot_inputs.record.last_known_day
    start = end - np.timedelta64(49, "D")
    # A live track that made exactly the backtest's forecasts: no drift, same Brier.
    weekly = replay(snapshot_inputs, start, end, refit_every_d=7)
    _log_replayed(db, weekly, target_key(snapshot_inputs.target))
    with open_store(db) as con:
        card = scorecard(con, weather=snapshot_inputs.weather)
    assert card["log_entries"] == 50 and card["drift"] is False
    rows = {r["horizon_days"]: r for r in card["rows"]}
    y = {}
    for k in (1, 3, 7):
        r = rows[k]
        assert (r["forecasts"], r["closed"], r["open"], r["late"]) == (50, 50 - k, k, 0)
        assert r["live"]["brier"] == pytest.approx(r["backtest"]["brier"], abs=1e-15)
        assert r["backtest"]["origins_matched"] == 50 - k
        assert r["drift"] is False
        y[k] = r["live"]["event_share"]
    # By hand: the 7-day Brier of the logged p against the outcomes in the final record.
    from barrage.indicators import outcomes

    panel = snapshot_inputs.record.panel(end)
    out7 = outcomes(panel, snapshot_inputs.target, (7,))[7]
    w7 = weekly[weekly.horizon_days == 7].set_index("as_of")["p"]
    yy = out7.reindex(w7.index).to_numpy()
    ok = ~np.isnan(yy)
    assert rows[7]["live"]["brier"] == pytest.approx(np.mean((w7.to_numpy()[ok] - yy[ok]) ** 2))
    assert sum(rows[7]["live"]["reliability"]["count"]) == 43

    # A live track that always cried wolf drifts away from the backtest.
    db2 = tmp_path / "wolf.duckdb"
    db2.write_bytes(record_db.read_bytes())
    _log_replayed(db2, weekly, target_key(snapshot_inputs.target), p_override=0.95)
    res = _invoke("scorecard", "--db", str(db2), "--json")
    assert res.exit_code == 0, res.output
    card2 = json.loads(res.stdout)
    assert card2["drift"] is True
    r7 = next(r for r in card2["rows"] if r["horizon_days"] == 7)
    assert r7["drift"] is True and "outside" in r7["drift_note"]
    assert r7["live"]["false_alarm_ratio"] == pytest.approx(1 - y[7], abs=0.03)


def test_scorecard_of_an_empty_log_and_the_web_panel(record_db, tmp_path):
    from fastapi.testclient import TestClient

    from barrage.report.html import _scorecard_html
    from barrage.web import Settings, create_app

    db = tmp_path / "s.duckdb"
    db.write_bytes(record_db.read_bytes())
    res = _invoke("scorecard", "--db", str(db), "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["rows"] == []
    # No background warm-up: its read-only connection would clash with the in-process
    # `assess --log` writer below (in real use the CLI is another process).
    with TestClient(create_app(Settings(db=db, warm=False))) as client:
        empty = client.get("/api/scorecard")
        assert empty.status_code == 200 and empty.json()["log_entries"] == 0
        assert _invoke("assess", "--db", str(db), "--log", "--json").exit_code == 0
        one = client.get("/api/scorecard").json()  # the log changed: not the cached answer
        assert one["log_entries"] == 1 and one["rows"][0]["open"] == 1
        page = client.get("/").text
        assert 'id="scorecard"' in page and "1 forecasts logged" in page
    assert "Live track" in _scorecard_html(one) and "1/1" not in _scorecard_html(one)
