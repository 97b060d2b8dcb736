"""Benchmark the salvo engine against a pure-Python reference of the same model.

Measures simulated weapon-engagements per second, where one weapon-engagement is one
weapon meeting one layer in one run (runs x weapons x layers), for:

* the vectorised engine (``barrage.salvo.simulate``), 100,000 runs by default;
* the pure-Python reference (``barrage.salvo.reference.simulate_reference``), loop per
  run and weapon, on fewer runs;
* numpy's draw rate of float64 uniforms on this machine (into a reused 1 M buffer, so
  page faults are not counted): a practical ceiling for any Monte Carlo that needs one
  random number per weapon-engagement.

Each is timed ``--repeats`` times and the minimum kept, as wall time and as CPU time of
this process (``time.process_time``), which is less sensitive to other jobs on a shared
machine. Pin to one core for a one-core figure.

``--mechanisms`` switches on the issue-19 mechanisms on the same night (741 weapons, 5
layers): the Shahed group in three 30-minute waves by three corridors, the mobile fire
groups seeing two corridors with a track limit, the SHORAD with a reload, the decoy share
and EW of real drones as calibrated (docs/salvo.md).

Run: ``python benchmarks/bench_salvo.py [--runs 100000] [--reference-runs 1000] [--mechanisms]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from barrage.salvo import compile_scenario, example_scenarios, load_scenario, simulate
from barrage.salvo.reference import simulate_reference
from barrage.salvo.scenario import Scenario


def with_mechanisms(scenario: Scenario) -> Scenario:
    """The night with waves, corridors, tracks, reloads and the separated decoys/EW on."""
    d = scenario.model_dump()
    d["salvo"]["decoy_share"] = 0.41
    shahed = next(g for g in d["salvo"]["weapons"] if g["family"] == "shahed")
    n = shahed["count"]
    shahed["waves"] = [
        {"count": n * 2 // 5, "arrival_h": (1.0, 1.5), "corridor": "north"},
        {"count": n * 7 // 20, "arrival_h": (3.0, 3.5), "corridor": "east"},
        {"count": n - n * 2 // 5 - n * 7 // 20, "arrival_h": (6.0, 6.5), "corridor": "south"},
    ]
    d["ew_loss"] = {**d["ew_loss"], "attack_drone": {"alpha": 1.0, "beta": 744.0}}
    for layer in d["layers"]:
        if layer["type"] == "mobile_fire_group":
            layer["corridors"] = ["north", "east"]
            layer["tracks"] = 60
        if layer["type"] == "shorad":
            layer["reload_min"] = 30.0
            layer["rounds_per_load"] = 8
    return Scenario.model_validate(d)


def best_of(repeats: int, fn) -> tuple[float, float, object]:
    """Minimum wall and CPU seconds over ``repeats`` calls, and the last result."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--reference-runs", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenario", default="2025-07-09_combined")
    parser.add_argument("--mechanisms", action="store_true", help="waves, corridors, tracks")
    args = parser.parse_args()

    scn = load_scenario(example_scenarios()[args.scenario])
    cs = compile_scenario(with_mechanisms(scn) if args.mechanisms else scn)
    per_run = cs.n_weapons * len(cs.layers)
    extra = " (waves, corridors, tracks, reload on)" if args.mechanisms else ""
    print(f"scenario {args.scenario}{extra}: {cs.n_weapons} weapons, {len(cs.layers)} layers")

    simulate(cs, runs=2048, seed=1)  # warm-up
    eng_wall, eng_cpu, result = best_of(args.repeats, lambda: simulate(cs, runs=args.runs, seed=0))
    ref_wall, ref_cpu, ref = best_of(
        args.repeats, lambda: simulate_reference(cs, runs=args.reference_runs, seed=0)
    )

    rng = np.random.default_rng(0)
    buf = np.empty(1_000_000)
    n_fill = 20

    def draws() -> None:
        for _ in range(n_fill):
            rng.random(out=buf)

    draws()
    draw_wall, draw_cpu, _ = best_of(args.repeats, draws)
    n_draws = n_fill * buf.size

    unit = "weapon-engagements/s"
    for label, runs, wall, cpu, leak in (
        ("engine   ", args.runs, eng_wall, eng_cpu, result.leakers.mean()),
        ("reference", args.reference_runs, ref_wall, ref_cpu, ref["leakers"].mean()),
    ):
        print(
            f"{label} : {runs:>7} runs in {wall:6.2f} s wall, {cpu:6.2f} s CPU"
            f"  {runs * per_run / cpu:14,.0f} {unit} (CPU)  (mean leakers {leak:.2f})"
        )
    print(
        f"numpy draws (float64 uniforms): {n_draws / draw_cpu:14,.0f} numbers/s (CPU), "
        f"{n_draws / draw_wall:,.0f} (wall)"
    )
    eng_rate, ref_rate = args.runs * per_run / eng_cpu, args.reference_runs * per_run / ref_cpu
    print(f"engine / reference      : {eng_rate / ref_rate:6.1f}x (CPU)", end="")
    print(f", {(args.runs / eng_wall) / (args.reference_runs / ref_wall):6.1f}x (wall)")
    print(f"engine / numpy draw rate: {eng_rate / (n_draws / draw_cpu):6.2f} (CPU)")
    per_100k = 100_000 / args.runs
    print(
        f"per 100,000 runs: {eng_wall * per_100k:.2f} s wall, {eng_cpu * per_100k:.2f} s CPU;"
        f" under 10 s: {'yes' if eng_wall * per_100k < 10 else 'no'}"
    )


if __name__ == "__main__":
    main()
