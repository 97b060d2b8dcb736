"""The simulation commands as one call each: name -> scenario, scheduler checks, the run.

``barrage simulate salvo|salvo-curve|salvo-check|strike|replay|campaign`` and
``plan-defence [--campaign]``
each resolve a scenario (a file or a shipped example's name), check the scheduler and
workers, and run one job; here that is one library call, so the command only parses and
renders. What a command shows while a step runs (a progress bar, a spinner) comes in as
an ``activity(description)`` context (:data:`Activity`): the library says what it is
doing, the caller how to show it. Not exported from :mod:`barrage.pipeline` (these pull
in the strike and grid modules, which the other jobs do not need).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from barrage.campaign import load_campaign, summarise_campaign
from barrage.campaign.scenario import with_overrides
from barrage.compute.campaign import plan_campaign, simulate_campaign
from barrage.compute.executor import check_run
from barrage.compute.salvo import command_scheduler, summarise_salvo
from barrage.compute.strike import plan_defence_chunked, simulate_strike_chunked
from barrage.errors import InputError
from barrage.files import check_output_file
from barrage.grid.replay import replay_from_store
from barrage.grid.strike import StrikeSummary, example_strike_scenarios
from barrage.indicators import to_day
from barrage.record.locate import scenario_file
from barrage.record.nights import load_night_totals
from barrage.report.campaign import write_campaign_report
from barrage.salvo import example_scenarios, load_scenario
from barrage.salvo.outofsample import out_of_sample_check
from barrage.salvo.result import SalvoSummary
from barrage.salvo.saturation import leak_rate_curve, saturation_onset

Activity = Callable[[str], contextlib.AbstractContextManager[Any]]
"""``activity(description)``: a context shown while a step runs; a progress bar yields
an ``on_progress(done, total)`` hook, a spinner yields anything (ignored)."""


@contextlib.contextmanager
def quietly(description: str) -> Iterator[None]:
    """The default activity: shows nothing, reports no progress."""
    yield None


@dataclass(frozen=True)
class SalvoRun:
    """One salvo simulated for a command: the scenario's name and its summary."""

    name: str
    summary: SalvoSummary


@dataclass(frozen=True)
class SaturationCurve:
    """Leak rate by salvo size (``curve``: size, profile, leak_rate...) and where each
    profile's leak rate starts to rise (``onset_size``, None where it never does)."""

    name: str
    curve: pd.DataFrame
    onset_size: dict[str, float | None]


def salvo_job(
    scenario: str | Path,
    *,
    runs: int,
    seed: int,
    scheduler: Any = "auto",
    workers: int | None = None,
    progress: Activity = quietly,
    warn: Callable[[str], None] | None = None,
) -> SalvoRun:
    """``barrage simulate salvo``: the scenario (file or shipped name) summarised over
    ``runs`` on the scheduler a command should use (:func:`command_scheduler`); ``warn``
    hears why an explicit ``local`` is likely slower than this process."""
    check_run(scheduler, workers)
    scn = load_scenario(scenario_file(scenario, example_scenarios()))
    scheduler, slower = command_scheduler(scn, runs, scheduler)
    if slower and warn is not None:
        warn(slower)
    with progress(f"simulating {scn.name}") as on_progress:
        summary = summarise_salvo(
            scn, runs=runs, seed=seed, scheduler=scheduler, workers=workers, on_progress=on_progress
        )
    return SalvoRun(scn.name, SalvoSummary.model_validate(summary))


def parse_sizes(sizes: str) -> list[int]:
    """Salvo sizes from comma-separated text ("100,200,400")."""
    try:
        return [int(x) for x in sizes.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"sizes: expected comma-separated integers, got {sizes!r}") from None


def saturation_job(
    scenario: str | Path,
    sizes: str,
    *,
    family: str = "shahed",
    runs: int = 4000,
    seed: int = 0,
    status: Activity = quietly,
) -> SaturationCurve:
    """``barrage simulate salvo-curve``: the leak-rate curve and its onset (the scenario a
    file or a shipped name, as every scenario command takes it)."""
    size_list = parse_sizes(sizes)
    scn = load_scenario(scenario_file(scenario, example_scenarios()))
    with status(f"simulating {scn.name} at {len(size_list)} sizes"):
        curve = leak_rate_curve(scn, size_list, family=family, runs=runs, seed=seed)
    return SaturationCurve(scn.name, curve, saturation_onset(curve))


def salvo_check_job(
    db: str | Path, *, cut: list[str], runs: int, seed: int, status: Activity = quietly
) -> tuple[list[str], pd.DataFrame]:
    """``barrage simulate salvo-check``: the cut dates as checked (ISO only) and the
    out-of-sample table of the layered model against its baselines on the store's record."""
    cuts = [str(to_day(c, "cut")) for c in cut]
    with status("calibrating before each cut, predicting the nights after"):
        _, table = out_of_sample_check(
            load_night_totals(db), cuts=tuple(cuts), runs=runs, seed=seed
        )
    return cuts, table


def strike_job(
    scenario: str | Path,
    *,
    runs: int,
    seed: int,
    grid_dir: str | Path | None = None,
    scheduler: Any = "auto",
    workers: int | None = None,
    progress: Activity = quietly,
) -> StrikeSummary:
    """``barrage simulate strike``: the strike Monte Carlo of a file or shipped example,
    summarised."""
    check_run(scheduler, workers)
    path = scenario_file(scenario, example_strike_scenarios())
    with progress(f"simulating {runs} strikes") as on_progress:
        result = simulate_strike_chunked(
            path,
            runs=runs,
            seed=seed,
            grid_dir=grid_dir,
            scheduler=scheduler,
            workers=workers,
            on_progress=on_progress,
        )
    return StrikeSummary.model_validate(result.summary())


def plan_defence_job(
    scenario: str | Path,
    *,
    scheduler: Any = "auto",
    workers: int | None = None,
    status: Activity = quietly,
    **kwargs: Any,
) -> dict:
    """``barrage plan-defence``: the protection plans of a file or shipped example
    (``kwargs`` as :func:`barrage.grid.planning.plan_defence`)."""
    check_run(scheduler, workers)
    path = scenario_file(scenario, example_strike_scenarios())
    with status("scoring protection plans"):
        return plan_defence_chunked(path, scheduler=scheduler, workers=workers, **kwargs)


def replay_job(
    scenario: str | Path,
    db: str | Path,
    *,
    runs: int = 200,
    seed: int = 0,
    grid_dir: str | Path | None = None,
    status: Activity = quietly,
) -> dict:
    """``barrage simulate replay``: past strikes replayed on a file or shipped example."""
    path = scenario_file(scenario, example_strike_scenarios())
    with status("replaying 2024 and winter 2022-23"):
        return replay_from_store(path, db, runs=runs, seed=seed, grid_dir=grid_dir)


def campaign_job(
    scenario: str | Path,
    *,
    runs: int,
    seed: int,
    start: str | None = None,
    days: int | None = None,
    grid_dir: str | Path | None = None,
    scheduler: Any = "auto",
    workers: int | None = None,
    db: str | Path | None = None,
    html_out: str | Path | None = None,
    progress: Activity = quietly,
) -> dict:
    """``barrage simulate campaign``: a season of strikes summarised (fan charts written
    to ``html_out`` when given); the attacker from the store's models as of ``start``
    when ``db`` is given."""
    check_run(scheduler, workers)
    if html_out is not None:
        check_output_file(html_out, param="html_out")
    first = None if start is None else pd.Timestamp(to_day(start, "start")).date()
    scn = with_overrides(load_campaign(scenario), start=first, days=days)
    with progress(f"playing {runs} seasons") as on_progress:
        ctx, result = simulate_campaign(
            scn, runs=runs, seed=seed, scheduler=scheduler, workers=workers, grid_dir=grid_dir,
            on_progress=on_progress, db=db,
        )  # fmt: skip
    summary = {**summarise_campaign(ctx, result), "seed": seed}
    if ctx.as_of is not None:
        summary["attacker_as_of"] = ctx.as_of
    if html_out is not None:
        write_campaign_report(summary, html_out)
    return summary


def plan_campaign_job(
    scenario: str | Path,
    *,
    runs: int,
    seed: int,
    budget_usd: float | None = None,
    grid_dir: str | Path | None = None,
    scheduler: Any = "auto",
    workers: int | None = None,
    status: Activity = quietly,
) -> dict:
    """``barrage plan-defence --campaign``: the campaign's defence packages compared over
    the season on the same draws."""
    check_run(scheduler, workers)
    scn = load_campaign(scenario)
    with status("playing the season once per package (same draws)"):
        return plan_campaign(
            scn, runs=runs, seed=seed, budget_usd=budget_usd, grid_dir=grid_dir,
            scheduler=scheduler, workers=workers,
        )  # fmt: skip
