"""`barrage update` racing `barrage ingest`, N times: does every forecast-log entry name
the record its forecast was computed from? (issue 22, defect 5)

Each race starts from a fresh copy of a store holding the record without its last 6
days: `barrage update --url file://update.csv` (3 days back) starts, and after a random
delay in [0, half the update's own duration] `barrage ingest ingest.csv` (all 6 days)
starts; each race says whether the ingest started while the update ran.
After both exit, every log entry's as-of must be the day after the last night of the
store as it stood after the ingest whose hash the entry names (tests/_race.py).

The reference is the update run alone (its duration is the delay range, and the ratio
race/alone says what the wait for the lock costs). Loopback-free, local files only.

    python benchmarks/race_update_ingest.py --races 20
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _race import mismatched_entries, split_record  # noqa: E402

BARRAGE = str(Path(sys.executable).with_name("barrage"))


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _update(db: Path, work: Path, url: str) -> list[str]:
    return [
        BARRAGE,
        "update",
        "--db",
        str(db),
        "--to",
        str(work / "data"),
        "--url",
        url,
        "--wait",
        "600",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--record",
        type=Path,
        default=REPO.parent / "shared" / "data" / "attack-record" / "missile_attacks_daily.csv",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="barrage-race-") as tmp:
        tmp = Path(tmp)
        base, update_csv, newest = split_record(args.record, tmp)
        seed_db = tmp / "seed.duckdb"
        subprocess.run([BARRAGE, "ingest", str(base), "--db", str(seed_db)], check=True,
                       capture_output=True)  # fmt: skip
        # the reference: one update alone
        work = tmp / "alone"
        work.mkdir()
        shutil.copy(seed_db, work / "s.duckdb")
        alone = subprocess.run(_update(work / "s.duckdb", work, update_csv.as_uri()),
                               capture_output=True, text=True, timeout=3600)  # fmt: skip
        if alone.returncode != 0:
            print(alone.stderr, file=sys.stderr)
            return 1
        # again with the stockpile refits cached, as every race runs
        warm = tmp / "warm"
        warm.mkdir()
        shutil.copy(seed_db, warm / "s.duckdb")
        shutil.copytree(work / "s.duckdb.cache", warm / "s.duckdb.cache")
        t0 = time.perf_counter()
        subprocess.run(_update(warm / "s.duckdb", warm, update_csv.as_uri()),
                       capture_output=True, text=True, timeout=3600, check=True)  # fmt: skip
        alone_s = time.perf_counter() - t0
        print(json.dumps({"update_alone_warm_s": round(alone_s, 1)}), flush=True)
        races = []
        for i in range(args.races):
            work = tmp / f"race{i}"
            work.mkdir()
            db = work / "s.duckdb"
            shutil.copy(seed_db, db)
            # the alone run's stockpile refits: each race then costs an assess, not a refit
            warm = work.parent / "alone" / "s.duckdb.cache"
            if warm.is_dir():
                shutil.copytree(warm, work / "s.duckdb.cache")
            delay = rng.uniform(0, alone_s / 2)
            t0 = time.perf_counter()
            upd = _start(_update(db, work, update_csv.as_uri()))
            ended: list[float] = []
            waiter = threading.Thread(
                target=lambda p=upd, e=ended: (
                    p.communicate(timeout=1800),
                    e.append(time.perf_counter()),
                )
            )
            waiter.start()
            time.sleep(delay)
            ingest_start = time.perf_counter()
            ing = subprocess.run([BARRAGE, "ingest", str(newest), "--db", str(db), "--wait", "1800"],
                                 capture_output=True, text=True, timeout=1800)  # fmt: skip
            waiter.join()
            total_s = time.perf_counter() - t0
            entries, bad = mismatched_entries(db)
            races.append(
                {
                    "race": i,
                    "ingest_delay_s": round(delay, 2),
                    "update_s": round(ended[0] - t0, 2),
                    "ingest_started_during_update": ingest_start < ended[0],
                    "update_rc": upd.returncode,
                    "ingest_rc": ing.returncode,
                    "log_entries": entries,
                    "mismatched": bad,
                    "race_s": round(total_s, 1),
                }
            )
            print(json.dumps(races[-1]), flush=True)
    ok = all(r["update_rc"] == 0 and r["ingest_rc"] == 0 and not r["mismatched"] for r in races)
    summary = {
        "races": len(races),
        "update_alone_s": round(alone_s, 1),
        "all_exit_0": all(r["update_rc"] == r["ingest_rc"] == 0 for r in races),
        "ingests_started_during_update": sum(r["ingest_started_during_update"] for r in races),
        "entries_checked": sum(r["log_entries"] for r in races),
        "mismatched_entries": sum(len(r["mismatched"]) for r in races),
        "mean_race_over_alone": round(sum(r["race_s"] for r in races) / len(races) / alone_s, 2),
        "pass": ok,
    }
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
