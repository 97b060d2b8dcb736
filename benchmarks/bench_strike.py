"""Benchmark the strike Monte Carlo (salvo -> hits -> load shed -> restoration).

Reference run, in the same script: pricing every (run, day) damaged set with its own
DC OPF (``shed_load_batch`` over all runs x days rows, no deduplication), timed on a few
runs and scaled per run. Measured: :func:`barrage.grid.simulate_strike` on the shipped
example (case24, 365 days), where each distinct (damaged set, demand level) is solved once
(``np.unique`` over packed masks, cached). Printed: seconds per run of each and the ratio.

Wall and CPU seconds are both printed: on a shared machine the wall time depends on the
other jobs, the CPU time much less. ``--scenario ukraine_stylised`` measures the
stylised national system (case118 unit by unit, 120 days; the issue's aim: 1,000 runs
in under 60 s, sync).

Run: ``python benchmarks/bench_strike.py [--scenario strike_case24] [--runs 2000]
[--reference-runs 10]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from barrage.grid import shed_load_batch, simulate_strike
from barrage.grid.strike import build_strike_model, example_strike_scenarios, load_strike_scenario


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="strike_case24")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--reference-runs", type=int, default=10)
    parser.add_argument(
        "--grid-dir",
        default=os.environ.get(
            "BARRAGE_GRID_DIR",
            str(Path(__file__).resolve().parents[2] / "shared" / "data" / "grid" / "pglib-opf"),
        ),
    )
    args = parser.parse_args()
    path = example_strike_scenarios()[args.scenario]

    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate_strike(path, runs=args.runs, seed=0, grid_dir=args.grid_dir)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    fast = wall / args.runs
    r = result.restoration

    # reference: every (run, day) row solved on its own, for the first few runs
    model = build_strike_model(load_strike_scenario(path), grid_dir=args.grid_dir)
    n = args.reference_runs
    days = np.arange(r.shed_mw.shape[1])
    out = result.damaged[:n, None, :] & (r.repaired_day[:n, None, :] >= days[None, :, None])
    full = np.zeros((n * len(days), model.cache.n_assets), bool)
    full[:, model.target_rows] = out.reshape(-1, out.shape[2])
    t0 = time.perf_counter()
    shed_load_batch(model.network, full)
    slow = (time.perf_counter() - t0) / n

    print(f"runs {args.runs}, horizon {len(days)} days, network {result.network}")
    print(f"strike Monte Carlo (dedup + cache): {wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"strike Monte Carlo (dedup + cache): {fast * 1e3:.2f} ms/run")
    print(f"reference (one OPF per run-day, {n} runs): {slow * 1e3:.1f} ms/run")
    print(f"speed-up: {slow / fast:.0f}x")
    s = result.summary()["unserved_energy_mwh"]
    print("unserved energy MWh: mean {mean:,.0f} p95 {p95:,.0f} cvar95 {cvar95:,.0f}".format(**s))


if __name__ == "__main__":
    main()
