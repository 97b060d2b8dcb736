"""Stockpile command: ``barrage stockpile`` (stock, production, built since last massive)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from barrage.cli._app import app
from barrage.cli._common import clean_errors, emit_json, stderr_console, stdout_console


def _num(v: float) -> str:
    """A whole number with thousands separators; never "-0"."""
    r = round(v)
    return f"{r + 0:,}"


def _render(payload: dict) -> None:
    from rich.table import Table

    from barrage import ATTRIBUTION

    def fmt(block: dict | None) -> str:
        if block is None:
            return "n/a"
        return f"{_num(block['p50'])} [{_num(block['p05'])}, {_num(block['p95'])}]"

    console = stdout_console()
    for fam, v in payload["families"].items():
        t = v.get("trend_90d")
        if t is not None:
            ch = t["stock_change"]
            console.print(
                f"{fam}: stock {t['trend']} over the last 90 days "
                f"(P(growth) {t['p_growth']:.2f}; change {_num(ch['p50'])} "
                f"[{_num(ch['p05'])}, {_num(ch['p95'])}])"
            )
    table = Table(title=f"stockpile as of {payload['as_of']}: median [90% interval]")
    table.add_column("family", no_wrap=True)  # whole names; the figures wrap instead
    for col in ("stock (units)", "made a month (units)",
                "built since last massive (units)", "built / typical salvo",
                "nights of capacity"):  # fmt: skip
        table.add_column(col, justify="right")
    for fam, v in payload["families"].items():
        ratio = v["accumulation_ratio_p50"]
        noc = v["nights_of_capacity"]
        table.add_row(
            fam,
            fmt(v["stock"]),
            fmt(v["production_per_month"]),
            fmt(v["built_since_last_massive"]),
            "n/a" if ratio is None else f"{ratio:.2f}",
            "n/a" if noc is None else f"{noc:.0f}",
        )
    console.print(table)
    console.print(
        "[dim]stock: at the end of the night before the as-of date. built since last "
        "massive: stock now minus stock right after the last night with >= 30 missiles "
        "(negative: more launched than made since). built / typical salvo: that, over the "
        "median salvo of the family on massive nights of the past year. nights of "
        "capacity: median stock over the 28-night launch tempo (capped at 365). trend: "
        "growing if P(growth) >= 0.8, falling if <= 0.2, else flat. all_missiles: the six "
        "missile families summed draw by draw. decoys: no separate launches in the "
        "record, so no stock; production only. Production and stock statements: public "
        "sources, each with who said it and where, in docs/stockpile.md and the report's "
        f"stockpile section. {ATTRIBUTION}[/]"
    )


@app.command()
@clean_errors
def stockpile(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Estimate as of this date (YYYY-MM-DD): statements and "
            "launches before it only. Default: the day after the last recorded night.",
        ),
    ] = None,
    family: Annotated[
        list[str] | None, typer.Option("--family", help="Stock family (repeatable). Default: all.")
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB store file.")] = Path("barrage.duckdb"),
    statements: Annotated[
        Path | None,
        typer.Option("--statements", help="Your CSV of extra or overriding statements."),
    ] = None,
    n_samples: Annotated[int, typer.Option("--samples", help="Posterior draws.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Estimate each family's stock, production rate and stock built since the last massive strike."""
    from barrage.stockpile import stockpile_report

    payload = stockpile_report(
        db,
        as_of,
        statements=statements,
        family=family,
        n_samples=n_samples,
        seed=seed,
        status=stderr_console().status,
    )
    if json_out:
        emit_json(payload)
    else:
        _render(payload)
