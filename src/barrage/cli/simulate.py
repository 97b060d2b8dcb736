"""``barrage simulate``: Monte Carlo simulations (salvo against a layered defence)."""

from __future__ import annotations

from pathlib import Path

import typer

from barrage.cli._app import app
from barrage.cli._common import (
    clean_errors,
    emit_json,
    print_credit,
    stderr_console,
    stderr_progress,
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
        "(2024-08-26_combined, 2025-07-09_combined, stylised_waves).",
    ),
    runs: int = typer.Option(10_000, "--runs", help="Monte Carlo runs."),
    seed: int = typer.Option(0, "--seed", help="Seed; same seed, same numbers."),
    scheduler: str = typer.Option(
        "auto",
        "--scheduler",
        help="local (a Dask LocalCluster here), tcp://HOST:PORT (an existing Dask "
        "cluster), sync (this process) or auto (local only for jobs big enough to repay "
        "its start-up: on 2 cores, about 250,000 runs of a 741-weapon salvo with a core "
        "idle, 2 million when the cores are busy; else sync). "
        "Same numbers on every scheduler.",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes for --scheduler local (default: one per core)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Simulate a mixed salvo against the scenario's layers; leakers, debris, costs."""
    from barrage.pipeline.simulate import salvo_job

    run = salvo_job(
        scenario,
        runs=runs,
        seed=seed,
        scheduler=scheduler,
        workers=workers,
        progress=stderr_progress,
        warn=_warn_slower,
    )
    summary = run.summary.as_json()
    if as_json:
        emit_json(summary)
        return
    _render(summary, run.name)
    print_credit()


def _warn_slower(reason: str) -> None:
    stderr_console().print(
        f"[yellow]warning:[/] --scheduler local: {reason}; --scheduler sync is likely "
        "faster (docs/benchmarks.md)",
        soft_wrap=True,
    )


@simulate_app.command("salvo-check")
@clean_errors
def salvo_check(
    db: Path = typer.Option(Path("barrage.duckdb"), "--db", help="Store made by `barrage ingest`."),
    runs: int = typer.Option(1000, "--runs", help="Monte Carlo runs per night and model."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    cut: list[str] = typer.Option(
        ["2024-10-01", "2025-04-01"],
        "--cut",
        help=(
            "Cut date (YYYY-MM-DD; repeat for several): calibrate before, score after. "
            "2025-10-01 is the registered prospective test; it needs a record newer than "
            "the snapshot."
        ),
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Out-of-sample check: the layered model against two baselines, by class and cut."""
    from barrage.pipeline.simulate import salvo_check_job

    cut, table = salvo_check_job(db, cut=cut, runs=runs, seed=seed, status=stderr_console().status)
    rows = table.to_dict(orient="records")
    if as_json:
        emit_json({"runs": runs, "seed": seed, "cuts": list(cut), "scores": rows})
        return
    _render_check(rows, runs)


_SHORT_CLASS = {
    "attack_drone": "drone",
    "cruise_missile": "cruise",
    "ballistic_missile": "ballistic",
}


def _render_check(rows: list[dict], runs: int) -> None:
    """One table per cut, narrow enough for an 80-column terminal."""
    from rich.table import Table

    out = stdout_console()
    for cut in dict.fromkeys(r["cut"] for r in rows):
        table = Table(
            title=f"cut {cut}: leakers a night, out of sample ({runs} runs)",
            caption="obs., pred.: mean leakers a night, observed and predicted; 50%, 90%: "
            "share of nights inside the central interval; CRPS in weapons, lower is better",
        )
        for col in ("class", "model"):
            table.add_column(col, no_wrap=True)
        for col in ("nights", "obs.", "pred.", "50%", "90%", "CRPS"):
            table.add_column(col, justify="right", no_wrap=True)
        for r in (r for r in rows if r["cut"] == cut):
            table.add_row(
                _SHORT_CLASS.get(r["weapon_class"], r["weapon_class"]),
                r["model"],
                str(r["nights"]),
                f"{r['leakers']:.1f}",
                f"{r['predicted']:.1f}",
                f"{r['coverage_50']:.0%}",
                f"{r['coverage_90']:.0%}",
                f"{r['crps']:.2f}",
            )
        out.print(table)
    print_credit()


@simulate_app.command("salvo-curve")
@clean_errors
def salvo_curve(
    scenario: Path = typer.Argument(
        ...,
        help="Scenario YAML (see docs/salvo.md), or the name of a shipped example "
        "(stylised_waves, 2024-08-26_combined, 2025-07-09_combined).",
    ),
    sizes: str = typer.Option(
        "100,200,300,400,600,800,1000,1400", "--sizes", help="Salvo sizes, comma-separated."
    ),
    family: str = typer.Option("shahed", "--family", help="Weapon family to scale."),
    runs: int = typer.Option(4000, "--runs", help="Monte Carlo runs per size and profile."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Leak rate by salvo size, with the scenario's waves and with them spread out."""
    from barrage.pipeline.simulate import saturation_job

    result = saturation_job(
        scenario, sizes, family=family, runs=runs, seed=seed, status=stderr_console().status
    )
    curve, onset = result.curve, result.onset_size
    if as_json:
        emit_json(
            {
                "runs": runs,
                "seed": seed,
                "curve": curve.to_dict(orient="records"),
                "onset_size": onset,
            }
        )
        return
    from rich.table import Table

    wide = curve.pivot(index="size", columns="profile", values="leak_rate")
    table = Table(title=f"{result.name}: share of real {family} launched that get through")
    for col in ("size", "waves", "spread"):
        table.add_column(col, justify="right", no_wrap=True)
    for size, row in wide.iterrows():
        table.add_row(str(size), f"{row['waves']:.3f}", f"{row['spread']:.3f}")
    stdout_console().print(table)
    stdout_console().print(
        "ILLUSTRATIVE: the scenario's stated layers, capacities and waves (docs/salvo.md)"
    )
    stdout_console().print(
        "leak rate 0.05 above the smallest size's from: "
        + ", ".join(f"{k} {v:.0f}" if v else f"{k} never" for k, v in onset.items())
    )
    print_credit()


def _render(summary: dict, name: str) -> None:
    from rich.table import Table

    table = Table(
        title=f"{name}: {summary['runs']} runs, seed {summary['seed']}",
        caption=(
            "weapons (or interceptors) in the night; costs in million USD at illustrative "
            "unit costs. ILLUSTRATIVE: the layers, stocks and kill probabilities are the "
            "scenario's stated assumptions, not a real air defence (docs/salvo.md); how the "
            "layered model holds out of sample: barrage simulate salvo-check"
        ),
    )
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
    table.add_row("attacker cost (M USD)", f"{cost['attacker_cost_usd'] / 1e6:,.1f}", "", "", "")
    d = cost["defender_cost_usd"]
    table.add_row(
        "defender cost (M USD)", *(f"{d[q] / 1e6:,.1f}" for q in ("mean", "p05", "p50", "p95"))
    )
    stdout_console().print(table)
