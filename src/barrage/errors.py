"""One error type that the CLI and the API translate into a clean message.

Library code raises :class:`BarrageError` (or a subclass) with a message that names the
file, row, field and what was expected; the CLI prints it on one line and exits with
``exit_code``; the API turns it into a 4xx.
"""

from __future__ import annotations

import os
from pathlib import Path


class BarrageError(Exception):
    """A user-facing error: bad input, missing data, an impossible request."""

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InputError(BarrageError):
    """A file or argument that cannot be used as given (exit code 2)."""


class StoreBusyError(BarrageError):
    """Another process holds the store for writing (exit code 3)."""

    exit_code = 3


def check_output_file(path: str | os.PathLike[str], *, param: str) -> Path:
    """The path of a file a command will write, checked before the work that fills it:
    not a folder, and in a folder that exists (made if missing) and can be written. A
    report or CSV that failed at the end lost minutes of work in a traceback."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{param}: {path} is a folder; expected the path of a file to write")
    if path.parent.exists() and not path.parent.is_dir():
        raise InputError(
            f"{param}: {path.parent} is a file; expected a folder to write {path.name} in"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{param}: cannot make the folder {path.parent} ({exc.strerror})"
        ) from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InputError(f"{param}: cannot write in the folder {path.parent} (permission denied)")
    return path
