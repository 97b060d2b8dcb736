"""The HTTP API: typed answers from the same library calls as the CLI, clean 4xx on bad
requests, bounded jobs, and a token-guarded upload that never half-changes the store."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from barrage import ATTRIBUTION
from barrage.record import nightly_by_class, open_store, summary
from barrage.salvo import example_scenarios, load_scenario, simulate
from barrage.web import Settings, create_app

TOKEN = "s3cret-token"
EXAMPLE = "2024-08-26_combined"


def make_client(db: Path, **overrides) -> TestClient:
    """A client; no background warm-up (tests/test_web_data.py tests it): a warm-up left
    running by one test would slow the next."""
    settings = Settings(db=db, upload_token=TOKEN, **({"warm": False} | overrides))
    return TestClient(create_app(settings))


@pytest.fixture()
def client(store: Path):
    with make_client(store) as c:
        yield c


def store_state(db: Path) -> tuple:
    """Everything an upload could change, to compare before and after."""
    with duckdb.connect(str(db), read_only=True) as con:
        return tuple(
            con.execute(q).fetchall()
            for q in (
                "SELECT count(*), sum(launched) FROM attacks",
                "SELECT count(*) FROM quarantine",
                "SELECT ingest_id, source_file_sha256 FROM ingests ORDER BY ingest_id",
            )
        )


def test_health_reports_the_store_version(client, store):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    with open_store(store) as con:
        last = con.execute("SELECT max(ingest_id) FROM ingests").fetchone()[0]
    assert body["store_version"].startswith(f"{last}:")


def test_summary_is_the_library_summary_with_attribution(client, store):
    got = client.get("/api/summary").json()
    assert got.pop("attribution") == ATTRIBUTION
    assert got == json.loads(json.dumps(summary(store)))


def test_nights_filter_and_page_like_the_library(client, store):
    with open_store(store) as con:
        wide = nightly_by_class(con, "launched", full_calendar=False)
    sel = wide[(wide.index >= "2024-01-01") & (wide.index <= "2024-12-31")]
    sel = sel[sel["ballistic_missile"] > 0]
    r = client.get(
        "/api/nights",
        params={
            "start": "2024-01-01",
            "end": "2024-12-31",
            "weapon_class": "ballistic_missile",
            "offset": 5,
            "limit": 7,
        },
    )
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == len(sel)
    assert [i["night"] for i in page["items"]] == [d.date().isoformat() for d in sel.index[5:12]]
    assert [i["launched_by_class"]["ballistic_missile"] for i in page["items"]] == [
        int(v) for v in sel["ballistic_missile"].iloc[5:12]
    ]
    massive = client.get("/api/nights", params={"limit": 500, "offset": 0}).json()
    flagged = [i for i in massive["items"] if i["massive"]]
    assert flagged and all(i["missiles_launched"] >= 30 for i in flagged)


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/api/nights?start=2024-13-40", 422, "query.start"),
        ("/api/nights?end=yesterday", 422, "query.end"),
        ("/api/nights?start=2024-05-01&end=2024-04-01", 422, "after end"),
        ("/api/nights?weapon_class=hypersonic_unicorn", 422, "query.weapon_class"),
        ("/api/nights?limit=0", 422, "query.limit"),
        ("/api/indicators?as_of=not-a-date", 422, "query.as_of"),
        ("/api/indicators?target=no_such_target", 400, "unknown target 'no_such_target'"),
        ("/api/indicators?as_of=3783-04-20", 400, "after the last date this store knows"),
        ("/api/indicators?as_of=2001-01-01", 400, "before the record starts"),
        ("/api/indicators?target=import%20os", 400, "target"),
        ("/api/jobs/doesnotexist", 404, "no job 'doesnotexist'"),
    ],
)
def test_bad_requests_get_a_clear_4xx(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_indicators_have_history_and_percentiles(client):
    r = client.get("/api/indicators", params={"as_of": "2025-06-01", "days": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2025-06-01"
    tempo = {i["name"]: i for i in body["indicators"]}["tempo_missiles_30d"]
    assert len(tempo["history"]) == 30
    assert tempo["history"][-1][0] == "2025-06-01"
    assert tempo["value"] == tempo["history"][-1][1]
    assert 0 <= tempo["percentile"] <= 100


def test_reads_are_cached_until_the_next_ingest(client, store, record_csv, tmp_path):
    first = client.get("/api/summary")
    again = client.get("/api/summary")
    assert first.headers["etag"] == again.headers["etag"]
    # a later version of the record: drop its last night, ingest it, then the full file
    small = tmp_path / "older.csv"
    lines = record_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    small.write_text("".join(lines[:-50]), encoding="utf-8")
    fresh = tmp_path / "fresh.duckdb"
    with make_client(fresh) as c2:
        assert c2.get("/api/summary").status_code == 503  # no store yet: a clean message
        up = c2.post(
            "/api/ingest", content=small.read_bytes(), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert up.status_code == 200, up.text
        before = c2.get("/api/summary").json()
        up = c2.post(
            "/api/ingest",
            content=record_csv.read_bytes(),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert up.status_code == 200, up.text
        assert up.json()["rows_added"] > 0
        after = c2.get("/api/summary").json()
    assert after["rows_stored"] > before["rows_stored"]
    assert after == json.loads(json.dumps(summary(fresh))) | {"attribution": ATTRIBUTION}


@pytest.mark.parametrize(
    ("headers", "body", "status", "words"),
    [
        ({}, b"time_start,time_end\n", 401, "upload token"),
        ({"Authorization": "Bearer wrong"}, b"x", 401, "upload token"),
        ({"Authorization": TOKEN}, b"x", 401, "upload token"),  # no Bearer scheme
        ({"Authorization": f"Bearer {TOKEN}"}, b"", 400, "empty file"),
        ({"Authorization": f"Bearer {TOKEN}"}, b"a,b\n1,2\n", 400, "missing required column"),
        ({"Authorization": f"Bearer {TOKEN}"}, b"\xff\xfe\x00bad", 400, "not UTF-8"),
        ({"Authorization": f"Bearer {TOKEN}"}, b"x" * 3000, 413, "exceeds the limit"),
    ],
)
def test_rejected_uploads_leave_the_store_unchanged(store, headers, body, status, words):
    before = store_state(store)
    with make_client(store, max_upload_mb=2000 / 2**20) as c:
        r = c.post("/api/ingest", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert "/tmp" not in r.json()["detail"]
    assert store_state(store) == before


def test_oversized_streamed_upload_is_cut_off(store):
    """No Content-Length (chunked): the server counts while streaming."""
    before = store_state(store)

    def chunks():
        for _ in range(100):
            yield b"y" * 1000

    with make_client(store, max_upload_mb=10_000 / 2**20) as c:
        r = c.post("/api/ingest", content=chunks(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 413
    assert store_state(store) == before


@pytest.mark.parametrize("token", [None, "", "   "])
def test_uploads_are_refused_without_a_configured_token(store, token):
    before = store_state(store)
    with TestClient(create_app(Settings(db=store, upload_token=token, warm=False))) as c:
        r = c.post("/api/ingest", content=b"x", headers={"Authorization": "Bearer "})
    assert r.status_code == 403
    assert "BARRAGE_UPLOAD_TOKEN" in r.json()["detail"]
    assert store_state(store) == before


def wait_for(client: TestClient, job_id: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout_s} s")


def test_salvo_job_gives_the_library_result(client):
    r = client.post("/api/jobs/salvo", json={"scenario": EXAMPLE, "runs": 1500, "seed": 7})
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "done", job["error"]
    assert job["progress"] == {"done": 1500, "total": 1500, "fraction": 1.0}
    expected = simulate(load_scenario(example_scenarios()[EXAMPLE]), runs=1500, seed=7).summary()
    assert job["result"] == json.loads(json.dumps(expected))
    assert "unserved energy" in job["unserved_energy_note"]


def test_inline_scenario_and_its_validation(client):
    spec = load_scenario(example_scenarios()[EXAMPLE]).model_dump(mode="json")
    r = client.post("/api/jobs/salvo", json={"scenario_spec": spec, "runs": 64})
    assert r.status_code == 202
    assert wait_for(client, r.json()["id"])["state"] == "done"
    spec["layers"][0]["engages"] = ["flying_carpet"]
    r = client.post("/api/jobs/salvo", json={"scenario_spec": spec, "runs": 64})
    assert r.status_code == 400
    assert "flying_carpet" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"runs": 10**9}, 422, "less than or equal to 50000"),
        ({"runs": 0}, 422, "body.runs"),
        ({"runs": "many"}, 422, "body.runs"),
        ({"scenario": "nope"}, 400, "unknown scenario 'nope'"),
        ({"scenario": EXAMPLE, "scenario_spec": {}}, 400, "not both"),
        ({"scenario": EXAMPLE, "colour": "red"}, 422, "body.colour"),
    ],
)
def test_bad_jobs_are_refused(client, body, status, words):
    r = client.post("/api/jobs/salvo", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert client.get("/api/jobs").json() == []


def gated_salvo_runner(gate: threading.Event):
    """A stand-in for :func:`barrage.web.jobs.salvo_runner` whose job reports progress
    block by block and finishes only once ``gate`` is set: it outlasts any time limit and
    is still running when cancelled, on a fast machine as on a slow one."""

    def factory(scenario, *, runs: int, seed: int, chunk_runs: int = 1024):
        def run(on_progress):
            done = 0
            while not gate.is_set():
                done = min(done + chunk_runs, runs - 1)
                on_progress(done, runs)  # raises when the job is to stop
                gate.wait(0.01)
            on_progress(runs, runs)
            return {"runs": runs}

        return run

    return factory


def wait_until(predicate, what: str, timeout_s: float = 30):
    """Poll ``predicate`` (a hang guard, not a speed check: the jobs here wait on events)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout_s} s")
        time.sleep(0.02)


def test_jobs_are_bounded_in_queue_time_and_cancellable(store, monkeypatch):
    from barrage.web.routes import jobs as app_module

    gate = threading.Event()  # never set: every job runs until it is stopped
    monkeypatch.setattr(app_module, "salvo_runner", gated_salvo_runner(gate))
    big = {"scenario": "2025-07-09_combined", "runs": 50_000}
    with make_client(store, max_queue=2, job_timeout_s=0.3) as c:
        first = c.post("/api/jobs/salvo", json=big).json()
        second = c.post("/api/jobs/salvo", json=big).json()
        full = c.post("/api/jobs/salvo", json=big)
        assert full.status_code == 429
        assert "queue full" in full.json()["detail"]
        cancelled = c.delete(f"/api/jobs/{second['id']}")
        assert cancelled.status_code == 200
        first_done = wait_for(c, first["id"])
        assert first_done["state"] == "timed_out"
        assert "time limit" in first_done["error"]
        assert 0 < first_done["progress"]["done"] < 50_000
        assert wait_for(c, second["id"])["state"] == "cancelled"
        assert c.delete(f"/api/jobs/{first['id']}").status_code == 409
    with make_client(store) as c:
        job = c.post("/api/jobs/salvo", json=big).json()
        url = f"/api/jobs/{job['id']}"
        wait_until(lambda: c.get(url).json()["progress"]["done"] > 0, "job started")
        assert c.delete(url).status_code == 200
        stopped = wait_for(c, job["id"])
        assert stopped["state"] == "cancelled"
        assert 0 < stopped["progress"]["done"] < 50_000


class _Stop(Exception):
    """Raised by :func:`_stopping_hook`'s hook, as a cancel or a time limit would."""


def _stopping_hook():
    """A progress hook that records each report and stops the work at the first."""
    seen: list[tuple[int, int]] = []

    def on_progress(done: int, total: int) -> None:
        seen.append((done, total))
        raise _Stop

    return seen, on_progress


def test_the_salvo_runner_stops_at_the_first_progress_report_that_says_so():
    """The real runner checks between blocks of runs: a stop raised from its first
    progress report ends the work there (what a timeout or a cancel relies on)."""
    from barrage.web.jobs import salvo_runner

    seen, on_progress = _stopping_hook()
    scn = load_scenario(example_scenarios()["2025-07-09_combined"])
    with pytest.raises(_Stop):
        salvo_runner(scn, runs=50_000, seed=0)(on_progress)
    assert len(seen) == 1 and seen[0][0] < 50_000 and seen[0][1] == 50_000


def test_strike_jobs_say_what_is_missing_and_run_a_bundled_scenario(
    client, shared_data, monkeypatch
):
    from barrage.grid import simulate_strike
    from barrage.grid.strike import example_strike_scenarios

    assert "/api/jobs/strike" in client.get("/openapi.json").json()["paths"]
    assert client.get("/health").json()["strike_simulation_available"]
    r = client.post("/api/jobs/strike", json={"scenario": "nope", "runs": 10})
    assert r.status_code == 400, r.text
    assert "strike_case24" in r.json()["detail"]  # names what may be asked for
    grid_dir = shared_data / "grid" / "pglib-opf"
    monkeypatch.setenv("BARRAGE_GRID_DIR", str(grid_dir))
    r = client.post("/api/jobs/strike", json={"runs": 12, "seed": 3})  # the bundled default
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "done", job["error"]
    expected = simulate_strike(
        example_strike_scenarios()["strike_case24"], runs=12, seed=3, grid_dir=grid_dir
    ).summary()
    got = job["result"]["unserved_energy_mwh"]
    assert got == pytest.approx(expected["unserved_energy_mwh"], rel=1e-9)


CAMPAIGN = {"runs": 3, "days": 6, "seed": 4}


def test_campaign_job_gives_the_cli_summary_and_its_fan_charts(store, shared_data):
    """A small campaign job answers with ``barrage simulate campaign --json``'s summary,
    and its figures are the report's fan charts of that summary."""
    from typer.testing import CliRunner

    from barrage.cli import app

    grid = shared_data / "grid" / "pglib-opf"
    with make_client(store, grid_dir=grid) as c:
        r = c.post("/api/jobs/campaign", json=CAMPAIGN)
        assert r.status_code == 202, r.text
        job = wait_for(c, r.json()["id"], timeout_s=120)  # a hang guard: seconds of work
        assert job["state"] == "done", job["error"]
        figs = c.get(f"/api/jobs/{job['id']}/figures")
    assert job["request"] == {"scenario": "winter_stylised", "start": "2024-11-01", **CAMPAIGN}
    args = ["simulate", "campaign", "winter_stylised", "--runs", "3", "--days", "6", "--seed"]
    args += ["4", "--scheduler", "sync", "--json", "--grid-dir", str(grid)]
    cli = CliRunner().invoke(app, args)
    assert cli.exit_code == 0, cli.output
    assert job["result"] == json.loads(cli.stdout)
    assert figs.status_code == 200, figs.text
    figs = figs.json()
    summary = job["result"]
    assert len(figs) == 2 + len(summary["interceptors"])
    hours = figs[0]
    assert hours["layout"]["xaxis"]["title"]["text"] == "date"
    assert hours["layout"]["yaxis"]["title"]["text"] == "hours per day"
    by_name = {t["name"]: t["y"] for t in hours["data"]}
    fan = summary["hours_without_power_per_day"]["by_day"]
    assert by_name["median"] == fan["p50"] and by_name["mean"] == fan["mean"]
    assert by_name["p95"] == fan["p95"] and by_name["90% of runs (p05-p95)"] == fan["p05"]
    assert by_name["CVaR95 (mean of the highest 5%)"] == fan["cvar95"]
    assert figs[-1]["data"][2]["y"] == summary["attacker_stock"]["p50"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"runs": 0}, 422, "body.runs: Input should be greater than or equal to 1"),
        ({"days": 400}, 422, "body.days: Input should be less than or equal to 366"),
        ({"start": "2024-13-01"}, 422, "body.start"),
        ({"colour": "red"}, 422, "body.colour"),
        ({"scenario": "nope"}, 400, "unknown campaign scenario 'nope'; expected one of "),
        ({"runs": 1000}, 400, "runs x days: 1,000 x 150 = 150,000 run-days, more than"),
        (
            {"start": "2300-01-01"},
            422,
            "body.start: Input should be less than or equal to 2200-12-31",
        ),
        (
            {"start": "1800-01-01"},
            422,
            "body.start: Input should be greater than or equal to 1900-01-01",
        ),
        ({"runs": 2**70}, 422, "body.runs: Input should be less than or equal to"),
        ({"scenario": "x" * 3000}, 422, "body.scenario: String should have at most 64 characters"),
    ],
)
def test_bad_campaign_jobs_get_one_clear_message(client, body, status, words):
    r = client.post("/api/jobs/campaign", json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert words in detail and "\n" not in detail
    assert client.get("/api/jobs").json() == []


def test_the_campaign_runner_stops_at_the_first_progress_report_that_says_so(shared_data):
    """A campaign job's cancel and time limit act through the runner's progress hook: a
    stop raised from its first report (before any season is played) ends the work."""
    from barrage.web.jobs import campaign_runner

    seen, on_progress = _stopping_hook()
    grid = shared_data / "grid" / "pglib-opf"
    run = campaign_runner("winter_stylised", runs=60, seed=0, start=None, days=150, grid_dir=grid)
    with pytest.raises(_Stop):
        run(on_progress)
    assert seen == [(0, 60)]


def test_fan_charts_need_a_finished_campaign_job(client):
    assert client.get("/api/jobs/nope/figures").status_code == 404
    r = client.post("/api/jobs/salvo", json={"scenario": EXAMPLE, "runs": 64})
    job = wait_for(client, r.json()["id"])
    r = client.get(f"/api/jobs/{job['id']}/figures")
    assert r.status_code == 409
    assert "finished campaign job" in r.json()["detail"]


def test_dashboard_is_served_offline_and_responsive(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert '<meta name="viewport"' in html
    assert ATTRIBUTION.split(".")[0].replace("'", "&#x27;") in html
    assert 'src="/static/plotly.min.js"' in html
    assert "cdn" not in html.lower()
    for section in ("warning-banner", "timeline-plot", "indicator-plot", "sim-form"):
        assert f'id="{section}"' in html or f"id='{section}'" in html
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_load_only_bundled_assets(client, page):
    """Swagger UI and ReDoc come from the installed package: every script, stylesheet and
    icon the page names is served here, and no URL leaves the server."""
    import re

    html = client.get(page).text
    assert "/openapi.json" in html
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    urls += re.findall(r"""(?:url|openapi_url|spec-url)\s*[:=]\s*["']([^"']+)["']""", html)
    assert urls, html
    assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    for u in urls:
        assert client.get(u).status_code == 200, u


def test_openapi_types_every_json_response(client):
    schema = client.get("/openapi.json").json()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, (method, path)
            for code in ok:
                content = op["responses"][code].get("content", {})
                assert "schema" in content.get("application/json", {}), (method, path, code)


def test_barrage_serve_binds_loopback_and_answers(store):
    """The real command: a subprocess on a free loopback port, /health answers."""
    import os
    import subprocess
    import sys

    from _webserver import free_port, wait_for_health

    port = free_port()
    env = dict(os.environ, BARRAGE_UPLOAD_TOKEN="", BARRAGE_WARM="false")  # as make_client
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from barrage.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--db",
            str(store),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        r = wait_for_health(port, proc)
        assert r.json()["store"] == str(store)
        assert r.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
