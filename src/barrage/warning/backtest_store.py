"""Backtests kept in the store, so readers (the dashboard, the API) need not rerun them.

A backtest refits every model weekly over years of origins (minutes); the dashboard
shows its scores and forecast history on every load. ``barrage backtest --save`` and
``barrage run`` write the result with :func:`save_backtest`; :func:`latest_backtest`
reads the newest run back, and :func:`backtest_view` turns it into the JSON the API
serves. Each run records the model version and the SHA-256 of the record it used, so a
reader can tell a backtest made on an older record. Only the newest
:data:`KEEP_RUNS` runs per target are kept.

Tables::

    backtest_scores    one row per run: run_id, created_at, target, target_expression,
                       start, end, model_version, record_sha256, event_nights_json,
                       summary_json (the ``barrage backtest --json`` object)
    backtest_forecasts one row per (run, as_of, model, horizon): p, outcome
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from barrage.errors import InputError

if TYPE_CHECKING:
    import duckdb

    from barrage.warning.backtest import BacktestResult

KEEP_RUNS = 3
"""Runs kept per target (older ones are deleted when a new one is saved)."""

SCORES_DDL = """CREATE TABLE IF NOT EXISTS backtest_scores (
    run_id BIGINT, created_at TIMESTAMP, target VARCHAR, target_expression VARCHAR,
    start DATE, "end" DATE, model_version VARCHAR, record_sha256 VARCHAR,
    event_nights_json VARCHAR, summary_json VARCHAR)"""
FORECASTS_DDL = """CREATE TABLE IF NOT EXISTS backtest_forecasts (
    run_id BIGINT, as_of DATE, model VARCHAR, horizon_days INTEGER, p DOUBLE,
    outcome DOUBLE, model_version VARCHAR, record_sha256 VARCHAR)"""


class BacktestMissing(InputError):
    """No backtest of this target is stored (run ``barrage backtest --save``)."""


@dataclass(frozen=True)
class StoredBacktest:
    run_id: int
    created_at: datetime
    target: str
    target_expression: str
    model_version: str
    record_sha256: str
    summary: dict[str, Any]  # as ``barrage backtest --json``
    forecasts: pd.DataFrame  # as_of (datetime64), model, horizon_days, p, outcome
    event_nights: list[str]  # target nights (YYYY-MM-DD) on the record the run used


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def save_backtest(
    con: duckdb.DuckDBPyConnection, result: BacktestResult, summary: dict[str, Any]
) -> int:
    """Store one backtest (its forecasts and ``summary``) in one transaction; the run id."""
    from barrage.warning.live import model_version, record_sha256, target_key

    version, sha = model_version(), record_sha256(con)
    key = target_key(result.target)
    fc = result.forecasts[["as_of", "model", "horizon_days", "p", "outcome"]].copy()
    fc["as_of"] = pd.to_datetime(fc["as_of"]).dt.date
    fc["horizon_days"] = fc["horizon_days"].astype("int32")
    fc["model_version"], fc["record_sha256"] = version, sha
    nights = (result.first_night + np.asarray(result.event_days, dtype="timedelta64[D]")).astype(
        str
    )
    con.execute(SCORES_DDL)
    con.execute(FORECASTS_DDL)
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = int(
            con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM backtest_scores").fetchone()[0]
        )
        con.execute(
            "INSERT INTO backtest_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                key,
                result.target.expression,
                summary["start"],
                summary["end"],
                version,
                sha,
                json.dumps(nights.tolist()),
                json.dumps(summary, default=str),
            ],
        )
        fc.insert(0, "run_id", run_id)
        con.register("_backtest_rows", fc)
        con.execute(
            "INSERT INTO backtest_forecasts SELECT run_id, as_of, model, horizon_days, p, "
            "outcome, model_version, record_sha256 FROM _backtest_rows"
        )
        con.unregister("_backtest_rows")
        old = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM backtest_scores WHERE target = ? ORDER BY run_id DESC OFFSET ?",
                [key, KEEP_RUNS],
            ).fetchall()
        ]
        for table in ("backtest_forecasts", "backtest_scores"):
            for r in old:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [r])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return run_id


def backtest_head(con: duckdb.DuckDBPyConnection) -> int:
    """The newest run id (0 when none): it changes on every save, so readers key caches
    on it."""
    if "backtest_scores" not in _tables(con):
        return 0
    return int(con.execute("SELECT coalesce(max(run_id), 0) FROM backtest_scores").fetchone()[0])


def latest_backtest(con: duckdb.DuckDBPyConnection, target: str | None = None) -> StoredBacktest:
    """The newest stored backtest of ``target`` (default target if None); raises
    :class:`BacktestMissing` when there is none."""
    from barrage.indicators import resolve_target
    from barrage.warning.live import target_key

    key = target_key(resolve_target(target))
    row = None
    if "backtest_scores" in _tables(con):
        row = con.execute(
            "SELECT run_id, created_at, target, target_expression, model_version, "
            "record_sha256, event_nights_json, summary_json FROM backtest_scores "
            "WHERE target = ? ORDER BY run_id DESC LIMIT 1",
            [key],
        ).fetchone()
    if row is None:
        raise BacktestMissing(
            f"no backtest of target {key!r} is stored: run `barrage backtest --db "
            f"<store> --save` (or `barrage run`) to compute and store one"
        )
    fc = con.execute(
        "SELECT as_of, model, horizon_days, p, outcome FROM backtest_forecasts "
        "WHERE run_id = ? ORDER BY horizon_days, model, as_of",
        [row[0]],
    ).df()
    fc["as_of"] = pd.to_datetime(fc["as_of"])
    return StoredBacktest(
        run_id=int(row[0]),
        created_at=row[1],
        target=row[2],
        target_expression=row[3],
        model_version=row[4],
        record_sha256=row[5],
        summary=json.loads(row[7]),
        forecasts=fc,
        event_nights=json.loads(row[6]),
    )


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def backtest_view(stored: StoredBacktest, *, model: str | None = None) -> dict[str, Any]:
    """What the dashboard shows of a stored backtest: the scores (every model, horizon
    and period, with their intervals), the forecast history of ``model`` (default: the
    primary model) at every horizon, and its reliability table per horizon."""
    from barrage.warning.registration import REGISTRATION
    from barrage.warning.scores import reliability_table

    model = model or REGISTRATION.primary(stored.target)
    fc = stored.forecasts[stored.forecasts["model"] == model]
    if fc.empty:
        raise InputError(
            f"model: {model!r} is not in the stored backtest (run {stored.run_id}); expected "
            f"one of {', '.join(sorted(stored.forecasts['model'].unique()))}"
        )
    history, reliability = [], {}
    for k, g in fc.groupby("horizon_days", sort=True):
        history.extend(
            {
                "as_of": d.date().isoformat(),
                "horizon_days": int(k),
                "p": _finite(p),
                "outcome": None if np.isnan(y) else int(y),
            }
            for d, p, y in zip(
                g["as_of"], g["p"].to_numpy(float), g["outcome"].to_numpy(float), strict=True
            )
        )
        closed = g.dropna(subset=["outcome"])
        if len(closed):
            reliability[str(int(k))] = reliability_table(
                closed["p"].to_numpy(float), closed["outcome"].to_numpy(float)
            )
    s = stored.summary
    return {
        "target": stored.target,
        "target_expression": stored.target_expression,
        "run_id": stored.run_id,
        "created_at": stored.created_at.isoformat(),
        "model_version": stored.model_version,
        "record_sha256": stored.record_sha256,
        "start": s.get("start"),
        "end": s.get("end"),
        "horizons": s.get("horizons"),
        "models": s.get("models"),
        "primary_model": model,
        "scores": s.get("scores", []),
        "history": history,
        "event_nights": stored.event_nights,
        "reliability": reliability,
        "verdict": s.get("verdict"),
    }


__all__ = [
    "KEEP_RUNS",
    "BacktestMissing",
    "StoredBacktest",
    "backtest_head",
    "backtest_view",
    "latest_backtest",
    "save_backtest",
]
