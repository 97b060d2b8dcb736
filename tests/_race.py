"""`update` racing `ingest`: the record files and the check that every forecast-log entry
names the record its forecast was computed from (tests/test_hardening_race.py and
benchmarks/race_update_ingest.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb


def split_record(record_csv: Path, folder: Path, *, held_back_d: int = 6) -> tuple[Path, ...]:
    """Three nested files of the record: ``base`` without the last ``held_back_d`` days
    of rows, ``update`` with half of them back, ``ingest`` with all (the newest record)."""
    lines = record_csv.read_bytes().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    days = sorted({r[:10].decode() for r in rows})
    cut_base, cut_update = days[-held_back_d], days[-(held_back_d // 2)]
    out = []
    for name, cut in (("base", cut_base), ("update", cut_update), ("ingest", "9999")):
        path = folder / f"{name}.csv"
        path.write_bytes(header + b"".join(r for r in rows if r[:10].decode() < cut))
        out.append(path)
    return tuple(out)


def mismatched_entries(db: Path) -> tuple[int, list[dict]]:
    """(log entries, those whose as-of is not the day after the last night of the store
    as it stood after the ingest whose hash the entry names).

    Rows are only ever added here, and each row keeps when it first arrived, so the store
    as of ingest ``k`` is the rows that arrived by ``k``'s start.
    """
    with duckdb.connect(str(db), read_only=True) as con:
        entries = con.execute(
            "SELECT seq, as_of, record_sha256 FROM forecast_log ORDER BY seq"
        ).fetchall()
        bad = []
        for seq, as_of, sha in entries:
            started = con.execute(
                "SELECT max(started_at) FROM ingests WHERE source_file_sha256 = ?", [sha]
            ).fetchone()[0]
            last = con.execute(
                "SELECT max(night) FROM attacks WHERE first_ingested_at <= ?", [started]
            ).fetchone()[0]
            expected = None if last is None else last + dt.timedelta(days=1)
            if as_of != expected:
                bad.append({"seq": seq, "as_of": str(as_of), "expected": str(expected)})
    return len(entries), bad
