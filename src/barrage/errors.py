"""One error type that the CLI and the API translate into a clean message.

Library code raises :class:`BarrageError` (or a subclass) with a message that names the
file, row, field and what was expected; the CLI prints it on one line and exits with
``exit_code``; the API turns it into a 4xx.
"""

from __future__ import annotations


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
