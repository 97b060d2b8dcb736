"""Hostile-job soak: random salvo job bodies within the API's stated limits, sent one at a
time to one `barrage serve` on 127.0.0.1, with the server's memory watched from /proc
(tests/test_hardening_soak.py and benchmarks/soak_jobs.py).

Each body stays within what the API states (OpenAPI): runs <= max_runs, weapons <=
max_weapons, a body under max_request_kb. Inside those, it reaches for the corners that
exhausted memory before issue 22: thousands of weapons, layers and assets copied many
times, tiny slots, huge channel counts, many runs.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from _webserver import free_port, wait_for_health

BARRAGE = str(Path(sys.executable).with_name("barrage"))
FINISHED = ("done", "failed", "cancelled", "timed_out")


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """Resident memory of ``pid`` (``VmHWM``: its peak so far), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def random_body(rng: random.Random, base: dict, *, max_runs: int, max_weapons: int) -> dict:
    """One job body inside the stated limits, aimed at the costly corners."""
    spec = copy.deepcopy(base)
    total = sum(g["count"] for g in spec["salvo"]["weapons"])
    scale = rng.choice([0.01, 1, 5, max_weapons / total])
    for g in spec["salvo"]["weapons"]:
        g["count"] = max(0, int(g["count"] * scale))
    layer_copies = rng.choice([1, 1, 5, 30])
    spec["layers"] = [
        {**layer, "name": f"{layer['name']}-{k}"}
        for k in range(layer_copies)
        for layer in base["layers"]
    ]
    asset_copies = rng.choice([1, 1, 20, 200])
    spec["assets"] = [
        {**a, "name": a["name"] if k == 0 else f"{a['name']}-{k}"}
        for k in range(asset_copies)
        for a in base["assets"]
    ]
    spec["slot_min"] = rng.choice([10, 10, 5, 1, 0.5, 0.1, 1e-5])
    if rng.random() < 0.2:
        spec["layers"][0]["channels"] = rng.choice([10**6, 10**7, 10**12])
    max_runs = int(max_runs)
    runs = int(round(10 ** rng.uniform(0, 1) * max_runs / 10)) if rng.random() < 0.5 else max_runs
    body = {
        "scenario_spec": spec,
        "runs": max(1, min(runs, max_runs)),
        "seed": rng.randrange(2**31),
    }
    if rng.random() < 0.15:
        body = {"scenario": "2024-08-26_combined", "runs": body["runs"]}
    return body


@dataclass
class SoakResult:
    jobs: list[dict] = field(default_factory=list)
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    wall_s: float = 0.0

    def summary(self) -> dict:
        by: dict[str, int] = {}
        for j in self.jobs:
            by[j["outcome"]] = by.get(j["outcome"], 0) + 1
        return {
            "jobs": len(self.jobs),
            "outcomes": by,
            "server_errors": sum(j["status"] >= 500 for j in self.jobs),
            "max_job_peak_rss_mb": round(max((j["peak_rss_mb"] for j in self.jobs), default=0), 1),
            "rss_start_mb": round(self.rss_start_mb, 1),
            "rss_end_mb": round(self.rss_end_mb, 1),
            "rss_growth_mb": round(self.rss_end_mb - self.rss_start_mb, 1),
            "server_peak_rss_mb": round(self.rss_peak_mb, 1),
            "max_job_s": round(max((j["seconds"] for j in self.jobs), default=0), 1),
            "wall_s": round(self.wall_s, 1),
        }


def _watch(pid: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], rss_mb(pid))
        except OSError:
            return
        stop.wait(0.1)


def soak(
    db: Path,
    n_jobs: int,
    *,
    seed: int = 0,
    job_timeout_s: float = 60.0,
    env: dict | None = None,
    log=None,
) -> SoakResult:
    """Start `barrage serve` on loopback, send ``n_jobs`` random bodies one at a time,
    wait for each to finish (at most its time limit plus a margin), then stop it."""
    from barrage.salvo import example_scenarios, load_scenario

    base = load_scenario(example_scenarios()["2024-08-26_combined"]).model_dump()
    port = free_port()
    server_env = {
        **os.environ,
        "BARRAGE_WARM": "false",
        "BARRAGE_JOB_TIMEOUT_S": str(job_timeout_s),
        "BARRAGE_MAX_JOB_ESTIMATE_S": str(job_timeout_s),  # refuse what would be cut
        "BARRAGE_MAX_QUEUE": "2",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [BARRAGE, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    out = SoakResult()
    t_start = time.monotonic()
    try:
        wait_for_health(port, proc, timeout_s=120)
        url = f"http://127.0.0.1:{port}"
        schema = httpx.get(url + "/openapi.json", timeout=30).json()
        runs_limit = next(
            (
                m["properties"]["runs"]["maximum"]
                for name, m in schema["components"]["schemas"].items()
                if "SalvoJobRequest" in name and "maximum" in m["properties"].get("runs", {})
            ),
            int(server_env.get("BARRAGE_MAX_RUNS", 50_000)),
        )
        max_weapons = int(server_env.get("BARRAGE_MAX_WEAPONS", 5000))
        httpx.post(url + "/api/jobs/salvo", json={"runs": 16}, timeout=60)  # warm the imports
        time.sleep(1)
        out.rss_start_mb = rss_mb(proc.pid)
        rng = random.Random(seed)
        for i in range(n_jobs):
            body = random_body(rng, base, max_runs=runs_limit, max_weapons=max_weapons)
            size_kb = len(json.dumps(body)) / 1024
            peak = [rss_mb(proc.pid)]
            stop = threading.Event()
            watcher = threading.Thread(target=_watch, args=(proc.pid, stop, peak), daemon=True)
            watcher.start()
            t0 = time.monotonic()
            r = httpx.post(url + "/api/jobs/salvo", json=body, timeout=120)
            outcome = f"http {r.status_code}"
            if r.status_code == 202:
                job_id = r.json()["id"]
                deadline = t0 + job_timeout_s * 3 + 60
                state = "queued"
                while state not in FINISHED and time.monotonic() < deadline:
                    time.sleep(0.2)
                    state = httpx.get(f"{url}/api/jobs/{job_id}", timeout=60).json()["state"]
                outcome = state if state in FINISHED else "unfinished"
            stop.set()
            watcher.join()
            job = {
                "i": i,
                "status": r.status_code,
                "outcome": outcome,
                "body_kb": round(size_kb, 1),
                "runs": body.get("runs"),
                "seconds": round(time.monotonic() - t0, 2),
                "peak_rss_mb": round(peak[0], 1),
                "detail": r.json().get("detail", "")[:160] if r.status_code >= 400 else "",
            }
            out.jobs.append(job)
            if log is not None:
                log(job)
        time.sleep(1)
        out.rss_end_mb = rss_mb(proc.pid)
        out.rss_peak_mb = rss_mb(proc.pid, "VmHWM")
    finally:
        out.wall_s = time.monotonic() - t_start
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out
