"""The rolling-origin backtest on the execution layer: one chunk per horizon.

:func:`barrage.warning.run_backtest` loops over horizons, then refit windows; a horizon's
forecasts, launch fits and scores use nothing from another horizon, so each horizon runs
as its own backtest and the parts are put back in the plan's horizon order, which is
the order the single run produces. Most of the time goes into the per-window model fits,
so this scales up to the number of horizons (3 by default).

A finer split (one chunk per refit window) needs a per-window entry point in
``barrage.warning.backtest``; see docs/scale-out.md.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from barrage.compute.executor import Progress, check_scheduler, check_workers, run_map
from barrage.errors import BarrageError
from barrage.indicators import NO_HOOKS, Hooks, KnownRecord, Target
from barrage.warning.backtest import BacktestPlan, BacktestResult, input_hooks, run_backtest

log = logging.getLogger(__name__)


def _horizon_task(payload: tuple, horizon_days: int) -> BacktestResult:
    record, plan, target_name, target_expression, hooks = payload
    # the Target holds a compiled closure: rebuild it here instead of pickling it
    target = Target(target_name, target_expression)
    one = dataclasses.replace(plan, horizons=(horizon_days,))
    return run_backtest(record, one, target, hooks=hooks)


def run_backtest_in_chunks(
    record: KnownRecord,
    plan: BacktestPlan,
    target: Target,
    *,
    hooks: Hooks = NO_HOOKS,
    scheduler: Any = "local",
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> BacktestResult:
    """:func:`barrage.warning.run_backtest`, each horizon a task on ``scheduler``.

    The frames are equal to the single run's (same rows, same order, same values);
    ``on_progress(done, total)`` counts refit windows.
    """
    horizons = tuple(int(k) for k in plan.horizons)
    parts: list[BacktestResult] = run_map(
        _horizon_task,
        list(horizons),
        scheduler=scheduler,
        workers=workers,
        on_progress=on_progress,
        context=(record, plan, target.name, target.expression, hooks),
        weights=[len(plan.windows(k)) for k in horizons],
    )
    return BacktestResult(
        forecasts=pd.concat([p.forecasts for p in parts], ignore_index=True),
        launches=pd.concat([p.launches for p in parts], ignore_index=True),
        event_days=np.asarray(parts[0].event_days),
        first_night=parts[0].first_night,
        plan=plan,
        target=target,
    )


def run_backtest_on(
    inputs: Any,
    plan: BacktestPlan,
    *,
    scheduler: Any = "sync",
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> BacktestResult:
    """The backtest of ``inputs`` (a :class:`barrage.warning.evaluate` inputs bundle:
    record, target, weather, production, stockpile) on ``scheduler``.

    ``"sync"``: the single-process run. ``"auto"``: a LocalCluster only when there are
    horizons to split (one task each), else sync. Any other scheduler: one horizon per
    task (:func:`run_backtest_in_chunks`); the frames are the same either way. This is the
    one place that chooses; the CLI and the report call it.
    """
    scheduler = check_scheduler(scheduler)
    check_workers(workers, scheduler)
    if isinstance(scheduler, str) and scheduler == "auto":
        scheduler = "local" if len(plan.horizons) > 1 else "sync"
    if isinstance(scheduler, str) and scheduler == "sync":
        from barrage.warning.evaluate import run

        return run(inputs, plan, progress=on_progress)
    return run_backtest_in_chunks(
        inputs.record,
        plan,
        inputs.target,
        hooks=input_hooks(inputs),
        scheduler=scheduler,
        workers=workers,
        on_progress=on_progress,
    )


@dataclasses.dataclass(frozen=True)
class StoredBacktestRun:
    """A backtest kept in the store: the result, its run id, and whether it was reused
    (the record, the plan and the code unchanged since it was stored)."""

    result: BacktestResult
    summary: dict[str, Any]  # as ``barrage backtest --json`` (scores, verdict)
    run_id: int  # 0: the store could not be written (read-only, busy); not stored
    reused: bool


def backtest_reused_or_run(
    db: Any,
    inputs: Any,
    plan: BacktestPlan,
    *,
    scheduler: Any = "sync",
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> StoredBacktestRun:
    """The stored backtest of ``inputs`` under ``plan`` when one was made from the same
    record and code (:func:`barrage.warning.backtest_store.backtest_fingerprint`); else
    run it on ``scheduler`` and store it, so the next ``report`` or ``run`` reads it in
    seconds instead of refitting for minutes, and never stores the same run twice."""
    from barrage.record import open_store
    from barrage.warning.backtest_store import (
        backtest_fingerprint,
        reusable_backtest,
        save_backtest,
    )
    from barrage.warning.evaluate import score_summary

    fingerprint = backtest_fingerprint(inputs, plan)
    with open_store(db) as con:
        hit = reusable_backtest(con, fingerprint, plan, inputs.target, inputs.record.first_night)
    if hit is not None:
        run_id, result, summary = hit
        return StoredBacktestRun(result=result, summary=summary, run_id=run_id, reused=True)
    result = run_backtest_on(
        inputs, plan, scheduler=scheduler, workers=workers, on_progress=on_progress
    )
    summary = score_summary(result)
    try:
        with open_store(db, read_only=False) as con:
            run_id = save_backtest(con, result, summary, fingerprint=fingerprint)
    except (BarrageError, OSError, duckdb.Error) as exc:
        # a read-only or busy store still gets its report; only the reuse is lost
        log.warning("backtest not stored for reuse (%s)", getattr(exc, "message", exc))
        run_id = 0
    return StoredBacktestRun(result=result, summary=summary, run_id=run_id, reused=False)
