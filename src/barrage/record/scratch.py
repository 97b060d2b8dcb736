"""Scratch files beside the store, named by their process, and swept when it is gone.

A killed ingest or fetch cannot remove its own scratch copy (20 kills of a 300 MB ingest
left 2.9 GB in /tmp). So scratch files live in the store's folder, named
``.barrage-tmp-<pid>-<random>``, and every ingest and fetch first removes those whose
process no longer runs. The store's folder is also where the space for the store is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

PREFIX = ".barrage-tmp-"


def scratch_folder(db: str | os.PathLike[str]) -> Path:
    """The folder for scratch files of the store ``db`` (the system's for ``:memory:``)."""
    if str(db) == ":memory:":
        return Path(tempfile.gettempdir())
    folder = Path(db).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def sweep(folder: Path) -> list[Path]:
    """Remove scratch files and folders in ``folder`` left by processes that are gone."""
    removed = []
    for entry in folder.glob(PREFIX + "*"):
        pid = entry.name.removeprefix(PREFIX).split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def scratch_file(folder: Path, suffix: str) -> Path:
    """A new empty scratch file in ``folder``; the caller removes it."""
    fd, name = tempfile.mkstemp(suffix=suffix, prefix=f"{PREFIX}{os.getpid()}-", dir=folder)
    os.close(fd)
    return Path(name)


@contextmanager
def scratch_dir(folder: Path) -> Iterator[Path]:
    """A scratch folder in ``folder`` for the block, removed after it (or swept later)."""
    sweep(folder)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=folder))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
