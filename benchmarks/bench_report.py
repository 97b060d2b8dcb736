"""`barrage report` on an unchanged store against the same command refitting the backtest.

Reference: the first `barrage report` on a store with no reusable backtest (it refits
every model weekly over the record and stores the run). Measured: the same command again,
with the record and the code unchanged (it reads the stored run). Both are the real
command in a fresh process, start-up included; wall time and the CPU time of the child
process (user + system, which a busy machine does not inflate the way it inflates wall
time). The budget: under 10 s for the rerun.

    python benchmarks/bench_report.py              # ingests the snapshot into a temp store
    python benchmarks/bench_report.py --db FILE    # or a copy of this store
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 10.0


def _shared() -> Path:
    env = os.environ.get("BARRAGE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _timed(args: list[str]) -> tuple[float, float]:
    """Wall and child CPU seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="reruns timed (best kept)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    db = tmp / "store.duckdb"
    barrage = [sys.executable, "-c", "from barrage.cli import main; main()"]
    cmd = [*barrage, "report", "--db", str(db)]
    if args.db is not None:
        shutil.copy(args.db, db)
    else:
        csv = _shared() / "attack-record" / "missile_attacks_daily.csv"
        subprocess.run([*barrage, "ingest", str(csv), "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    cmd += ["--out", str(tmp / "report.html")]
    try:
        with os.popen("uptime") as f:
            print(f"load before: {f.read().strip()}")
        ref_wall, ref_cpu = _timed(cmd)
        runs = [_timed(cmd) for _ in range(args.repeats)]
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        with os.popen("uptime") as f:
            print(f"load after: {f.read().strip()}")
        print(f"reference, refit and store:  {ref_wall:7.1f} s wall, {ref_cpu:6.1f} s CPU")
        print(f"rerun, unchanged store:      {wall:7.1f} s wall, {cpu:6.1f} s CPU (best of "
              f"{args.repeats}; all walls {', '.join(f'{r[0]:.1f}' for r in runs)})")  # fmt: skip
        print(f"speed-up: {ref_wall / wall:.1f}x wall, {ref_cpu / cpu:.1f}x CPU")
        verdict = "met" if wall < BUDGET_S else "MISSED"
        print(f"budget {BUDGET_S:.0f} s for the rerun: {verdict} ({wall:.1f} s wall)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
