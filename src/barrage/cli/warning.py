"""Warning commands: ``assess``, ``backtest`` and ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from barrage.cli._app import app
from barrage.cli._common import (
    DbOption,
    JsonOption,
    clean_errors,
    emit_json,
    print_credit,
    stderr_console,
    stdout_console,
)

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="massive_combined (default: >= 30 missiles or >= 400 attack drones), "
        "massive_missiles, massive_drones, or an "
        "expression such as 'missiles >= 30 or attack_drones >= 400'.",
    ),
]
WeatherOption = Annotated[
    Path | None,
    typer.Option("--weather", help="Weather CSV (default: $BARRAGE_WEATHER or the shared data)."),
]


def render_assessment(a: dict) -> None:
    """The assessment as text (shared by ``assess`` and ``run``)."""
    console = stdout_console()
    for w in a["warnings"]:
        stderr_console().print(f"[bold yellow]warning:[/] {w}")
    colour = {"LOW": "green", "ELEVATED": "yellow", "HIGH": "dark_orange", "SEVERE": "red"}[
        a["level"]
    ]
    console.print(
        f"[bold]{a['target']['name']}[/] ({a['target']['expression']}) as of "
        f"{a['issued_at']}: [bold {colour}]{a['level']}[/]"
    )
    console.print(f"skill: {a['skill']['statement']}")
    console.print(
        "probability of at least one target night: "
        + ", ".join(f"{k} d {v:.0%}" for k, v in a["p"].items())
    )
    # the median, not the mean: the registered launch models are scored on their 10/50/90%
    # quantiles, and an adaptive model's mean is its base's (warning.launches)
    console.print(_launch_table(a))
    if a.get("launch_skill"):
        console.print(_launch_skill_table(a["launch_skill"]))
    s = a["expected_next_strike"]
    if s["missiles"] is not None:
        console.print(
            f"next strike size ({s['basis']}): ~{s['missiles']:.0f} missiles, "
            f"~{s['attack_drones']:.0f} attack drones"
        )
    att = a["attribution"]
    console.print(
        f"[bold]drivers[/] (the {att['model']} model's own {att['horizon_d']}-day log-odds: "
        f"base {att['base_log_odds']:+.2f} plus these terms = {att['log_odds']:+.2f}, "
        f"p = {att['p']:.0%})"
    )
    for d in a["drivers"]:
        console.print(f" {'+' if d['effect'] > 0 else '-'} {d['sentence']}")
    _render_stock_trend(a["indicators"])
    print_credit()


def _launch_table(a: dict):
    """Expected launches by group and horizon: median and 10-90% interval."""
    from rich.table import Table

    table = Table(title="expected launches (median, 10-90% interval)")
    table.add_column("group")
    for k in a["p"]:
        table.add_column(f"{k} d", justify="right")
    for g, by_k in a["expected_launches"].items():
        table.add_row(
            g, *[f"{v['p50']:.0f} ({v['p10']:.0f}-{v['p90']:.0f})" for v in by_k.values()]
        )
    return table


def _launch_skill_table(skills: dict):
    """What each group's 7-day interval was measured to be worth (``launch_skill``)."""
    from rich.table import Table

    measured = [v for v in skills.values() if v.get("measured")]
    where = (
        f"{measured[0]['origins']} origins, {measured[0]['period'].replace('_', ' ')}"
        if measured
        else "unmeasured: no stored backtest"
    )
    lo, hi = next(iter(skills.values()))["aim_coverage"]  # the registered aim, one for all
    table = Table(title=f"the 7-day intervals, measured ({where})")
    for col in ("group", "model", f"held (aim {lo:.0%}-{hi:.0%})", "pinball", "naive"):
        table.add_column(col, justify="left" if col in ("group", "model") else "right")
    for g, s in skills.items():
        if not s.get("measured"):
            table.add_row(g, s["model"], "n/a", "n/a", "n/a")
            continue
        table.add_row(
            g,
            s["model"],
            f"{s['coverage_80']:.0%}",
            f"{s['pinball']:.2f}",
            f"{s['naive_pinball']:.2f}",
        )
    table.caption = (
        "pinball: mean 10/50/90% quantile loss (lower is better); naive: recent quantiles"
    )
    return table


def _render_stock_trend(indicators: dict) -> None:
    """The stock-trend indicators (shown only: no model reads them)."""
    from barrage.indicators import STOCK_TREND_INDICATORS

    for name in STOCK_TREND_INDICATORS:
        ind = indicators.get(name) or {}
        if ind.get("value") is not None:
            stdout_console().print(f"{name}: {ind['value']:.2f} ({ind['unit']}): {ind['meaning']}")


@app.command()
@clean_errors
def assess(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Forecast date YYYY-MM-DD (issued 12:00 Kyiv; default: after the last night).",
        ),
    ] = None,
    target: TargetOption = None,
    db: DbOption = Path("barrage.duckdb"),
    weather: WeatherOption = None,
    log: Annotated[
        bool,
        typer.Option(
            "--log",
            help="Append this assessment to the store's live forecast log (append-only).",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Assess the risk of a massive strike: probabilities, level, expected size, drivers."""
    from barrage.pipeline import assess_and_log

    result = assess_and_log(db, as_of=as_of, target=target, weather=weather, log=log).as_json()
    if log:
        state = "logged" if result["log"]["logged"] else "already logged"
        stderr_console().print(f"{state} as forecast #{result['log']['seq']}")
    if json_out:
        for w in result["warnings"]:
            stderr_console().print(f"[bold yellow]warning:[/] {w}")
        emit_json(result)
    else:
        render_assessment(result)


def _progress_bar(label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=False,
    )


class backtest_progress:  # noqa: N801 - used as a context manager, like a function
    """A backtest progress bar on stderr, shown from the first refit (a backtest reused
    from the store never ticks, so shows none)."""

    def __init__(self) -> None:
        self._bar = None
        self._task = None

    def tick(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = _progress_bar("backtest")
            self._bar.start()
            self._task = self._bar.add_task("backtest refits", total=None)
        self._bar.update(self._task, completed=done, total=total)

    def __enter__(self) -> backtest_progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def say_stored(db: Path, stored) -> None:
    """Where the backtest behind a report is kept (shared by ``report`` and ``run``)."""
    if stored.run_id == 0:
        stderr_console().print(f"[yellow]warning:[/] backtest not stored in {db} (not writable)")
    else:
        how = "reused (record and code unchanged)" if stored.reused else "stored"
        stderr_console().print(f"backtest run {stored.run_id} in {db}: {how}")


@app.command()
@clean_errors
def backtest(
    start: Annotated[str | None, typer.Option("--start", help="First forecast date.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last forecast date.")] = None,
    horizon: Annotated[
        list[int] | None, typer.Option("--horizon", help="Horizon in days (repeat; default 1 3 7).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write forecasts CSV here.")] = None,
    save: Annotated[
        bool,
        typer.Option(
            "--save",
            help="Store the result in the store (the dashboard and API read the newest run).",
        ),
    ] = False,
    target: TargetOption = None,
    db: DbOption = Path("barrage.duckdb"),
    weather: WeatherOption = None,
    scheduler: Annotated[
        str,
        typer.Option(
            "--scheduler",
            help="sync (this process), local (a Dask LocalCluster here, one horizon per "
            "worker), tcp://HOST:PORT (an existing Dask cluster) or auto (local when there "
            "are several horizons). Launch fits agree to ~1e-5 across processes.",
        ),
    ] = "sync",
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes for --scheduler local."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Rolling-origin backtest of every model; scores per model and horizon."""
    from barrage.pipeline.backtest import backtest_main

    with backtest_progress() as bar:
        summary = backtest_main(
            db,
            start=start,
            end=end,
            horizons=tuple(horizon) if horizon else None,
            target=target,
            weather=weather,
            scheduler=scheduler,
            workers=workers,
            out=out,
            save=save,
            on_progress=bar.tick,
        )
    if save:
        stderr_console().print(f"stored as backtest run {summary['run_id']} in {db}")
    if json_out:
        emit_json(summary)
    else:
        for table in _score_tables(summary):
            stdout_console().print(table)
        render_verdict(summary["verdict"])
        print_credit()


def _score_tables(summary: dict) -> list:
    """One table per horizon of the scores over all origins, every model name and figure
    whole in 80 columns (``recent_rate_30`` must not read as ``recent_rate``)."""
    from rich import box
    from rich.table import Table

    rows = [r for r in summary["scores"] if r["period"] == "all"]
    tables = []
    for k in dict.fromkeys(r["horizon_days"] for r in rows):
        table = Table(
            title=f"backtest {summary['start']} to {summary['end']}, {k}-day horizon, all origins",
            caption="skill: Brier skill against climatology, with its 90% interval",
            box=box.SIMPLE_HEAD,
            collapse_padding=True,
            pad_edge=False,
        )
        for c in ("model", "brier", "skill", "90% CI", "log", "AUC", "AP", "ECE"):
            table.add_column(c, justify="left" if c == "model" else "right", no_wrap=True)
        for row in (r for r in rows if r["horizon_days"] == k):
            table.add_row(
                row["model"],
                f"{row['brier']:.4f}",
                f"{row['brier_skill']:+.3f}",
                f"{row['brier_skill_lo']:+.2f},{row['brier_skill_hi']:+.2f}",
                f"{row['log_score']:.3f}",
                f"{row['roc_auc']:.3f}",
                f"{row['average_precision']:.3f}",
                f"{row['ece']:.3f}",
            )
        tables.append(table)
    return tables


def render_verdict(v: dict) -> None:
    """The verdict against the naive baselines (shared by ``backtest`` and ``run``)."""
    colour = "green" if v["evaluation"]["holds"] else "yellow"
    stdout_console().print(f"[bold {colour}]verdict:[/] {v['sentence']}")


@app.command()
@clean_errors
def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "out/report.html"
    ),
    target: TargetOption = None,
    db: DbOption = Path("barrage.duckdb"),
    weather: WeatherOption = None,
    json_out: JsonOption = False,
    campaign: Annotated[
        Path | None,
        typer.Option(
            "--campaign",
            help="A saved `barrage simulate campaign --json` output: its fan charts too.",
        ),
    ] = None,
) -> None:
    """Write the self-contained HTML report (timeline, indicators, backtest, reliability)."""
    from barrage.pipeline import report_main

    with backtest_progress() as bar:
        result = report_main(
            db, out, target=target, weather=weather, on_progress=bar.tick, campaign=campaign
        )
    say_stored(db, result.backtest)
    path = result.report
    if json_out:
        emit_json({"report": str(path), "bytes": path.stat().st_size})
    else:
        stdout_console().print(f"wrote {path}")
