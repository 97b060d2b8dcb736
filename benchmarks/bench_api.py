"""Benchmark the API: GET of the assessment under 50 concurrent clients on loopback.

A uvicorn server (``barrage.web``, one process) serves a store built from the shared
snapshot; a load generator in this process keeps ``--clients`` keep-alive connections
busy for ``--duration`` seconds against each endpoint in turn and reports p50/p99
latency, throughput and errors (any non-200 or failed request). Reference runs in the
same script:

* ``GET /health`` (trivial, no store read): the server's floor;
* the uncached library call behind the endpoint (what a request would cost without the
  cache keyed on the newest ingest).

The warning endpoint is ``/api/assessment``; while this build has no
``barrage.warning.assess`` it answers 503, and the bench measures ``/api/indicators``
(the same cached path, the same size class of answer) instead and says so.

Run: ``python benchmarks/bench_api.py [--clients 50] [--duration 30] [--db FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    env = os.environ.get("BARRAGE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _client(host: str, port: int, path: str, stop_at: float, lat: list, errors: list):
    """One keep-alive HTTP/1.1 connection sending GETs back to back."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        writer.close()


async def _load(host, port, path, clients, duration):
    lat: list[float] = []
    errors: list = []
    t0 = time.perf_counter()
    stop_at = t0 + duration
    await asyncio.gather(*(_client(host, port, path, stop_at, lat, errors) for _ in range(clients)))
    return lat, errors, time.perf_counter() - t0


def measure(host, port, path, clients, duration) -> dict:
    lat, errors, elapsed = asyncio.run(_load(host, port, path, clients, duration))
    ms = sorted(x * 1000 for x in lat)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "path": path,
        "requests": len(ms),
        "errors": len(errors),
        "rps": len(ms) / elapsed,
        "p50_ms": q[49],
        "p99_ms": q[98],
        "max_ms": ms[-1],
    }


def library_call_ms(db: Path, path: str, repeat: int = 5) -> float:
    """Median time of the uncached library call behind ``path`` (store open included)."""
    from barrage.record import open_store
    from barrage.web import queries

    call = {
        "/api/assessment": lambda con: queries.assessment(con, as_of=None, target=None),
        "/api/indicators": lambda con: queries.indicators(con, as_of=None, target=None, days=365),
    }[path]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with open_store(db) as con:
            call(con).model_dump_json()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--db", type=Path, default=None, help="A store (else built from the snapshot).")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="barrage-bench-api-"))
    try:
        db = tmp / "store.duckdb"
        if args.db is not None:
            shutil.copy(args.db, db)
        else:
            from barrage.record import ingest_record

            ingest_record(_shared() / "attack-record" / "missile_attacks_daily.csv", db)
        host, port = "127.0.0.1", _free_port()
        env = dict(os.environ, BARRAGE_DB=str(db))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "barrage.web.app:create_app",
                "--factory",
                "--host",
                host,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
        )
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://{host}:{port}/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.2)
            path = "/api/assessment"
            warm = httpx.get(f"http://{host}:{port}{path}", timeout=120)
            if warm.status_code == 503:
                print(f"{path}: 503 ({warm.json()['detail']}); measuring /api/indicators instead")
                path = "/api/indicators"
                warm = httpx.get(f"http://{host}:{port}{path}", timeout=120)
            warm.raise_for_status()
            print(
                f"answer size {len(warm.content):,} bytes; {args.clients} clients, "
                f"{args.duration:g} s per endpoint, keep-alive, loopback"
            )
            results = [
                measure(host, port, "/health", args.clients, args.duration),
                measure(host, port, path, args.clients, args.duration),
            ]
        finally:
            server.terminate()
            server.wait(timeout=20)
        lib_ms = library_call_ms(db, path)
        for r in results:
            print(
                f"{r['path']:<18} {r['requests']:>7,} requests  {r['rps']:>7,.0f} req/s  "
                f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                f"max {r['max_ms']:6.1f} ms  errors {r['errors']}"
            )
        health, api = results
        print(f"uncached library call behind {path}: {lib_ms:.1f} ms (median of 5)")
        print(f"ratio p50 {path} / p50 /health: {api['p50_ms'] / health['p50_ms']:.2f}")
        print(
            f"throughput {path} cached / uncached library calls back to back "
            f"({1000 / lib_ms:.1f}/s): {api['rps'] * lib_ms / 1000:.0f}x"
        )
        print(f"throughput {path} / /health: {api['rps'] / health['rps']:.2f}")
        ok = api["errors"] == 0 and health["errors"] == 0 and api["p99_ms"] < 100
        print("PASS" if ok else "FAIL", "(zero errors and p99 < 100 ms)")
        if not ok:
            raise SystemExit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
