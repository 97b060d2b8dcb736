"""Campaign runs on any scheduler: fixed chunks of runs, one seed each, same numbers.

A chunk's runs share compiled salvos and draws, so chunks are cut by the run count alone
(:data:`CHUNK_RUNS`), never by the number of workers: sync, a local cluster and a
cluster that lost a worker give the same arrays.

Two maps on one cluster: the chunks are played (each returns its distinct damaged sets,
not a priced array), then the distinct (damaged set, demand) pairs of all chunks are
priced once each, in pieces spread over the workers (:func:`_play_and_price`). Before
this, each worker priced its own chunks with its own cache and solved the sets another
worker had solved already: 2 workers were no faster than one (docs/campaign.md).
"""

from __future__ import annotations

from typing import Any

from barrage.budget import check_memory
from barrage.campaign import CampaignRuns, CampaignScenario, build_context
from barrage.campaign.engine import (
    CampaignContext,
    layer_count,
    play_chunk,
    price_played,
    solve_piece,
)
from barrage.compute.executor import (
    chunk_seeds,
    dask_client,
    map_on,
    n_workers_of,
    plan_chunks,
    resolve_auto,
)
from barrage.errors import InputError
from barrage.grid.network import PRIORITY_CLASSES
from barrage.salvo.cost import DEFAULT_MAX_MEMORY_MB

CHUNK_RUNS = 25
AUTO_LOCAL_MIN_RUNS = 200
"""Runs from which ``scheduler="auto"`` plays the seasons on a local Dask cluster."""
MAX_RUNS = 100_000
PIECES_PER_WORKER = 4
"""LP pieces per worker in the pricing map: enough to balance, few enough that building
each piece's LP (about 0.3 s) stays a small share."""


def campaign_chunks(runs: int, seed: int) -> list[tuple[int, Any]]:
    """(runs in the chunk, its seed sequence) for each fixed chunk."""
    if not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise InputError(f"runs: expected an integer in 1..{MAX_RUNS}, got {runs!r}")
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed!r}")
    ranges = plan_chunks(runs, CHUNK_RUNS)
    return [(len(r), s) for r, s in zip(ranges, chunk_seeds(seed, len(ranges)), strict=True)]


def check_campaign_memory(
    runs: int, days: int, n_layers: int, *, max_memory_mb: float | None = None
) -> None:
    """Refuse, naming ``runs``, a campaign whose per-run outputs would pass the memory
    budget, before a season is played. Every run-day keeps four float64 values a layer
    (interceptors held, used, available, kills), five a day (stock, launched, units out,
    crew-days, spares), the load shed (two plus one a priority class) and an int32 key;
    twice while the chunks are stacked. (``--runs 100000`` over 366 days with 5 layers
    would have needed some 18 GB, found only after hours.)"""
    per_run_day_b = 8 * (4 * n_layers + 7 + len(PRIORITY_CLASSES)) + 4
    check_memory(
        "runs",
        runs,
        2 * days * per_run_day_b,
        f"{runs:,} seasons x {days} days x {n_layers} layers",
        "runs",
        max_memory_mb=DEFAULT_MAX_MEMORY_MB if max_memory_mb is None else max_memory_mb,
    )


def simulate_campaign(
    scenario: CampaignScenario,
    *,
    runs: int,
    seed: int = 0,
    scheduler: Any = "sync",
    workers: int | None = None,
    grid_dir=None,
    on_progress=None,
    context: CampaignContext | None = None,
    db=None,
) -> tuple[CampaignContext, CampaignRuns]:
    """Play ``runs`` seasons of ``scenario``; returns the context and the stacked runs.
    ``db``: take the attacker as of the start date from this store. A local cluster's
    workers are forked first, before any thread of ours (:func:`worker_start_method`)."""
    chunks = campaign_chunks(runs, seed)
    played = context.scenario if context is not None else scenario
    check_campaign_memory(runs, played.days, layer_count(played))  # before cluster and fit
    scheduler = resolve_auto(scheduler, runs, AUTO_LOCAL_MIN_RUNS)
    with dask_client(scheduler, workers=workers) as client:
        ctx = context if context is not None else build_context(scenario, grid_dir=grid_dir, db=db)
        return ctx, _play_and_price(client, ctx, chunks, on_progress)


def _play_and_price(client, ctx: CampaignContext, chunks, on_progress=None) -> CampaignRuns:
    """Play the chunks, then price their distinct damaged sets once each (on ``client``;
    ``None``: this process)."""
    parts = map_on(
        client, play_chunk, chunks, on_progress=on_progress, context=ctx,
        weights=[n for n, _ in chunks],
    )  # fmt: skip
    if client is None:
        return price_played(ctx, parts, lambda pieces: [solve_piece(ctx, p) for p in pieces])
    workers = n_workers_of(client)

    def solve(pieces):
        return map_on(client, solve_piece, pieces, context=ctx)

    total = sum(len(p.keys) for p in parts)
    piece_rows = max(50, -(-total // (PIECES_PER_WORKER * workers)))
    return price_played(ctx, parts, solve, piece_rows=piece_rows)


def plan_campaign(
    scenario: CampaignScenario,
    *,
    runs: int,
    seed: int = 0,
    budget_usd: float | None = None,
    scheduler: Any = "sync",
    workers: int | None = None,
    grid_dir=None,
) -> dict:
    """:func:`barrage.campaign.planning.compare_packages` with each campaign on
    ``scheduler`` (one cluster for all packages), the same seed for every package."""
    from barrage.campaign.planning import compare_packages

    chunks = campaign_chunks(runs, seed)
    check_campaign_memory(runs, scenario.days, layer_count(scenario))  # per package, in turn
    ctx = build_context(scenario, grid_dir=grid_dir)
    budget = budget_usd if budget_usd is not None else scenario.budget_usd
    if budget is None:
        raise InputError(f"budget_usd: {scenario.source} gives no budget_usd; give one")
    scheduler = resolve_auto(scheduler, runs, AUTO_LOCAL_MIN_RUNS)
    with dask_client(scheduler, workers=workers) as client:

        def play(c: CampaignContext) -> CampaignRuns:
            return _play_and_price(client, c, chunks)

        return compare_packages(ctx, play, budget_usd=budget)
