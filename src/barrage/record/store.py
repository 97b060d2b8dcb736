"""The embedded DuckDB store: schema, connections and the single-writer rule.

DuckDB lets one process open a file for writing. A second writer waits up to
``lock_timeout_s`` and then gets :class:`~barrage.errors.StoreBusyError`; readers open
read-only and do not block each other.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from barrage.errors import InputError, StoreBusyError, listed
from barrage.record.schema import DERIVED_COLUMNS, RECORD_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

DEFAULT_DB = Path("barrage.duckdb")
SCHEMA_VERSION = 1


def _attacks_ddl() -> str:
    # No PRIMARY KEY index: maintaining it costs a third of a large ingest. The key
    # (time_start, time_end, model, source, key_seq) is unique by construction (key_seq
    # numbers a file's rows that share the rest; new rows enter through an anti-join on
    # it), and the tests check it.
    cols = [f'"{c.store_name}" {c.store_type}' for c in RECORD_COLUMNS]
    cols += [f'"{name}" {typ}' for name, typ, _, _ in DERIVED_COLUMNS]
    return "CREATE TABLE IF NOT EXISTS attacks (\n  " + ",\n  ".join(cols) + "\n)"


#: The one de-duplication rule: a regional (PvK...) row ``a`` repeats a national row ``n``
#: of the same night and model over an overlapping window, with a count it covers.
REPEATS_NATIONAL = """n.source_level = 'national' AND n.night = a.night AND n.model = a.model
    AND n.time_start <= a.time_end AND a.time_start <= n.time_end
    AND coalesce(a.launched, 0) <= coalesce(n.launched, 0)"""


def flag_duplicates_sql(rows: str) -> str:
    """SELECT over ``rows`` (a table or CTE of attack rows) adding ``is_regional_duplicate``."""
    return (
        "SELECT a.*, (a.source_level = 'regional' AND EXISTS ("
        f"SELECT 1 FROM {rows} n WHERE {REPEATS_NATIONAL})) AS is_regional_duplicate "
        f"FROM {rows} a"
    )


def night_totals_sql(flagged_rows: str) -> str:
    """Night x class x family totals over flagged rows, regional duplicates left out."""
    return (
        "SELECT night, weapon_class, family, sum(coalesce(launched, 0)) AS launched, "
        "sum(coalesce(destroyed, 0)) AS destroyed, "
        "sum(coalesce(not_reach_goal, 0)) AS not_reach_goal, count(*) AS rows "
        f"FROM {flagged_rows} WHERE NOT is_regional_duplicate GROUP BY ALL"
    )


SCHEMA_SQL = [
    _attacks_ddl(),
    """CREATE TABLE IF NOT EXISTS quarantine (
        source_file_sha256 VARCHAR, source_file VARCHAR, record_number BIGINT, line BIGINT,
        reason VARCHAR, raw_row VARCHAR, ingested_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS ingests (
        ingest_id BIGINT, source_file VARCHAR, source_file_sha256 VARCHAR,
        rows_read BIGINT, rows_added BIGINT, rows_updated BIGINT, rows_unchanged BIGINT,
        rows_quarantined BIGINT, unknown_models VARCHAR, started_at TIMESTAMP,
        finished_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    # Regional duplicates are flagged and left out of every total (docs/record.md).
    f"CREATE OR REPLACE VIEW attack_rows AS {flag_duplicates_sql('attacks')}",
    f"CREATE OR REPLACE VIEW night_totals AS {night_totals_sql('attack_rows')}",
]


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def connect(
    db: str | os.PathLike[str] = DEFAULT_DB,
    *,
    read_only: bool = False,
    lock_timeout_s: float = 30.0,
) -> duckdb.DuckDBPyConnection:
    """Open the store, creating the schema for a writer; wait for a busy writer lock."""
    import duckdb

    path = Path(db)
    if read_only and not path.exists():
        raise InputError(
            f"no store at {path}: run `barrage ingest PATH --db {path}` first "
            "(or `barrage run` to ingest the default record)"
        )
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise InputError(f"cannot open store {path}: {exc}") from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"store {path} is locked by another barrage process (waited "
                    f"{lock_timeout_s:g} s); try again when it has finished"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise InputError(
                f"cannot open store {path}: not a barrage DuckDB file ({exc})"
            ) from None
    _check_attacks_columns(con, path)
    if not read_only:
        for statement in SCHEMA_SQL:
            con.execute(statement)
        con.execute(
            "INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
    else:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "attacks" not in tables:
            con.close()
            raise InputError(
                f"store {path} holds no attack record: run `barrage ingest PATH --db {path}`"
            )
    return con


def _check_attacks_columns(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A DuckDB file whose ``attacks`` table is not barrage's is refused before any read
    or write (another tool's table was a DuckDB binder traceback in every command)."""
    found = {
        r[0]
        for r in con.execute(
            # duckdb_columns(), not information_schema (a view over it): this runs on
            # every open, each API request's included, at a third of the cost
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'attacks'"
        ).fetchall()
    }
    if not found:
        return
    expected = [c.store_name for c in RECORD_COLUMNS] + [name for name, *_ in DERIVED_COLUMNS]
    missing = [c for c in expected if c not in found]
    if missing:
        con.close()
        raise InputError(
            f"store {path}: its attacks table lacks column(s) {listed(missing, most=5)}; "
            "expected a store made by `barrage ingest` (nothing was changed)"
        )


@contextmanager
def open_store(
    db: str | os.PathLike[str] = DEFAULT_DB, *, read_only: bool = True, lock_timeout_s: float = 30.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager around :func:`connect` that always closes."""
    con = connect(db, read_only=read_only, lock_timeout_s=lock_timeout_s)
    try:
        yield con
    finally:
        con.close()
