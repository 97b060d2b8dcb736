"""Check for speed work on the backtest: the full backtest of both registered targets
(the path bench_backtest.py times) written out, to compare byte for byte before and after
a change that must not move any number.

Writes, per target, the forecasts CSV (as ``barrage backtest --out``), the score summary
JSON (as ``--json``) and the launch forecasts CSV into OUT, prints their SHA-256, and with
``--compare DIR`` exits 1 unless every file is byte-identical to DIR's.

    python benchmarks/backtest_outputs.py OUT [--db FILE] [--compare DIR]

Run both sides the same way, from one store file (``--db``): one profiled run that also
ingested the record in its own process gave other feature-model probabilities than the
plain runs (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from barrage.indicators import (
    Hooks,
    KnownRecord,
    default_weather_path,
    load_weather,
    resolve_target,
)
from barrage.record import open_store
from barrage.warning import StockpileFeatures
from barrage.warning.backtest import run_registered_backtests
from barrage.warning.evaluate import default_plan, forecasts_csv, score_summary
from barrage.warning.registration import REGISTRATION
from bench_backtest import snapshot_store


def write_outputs(db: Path, out: Path) -> None:
    """The backtest of every registered target, as files in ``out``."""
    with open_store(db) as con:
        record = KnownRecord.from_store(con)
    targets = tuple(resolve_target(name) for name in REGISTRATION.targets)
    results = run_registered_backtests(
        record,
        default_plan(record),
        targets,
        Hooks(weather=load_weather(default_weather_path()), stockpile=StockpileFeatures(record)),
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, r in results.items():
        forecasts_csv(r, out / f"{name}.csv")
        r.launches.to_csv(out / f"{name}_launches.csv", float_format="%.17g")
        summary = json.dumps(score_summary(r), sort_keys=True, default=str, indent=1)
        (out / f"{name}.json").write_text(summary)


def digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--compare", type=Path, default=None)
    args = parser.parse_args()
    db = snapshot_store(args.db)
    write_outputs(db, args.out)
    mine = digests(args.out)
    for name, h in mine.items():
        print(f"{h[:16]}  {name}")
    if args.compare is not None:
        theirs = digests(args.compare)
        differ = sorted(n for n in mine.keys() | theirs.keys() if mine.get(n) != theirs.get(n))
        print("byte-identical" if not differ else f"DIFFER: {', '.join(differ)}")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
