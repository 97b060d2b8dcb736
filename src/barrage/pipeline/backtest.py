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

import pandas as pd

from barrage.compute import run_backtest_on
from barrage.compute.executor import check_run
from barrage.files import check_output_file
from barrage.record import open_store
from barrage.warning.assess import inputs_from_store
from barrage.warning.backtest_store import backtest_fingerprint, save_backtest
from barrage.warning.evaluate import default_plan, forecasts_csv, score_summary
from barrage.warning.scorecard import replay_store


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


def replay_main(
    db: str | Path,
    start: str | None,
    end: str | None,
    *,
    refit_every_d: int,
    compare_backtest: bool,
    target: str | None = None,
    weather: str | Path | None = None,
    out: str | Path | None = None,
) -> dict:
    """``barrage replay``: what the live log would have said each day from only the rows
    known then (:func:`barrage.warning.scorecard.replay_store`), with every forecast
    written to the CSV ``out`` when given (its path checked before the replay)."""
    if out is not None:
        check_output_file(out, param="out")
    fc, result = replay_store(
        db,
        start,
        end,
        refit_every_d=refit_every_d,
        compare_backtest=compare_backtest,
        target=target,
        weather=weather,
    )
    if out is not None:
        df = fc.copy()
        for c in ("as_of", "refit_on"):
            df[c] = pd.to_datetime(df[c]).dt.date.astype(str)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        df[["as_of", "model", "horizon_days", "p", "refit_on"]].to_csv(out, index=False)
        result["csv"] = str(out)
    return result
