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
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from barrage.errors import InputError, listed
from barrage.record.locate import locate_record
from barrage.record.lock import writer_lock
from barrage.record.schema import RECORD_COLUMNS, REQUIRED_CSV_COLUMNS, WEAPON_COUNT_COLUMNS
from barrage.record.scratch import scratch_file, scratch_folder, sweep
from barrage.record.store import DEFAULT_DB, connect
from barrage.record.taxonomy import classify_models

DATE_FORMAT = "%Y-%m-%d"
TIME_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
#: Fields trimmed of surrounding blanks before use (the rest are stored as published).
TRIMMED_COLUMNS = ("time_start", "time_end", "model", "source")
#: The upsert key of a row (key_seq orders rows of one file that share the rest).
KEY_COLUMNS = ("time_start", "time_end", "model", "source", "key_seq")
EXPECTED_TIME = "YYYY-MM-DD or YYYY-MM-DD HH:MM"
#: No row before this year is plausible for this record (the war began in 2014).
FIRST_PLAUSIBLE_YEAR = 2014
#: No row may start or end later than the ingest day plus this margin: a far-future row
#: made every later assessment walk the calendar to it (one 2099 row: still running at
#: 1,200 s). Two days cover time zones and a record published just after midnight.
FUTURE_MARGIN_D = 2
#: Most of any count in one row: 12x the record's largest row (810 Shahed-136/131, the
#: night of 2025-09-06/07).
MAX_COUNT = 10_000
#: Most missiles in one row: 8x the record's largest missile row (115 cruise missiles,
#: the night of 2024-08-25/26); drones and unknown models are held to MAX_COUNT only.
MAX_MISSILES = 1_000
MISSILE_CLASSES = ("cruise_missile", "ballistic_missile", "mixed_missile")
#: A count as published: digits, an optional fraction and exponent, or NaN (empty).
NUMBER_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[Nn][Aa][Nn]"


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
    new_nights: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


HEAD_BYTES = 1 << 16
"""The header must end within this many bytes (the record's is under 300)."""
#: Most bytes of a record file read or unpacked (the record is about 0.6 MB): a larger
#: file is refused before it is read.
MAX_RECORD_BYTES = 256 * 1024 * 1024


def _utf8_problem(path: Path, data: bytes) -> str | None:
    """The one-line error for a file that is not UTF-8, or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return (
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); "
            "save the record as UTF-8"
        )
    return None


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: NUL in every other byte of the header (it
    decodes as UTF-8 and was reported as missing columns)."""
    sample = head[:200]
    if len(sample) < 20:
        return False
    return sample[1::2].count(0) > 0.8 * len(sample[1::2]) or (
        sample[0::2].count(0) > 0.8 * len(sample[0::2])
    )


def _read_and_check(path: Path) -> tuple[bytes, list[str]]:
    """Read the file once: its bytes (for the hash) and its checked header."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_RECORD_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_RECORD_BYTES:
        raise InputError(
            f"{path}: record file of {path.stat().st_size:,} bytes is larger than the limit "
            f"of {MAX_RECORD_BYTES:,}; nothing was changed"
        )
    if not data.strip():
        raise InputError(f"{path}: empty file (expected a CSV with a header row)")
    # The header needs only the head; the whole file's encoding is checked by
    # _utf8_problem, which ingest runs beside DuckDB's parse.
    head = data[:HEAD_BYTES]
    if _looks_utf16(head):
        raise InputError(
            f"{path}: looks like UTF-16 text (every other byte is 0); save the record as UTF-8"
        )
    if len(data) > HEAD_BYTES:
        if not any(end in head for end in (b"\n", b"\r")):  # cut mid-name, it misled
            raise InputError(
                f"{path}: the header row is longer than {HEAD_BYTES:,} bytes (expected the "
                f"record's header: {', '.join(REQUIRED_CSV_COLUMNS)}, ...)"
            )
        head = head[: max(head.rfind(b"\n"), head.rfind(b"\r"))]
    problem = _utf8_problem(path, head)
    if problem:
        raise InputError(problem)
    text = head.decode("utf-8")
    # Any line end ends the header (CR-only files are read with plain newlines below);
    # found by fuzzing: a blank first line or a bare CR used to escape as a raw
    # StopIteration / csv.Error.
    first_line = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    if not first_line.strip():
        raise InputError(f"{path}: the first line is blank (expected the header row)")
    try:
        header = next(csv.reader(io.StringIO(first_line), strict=True), [])
    except csv.Error as exc:
        raise InputError(f"{path}: header row cannot be read as CSV ({exc})") from None
    header = [h.strip() for h in header]
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise InputError(f"{path}: header repeats column(s) {listed(dupes)}")
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)} "
            f"(expected at least: {', '.join(REQUIRED_CSV_COLUMNS)}; found: {listed(header)})"
        )
    return data, header


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _s(name: str) -> str:
    """The trimmed text of a store column in the parse's first stage."""
    return _q("s__" + name)


def _trimmed_fields(present: set[str]) -> list[str]:
    """Stage ``t``: each store column's text, trimmed only where whitespace matters.

    Trimming costs as much as parsing: trim only the fields whose whitespace matters
    (times, model, source); DuckDB's casts already ignore surrounding blanks.
    """

    def text(c) -> str:
        if c.csv_name not in present:
            return "NULL::VARCHAR"
        if c.store_name in TRIMMED_COLUMNS:
            return f"nullif(trim({_q(c.csv_name)}), '')"
        return _q(c.csv_name)

    trimmed = ["__barrage_rn AS record_number"]
    return trimmed + [f"{text(c)} AS {_s(c.store_name)}" for c in RECORD_COLUMNS]


def _parsed_values() -> list[str]:
    """Stage ``v``: the times parsed and the counts cast, once each."""
    fmt = "[" + ", ".join(_lit(f) for f in TIME_FORMATS) + "]"
    values = ["t.*"]
    for which in ("time_start", "time_end"):
        # A failed format is costly in DuckDB: try the date-only form only on short values.
        values.append(
            f"CASE WHEN length({_s(which)}) <= 10 THEN try_strptime({_s(which)}, '{DATE_FORMAT}') "
            f"ELSE try_strptime({_s(which)}, {fmt}) END AS {which}_ts"
        )
    counts = [c.store_name for c in RECORD_COLUMNS if c.store_type == "DOUBLE"]
    return values + [f"try_cast({_s(n)} AS DOUBLE) AS {_q('v__' + n)}" for n in counts]


def _time_checks(latest: datetime) -> tuple[list[str], list[str]]:
    """The time columns' selected fields and their reasons (empty, unreadable, before
    :data:`FIRST_PLAUSIBLE_YEAR`, after ``latest``)."""
    select: list[str] = []
    reasons: list[str] = []
    for which in ("time_start", "time_end"):
        r, ts = _s(which), f"{which}_ts"
        select += [f"{r} AS {which}_raw", ts, f"(length({r}) <= 10) AS {which}_date_only"]
        reasons.append(
            f"CASE WHEN {r} IS NULL THEN '{which}: empty (expected {EXPECTED_TIME})' "
            f"WHEN {ts} IS NULL THEN '{which}: cannot read ''' || {r} || ''' "
            f"(expected {EXPECTED_TIME})' "
            f"WHEN year({ts}) < {FIRST_PLAUSIBLE_YEAR} "
            f"THEN '{which}: implausible date ''' || {r} || ''' (before {FIRST_PLAUSIBLE_YEAR})' "
            f"WHEN {ts} > TIMESTAMP '{latest:%Y-%m-%d %H:%M:%S}' "
            f"THEN '{which}: implausible date ''' || {r} || ''' (after the ingest day + "
            f"{FUTURE_MARGIN_D} days, {latest:%Y-%m-%d})' END"
        )
    return select, reasons


def _count_check(name: str) -> str:
    """The reason a count column's value is refused (not a number, infinite, negative,
    implausibly large, a fraction of a weapon), or NULL."""
    r, value = _s(name), _q("v__" + name)
    got = f"left(trim({r}), 40)"  # a 100 MB field is not copied into its reason
    checks = [
        f"WHEN ({value} IS NULL AND trim(coalesce({r}, '')) <> '') OR ({value} IS NOT NULL "
        f"AND NOT isinf({value}) AND NOT regexp_full_match(trim({r}), {_lit(NUMBER_RE)})) "
        f"THEN '{name}: expected a number, got ''' || {got} || ''''",
        f"WHEN isinf({value}) THEN '{name}: expected a finite number, got ''' || {got} || ''''",
        f"WHEN {value} < 0 THEN '{name}: negative count ' || {got}",
        f"WHEN {value} > {MAX_COUNT} THEN '{name}: implausible count ' || {got} "
        f"|| ' (more than {MAX_COUNT:,} in one row)'",
    ]
    if name in WEAPON_COUNT_COLUMNS:
        checks.append(
            f"WHEN {value} <> floor({value}) THEN '{name}: expected a whole number of weapons, got ' || {got}"
        )
    return "CASE " + " ".join(checks) + " END"


def _row_checks(tolerance: float) -> list[str]:
    """Reasons that look at a row as a whole: no model, more destroyed than launched
    (beyond ``tolerance``), an end before the start."""
    te_adj = (
        f"CASE WHEN length({_s('time_end')}) <= 10 THEN time_end_ts + INTERVAL 86399 SECOND "
        "ELSE time_end_ts END"
    )
    return [
        f"CASE WHEN {_s('model')} IS NULL THEN 'model: empty (expected a weapon model name)' END",
        f"CASE WHEN v__destroyed > v__launched + {tolerance!r} THEN 'destroyed: ' || trim({_s('destroyed')}) "
        f"|| ' exceeds launched ' || trim({_s('launched')}) END",
        f"CASE WHEN {te_adj} < time_start_ts THEN 'time_end: ' || {_s('time_end')} "
        f"|| ' is before time_start ' || {_s('time_start')} END",
    ]


def _parsed_select(header: list[str], tolerance: float, source: str, latest: datetime) -> str:
    """SQL that parses and checks every row of ``source`` (text columns, a read_csv).

    Three stages so that each field is trimmed, parsed and cast once: ``t`` trims,
    ``v`` parses, the outer select checks and names the reasons.
    """
    times, reasons = _time_checks(latest)
    select: list[str] = ["record_number", *times]
    for col in RECORD_COLUMNS:
        name = col.store_name
        if col.store_type != "DOUBLE":
            if name not in ("time_start", "time_end"):
                select.append(f"{_s(name)} AS {_q(name)}")
            continue
        value = _q("v__" + name)
        select.append(f"CASE WHEN isnan({value}) THEN NULL ELSE {value} END AS {_q(name)}")
        reasons.append(_count_check(name))
    reasons += _row_checks(tolerance)
    select.append("concat_ws('; ', " + ", ".join(reasons) + ") AS reason")
    # The published fields (trimmed) travel with the row so a quarantined row keeps them.
    fields = ", ".join(f"{_lit(c.csv_name)}: {_s(c.store_name)}" for c in RECORD_COLUMNS)
    return (
        f"WITH raw AS (SELECT *, row_number() OVER () AS __barrage_rn FROM {source}), "
        "t AS (SELECT " + ", ".join(_trimmed_fields(set(header))) + " FROM raw), "
        "v AS (SELECT " + ", ".join(_parsed_values()) + " FROM t), "
        "c AS (SELECT " + ",\n  ".join(select) + f", {{{fields}}} AS published\nFROM v) "
        "SELECT * EXCLUDE (published), CASE WHEN reason <> '' THEN to_json(published)::VARCHAR "
        "END AS raw_row FROM c"
    )


TRUNCATED_REASON = "file: the last row has no line end after it (a truncated file?); not ingested"


@dataclass(frozen=True)
class _Tail:
    """The unterminated last line of a file: its line number and (cut) text."""

    line: int
    text: str


def _readable_copy(path: Path, data: bytes, db) -> tuple[Path, Path | None, _Tail | None]:
    """The file DuckDB reads, the scratch copy to remove after, and the cut last line.

    A complete export ends in a line end. A file cut in its last row (a short download,
    ``head -c``) still parses: the row with the cut ``source`` became a new key and added
    its drones a second time. So a last line with no line end is held back and
    quarantined. Mixed or Windows line ends trip DuckDB's CSV state machine: the copy
    gets plain newlines. The copy lives beside the store (see :mod:`.scratch`).
    """
    tail = None
    body = data
    if not data.endswith((b"\n", b"\r")):
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if cut >= 0 and data[cut + 1 :].strip():
            body = data[: cut + 1]
            line = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
            tail = _Tail(line, data[cut + 1 : cut + 1 + 2000].decode("utf-8", "replace"))
    folder = scratch_folder(db)
    sweep(folder)  # every ingest: what killed ingests and fetches left beside the store
    if b"\r" not in body and tail is None:
        return path, None, None
    copy = scratch_file(folder, ".csv")
    try:
        with copy.open("wb") as f:
            f.write(body.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    return copy, copy, tail


def _check_missile_counts(con) -> None:
    """Quarantine rows with more missiles than :data:`MAX_MISSILES` (per model class)."""
    classes = ", ".join(_lit(c) for c in MISSILE_CLASSES)
    for name in WEAPON_COUNT_COLUMNS:
        col = _q(name)
        con.execute(
            f"UPDATE parsed SET reason = concat_ws('; ', nullif(parsed.reason, ''), "
            f"'{name}: implausible count ' || parsed.{col} || ' for ' || m.weapon_class || "
            f"' (more than {MAX_MISSILES:,} missiles in one row)') FROM model_map m "
            f"WHERE parsed.model = m.model_raw AND m.weapon_class IN ({classes}) "
            f"AND parsed.{col} > {MAX_MISSILES}"
        )


def ingest_record(
    path: str | os.PathLike[str],
    db: str | os.PathLike[str] = DEFAULT_DB,
    *,
    destroyed_tolerance: float = 0.0,
    lock_timeout_s: float = 30.0,
    dry_run: bool = False,
    given_as: str = "path",
) -> IngestReport:
    """Ingest one record CSV into the store; idempotent, incremental and atomic.

    ``path`` may be the folder holding the CSV (:func:`locate_record`; ``given_as`` is
    how the caller's user named it, for the message when the folder has none).

    With ``dry_run`` the same work is done and reported, then rolled back: what an
    ingest *would* change (``barrage fetch`` uses it to report a download's news).

    Rows are keyed on (time_start, time_end, model, source, key_seq); a key already
    stored with any other published field is a corrected row and is updated in place,
    keeping when it first arrived. Bad rows go to ``quarantine`` with their reason.
    The whole ingest holds the store's writer lock (:mod:`barrage.record.lock`), waiting
    up to ``lock_timeout_s`` for an update or another ingest.
    """
    path = Path(path)
    if path.is_dir():  # the folder holding the CSV, as `run --record` takes it
        path = locate_record(path, given_as=given_as)
    data, header = _read_and_check(path)
    # Hashing and the full UTF-8 check run beside DuckDB's parse (it releases the GIL).
    from concurrent.futures import ThreadPoolExecutor

    checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="barrage-ingest")
    sha_future = checker.submit(file_sha256, data)
    utf8_future = checker.submit(_utf8_problem, path, data)
    checker.shutdown(wait=False)
    read_path, cleanup, tail = _readable_copy(path, data, db)
    try:
        with _writer_lock(db, lock_timeout_s):
            source = _Source(path, data, header, read_path, tail, sha_future, utf8_future)
            return _ingest_locked(
                source,
                db,
                destroyed_tolerance=destroyed_tolerance,
                lock_timeout_s=lock_timeout_s,
                dry_run=dry_run,
            )
    finally:
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)


def _writer_lock(db, wait_s: float):
    """The store's one writer lock (none for an in-memory store)."""
    from contextlib import nullcontext

    if str(db) == ":memory:":
        return nullcontext()
    return writer_lock(db, wait_s=wait_s)


@dataclass(frozen=True)
class _Source:
    """A record file read and checked: what the locked part of an ingest needs."""

    path: Path
    data: bytes
    header: list[str]
    read_path: Path  # the file DuckDB reads (the original or a scratch copy)
    tail: _Tail | None  # an unterminated last line, held back
    sha_future: object  # its SHA-256, computed beside the parse
    utf8_future: object  # its UTF-8 problem or None, checked beside the parse


def _parse_into_temp(con, src: _Source, tolerance: float, latest: datetime) -> str:
    """Parse and check the file into the temp table ``parsed``; its SHA-256 (a file that
    is not UTF-8 or not CSV raises, naming the file)."""
    import duckdb

    columns = "{" + ", ".join(f"{_lit(h)}: 'VARCHAR'" for h in src.header) + "}"
    source = (
        "read_csv(?, header=true, auto_detect=false, delim=',', quote='\"', escape='\"', "
        f"columns={columns}, store_rejects=true, rejects_table='csv_rejects', "
        "rejects_scan='csv_reject_scans', strict_mode=true, null_padding=false)"
    )
    try:
        con.execute(
            f"CREATE TEMP TABLE parsed AS {_parsed_select(src.header, tolerance, source, latest)}",
            [str(src.read_path)],
        )
    except duckdb.Error as exc:
        problem = src.utf8_future.result()
        raise InputError(
            problem or f"{src.path}: cannot be read as CSV ({str(exc).splitlines()[0]})"
        ) from None
    problem = src.utf8_future.result()
    if problem:
        raise InputError(problem)
    return src.sha_future.result()


def _classify_models(con) -> None:
    """The temp table ``model_map``: each raw model name's normal name, family and class
    (:func:`classify_models`); then the missile counts checked against it."""
    import pandas as pd

    models = [
        r[0]
        for r in con.execute("SELECT DISTINCT model FROM parsed WHERE model IS NOT NULL").fetchall()
    ]
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
    con.execute(
        "CREATE TEMP TABLE model_map (model_raw VARCHAR, model_norm VARCHAR, family VARCHAR, "
        "weapon_class VARCHAR, known BOOLEAN)"
    )
    if len(model_map):
        con.execute("INSERT INTO model_map SELECT * FROM model_map_df")
    con.unregister("model_map_df")
    _check_missile_counts(con)


def _create_incoming(con, sha: str, now: datetime) -> None:
    """The temp view ``incoming``: the valid rows, with their key and derived columns."""
    store_cols = [c.store_name for c in RECORD_COLUMNS]
    passthrough = ", ".join(
        f"p.{_q(c)}" for c in store_cols if c not in ("time_start", "time_end", "model", "source")
    )
    con.execute(
        f"""CREATE TEMP VIEW incoming AS
        WITH v AS (
          SELECT p.*, m.model_norm, m.family, m.weapon_class,
            CASE WHEN p.time_end_date_only THEN p.time_end_ts + INTERVAL 86399 SECOND
                 ELSE p.time_end_ts END AS time_end_adj,
            trim(split_part(coalesce(p.source, ''), '/', 1)) AS chan0
          FROM parsed p JOIN model_map m ON p.model = m.model_raw
          WHERE p.reason = ''
        ), shared AS (
          -- Few rows share a key: number only those (a hash aggregate, no full sort).
          SELECT unnest(rns) AS record_number, unnest(range(1, len(rns) + 1)) AS key_seq
          FROM (SELECT list(record_number ORDER BY record_number) AS rns FROM v
                GROUP BY time_start_ts, time_end_adj, model_norm, coalesce(source, '')
                HAVING count(*) > 1)
        ), k AS (
          SELECT v.*, coalesce(shared.key_seq, 1) AS key_seq
          FROM v LEFT JOIN shared USING (record_number)
        )
        SELECT k.time_start_ts AS time_start, k.time_end_adj AS time_end, k.model_norm AS model,
          coalesce(k.source, '') AS source,
          {passthrough.replace("p.", "k.")},
          k.key_seq::INTEGER AS key_seq,
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


@dataclass(frozen=True)
class _Counts:
    """Rows of one ingest: parsed by DuckDB, rejected as CSV, valid, updated, added."""

    parsed: int
    rejected: int
    valid: int
    updated: int
    added: int


def _count_lines(con) -> tuple[int, int, int]:
    """Rows parsed, lines rejected as CSV (the temp table ``rejected_lines``, one row a
    line), and rows valid."""
    rows_parsed = con.execute("SELECT count(*) FROM parsed").fetchone()[0]
    # DuckDB logs one reject per bad field; a line counts once.
    con.execute(
        "CREATE TEMP TABLE rejected_lines AS SELECT line, first(error_type ORDER BY "
        "column_idx) AS error_type, first(csv_line) AS csv_line, "
        "string_agg(DISTINCT error_message, '; ') AS error_message "
        "FROM csv_rejects GROUP BY line"
    )
    rows_rejected = con.execute("SELECT count(*) FROM rejected_lines").fetchone()[0]
    rows_valid = con.execute("SELECT count(*) FROM parsed WHERE reason = ''").fetchone()[0]
    return rows_parsed, rows_rejected, rows_valid


def _merge_incoming(con, sha: str, now: datetime) -> tuple[_Counts, list[str]]:
    """Corrections first (a stored key whose fields changed), then new keys; the counts
    and the nights this file brought that the store did not hold."""
    rows_parsed, rows_rejected, rows_valid = _count_lines(con)
    on_key = " AND ".join(f"a.{_q(c)} = i.{_q(c)}" for c in KEY_COLUMNS)
    content = [c.store_name for c in RECORD_COLUMNS if c.store_name not in KEY_COLUMNS]
    content += ["start_is_date_only", "end_is_date_only"]
    changed = " OR ".join(f"a.{_q(c)} IS DISTINCT FROM i.{_q(c)}" for c in content)
    known_nights = {r[0] for r in con.execute("SELECT DISTINCT night FROM attacks").fetchall()}
    # `incoming` is a view, evaluated by the statements that need it (no copy of the
    # file's rows is materialised twice). Corrections first, then new keys.
    rows_updated = 0
    if known_nights:
        set_cols = [
            d[0]
            for d in con.execute("SELECT * FROM incoming LIMIT 0").description
            if d[0] not in (*KEY_COLUMNS, "first_ingested_at")
        ]
        assignments = ", ".join(f"{_q(c)} = i.{_q(c)}" for c in set_cols)
        rows_updated = con.execute(
            f"UPDATE attacks AS a SET {assignments} FROM incoming i WHERE {on_key} AND ({changed})"
        ).fetchone()[0]
    rows_added = con.execute(
        f"INSERT INTO attacks BY NAME SELECT i.* FROM incoming i ANTI JOIN attacks a ON {on_key}"
    ).fetchone()[0]
    new_nights = sorted(
        r[0].isoformat()
        for r in con.execute(
            "SELECT DISTINCT night FROM attacks WHERE first_ingested_at = ? "
            "AND source_file_sha256 = ?",
            [now, sha],
        ).fetchall()
        if r[0] not in known_nights
    )
    counts = _Counts(rows_parsed, rows_rejected, rows_valid, rows_updated, rows_added)
    return counts, new_nights


def _quarantine(con, sha: str, src: _Source, now: datetime) -> dict[str, int]:
    """Every refused row and line (and a held-back unterminated last line) into
    ``quarantine`` once; the count of reasons by field."""
    path, tail = src.path, src.tail
    con.execute(
        f"""CREATE TEMP TABLE bad_rows AS
        SELECT {_lit(sha)} AS sha, {_lit(str(path))} AS f, record_number AS rn,
               NULL::BIGINT AS ln, reason, raw_row
        FROM parsed WHERE reason <> ''
        UNION ALL
        SELECT {_lit(sha)}, {_lit(str(path))}, NULL::BIGINT, line,
               'csv: ' || error_message, csv_line
        FROM rejected_lines"""
    )
    if tail is not None:
        con.execute(
            "INSERT INTO bad_rows VALUES (?, ?, NULL, ?, ?, ?)",
            [sha, str(path), tail.line, TRUNCATED_REASON, tail.text],
        )
    con.execute(
        f"""INSERT INTO quarantine
        SELECT q.sha, q.f, q.rn, q.ln, q.reason, q.raw_row, TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}'
        FROM bad_rows q ANTI JOIN quarantine x
          ON x.source_file_sha256 = q.sha AND coalesce(x.record_number, -1) = coalesce(q.rn, -1)
         AND coalesce(x.line, -1) = coalesce(q.ln, -1)"""
    )
    return dict(
        con.execute(
            "SELECT split_part(reason, ':', 1) AS field, count(*) FROM ("
            "SELECT reason FROM bad_rows WHERE ln IS NULL OR reason NOT LIKE 'csv: %' "
            "UNION ALL SELECT 'csv: ' || error_type FROM rejected_lines) "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )


def _unknown_models(con) -> list[str]:
    """Normal names of the valid rows' models that the taxonomy does not know."""
    return sorted(
        r[0]
        for r in con.execute(
            "SELECT DISTINCT model_norm FROM model_map WHERE weapon_class = 'unknown' AND model_raw IN "
            "(SELECT model FROM parsed WHERE reason = '')"
        ).fetchall()
    )


def _log_ingest(con, report: IngestReport, now: datetime) -> None:
    """One row in ``ingests``, then the temp tables dropped."""
    con.execute(
        "INSERT INTO ingests VALUES ((SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests), "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.source_file,
            report.source_file_sha256,
            report.rows_read,
            report.rows_added,
            report.rows_updated,
            report.rows_unchanged,
            report.rows_quarantined,
            json.dumps(report.unknown_models),
            now,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
    con.execute("DROP VIEW IF EXISTS incoming")
    for tmp in ("parsed", "model_map", "rejected_lines", "bad_rows"):
        con.execute(f"DROP TABLE IF EXISTS {tmp}")


def _ingest_locked(
    src: _Source,
    db,
    *,
    destroyed_tolerance: float,
    lock_timeout_s: float,
    dry_run: bool,
) -> IngestReport:
    """The ingest itself, under the store's writer lock (see :func:`ingest_record`):
    parse, classify, merge, quarantine, log, in one transaction."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    latest = datetime.combine(now.date(), datetime.min.time()) + timedelta(
        days=FUTURE_MARGIN_D + 1, seconds=-1
    )
    con = connect(db, lock_timeout_s=lock_timeout_s)
    try:
        con.execute("BEGIN TRANSACTION")
        sha = _parse_into_temp(con, src, destroyed_tolerance, latest)
        _classify_models(con)
        _create_incoming(con, sha, now)
        n, new_nights = _merge_incoming(con, sha, now)
        reasons = _quarantine(con, sha, src, now)
        held = src.tail is not None
        report = IngestReport(
            source_file=str(src.path),
            source_file_sha256=sha,
            rows_read=int(n.parsed + n.rejected + held),
            rows_added=int(n.added),
            rows_updated=int(n.updated),
            rows_unchanged=int(n.valid - n.added - n.updated),
            rows_quarantined=int(n.parsed - n.valid + n.rejected + held),
            unknown_models=_unknown_models(con),
            quarantine_reasons={str(k): int(v) for k, v in reasons.items()},
            new_nights=new_nights,
        )
        _log_ingest(con, report, now)
        con.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the transaction may already be gone
            pass
        raise
    finally:
        con.close()
    return report
