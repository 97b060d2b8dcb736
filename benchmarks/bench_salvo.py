"""Benchmark the salvo engine against a pure-Python reference of the same model.

Measures simulated weapon-engagements per second, where one weapon-engagement is one
weapon meeting one layer in one run (runs x weapons x layers), for:

* the vectorised engine (``barrage.salvo.simulate``), 100,000 runs by default;
* the pure-Python reference (``barrage.salvo.reference.simulate_reference``), loop per
  run and weapon, on fewer runs;
* numpy's raw draw rate of float64 uniforms on this machine: a practical ceiling for any
  Monte Carlo that needs one random number per weapon-engagement.

Run: ``python benchmarks/bench_salvo.py [--runs 100000] [--reference-runs 1000]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from barrage.salvo import compile_scenario, example_scenarios, load_scenario, simulate
from barrage.salvo.reference import simulate_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--reference-runs", type=int, default=1_000)
    parser.add_argument("--scenario", default="2025-07-09_combined")
    args = parser.parse_args()

    cs = compile_scenario(load_scenario(example_scenarios()[args.scenario]))
    per_run = cs.n_weapons * len(cs.layers)
    print(f"scenario {args.scenario}: {cs.n_weapons} weapons, {len(cs.layers)} layers")

    simulate(cs, runs=2048, seed=1)  # warm-up
    t0 = time.perf_counter()
    result = simulate(cs, runs=args.runs, seed=0)
    engine_s = time.perf_counter() - t0
    engine_rate = args.runs * per_run / engine_s

    t0 = time.perf_counter()
    ref = simulate_reference(cs, runs=args.reference_runs, seed=0)
    ref_s = time.perf_counter() - t0
    ref_rate = args.reference_runs * per_run / ref_s

    rng = np.random.default_rng(0)
    n = 20_000_000
    rng.random(n)
    t0 = time.perf_counter()
    rng.random(n)
    draw_rate = n / (time.perf_counter() - t0)

    unit = "weapon-engagements/s"
    print(
        f"engine    : {args.runs:>7} runs in {engine_s:6.2f} s  {engine_rate:14,.0f} {unit}"
        f"  (mean leakers {result.leakers.mean():.2f})"
    )
    print(
        f"reference : {args.reference_runs:>7} runs in {ref_s:6.2f} s  {ref_rate:14,.0f} {unit}"
        f"  (mean leakers {ref['leakers'].mean():.2f})"
    )
    print(f"numpy draws (float64 uniforms)            {draw_rate:14,.0f} numbers/s")
    print(f"engine / reference      : {engine_rate / ref_rate:6.1f}x")
    print(f"engine / numpy draw rate: {engine_rate / draw_rate:6.2f}")
    met = args.runs >= 100_000 and engine_s < 10
    print(f"100,000 runs in under 10 s: {'yes' if met else 'no'}")


if __name__ == "__main__":
    main()
