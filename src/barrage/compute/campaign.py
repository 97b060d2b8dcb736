"""Campaign runs on any scheduler: fixed chunks of runs, one seed each, same numbers.

A chunk's runs share compiled salvos and draws, so chunks are cut by the run count alone
(:data:`CHUNK_RUNS`), never by the number of workers: sync, a local cluster and a
cluster that lost a worker give the same arrays.
"""

from __future__ import annotations

from typing import Any

from barrage.campaign import CampaignRuns, CampaignScenario, build_context, run_chunk
from barrage.campaign.engine import CampaignContext
from barrage.compute.executor import chunk_seeds, plan_chunks, run_map
from barrage.errors import InputError

CHUNK_RUNS = 25
MAX_RUNS = 100_000


def campaign_chunks(runs: int, seed: int) -> list[tuple[int, Any]]:
    """(runs in the chunk, its seed sequence) for each fixed chunk."""
    if not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise InputError(f"runs: expected an integer in 1..{MAX_RUNS}, got {runs!r}")
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed!r}")
    ranges = plan_chunks(runs, CHUNK_RUNS)
    return [(len(r), s) for r, s in zip(ranges, chunk_seeds(seed, len(ranges)), strict=True)]


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
    ``db``: take the attacker as of the start date from this store."""
    chunks = campaign_chunks(runs, seed)
    ctx = context if context is not None else build_context(scenario, grid_dir=grid_dir, db=db)
    parts = run_map(
        run_chunk,
        chunks,
        scheduler=scheduler,
        workers=workers,
        on_progress=on_progress,
        context=ctx,
        weights=[n for n, _ in chunks],
    )
    return ctx, CampaignRuns.concat(parts)


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
    from barrage.compute.executor import dask_client, map_on

    chunks = campaign_chunks(runs, seed)
    ctx = build_context(scenario, grid_dir=grid_dir)
    budget = budget_usd if budget_usd is not None else scenario.budget_usd
    if budget is None:
        raise InputError(f"{scenario.source}: budget_usd: give a budget (or --budget)")
    with dask_client(scheduler, workers=workers) as client:

        def play(c: CampaignContext) -> CampaignRuns:
            return CampaignRuns.concat(map_on(client, run_chunk, chunks, context=c))

        return compare_packages(ctx, play, budget_usd=budget)
