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
from barrage.compute.tally import SalvoTally, tally_summary
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


CLI_LOCAL_MIN_ENGAGEMENTS = 900_000_000
"""From the ``barrage`` command (a fresh process: the cluster starts with the command),
the job size (runs x weapons x layers) from which a LocalCluster of 2 workers beats this
process when the machine gives it 2 cores: 0.98x at 131,072 runs of the 741-weapon,
5-layer July 2025 night, 1.28x at 262,144 (0.97 billion engagements), 1.46x at 524,288,
1.64x at 1 million, 1.65x at 2 million (docs/benchmarks.md)."""

CLI_BUSY_LOCAL_MIN_ENGAGEMENTS = 7_000_000_000
"""The same bar when no core is idle (:data:`MIN_IDLE_CORES`): sharing busy cores, the 2
workers lost at 131,072 to 1 million runs (0.85-0.89x) and broke even or won at 2 million
(0.99x, 1.21x, 1.24x; 7.4 billion engagements)."""

MIN_IDLE_CORES = 1.0
"""Idle cores (cores minus the 1-minute load average) for the lower bar: one for the
second worker besides the core this process would use alone."""


def idle_cores() -> float:
    """Cores not busy now: the cores minus the 1-minute load average (all if unknown)."""
    cores = float(os.cpu_count() or 1)
    try:
        return max(0.0, cores - os.getloadavg()[0])
    except OSError:  # no load average on this platform
        return cores


def engagements(scenario: Scenario | CompiledScenario, runs: int) -> int:
    """Runs x weapons x layers: the size of a salvo job."""
    cs = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    return runs * cs.n_weapons * max(1, len(cs.layers))


def command_scheduler(
    scenario: Scenario | CompiledScenario, runs: int, scheduler: Any, *, idle: float | None = None
) -> tuple[Any, str | None]:
    """The scheduler a command runs one salvo on, and why ``local`` may not pay (or None).

    ``"auto"`` is ``"local"`` from :data:`CLI_LOCAL_MIN_ENGAGEMENTS` with a core idle
    (``idle``, default :func:`idle_cores`), from :data:`CLI_BUSY_LOCAL_MIN_ENGAGEMENTS`
    without, else ``"sync"``. An explicit ``"local"`` below the bar is kept, with the
    reason it is likely slower.
    """
    if scheduler not in ("auto", "local"):
        return scheduler, None
    work = engagements(scenario, runs)
    idle = idle_cores() if idle is None else idle
    reason = None
    if work < CLI_LOCAL_MIN_ENGAGEMENTS:
        reason = (
            f"{runs:,} runs of this scenario are likely faster in this process: a local "
            "cluster's start-up outweighs 2 cores' gain below about "
            f"{CLI_LOCAL_MIN_ENGAGEMENTS:,} engagements (runs x weapons x layers)"
        )
    elif idle < MIN_IDLE_CORES and work < CLI_BUSY_LOCAL_MIN_ENGAGEMENTS:
        reason = (
            f"the cores are busy (the load average leaves {idle:.1f} of {os.cpu_count()} "
            f"idle): workers sharing them gain only from about "
            f"{CLI_BUSY_LOCAL_MIN_ENGAGEMENTS:,} engagements"
        )
    if scheduler == "auto":
        return ("sync" if reason else "local"), None
    return scheduler, reason


def _blocks_task(cs: CompiledScenario, chunk: tuple[int, int, int, int]) -> dict:
    seed, runs, start, stop = chunk
    out = simulate_blocks(cs, seed=seed, runs=runs, start=start, stop=stop)
    return {k: (_narrow(v), v.dtype.str) for k, v in out.items()}


def _tally_task(cs: CompiledScenario, chunk: tuple[int, int, int, int]) -> SalvoTally:
    seed, runs, start, stop = chunk
    out = simulate_blocks(cs, seed=seed, runs=runs, start=start, stop=stop)
    return SalvoTally.of(out, np.array([layer.interceptor_cost_usd for layer in cs.layers]))


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
    _check(scenario, runs, seed, chunk_runs, scheduler, workers, max_memory_mb, max_seconds)
    cs = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    parts = _map_blocks(cs, _blocks_task, runs, seed, scheduler, workers, chunk_runs, on_progress)
    return assemble_result(cs, runs=runs, seed=seed, parts=[_widen_join(parts)])


def summarise_salvo(
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
) -> dict:
    """``simulate_salvo(...).summary()``, the same numbers, reduced on the workers.

    Each chunk returns its :class:`~barrage.compute.tally.SalvoTally` (counts of every
    integer output and the per-run defender cost) instead of every run's outputs, so
    memory and the trip back grow by 8 bytes a run, not about 250: what the command line
    needs, as it prints only the summary. Arguments as :func:`simulate_salvo`.
    """
    _check(
        scenario,
        runs,
        seed,
        chunk_runs,
        scheduler,
        workers,
        max_memory_mb,
        max_seconds,
        reduced=True,
    )
    cs = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    parts = _map_blocks(cs, _tally_task, runs, seed, scheduler, workers, chunk_runs, on_progress)
    return tally_summary(SalvoTally.merge(parts), cs, seed=seed)


def _check(
    scenario: Scenario | CompiledScenario,
    runs: int,
    seed: int,
    chunk_runs: int | None,
    scheduler: Any,
    workers: int | None,
    max_memory_mb: float,
    max_seconds: float | None,
    *,
    reduced: bool = False,
) -> None:
    """Refuse bad sizes, and a job over its memory or time budget before compiling."""
    if runs < 1:
        raise InputError(f"runs: expected a positive number of runs, got {runs}")
    if seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed}")
    if chunk_runs is not None and chunk_runs < 1:
        raise InputError(f"chunk_runs: expected a positive number of runs, got {chunk_runs}")
    if isinstance(scenario, Scenario):
        n_workers = 1 if scheduler in ("sync", "auto") else (workers or os.cpu_count() or 1)
        chunk = max(BLOCK_RUNS, chunk_runs or MAX_CHUNK_BLOCKS * BLOCK_RUNS)
        held = chunk if reduced else None  # runs whose outputs a worker holds at once
        salvo_cost(scenario, runs, workers=n_workers, reduced_chunk_runs=held).check(
            max_memory_mb=max_memory_mb, max_seconds=max_seconds
        )


def _map_blocks(
    cs: CompiledScenario,
    task: Any,
    runs: int,
    seed: int,
    scheduler: Any,
    workers: int | None,
    chunk_runs: int | None,
    on_progress: Progress | None,
) -> list[Any]:
    """``task(cs, (seed, runs, first, stop))`` over chunks of whole blocks, in block order."""
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
        return map_on(client, task, chunks, on_progress=on_progress, context=cs, weights=weights)
