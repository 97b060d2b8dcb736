"""Grid commands: ``barrage grid opf`` and ``barrage grid flow`` on a network file."""

from __future__ import annotations

from typing import Annotated

import typer

from barrage.cli._app import app
from barrage.cli._common import (
    JsonOption,
    clean_errors,
    emit_json,
    print_credit,
    stdout_console,
)

grid_app = typer.Typer(
    name="grid",
    help="Power flow and load shedding on public test networks (PGLib-OPF, pandapower).",
    no_args_is_help=True,
)
app.add_typer(grid_app, name="grid")

NetworkArg = Annotated[
    str,
    typer.Argument(
        help="MATPOWER .m file (e.g. a PGLib-OPF case), pandapower .json, or pandapower:<case>."
    ),
]
OutageOption = Annotated[
    list[str] | None,
    typer.Option(
        "--outage",
        help="Destroyed asset: substation:<bus>, plant:<n> or branch:<n> (repeatable).",
    ),
]


@grid_app.command("opf")
@clean_errors
def opf(network_file: NetworkArg, outage: OutageOption = None, json: JsonOption = False) -> None:
    """DC optimal power flow with load shedding, intact or after outages."""
    from barrage.grid.summary import opf_report

    report = opf_report(network_file, outage or [])
    if json:
        emit_json(report)
        return
    console = stdout_console()
    console.print(f"[bold]{report['network']}[/]: {len(report['islands'])} island(s)")
    console.print(
        f"cost: {report['objective_per_h']:,.2f} USD/h (the case's generator cost curves, "
        "in USD as PGLib-OPF states them; load shed priced at the value of lost load)"
    )
    console.print(f"generation: {report['generation_mw']:,.1f} MW")
    console.print(f"load shed: {report['load_shed_mw']:,.1f} of {report['load_mw']:,.1f} MW")
    for k, isl in enumerate(report["islands"][:10]):
        console.print(
            f"  island {k + 1}: {isl['buses']} buses, load {isl['load_mw']:,.1f} MW, "
            f"generation {isl['generation_mw']:,.1f} MW, shed {isl['load_shed_mw']:,.1f} MW"
        )
    print_credit()


@grid_app.command("flow")
@clean_errors
def flow(network_file: NetworkArg, outage: OutageOption = None, json: JsonOption = False) -> None:
    """Plain DC power flow with the file's generator set points."""
    from barrage.grid.summary import flow_report

    report = flow_report(network_file, outage or [])
    if json:
        emit_json(report)
        return
    console = stdout_console()
    console.print(f"[bold]{report['network']}[/]: {report['islands']} island(s)")
    console.print(f"slack: {', '.join(f'{v:,.1f}' for v in report['slack_mw'])} MW")
    console.print(f"unserved load: {report['unserved_load_mw']:,.1f} MW")
    over = report["overloaded_branches"]
    console.print(
        f"overloaded branches (flow above the thermal rating): {', '.join(over) if over else 'none'}"
    )
    if over:
        console.print(
            "[dim]these flows use the file's generator set points as they are, which need not "
            "respect line ratings even on the intact network; `barrage grid opf` dispatches "
            "within them[/]"
        )
    print_credit()
