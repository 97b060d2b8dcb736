"""Public per-block entry points to the salvo engine, for running blocks elsewhere.

:func:`barrage.salvo.simulate` cuts the runs into fixed blocks of ``BLOCK_RUNS``; block
``b`` draws from ``SeedSequence(seed).spawn(n_blocks)[b]``. These functions simulate any
range of blocks on its own (on another process or machine) and put the parts back into a
:class:`~barrage.salvo.result.SalvoResult` that is bit-for-bit the one ``simulate`` gives.
They are the only place outside ``engine.py`` that knows the engine's block internals.
"""

from __future__ import annotations

import math

import numpy as np

from barrage.errors import InputError
from barrage.salvo import engine
from barrage.salvo.compile import CompiledScenario
from barrage.salvo.engine import BLOCK_RUNS
from barrage.salvo.result import SalvoResult

OUTPUTS = (
    "leakers_by_class",
    "leakers_by_asset",
    "destroyed_by_class",
    "ew_lost_by_class",
    "debris_by_asset",
    "interceptors_by_layer",
    "kills_by_layer",
    "decoys_engaged",
    "decoys_through",
)
"""Per-run outputs of a block range, in :class:`SalvoResult` field order."""


def n_blocks(runs: int) -> int:
    """Number of random blocks for ``runs`` runs."""
    return max(1, math.ceil(runs / BLOCK_RUNS))


def block_generator(seed: int, block: int) -> np.random.Generator:
    """Block ``block``'s generator, without spawning the blocks before it.

    ``SeedSequence(seed, spawn_key=(b,))`` is the same sequence as
    ``SeedSequence(seed).spawn(n)[b]`` for any ``n > b``.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


def simulate_blocks(
    cs: CompiledScenario,
    *,
    seed: int,
    runs: int,
    start: int,
    stop: int,
    blocks_per_pass: int = 2,
) -> dict[str, np.ndarray]:
    """Per-run outputs of blocks ``start .. stop-1`` of a ``runs``-run simulation.

    The rows equal the same rows of ``simulate(cs, runs=runs, seed=seed)``.
    ``blocks_per_pass`` bounds memory (as ``chunk_runs`` does in ``simulate``).
    """
    total = n_blocks(runs)
    if not 0 <= start < stop <= total:
        raise InputError(f"blocks: expected 0 <= start < stop <= {total}, got {start}..{stop}")
    sizes = [min(BLOCK_RUNS, runs - b * BLOCK_RUNS) for b in range(start, stop)]
    parts = []
    for lo in range(start, stop, max(1, blocks_per_pass)):
        hi = min(lo + max(1, blocks_per_pass), stop)
        draws = engine._stack(
            [
                engine._draw_block(cs, block_generator(seed, b), sizes[b - start])
                for b in range(lo, hi)
            ]
        )
        parts.append(engine._simulate_chunk(cs, draws))
    return merge_parts(parts)


def merge_parts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate block-range outputs along the run axis, in the given order."""
    if len(parts) == 1:
        return dict(parts[0])
    return {k: np.concatenate([p[k] for p in parts]) for k in OUTPUTS}


def assemble_result(
    cs: CompiledScenario, *, runs: int, seed: int, parts: list[dict[str, np.ndarray]]
) -> SalvoResult:
    """A :class:`SalvoResult` from block-range outputs given in block order."""
    merged = merge_parts(parts)
    got = len(merged["decoys_through"])
    if got != runs:
        raise InputError(f"salvo parts: expected {runs} runs in total, got {got}")
    return SalvoResult(
        runs=runs,
        seed=seed,
        classes=cs.classes,
        assets=cs.assets,
        layers=[layer.name for layer in cs.layers],
        attacker_cost_usd=cs.attacker_cost_usd,
        interceptor_cost_usd=np.array([layer.interceptor_cost_usd for layer in cs.layers]),
        **merged,
    )
