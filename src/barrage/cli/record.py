"""Record commands: ``ingest``, ``summary`` and ``run`` (the main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from barrage.cli._app import app
from barrage.cli._common import (
    DbOption,
    JsonOption,
    ToOption,
    UrlOption,
    clean_errors,
    emit_json,
    print_credit,
    stderr_console,
    stdout_console,
)


def _render_ingest(report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"ingest {report['source_file']}", show_header=False)
    for key in ("rows_read", "rows_added", "rows_updated", "rows_unchanged", "rows_quarantined"):
        table.add_row(key.replace("_", " "), f"{report[key]:,}")
    console = stdout_console()
    console.print(table)
    if report["unknown_models"]:
        console.print(
            "[yellow]models not in the taxonomy (class unknown):[/] "
            + ", ".join(report["unknown_models"])
        )
    if report["rows_quarantined"]:
        console.print(
            "[yellow]quarantined by field:[/] "
            + ", ".join(f"{k}: {v}" for k, v in report["quarantine_reasons"].items())
            + "  (see the `quarantine` table)"
        )


def _render_summary(s: dict) -> None:
    from rich.table import Table

    console = stdout_console()
    console.print(
        f"[bold]Attack record[/]: nights {s['first_night']} to {s['last_night']}, "
        f"{s['nights']:,} nights with attacks, {s['massive_nights']} massive "
        f"(>= {s['massive_threshold_missiles']} missiles)"
    )
    years = sorted({y for v in s["launched_by_class_year"].values() for y in v})
    table = Table(title="launched (destroyed) by class and year")
    table.add_column("class", no_wrap=True)
    for y in years:
        table.add_column(y, justify="right")
    for cls, by_year in s["launched_by_class_year"].items():
        destroyed = s["destroyed_by_class_year"].get(cls, {})
        table.add_row(cls, *[f"{by_year.get(y, 0):,} ({destroyed.get(y, 0):,})" for y in years])
    console.print(table)
    largest = Table(title="largest nights (launched, recon drones excluded)")
    largest.add_column("night")
    largest.add_column("total", justify="right")
    largest.add_column("by class")
    for n in s["largest_nights"]:
        by = ", ".join(f"{k} {v}" for k, v in n["launched_by_class"].items())
        largest.add_row(n["night"], str(n["launched_total"]), by)
    console.print(largest)
    console.print(
        f"rows stored {s['rows_stored']:,} (regional duplicates left out of totals: "
        f"{s['rows_regional_duplicate']}), quarantined {s['rows_quarantined']:,}"
    )
    print_credit()


@app.command()
@clean_errors
def run(
    record: Annotated[
        Path | None,
        typer.Option(
            "--record", help="Record CSV or its folder (else $BARRAGE_RECORD, else ./data)."
        ),
    ] = None,
    db: DbOption = Path("barrage.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="HTML report to write.")] = Path(
        "out/report.html"
    ),
    json_out: JsonOption = False,
) -> None:
    """The main job: ingest the record, summarise it, assess the risk, write the report.

    With no record to find but a store at --db, it works from the store; the backtest is
    reused while the record and the code are unchanged."""
    from barrage.cli.warning import backtest_progress, render_assessment, render_verdict, say_stored
    from barrage.pipeline import run_main

    with backtest_progress() as bar:
        result = run_main(record, db, out, on_progress=bar.tick, notify=stderr_console().print)
    say_stored(db, result.backtest)
    if json_out:
        emit_json(result.as_json())
        return
    if result.ingest is not None:
        _render_ingest(result.ingest)
    _render_summary(result.summary)
    render_assessment(result.assessment)
    # how far to trust the probabilities above: the backtest against the baselines
    render_verdict(result.verdict)
    from barrage.cli.strike import render_impact

    render_impact(result.last_strike_impact)
    stdout_console().print(f"wrote {result.report}")


@app.command()
@clean_errors
def ingest(
    path: Annotated[
        Path,
        typer.Argument(help="Record CSV (missile_attacks_daily.csv) or the folder holding it."),
    ],
    db: DbOption = Path("barrage.duckdb"),
    json_out: JsonOption = False,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait for another writer (update, ingest).", min=0),
    ] = 30.0,
) -> None:
    """Ingest a record CSV into the store (idempotent, incremental, atomic)."""
    from barrage.record import ingest_record

    report = ingest_record(path, db, lock_timeout_s=wait, given_as="PATH").as_dict()
    if json_out:
        emit_json(
            {
                k: report[k]
                for k in (
                    "rows_read",
                    "rows_added",
                    "rows_updated",
                    "rows_unchanged",
                    "rows_quarantined",
                    "unknown_models",
                    "quarantine_reasons",
                    "source_file",
                    "source_file_sha256",
                )
            }
        )
    else:
        _render_ingest(report)


@app.command()
@clean_errors
def summary(db: DbOption = Path("barrage.duckdb"), json_out: JsonOption = False) -> None:
    """Summarise the store: span, nights, massive nights, launches by class and year."""
    from barrage.record import summary as record_summary

    result = record_summary(db)
    if json_out:
        emit_json(result)
    else:
        _render_summary(result)


@app.command()
@clean_errors
def fetch(
    to: ToOption = Path("data"),
    db: DbOption = Path("barrage.duckdb"),
    url: UrlOption = None,
    json_out: JsonOption = False,
) -> None:
    """Download the newest public record, verify it, and report what it would change."""
    from barrage.record.fetch import fetch_record

    report = fetch_record(to, db=db, url=url).as_dict()
    if json_out:
        emit_json(report)
        return
    console = stdout_console()
    state = "unchanged since the last fetch" if report["unchanged_file"] else "new version"
    console.print(
        f"fetched {report['path']} from {report['source']} ({report['bytes']:,} bytes, {state})"
    )
    console.print(
        f"against {db}: {report['rows_new']:,} new rows on {len(report['new_nights'])} new nights, "
        f"{report['rows_corrected']:,} corrected, {report['rows_unchanged']:,} unchanged, "
        f"{report['rows_quarantined']:,} would be quarantined"
    )
