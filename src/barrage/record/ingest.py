"""Ingest: the messy public CSV into the store, atomically, losing nothing.

The whole pipeline runs inside DuckDB (no Python loop per row): the file is read as
text columns, every field is parsed and checked in SQL, rows that cannot be used go to
``quarantine`` with their reason, and the rest are upserted by key in one transaction.
``rows_read == rows_added + rows_updated + rows_unchanged + rows_quarantined`` always.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from barrage.errors import InputError
from barrage.record.schema import RECORD_COLUMNS, REQUIRED_CSV_COLUMNS, WEAPON_COUNT_COLUMNS
from barrage.record.store import DEFAULT_DB, connect
from barrage.record.taxonomy import classify_models

TIME_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
EXPECTED_TIME = "YYYY-MM-DD or YYYY-MM-DD HH:MM"
#: Dates outside this range are not plausible for this record.
PLAUSIBLE_YEARS = (2014, 2100)


@dataclass
class IngestReport:
    """What one ingest did; the counts always add up to ``rows_read``."""

    source_file: str
    source_file_sha256: str
    rows_read: int
    rows_added: int
    rows_updated: int
    rows_unchanged: int
    rows_quarantined: int
    unknown_models: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_and_check(path: Path) -> tuple[bytes, list[str]]:
    """Read the file once: its bytes (for the hash) and its checked header."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not data.strip():
        raise InputError(f"{path}: empty file (expected a CSV with a header row)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); "
            "save the record as UTF-8"
        ) from None
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    header = next(csv.reader(io.StringIO(first_line)))
    header = [h.strip() for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: header repeats column(s) {', '.join(dupes)}")
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)} "
            f"(expected at least: {', '.join(REQUIRED_CSV_COLUMNS)}; found: {', '.join(header[:8])}"
            f"{', ...' if len(header) > 8 else ''})"
        )
    return data, header


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parsed_select(header: list[str], tolerance: float) -> str:
    """SQL that parses and checks every row of ``raw`` (text columns) in one pass."""
    present = set(header)

    def raw(csv_name: str) -> str:
        return f"nullif(trim({_q(csv_name)}), '')" if csv_name in present else "NULL::VARCHAR"

    fmt = "[" + ", ".join(_lit(f) for f in TIME_FORMATS) + "]"
    select: list[str] = ["record_number"]
    reasons: list[str] = []
    for which in ("time_start", "time_end"):
        r = raw(which)
        select.append(f"{r} AS {which}_raw")
        select.append(f"try_strptime({r}, {fmt}) AS {which}_ts")
        select.append(f"(length({r}) <= 10) AS {which}_date_only")
        reasons.append(
            f"CASE WHEN {r} IS NULL THEN '{which}: empty (expected {EXPECTED_TIME})' "
            f"WHEN try_strptime({r}, {fmt}) IS NULL THEN '{which}: cannot read ''' || {r} || ''' "
            f"(expected {EXPECTED_TIME})' "
            f"WHEN year(try_strptime({r}, {fmt})) NOT BETWEEN {PLAUSIBLE_YEARS[0]} AND {PLAUSIBLE_YEARS[1]} "
            f"THEN '{which}: implausible date ''' || {r} || '''' END"
        )
    for col in RECORD_COLUMNS:
        name, r = col.store_name, raw(col.csv_name)
        if col.store_type != "DOUBLE":
            if name not in ("time_start", "time_end"):
                select.append(f"{r} AS {_q(name)}")
            continue
        value = f"try_cast({r} AS DOUBLE)"
        clean = f"CASE WHEN isnan({value}) THEN NULL ELSE {value} END"
        select.append(f"{clean} AS {_q(name)}")
        checks = [
            f"WHEN {r} IS NOT NULL AND {value} IS NULL THEN '{name}: expected a number, got ''' || {r} || ''''",
            f"WHEN isinf({value}) THEN '{name}: expected a finite number, got ''' || {r} || ''''",
            f"WHEN {value} < 0 THEN '{name}: negative count ' || {r}",
        ]
        if name in WEAPON_COUNT_COLUMNS:
            checks.append(
                f"WHEN {value} <> floor({value}) THEN '{name}: expected a whole number of weapons, got ' || {r}"
            )
        reasons.append("CASE " + " ".join(checks) + " END")
    reasons.append(f"CASE WHEN {raw('model')} IS NULL THEN 'model: empty (expected a weapon model name)' END")
    launched = f"try_cast({raw('launched')} AS DOUBLE)"
    destroyed = f"try_cast({raw('destroyed')} AS DOUBLE)"
    reasons.append(
        f"CASE WHEN {destroyed} > {launched} + {tolerance!r} THEN 'destroyed: ' || {raw('destroyed')} "
        f"|| ' exceeds launched ' || {raw('launched')} END"
    )
    ts_s = f"try_strptime({raw('time_start')}, {fmt})"
    te_s = f"try_strptime({raw('time_end')}, {fmt})"
    te_adj = f"CASE WHEN length({raw('time_end')}) <= 10 THEN {te_s} + INTERVAL 86399 SECOND ELSE {te_s} END"
    reasons.append(
        f"CASE WHEN {te_adj} < {ts_s} THEN 'time_end: ' || {raw('time_end')} || ' is before time_start ' "
        f"|| {raw('time_start')} END"
    )
    select.append("concat_ws('; ', " + ", ".join(reasons) + ") AS reason")
    content = ", ".join(f"coalesce({raw(c.csv_name)}, chr(0))" for c in RECORD_COLUMNS)
    select.append(f"md5(concat_ws(chr(31), {content})) AS content_hash")
    return "SELECT " + ",\n  ".join(select) + "\nFROM raw"


def ingest_record(
    path: str | os.PathLike[str],
    db: str | os.PathLike[str] = DEFAULT_DB,
    *,
    destroyed_tolerance: float = 0.0,
    lock_timeout_s: float = 30.0,
) -> IngestReport:
    """Ingest one record CSV into the store; idempotent, incremental and atomic.

    Rows are keyed on (time_start, time_end, model, source, key_seq); a key already
    stored with other content is a corrected row and is updated in place, keeping when
    it first arrived. Bad rows go to ``quarantine`` with their reason.
    """
    import duckdb
    import pandas as pd

    path = Path(path)
    data, header = _read_and_check(path)
    sha = file_sha256(data)
    del data
    now = datetime.now(UTC).replace(tzinfo=None)
    con = connect(db, lock_timeout_s=lock_timeout_s)
    try:
        con.execute("BEGIN TRANSACTION")
        columns = "{" + ", ".join(f"{_lit(h)}: 'VARCHAR'" for h in header) + "}"
        try:
            con.execute(
                "CREATE TEMP TABLE raw AS SELECT *, row_number() OVER () AS record_number FROM read_csv("
                f"?, header=true, auto_detect=false, delim=',', quote='\"', escape='\"', "
                f"columns={columns}, store_rejects=true, rejects_table='csv_rejects', "
                "rejects_scan='csv_reject_scans', strict_mode=true, null_padding=false)",
                [str(path)],
            )
        except duckdb.Error as exc:
            raise InputError(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None
        con.execute(f"CREATE TEMP TABLE parsed AS {_parsed_select(header, destroyed_tolerance)}")

        models = [r[0] for r in con.execute(
            "SELECT DISTINCT model FROM parsed WHERE model IS NOT NULL").fetchall()]
        kinds = classify_models(models)
        model_map = pd.DataFrame(
            {
                "model_raw": models,
                "model_norm": [k.model for k in kinds],
                "family": [k.family for k in kinds],
                "weapon_class": [k.weapon_class for k in kinds],
                "known": [k.known for k in kinds],
            }
        )
        con.register("model_map_df", model_map)
        con.execute("CREATE TEMP TABLE model_map AS SELECT * FROM model_map_df")
        con.unregister("model_map_df")

        # Valid rows, with their key and derived columns.
        store_cols = [c.store_name for c in RECORD_COLUMNS]
        passthrough = ", ".join(
            f"p.{_q(c)}" for c in store_cols if c not in ("time_start", "time_end", "model")
        )
        con.execute(
            f"""CREATE TEMP TABLE incoming AS
            WITH v AS (
              SELECT p.*, m.model_norm, m.family, m.weapon_class,
                CASE WHEN p.time_end_date_only THEN p.time_end_ts + INTERVAL 86399 SECOND
                     ELSE p.time_end_ts END AS time_end_adj,
                trim(split_part(coalesce(p.source, ''), '/', 1)) AS chan0
              FROM parsed p JOIN model_map m ON p.model = m.model_raw
              WHERE p.reason = ''
            ), k AS (
              SELECT v.*, row_number() OVER (
                  PARTITION BY time_start_ts, time_end_adj, model_norm, coalesce(source, '')
                  ORDER BY record_number) AS key_seq
              FROM v
            )
            SELECT k.time_start_ts AS time_start, k.time_end_adj AS time_end, k.model_norm AS model,
              {passthrough.replace('p.', 'k.')},
              md5(concat_ws(chr(31), strftime(k.time_start_ts, '%Y-%m-%d %H:%M:%S'),
                  strftime(k.time_end_adj, '%Y-%m-%d %H:%M:%S'), k.model_norm,
                  coalesce(k.source, ''), k.key_seq::VARCHAR)) AS row_key,
              k.key_seq::INTEGER AS key_seq, k.content_hash,
              k.time_start_date_only AS start_is_date_only, k.time_end_date_only AS end_is_date_only,
              CAST(k.time_start_ts - INTERVAL 12 HOUR AS DATE) AS night,
              k.family, k.weapon_class,
              CASE WHEN k.chan0 IN ('https:', 'http:') THEN split_part(k.source, '/', 4)
                   ELSE k.chan0 END AS source_channel,
              CASE WHEN lower(CASE WHEN k.chan0 IN ('https:', 'http:') THEN split_part(k.source, '/', 4)
                   ELSE k.chan0 END) LIKE 'pvk%' THEN 'regional' ELSE 'national' END AS source_level,
              {_lit(sha)} AS source_file_sha256,
              TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}' AS first_ingested_at,
              TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}' AS ingested_at
            FROM k"""
        )
        rows_parsed = con.execute("SELECT count(*) FROM parsed").fetchone()[0]
        rows_rejected = con.execute("SELECT count(*) FROM csv_rejects").fetchone()[0]
        rows_valid = con.execute("SELECT count(*) FROM incoming").fetchone()[0]
        rows_bad = rows_parsed - rows_valid
        rows_added = con.execute(
            "SELECT count(*) FROM incoming i ANTI JOIN attacks a ON a.row_key = i.row_key"
        ).fetchone()[0]
        rows_updated = con.execute(
            "SELECT count(*) FROM incoming i JOIN attacks a ON a.row_key = i.row_key "
            "WHERE a.content_hash <> i.content_hash"
        ).fetchone()[0]
        rows_unchanged = rows_valid - rows_added - rows_updated

        con.execute("INSERT INTO attacks BY NAME SELECT i.* FROM incoming i ANTI JOIN attacks a ON a.row_key = i.row_key")
        if rows_updated:
            set_cols = [c for c in con.execute("SELECT * FROM incoming LIMIT 0").columns
                        if c not in ("row_key", "first_ingested_at")]
            assignments = ", ".join(f"{_q(c)} = i.{_q(c)}" for c in set_cols)
            con.execute(
                f"UPDATE attacks SET {assignments} FROM incoming i "
                "WHERE attacks.row_key = i.row_key AND attacks.content_hash <> i.content_hash"
            )
        con.execute(
            f"""INSERT INTO quarantine
            SELECT * FROM (
              SELECT {_lit(sha)}, {_lit(str(path))}, p.record_number, NULL::BIGINT,
                     p.reason, to_json(r)::VARCHAR, TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}'
              FROM parsed p JOIN raw r USING (record_number) WHERE p.reason <> ''
              UNION ALL
              SELECT {_lit(sha)}, {_lit(str(path))}, NULL::BIGINT, line,
                     'csv: ' || error_message, csv_line, TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}'
              FROM csv_rejects
            ) q(sha, f, rn, ln, reason, raw_row, ingested)
            WHERE NOT EXISTS (SELECT 1 FROM quarantine x WHERE x.source_file_sha256 = q.sha
                AND x.record_number IS NOT DISTINCT FROM q.rn AND x.line IS NOT DISTINCT FROM q.ln)"""
        )
        reasons = dict(con.execute(
            "SELECT split_part(reason, ':', 1) AS field, count(*) FROM ("
            "SELECT reason FROM parsed WHERE reason <> '' UNION ALL "
            "SELECT 'csv: ' || error_type FROM csv_rejects) GROUP BY 1 ORDER BY 1").fetchall())
        unknown = sorted(r[0] for r in con.execute(
            "SELECT DISTINCT model FROM incoming WHERE weapon_class = 'unknown'").fetchall())
        report = IngestReport(
            source_file=str(path),
            source_file_sha256=sha,
            rows_read=int(rows_parsed + rows_rejected),
            rows_added=int(rows_added),
            rows_updated=int(rows_updated),
            rows_unchanged=int(rows_unchanged),
            rows_quarantined=int(rows_bad + rows_rejected),
            unknown_models=unknown,
            quarantine_reasons={str(k): int(v) for k, v in reasons.items()},
        )
        con.execute(
            "INSERT INTO ingests VALUES ((SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests), "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [str(path), sha, report.rows_read, report.rows_added, report.rows_updated,
             report.rows_unchanged, report.rows_quarantined, json.dumps(unknown), now,
             datetime.now(UTC).replace(tzinfo=None)],
        )
        for tmp in ("raw", "parsed", "model_map", "incoming"):
            con.execute(f"DROP TABLE IF EXISTS {tmp}")
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the transaction may already be gone
            pass
        raise
    finally:
        con.close()
    return report
