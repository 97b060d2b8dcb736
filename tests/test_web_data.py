"""What the dashboard shows beyond the record: the stored backtest (written by
``barrage backtest --save`` / ``barrage run``, read back by the API), strike jobs with
unserved energy, and the background warm-up of the current assessment."""

from __future__ import annotations

import html
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from barrage.cli import app as cli
from barrage.indicators import Hooks, resolve_target
from barrage.record import massive_nights, open_store
from barrage.warning.backtest import BacktestResult
from barrage.warning.backtest_store import (
    KEEP_RUNS,
    BacktestMissing,
    backtest_head,
    backtest_view,
    latest_backtest,
    save_backtest,
)
from barrage.web import Settings, create_app
from barrage.web.routes._common import CURRENT_ASSESSMENT

STRIKE = "strike_case24"


@pytest.fixture(scope="module")
def bare_store(record_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session store without any backtest (read-only here)."""
    db = tmp_path_factory.mktemp("bare") / "bare.duckdb"
    shutil.copy(record_db, db)
    return db


@pytest.fixture(scope="module")
def saved(record_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A store with one backtest saved by the real CLI (39 origins, 7-day horizon)."""
    db = tmp_path_factory.mktemp("saved") / "bt.duckdb"
    shutil.copy(record_db, db)
    res = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--db",
            str(db),
            "--start",
            "2025-06-01",
            "--end",
            "2025-07-09",
            "--horizon",
            "7",
            "--save",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    return db, json.loads(res.stdout)


@pytest.fixture(scope="module")
def grid_dir(shared_data: Path):
    """The PGLib-OPF networks of the shared data, as the server finds them."""
    path = shared_data / "grid" / "pglib-opf"
    if not (path / "pglib_opf_case24_ieee_rts.m").is_file():
        pytest.fail(f"PGLib-OPF networks missing at {path}", pytrace=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BARRAGE_GRID_DIR", str(path))
        yield path


def client(db: Path, **overrides) -> TestClient:
    return TestClient(create_app(Settings(db=db, **({"warm": False} | overrides))))


# --- the stored backtest -----------------------------------------------------------------


def test_backtest_save_stores_what_the_cli_printed(saved):
    db, printed = saved
    assert printed["run_id"] == 1
    with open_store(db) as con:
        stored = latest_backtest(con)
        sha = con.execute(
            "SELECT source_file_sha256 FROM ingests ORDER BY ingest_id DESC LIMIT 1"
        ).fetchone()[0]
    assert stored.run_id == 1 and stored.record_sha256 == sha
    assert stored.summary["scores"] == printed["scores"]
    fc = stored.forecasts
    assert str(fc["as_of"].min().date()) == "2025-06-01"
    assert str(fc["as_of"].max().date()) == "2025-07-09"
    assert len(fc) == 39 * len(printed["models"])
    assert set(fc["horizon_days"]) == {7}
    # the run's target nights are the headline target's: missiles >= 30 or drones >= 400
    with open_store(db) as con:
        drone_nights = con.execute(
            "SELECT night FROM night_totals WHERE weapon_class = 'attack_drone' "
            "GROUP BY night HAVING sum(launched) >= 400"
        ).fetchall()
        expected = set(massive_nights(con)) | {r[0].isoformat() for r in drone_nights}
    assert stored.event_nights == sorted(expected)


def test_only_the_newest_runs_are_kept(saved, tmp_path):
    import datetime as dt

    from barrage.warning.assess import inputs_from_store
    from barrage.warning.backtest import BacktestPlan, run_backtest
    from barrage.warning.evaluate import score_summary

    db = tmp_path / "keep.duckdb"
    shutil.copy(saved[0], db)
    with open_store(db) as con:
        inputs = inputs_from_store(con, None, None)
    plan = BacktestPlan(dt.date(2025, 7, 1), dt.date(2025, 7, 7), (1,), models=("climatology",))
    result = run_backtest(
        inputs.record,
        plan,
        inputs.target,
        hooks=Hooks(weather=inputs.weather, production=inputs.production),
    )
    summary = score_summary(result, n_boot=10)
    with open_store(db, read_only=False) as con:
        ids = [save_backtest(con, result, summary) for _ in range(KEEP_RUNS + 1)]
        assert ids == list(range(2, KEEP_RUNS + 3))
        assert backtest_head(con) == ids[-1]
        kept = con.execute("SELECT DISTINCT run_id FROM backtest_forecasts ORDER BY 1").fetchall()
        assert [r[0] for r in kept] == ids[-KEEP_RUNS:]
        assert latest_backtest(con).forecasts["model"].unique().tolist() == ["climatology"]


def test_no_backtest_is_a_clean_404_and_a_dashboard_hint(bare_store):
    with open_store(bare_store) as con, pytest.raises(BacktestMissing):
        latest_backtest(con)
    with client(bare_store) as c:
        r = c.get("/api/backtest")
        assert r.status_code == 404
        assert "barrage backtest --db" in r.json()["detail"]
        assert "--save" in r.json()["detail"]
        assert c.get("/api/backtest", params={"target": "no_such"}).status_code == 400
        page = c.get("/").text
    assert 'id="history" data-available="false"' in page
    assert "barrage backtest --db" in page


def test_api_serves_the_stored_backtest(saved):
    db, printed = saved
    with open_store(db) as con:
        expected = json.loads(json.dumps(backtest_view(latest_backtest(con))))
    with client(db) as c:
        r = c.get("/api/backtest")
        page = c.get("/").text
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == expected
    assert body["primary_model"] == "recent_rate" and body["run_id"] == 1
    assert body["scores"] == printed["scores"]
    pts = body["history"]
    assert len(pts) == 39 and {p["horizon_days"] for p in pts} == {7}
    rel = body["reliability"]["7"]
    assert sum(rel["count"]) == sum(p["outcome"] is not None for p in pts)
    assert all(0 <= x <= 1 for x in rel["forecast"] + rel["observed"])
    # the dashboard draws it: history with target nights, reliability, the score table
    assert 'data-run="1"' in page
    # the verdict is served and shown as the backtest printed it
    assert body["verdict"] == printed["verdict"]
    assert body["verdict"]["sentence"] in html.unescape(page)
    for part in ("history-plot", "reliability-plot", "id='scores'", "target night"):
        assert part in page


def test_a_new_backtest_shows_without_a_restart(saved, tmp_path):
    """Saving a backtest changes the store version, so cached answers are not stale."""
    db = tmp_path / "fresh.duckdb"
    shutil.copy(saved[0], db)
    with client(db) as c:
        first = c.get("/api/backtest").json()["run_id"]
        with open_store(db, read_only=False) as con:
            stored = latest_backtest(con)
            # the same forecasts again, as a new run
            again = BacktestResult(
                stored.forecasts, None, np.array([], int), np.datetime64("2022-02-24"), None,
                resolve_target(None),
            )  # fmt: skip
            save_backtest(con, again, stored.summary)
        assert c.get("/api/backtest").json()["run_id"] == first + 1
        assert c.get("/health").json()["store_version"].endswith(f":bt{first + 1}")


# --- strike jobs ----------------------------------------------------------------------------


def wait_for(c: TestClient, job_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout_s} s")


def test_strike_job_gives_the_library_result(bare_store, grid_dir):
    from barrage.grid import simulate_strike
    from barrage.grid.strike import example_strike_scenarios

    with client(bare_store) as c:
        kinds = {s["name"]: s["kind"] for s in c.get("/api/scenarios").json()}
        assert kinds[STRIKE] == "strike"
        r = c.post("/api/jobs/strike", json={"scenario": STRIKE, "runs": 48, "seed": 3})
        assert r.status_code == 202, r.text
        job = wait_for(c, r.json()["id"])
    assert job["state"] == "done", job["error"]
    assert job["kind"] == "strike"
    assert job["progress"] == {"done": 48, "total": 48, "fraction": 1.0}
    expected = simulate_strike(example_strike_scenarios()[STRIKE], 48, 3).summary()
    assert job["result"] == json.loads(json.dumps(expected))
    ue = job["result"]["unserved_energy_mwh"]
    assert 0 < ue["mean"] <= ue["p95"] <= ue["cvar95"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"runs": 10**6}, 422, "less than or equal to 300"),
        ({"scenario": "nope"}, 400, "unknown strike scenario 'nope'"),
        ({"scenario": STRIKE, "scenario_spec": {}}, 400, "not both"),
        ({"scenario": STRIKE, "colour": "red"}, 422, "body.colour"),
    ],
)
def test_bad_strike_jobs_are_refused(bare_store, grid_dir, body, status, words):
    with client(bare_store, max_strike_runs=300) as c:
        r = c.post("/api/jobs/strike", json=body)
        assert r.status_code == status, r.text
        assert words in r.json()["detail"]
        assert c.get("/api/jobs").json() == []


def test_inline_strike_scenario_may_not_name_a_server_path(bare_store, grid_dir):
    from barrage.grid.strike import example_strike_scenarios
    from barrage.salvo.scenario import read_scenario_yaml

    spec = read_scenario_yaml(example_strike_scenarios()[STRIKE])
    spec["grid"]["network"] = str(grid_dir / "pglib_opf_case24_ieee_rts.m")
    with client(bare_store) as c:
        r = c.post("/api/jobs/strike", json={"scenario_spec": spec, "runs": 8})
        assert r.status_code == 400
        assert "no path" in r.json()["detail"]
        spec["grid"]["network"] = "pglib_opf_case24_ieee_rts.m"
        r = c.post("/api/jobs/strike", json={"scenario_spec": spec, "runs": 8})
        assert r.status_code == 202, r.text
        assert wait_for(c, r.json()["id"])["state"] == "done"


def gated_strike_runner(gate: threading.Event, started: threading.Event):
    """A stand-in for the strike job's work that reports progress and finishes only when
    ``gate`` is set: the first job is sure to be running while the second waits."""

    def factory(scenario, *, runs: int, seed: int, grid_dir=None):
        def run(on_progress):
            started.set()
            while not gate.is_set():
                on_progress(1, runs)  # raises when the job is to stop
                gate.wait(0.01)
            on_progress(runs, runs)
            return {"runs": runs}

        return run

    return factory


def test_a_queued_strike_job_can_be_cancelled(bare_store, grid_dir, monkeypatch):
    from barrage.web.routes import jobs as app_module

    gate, started = threading.Event(), threading.Event()
    monkeypatch.setattr(app_module, "strike_runner", gated_strike_runner(gate, started))
    with client(bare_store, max_queue=3) as c:
        first = c.post("/api/jobs/strike", json={"scenario": STRIKE, "runs": 100}).json()
        second = c.post("/api/jobs/strike", json={"scenario": STRIKE, "runs": 100}).json()
        third = c.post("/api/jobs/strike", json={"scenario": STRIKE, "runs": 100}).json()
        assert started.wait(60)  # hang guard: the worker thread picks the first job
        assert c.get(f"/api/jobs/{second['id']}").json()["state"] == "queued"
        assert c.delete(f"/api/jobs/{second['id']}").status_code == 200  # queued
        assert c.delete(f"/api/jobs/{first['id']}").status_code == 200  # running
        assert wait_for(c, second["id"])["state"] == "cancelled"
        first_done = wait_for(c, first["id"])
        assert first_done["state"] == "cancelled" and first_done["progress"]["done"] == 1
        gate.set()  # the third runs to the end
        third_done = wait_for(c, third["id"])
        assert third_done["state"] == "done" and third_done["result"] == {"runs": 100}
        assert c.delete(f"/api/jobs/{third['id']}").status_code == 409  # finished


# --- the warm-up ----------------------------------------------------------------------------


def test_dashboard_says_computing_then_shows_the_warmed_assessment(bare_store):
    with client(bare_store) as c:
        warmer = c.app.state.warmer
        page = c.get("/").text  # nothing warmed yet: the page now, a "computing" banner
        assert 'data-available="computing"' in page and "history" in page
        warmer.join()  # the warm-up's own length, however long it takes here
        warmed = c.app.state.store.peek("dashboard", ())
        assert warmed is not None
        page = c.get("/").text
        assessment = c.get("/api/assessment").json()
    assert 'id="warning-level"' in page and "computing" not in page
    assert f'data-p="{assessment["p"]["7"]!r}"' in page
    assert page == warmed.decode()  # served from the warm-up's cache, not recomputed
    # the level never appears without its skill statement, on the page and in the API
    assert assessment["skill"]["statement"].startswith("no demonstrated skill")
    assert (
        f'id="warning-skill" class="skill">{html.escape(assessment["skill"]["statement"])}' in page
    )


def test_server_warms_at_start_up(bare_store):
    with client(bare_store, warm=True) as c:
        c.app.state.warmer.join()  # the warm-up's own length, however long it takes here
        store = c.app.state.store
        warmed = store.peek("assessment", CURRENT_ASSESSMENT)
        assert warmed is not None
        assert store.peek("dashboard", ()) is not None
        r = c.get("/api/assessment")
        assert r.status_code == 200
        assert r.content == warmed  # the warmed answer, not a new fit


def test_a_running_strike_job_stops_at_its_time_limit(bare_store, grid_dir):
    """The chunked strike reports progress between steps, so the limit can stop it."""
    with client(bare_store, job_timeout_s=0.001) as c:
        r = c.post("/api/jobs/strike", json={"scenario": STRIKE, "runs": 200})
        assert r.status_code == 202, r.text
        job = wait_for(c, r.json()["id"])
    assert job["state"] == "timed_out", job
