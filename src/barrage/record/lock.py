"""An advisory file lock so that two updates of one store never run at once."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from barrage.errors import StoreBusyError

if TYPE_CHECKING:
    from collections.abc import Iterator


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
