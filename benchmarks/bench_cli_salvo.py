"""Benchmark ``barrage simulate salvo`` through the command line: 2 workers against sync.

Reference: the same command with ``--scheduler sync`` (one process). Each timing is a
fresh ``barrage`` process, start-up included (imports, the cluster's start and stop, the
workers' imports). Repeats are interleaved, the order flipped every repeat, so that a
change in the machine's load falls on both; the JSON of every run must be the same bytes.
Prints each run (wall, CPU of the command and its workers, load average), then one line
per size: sync median, local median (ranges), and the ratio of the medians.

The machine may be shared: say so with the figures, and rerun on a quiet one. Linux shares
the CPU between sessions (autogroup), so on a busy machine a command and its workers get
about one core however many processes they run; docs/benchmarks.md shows how the figures
there gave the benchmark's session a quiet machine's weight.

Run: ``python benchmarks/bench_cli_salvo.py [--runs 2000000] [--repeat 3]``
(``--runs 1,200000,500000,2000000`` scans where a local cluster starts to pay; ``--runs 1``
is the fixed cost). ``--gil`` first checks whether threads could share the work: the
salvo kernel on 2 threads of this process against 1 (a thread-based cluster is only
worth it if the kernel releases the GIL).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BARRAGE = [str(Path(sys.executable).parent / "barrage")]
SCHEDULERS = {"sync": ["--scheduler", "sync"], "local": ["--scheduler", "local"]}


def timed(args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (the command and its children) and the JSON's digest."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(BARRAGE + args, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return wall, cpu, hashlib.sha256(out.encode()).hexdigest()[:12]


def measure(base: list[str], workers: int, repeat: int) -> dict[str, list[float]]:
    """Interleaved repeats of sync and local; refuses different JSON."""
    walls: dict[str, list[float]] = {"sync": [], "local": []}
    digests = set()
    for i in range(repeat):
        order = ("sync", "local") if i % 2 == 0 else ("local", "sync")
        for name in order:
            extra = SCHEDULERS[name] + (["--workers", str(workers)] if name == "local" else [])
            load = os.getloadavg()[0]
            wall, cpu, digest = timed(base + extra)
            walls[name].append(wall)
            digests.add(digest)
            print(
                f"  {name:>5}: {wall:6.1f} s wall, {cpu:6.1f} s CPU ({cpu / wall:.2f} cores), "
                f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}, json {digest}",
                flush=True,
            )
    if len(digests) != 1:
        raise SystemExit(f"different JSON on sync and local: {sorted(digests)}")
    return walls


def gil_check(scenario: str, runs: int = 262_144) -> None:
    """The same salvo chunks on 1 thread, then split over 2 threads of this process."""
    import threading

    from barrage.compute.salvo import MAX_CHUNK_BLOCKS
    from barrage.salvo import compile_scenario, example_scenarios, load_scenario
    from barrage.salvo.blocks import n_blocks
    from barrage.salvo.engine import simulate_blocks

    cs = compile_scenario(load_scenario(example_scenarios()[scenario]))
    starts = list(range(0, n_blocks(runs), MAX_CHUNK_BLOCKS))

    def work(part: list[int]) -> None:
        for lo in part:
            simulate_blocks(cs, seed=0, runs=runs, start=lo, stop=lo + MAX_CHUNK_BLOCKS)

    work(starts[:1])  # warm
    walls = []
    for split in (1, 2):
        threads = [threading.Thread(target=work, args=(starts[i::split],)) for i in range(split)]
        t0, c0 = time.perf_counter(), time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        walls.append(time.perf_counter() - t0)
        cpu = time.process_time() - c0
        print(f"  {split} thread(s): {walls[-1]:.2f} s wall, {cpu:.2f} s CPU ({runs:,} runs)")
    print(f"threads: 2 threads / 1 thread speed-up {walls[0] / walls[1]:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="2000000", help="runs, or several comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenario", default="2025-07-09_combined")
    ap.add_argument("--gil", action="store_true", help="first, the 2-thread check")
    a = ap.parse_args()
    if a.gil:
        gil_check(a.scenario)
    print(
        f"{os.cpu_count()} cores, nice {os.nice(0)}, load average {os.getloadavg()[0]:.1f}; "
        f"barrage simulate salvo {a.scenario}, {a.workers} workers"
    )
    lines = []
    for runs in [int(r) for r in a.runs.split(",")]:
        print(f"{runs:,} runs:")
        base = ["simulate", "salvo", a.scenario, "--runs", str(runs), "--seed", "0", "--json"]
        walls = measure(base, a.workers, a.repeat)
        s, loc = (statistics.median(walls[k]) for k in ("sync", "local"))
        lines.append(
            f"{runs:,} runs: sync median {s:.1f} s ({min(walls['sync']):.1f}-"
            f"{max(walls['sync']):.1f}), local median {loc:.1f} s ({min(walls['local']):.1f}-"
            f"{max(walls['local']):.1f}), ratio sync/local {s / loc:.2f}x"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
