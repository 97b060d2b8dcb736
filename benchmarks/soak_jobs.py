"""Hostile-job soak: N random salvo job bodies within the API's stated limits, sent one
at a time to one `barrage serve` on 127.0.0.1 (issue 22).

Pass: every job finishes (done, failed, timed out) or is refused (4xx), none 5xx; the
server's resident memory stays under 1 GB (peak, VmHWM) and ends within 300 MB of where
it began. The reference is the server's own starting RSS. Loopback only; bounded by the
job count and each job's time limit (BARRAGE_JOB_TIMEOUT_S).

    python benchmarks/soak_jobs.py --jobs 200 --db barrage.duckdb
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _soak import soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--job-timeout-s", type=float, default=60.0)
    parser.add_argument("--db", type=Path, required=True, help="a store (copied, not changed)")
    parser.add_argument("--out", type=Path, help="write every job's line here (JSON lines)")
    args = parser.parse_args()
    lines = args.out.open("w") if args.out else None

    def log(job: dict) -> None:
        print(json.dumps(job), flush=True)
        if lines:
            lines.write(json.dumps(job) + "\n")
            lines.flush()

    with tempfile.TemporaryDirectory(prefix="barrage-soak-") as tmp:
        db = Path(tmp) / "soak.duckdb"
        shutil.copy(args.db, db)
        result = soak(db, args.jobs, seed=args.seed, job_timeout_s=args.job_timeout_s, log=log)
    s = result.summary()
    s["pass"] = (
        s["server_errors"] == 0
        and "unfinished" not in s["outcomes"]
        and s["server_peak_rss_mb"] < 1024
        and s["rss_growth_mb"] < 300
    )
    print(json.dumps(s))
    return 0 if s["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
