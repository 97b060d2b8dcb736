"""Backtests kept in the store, so readers (the dashboard, the API) need not rerun them.

A backtest refits every model weekly over years of origins (minutes); the dashboard
shows its scores and forecast history on every load. ``barrage backtest --save`` and
``barrage run`` write the result with :func:`save_backtest`; :func:`latest_backtest`
reads the newest run back, and :func:`backtest_view` turns it into the JSON the API
serves. Each run records the model version and the SHA-256 of the record it used, so a
reader can tell a backtest made on an older record. Only the newest
:data:`KEEP_RUNS` runs per target are kept.

A run also keeps its launch forecasts and a :func:`backtest_fingerprint` of everything
it was computed from (the record's rows, the target, the plan, the weather, the
stockpile statements, and the source and library versions of the warning layers), so
:func:`reusable_backtest` hands a rerun on an unchanged store and unchanged code the
stored result instead of refitting for minutes.

Tables::

    backtest_scores    one row per run: run_id, created_at, target, target_expression,
                       start, end, model_version, record_sha256, event_nights_json,
                       summary_json (the ``barrage backtest --json`` object)
                       fingerprint (of the inputs and code; NULL on older runs)
    backtest_forecasts one row per (run, as_of, model, horizon): p, outcome
    backtest_launches  one row per (run, as_of, group, model, horizon): mean,
                       dispersion, outcome, crps
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from barrage.errors import InputError

if TYPE_CHECKING:
    import duckdb

    from barrage.indicators import Target
    from barrage.warning.backtest import BacktestPlan, BacktestResult

KEEP_RUNS = 3
"""Runs kept per target (older ones are deleted when a new one is saved)."""

SCORES_DDL = """CREATE TABLE IF NOT EXISTS backtest_scores (
    run_id BIGINT, created_at TIMESTAMP, target VARCHAR, target_expression VARCHAR,
    start DATE, "end" DATE, model_version VARCHAR, record_sha256 VARCHAR,
    event_nights_json VARCHAR, summary_json VARCHAR)"""
FORECASTS_DDL = """CREATE TABLE IF NOT EXISTS backtest_forecasts (
    run_id BIGINT, as_of DATE, model VARCHAR, horizon_days INTEGER, p DOUBLE,
    outcome DOUBLE, model_version VARCHAR, record_sha256 VARCHAR)"""
LAUNCHES_DDL = """CREATE TABLE IF NOT EXISTS backtest_launches (
    run_id BIGINT, as_of DATE, "group" VARCHAR, model VARCHAR, horizon_days INTEGER,
    mean DOUBLE, dispersion DOUBLE, outcome DOUBLE, crps DOUBLE)"""
FINGERPRINT_DDL = "ALTER TABLE backtest_scores ADD COLUMN IF NOT EXISTS fingerprint VARCHAR"
#: The third version's launch columns (quantiles and their scores), added to older stores.
LAUNCH_V3_DDL = tuple(
    f"ALTER TABLE backtest_launches ADD COLUMN IF NOT EXISTS {c} DOUBLE"
    for c in ("q10", "q50", "q90", "pinball", "covered_80")
)
LAUNCH_COLUMNS = (
    "as_of",
    "group",
    "model",
    "horizon_days",
    "mean",
    "dispersion",
    "q10",
    "q50",
    "q90",
    "outcome",
    "crps",
    "pinball",
    "covered_80",
)
LAUNCH_SELECT = ", ".join(f'"{c}"' for c in LAUNCH_COLUMNS)  # "group" is a keyword


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


def _code_hash(h) -> None:
    """The source of every layer a backtest runs (record to warning) and the versions of
    the numeric libraries: a changed model never reuses an old run, version bump or not."""
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    import barrage
    import barrage.indicators
    import barrage.record
    import barrage.stockpile
    import barrage.warning

    for dist in ("numpy", "pandas", "scipy", "scikit-learn", "statsmodels"):
        try:
            h.update(f"{dist}={version(dist)}|".encode())
        except PackageNotFoundError:
            h.update(f"{dist}=none|".encode())
    h.update(barrage.__version__.encode())
    for pkg in (barrage.record, barrage.indicators, barrage.stockpile, barrage.warning):
        root = Path(pkg.__file__).parent
        for f in sorted([*root.glob("*.py"), *root.glob("*.csv")]):
            h.update(f.name.encode())
            h.update(f.read_bytes())


def backtest_fingerprint(inputs: Any, plan: BacktestPlan) -> str:
    """SHA-256 of what a backtest of ``inputs`` under ``plan`` is computed from: the
    record as known (every array the panel reads), the target, the plan, the weather,
    production and stockpile hooks, and the code (:func:`_code_hash`)."""
    h = hashlib.sha256()
    _code_hash(h)
    h.update(inputs.record.fingerprint().encode())  # its rows, in a fixed order
    h.update(f"{inputs.target.name}|{inputs.target.expression}|{plan!r}".encode())
    if inputs.weather is not None:
        h.update(pd.util.hash_pandas_object(inputs.weather).to_numpy().tobytes())
    h.update(repr(inputs.production).encode())
    sf = inputs.stockpile
    if sf is not None:
        h.update(f"{type(sf).__name__}|{sf.n_samples}|{sf.seed}".encode())
        h.update(repr(sf.statements).encode())  # None: the shipped statements (in code)
    return h.hexdigest()


def reusable_backtest(
    con: duckdb.DuckDBPyConnection,
    fingerprint: str,
    plan: BacktestPlan,
    target: Target,
    first_night: np.datetime64,
) -> tuple[int, BacktestResult, dict[str, Any]] | None:
    """The newest stored run made from exactly these inputs and code (same
    :func:`backtest_fingerprint`) as a :class:`BacktestResult`, with its run id and
    stored summary; None when there is none."""
    from barrage.warning.backtest import BacktestResult

    tables = _tables(con)
    if not {"backtest_scores", "backtest_launches"} <= tables:
        return None
    cols = {r[1] for r in con.execute("PRAGMA table_info('backtest_scores')").fetchall()}
    if "fingerprint" not in cols:
        return None
    row = con.execute(
        "SELECT run_id, event_nights_json, summary_json FROM backtest_scores "
        "WHERE fingerprint = ? "
        "ORDER BY run_id DESC LIMIT 1",
        [fingerprint],
    ).fetchone()
    if row is None:
        return None
    run_id = int(row[0])
    fc = con.execute(
        "SELECT as_of, model, horizon_days, p, outcome FROM backtest_forecasts "
        "WHERE run_id = ? ORDER BY rowid",
        [run_id],
    ).df()
    launches = con.execute(
        f"SELECT {LAUNCH_SELECT} FROM backtest_launches WHERE run_id = ? ORDER BY rowid",
        [run_id],
    ).df()
    for frame in (fc, launches):
        frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
        frame["horizon_days"] = frame["horizon_days"].astype("int64")
    nights = np.asarray(json.loads(row[1]), dtype="datetime64[D]")
    result = BacktestResult(
        forecasts=fc,
        launches=launches,
        event_days=(nights - first_night).astype(np.int64),
        first_night=first_night,
        plan=plan,
        target=target,
    )
    return run_id, result, json.loads(row[2])


def save_backtest(
    con: duckdb.DuckDBPyConnection,
    result: BacktestResult,
    summary: dict[str, Any],
    *,
    fingerprint: str | None = None,
) -> int:
    """Store one backtest (its forecasts, launch forecasts, ``summary`` and the
    ``fingerprint`` of its inputs) in one transaction; the run id."""
    from barrage.warning.forecast_log import model_version, record_sha256, target_key

    version, sha = model_version(), record_sha256(con)
    key = target_key(result.target)
    fc = result.forecasts[["as_of", "model", "horizon_days", "p", "outcome"]].copy()
    fc["as_of"] = pd.to_datetime(fc["as_of"]).dt.date
    fc["horizon_days"] = fc["horizon_days"].astype("int32")
    fc["model_version"], fc["record_sha256"] = version, sha
    nights = (result.first_night + np.asarray(result.event_days, dtype="timedelta64[D]")).astype(
        str
    )
    if result.launches is None:  # a result without launch forecasts: never reused
        lc, fingerprint = pd.DataFrame(columns=list(LAUNCH_COLUMNS)), None
    else:
        lc = result.launches[list(LAUNCH_COLUMNS)].copy()
    lc["as_of"] = pd.to_datetime(lc["as_of"]).dt.date
    lc["horizon_days"] = lc["horizon_days"].astype("int32")
    for ddl in (SCORES_DDL, FORECASTS_DDL, LAUNCHES_DDL, FINGERPRINT_DDL, *LAUNCH_V3_DDL):
        con.execute(ddl)
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = int(
            con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM backtest_scores").fetchone()[0]
        )
        con.execute(
            "INSERT INTO backtest_scores (run_id, created_at, target, target_expression, "
            'start, "end", model_version, record_sha256, event_nights_json, summary_json, '
            "fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                fingerprint,
            ],
        )
        fc.insert(0, "run_id", run_id)
        con.register("_backtest_rows", fc)
        con.execute(
            "INSERT INTO backtest_forecasts SELECT run_id, as_of, model, horizon_days, p, "
            "outcome, model_version, record_sha256 FROM _backtest_rows"
        )
        con.unregister("_backtest_rows")
        lc.insert(0, "run_id", run_id)
        con.register("_launch_rows", lc)
        con.execute("INSERT INTO backtest_launches BY NAME SELECT * FROM _launch_rows")
        con.unregister("_launch_rows")
        old = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM backtest_scores WHERE target = ? ORDER BY run_id DESC OFFSET ?",
                [key, KEEP_RUNS],
            ).fetchall()
        ]
        for table in ("backtest_forecasts", "backtest_launches", "backtest_scores"):
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
    from barrage.warning.forecast_log import target_key

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
    "backtest_fingerprint",
    "backtest_head",
    "backtest_view",
    "latest_backtest",
    "reusable_backtest",
    "save_backtest",
]
