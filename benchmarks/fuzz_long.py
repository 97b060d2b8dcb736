"""Long fuzz run of the record parser and the scenario loaders; refreshes the corpus.

Runs tests/test_hardening_fuzz.py with ``--examples`` hypothesis examples per target
(CI runs 60) and keeps one input per distinct outcome (each error kind, each set of
quarantine reasons) in ``--corpus`` (default: tests/fuzz_corpus, replayed by every test
run). Prints the examples run, the outcome kinds found and the wall time; exit code is
pytest's (non-zero if any input broke a contract).

Run: ``python benchmarks/fuzz_long.py [--examples 2000] [--corpus tests/fuzz_corpus]``
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
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--corpus", type=Path, default=REPO / "tests" / "fuzz_corpus")
    args = ap.parse_args()
    env = {
        **os.environ,
        "BARRAGE_FUZZ_EXAMPLES": str(args.examples),
        "BARRAGE_FUZZ_CORPUS_OUT": str(args.corpus.resolve()),
    }
    t0 = time.perf_counter()
    code = subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
         str(REPO / "tests" / "test_hardening_fuzz.py"), "-k", "dict or file or parser"],
        env=env,
    )  # fmt: skip
    kinds = {d.name: len(list(d.iterdir())) for d in sorted(args.corpus.iterdir()) if d.is_dir()}
    print(f"{args.examples} examples per target in {time.perf_counter() - t0:.0f} s; "
          f"corpus files per target: {kinds}")  # fmt: skip
    sys.exit(code)


if __name__ == "__main__":
    main()
