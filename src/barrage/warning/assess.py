"""The assessment as of a date: probabilities, warning level, expected launches, drivers.

Warning levels come from the 3-day probability and a cost-loss rule: a protective action
that costs C and avoids a loss L is worth taking when p > C / L. The levels stand for
actions of rising cost (see docs/warning.md):

- ELEVATED (p3 >= 0.15): cheap readiness — repair crews and spares on call, staff alerts.
- HIGH (p3 >= 0.35): costly moves — pre-position mobile generation, postpone maintenance
  outages, re-dispatch to keep reserves near critical substations.
- SEVERE (p3 >= 0.60): expensive, disruptive — pre-emptive grid reconfiguration and
  consumer load reduction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.indicators import (
    INDICATORS,
    KnownRecord,
    Target,
    event_flags,
    launch_totals,
    outcomes,
    percentile_of_last,
    to_day,
)
from barrage.warning.backtest import HORIZONS_D, input_hooks, realtime_design
from barrage.warning.launches import LAUNCH_GROUPS, NegBinLaunchModel
from barrage.warning.models import (
    DRIVER_MODEL,
    MODELS,
    PRIMARY_MODEL,
    STOCK_FEATURE_COLUMNS,
    make_model,
)

LEVELS: tuple[tuple[str, float], ...] = (("SEVERE", 0.60), ("HIGH", 0.35), ("ELEVATED", 0.15))
LEVEL_HORIZON_D = 3
#: p at any horizon at or above this counts as a warning in the backtest scores (HIGH).
WARNING_THRESHOLD = 0.35
MIN_HISTORY_D = 60
#: The record is stale when the days from its last recorded night to the forecast date
#: exceed the longest run between recorded nights in the STALE_LOOKBACK_D nights before
#: it, bounded to STALE_MIN_D .. STALE_MAX_D: a record quieter than it has been all year
#: is more likely not updated than in a lull (in 2025 an attack was recorded at least
#: every other night, so two days without rows already says so).
STALE_LOOKBACK_D = 365
STALE_MIN_D = 2
STALE_MAX_D = 7
DRIVER_HORIZON_D = 7


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 91st..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def stale_after_d(known_nights: np.ndarray) -> tuple[int, int | None, int]:
    """(threshold, longest gap, nights looked back): days past the last recorded night
    after which the record counts as stale, from the recorded nights (day indices, known
    on the forecast date only). The longest gap is None with fewer than two nights."""
    nights = np.unique(known_nights)
    if nights.size == 0:
        return STALE_MAX_D, None, 0
    recent = nights[nights > nights[-1] - STALE_LOOKBACK_D]
    span = int(min(STALE_LOOKBACK_D, nights[-1] - nights[0]))
    longest = int(np.diff(recent).max()) if recent.size > 1 else None
    threshold = STALE_MAX_D if longest is None else int(np.clip(longest, STALE_MIN_D, STALE_MAX_D))
    return threshold, longest, span


def warning_level(p_level_horizon: float) -> str:
    for name, threshold in LEVELS:
        if p_level_horizon >= threshold:
            return name
    return "LOW"


@dataclass
class AssessInputs:
    record: KnownRecord
    target: Target
    weather: pd.DataFrame | None = None
    production: object | None = None
    #: The stockpile hook (:class:`barrage.warning.stock.StockpileFeatures`); None leaves
    #: the stockpile indicators missing (imputed by the models).
    stockpile: object | None = None
    #: SHA-256 of the newest ingested record file, read with ``record`` in one
    #: connection: the hash a logged forecast names (None: not read from a store).
    record_sha256: str | None = None


def _drivers(
    model, X_row: pd.DataFrame, X_train: pd.DataFrame, percentiles: pd.Series, top: int
) -> list[dict]:
    """Effect of each indicator on the driver model (:data:`DRIVER_MODEL`, which reads
    the stockpile indicators too): its probability now minus its probability with that
    indicator set to its training median (all else equal), in probability points."""
    p_now = float(model.predict_proba(X_row)[0, 1])
    cols = [c for c in STOCK_FEATURE_COLUMNS if c in INDICATORS]
    variants = pd.concat([X_row] * len(cols), ignore_index=True)
    medians = X_train[cols].median()
    for i, c in enumerate(cols):
        variants.loc[i, c] = medians[c]
    variants.index = pd.DatetimeIndex([X_row.index[0]] * len(cols))
    p_alt = model.predict_proba(variants)[:, 1]
    out = []
    for c, pa in zip(cols, p_alt, strict=True):
        value = float(X_row[c].iloc[0])
        effect = p_now - float(pa)
        pct = percentiles.get(c, np.nan)
        ind = INDICATORS[c]
        direction = "raises" if effect > 0 else "lowers"
        pct_text = "" if np.isnan(pct) else f", {_ordinal(round(pct))} percentile of its history"
        value_text = "missing" if np.isnan(value) else f"{value:.3g} {ind.unit}"
        if ind.unit == "0/1" and not np.isnan(value):  # a yes/no indicator has no percentile
            value_text, pct_text = ("yes" if value >= 0.5 else "no"), ""
        out.append(
            {
                "indicator": c,
                "value": None if np.isnan(value) else value,
                "percentile": None if np.isnan(pct) else float(pct),
                "effect": effect,
                "meaning": ind.meaning,
                "sentence": (
                    f"{ind.meaning[0].upper()}{ind.meaning[1:]}: {value_text}{pct_text}; "
                    f"it {direction} the feature model's {DRIVER_HORIZON_D}-day probability "
                    f"by {abs(effect) * 100:.1f} points against a typical value."
                ),
            }
        )
    out.sort(key=lambda d: -abs(d["effect"]))
    return out[:top]


#: Latest as-of date allowed, in days after the record's last night (the staleness
#: warning starts after 2-7 days; far beyond, the time and memory grow with the gap).
MAX_AHEAD_D = 90


def assess(inputs: AssessInputs, as_of: object | None = None, *, top_drivers: int = 6) -> dict:
    """Forecast as of 12:00 Kyiv on ``as_of`` (default: the day after the last night in
    the store), using only rows known then.

    BLAS runs single-threaded, as in the backtest and the replay: the fits are tiny and
    threads only contend (L-BFGS was ~30x slower with two BLAS threads on two cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _assess(inputs, as_of, top_drivers=top_drivers)


def _assess(inputs: AssessInputs, as_of: object | None, *, top_drivers: int) -> dict:
    rec, target = inputs.record, inputs.target
    day = rec.last_night + np.timedelta64(1, "D") if as_of is None else to_day(as_of)
    if day <= rec.first_night:
        raise InputError(f"--as-of {day}: before the record starts (first night {rec.first_night})")
    latest = rec.last_night + np.timedelta64(MAX_AHEAD_D, "D")
    if day > latest:
        # the panel runs to the as-of day: 9999-12-31 took past 4 GB
        raise InputError(
            f"--as-of {day}: more than {MAX_AHEAD_D} days after the record's last night "
            f"({rec.last_night}); a forecast so far past the data would rest on none "
            f"(latest allowed: {latest})"
        )
    first_ok = rec.first_night + np.timedelta64(MIN_HISTORY_D + max(HORIZONS_D) + 1, "D")
    if day < first_ok:
        raise InputError(
            f"--as-of {day}: too little history to fit a forecast; the first usable date is "
            f"{first_ok}"
        )
    t = rec.day_index(day)
    known = (rec.known_from <= t) & (rec.night < t)
    last_known_night = rec.first_night + np.timedelta64(int(rec.night[known].max()), "D")
    warnings: list[str] = []
    stale = None
    gap_d = int((day - last_known_night).astype(int))
    threshold_d, longest_d, span_d = stale_after_d(rec.night[known])
    if gap_d > threshold_d:
        stale = {
            "last_night": str(last_known_night),
            "days": gap_d,
            "threshold_d": threshold_d,
            "longest_gap_d": longest_d,
            "lookback_d": span_d,
        }
        basis = (
            f"the longest gap between recorded nights in the {span_d} nights before it was "
            f"{longest_d} days"
            if longest_d is not None
            else "too few recorded nights to measure gaps"
        )
        warnings.append(
            f"the record is stale: its last night is {last_known_night}, {gap_d} days before "
            f"{day}, more than the {threshold_d} days that count as stale ({basis}; bounded "
            f"to {STALE_MIN_D}-{STALE_MAX_D} days); the nights since are read as nights "
            "without attacks, which can understate the risk: treat the level as a floor "
            "until the record is updated"
        )

    X = realtime_design(rec, target, day, **input_hooks(inputs))
    panel = rec.panel(day)
    y_known = outcomes(panel, target, HORIZONS_D)
    l_known = launch_totals(panel, HORIZONS_D)
    X_now = X.iloc[[-1]]
    p: dict[str, float] = {}
    p_by_model: dict[str, dict[str, float]] = {m: {} for m in MODELS}
    expected: dict[str, dict[str, dict[str, float]]] = {g: {} for g in LAUNCH_GROUPS}
    driver_model = driver_train = None
    for k in HORIZONS_D:
        train = X.index[X.index <= pd.Timestamp(day - np.timedelta64(k + 1, "D"))]
        yk = y_known[k].reindex(train)
        ok = yk.notna().to_numpy()
        Xtr, ytr = X.loc[train[ok]], yk.to_numpy()[ok]
        for name in MODELS:
            model = make_model(name, k).fit(Xtr, ytr)
            pk = float(model.predict_proba(X_now)[0, 1])
            p_by_model[name][str(k)] = pk
            if name == PRIMARY_MODEL:
                p[str(k)] = pk
            if name == DRIVER_MODEL and k == DRIVER_HORIZON_D:
                driver_model, driver_train = model, Xtr
        for g in LAUNCH_GROUPS:
            lk = l_known[g][k].reindex(train[ok])
            lok = lk.notna().to_numpy()
            nb = NegBinLaunchModel(group=g, horizon_days=k).fit(Xtr[lok], lk.to_numpy()[lok])
            q = nb.predict_quantiles(X_now, (0.1, 0.5, 0.9))[0]
            expected[g][str(k)] = {
                "mean": float(nb.predict_mean(X_now)[0]),
                "p10": float(q[0]),
                "p50": float(q[1]),
                "p90": float(q[2]),
            }

    percentiles = percentile_of_last(X[list(INDICATORS)])
    drivers = _drivers(driver_model, X_now, driver_train, percentiles, top_drivers)
    ev = np.flatnonzero(event_flags(panel, target))
    frame = panel.frame()
    recent = frame.iloc[ev[-5:]] if ev.size else frame.iloc[:0]
    next_strike = {
        "basis": f"median of the last {len(recent)} target nights",
        "missiles": float(recent["missiles"].median()) if len(recent) else None,
        "attack_drones": float(recent["attack_drone"].median()) if len(recent) else None,
        "last_target_night": str(recent.index[-1].date()) if len(recent) else None,
    }
    level = warning_level(p[str(LEVEL_HORIZON_D)])
    return {
        "as_of": str(day),
        "issued_at": f"{day}T12:00 Europe/Kyiv",
        "target": {"name": target.name, "expression": target.expression},
        "p": p,
        "level": level,
        "level_rule": f"{LEVEL_HORIZON_D}-day probability: "
        + ", ".join(f"{n} >= {v:g}" for n, v in LEVELS)
        + ", else LOW",
        "model": PRIMARY_MODEL,
        "driver_model": DRIVER_MODEL,
        "p_by_model": p_by_model,
        "expected_launches": expected,
        "expected_next_strike": next_strike,
        "drivers": drivers,
        "indicators": {
            c: {
                "value": None if np.isnan(v) else float(v),
                "percentile": None if np.isnan(percentiles[c]) else float(percentiles[c]),
                "unit": INDICATORS[c].unit,
                "meaning": INDICATORS[c].meaning,
            }
            for c, v in X_now[list(INDICATORS)].iloc[0].items()
        },
        "stale": stale,
        "warnings": warnings,
    }


def inputs_from_store(
    store, target: str | Target | None = None, weather: object | None = None
) -> AssessInputs:
    """The inputs every warning entry point uses (CLI, web, live updates): the known
    record from ``store`` (a path or an open DuckDB connection), the resolved target and
    the weather (a path, a loaded frame, or None for the default file), and the stockpile
    hook (monthly stockpile refits as known, computed on first use and cached in the
    process and in a folder next to the store file)."""
    from barrage.indicators import default_weather_path, load_weather, resolve_target
    from barrage.record import open_store
    from barrage.warning.stock import StockpileFeatures, refit_cache_dir, store_cache_dir

    tgt = resolve_target(target)
    if hasattr(store, "execute"):
        record, sha = KnownRecord.from_store(store), _newest_sha(store)
        cache_dir = store_cache_dir(store)
    else:
        with open_store(store) as con:
            record, sha = KnownRecord.from_store(con), _newest_sha(con)
        cache_dir = refit_cache_dir(store)
    if weather is None or not isinstance(weather, pd.DataFrame):
        weather = load_weather(weather if weather is not None else default_weather_path())
    return AssessInputs(
        record=record,
        target=tgt,
        weather=weather,
        stockpile=StockpileFeatures(record, cache_dir=cache_dir),
        record_sha256=sha,
    )


def _newest_sha(con) -> str | None:
    """The newest ingest's file hash, in the connection the record is read from."""
    tables = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ingests'"
    ).fetchone()[0]
    if not tables:
        return None
    row = con.execute(
        "SELECT source_file_sha256 FROM ingests ORDER BY ingest_id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else str(row[0])
