"""The live track scored: the forecast log's scorecard, and replay.

Backtests can flatter; the forecasts that count are those issued before the outcome was
known. :func:`scorecard` scores every logged forecast whose outcome window has closed
beside the backtest's figures for the same origins; :func:`replay` rebuilds what the
live log would have said day by day from only the rows known each day (the as-of rule of
:mod:`barrage.indicators.panel`). The update that writes the log is in
:mod:`barrage.pipeline.update`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from barrage.errors import InputError
from barrage.indicators import KnownRecord, event_flags, outcomes, resolve_target, to_day
from barrage.record import open_store
from barrage.warning import evaluate
from barrage.warning.assess import (
    MIN_HISTORY_D,
    WARNING_THRESHOLD,
    AssessInputs,
    inputs_from_store,
)
from barrage.warning.backtest import (
    HORIZONS_D,
    BacktestPlan,
    input_hooks,
    realtime_design,
    run_backtest,
)
from barrage.warning.forecast_log import model_version, read_log
from barrage.warning.models import PRIMARY_MODEL, make_model
from barrage.warning.scores import block_bootstrap_indices, brier, log_score, reliability_table
from barrage.warning.scores import warning_skill as _warning_skill

if TYPE_CHECKING:
    import duckdb

#: Fewer closed forecasts than this (per target and horizon) and no drift is judged.
MIN_DRIFT_FORECASTS = 10
DRIFT_LEVEL = 0.9
KYIV = "Europe/Kyiv"


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
        raise InputError(f"start: {d0} has too little history; the first usable date is {first_ok}")
    if d1 < d0:
        raise InputError(f"end: {d1} is before start {d0}")
    if d1 > rec.last_known_day:
        raise InputError(
            f"end: {d1} is after the last date this store knows in full "
            f"({rec.last_known_day}); later nights would read as quiet"
        )
    if refit_every_d < 1:
        raise InputError(f"refit_every_d: expected >= 1, got {refit_every_d}")
    days = np.arange(d0, d1 + np.timedelta64(1, "D"), dtype="datetime64[D]")
    parts = []
    with threadpool_limits(1):
        # Row D of the design is computed from the panel as known on D, whatever the
        # last origin (see realtime_design), so one design serves every day.
        X = realtime_design(rec, target, d1, hooks=input_hooks(inputs))
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
    res = run_backtest(inputs.record, plan, inputs.target, hooks=input_hooks(inputs))
    return res.forecasts


def _horizon_row(
    tkey: str,
    k: int,
    gk: pd.DataFrame,
    y_final: dict,
    bt: pd.DataFrame | None,
    record: KnownRecord,
    ev_days: np.ndarray,
) -> dict[str, Any]:
    """One scorecard row: the live forecasts of one target and horizon, scored where
    the outcome is known, beside the backtest on the same origins, with the drift test."""
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
        days = (origins[closed].to_numpy("datetime64[D]") - record.first_night).astype(np.int64)
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
    return row


class Scorecard(BaseModel):
    """The live forecasts scored beside the backtest: what :func:`scorecard` returns (as a
    dict), ``barrage scorecard --json`` prints and ``/api/scorecard`` serves."""

    model_config = ConfigDict(extra="forbid")
    log_entries: int
    model_versions: list[str]
    current_model_version: str
    last_known_day: str | None = None
    threshold: float
    drift_rule: str
    drift: bool
    rows: list[dict[str, Any]]


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
            out["rows"].append(_horizon_row(str(tkey), int(k), gk, y_final, bt, record, ev_days))
    out["drift"] = any(r["drift"] for r in out["rows"])
    return out


def store_scorecard(db, *, weather: object | None = None) -> dict:
    """:func:`scorecard` of the store file ``db`` (opened read-only)."""
    with open_store(db) as con:
        return scorecard(con, weather=weather)


def replay_store(
    db,
    start: object,
    end: object | None = None,
    *,
    refit_every_d: int = 1,
    compare_backtest: bool = False,
    target: str | None = None,
    weather: object | None = None,
) -> tuple[pd.DataFrame, dict]:
    """:func:`replay` on the store file ``db``: the replayed forecasts, and a summary
    (span, days, model version, mean p per horizon; with ``compare_backtest``, the
    backtest run on the same origins and :func:`compare_with_backtest`)."""
    inputs = inputs_from_store(db, target, weather)
    fc = replay(inputs, start, end, refit_every_d=refit_every_d)
    result: dict = {
        "from": str(fc["as_of"].min().date()),
        "to": str(fc["as_of"].max().date()),
        "days": int(fc["as_of"].nunique()),
        "refit_every_d": refit_every_d,
        "model_version": model_version(),
        "target": inputs.target.name,
        "mean_p": {str(k): float(g["p"].mean()) for k, g in fc.groupby("horizon_days")},
    }
    if compare_backtest:
        plan = evaluate.default_plan(inputs.record, start=result["from"], end=result["to"])
        plan = type(plan)(
            start=plan.start, end=plan.end, horizons=plan.horizons, models=(fc["model"].iloc[0],)
        )
        bt = evaluate.run(inputs, plan).forecasts
        result["backtest"] = compare_with_backtest(fc, bt, backtest_start=plan.start)
    return fc, result
