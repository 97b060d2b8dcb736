"""The strike Monte Carlo (:func:`barrage.grid.simulate_strike`) on the execution layer.

A strike run needs load-shed solves whose set is only known after earlier steps, and
the same damaged set recurs across runs, so it is not one map but five, each a list of
chunks on ``scheduler``, with the distinct solves shared by all runs:

1. **draw** (chunks of whole 1,024-run blocks): salvo, hits, repair-time draws, and the
   damaged sets the repair priorities need (the grid's and the salvo's random streams
   are per block, so the chunk size changes no number);
2. **solve** the distinct (demand level, damaged set) pairs not solved yet;
3. **plan** (chunks of runs): repair priorities and schedules, and the distinct damaged
   sets of every day;
4. **solve** those not solved yet;
5. **outcomes** (chunks of runs): each day priced, per-run unserved energy etc.

Every LP starts from the intact network's basis (:func:`barrage.grid.restoration.solve_shed`),
so a set's shed, and its split between loads, is the same whichever chunk solved it;
steps 3 and 5 are row by row. The result therefore equals ``simulate_strike``'s array
for array on any scheduler, number of workers and chunk size (tested), and the solves
are those of one process: each distinct set once, not once per chunk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
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
from barrage.grid.network import PRIORITY_CLASSES
from barrage.grid.restoration import (
    Restoration,
    ShedCache,
    plan_repairs,
    price_masks,
    priority_masks,
    restoration_outcomes,
    scaled_network,
    solve_shed,
)
from barrage.grid.strike import (
    NO_EXTRAS,
    PlanExtras,
    StrikeModel,
    StrikeResult,
    StrikeScenario,
    build_strike_model,
    checked_strike_request,
    grid_draws,
    restoration_settings,
)
from barrage.salvo.blocks import BLOCK_RUNS, n_blocks
from barrage.salvo.compile import compile_scenario
from barrage.salvo.cost import DEFAULT_MAX_MEMORY_MB, salvo_cost
from barrage.salvo.engine import assemble_result, simulate_blocks
from barrage.salvo.scenario import Scenario

AUTO_LOCAL_MIN_RUNS = 4096
"""``scheduler="auto"`` starts a LocalCluster from this many runs (about 10-15 s of
single-core work on the shipped case24 example; a cluster costs 1-6 s to start)."""

MIN_CHUNK_SOLVES = 128
"""Fewest damaged sets per solve task: a task builds its LP and screen (10-30 ms on
case24, about 0.3 s on case118) before ~1 ms per set."""

MAX_CHUNK_SOLVES = 2048
MAX_CHUNK_RUNS = 8 * BLOCK_RUNS
"""Most runs per draw/plan/outcomes task (memory: runs x 365 days x assets per block)."""

Key = tuple[float, bytes]


class _KeyCollector:
    """Stands in for a :class:`ShedCache`: records the sets asked for, answers zeros."""

    def __init__(self, n_assets: int, known: Any = ()):
        self.n_assets = n_assets
        self.known = known
        self.people = 1.0  # outcomes are thrown away
        self.keys: set[Key] = set()

    def lookup(self, full_masks: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, ...]:
        packed = np.packbits(full_masks, axis=1)
        for i, f in enumerate(factors):
            key = (float(f), packed[i].tobytes())
            if key not in self.known:
                self.keys.add(key)
        n = len(full_masks)
        return np.zeros(n), np.zeros(n), np.zeros((n, len(PRIORITY_CLASSES))), np.zeros(n)


def _table_cache(model: StrikeModel, table: dict) -> ShedCache:
    cache = ShedCache(model.network)
    cache.add(table)
    return cache


def _draw_task(ctx: tuple, blocks: tuple[int, int]) -> dict:
    model, cs, seed, runs, n_assets, known = ctx
    start, stop = blocks
    part = simulate_blocks(cs, seed=seed, runs=runs, start=start, stop=stop)
    n = min(stop * BLOCK_RUNS, runs) - start * BLOCK_RUNS
    salvo = assemble_result(cs, runs=n, seed=seed, parts=[part])
    damaged, work_z = grid_draws(model, salvo, seed, first_block=start)
    factor0 = model.scenario.grid.winter.profile(model.scenario.grid.horizon_days)[1][0]
    collector = _KeyCollector(n_assets, known)
    if model.scenario.grid.repair_priority == "shed":
        masks = priority_masks(damaged)
        price_masks(collector, model.target_rows, masks, np.full(len(masks), factor0))
    return {"salvo": part, "damaged": damaged, "work_z": work_z, "keys": collector.keys}


def _plan_task(ctx: tuple, rows: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, set]:
    model, settings, table = ctx
    damaged, work_z = rows
    cache = _table_cache(model, table)
    last = plan_repairs(
        cache, damaged=damaged, z_work=work_z[:, 0], z_lead=work_z[:, 1], settings=settings
    )
    collector = _KeyCollector(cache.n_assets, table)
    restoration_outcomes(collector, damaged=damaged, last=last, settings=settings)
    return last, collector.keys


def _outcomes_task(ctx: tuple, rows: tuple[np.ndarray, np.ndarray]) -> Restoration:
    model, settings, table = ctx
    damaged, last = rows
    return restoration_outcomes(
        _table_cache(model, table), damaged=damaged, last=last, settings=settings
    )


def _solve_task(network, keys: list[Key]) -> list:
    """Values of ``keys`` (sorted by demand level), one LP model per level."""
    from barrage.grid.network import assets

    n_assets = len(assets(network))
    out: list = []
    i = 0
    while i < len(keys):
        factor = keys[i][0]
        j = i
        while j < len(keys) and keys[j][0] == factor:
            j += 1
        packed = np.frombuffer(b"".join(k[1] for k in keys[i:j]), dtype=np.uint8)
        masks = np.unpackbits(packed.reshape(j - i, -1), axis=1, count=n_assets).astype(bool)
        out.extend(solve_shed(scaled_network(network, factor), masks))
        i = j
    return out


def _concat_restoration(parts: list[Restoration]) -> Restoration:
    first = parts[0]
    fields = {}
    for f in dataclasses.fields(Restoration):
        if f.name in ("temperature_c", "demand_factor"):
            fields[f.name] = getattr(first, f.name)
        else:
            fields[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
    return Restoration(**fields)


class _Phases:
    """Progress over the five steps: runs for draw/plan/outcomes, sets for the solves."""

    def __init__(self, on_progress: Progress | None, runs: int):
        self.on_progress = on_progress
        self.done = 0
        self.total = 3 * runs

    def step(self, extra_total: int = 0) -> Progress | None:
        if self.on_progress is None:
            return None
        self.total += extra_total
        offset = self.done

        def hook(done: int, total: int) -> None:
            self.done = offset + done
            self.on_progress(self.done, self.total)

        return hook


def _draw(client, light: StrikeModel, cs, seed: int, runs: int, cache, chunk_runs, phases):
    """Phase 1: the salvo and hit draws of every block, in block order (each chunk a
    range of whole blocks; the solved table travels as a frozen set of keys)."""
    total_blocks = n_blocks(runs)
    if chunk_runs is None:
        size = auto_chunk_size(
            total_blocks, n_workers_of(client), max_size=MAX_CHUNK_RUNS // BLOCK_RUNS
        )
    else:
        size = max(1, chunk_runs // BLOCK_RUNS)
    block_ranges = plan_chunks(total_blocks, size)
    return map_on(
        client,
        _draw_task,
        [(r.start, r.stop) for r in block_ranges],
        context=(light, cs, seed, runs, cache.n_assets, frozenset(cache.entries())),
        weights=[min(r.stop * BLOCK_RUNS, runs) - r.start * BLOCK_RUNS for r in block_ranges],
        on_progress=phases.step(),
    )


def _restore(client, model: StrikeModel, light, settings, damaged, work_z, chunk_runs, phases):
    """Phases 2 and 3: each run's repair plan (solving the damaged sets it meets), then
    the outcomes of the plans, over chunks of runs."""
    cache, workers = model.cache, n_workers_of(client)
    runs = len(damaged)
    row_size = chunk_runs or auto_chunk_size(runs, workers, max_size=MAX_CHUNK_RUNS)
    row_ranges = plan_chunks(runs, max(1, row_size))
    table = dict(cache.entries())
    planned = map_on(
        client,
        _plan_task,
        [(damaged[r.start : r.stop], work_z[r.start : r.stop]) for r in row_ranges],
        context=(light, settings, table),
        weights=[len(r) for r in row_ranges],
        on_progress=phases.step(),
    )
    last = np.concatenate([p[0] for p in planned])
    _solve_missing(client, model, set().union(*(p[1] for p in planned)), workers, phases)
    parts = map_on(
        client,
        _outcomes_task,
        [(damaged[r.start : r.stop], last[r.start : r.stop]) for r in row_ranges],
        context=(light, settings, dict(cache.entries())),
        weights=[len(r) for r in row_ranges],
        on_progress=phases.step(),
    )
    return _concat_restoration(parts)


def run_strike_on(
    client: Any,
    model: StrikeModel,
    *,
    runs: int,
    seed: int,
    salvo_scenario: Scenario | None = None,
    extras: PlanExtras = NO_EXTRAS,
    chunk_runs: int | None = None,
    on_progress: Progress | None = None,
) -> StrikeResult:
    """:func:`barrage.grid.strike.run_strike` on an open client (``None``: this process).

    Same arguments and result; the solved sets go into ``model.cache`` (planning reuses
    them across plans, as the single-process run does).
    """
    cache = model.cache
    light = dataclasses.replace(model, cache=None)  # the solved table travels apart
    settings = restoration_settings(model, extras)
    salvo = salvo_scenario or model.scenario.salvo
    # the salvo part's cost, before compiling (as simulate_salvo and the API check it)
    salvo_cost(salvo, runs).check(max_memory_mb=DEFAULT_MAX_MEMORY_MB)
    cs = compile_scenario(salvo)
    phases = _Phases(on_progress, runs)
    drawn = _draw(client, light, cs, seed, runs, cache, chunk_runs, phases)
    damaged = np.concatenate([d["damaged"] for d in drawn])
    work_z = np.concatenate([d["work_z"] for d in drawn])
    keys = set().union(*(d["keys"] for d in drawn))
    _solve_missing(client, model, keys, n_workers_of(client), phases)
    restoration = _restore(client, model, light, settings, damaged, work_z, chunk_runs, phases)
    salvo = assemble_result(cs, runs=runs, seed=seed, parts=[d["salvo"] for d in drawn])
    return StrikeResult.of(model, runs, seed, salvo, damaged, restoration)


def _solve_missing(client, model: StrikeModel, keys: set, workers: int, phases) -> None:
    """Solve the sets not in ``model.cache`` yet, in a canonical order, into the cache."""
    cache = model.cache
    todo = sorted(k for k in keys if k not in cache)
    if not todo:
        return
    size = auto_chunk_size(len(todo), workers, min_size=MIN_CHUNK_SOLVES, max_size=MAX_CHUNK_SOLVES)
    ranges = plan_chunks(len(todo), size)
    values = map_on(
        client,
        _solve_task,
        [todo[r.start : r.stop] for r in ranges],
        context=model.network,
        weights=[len(r) for r in ranges],
        on_progress=phases.step(len(todo)),
    )
    flat = [v for part in values for v in part]
    cache.add(dict(zip(todo, flat, strict=True)), solved=len(todo))


def simulate_strike_chunked(
    scenario: StrikeScenario | str | Path | dict,
    runs: int = 1000,
    seed: int = 0,
    *,
    scheduler: Any = "auto",
    workers: int | None = None,
    grid_dir: str | Path | None = None,
    network=None,
    chunk_runs: int | None = None,
    on_progress: Progress | None = None,
) -> StrikeResult:
    """:func:`barrage.grid.simulate_strike` spread over ``scheduler`` (see
    :func:`barrage.compute.run_map`); the same result, array for array.

    ``chunk_runs``: runs per task (whole blocks of 1,024 for the draws; default about
    four chunks per worker, at most 8,192 runs). ``scheduler="auto"`` runs fewer than
    4,096 runs in this process. ``on_progress(done, total)`` counts runs of the three
    run steps plus damaged sets solved (the total grows as the sets become known).
    """
    scenario = checked_strike_request(scenario, runs, seed)
    if chunk_runs is not None and chunk_runs < 1:
        raise InputError(f"chunk_runs: expected a positive number of runs, got {chunk_runs}")
    scheduler = check_scheduler(resolve_auto(scheduler, runs, AUTO_LOCAL_MIN_RUNS))
    model = build_strike_model(scenario, grid_dir=grid_dir, network=network)
    with dask_client(scheduler, workers=workers) as client:
        return run_strike_on(
            client, model, runs=runs, seed=seed, chunk_runs=chunk_runs, on_progress=on_progress
        )


def strike_runner(client: Any) -> Callable[..., StrikeResult]:
    """A drop-in for :func:`barrage.grid.strike.run_strike` that runs on ``client``
    (for :func:`barrage.grid.planning.plan_defence`'s ``runner``)."""

    def run(model: StrikeModel, **kwargs) -> StrikeResult:
        return run_strike_on(client, model, **kwargs)

    return run


def plan_defence_chunked(
    scenario: StrikeScenario | str | Path,
    *,
    scheduler: Any = "auto",
    workers: int | None = None,
    runs: int = 400,
    **kwargs,
) -> dict:
    """:func:`barrage.grid.planning.plan_defence` with every plan's strike Monte Carlo on
    ``scheduler`` (one cluster for all plans; ``auto``: local from 4,096 runs per plan).
    The same result as the single-process call."""
    from barrage.grid.planning import plan_defence

    scheduler = check_scheduler(resolve_auto(scheduler, runs, AUTO_LOCAL_MIN_RUNS))
    with dask_client(scheduler, workers=workers) as client:
        return plan_defence(scenario, runs=runs, runner=strike_runner(client), **kwargs)
