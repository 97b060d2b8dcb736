"""Benchmark: the full backtest of both registered targets (3 horizons, all models,
weekly refits, whole snapshot, the monthly stockpile refits included).

Prints the wall time and its ratio to a named reference run in the same script: one
climatology-only backtest of the headline target over the same origins (the cost of the
loop and the data, with the cheapest model). Target: both targets under 120 s on 2 cores.

    python benchmarks/bench_backtest.py [--db FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from barrage.indicators import (
    Hooks,
    KnownRecord,
    default_weather_path,
    load_weather,
    resolve_target,
)
from barrage.record import ingest_record, open_store
from barrage.warning import StockpileFeatures, run_backtest
from barrage.warning.backtest import run_registered_backtests
from barrage.warning.evaluate import default_plan
from barrage.warning.registration import REGISTRATION


def snapshot_store(db: Path | None) -> Path:
    """``db``, or a new store of the shared snapshot in a temporary folder when None."""
    if db is not None:
        return db
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    db = Path(tempfile.mkdtemp()) / "snapshot.duckdb"
    ingest_record(shared / "attack-record" / "missile_attacks_daily.csv", db)
    return db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    db = snapshot_store(args.db)
    with open_store(db) as con:
        record = KnownRecord.from_store(con)
    weather = load_weather(default_weather_path())
    plan = default_plan(record)
    headline = resolve_target(REGISTRATION.headline_target)

    t0 = time.perf_counter()
    run_backtest(
        record, replace(plan, models=("climatology",)), headline, hooks=Hooks(weather=weather)
    )
    ref_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    stockpile = StockpileFeatures(record)  # fresh: its monthly refits are timed here
    targets = tuple(resolve_target(name) for name in REGISTRATION.targets)
    results = run_registered_backtests(
        record, plan, targets, Hooks(weather=weather, stockpile=stockpile)
    )  # the launch forecasts (target-independent) once
    n = sum(len(r.forecasts) for r in results.values())
    full_s = time.perf_counter() - t0
    print(
        f"targets {', '.join(REGISTRATION.targets)}; origins {plan.start}..{plan.end}, "
        f"horizons {plan.horizons}, models {len(plan.models)}, forecasts {n:,}"
    )
    print(f"reference (climatology only, one target): {ref_s:.1f} s")
    print(
        f"full backtest, both targets: {full_s:.1f} s  (ratio to reference "
        f"{full_s / ref_s:.2f}x; budget 120 s: {'OK' if full_s < 120 else 'OVER'})"
    )


if __name__ == "__main__":
    main()
