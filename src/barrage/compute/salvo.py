"""The salvo simulator on the execution layer: chunks of whole random blocks.

A chunk is a range of the engine's fixed blocks of ``BLOCK_RUNS`` runs, each drawing from
its own ``SeedSequence(seed).spawn(n_blocks)[b]``; parts are put back in block order, so
the result is bit-for-bit :func:`barrage.salvo.simulate`'s for any scheduler, number of
workers and chunk size.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from barrage.compute.executor import (
    Progress,
    auto_chunk_size,
    check_scheduler,
    dask_client,
    map_on,
    n_workers_of,
    plan_chunks,
    resolve_auto,
)
from barrage.errors import InputError
from barrage.salvo.blocks import BLOCK_RUNS, n_blocks
from barrage.salvo.compile import CompiledScenario, compile_scenario
from barrage.salvo.cost import DEFAULT_MAX_MEMORY_MB, salvo_cost
from barrage.salvo.engine import assemble_result, simulate_blocks
from barrage.salvo.result import SalvoResult
from barrage.salvo.scenario import Scenario

MIN_CHUNK_BLOCKS = 1
"""Small jobs still get one chunk per block. A block (1,024 runs of a 741-weapon, 5-layer
night) takes about 10 ms here against about 3 ms of overhead per chunk
(benchmarks/bench_compute.py), so big jobs want bigger chunks: see MAX_CHUNK_BLOCKS."""

MAX_CHUNK_BLOCKS = 32
"""32,768 runs per chunk: about 0.3 s of work against about 3 ms of overhead (1%), and
about 2 MB of narrowed per-run outputs (8 MB in the engine's int64)."""

AUTO_LOCAL_MIN_ENGAGEMENTS = 200_000_000
"""``scheduler="auto"`` starts a LocalCluster (about 3 s) only above this many
weapon-engagements (runs x weapons x layers; about 5-10 s of single-core work)."""


CLI_LOCAL_MIN_ENGAGEMENTS = 20_000_000_000
"""From the ``barrage`` command (a fresh process: the cluster starts, the workers import
barrage, every run's outputs travel back), a LocalCluster of 2 workers on 2 cores paid
off only above about this many engagements (5.4 million runs of the 741-weapon July 2025
scenario); at 2 million runs it was no faster than this process (docs/benchmarks.md)."""


def local_pays_off(scenario: Scenario | CompiledScenario, runs: int) -> bool:
    """Whether a LocalCluster started for this one salvo is expected to beat this
    process (:data:`CLI_LOCAL_MIN_ENGAGEMENTS`)."""
    cs = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    return runs * cs.n_weapons * max(1, len(cs.layers)) >= CLI_LOCAL_MIN_ENGAGEMENTS


def _blocks_task(cs: CompiledScenario, chunk: tuple[int, int, int, int]) -> dict:
    seed, runs, start, stop = chunk
    out = simulate_blocks(cs, seed=seed, runs=runs, start=start, stop=stop)
    return {k: (_narrow(v), v.dtype.str) for k, v in out.items()}


def _narrow(counts: np.ndarray) -> np.ndarray:
    """Per-run counts in the smallest integer type that holds them, for the trip back.

    The engine's counts are int64 but small (at most a night's weapons or shots): sent
    as they are, 2 workers' results (248 bytes a run) cost the client more time to
    receive and join than the joining itself; narrowed, about a quarter of that.
    """
    if counts.size == 0 or counts.dtype.kind not in "iu":
        return counts
    lo, hi = int(counts.min()), int(counts.max())
    dtype = np.result_type(np.min_scalar_type(lo), np.min_scalar_type(hi))
    return counts.astype(dtype) if dtype.itemsize < counts.dtype.itemsize else counts


def _widen_join(parts: list[dict]) -> dict:
    """Parts joined in block order, each output back in the engine's own dtype."""
    return {
        k: np.concatenate([p[k][0] for p in parts], dtype=np.dtype(dtype))
        for k, (_, dtype) in parts[0].items()
    }


def simulate_salvo(
    scenario: Scenario | CompiledScenario,
    *,
    runs: int = 10_000,
    seed: int = 0,
    scheduler: Any = "local",
    workers: int | None = None,
    chunk_runs: int | None = None,
    on_progress: Progress | None = None,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
    max_seconds: float | None = None,
) -> SalvoResult:
    """:func:`barrage.salvo.simulate` spread over ``scheduler`` (see :func:`run_map`).

    ``chunk_runs``: runs per task, rounded down to whole blocks of 1,024 (default: about
    four chunks per worker, 1 to 32 blocks each). ``scheduler="auto"`` runs small jobs in
    this process. ``on_progress(runs_done, runs)`` follows finished chunks.
    ``max_memory_mb`` and ``max_seconds`` bound the job's estimated cost
    (:func:`barrage.salvo.cost.salvo_cost`), checked before the scenario is compiled.
    """
    if runs < 1:
        raise InputError(f"runs: expected a positive number of runs, got {runs}")
    if seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed}")
    if chunk_runs is not None and chunk_runs < 1:
        raise InputError(f"--chunk-runs: expected a positive number of runs, got {chunk_runs}")
    if isinstance(scenario, Scenario):
        n_workers = 1 if scheduler in ("sync", "auto") else (workers or os.cpu_count() or 1)
        salvo_cost(scenario, runs, workers=n_workers).check(
            max_memory_mb=max_memory_mb, max_seconds=max_seconds
        )
    cs = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    work = runs * cs.n_weapons * max(1, len(cs.layers))
    scheduler = check_scheduler(resolve_auto(scheduler, work, AUTO_LOCAL_MIN_ENGAGEMENTS))
    total_blocks = n_blocks(runs)
    with dask_client(scheduler, workers=workers) as client:
        if chunk_runs is None:
            size = auto_chunk_size(
                total_blocks,
                n_workers_of(client),
                min_size=MIN_CHUNK_BLOCKS,
                max_size=MAX_CHUNK_BLOCKS,
            )
        else:
            size = max(1, chunk_runs // BLOCK_RUNS)
        ranges = plan_chunks(total_blocks, size)
        chunks = [(seed, runs, r.start, r.stop) for r in ranges]
        weights = [min(r.stop * BLOCK_RUNS, runs) - r.start * BLOCK_RUNS for r in ranges]
        parts = map_on(
            client, _blocks_task, chunks, on_progress=on_progress, context=cs, weights=weights
        )
    return assemble_result(cs, runs=runs, seed=seed, parts=[_widen_join(parts)])
