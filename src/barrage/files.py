"""Reading a user's file, and checking where a result will be written, the same way
everywhere: one line naming the file and what was expected, before any work.

Every reader of a user's file (record, scenario, weather, network, statements, saved
summary) bounds what it reads whatever the file system says of its size: ``/dev/zero``
reads for ever and a FIFO blocks, so only regular files are read, and at most ``limit``
bytes plus one.
"""

from __future__ import annotations

import os
from pathlib import Path

from barrage.errors import InputError


def read_bounded(path: str | os.PathLike[str], limit_b: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refused when larger than ``limit_b``;
    ``what`` names the file in messages ("weather file", "scenario file")."""
    path = Path(path)
    try:
        if not path.is_file():
            why = "not found" if not path.exists() else "not a regular file"
            raise InputError(f"{path}: cannot read {what} ({why})")
        with path.open("rb") as f:
            raw = f.read(limit_b + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror})") from None
    if len(raw) > limit_b:
        raise InputError(
            f"{path}: {what} of {path.stat().st_size:,} bytes is larger than the limit of "
            f"{limit_b:,}"
        )
    return raw


def decode_utf8(path: str | os.PathLike[str], raw: bytes, *, bom: bool = True) -> str:
    """``raw`` as UTF-8 text (a leading byte-order mark dropped when ``bom``), or one
    line naming the first bad byte and its line."""
    try:
        return raw.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line})"
        ) from None


def check_output_file(path: str | os.PathLike[str], *, param: str) -> Path:
    """The path of a file a command will write, checked before the work that fills it:
    not a folder, and its nearest existing folder a folder that can be written (folders
    still missing are made when the file is written, not here, so a refused request
    leaves nothing behind). A report that failed at the end lost minutes of work."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{param}: {path} is a folder; expected the path of a file to write")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{param}: {parent} is a file; expected a folder to write {path.name} in")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{param}: cannot write in the folder {parent} (permission denied)")
    return path
