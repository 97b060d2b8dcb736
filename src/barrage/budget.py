"""The memory budget every simulation and fit is held to, and the one check that refuses
a request over it before anything is allocated, naming the parameter to reduce."""

from __future__ import annotations

from barrage.errors import InputError

MAX_MEMORY_MB = 640.0
"""The budget for a job's arrays: with the interpreter and its libraries (about 350 MB),
under 1 GB."""


def check_memory(
    param: str,
    count: int,
    bytes_each: float,
    size: str,
    unit: str,
    *,
    max_memory_mb: float = MAX_MEMORY_MB,
) -> None:
    """Refuse ``count`` of something that takes ``bytes_each`` when the total passes
    ``max_memory_mb``: one line naming ``param``, the ``size`` asked for, what it needs,
    and the most ``unit`` that fit."""
    need_mb = count * bytes_each / 2**20
    if need_mb > max_memory_mb:
        most = int(max_memory_mb * 2**20 // bytes_each)
        raise InputError(
            f"{param}: {size} needs about {need_mb:,.0f} MB, over the limit of "
            f"{max_memory_mb:,.0f} MB; ask for at most {most:,} {unit}"
        )
