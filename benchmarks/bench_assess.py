"""One assessment on the real record: cold (every monthly stockpile refit computed) against
warm (refits read from the store's on-disk cache), and then one at another date with the
real-time design kept in the process, with the answers compared exactly.

    python benchmarks/bench_assess.py [--db STORE]

Reference runs in this script: the cold assessment (empty in-process and disk caches),
and for the kept design the same date assessed with the design computed afresh. Without
--db the real record (shared data beside the repo) is ingested into a temporary store
first.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _kept_design(db: Path, as_of: str = "2024-06-15") -> bool:
    """An assessment at ``as_of`` with the design kept from the assessments above, against
    the same with the design computed afresh (the reference); True when equal."""
    from barrage.warning import backtest
    from barrage.warning.assess import assess, inputs_from_store

    kept, kept_wall, kept_cpu = _timed(lambda: assess(inputs_from_store(db), as_of))
    backtest._DESIGNS.clear()
    fresh, fresh_wall, fresh_cpu = _timed(lambda: assess(inputs_from_store(db), as_of))
    same = json.dumps(kept, sort_keys=True) == json.dumps(fresh, sort_keys=True)
    print(f"reference (as of {as_of}, design computed): {fresh_wall:6.2f} s wall, "
          f"{fresh_cpu:6.2f} s CPU")  # fmt: skip
    print(f"as of {as_of}, design kept in the process: {kept_wall:6.2f} s wall, "
          f"{kept_cpu:6.2f} s CPU")  # fmt: skip
    print(f"ratio computed/kept: {fresh_wall / kept_wall:.1f}x wall; identical answers: {same}")
    return same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=None)
    args = ap.parse_args()

    from barrage.record import ingest_record
    from barrage.warning import backtest, stock
    from barrage.warning.assess import assess, inputs_from_store

    work = Path(tempfile.mkdtemp(prefix="bench-assess-"))
    try:
        db = work / "record.duckdb"
        if args.db is None:
            csv = REPO.parent / "shared" / "data" / "attack-record" / "missile_attacks_daily.csv"
            ingest_record(csv, db)
        else:
            shutil.copy(args.db, db)
        cache = stock.refit_cache_dir(db)
        shutil.rmtree(cache, ignore_errors=True)

        stock._CACHE.clear()
        cold, cold_wall, cold_cpu = _timed(lambda: assess(inputs_from_store(db)))
        n_files = len(list(cache.glob("*.json")))
        stock._CACHE.clear()  # a new process: only the disk cache is left
        backtest._DESIGNS.clear()
        warm, warm_wall, warm_cpu = _timed(lambda: assess(inputs_from_store(db)))
        same = json.dumps(cold, sort_keys=True) == json.dumps(warm, sort_keys=True)
        print(f"reference (cold: {n_files} refits computed): {cold_wall:6.2f} s wall, "
              f"{cold_cpu:6.2f} s CPU")  # fmt: skip
        print(f"warm (refits read from {cache.name}/):  {warm_wall:6.2f} s wall, "
              f"{warm_cpu:6.2f} s CPU")  # fmt: skip
        print(f"ratio cold/warm: {cold_wall / warm_wall:.1f}x wall, {cold_cpu / warm_cpu:.1f}x CPU")
        print(f"identical answers: {same}")
        same = same and _kept_design(db)
        if not same:
            raise SystemExit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
