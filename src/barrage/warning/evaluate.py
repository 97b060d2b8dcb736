"""Backtest scoring: per model, horizon and period, with block-bootstrap intervals."""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.indicators import KnownRecord
from barrage.warning.backtest import (
    HORIZONS_D,
    BacktestPlan,
    BacktestResult,
    _as_date,
    input_hooks,
    run_backtest,
)
from barrage.warning.registration import REGISTRATION
from barrage.warning.scores import (  # noqa: F401 - the period and reference names live in scores
    METRICS,
    PROSPECTIVE_PERIOD,
    REFERENCE_MODEL,
    forecast_table,
    registered_period,
    score_with_intervals,
    warning_skill,
)
from barrage.warning.verdict import verdict

#: Fewer scored origins than this leave a launch period out.
MIN_LAUNCH_ORIGINS = 30
#: First forecast date by default: this many days after the record's first night.
BURN_IN_D = 80


def default_plan(record: KnownRecord, *, start=None, end=None, horizons=None) -> BacktestPlan:
    first = (record.first_night + np.timedelta64(BURN_IN_D, "D")).astype(object)
    last = record.last_night.astype(object)
    s = _as_date(start, "start") if start is not None else first
    e = _as_date(end, "end") if end is not None else last
    if s < first:
        raise InputError(
            f"start: {s} is too early; the backtest needs history, first start {first}"
        )
    return BacktestPlan(
        start=s,
        end=min(e, last + timedelta(days=1)),
        horizons=tuple(horizons) if horizons else HORIZONS_D,
    )


def run(inputs, plan: BacktestPlan, *, progress=None) -> BacktestResult:
    return run_backtest(
        inputs.record, plan, inputs.target, hooks=input_hooks(inputs), progress=progress
    )


def periods(index: pd.DatetimeIndex, last: pd.Timestamp) -> dict[str, np.ndarray]:
    """Named subsets of forecast origins (boolean masks)."""
    doy = index.dayofyear
    heating = (doy >= 288) | (doy <= 105)
    return {
        "all": np.ones(len(index), bool),
        "last_24m": index > last - pd.DateOffset(months=24),
        "last_12m": index > last - pd.DateOffset(months=12),
        "winter_2022_23": (index >= "2022-10-01") & (index <= "2023-03-31"),
        "2023": index.year == 2023,
        "2024": index.year == 2024,
        "2025": index.year == 2025,
        "heating": heating,
        "non_heating": ~heating,
    }


def score_table(
    result: BacktestResult, *, n_boot: int = 200, threshold: float = 0.35, seed: int = 0
) -> pd.DataFrame:
    """One row per (horizon, model, period): metrics with intervals and warning skill."""
    fc = result.forecasts.dropna(subset=["outcome"])
    rows = []
    for k, g in fc.groupby("horizon_days"):
        wide, y = forecast_table(g)
        last = wide.index.max()
        day = (wide.index.to_numpy("datetime64[D]") - result.first_night).astype(np.int64)
        for pname, mask in periods(wide.index, last).items():
            if mask.sum() < 30 or y[mask].nunique() < 2:
                continue
            yy = y[mask].to_numpy()
            ref = wide.loc[mask, REFERENCE_MODEL].to_numpy()
            for model in wide.columns:
                pp = wide.loc[mask, model].to_numpy()
                sc = score_with_intervals(
                    pp, yy, ref, block_len=max(14, 4 * int(k)), n_boot=n_boot, seed=seed
                )
                ws = warning_skill(day[mask], pp, yy, result.event_days, int(k), threshold)
                rows.append(
                    {
                        "horizon_days": int(k),
                        "model": model,
                        "period": pname,
                        "origins": int(mask.sum()),
                        "event_share": float(yy.mean()),
                        **sc,
                        **{f"warn_{a}": b for a, b in ws.items()},
                    }
                )
    return pd.DataFrame(rows)


def launch_periods(index: pd.DatetimeIndex, horizon_d: int) -> dict[str, np.ndarray]:
    """The periods of :func:`periods` (counted back from the last scored origin), the
    registered evaluation windows (``registered_last_<N>m``: fixed dates ending at the
    last origin whose window closed on the snapshot) and the prospective period
    (``after_snapshot``: origins whose window closes after the snapshot)."""
    reg = REGISTRATION
    out = periods(index, index.max())
    snap = pd.Timestamp(reg.snapshot_end)
    last = snap - pd.Timedelta(days=horizon_d - 1)
    for months in reg.evaluation_months:
        first = snap - pd.DateOffset(months=months) + pd.Timedelta(days=1)
        out[registered_period(months)] = (index >= first) & (index <= last)
    out[PROSPECTIVE_PERIOD] = index > last
    return out


def launch_scores(result: BacktestResult) -> pd.DataFrame:
    """Launch forecasts per group, horizon, model and period (:func:`launch_periods`):
    mean CRPS (NaN for the quantile-only baseline), mean pinball loss at 10/50/90% and the
    share of outcomes inside the 10-90% interval (aim: about 0.80)."""
    ln = result.launches.dropna(subset=["outcome"])
    rows = []
    for (g, k, model), part in ln.groupby(["group", "horizon_days", "model"]):
        idx = pd.DatetimeIndex(part["as_of"])
        crps = part["crps"].to_numpy(float)
        pin = part["pinball"].to_numpy(float)
        cov = part["covered_80"].to_numpy(float)
        for pname, mask in launch_periods(idx, int(k)).items():
            if mask.sum() < MIN_LAUNCH_ORIGINS:
                continue
            rows.append(
                {
                    "group": g,
                    "horizon_days": int(k),
                    "model": model,
                    "period": pname,
                    "origins": int(mask.sum()),
                    "crps_mean": float(np.mean(crps[mask])),
                    "pinball_mean": float(np.mean(pin[mask])),
                    "coverage_80": float(np.mean(cov[mask])),
                }
            )
    return pd.DataFrame(rows)


def _clean(v):
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return _clean(v.item())
    return v


def _clean_tree(v):
    """:func:`_clean` through nested dicts and lists (JSON: no NaN, no numpy scalars)."""
    if isinstance(v, dict):
        return {k: _clean_tree(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean_tree(x) for x in v]
    return _clean(v)


def score_summary(result: BacktestResult, *, n_boot: int = 200) -> dict:
    """JSON-ready summary of the backtest: scores per model, horizon and period."""
    table = score_table(result, n_boot=n_boot)
    fc = result.forecasts
    return {
        "target": {"name": result.target.name, "expression": result.target.expression},
        "start": str(fc["as_of"].min().date()),
        "end": str(fc["as_of"].max().date()),
        "horizons": list(result.plan.horizons),
        "refit_every_d": result.plan.refit_every_d,
        "models": list(result.plan.models),
        "metrics": [*METRICS, "brier_skill"],
        "scores": [{k: _clean(v) for k, v in r.items()} for r in table.to_dict("records")],
        "launch_crps": [
            {k: _clean(v) for k, v in r.items()} for r in launch_scores(result).to_dict("records")
        ],
        "verdict": _clean_tree(verdict(result)),
    }


def forecasts_csv(result: BacktestResult, path: str | os.PathLike[str]) -> None:
    """One row per (as_of, model, horizon): as_of, model, horizon_days, p, outcome."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df = result.forecasts[["as_of", "model", "horizon_days", "p", "outcome"]].copy()
    df["as_of"] = df["as_of"].dt.date.astype(str)
    df.to_csv(path, index=False)
