"""A straightforward pure-Python version of the salvo model: one loop per run and weapon.

It exists to check the vectorised engine (same model, same distribution; a test compares
means within Monte Carlo error) and as the named reference of the benchmark. It uses
Python's ``random`` with continuous uniforms, so it shares the engine's distribution but
not its random stream.
"""

from __future__ import annotations

import bisect
import random

import numpy as np

from barrage.salvo.compile import TIME_TICKS, CompiledScenario, ProbabilityTable


def _draw_table(table: ProbabilityTable, rnd: random.Random) -> list[float]:
    out = []
    for p, a, b in zip(table.p, table.alpha, table.beta, strict=True):
        out.append(float(p) if np.isnan(a) else rnd.betavariate(float(a), float(b)))
    return out


def _absent(cs: CompiledScenario, rnd: random.Random) -> set[int]:
    """Weapons not in this run's salvo when the decoy share is drawn per run: of each
    Shahed/decoy pair of N, each of N drones is a decoy with the run's share."""
    if cs.decoy_prior is None:
        return set()
    share = rnd.betavariate(cs.decoy_prior.alpha, cs.decoy_prior.beta)
    out: set[int] = set()
    for start_s, start_d, n in cs.decoy_pairs.tolist():
        n_decoy = sum(1 for _ in range(n) if rnd.random() < share)
        out.update(range(start_s + n - n_decoy, start_s + n))  # the Shaheds not launched
        out.update(range(start_d + n_decoy, start_d + n))  # the decoys not launched
    return out


def simulate_reference(cs: CompiledScenario, *, runs: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-run leakers, destroyed, debris and interceptors by layer, looping in Python."""
    rnd = random.Random(seed)
    n_a = len(cs.assets)
    aim_cum = [int(x) for x in cs.aim_cumulative]
    families = [int(f) for f in cs.weapon_family]
    lo = [float(x) for x in cs.window_lo]
    span = [float(x) for x in cs.window_span]
    is_decoy = [bool(x) for x in cs.is_decoy]
    debris_p = [float(x) for x in cs.debris]
    layers = [
        (
            [bool(x) for x in layer.can_engage],
            [int(c) for c in layer.capacity_per_slot],
            layer.stock,
            layer.shots,
            layer.doctrine,
        )
        for layer in cs.layers
    ]
    out = {
        "leakers": np.zeros(runs, dtype=np.int64),
        "destroyed": np.zeros(runs, dtype=np.int64),
        "ew_lost": np.zeros(runs, dtype=np.int64),
        "debris": np.zeros(runs, dtype=np.int64),
        "decoys_engaged": np.zeros(runs, dtype=np.int64),
        "interceptors_by_layer": np.zeros((runs, len(layers)), dtype=np.int64),
    }
    for run in range(runs):
        ew_p = _draw_table(cs.ew, rnd)
        kill_p = [_draw_table(layer.kill, rnd) for layer in cs.layers]
        absent = _absent(cs, rnd)
        weapons = []
        for i, fam in enumerate(families):
            if i in absent:
                continue
            t = lo[i] + span[i] * rnd.random()
            target = bisect.bisect_right(aim_cum, rnd.random() * TIME_TICKS)
            alive = rnd.random() >= ew_p[fam]
            weapons.append([t, fam, target, alive])
        weapons.sort(key=lambda w: w[0])
        out["ew_lost"][run] = sum(1 for w in weapons if not w[3])
        for li, (can, cap, stock, k, doctrine) in enumerate(layers):
            used = [0] * len(cap)
            spent = 0
            exhausted = False
            for w in weapons:
                t, fam, target, alive = w
                if exhausted or not alive or not can[fam * n_a + target]:
                    continue
                slot = int(t) * len(cap) // TIME_TICKS
                if used[slot] >= cap[slot]:
                    continue
                used[slot] += 1
                p = kill_p[li][fam]
                if doctrine == "shoot_look_shoot":
                    shots, killed = 0, False
                    while shots < k and not killed:
                        shots += 1
                        killed = rnd.random() < p
                else:
                    shots = k
                    killed = rnd.random() < 1.0 - (1.0 - p) ** k
                if stock is not None and spent + shots > stock:
                    exhausted = True
                    continue
                spent += shots
                if is_decoy[fam]:
                    out["decoys_engaged"][run] += 1
                if killed:
                    w[3] = False
                    out["destroyed"][run] += 1
                    if rnd.random() < debris_p[fam]:
                        out["debris"][run] += 1
            out["interceptors_by_layer"][run, li] = spent
        out["leakers"][run] = sum(1 for w in weapons if w[3] and not is_decoy[w[1]])
    return out
