"""``barrage assess``: the assessment, and with ``log`` its entry in the forecast log.

Logging writes the store, so it takes the writers' lock (as an update does) and checks
the log's hash chain before any work: a tampered log refuses at once, not after a fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from barrage.record import open_store
from barrage.record.lock import exclusive_lock, store_lock_path
from barrage.warning.assess import assess, inputs_from_store
from barrage.warning.assessment import Assessment
from barrage.warning.forecast_log import log_assessment, verify_log

#: How long ``assess --log`` waits for another writer of the store.
LOG_WAIT_S = 30.0


def assess_and_log(
    db: Path,
    *,
    as_of: str | None = None,
    target: str | None = None,
    weather: Any = None,
    log: bool = False,
) -> Assessment:
    """The assessment of the store ``db`` as of ``as_of``; with ``log``, appended to the
    store's forecast log once (its place under the key ``log``: seq, and whether it was
    new)."""
    inputs = inputs_from_store(db, target, weather)
    if log:
        with open_store(db) as con:
            verify_log(con)  # a tampered log refuses before any work
    result = assess(inputs, as_of)
    if not log:
        return Assessment.model_validate(result)
    with (
        exclusive_lock(store_lock_path(db), wait_s=LOG_WAIT_S, what="update"),
        open_store(db, read_only=False) as con,
    ):
        logged = log_assessment(con, result, inputs.target, record_sha256=inputs.record_sha256)
    return Assessment.model_validate(
        {**result, "log": {"seq": logged.seq, "logged": logged.logged}}
    )
