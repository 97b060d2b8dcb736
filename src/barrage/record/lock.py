"""One advisory file lock per store, held by every writer (ingest, update, log appends).

Two writers of one store never run at once: an update's fetch, ingest, assess and log
append happen under the lock, so an ingest cannot slip in between the assessment and the
log entry that names the record it read (issue 22: the log then carried the new record's
hash with the old record's forecast).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from barrage.errors import StoreBusyError

if TYPE_CHECKING:
    from collections.abc import Iterator

_held = threading.local()


@contextmanager
def exclusive_lock(
    path: str | os.PathLike[str], *, wait_s: float = 0.0, what: str = "update"
) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the block.

    Waits up to ``wait_s`` seconds, then raises :class:`StoreBusyError` (exit code 3).
    The lock dies with the process, so a killed run never leaves a stale lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    raise StoreBusyError(
                        f"another {what} is running (lock {path}, pid {holder}); "
                        f"waited {wait_s:g} s, nothing was changed"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the flock


def store_lock_path(db: str | os.PathLike[str]) -> Path:
    """The lock file that serialises the writers of one store (beside it)."""
    db = Path(db)
    return db.with_name(db.name + ".update.lock")


@contextmanager
def writer_lock(
    db: str | os.PathLike[str], *, wait_s: float = 0.0, what: str = "writer of this store"
) -> Iterator[Path]:
    """The store's one writer lock (:func:`exclusive_lock` on :func:`store_lock_path`).

    A thread that holds it enters again at once (an update's own ingest and log append);
    another thread or process waits up to ``wait_s``.
    """
    path = store_lock_path(db)
    key = str(path.resolve())
    held: dict[str, int] = _held.__dict__.setdefault("locks", {})
    if held.get(key):
        held[key] += 1
        try:
            yield path
        finally:
            held[key] -= 1
        return
    with exclusive_lock(path, wait_s=wait_s, what=what):
        held[key] = 1
        try:
            yield path
        finally:
            held.pop(key, None)
