"""``barrage simulate``: Monte Carlo simulations (salvo against a layered defence)."""

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

simulate_app = typer.Typer(
    help="Simulate strikes: what gets through a layered air defence.",
    no_args_is_help=True,
)
app.add_typer(simulate_app, name="simulate")


@simulate_app.command("salvo")
@clean_errors
def salvo(
    scenario: Path = typer.Argument(
        ...,
        help="Scenario YAML (see docs/salvo.md), or the name of a shipped example "
        "(2024-08-26_combined, 2025-07-09_combined).",
    ),
    runs: int = typer.Option(10_000, "--runs", help="Monte Carlo runs."),
    seed: int = typer.Option(0, "--seed", help="Seed; same seed, same numbers."),
    scheduler: str = typer.Option(
        "auto",
        "--scheduler",
        help="local (a Dask LocalCluster here), tcp://HOST:PORT (an existing Dask "
        "cluster), sync (this process) or auto (local only for jobs big enough to repay "
        "its start-up, about 5 million runs of a 741-weapon salvo on 2 cores; else sync). "
        "Same numbers on every scheduler.",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes for --scheduler local (default: one per core)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Simulate a mixed salvo against the scenario's layers; leakers, debris, costs."""
    from barrage.compute import check_scheduler, check_workers, progress_bar, simulate_salvo
    from barrage.compute.salvo import CLI_LOCAL_MIN_ENGAGEMENTS, local_pays_off
    from barrage.salvo import example_scenarios, load_scenario

    check_scheduler(scheduler)
    check_workers(workers)
    scn = load_scenario(scenario_file(scenario, example_scenarios()))
    if scheduler == "auto":
        scheduler = "local" if local_pays_off(scn, runs) else "sync"
    elif scheduler == "local" and not local_pays_off(scn, runs):
        stderr_console().print(
            f"[yellow]warning:[/] --scheduler local: {runs:,} runs of this scenario are "
            "likely faster in this process (--scheduler sync): a local cluster's start-up "
            "and the trip back of every run's outputs outweigh 2 cores' gain below about "
            f"{CLI_LOCAL_MIN_ENGAGEMENTS:,} engagements (runs x weapons x layers); see "
            "docs/benchmarks.md"
        )
    with progress_bar(f"simulating {scn.name}", console=stderr_console()) as on_progress:
        result = simulate_salvo(
            scn, runs=runs, seed=seed, scheduler=scheduler, workers=workers, on_progress=on_progress
        )
    summary = result.summary()
    if as_json:
        emit_json(summary)
        return
    _render(summary, scn.name)


@simulate_app.command("salvo-check")
@clean_errors
def salvo_check(
    db: Path = typer.Option(Path("barrage.duckdb"), "--db", help="Store made by `barrage ingest`."),
    runs: int = typer.Option(2000, "--runs", help="Monte Carlo runs per night."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    start: str = typer.Option("2024-01-01", "--start", help="First night (YYYY-MM-DD)."),
    end: str = typer.Option("2025-12-31", "--end", help="Last night (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Posterior predictive check: simulate each combined strike night of the record."""
    from barrage.indicators import to_day
    from barrage.record.nights import load_night_totals
    from barrage.salvo.validation import posterior_predictive_check

    start, end = str(to_day(start, "--start")), str(to_day(end, "--end"))  # ISO only

    with stderr_console().status("simulating the record's strike nights"):
        _, coverage = posterior_predictive_check(
            load_night_totals(db), start=start, end=end, runs=runs, seed=seed
        )
    rows = coverage.to_dict(orient="records")
    if as_json:
        emit_json({"runs": runs, "seed": seed, "start": start, "end": end, "coverage": rows})
        return
    from rich.table import Table

    table = Table(title=f"Posterior predictive coverage, {start} to {end} ({runs} runs/night)")
    for col in ("weapon_class", "nights", "in 50% interval", "in 90% interval"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(
            r["weapon_class"],
            str(r["nights"]),
            f"{r['coverage_50']:.0%}",
            f"{r['coverage_90']:.0%}",
        )
    stdout_console().print(table)


def _render(summary: dict, name: str) -> None:
    from rich.table import Table

    table = Table(title=f"{name}: {summary['runs']} runs, seed {summary['seed']}")
    for col in ("output", "mean", "p05", "p50", "p95"):
        table.add_column(col, justify="left" if col == "output" else "right", no_wrap=True)

    def row(label: str, s: dict) -> None:
        table.add_row(label, f"{s['mean']:.1f}", *(f"{s[q]:.0f}" for q in ("p05", "p50", "p95")))

    row("leakers", summary["leakers"])
    for group, title in (
        ("leakers_by_class", "leakers"),
        ("leakers_by_asset", "leakers at"),
        ("interceptors_used_by_layer", "interceptors"),
    ):
        for key, s in summary[group].items():
            row(f"  {title} {key}", s)
    row("debris falls", summary["debris_falls"])
    row("decoys engaged", summary["decoys_engaged"])
    cost = summary["cost_exchange"]
    table.add_row("attacker cost (USD)", f"{cost['attacker_cost_usd']:,.0f}", "", "", "")
    d = cost["defender_cost_usd"]
    table.add_row(
        "defender cost (USD)",
        f"{d['mean']:,.0f}",
        f"{d['p05']:,.0f}",
        f"{d['p50']:,.0f}",
        f"{d['p95']:,.0f}",
    )
    stdout_console().print(table)
