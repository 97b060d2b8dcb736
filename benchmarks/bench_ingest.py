"""Ingest benchmark: barrage's full ingest of a 1,000,000-row record against DuckDB's own
``read_csv`` of the same file into a plain table, in the same process.

Also times the snapshot ingest and ``barrage --help`` start-up (against ``python -c
pass``), the issue's other two speed points.

    python benchmarks/bench_ingest.py [--rows 1000000] [--record PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from barrage.record import ingest_record

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RECORD = REPO.parent / "shared" / "data" / "attack-record" / "missile_attacks_daily.csv"


def _shifted(column: str, shift: str) -> str:
    """SQL: a record time moved by ``shift``, keeping date-only values date-only."""
    parsed = f"strptime(trim({column}), ['%Y-%m-%d %H:%M', '%Y-%m-%d'])"
    return (
        f"CASE WHEN length(trim({column})) <= 10 THEN strftime({parsed} + {shift}, '%Y-%m-%d') "
        f"ELSE strftime({parsed} + {shift}, '%Y-%m-%d %H:%M') END"
    )


def make_big_record(snapshot: Path, out: Path, rows: int) -> None:
    """The snapshot repeated with shifted dates and sources until it has ``rows`` rows."""
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_csv('{snapshot}', header=true)").fetchone()[0]
    copies = -(-rows // n)
    shift = "INTERVAL (k * 7) DAY"  # copies overlap in time; sources keep keys apart
    con.execute(
        f"""COPY (
          SELECT * REPLACE (
            {_shifted("time_start", shift)} AS time_start,
            {_shifted("time_end", shift)} AS time_end,
            source || '-' || k::VARCHAR AS source)
          FROM read_csv('{snapshot}', all_varchar=true, header=true), range({copies}) t(k)
          LIMIT {rows}
        ) TO '{out}' (HEADER, DELIMITER ',')"""
    )


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--record", type=Path, default=DEFAULT_RECORD)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.record.is_file():
        sys.exit(f"record not found: {args.record}")

    tmp = Path(tempfile.mkdtemp(prefix="barrage-bench-"))
    try:
        big = tmp / "big.csv"
        make_big_record(args.record, big, args.rows)
        size_mb = big.stat().st_size / 1e6

        def duckdb_plain() -> None:
            db = tmp / "plain.duckdb"
            db.unlink(missing_ok=True)
            with duckdb.connect(str(db)) as con:
                con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{big}', header=true)")

        def barrage_full() -> None:
            db = tmp / "barrage.duckdb"
            db.unlink(missing_ok=True)
            report = ingest_record(big, db)
            assert report.rows_read == report.rows_added == args.rows, report

        def barrage_snapshot() -> None:
            db = tmp / "snap.duckdb"
            db.unlink(missing_ok=True)
            ingest_record(args.record, db)

        t_ref = best_of(duckdb_plain, args.repeats)
        t_ours = best_of(barrage_full, args.repeats)
        t_snap = best_of(barrage_snapshot, args.repeats)

        exe = shutil.which("barrage") or os.path.join(os.path.dirname(sys.executable), "barrage")
        t_help = best_of(
            lambda: subprocess.run([exe, "--help"], capture_output=True, check=True), 5
        )
        t_python = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 5)

        print(f"record: {args.rows:,} rows, {size_mb:.0f} MB")
        print(f"duckdb read_csv into a plain table (reference): {t_ref:.2f} s")
        print(f"barrage ingest (parse, check, quarantine, upsert): {t_ours:.2f} s")
        print(f"ratio barrage / duckdb read_csv: {t_ours / t_ref:.2f}x (target <= 3x)")
        print(f"snapshot ingest (2,946 rows, fresh store): {t_snap:.3f} s (target < 1 s)")
        print(
            f"`barrage --help`: {t_help:.3f} s; `python -c pass`: {t_python:.3f} s; "
            f"ratio {t_help / t_python:.1f}x (target < 0.5 s)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
