"""``barrage simulate campaign``: a season of strikes, night by night (docs/campaign.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from barrage.cli._common import (
    clean_errors,
    emit_json,
    print_credit,
    stderr_console,
    stderr_progress,
    stdout_console,
)
from barrage.cli.simulate import simulate_app

_CAMPAIGN_HELP = (
    "Campaign YAML (docs/campaign.md), or the name of a bundled example: winter_stylised."
)
_SCHEDULER_HELP = (
    "sync (this process), local (a Dask LocalCluster here), tcp://HOST:PORT, or auto "
    "(local from 200 runs). Same numbers on every scheduler."
)


@simulate_app.command("campaign")
@clean_errors
def campaign(
    scenario: str = typer.Argument(..., help=_CAMPAIGN_HELP),
    start: str | None = typer.Option(
        None, "--start", help="First day, YYYY-MM-DD (default: the file's)."
    ),
    days: int | None = typer.Option(
        None, "--days", help="Days in the season, 1..366 (default: the file's)."
    ),
    runs: int = typer.Option(200, "--runs", help="Monte Carlo runs (seasons)."),
    seed: int = typer.Option(0, "--seed", help="Seed; same seed, same numbers."),
    grid_dir: Path | None = typer.Option(None, "--grid-dir", help="Folder of PGLib-OPF cases."),
    scheduler: str = typer.Option("auto", "--scheduler", help=_SCHEDULER_HELP),
    workers: int | None = typer.Option(None, "--workers", help="Workers for --scheduler local."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    html_out: Path | None = typer.Option(
        None, "--html", help="Also write the fan charts to this HTML file."
    ),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="Store: draw strike nights and sizes from the registered launch-count model "
        "and the attacker's stock and production from the stockpile model, both as of "
        "--start (nights before it only). Default: the file's doctrine and stock.",
    ),
) -> None:
    """Strike after strike over a season: stocks, interceptors, damage, restoration, cold."""
    from barrage.pipeline.simulate import campaign_job

    summary = campaign_job(
        scenario, runs=runs, seed=seed, start=start, days=days, grid_dir=grid_dir,
        scheduler=scheduler, workers=workers, db=db, html_out=html_out,
        progress=stderr_progress,
    )  # fmt: skip
    if as_json:
        emit_json(summary)
        return
    _render(summary)
    print_credit()


def _render(s: dict) -> None:
    out = stdout_console()
    out.print(_season_table(s))
    for name, v in s["interceptors"].items():
        dry = v["day_ran_dry_p50"]
        out.print(
            f"{name}: ran dry in {v['share_of_runs_ran_dry']:.0%} of runs"
            + (f" (median day {dry})" if dry else "")
        )
    out.print("ILLUSTRATIVE: stylised system and stated assumptions (docs/campaign.md).")


def _season_table(s: dict):
    """The season's outputs, one row each, short labels and no cut figures in 80 columns
    (energy in GWh here; ``--json`` keeps MWh)."""
    from rich import box
    from rich.table import Table

    t = Table(
        title=f"{s['name']}: {s['runs']} runs from {s['start']}, {s['days']} days",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("output", no_wrap=True)
    for col in ("mean", "p05", "p50", "p95", "CVaR95"):
        t.add_column(col, justify="right", no_wrap=True, min_width=7)

    def row(label: str, v: dict | None = None, scale: float = 1.0) -> None:
        cells = ("mean", "p05", "p50", "p95", "cvar95")
        t.add_row(label, *(f"{v[k] * scale:,.1f}" for k in cells) if v else ())

    row("massive-strike nights", s["massive_strike_nights"])
    row("hours off/day, avg customer", s["hours_without_power_per_day"]["season_mean"])
    row("hours off/day by load class:")
    for c, v in s["hours_without_power_per_day_by_class"].items():
        row(f"  {c}", v)
    row("worst week, hours off", s["worst_week"]["hours_without_power"])
    row("unserved energy, GWh", s["unserved_energy_mwh"], 1e-3)
    for m, v in s["unserved_energy_mwh_by_month"].items():
        row(f"  {m}", v, 1e-3)
    row("interceptors used:")
    for name, v in s["interceptors"].items():
        row(f"  {name}", v["used_season"])
    row("weapons launched", s["launched_season"])
    return t


def plan_campaign_cmd(scenario, budget, runs, seed, grid_dir, scheduler, workers, as_json) -> None:
    """``plan-defence --campaign``: one library call, then a table or JSON."""
    from barrage.pipeline.simulate import plan_campaign_job

    result = plan_campaign_job(
        scenario, runs=runs, seed=seed, budget_usd=budget, grid_dir=grid_dir,
        scheduler=scheduler, workers=workers, status=stderr_console().status,
    )  # fmt: skip
    if as_json:
        emit_json(result)
        return
    stdout_console().print(_packages_table(result))
    stdout_console().print(
        "avoided and CVaR95 (of those lost) in million customer-hours (people x hours without "
        "power); per USD in customer-hours. ILLUSTRATIVE."
    )
    print_credit()


def _packages_table(result: dict):
    """Packages by customer-hours avoided, in millions so no figure is cut in 80 columns
    (``--json`` keeps whole customer-hours)."""
    from rich import box
    from rich.table import Table

    t = Table(
        title=f"Packages under {result['budget_usd'] / 1e6:,.1f} M USD, {result['runs']} runs",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("package", no_wrap=True)
    for col in ("cost M USD", "avoided M", "± se M", "per USD", "CVaR95 M"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in result["packages"]:
        t.add_row(
            r["package"],
            f"{r['cost_usd'] / 1e6:,.1f}",
            f"{r['customer_hours_avoided']['mean'] / 1e6:,.1f}",
            f"{r['customer_hours_avoided_se'] / 1e6:,.1f}",
            f"{r['customer_hours_avoided_per_usd']:.3f}",
            f"{r['customer_hours_lost']['cvar95'] / 1e6:,.1f}",
        )
    return t
