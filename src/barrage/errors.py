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


def shown(text: str | bytes, limit: int = 60) -> str:
    """``text`` safe to put in a message: non-printable characters (terminal escapes)
    escaped and cut to ``limit`` characters (a 64 KB header used to be echoed whole)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    cut = text[:limit]
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    return safe + ("..." if len(text) > limit else "")


def listed(values: list[str], *, most: int = 8, limit: int = 40) -> str:
    """Names for a one-line message: the first ``most``, each :func:`shown` within
    ``limit`` characters, and "..." when there are more."""
    return ", ".join(shown(v, limit) for v in values[:most]) + (
        ", ..." if len(values) > most else ""
    )
