"""Benchmark the dashboard's first load with the background warm-up, and the stored
backtest read, against the work they replace (reference runs in this script).

* reference A: the uncached library call behind the warning banner
  (``queries.assessment``: the models refitted on the whole record);
* measured: GET / and GET /api/assessment once the server's start-up warm-up is done;
* reference B: ``barrage backtest`` over 5 weeks of origins (what /api/backtest would
  cost per request without a stored run); measured: GET /api/backtest of the stored run.

Run: ``python benchmarks/bench_web_warm.py [--db FILE]`` (default: a store built from
the shared snapshot in a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    env = os.environ.get("BARRAGE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from barrage.cli.warning import save_backtest_result
    from barrage.record import ingest_record, open_store
    from barrage.warning.assess import inputs_from_store
    from barrage.warning.evaluate import default_plan, run, score_summary
    from barrage.web import Settings, create_app, queries

    tmp = Path(tempfile.mkdtemp(prefix="bench-warm-"))
    db = tmp / "store.duckdb"
    if args.db is not None:
        shutil.copy(args.db, db)
    else:
        ingest_record(_shared() / "attack-record" / "missile_attacks_daily.csv", db)

    with open_store(db) as con:
        t0 = time.perf_counter()
        queries.assessment(con, as_of=None, target=None)
        ref_assess = time.perf_counter() - t0
        inputs = inputs_from_store(con, None, None)
    t0 = time.perf_counter()
    bt = run(inputs, default_plan(inputs.record, start="2025-06-01", end="2025-07-05"))
    summary = score_summary(bt)
    ref_backtest = time.perf_counter() - t0
    save_backtest_result(db, inputs, bt, summary)

    t0 = time.perf_counter()
    with TestClient(create_app(Settings(db=db, warm=True))) as c:
        c.app.state.warmer.join(300)
        warm_s = time.perf_counter() - t0
        times = {}
        for path in ("/", "/api/assessment", "/api/backtest"):
            c.get(path)
            n, t1 = 20, time.perf_counter()
            for _ in range(n):
                assert c.get(path).status_code == 200
            times[path] = (time.perf_counter() - t1) / n
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"reference A: uncached assessment         {ref_assess:8.2f} s")
    print(f"warm-up at start-up (in the background)  {warm_s:8.2f} s")
    for path in ("/", "/api/assessment"):
        print(
            f"GET {path:<16} after warm-up      {times[path] * 1e3:8.1f} ms  "
            f"ratio to A: 1/{ref_assess / times[path]:,.0f}"
        )
    print(f"reference B: backtest, 5 weeks, 3 horizons {ref_backtest:6.2f} s")
    print(
        f"GET /api/backtest (stored run)           {times['/api/backtest'] * 1e3:8.1f} ms  "
        f"ratio to B: 1/{ref_backtest / times['/api/backtest']:,.0f}"
    )


if __name__ == "__main__":
    main()
