"""The live track: daily updates, the forecast log's scorecard, and replay.

Backtests can flatter; the forecasts that count are those issued before the outcome was
known. :func:`run_update` fetches the newest record, ingests it and logs the assessment
(under a lock, so two updates never overlap); :func:`scorecard` scores every logged
forecast whose outcome window has closed beside the backtest's figures for the same
origins; :func:`replay` rebuilds what the live log would have said day by day from only
the rows known each day (the as-of rule of :mod:`barrage.indicators.panel`).

The library logs to the ``barrage.live`` logger and configures no handler: the CLI
decides where logs go.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.indicators import Target, event_flags, outcomes, resolve_target, to_day
from barrage.warning.assess import MIN_HISTORY_D, WARNING_THRESHOLD, AssessInputs
from barrage.warning.backtest import (
    HORIZONS_D,
    BacktestPlan,
    input_hooks,
    realtime_design,
    run_backtest,
)
from barrage.warning.forecast_log import (  # noqa: F401 - the log's identity, used here and re-exported
    append_forecast,
    model_version,
    read_log,
    record_sha256,
    target_key,
)
from barrage.warning.models import PRIMARY_MODEL, make_model
from barrage.warning.scores import block_bootstrap_indices, brier, log_score, reliability_table
from barrage.warning.scores import warning_skill as _warning_skill

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger("barrage.live")

#: Fewer closed forecasts than this (per target and horizon) and no drift is judged.
MIN_DRIFT_FORECASTS = 10
DRIFT_LEVEL = 0.9
KYIV = "Europe/Kyiv"


def update_lock_path(db: str | os.PathLike[str]) -> Path:
    """The lock file that serialises the writers of one store (beside it)."""
    from barrage.record.lock import store_lock_path

    return store_lock_path(db)


def _newest_sha(con: duckdb.DuckDBPyConnection) -> str:
    """:func:`record_sha256` (log_assessment's parameter of that name shadows it)."""
    return record_sha256(con)


@dataclass(frozen=True)
class LogResult:
    seq: int
    entry_hash: str
    logged: bool  # False: the same forecast was already in the log


def log_assessment(
    con: duckdb.DuckDBPyConnection,
    assessment: dict[str, Any],
    target: Target,
    *,
    issued_at: datetime | None = None,
    record_sha256: str | None = None,
) -> LogResult:
    """Append ``assessment`` to the store's forecast log, once.

    ``record_sha256`` is the hash read with the record the assessment was computed from
    (:attr:`AssessInputs.record_sha256`); read here only when not given, which is right
    only when no writer can have run since the assessment read the store.

    A forecast with the same as-of, target, model version and record hash is not logged
    twice (a re-run update with no news adds nothing); a corrected record gives a new
    hash and so a new entry, and the scorecard counts the first one issued.
    """
    version = model_version()
    sha = record_sha256 or _newest_sha(con)
    entry = {**assessment, "target": target_key(target)}
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    if "forecast_log" in tables:
        read_log(con)  # verifies the chain first: a tampered log refuses
        hit = con.execute(
            "SELECT seq, entry_hash FROM forecast_log WHERE as_of = ? AND target = ? "
            "AND model_version = ? AND record_sha256 = ? ORDER BY seq LIMIT 1",
            [date.fromisoformat(str(assessment["as_of"])[:10]), entry["target"], version, sha],
        ).fetchone()
        if hit is not None:
            return LogResult(int(hit[0]), str(hit[1]), False)
    logged = append_forecast(
        con, entry, model_version=version, record_sha256=sha, issued_at=issued_at
    )
    return LogResult(logged.seq, logged.entry_hash, True)


def _logged_payload(
    con: duckdb.DuckDBPyConnection, as_of: object, target: Target, sha: str
) -> dict | None:
    """The assessment already logged for this as-of, target, model version and record."""
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    if "forecast_log" not in tables:
        return None
    read_log(con)  # a tampered log refuses here, before any work
    hit = con.execute(
        "SELECT payload_json FROM forecast_log WHERE as_of = ? AND target = ? "
        "AND model_version = ? AND record_sha256 = ? ORDER BY seq LIMIT 1",
        [to_day(as_of).astype(date), target_key(target), model_version(), sha],
    ).fetchone()
    if hit is None:
        return None
    payload = json.loads(hit[0])
    payload["target"] = {"name": target.name, "expression": target.expression}
    return payload


# --- update ---------------------------------------------------------------------------


@dataclass
class UpdateResult:
    """What one update did: the fetch, the ingest, and the logged forecast."""

    fetch: dict
    ingest: dict | None
    assessment: dict
    log_seq: int
    log_entry_hash: str
    logged: bool
    model_version: str
    lock: str
    steps_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def run_update(
    db: str | os.PathLike[str],
    *,
    to: str | os.PathLike[str] = "data",
    url: str | None = None,
    wait_s: float = 0.0,
    target: str | None = None,
    weather: object | None = None,
    as_of: object | None = None,
    use_kaggle: bool = True,
) -> UpdateResult:
    """Fetch, ingest and assess in one step, logging the forecast; one update at a time.

    Raises :class:`~barrage.errors.StoreBusyError` (exit 3) if another update holds the
    lock for longer than ``wait_s``, and ``FetchError`` (exit 4, nothing changed) when
    the download fails or is incomplete.
    """
    import time

    from barrage.record import ingest_record, open_store
    from barrage.record.fetch import fetch_record
    from barrage.record.lock import writer_lock
    from barrage.warning.assess import assess, inputs_from_store

    if not wait_s >= 0:  # also NaN
        raise InputError(f"wait_s: expected a number of seconds >= 0, got {wait_s}")
    db = Path(db)
    lock = update_lock_path(db)
    steps: dict[str, float] = {}
    logger.info("update of %s: waiting up to %g s for the lock %s", db, wait_s, lock)
    # every writer of the store takes this lock (ingest too): nothing changes the store
    # between the assessment's read and the log entry that names what it read
    with writer_lock(db, wait_s=wait_s, what="update"):
        t0 = time.perf_counter()
        fetched = fetch_record(to, db=db, url=url, use_kaggle=use_kaggle)
        steps["fetch"] = time.perf_counter() - t0
        logger.info(
            "fetched %s from %s (sha256 %s): %d new rows on %d new nights, %d corrected",
            fetched.path,
            fetched.source,
            fetched.sha256[:12],
            fetched.rows_new,
            len(fetched.new_nights),
            fetched.rows_corrected,
        )
        current = None
        if db.exists():
            with open_store(db) as con:
                row = con.execute(
                    "SELECT source_file_sha256 FROM ingests ORDER BY ingest_id DESC LIMIT 1"
                ).fetchone()
                current = row[0] if row else None
        ingested = None
        t0 = time.perf_counter()
        if current == fetched.sha256:
            logger.info("the store already holds this record; ingest skipped")
        else:
            ingested = ingest_record(fetched.path, db).as_dict()
            logger.info(
                "ingested: %d added, %d updated, %d unchanged, %d quarantined",
                ingested["rows_added"],
                ingested["rows_updated"],
                ingested["rows_unchanged"],
                ingested["rows_quarantined"],
            )
        steps["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        inputs = inputs_from_store(db, target, weather)
        day = inputs.record.last_night + np.timedelta64(1, "D") if as_of is None else as_of
        with open_store(db) as con:
            known = _logged_payload(con, day, inputs.target, inputs.record_sha256)
        if ingested is None and known is not None:
            # Same record, same model, same day: the forecast is the one already logged.
            assessment = known
        else:
            assessment = assess(inputs, as_of)
        steps["assess"] = time.perf_counter() - t0
        with open_store(db, read_only=False) as con:
            result = log_assessment(
                con, assessment, inputs.target, record_sha256=inputs.record_sha256
            )
        if result.logged:
            logger.info(
                "logged forecast #%d as of %s (%s): p=%s level %s; entry hash %s",
                result.seq,
                assessment["as_of"],
                model_version(),
                json.dumps(assessment["p"], sort_keys=True),
                assessment["level"],
                result.entry_hash,
            )
        else:
            logger.info(
                "forecast as of %s already logged as #%d; nothing added",
                assessment["as_of"],
                result.seq,
            )
    return UpdateResult(
        fetch=fetched.as_dict(),
        ingest=ingested,
        assessment=assessment,
        log_seq=result.seq,
        log_entry_hash=result.entry_hash,
        logged=result.logged,
        model_version=model_version(),
        lock=str(lock),
        steps_s={k: round(v, 3) for k, v in steps.items()},
    )


# --- replay ---------------------------------------------------------------------------


def replay(
    inputs: AssessInputs,
    start: object,
    end: object | None = None,
    *,
    horizons: tuple[int, ...] = HORIZONS_D,
    refit_every_d: int = 1,
    model: str = PRIMARY_MODEL,
) -> pd.DataFrame:
    """What the live log would have said on each day ``start .. end``: as_of,
    horizon_days, p, refit_on.

    Each day D uses only the rows known at 12:00 Kyiv on D (the record's as-of filter,
    equal to a store ingested from only those rows: tested). With ``refit_every_d=1``
    the model is refitted every day as ``barrage assess`` does (the live track); with
    7 it is refitted on ``start``, ``start + 7``, ... as the backtest does, which
    reproduces the backtest's probabilities.
    """
    from threadpoolctl import threadpool_limits

    rec, target = inputs.record, inputs.target
    d0 = to_day(start)
    d1 = rec.last_known_day if end is None else to_day(end)
    first_ok = rec.first_night + np.timedelta64(MIN_HISTORY_D + max(HORIZONS_D) + 1, "D")
    if d0 < first_ok:
        raise InputError(
            f"replay --from {d0}: too little history; the first usable date is {first_ok}"
        )
    if d1 < d0:
        raise InputError(f"replay: --to {d1} is before --from {d0}")
    if d1 > rec.last_known_day:
        raise InputError(
            f"replay --to {d1}: after the last date this store knows in full "
            f"({rec.last_known_day}); later nights would read as quiet"
        )
    if refit_every_d < 1:
        raise InputError(f"refit_every_d: expected >= 1, got {refit_every_d}")
    days = np.arange(d0, d1 + np.timedelta64(1, "D"), dtype="datetime64[D]")
    parts = []
    with threadpool_limits(1):
        # Row D of the design is computed from the panel as known on D, whatever the
        # last origin (see realtime_design), so one design serves every day.
        X = realtime_design(rec, target, d1, **input_hooks(inputs))
        for b in range(0, len(days), refit_every_d):
            refit_day = days[b]
            block = days[b : b + refit_every_d]
            y_known = outcomes(rec.panel(refit_day), target, tuple(horizons))
            X_block = X.loc[pd.DatetimeIndex(block.astype("datetime64[ns]"))]
            for k in horizons:
                train = X.index[X.index <= pd.Timestamp(refit_day - np.timedelta64(k + 1, "D"))]
                yk = y_known[k].reindex(train)
                ok = yk.notna().to_numpy()
                fitted = make_model(model, k).fit(X.loc[train[ok]], yk.to_numpy()[ok])
                parts.append(
                    pd.DataFrame(
                        {
                            "as_of": X_block.index,
                            "horizon_days": k,
                            "p": fitted.predict_proba(X_block)[:, 1],
                            "refit_on": pd.Timestamp(refit_day),
                        }
                    )
                )
    out = pd.concat(parts, ignore_index=True).sort_values(["as_of", "horizon_days"])
    out["model"] = model
    return out.reset_index(drop=True)


def compare_with_backtest(
    replayed: pd.DataFrame,
    backtest: pd.DataFrame,
    *,
    backtest_start: object,
    refit_every_d: int = 7,
) -> dict:
    """Max and mean |p_replay - p_backtest| over the shared origins: overall, on origins
    where both were fitted on the same day (and so on the same data), and elsewhere (the
    backtest's model is then up to ``refit_every_d - 1`` days older: refit timing)."""
    bt = backtest[["as_of", "model", "horizon_days", "p"]].rename(columns={"p": "p_backtest"})
    m = replayed.merge(bt, on=["as_of", "model", "horizon_days"], how="inner")
    if m.empty:
        raise InputError("replay and backtest share no origin: compare the same dates and model")
    s0 = pd.Timestamp(to_day(backtest_start))
    bt_refit = s0 + pd.to_timedelta(
        ((m["as_of"] - s0).dt.days // refit_every_d) * refit_every_d, "D"
    )
    diff = (m["p"] - m["p_backtest"]).abs()
    same = (m["refit_on"] == bt_refit).to_numpy()

    def stat(f, mask):
        return float(f(diff[mask])) if mask.any() else None

    return {
        "origins": int(m["as_of"].nunique()),
        "pairs": int(len(m)),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "same_refit_pairs": int(same.sum()),
        "same_refit_max_abs_diff": stat(np.max, same),
        "other_pairs": int((~same).sum()),
        "other_max_abs_diff": stat(np.max, ~same),
        "other_mean_abs_diff": stat(np.mean, ~same),
    }


# --- scorecard ------------------------------------------------------------------------


def _kyiv_noon_utc(day: date) -> datetime:
    from zoneinfo import ZoneInfo

    noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(KYIV))
    return noon.astimezone(UTC).replace(tzinfo=None)


def _finite(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _brier_interval(p: np.ndarray, y: np.ndarray, horizon: int, seed: int = 0) -> tuple:
    idx = block_bootstrap_indices(p.size, max(14, 4 * horizon), 200, seed)
    b = np.mean((p[idx] - y[idx]) ** 2, axis=1)
    lo, hi = (1 - DRIFT_LEVEL) / 2, 1 - (1 - DRIFT_LEVEL) / 2
    return float(np.quantile(b, lo)), float(np.quantile(b, hi))


def _skill(days: np.ndarray, p: np.ndarray, y: np.ndarray, ev: np.ndarray, k: int) -> dict:
    s = _warning_skill(days, p, y, ev, k, WARNING_THRESHOLD)
    return {
        "warnings": int(s["warnings"]),
        "events": int(s["events"]),
        "hit_rate": _finite(s["hit_rate"]),
        "false_alarm_ratio": _finite(s["false_alarm_ratio"]),
    }


def _period_backtest(inputs: AssessInputs, first: date, last: date, horizons) -> pd.DataFrame:
    plan = BacktestPlan(start=first, end=last, horizons=tuple(horizons), models=(PRIMARY_MODEL,))
    res = run_backtest(inputs.record, plan, inputs.target, **input_hooks(inputs))
    return res.forecasts


def scorecard(
    con: duckdb.DuckDBPyConnection,
    *,
    weather: object | None = None,
    backtests: dict[str, pd.DataFrame] | None = None,
) -> dict:
    """Score every logged forecast whose outcome window has closed, beside the backtest.

    Per target and horizon: Brier, log score, reliability, hit rate and false-alarm
    ratio of the live forecasts (the first one issued per as-of date counts), and the
    same figures of the backtest's primary model on the same origins. Drift is flagged
    when the live Brier falls outside the backtest Brier's 90% block-bootstrap interval
    over those origins (judged from :data:`MIN_DRIFT_FORECASTS` closed forecasts on).
    ``backtests`` maps a target (as logged) to backtest forecasts (as_of, model,
    horizon_days, p); a target without one gets a backtest run over its live period.
    """
    from barrage.indicators import KnownRecord
    from barrage.warning.assess import inputs_from_store

    log = read_log(con)
    out: dict[str, Any] = {
        "log_entries": int(log["seq"].nunique()) if len(log) else 0,
        "model_versions": sorted(log["model_version"].unique().tolist()) if len(log) else [],
        "current_model_version": model_version(),
        "threshold": WARNING_THRESHOLD,
        "drift_rule": (
            f"live Brier outside the backtest's {DRIFT_LEVEL:.0%} block-bootstrap interval on the "
            f"same origins (from {MIN_DRIFT_FORECASTS} closed forecasts)"
        ),
        "rows": [],
        "drift": False,
    }
    if log.empty:
        out["last_known_day"] = None
        return out
    record = KnownRecord.from_store(con)
    final_day = record.last_known_day
    out["last_known_day"] = str(final_day)
    log = log.sort_values("seq")
    log["as_of"] = pd.to_datetime(log["as_of"])
    noon = {d: _kyiv_noon_utc(d.date()) for d in log["as_of"].unique()}
    log["late"] = [
        pd.Timestamp(i) > pd.Timestamp(noon[a])
        for i, a in zip(log["issued_at"], log["as_of"], strict=True)
    ]
    first = log.drop_duplicates(["target", "as_of", "horizon_days"], keep="first")
    backtests = dict(backtests or {})
    for tkey, g in first.groupby("target", sort=True):
        target = resolve_target(str(tkey))
        panel = record.panel(final_day)
        horizons = tuple(sorted(int(k) for k in g["horizon_days"].unique()))
        y_final = outcomes(panel, target, horizons)
        ev_days = np.flatnonzero(event_flags(panel, target))
        closed_origins = []
        for k, gk in g.groupby("horizon_days"):
            y = y_final[int(k)].reindex(pd.DatetimeIndex(gk["as_of"])).to_numpy()
            closed_origins.extend(gk["as_of"][~np.isnan(y)].tolist())
        bt = None
        if closed_origins:
            if tkey in backtests:
                bt = backtests[tkey]
            else:
                inputs = inputs_from_store(con, target, weather)
                bt = _period_backtest(
                    inputs, min(closed_origins).date(), max(closed_origins).date(), horizons
                )
                backtests[tkey] = bt
            bt = bt[bt["model"] == PRIMARY_MODEL].copy()
            bt["as_of"] = pd.to_datetime(bt["as_of"])
        for k, gk in g.groupby("horizon_days"):
            k = int(k)
            origins = pd.DatetimeIndex(gk["as_of"])
            y_all = y_final[k].reindex(origins).to_numpy()
            closed = ~np.isnan(y_all)
            row: dict[str, Any] = {
                "target": str(tkey),
                "horizon_days": k,
                "forecasts": int(len(gk)),
                "closed": int(closed.sum()),
                "open": int((~closed).sum()),
                "late": int(gk["late"].sum()),
                "first_as_of": str(origins.min().date()),
                "last_as_of": str(origins.max().date()),
                "live": None,
                "backtest": None,
                "drift": None,
                "drift_note": "no closed forecast yet",
            }
            if closed.any():
                p, y = gk["p"].to_numpy(float)[closed], y_all[closed]
                days = (origins[closed].to_numpy("datetime64[D]") - record.first_night).astype(
                    np.int64
                )
                row["live"] = {
                    "brier": brier(p, y),
                    "log_score": log_score(p, y),
                    "event_share": float(y.mean()),
                    "reliability": reliability_table(p, y),
                    **_skill(days, p, y, ev_days, k),
                }
                b = bt[bt["horizon_days"] == k].set_index("as_of")["p"]
                pb = b.reindex(origins[closed]).to_numpy(float)
                have = ~np.isnan(pb)
                if have.any():
                    pb_, yb = pb[have], y[have]
                    lo, hi = _brier_interval(pb_, yb, k)
                    row["backtest"] = {
                        "origins_matched": int(have.sum()),
                        "brier": brier(pb_, yb),
                        "brier_lo": lo,
                        "brier_hi": hi,
                        "log_score": log_score(pb_, yb),
                        "reliability": reliability_table(pb_, yb),
                        **_skill(days[have], pb_, yb, ev_days, k),
                    }
                    live_b = brier(p[have], yb)
                    if have.sum() < MIN_DRIFT_FORECASTS:
                        row["drift_note"] = (
                            f"{int(have.sum())} closed forecasts: too few to judge drift "
                            f"(need {MIN_DRIFT_FORECASTS})"
                        )
                    else:
                        row["drift"] = bool(live_b < lo or live_b > hi)
                        row["drift_note"] = (
                            f"live Brier {live_b:.4f} {'outside' if row['drift'] else 'inside'} "
                            f"the backtest's interval ({lo:.4f}, {hi:.4f})"
                        )
                else:
                    row["drift_note"] = "the backtest has none of these origins"
            out["rows"].append(row)
    out["drift"] = any(r["drift"] for r in out["rows"])
    return out
