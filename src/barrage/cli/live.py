"""Live-track commands: ``update`` (fetch, ingest, assess, log), ``scorecard``, ``replay``."""

from __future__ import annotations

import logging
import sys
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
    stdout_console,
)

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target", help="massive_combined (default), massive_missiles, ... or an expression."
    ),
]
WeatherOption = Annotated[
    Path | None,
    typer.Option("--weather", help="Weather CSV (default: $BARRAGE_WEATHER or the shared data)."),
]
LOG_FORMAT = "%(asctime)s %(levelname)s pid=%(process)d %(name)s: %(message)s"


def update_log_path(db: Path) -> Path:
    """The update log, beside the store."""
    return db.with_name(db.name + ".update.log")


def _configure_logging(db: Path) -> list[logging.Handler]:
    """Log the library's ``barrage.live`` messages to stderr and to the file beside the
    store (configured here, never in the library)."""
    log = logging.getLogger("barrage.live")
    log.setLevel(logging.INFO)
    fmt = logging.Formatter(LOG_FORMAT)
    update_log_path(db).parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.StreamHandler(),
        logging.FileHandler(update_log_path(db), encoding="utf-8"),
    ]
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    return handlers


def _close_logging(handlers: list[logging.Handler]) -> None:
    log = logging.getLogger("barrage.live")
    for h in handlers:
        log.removeHandler(h)
        h.close()


@app.command()
def update(
    to: ToOption = Path("data"),
    db: DbOption = Path("barrage.duckdb"),
    url: UrlOption = None,
    wait_s: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait for a running update (then exit 3)."),
    ] = 0.0,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Forecast date (default: the day after the last night)."),
    ] = None,
    target: TargetOption = None,
    weather: WeatherOption = None,
    json_out: JsonOption = False,
) -> None:
    """Fetch the newest record, ingest it, assess and log the forecast (for cron/systemd).

    Exit codes: 0 done, 3 another update holds the lock, 4 download failed (nothing
    changed), 2 bad input, 5 the forecast log was tampered with. Logs go to stderr and to
    <db>.update.log beside the store.
    """
    handlers = _configure_logging(db)
    try:
        _update(to, db, url, wait_s, as_of, target, weather, json_out)
    except (typer.Exit, SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a cron job must leave a trace, not a crash
        # The traceback goes to the log file only; stderr gets one line.
        record = logging.getLogger("barrage.live").makeRecord(
            "barrage.live", logging.ERROR, __file__, 0, "update crashed: %r", (exc,), sys.exc_info()
        )
        handlers[1].handle(record)
        sys.stderr.write(
            f"error: update failed unexpectedly ({exc!r}); see {update_log_path(db)}\n"
        )
        raise typer.Exit(code=1) from None
    finally:
        _close_logging(handlers)


@clean_errors
def _update(to, db, url, wait, as_of, target, weather, json_out) -> None:
    from barrage.errors import BarrageError
    from barrage.pipeline import run_update

    log = logging.getLogger("barrage.live")
    try:
        result = run_update(
            db, to=to, url=url, wait_s=wait, target=target, weather=weather, as_of=as_of
        ).as_dict()
    except BarrageError as exc:
        log.error("update failed (exit %d): %s", exc.exit_code, exc.message)
        raise
    if json_out:
        emit_json(result)
        return
    a = result["assessment"]
    f = result["fetch"]
    console = stdout_console()
    console.print(
        f"fetched {f['source']}: {f['rows_new']:,} new rows on {len(f['new_nights'])} new "
        f"nights, {f['rows_corrected']:,} corrected"
    )
    state = "logged" if result["logged"] else "already logged"
    console.print(
        f"forecast as of {a['as_of']}: {a['level']} ("
        + ", ".join(f"{k} d {v:.0%}" for k, v in a["p"].items())
        + f"); {state} as #{result['log_seq']} ({result['model_version']})"
    )
    console.print(f"skill: {a['skill']['statement']}")


@app.command()
@clean_errors
def scorecard(
    db: DbOption = Path("barrage.duckdb"),
    weather: WeatherOption = None,
    json_out: JsonOption = False,
) -> None:
    """Score the logged live forecasts whose window has closed, beside the backtest."""
    from barrage.warning.scorecard import store_scorecard

    result = store_scorecard(db, weather=weather)
    if json_out:
        emit_json(result)
        return
    from rich.table import Table

    console = stdout_console()
    if not result["log_entries"]:
        console.print(
            "forecast log: empty, nothing to score yet (run `barrage update` daily, or "
            "`barrage assess --log`; see docs/live.md)"
        )
        return
    console.print(
        f"forecast log: {result['log_entries']} forecasts "
        f"(model versions: {', '.join(result['model_versions']) or 'none'}); "
        f"outcomes known to {result['last_known_day']}"
    )
    table = Table(title="live forecasts against the backtest on the same origins")
    for c in (
        "target",
        "h",
        "closed/all",
        "live Brier",
        "backtest Brier (90%)",
        "log",
        "hit",
        "FAR",
        "drift",
    ):
        table.add_column(c, justify="right")
    for r in result["rows"]:
        live, bt = r["live"] or {}, r["backtest"] or {}

        def f(v, fmt=".3f"):
            return "-" if v is None else format(v, fmt)

        table.add_row(
            r["target"],
            str(r["horizon_days"]),
            f"{r['closed']}/{r['forecasts']}",
            f(live.get("brier"), ".4f"),
            f"{f(bt.get('brier'), '.4f')} ({f(bt.get('brier_lo'), '.4f')}-{f(bt.get('brier_hi'), '.4f')})"
            if bt
            else "-",
            f(live.get("log_score")),
            f(live.get("hit_rate"), ".2f"),
            f(live.get("false_alarm_ratio"), ".2f"),
            {None: "-", True: "DRIFT", False: "ok"}[r["drift"]],
        )
    console.print(table)
    for r in result["rows"]:
        console.print(f"[dim]{r['target']} {r['horizon_days']} d: {r['drift_note']}[/]")
    print_credit()


@app.command()
@clean_errors
def replay(
    start: Annotated[str, typer.Option("--from", help="First as-of date YYYY-MM-DD.")],
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last as-of date (default: the last date known in full)."),
    ] = None,
    refit_every: Annotated[
        int,
        typer.Option(
            "--refit-every",
            help="Refit every N days: 1 as the live track (default), 7 as the backtest.",
        ),
    ] = 1,
    compare_backtest: Annotated[
        bool,
        typer.Option(
            "--compare-backtest", help="Run the backtest on the same origins and compare."
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the replayed forecasts CSV.")
    ] = None,
    target: TargetOption = None,
    db: DbOption = Path("barrage.duckdb"),
    weather: WeatherOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rebuild what the live log would have said each day from only the rows known then."""
    from barrage.pipeline.backtest import replay_main

    result = replay_main(
        db,
        start,
        end,
        refit_every_d=refit_every,
        compare_backtest=compare_backtest,
        target=target,
        weather=weather,
        out=out,
    )
    if json_out:
        emit_json(result)
        return
    console = stdout_console()
    console.print(
        f"replayed {result['days']} days {result['from']} to {result['to']} "
        f"({result['model_version']}, refit every {refit_every} d); mean p: "
        + ", ".join(f"{k} d {v:.3f}" for k, v in result["mean_p"].items())
    )
    if "backtest" in result:
        c = result["backtest"]
        console.print(
            f"against the backtest on {c['origins']} origins: max |diff| {c['max_abs_diff']:.2e} "
            f"({c['same_refit_pairs']} pairs fitted the same day: max {c['same_refit_max_abs_diff']}); "
            f"other pairs max {c['other_max_abs_diff']}, mean {c['other_mean_abs_diff']}"
        )
    print_credit()
