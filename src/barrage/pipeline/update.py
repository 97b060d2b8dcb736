"""The daily update: fetch the newest record, ingest it, assess and log the forecast.

It crosses parts (record, then warning, then the record's forecast log), so it lives
here, above them, rather than in warning calling back down and up. One update at a time:
it holds the store's writer lock from the fetch to the log entry, so nothing changes the
store between the assessment's read and the entry that names what it read.

The library logs to the ``barrage.live`` logger and configures no handler: the CLI
decides where logs go.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from barrage.errors import InputError
from barrage.record import ingest_record, open_store
from barrage.record.fetch import fetch_record
from barrage.record.lock import store_lock_path, writer_lock
from barrage.warning import assess as warning_assess
from barrage.warning.forecast_log import log_assessment, logged_payload, model_version

logger = logging.getLogger("barrage.live")


def update_lock_path(db: str | os.PathLike[str]) -> Path:
    """The lock file that serialises the writers of one store (beside it)."""
    return store_lock_path(db)


def _ingest_if_new(path: Path, sha256: str, db: Path) -> dict | None:
    """Ingest the fetched file unless the store's newest ingest is that very file (None)."""
    current = None
    if db.exists():
        with open_store(db) as con:
            row = con.execute(
                "SELECT source_file_sha256 FROM ingests ORDER BY ingest_id DESC LIMIT 1"
            ).fetchone()
            current = row[0] if row else None
    if current == sha256:
        logger.info("the store already holds this record; ingest skipped")
        return None
    ingested = ingest_record(path, db).as_dict()
    logger.info(
        "ingested: %d added, %d updated, %d unchanged, %d quarantined",
        ingested["rows_added"],
        ingested["rows_updated"],
        ingested["rows_unchanged"],
        ingested["rows_quarantined"],
    )
    return ingested


def _log_what_was_logged(result, assessment: dict) -> None:
    """One log line: the new entry, or that the forecast was already in the log."""
    if result.logged:
        logger.info(
            "logged forecast #%d as of %s (%s): p=%s level %s; entry hash %s",
            result.seq,
            assessment["as_of"],
            model_version(),
            json.dumps(assessment["p"], sort_keys=True),
            assessment["level"],
            result.entry_hash,
        )
    else:
        logger.info(
            "forecast as of %s already logged as #%d; nothing added",
            assessment["as_of"],
            result.seq,
        )


@dataclass
class UpdateResult:
    """What one update did: the fetch, the ingest, and the logged forecast."""

    fetch: dict
    ingest: dict | None
    assessment: dict
    log_seq: int
    log_entry_hash: str
    logged: bool
    model_version: str
    lock: str
    steps_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def run_update(
    db: str | os.PathLike[str],
    *,
    to: str | os.PathLike[str] = "data",
    url: str | None = None,
    wait_s: float = 0.0,
    target: str | None = None,
    weather: object | None = None,
    as_of: object | None = None,
    use_kaggle: bool = True,
) -> UpdateResult:
    """Fetch, ingest and assess in one step, logging the forecast; one update at a time.

    Raises :class:`~barrage.errors.StoreBusyError` (exit 3) if another update holds the
    lock for longer than ``wait_s``, and ``FetchError`` (exit 4, nothing changed) when
    the download fails or is incomplete.
    """
    if not wait_s >= 0:  # also NaN
        raise InputError(f"wait_s: expected a number of seconds >= 0, got {wait_s}")
    db = Path(db)
    lock = update_lock_path(db)
    steps: dict[str, float] = {}
    logger.info("update of %s: waiting up to %g s for the lock %s", db, wait_s, lock)
    # every writer of the store takes this lock (ingest too): nothing changes the store
    # between the assessment's read and the log entry that names what it read
    with writer_lock(db, wait_s=wait_s, what="update"):
        t0 = time.perf_counter()
        fetched = fetch_record(to, db=db, url=url, use_kaggle=use_kaggle)
        steps["fetch"] = time.perf_counter() - t0
        logger.info(
            "fetched %s from %s (sha256 %s): %d new rows on %d new nights, %d corrected",
            fetched.path,
            fetched.source,
            fetched.sha256[:12],
            fetched.rows_new,
            len(fetched.new_nights),
            fetched.rows_corrected,
        )
        t0 = time.perf_counter()
        ingested = _ingest_if_new(fetched.path, fetched.sha256, db)
        steps["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        inputs = warning_assess.inputs_from_store(db, target, weather)
        day = inputs.record.last_night + np.timedelta64(1, "D") if as_of is None else as_of
        with open_store(db) as con:
            known = logged_payload(con, day, inputs.target, inputs.record_sha256)
        if ingested is None and known is not None:
            # Same record, same model, same day: the forecast is the one already logged.
            assessment = known
        else:
            # through the module, where a test puts a racing writer in the assess step
            assessment = warning_assess.assess(inputs, as_of)
        steps["assess"] = time.perf_counter() - t0
        with open_store(db, read_only=False) as con:
            result = log_assessment(
                con, assessment, inputs.target, record_sha256=inputs.record_sha256
            )
        _log_what_was_logged(result, assessment)
    return UpdateResult(
        fetch=fetched.as_dict(),
        ingest=ingested,
        assessment=assessment,
        log_seq=result.seq,
        log_entry_hash=result.entry_hash,
        logged=result.logged,
        model_version=model_version(),
        lock=str(lock),
        steps_s={k: round(v, 3) for k, v in steps.items()},
    )
