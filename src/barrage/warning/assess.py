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
    default_weather_path,
    event_flags,
    launch_totals,
    load_weather,
    outcomes,
    percentile_of_last,
    resolve_target,
    to_day,
)
from barrage.record import open_store
from barrage.warning.backtest import HORIZONS_D, input_hooks, realtime_design
from barrage.warning.backtest_store import BacktestMissing, latest_backtest
from barrage.warning.launches import LAUNCH_GROUPS, make_launch_model
from barrage.warning.models import MODELS, make_model
from barrage.warning.registration import REGISTRATION
from barrage.warning.stock import StockpileFeatures, refit_cache_dir, store_cache_dir
from barrage.warning.verdict import launch_skill, skill_statement

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
    #: The verdict of the newest stored backtest of this target (``summary["verdict"]``),
    #: the source of the skill statement shown beside the level; None: unmeasured.
    stored_verdict: dict | None = None
    #: The same backtest's launch scores (``summary["launch_crps"]``), the source of the
    #: launch skill shown beside the expected launches; None: unmeasured.
    stored_launch_scores: list[dict] | None = None
    #: SHA-256 of the newest ingested record file, read with ``record`` in one
    #: connection: the hash a logged forecast names (None: not read from a store).
    record_sha256: str | None = None


#: What a log-odds term is, for the terms that are not indicators of their own.
TERM_MEANINGS: dict[str, tuple[str, str]] = {
    "events_30d": ("nights", "target nights in the last 30 nights"),
    "month": ("month", "the calendar month's base rate"),
}


def _term_text(name: str, value: float, pct: float) -> str:
    """'meaning: value unit, Nth percentile' for one log-odds term."""
    ind = INDICATORS.get(name)
    unit, meaning = (ind.unit, ind.meaning) if ind else TERM_MEANINGS.get(name, ("", name))
    if np.isnan(value):
        return f"{meaning}: missing"
    if unit == "0/1":  # a yes/no indicator has no percentile
        return f"{meaning}: {'yes' if value >= 0.5 else 'no'}"
    pct_text = "" if np.isnan(pct) else f", {_ordinal(round(pct))} percentile of its history"
    return f"{meaning}: {value:.3g} {unit}{pct_text}"


def _drivers(model, X_row: pd.DataFrame, percentiles: pd.Series, name: str) -> dict:
    """The primary model's own attribution of its 7-day probability: a base log-odds
    and one additive term per indicator, ``logit p = base + sum(terms)`` exactly (the
    model is linear on the log-odds scale), largest term first."""
    base, terms = model.log_odds_terms(X_row)
    b = float(base[0])
    z = b + sum(float(t[0]) for t in terms.values())
    out = []
    for c, t in terms.items():
        v = float(t[0])
        value = float(X_row[c].iloc[0]) if c in X_row.columns else float("nan")
        if c == "month":
            value = float(X_row.index[0].month)
        pct = float(percentiles.get(c, np.nan))
        direction = "raises" if v > 0 else "lowers"
        out.append(
            {
                "indicator": c,
                "value": None if np.isnan(value) else value,
                "percentile": None if np.isnan(pct) else pct,
                "log_odds": v,
                "effect": v,
                "meaning": INDICATORS[c].meaning if c in INDICATORS else TERM_MEANINGS[c][1],
                "sentence": (
                    f"{_term_text(c, value, pct)[0].upper()}{_term_text(c, value, pct)[1:]}; "
                    f"it {direction} the {name} model's {DRIVER_HORIZON_D}-day log-odds by "
                    f"{abs(v):.2f}."
                ),
            }
        )
    out.sort(key=lambda d: -abs(d["log_odds"]))
    return {
        "model": name,
        "horizon_d": DRIVER_HORIZON_D,
        "base_log_odds": b,
        "base_p": float(1 / (1 + np.exp(-b))),
        "log_odds": z,
        "p": float(1 / (1 + np.exp(-z))),
        "rule": "p = 1 / (1 + exp(-(base_log_odds + sum of the drivers' log_odds))): the "
        "drivers are the primary model's exact additive terms on the log-odds scale",
        "terms": out,
    }


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


def _checked_day(rec, as_of: object | None) -> np.datetime64:
    """The as-of day (default: the day after the record's last night), refused before the
    record, too far past it, or with too little history to fit."""
    day = rec.last_night + np.timedelta64(1, "D") if as_of is None else to_day(as_of)
    if day <= rec.first_night:
        raise InputError(
            f"as_of: {day} is before the record starts (first night {rec.first_night})"
        )
    latest = rec.last_night + np.timedelta64(MAX_AHEAD_D, "D")
    if day > latest:
        # the panel runs to the as-of day: 9999-12-31 took past 4 GB
        raise InputError(
            f"as_of: {day} is more than {MAX_AHEAD_D} days after the record's last night "
            f"({rec.last_night}); a forecast so far past the data would rest on none "
            f"(latest allowed: {latest})"
        )
    first_ok = rec.first_night + np.timedelta64(MIN_HISTORY_D + max(HORIZONS_D) + 1, "D")
    if day < first_ok:
        raise InputError(
            f"as_of: {day} leaves too little history to fit a forecast; the first usable date is "
            f"{first_ok}"
        )
    return day


def _staleness(rec, day: np.datetime64) -> tuple[dict | None, list[str]]:
    """Whether the record known on ``day`` is stale (its last night further back than the
    record's own gaps allow), and the warning that says so."""
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
    return stale, warnings


def _expected_launches(Xtr, l_known, train_ok, k: int, X_now) -> dict[str, dict]:
    """Per launch group: the registered launch model's mean and 80% interval at horizon
    ``k``, fitted on the rows whose outcome is known."""
    out: dict[str, dict] = {}
    for g in LAUNCH_GROUPS:
        lk = l_known[g][k].reindex(train_ok)
        lok = lk.notna().to_numpy()
        lname = REGISTRATION.launch_primaries[g]
        nb = make_launch_model(lname, g, k).fit(Xtr[lok], lk.to_numpy()[lok])
        q = nb.predict_quantiles(X_now)[0]
        out[g] = {
            "model": lname,
            "mean": float(nb.predict_mean(X_now)[0]),
            "p10": float(q[0]),
            "p50": float(q[1]),
            "p90": float(q[2]),
        }
    return out


def _fit_horizons(X, panel, target, day: np.datetime64, primary: str):
    """Every model and launch model refitted at each horizon on what was known on
    ``day``: the primary's probabilities, each model's, the expected launches, and the
    primary model at the driver horizon."""
    y_known = outcomes(panel, target, HORIZONS_D)
    l_known = launch_totals(panel, HORIZONS_D)
    X_now = X.iloc[[-1]]
    p: dict[str, float] = {}
    p_by_model: dict[str, dict[str, float]] = {m: {} for m in MODELS}
    expected: dict[str, dict[str, dict[str, float]]] = {g: {} for g in LAUNCH_GROUPS}
    driver_model = None
    for k in HORIZONS_D:
        train = X.index[X.index <= pd.Timestamp(day - np.timedelta64(k + 1, "D"))]
        yk = y_known[k].reindex(train)
        ok = yk.notna().to_numpy()
        Xtr, ytr = X.loc[train[ok]], yk.to_numpy()[ok]
        for name in MODELS:
            model = make_model(name, k).fit(Xtr, ytr)
            pk = float(model.predict_proba(X_now)[0, 1])
            p_by_model[name][str(k)] = pk
            if name == primary:
                p[str(k)] = pk
                if k == DRIVER_HORIZON_D:
                    driver_model = model
        for g, e in _expected_launches(Xtr, l_known, train[ok], k, X_now).items():
            expected[g][str(k)] = e
    return p, p_by_model, expected, driver_model


def _next_strike(panel, target) -> dict:
    """The expected size of the next target night: the median of the last five."""
    ev = np.flatnonzero(event_flags(panel, target))
    frame = panel.frame()
    recent = frame.iloc[ev[-5:]] if ev.size else frame.iloc[:0]
    return {
        "basis": f"median of the last {len(recent)} target nights",
        "missiles": float(recent["missiles"].median()) if len(recent) else None,
        "attack_drones": float(recent["attack_drone"].median()) if len(recent) else None,
        "last_target_night": str(recent.index[-1].date()) if len(recent) else None,
    }


def _indicator_values(X_now, percentiles) -> dict[str, dict]:
    """Each indicator today: its value, percentile in its own history, unit, meaning."""
    return {
        c: {
            "value": None if np.isnan(v) else float(v),
            "percentile": None if np.isnan(percentiles[c]) else float(percentiles[c]),
            "unit": INDICATORS[c].unit,
            "meaning": INDICATORS[c].meaning,
        }
        for c, v in X_now[list(INDICATORS)].iloc[0].items()
    }


def _assess(inputs: AssessInputs, as_of: object | None, *, top_drivers: int) -> dict:
    rec, target = inputs.record, inputs.target
    day = _checked_day(rec, as_of)
    stale, warnings = _staleness(rec, day)
    X = realtime_design(rec, target, day, hooks=input_hooks(inputs))
    panel = rec.panel(day)
    X_now = X.iloc[[-1]]
    primary = REGISTRATION.primary(target.name)
    p, p_by_model, expected, driver_model = _fit_horizons(X, panel, target, day, primary)
    percentiles = percentile_of_last(X[list(INDICATORS)])
    attribution = _drivers(driver_model, X_now, percentiles, primary)
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
        "skill": skill_statement(inputs.stored_verdict, primary),
        "model": primary,
        "driver_model": primary,
        "p_by_model": p_by_model,
        "expected_launches": expected,
        "launch_skill": launch_skill(inputs.stored_launch_scores),
        "expected_next_strike": _next_strike(panel, target),
        "drivers": attribution["terms"][:top_drivers],
        "attribution": attribution,
        "indicators": _indicator_values(X_now, percentiles),
        "stale": stale,
        "warnings": warnings,
    }


def attach_skill(assessment: dict, stored_summary: dict | None) -> dict:
    """The assessment with its skill statements read from ``stored_summary`` (a backtest's
    summary computed after the assessment, as ``barrage run`` does): the level's, from its
    verdict, and the expected launches', from its launch scores."""
    summary = stored_summary or {}
    return {
        **assessment,
        "skill": skill_statement(summary.get("verdict"), assessment["model"]),
        "launch_skill": launch_skill(summary.get("launch_crps")),
    }


def inputs_from_store(
    store, target: str | Target | None = None, weather: object | None = None
) -> AssessInputs:
    """The inputs every warning entry point uses (CLI, web, live updates): the known
    record from ``store`` (a path or an open DuckDB connection), the resolved target and
    the weather (a path, a loaded frame, or None for the default file), and the stockpile
    hook (monthly stockpile refits as known, computed on first use and cached in the
    process and in a folder next to the store file)."""
    tgt = resolve_target(target)
    if hasattr(store, "execute"):
        record, sha = KnownRecord.from_store(store), _newest_sha(store)
        stored = _stored_summary(store, tgt)
        cache_dir = store_cache_dir(store)
    else:  # one connection for the record, its hash and the stored verdict
        with open_store(store) as con:
            record, sha = KnownRecord.from_store(con), _newest_sha(con)
            stored = _stored_summary(con, tgt)
        cache_dir = refit_cache_dir(store)
    if weather is None or not isinstance(weather, pd.DataFrame):
        weather = load_weather(weather if weather is not None else default_weather_path())
    return AssessInputs(
        record=record,
        target=tgt,
        weather=weather,
        stockpile=StockpileFeatures(record, cache_dir=cache_dir),
        stored_verdict=stored.get("verdict"),
        stored_launch_scores=stored.get("launch_crps"),
        record_sha256=sha,
    )


def _stored_summary(con, target: Target) -> dict:
    """The summary of the newest stored backtest of ``target`` (empty when none)."""
    try:
        return latest_backtest(con, target).summary
    except BacktestMissing:
        return {}


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
