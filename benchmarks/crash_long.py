"""Long kill -9 run: many kills of ``barrage update`` over its whole length, of
forecast-log appends and of a long simulation (tests/test_hardening_crash.py with more
repeats and later kill times than CI).

Run: ``python benchmarks/crash_long.py [--repeats 40] [--max-kill-s 60]``
(an update takes about 55 s here, so kill times up to 60 s cover fetch, ingest,
assessment and the log append). Exit code is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--max-kill-s", type=float, default=60.0)
    args = ap.parse_args()
    env = {
        **os.environ,
        "BARRAGE_KILL_REPEATS": str(args.repeats),
        "BARRAGE_KILL_MAX_S": str(args.max_kill_s),
    }
    t0 = time.perf_counter()
    code = subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-s",
         str(REPO / "tests" / "test_hardening_crash.py")],
        env=env,
    )  # fmt: skip
    print(f"{args.repeats} kills per target, kill times up to {args.max_kill_s:g} s: "
          f"{'held' if code == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    sys.exit(code)


if __name__ == "__main__":
    main()
