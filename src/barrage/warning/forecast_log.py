"""The live forecast log: every issued assessment, append-only and tamper-evident.

Backtests can flatter; the forecasts that count are those issued before the outcome was
known. Each logged forecast keeps when it was issued, its as-of date, target,
probabilities, model version and the SHA-256 of the record it used. Entries form a hash
chain (each entry's hash covers the previous one), so a forecast rewritten or deleted in
the store is detected: the log then refuses to be read or appended to until repaired.
The library offers no way to edit an entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from barrage import __version__
from barrage.errors import BarrageError, InputError
from barrage.indicators import to_day
from barrage.warning.models import PRIMARY_MODEL

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from barrage.indicators import Target

LOG_DDL = """CREATE TABLE IF NOT EXISTS forecast_log (
    seq BIGINT, issued_at TIMESTAMP, as_of DATE, target VARCHAR, model_version VARCHAR,
    record_sha256 VARCHAR, p_json VARCHAR, level VARCHAR, payload_json VARCHAR,
    prev_hash VARCHAR, entry_hash VARCHAR)"""
GENESIS = "0" * 64
_FIELDS = (
    "seq",
    "issued_at",
    "as_of",
    "target",
    "model_version",
    "record_sha256",
    "p_json",
    "level",
    "payload_json",
)


class ForecastLogError(BarrageError):
    """The forecast log was altered outside barrage (exit code 5)."""

    exit_code = 5


@dataclass(frozen=True)
class LoggedForecast:
    seq: int
    issued_at: datetime
    entry_hash: str


def _entry_hash(prev_hash: str, values: dict[str, Any]) -> str:
    canonical = json.dumps([prev_hash, *[str(values[k]) for k in _FIELDS]], separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _has_log(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store has a forecast log yet (none before the first entry)."""
    tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return "forecast_log" in {r[0] for r in tables}


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LOG_DDL)


def _rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [*_FIELDS, "prev_hash", "entry_hash"]
    rows = con.execute(f"SELECT {', '.join(cols)} FROM forecast_log ORDER BY seq").fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


def verify_log(con: duckdb.DuckDBPyConnection) -> int:
    """Check the whole chain; return the number of entries or raise ForecastLogError."""
    if not _has_log(con):
        return 0
    prev = GENESIS
    for i, row in enumerate(_rows(con), start=1):
        if row["seq"] != i:
            raise ForecastLogError(
                f"forecast log: entry {i} is missing (found seq {row['seq']}): an entry was deleted"
            )
        if row["prev_hash"] != prev or _entry_hash(prev, row) != row["entry_hash"]:
            raise ForecastLogError(
                f"forecast log: entry {i} (issued {row['issued_at']}) was "
                "altered after it was written; the log refuses to continue"
            )
        prev = row["entry_hash"]
    return i if prev != GENESIS else 0


def append_forecast(
    con: duckdb.DuckDBPyConnection,
    assessment: dict[str, Any],
    *,
    model_version: str,
    record_sha256: str,
    issued_at: datetime | None = None,
) -> LoggedForecast:
    """Append one assessment (the dict of ``barrage assess --json``) in its own transaction."""
    ensure_log(con)
    con.execute("BEGIN TRANSACTION")
    try:
        n = verify_log(con)
        last = con.execute("SELECT entry_hash FROM forecast_log WHERE seq = ?", [n]).fetchone()
        prev = last[0] if last else GENESIS
        values = {
            "seq": n + 1,
            "issued_at": (issued_at or datetime.now(UTC)).replace(tzinfo=None, microsecond=0),
            "as_of": datetime.fromisoformat(str(assessment["as_of"])[:10]).date(),
            "target": str(assessment["target"]),
            "model_version": model_version,
            "record_sha256": record_sha256,
            "p_json": json.dumps(assessment["p"], sort_keys=True),
            "level": str(assessment.get("level", "")),
            "payload_json": json.dumps(assessment, sort_keys=True, default=str),
        }
        entry = _entry_hash(prev, values)
        con.execute(
            "INSERT INTO forecast_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*(values[k] for k in _FIELDS), prev, entry],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return LoggedForecast(values["seq"], values["issued_at"], entry)


def read_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The verified log, one row per forecast and horizon: seq, issued_at, as_of, target,
    model_version, record_sha256, level, horizon_days, p."""
    import pandas as pd

    verify_log(con)
    cols = [*_FIELDS[:6], "level", "horizon_days", "p"]
    if not _has_log(con):
        return pd.DataFrame(columns=cols)
    out = []
    for row in _rows(con):
        for horizon, p in json.loads(row["p_json"]).items():
            out.append(
                [
                    row["seq"],
                    row["issued_at"],
                    row["as_of"],
                    row["target"],
                    row["model_version"],
                    row["record_sha256"],
                    row["level"],
                    int(horizon),
                    float(p),
                ]
            )
    return pd.DataFrame(out, columns=cols)


# --- the identity of a logged forecast (shared by the live track and the backtest store) ---


def model_version() -> str:
    """The version string stored with every logged forecast (one place)."""
    return f"barrage {__version__} / {PRIMARY_MODEL}"


def target_key(target: Target) -> str:
    """How a target is written in the log: a built-in name, or the expression."""
    return target.expression if target.name == "custom" else target.name


def record_sha256(con: duckdb.DuckDBPyConnection) -> str:
    """SHA-256 of the record file that brought the store to its state (newest ingest)."""
    row = con.execute(
        "SELECT source_file_sha256 FROM ingests ORDER BY ingest_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise InputError("the store has no ingest yet: nothing to log a forecast against")
    return str(row[0])


# --- logging an assessment, once ---


def _newest_sha(con: duckdb.DuckDBPyConnection) -> str:
    """:func:`record_sha256` (log_assessment's parameter of that name shadows it)."""
    return record_sha256(con)


@dataclass(frozen=True)
class LogResult:
    """Where :func:`log_assessment` put a forecast."""

    seq: int
    entry_hash: str
    logged: bool  # False: the same forecast was already in the log


def log_assessment(
    con: duckdb.DuckDBPyConnection,
    assessment: dict[str, Any],
    target: Target,
    *,
    issued_at: datetime | None = None,
    record_sha256: str | None = None,
) -> LogResult:
    """Append ``assessment`` to the store's forecast log, once.

    ``record_sha256`` is the hash read with the record the assessment was computed from
    (:attr:`AssessInputs.record_sha256`); read here only when not given, which is right
    only when no writer can have run since the assessment read the store.

    A forecast with the same as-of, target, model version and record hash is not logged
    twice (a re-run update with no news adds nothing); a corrected record gives a new
    hash and so a new entry, and the scorecard counts the first one issued.
    """
    version = model_version()
    sha = record_sha256 or _newest_sha(con)
    entry = {**assessment, "target": target_key(target)}
    if _has_log(con):
        read_log(con)  # verifies the chain first: a tampered log refuses
        hit = con.execute(
            "SELECT seq, entry_hash FROM forecast_log WHERE as_of = ? AND target = ? "
            "AND model_version = ? AND record_sha256 = ? ORDER BY seq LIMIT 1",
            [date.fromisoformat(str(assessment["as_of"])[:10]), entry["target"], version, sha],
        ).fetchone()
        if hit is not None:
            return LogResult(int(hit[0]), str(hit[1]), False)
    logged = append_forecast(
        con, entry, model_version=version, record_sha256=sha, issued_at=issued_at
    )
    return LogResult(logged.seq, logged.entry_hash, True)


def logged_payload(
    con: duckdb.DuckDBPyConnection, as_of: object, target: Target, sha: str
) -> dict | None:
    """The assessment already logged for this as-of, target, model version and record
    (None when there is none): an update with no news reuses it instead of refitting."""
    if not _has_log(con):
        return None
    read_log(con)  # a tampered log refuses here, before any work
    hit = con.execute(
        "SELECT payload_json FROM forecast_log WHERE as_of = ? AND target = ? "
        "AND model_version = ? AND record_sha256 = ? ORDER BY seq LIMIT 1",
        [to_day(as_of).astype(date), target_key(target), model_version(), sha],
    ).fetchone()
    if hit is None:
        return None
    payload = json.loads(hit[0])
    payload["target"] = {"name": target.name, "expression": target.expression}
    return payload
