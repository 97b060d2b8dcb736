"""Benchmark ``barrage simulate campaign``: seasons per second, sync against 2 workers.

Reference: the same command with ``--scheduler sync`` (one process). Measured through
the CLI (a fresh process each, start-up included): the ratio sync / local-2-workers, and
the start-up share (import, scenario and network, cluster start) of each run, timed as
the same command with ``--runs 1``. The machine may be shared; say so with the figures.

``--phases R``: instead, the library's phases of a sync run of R runs, wall and CPU,
to read the serial share (what 2 workers cannot split: import, context, the client's
merge, lookup and summary) against the parallel share (play, LP solves).

Run: ``python benchmarks/bench_campaign.py [--runs 1000] [--days 150] [--phases 100]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BARRAGE = [str(Path(sys.executable).parent / "barrage")]


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(args: list[str]) -> tuple[float, str, float]:
    """(wall s, stdout, CPU s of the command and every process it waited for: its Dask
    workers too). On a shared machine CPU seconds move less than wall time."""
    c0, t0 = _children_cpu_s(), time.perf_counter()
    out = subprocess.run(BARRAGE + args, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, out, _children_cpu_s() - c0


def phases(runs: int, scenario: str) -> None:
    """Wall and CPU of each phase of one sync campaign, in this process."""
    clock = [time.perf_counter(), time.process_time()]
    rows = []

    def mark(name: str, parallel: bool) -> None:
        now = [time.perf_counter(), time.process_time()]
        rows.append((name, parallel, now[0] - clock[0], now[1] - clock[1]))
        clock[:] = now

    import numpy as np

    from barrage.campaign import build_context, load_campaign, summarise_campaign
    from barrage.campaign import engine as e
    from barrage.compute.campaign import campaign_chunks

    mark("import", False)
    ctx = build_context(load_campaign(scenario))
    mark("scenario, network, context", False)
    parts = [e.play_chunk(ctx, c) for c in campaign_chunks(runs, 0)]
    mark("play the chunks", True)
    intact = np.zeros((1, len(ctx.demand_factor), len(ctx.model.target_rows)), dtype=bool)
    stacked = np.concatenate([e.pair_keys(intact, ctx.demand_factor)[0], *(p.keys for p in parts)])
    pieces = e.shed_pieces(ctx, stacked[e.unique_rows(stacked)[0]], 10**9)
    mark("merge distinct sets (client)", False)
    values = [e.solve_piece(ctx, p) for p in pieces]
    mark("LP solves", True)
    runs_ = e.price_played(ctx, parts, lambda ps: values if ps else [])
    mark("lookup and assemble (client)", False)
    json.dumps(summarise_campaign(ctx, runs_))
    mark("summary and JSON (client)", False)
    total = sum(r[2] for r in rows)
    n_lp = sum(len(p[1]) for p in pieces)
    print(f"{runs} runs: {n_lp} distinct (damaged set, demand) pairs solved")
    for name, par, wall, cpu in rows:
        kind = "parallel" if par else "serial"
        print(f"{name:32s} {kind:8s} wall {wall:7.2f} s  CPU {cpu:7.2f} s  {wall / total:6.1%}")
    serial = sum(r[2] for r in rows if not r[1]) / total
    print(
        f"serial share {serial:.1%}: Amdahl bound on 2 workers {1 / (serial + (1 - serial) / 2):.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--days", type=int, default=150)
    ap.add_argument("--scenario", default="winter_stylised")
    ap.add_argument("--only", choices=("sync", "local"), help="time one scheduler only")
    ap.add_argument("--phases", type=int, help="phases of a sync run of this many runs")
    a = ap.parse_args()
    if a.phases:
        phases(a.phases, a.scenario)
        return
    base = ["simulate", "campaign", a.scenario, "--days", str(a.days), "--seed", "0", "--json"]
    rows = {}
    for sched in (["--scheduler", "sync"], ["--scheduler", "local", "--workers", "2"]):
        if a.only and sched[1] != a.only:
            continue
        startup, _, _ = timed(base + ["--runs", "1"] + sched)
        load0 = os.getloadavg()[0]
        total, out, cpu = timed(base + ["--runs", str(a.runs)] + sched)
        load1 = os.getloadavg()[0]
        rows[sched[1]] = (total, startup, hashlib.sha256(out.encode()).hexdigest()[:12])
        print(
            f"{sched[1]:>5}: {a.runs} runs x {a.days} days in {total:7.1f} s "
            f"({a.runs / total:5.2f} runs/s); start-up (--runs 1) {startup:5.1f} s = "
            f"{startup / total:.0%} of the run; CPU {cpu:7.1f} s; json sha256 {rows[sched[1]][2]}; "
            f"load average {load0:.1f} before, {load1:.1f} after (2 cores)"
        )
    if len(rows) < 2:
        return
    ratio = rows["sync"][0] / rows["local"][0]
    same = rows["sync"][2] == rows["local"][2]
    print(f"ratio sync / local-2-workers: {ratio:.2f}x (target >= 1.6x); same JSON: {same}")


if __name__ == "__main__":
    main()
