"""Load test on loopback with a write in the middle: does the dashboard keep serving?

``barrage serve`` (its own process) serves a copy of the snapshot store; ``--clients``
concurrent clients send a dashboard-like mix of GETs (page, summary, nights pages,
indicators, assessment, scorecard, health) for ``--duration`` seconds; after a third of
it, a writer runs in another process, as cron would run it:

* ``--writer update`` (default): ``barrage update --url file://<newer record>``
  (fetch, ingest under the lock, assess, log the forecast);
* ``--writer ingest``: ``barrage ingest <newer record>`` then one forecast-log append
  (the same writes without the minute-long assessment; used by the CI test).

The load runs until the duration is over *and* for at least a third of it after the
writer has finished. Then it checks:
no 5xx, no failed request, the store holds exactly the old rows plus the new ones with
no duplicated key, and the forecast log verifies with one more entry. Reference in the
same run: the request rate before the writer started (ratio = rate during / before).

Run: ``python benchmarks/load_update.py [--clients 50] [--duration 60] [--writer update]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BARRAGE = str(Path(sys.executable).with_name("barrage"))
PATHS = [
    "/",
    "/health",
    "/api/summary",
    "/api/nights?limit=50",
    "/api/nights?offset=50&limit=50",
    "/api/nights?weapon_class=ballistic_missile",
    "/api/indicators",
    "/api/assessment",
    "/api/scorecard",
]
APPEND = """
import sys
from barrage.record import open_store
from barrage.warning.forecast_log import append_forecast
with open_store(sys.argv[1], read_only=False) as con:  # waits for readers, as update does
    append_forecast(con, {"as_of": "2025-10-06", "target": "massive_missiles",
                    "p": {"1": 0.1}}, model_version="load-test", record_sha256="0" * 64)
"""


def shared_data() -> Path:
    env = os.environ.get("BARRAGE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store_state(db: Path) -> dict:
    import duckdb

    from barrage.warning.forecast_log import verify_log

    with duckdb.connect(str(db), read_only=True) as con:
        return {
            "rows": con.execute("SELECT count(*) FROM attacks").fetchone()[0],
            "duplicate_keys": con.execute(
                "SELECT count(*) FROM (SELECT time_start, time_end, model, source, key_seq "
                "FROM attacks GROUP BY ALL HAVING count(*) > 1)"
            ).fetchone()[0],
            "ingests": con.execute("SELECT count(*) FROM ingests").fetchone()[0],
            "log_entries": verify_log(con),
        }


async def _client(http, stop, results: list, start: float, k: int, paths) -> None:
    i = k
    while not stop.is_set():
        path = paths[i % len(paths)]
        i += 1
        t0 = time.perf_counter()
        try:
            r = await http.get(path)
            status = r.status_code
        except Exception as exc:  # noqa: BLE001 - a failed request is a result
            status = f"error:{type(exc).__name__}"
        results.append((t0 - start, time.perf_counter() - t0, status, path, k))


async def _load(url: str, clients: int, duration: float, writer_cmds, log, paths) -> dict:
    import httpx

    stop = asyncio.Event()
    results: list = []
    start = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        tasks = [
            asyncio.create_task(_client(http, stop, results, start, k, paths))
            for k in range(clients)
        ]
        await asyncio.sleep(duration / 3)
        w0 = time.perf_counter() - start
        codes = []
        for cmd in writer_cmds:
            proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            _, err = await proc.communicate()
            codes.append(proc.returncode)
            if proc.returncode:
                log(f"writer {cmd[:2]} exit {proc.returncode}: {err.decode()[-500:]}")
        w1 = time.perf_counter() - start
        # at least a third of the duration after the writer, however long it took
        await asyncio.sleep(max(duration / 3, duration - w1))
        stop.set()
        await asyncio.gather(*tasks)
    return {"results": results, "writer": (w0, w1), "writer_codes": codes,
            "elapsed": time.perf_counter() - start}  # fmt: skip


def run(
    *, clients: int, duration: float, writer: str, workdir: Path, log=print, paths=PATHS
) -> dict:
    """One load run; returns the figures and the checks (see the module docstring)."""
    from barrage.record import ingest_record

    sys.path.insert(0, str(REPO / "tests"))
    from test_hardening_crash import newer_record

    record = shared_data() / "attack-record" / "missile_attacks_daily.csv"
    db = workdir / "load.duckdb"
    ingest_record(record, db)
    newer = newer_record(record, workdir / "newer.csv")
    before = store_state(db)
    if writer == "update":
        cmds = [[BARRAGE, "update", "--db", str(db), "--to", str(workdir / "dl"),
                 "--url", newer.as_uri(), "--wait", "60"]]  # fmt: skip
    else:
        cmds = [[BARRAGE, "ingest", str(newer), "--db", str(db)],
                [sys.executable, "-c", APPEND, str(db)]]  # fmt: skip
    port = free_port()
    env = {**os.environ, "BARRAGE_DB": str(db)}
    server = subprocess.Popen(
        [BARRAGE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"server did not start: {server.stderr.read().decode()}")
            time.sleep(0.2)
        # The server's warm-up (the assessment, then the page) holds a read connection
        # while it refits: 10-20 s on a quiet machine, over a minute on a loaded one, and
        # no other process can write meanwhile. A server in use is past it: wait for it
        # (these two requests wait on the warm-up's own computation), however long it
        # takes here, then warm the caches as a dashboard in use would have them.
        for p in dict.fromkeys(["/api/assessment", "/", *paths]):
            httpx.get(url + p, timeout=None)
        out = asyncio.run(_load(url, clients, duration, cmds, log, paths))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a recompute still running: not our concern here
            server.kill()
            server.wait()
    after = store_state(db)
    results = out["results"]
    w0, w1 = out["writer"]
    statuses = Counter(str(r[2]) for r in results)
    during = [r for r in results if w0 <= r[0] < w1]
    pre = [r for r in results if r[0] < w0]
    post = [r for r in results if r[0] >= w1]
    lat = sorted(r[1] for r in during) or [0.0]
    figures = {
        "clients": clients,
        "writer": writer,
        "elapsed_s": round(out["elapsed"], 1),
        "writer_window_s": [round(w0, 1), round(w1, 1)],
        "writer_exit_codes": out["writer_codes"],
        "requests": len(results),
        "statuses": dict(statuses),
        "server_errors_5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
        "failed_requests": sum(n for s, n in statuses.items() if s.startswith("error")),
        "rate_before_rps": round(len(pre) / max(w0, 1e-9), 1),
        "rate_during_rps": round(len(during) / max(w1 - w0, 1e-9), 1),
        "requests_before_writer": len(pre),
        "requests_after_writer": len(post),
        "clients_served": len({r[4] for r in results if r[2] == 200}),
        "p99_during_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 1),
        "max_during_ms": round(1000 * lat[-1], 1),
        "before": before,
        "after": after,
        "rows_expected_after": before["rows"] + 10,
    }
    figures["failed_request_details"] = [
        {"at_s": round(r[0], 2), "after_s": round(r[1], 3), "status": r[2], "path": r[3]}
        for r in results
        if str(r[2]).startswith("error")
    ][:20]
    figures["ratio_during_vs_before"] = round(
        figures["rate_during_rps"] / max(figures["rate_before_rps"], 1e-9), 2
    )
    figures["ok"] = (
        figures["server_errors_5xx"] == 0
        and figures["failed_requests"] == 0
        and all(c == 0 for c in out["writer_codes"])
        and after["rows"] == before["rows"] + 10
        and after["duplicate_keys"] == 0
        and after["log_entries"] == before["log_entries"] + 1
    )
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--writer", choices=["update", "ingest"], default="update")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="barrage-load-") as tmp:
        figures = run(
            clients=args.clients, duration=args.duration, writer=args.writer, workdir=Path(tmp)
        )
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
