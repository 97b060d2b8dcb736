"""The backtest job: the store's record backtested, scored, and written where asked.

``barrage backtest`` reads the inputs from the store, runs the rolling-origin backtest
on a scheduler, scores it, and may write the forecasts CSV and keep the run in the store
(with the fingerprint of its inputs, so ``report`` and ``run`` reuse it while the record
and code are unchanged): one call here, so the command only parses and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from barrage.compute import run_backtest_on
from barrage.compute.executor import check_run
from barrage.errors import check_output_file
from barrage.record import open_store
from barrage.warning.assess import inputs_from_store
from barrage.warning.backtest_store import backtest_fingerprint, save_backtest
from barrage.warning.evaluate import default_plan, forecasts_csv, score_summary


def backtest_main(
    db: str | Path,
    *,
    start: str | None = None,
    end: str | None = None,
    horizons: tuple[int, ...] | None = None,
    target: str | None = None,
    weather: str | Path | None = None,
    scheduler: Any = "sync",
    workers: int | None = None,
    out: str | Path | None = None,
    save: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict:
    """The backtest's summary as ``barrage backtest --json`` prints it (scores, verdict),
    with ``csv`` when the forecasts were written to ``out`` and ``run_id`` when ``save``
    kept the run in the store."""
    check_run(scheduler, workers)
    if out is not None:
        check_output_file(out, param="out")
    inputs = inputs_from_store(db, target, weather)
    plan = default_plan(inputs.record, start=start, end=end, horizons=horizons)
    result = run_backtest_on(
        inputs, plan, scheduler=scheduler, workers=workers, on_progress=on_progress
    )
    summary = score_summary(result)
    if out is not None:
        forecasts_csv(result, out)
        summary["csv"] = str(out)
    if save:
        fingerprint = backtest_fingerprint(inputs, result.plan)
        with open_store(db, read_only=False) as con:
            summary["run_id"] = save_backtest(con, result, summary, fingerprint=fingerprint)
    return summary
