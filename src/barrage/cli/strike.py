"""``barrage simulate strike`` and ``barrage plan-defence``: salvo -> grid -> restoration.

Thin: parse, one library call (:mod:`barrage.pipeline.simulate`), render. Heavy imports stay inside.
"""

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
    from barrage.pipeline.simulate import strike_job

    result = strike_job(
        scenario,
        runs=runs,
        seed=seed,
        grid_dir=grid_dir,
        scheduler=scheduler,
        workers=workers,
        progress=stderr_progress,
    )
    summary = result.as_json()
    if as_json:
        emit_json(summary)
        return
    _render_strike(summary)
    print_credit()


def _num(v: float) -> str:
    """At most 8 characters, never cut: 3 significant figures, M / bn for large values."""
    a = abs(v)
    if a < 5e-4:
        return "0"
    if a >= 1e9:
        return f"{v / 1e9:.3g} bn"
    if a >= 1e6:
        return f"{v / 1e6:.3g} M"
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


_LEGACY_ROWS = (
    ("unserved_energy_mwh", "unserved energy (MWh)"),
    ("customer_hours", "customer-hours without power"),
    ("cold_customer_hours", "  of which below 0 C"),
    ("harm_weighted_customer_hours", "cold-weighted customer-hours"),
    ("peak_shed_mw", "peak shed (MW)"),
    ("shed_hours", "hours with shedding"),
    ("restoration_days", "days to full repair"),
    ("assets_destroyed", "grid units destroyed"),
)


def _context_rows(c: dict) -> list[tuple[str, dict]]:
    h = c["hours_without_power_per_day"]
    d = c["days_to_restore"]
    return [
        ("peak shed (GW)", c["peak_shed_gw"]),
        ("  % of demand", c["peak_shed_percent_of_demand"]),
        ("unserved energy (GWh)", c["unserved_energy_gwh"]),
        (f"  % of demand in {c['horizon_days']} days", c["unserved_energy_percent_of_demand"]),
        ("hours off a day, average customer", h["first_day"]),
        ("  over the first week", h["first_week"]),
        ("days to restore 50% of worst day", d["50%"]),
        ("  90%", d["90%"]),
        ("  100%", d["100%"]),
        ("generating capacity lost (GW)", c["generation_lost_gw"]),
        ("nuclear curtailed by grid damage", c["nuclear_curtailed_by_grid_damage_mw"]["first_day"]),
        ("  (MW, day 1)", None),
    ]


def _render_strike(s: dict) -> None:
    from rich import box
    from rich.table import Table

    out = stdout_console()
    table = Table(
        title=f"{s['network']}: {s['runs']:,} runs, seed {s['seed']}",
        caption="median, 90% interval (p05-p95) and CVaR95 (mean of the worst 5%)",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("output", overflow="fold", max_width=34)
    for col in ("median", "p05-p95", "CVaR95"):
        table.add_column(col, justify="right", no_wrap=True)
    rows = _context_rows(s["in_context"]) if "in_context" in s else []
    rows += [(label, s[key]) for key, label in _LEGACY_ROWS]
    for label, d in rows:
        if d is None:
            table.add_row(label, "", "", "")
            continue
        interval = f"{_num(d['p05'])}-{_num(d['p95'])}"
        table.add_row(label, _num(d["p50"]), interval, _num(d["cvar95"]))
    out.print(table)
    out.print(f"restored within the horizon in {s['restored_within_horizon']:.0%} of runs")
    _render_by_class(s)
    for note in s.get("in_context", {}).get("illustrative", []):
        out.print(f"illustrative: rests on {note}")


def _render_by_class(s: dict) -> None:
    """Unserved energy (MWh) and hours with shedding by load class, medians."""
    energy = s["unserved_energy_by_class_mwh"]
    hours = s.get("in_context", {}).get("shed_hours_by_class", {})
    parts = [
        f"{c} {_num(v['p50'])} MWh" + (f", {_num(hours[c]['p50'])} h" if c in hours else "")
        for c, v in energy.items()
        if v["mean"] > 0 or (c in hours and hours[c]["mean"] > 0)
    ]
    if parts:
        stdout_console().print("by class (medians): " + "; ".join(parts))


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
    campaign: bool = typer.Option(
        False, "--campaign", help="SCENARIO is a campaign: compare its packages over the season."
    ),
) -> None:
    """Choose air-defence placements, spare transformers and crews that minimise expected
    unserved energy (lazy greedy, checked by enumeration); marginal value of each unit.
    With --campaign: defence packages over a season, customer-hours avoided per USD."""
    if campaign:
        from barrage.cli.campaign import plan_campaign_cmd

        plan_campaign_cmd(str(scenario), budget, runs, seed, grid_dir, scheduler, workers, as_json)
        return
    from barrage.pipeline.simulate import plan_defence_job

    result = plan_defence_job(
        scenario,
        budget=budget,
        runs=runs,
        seed=seed,
        grid_dir=grid_dir,
        exact=exact,
        scheduler=scheduler,
        workers=workers,
        status=stderr_console().status,
    )
    if as_json:
        emit_json(result)
        return
    _render_plan(result)
    print_credit()


def _render_plan(r: dict) -> None:
    from rich import box
    from rich.table import Table

    out = stdout_console()
    unit = r.get("cost_unit", "cost unit")
    table = Table(
        title=f"{r['scenario']}: budget {_num(r['budget'])} {unit}, {r['runs']} runs",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("plan", overflow="fold", max_width=16)
    table.add_column("units", overflow="fold", max_width=30)
    for col in ("cost", "E unserved MWh", "+/- se"):
        table.add_column(col, justify="right", no_wrap=True)

    def row(label: str, p: dict) -> None:
        units = ", ".join(f"{k} x{v}" for k, v in p["units"].items()) or "-"
        table.add_row(
            label,
            units,
            _num(p["cost"]),
            _num(p["expected_unserved_energy_mwh"]),
            _num(p["standard_error_mwh"]),
        )

    row("no additions", r["no_additions"])
    row("greedy", r["greedy"])
    row("naive (largest loads)", r["naive_largest_loads"])
    if r["exact"] and "units" in r["exact"]:
        row(f"exact ({r['exact']['plans_scored']} plans)", r["exact"])
    out.print(table)
    steps = Table(title="Marginal value of each unit (greedy order)", box=box.SIMPLE_HEAD)
    steps.add_column("step", justify="right", no_wrap=True)
    steps.add_column("unit", overflow="fold", max_width=26)
    for col in ("cost", "reduction MWh", "+/- se", f"MWh per {unit}"):
        steps.add_column(col, justify="right", no_wrap=True)
    for s in r["greedy"]["steps"]:
        steps.add_row(
            str(s["step"]),
            s["unit"],
            _num(s["cost"]),
            _num(s["reduction_mwh"]),
            _num(s["reduction_standard_error_mwh"]),
            f"{s['reduction_per_cost_mwh']:.3g}",
        )
    out.print(steps)
    _render_ranking(r)
    n = r["naive_largest_loads"]
    out.print(
        f"naive minus greedy: {n['difference_vs_reference_mwh']:,.0f} MWh "
        f"(+/- {n['difference_standard_error_mwh']:,.0f})"
    )
    if r["exact"] and "greedy_gap_mwh" in r["exact"]:
        out.print(f"greedy gap to the exact optimum: {r['exact']['greedy_gap_mwh']:,.0f} MWh")


def _render_ranking(r: dict) -> None:
    from rich import box
    from rich.table import Table

    unit = r.get("cost_unit", "cost unit")
    table = Table(
        title="Each unit alone: unserved energy avoided per cost",
        caption=f"costs in {unit}; CVaR95 = mean of the worst 5% of runs",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("unit", overflow="fold", max_width=24)
    for col in ("cost", "avoided MWh", "+/- se", f"MWh per {unit}", "CVaR95 MWh"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in r.get("ranking", []):
        table.add_row(
            row["unit"],
            _num(row["cost"]),
            _num(row["avoided_mwh"]),
            _num(row["avoided_standard_error_mwh"]),
            f"{row['avoided_mwh_per_cost']:.3g}",
            _num(row["cvar95_mwh"]),
        )
    stdout_console().print(table)


@simulate_app.command("replay")
@clean_errors
def replay_cmd(
    scenario: Path = typer.Argument(
        Path("ukraine_stylised"), help="Strike scenario on a stylised system (default: shipped)."
    ),
    db: Path = typer.Option(Path("barrage.duckdb"), "--db", help="DuckDB store of the record."),
    runs: int = typer.Option(200, "--runs", help="Monte Carlo runs per replay."),
    seed: int = typer.Option(0, "--seed", help="Seed; same seed, same numbers."),
    grid_dir: Path | None = typer.Option(None, "--grid-dir", help=_GRID_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Replay the 2024 strikes on energy (fit) and winter 2022-23 (check) from the record
    on the stylised system; model against public figures, within a factor of 2 or not."""
    from barrage.pipeline.simulate import replay_job

    result = replay_job(
        scenario, db, runs=runs, seed=seed, grid_dir=grid_dir, status=stderr_console().status
    )
    if as_json:
        emit_json(result)
        return
    _render_replay(result)
    print_credit()


def _render_replay(r: dict) -> None:
    from rich import box
    from rich.table import Table

    out = stdout_console()
    table = Table(
        title=f"{r['scenario']}: replay, {r['runs']} runs, damage scale {r['kappa']:g}",
        caption="model median and 90% interval, in the public figure's unit; hit = within a "
        "factor of 2",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("target", overflow="fold", max_width=30)
    for col in ("kind", "public", "median", "p05-p95", "hit"):
        table.add_column(col, justify="right", overflow="fold")
    for row in r["rows"]:
        table.add_row(
            row["target"],
            row["kind"],
            f"{_num(row['public'])} {row['unit']}",
            f"{_num(row['model_median'])} {row['unit']}",
            f"{_num(row['model_p05'])}-{_num(row['model_p95'])}",
            "hit" if row["within_factor_2"] else "MISS",
        )
    out.print(table)
    for row in r["rows"]:
        note = f" ({row['note']})" if row.get("note") else ""
        out.print(f"{row['target']}: {row['source']}{note}")


def render_impact(impact: dict) -> None:
    """The closing section of ``barrage run``: a strike like the last one, in context."""
    out = stdout_console()
    out.print("[bold]What a strike like the last one would do[/bold]")
    if "skipped" in impact:
        out.print(f"skipped: {impact['skipped']}")
        return
    d = impact

    def line(label: str, v: dict, unit: str) -> None:
        out.print(f"  {label}: {_num(v['median'])} {unit} (90%: {_num(v['p05'])}-{_num(v['p95'])})")

    got_through = ", ".join(
        f"{n:,} {cls.replace('_', ' ')}s" for cls, n in d["leakers"].items() if n
    )
    out.print(
        f"night of {d['night']}: got through (launched - destroyed) {got_through or 'none'}; "
        f"winter peak {d['demand_mw']:,.0f} MW"
    )
    line("shortfall", d["shed_gw"], "GW")
    line("  share of demand", d["shed_percent_of_demand"], "%")
    line("hours without power a day, average customer", d["hours_without_power_per_day"], "h")
    line("generating capacity lost", d["generation_lost_gw"], "GW")
    line("nuclear output curtailed by grid damage", d["nuclear_curtailed_mw"], "MW")
    for q, v in d["days_to_restore_capacity"].items():
        line(f"days until {q} of the lost capacity is back", v, "days")
    out.print(f"illustrative: rests on {d['illustrative']}")
