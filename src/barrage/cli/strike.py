"""``barrage simulate strike`` and ``barrage plan-defence``: salvo -> grid -> restoration.

Thin: parse, one library call (:func:`barrage.grid.simulate_strike` or
:func:`barrage.grid.planning.plan_defence`), render. Heavy imports stay inside.
"""

from __future__ import annotations

from pathlib import Path

import typer

from barrage.cli import app
from barrage.cli._common import (
    clean_errors,
    emit_json,
    scenario_file,
    stderr_console,
    stdout_console,
)
from barrage.cli.simulate import simulate_app

_GRID_DIR_HELP = (
    "Folder of network files named in the scenario (default: $BARRAGE_GRID_DIR, else "
    "../shared/data/grid/pglib-opf)."
)
_SCHEDULER_HELP = (
    "local (a Dask LocalCluster here), tcp://HOST:PORT (an existing Dask cluster), sync "
    "(this process) or auto (local from 4,096 runs, else sync). Same numbers on every "
    "scheduler."
)
_WORKERS_HELP = "Worker processes for --scheduler local (default: one per core)."
_SCENARIO_HELP = (
    "Strike scenario YAML: a salvo scenario plus a 'grid:' section (see docs/grid.md), or "
    "the name of a shipped example (strike_case24)."
)


def _scenario_path(scenario: Path) -> Path:
    """The file, or a shipped example named by its stem."""
    from barrage.grid.strike import example_strike_scenarios

    return scenario_file(scenario, example_strike_scenarios())


@simulate_app.command("strike")
@clean_errors
def strike(
    scenario: Path = typer.Argument(..., help=_SCENARIO_HELP),
    runs: int = typer.Option(1000, "--runs", help="Monte Carlo runs."),
    seed: int = typer.Option(0, "--seed", help="Seed; same seed, same numbers."),
    grid_dir: Path | None = typer.Option(None, "--grid-dir", help=_GRID_DIR_HELP),
    scheduler: str = typer.Option("auto", "--scheduler", help=_SCHEDULER_HELP),
    workers: int | None = typer.Option(None, "--workers", help=_WORKERS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Salvo, hits on grid assets, load shed and restoration as one Monte Carlo."""
    from barrage.compute import check_scheduler, check_workers, progress_bar
    from barrage.compute.strike import simulate_strike_chunked

    check_scheduler(scheduler)
    check_workers(workers)
    path = _scenario_path(scenario)
    with progress_bar(f"simulating {runs} strikes", console=stderr_console()) as on_progress:
        result = simulate_strike_chunked(
            path,
            runs=runs,
            seed=seed,
            grid_dir=grid_dir,
            scheduler=scheduler,
            workers=workers,
            on_progress=on_progress,
        )
    summary = result.summary()
    if as_json:
        emit_json(summary)
        return
    _render_strike(summary)


def _render_strike(s: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{s['network']}: {s['runs']} runs, seed {s['seed']}")
    for col in ("output", "mean", "p05", "p50", "p95", "cvar95"):
        table.add_column(col, justify="left" if col == "output" else "right", no_wrap=True)
    for key, label in (
        ("unserved_energy_mwh", "unserved energy (MWh)"),
        ("customer_hours", "customer-hours without power"),
        ("cold_customer_hours", "  of which below 0 C"),
        ("harm_weighted_customer_hours", "cold-weighted customer-hours"),
        ("peak_shed_mw", "peak shed (MW)"),
        ("shed_hours", "hours with shedding"),
        ("restoration_days", "days to full repair"),
        ("assets_destroyed", "grid assets destroyed"),
    ):
        d = s[key]
        table.add_row(label, *(f"{d[q]:,.0f}" for q in ("mean", "p05", "p50", "p95", "cvar95")))
    d = s["leakers"]
    table.add_row("leakers", *(f"{d[q]:,.1f}" for q in ("mean", "p05", "p50", "p95")), "")
    out = stdout_console()
    out.print(table)
    out.print(f"restored within the horizon in {s['restored_within_horizon']:.0%} of runs")


@app.command("plan-defence")
@clean_errors
def plan_defence_cmd(
    scenario: Path = typer.Argument(..., help=_SCENARIO_HELP + " Needs a 'planning:' section."),
    budget: float | None = typer.Option(
        None, "--budget", help="Budget in the candidates' cost units (default: the scenario's)."
    ),
    runs: int = typer.Option(400, "--runs", help="Monte Carlo runs per plan (same for all)."),
    seed: int = typer.Option(
        0, "--seed", help="Seed shared by every plan (common random numbers)."
    ),
    grid_dir: Path | None = typer.Option(None, "--grid-dir", help=_GRID_DIR_HELP),
    exact: bool = typer.Option(
        True, "--exact/--no-exact", help="Also score every affordable plan (small cases)."
    ),
    scheduler: str = typer.Option(
        "auto", "--scheduler", help=_SCHEDULER_HELP.replace("runs", "runs per plan")
    ),
    workers: int | None = typer.Option(None, "--workers", help=_WORKERS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Choose air-defence placements, spare transformers and crews that minimise expected
    unserved energy (lazy greedy, checked by enumeration); marginal value of each unit."""
    from barrage.compute import check_scheduler, check_workers
    from barrage.compute.strike import plan_defence_chunked

    check_scheduler(scheduler)
    check_workers(workers)
    path = _scenario_path(scenario)
    with stderr_console().status("scoring protection plans"):
        result = plan_defence_chunked(
            path,
            budget=budget,
            runs=runs,
            seed=seed,
            grid_dir=grid_dir,
            exact=exact,
            scheduler=scheduler,
            workers=workers,
        )
    if as_json:
        emit_json(result)
        return
    _render_plan(result)


def _render_plan(r: dict) -> None:
    from rich.table import Table

    out = stdout_console()
    table = Table(title=f"{r['scenario']}: budget {r['budget']:g}, {r['runs']} runs")
    for col in ("plan", "units", "cost", "E[unserved] MWh", "+/- se"):
        table.add_column(col, justify="left" if col in ("plan", "units") else "right")

    def row(label: str, p: dict) -> None:
        units = ", ".join(f"{k} x{v}" for k, v in p["units"].items()) or "-"
        table.add_row(
            label,
            units,
            f"{p['cost']:g}",
            f"{p['expected_unserved_energy_mwh']:,.0f}",
            f"{p['standard_error_mwh']:,.0f}",
        )

    row("no additions", r["no_additions"])
    row("greedy", r["greedy"])
    row("naive (largest loads)", r["naive_largest_loads"])
    if r["exact"] and "units" in r["exact"]:
        row(f"exact ({r['exact']['plans_scored']} plans)", r["exact"])
    out.print(table)
    steps = Table(title="Marginal value of each unit (greedy order)")
    for col in ("step", "unit", "cost", "reduction MWh", "+/- se", "per cost unit"):
        steps.add_column(col, justify="left" if col == "unit" else "right")
    for s in r["greedy"]["steps"]:
        steps.add_row(
            str(s["step"]),
            s["unit"],
            f"{s['cost']:g}",
            f"{s['reduction_mwh']:,.0f}",
            f"{s['reduction_standard_error_mwh']:,.0f}",
            f"{s['reduction_per_cost_mwh']:,.0f}",
        )
    out.print(steps)
    n = r["naive_largest_loads"]
    out.print(
        f"naive minus greedy: {n['difference_vs_reference_mwh']:,.0f} MWh "
        f"(+/- {n['difference_standard_error_mwh']:,.0f})"
    )
    if r["exact"] and "greedy_gap_mwh" in r["exact"]:
        out.print(f"greedy gap to the exact optimum: {r['exact']['greedy_gap_mwh']:,.0f} MWh")
