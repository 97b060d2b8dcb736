"""Stockpile command: ``barrage stockpile`` (stock, production, built since last massive)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from barrage.cli import app
from barrage.cli._common import clean_errors, emit_json, stderr_console, stdout_console


def _render(payload: dict) -> None:
    from rich.table import Table

    from barrage import ATTRIBUTION

    def fmt(block: dict | None) -> str:
        if block is None:
            return "n/a"
        return f"{block['p50']:,.0f} [{block['p05']:,.0f}, {block['p95']:,.0f}]"

    table = Table(title=f"stockpile as of {payload['as_of']}: median [90% interval]")
    for col in ("family", "stock", "production / month", "built since last massive",
                "x typical salvo", "nights of capacity"):  # fmt: skip
        table.add_column(col, justify="left" if col == "family" else "right")
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
    console = stdout_console()
    console.print(table)
    console.print(
        "[dim]decoys: no separate launches in the record, so no stock; production only. "
        f"{ATTRIBUTION}[/]"
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
    samples: Annotated[int, typer.Option("--samples", help="Posterior draws.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Estimate each family's stock, production rate and stock built since the last massive strike."""
    import datetime as dt

    from barrage.errors import InputError
    from barrage.record import night_totals, open_store
    from barrage.stockpile import (
        STOCK_FAMILIES,
        indicators_to_json,
        load_statements,
        stockpile_indicators,
    )

    if as_of is not None:
        try:
            as_of_date = dt.date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"--as-of: expected a date YYYY-MM-DD, got {as_of!r}") from None
    else:
        as_of_date = None
    for f in family or []:
        if f not in STOCK_FAMILIES:
            raise InputError(f"--family: expected one of {', '.join(STOCK_FAMILIES)}, got {f!r}")
    with open_store(db) as con:
        nt = night_totals(con)
    with stderr_console().status("fitting stockpiles"):
        frame = stockpile_indicators(
            nt,
            as_of_date,
            statements=load_statements(statements),
            families=family or None,
            n_samples=samples,
            seed=seed,
        )
    payload = indicators_to_json(frame)
    if json_out:
        emit_json(payload)
    else:
        _render(payload)
