"""The store as the server sees it: short read-only connections, one in-process writer,
and answers cached until the next ingest.

Everything a read endpoint returns is a function of the store's content, which only an
ingest changes; so answers are cached under the newest ``ingests`` row (id and file
sha). Finding that row costs one ``stat`` per request while the file is unchanged.
DuckDB refuses a read-write connection in a process that holds a read-only one, so
in-process reads share a lock that the (rare) ingest takes exclusively.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from barrage.errors import InputError, StoreBusyError
from barrage.record import open_store
from barrage.warning.backtest_store import backtest_head


class StoreMissing(InputError):
    """The configured store file does not exist (yet)."""


class ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class StoreView:
    """Cached, read-mostly access to one store file."""

    def __init__(self, db: str | os.PathLike[str], *, wait_s: float = 2.0, size: int = 256):
        self.db = Path(db)
        self.wait_s = wait_s
        self.lock = ReadWriteLock()
        self._size = size
        self._cache: OrderedDict[Hashable, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._stat_key: tuple | None = None
        self._version: str | None = None
        # The newest answer per (name, params) whatever its version: served while a new
        # answer is being computed or while another process holds the store for writing.
        self._latest: dict[Hashable, tuple[bytes, str]] = {}

    def _stat_key_now(self) -> tuple:
        out = []
        for path in (self.db, self.db.with_name(self.db.name + ".wal")):
            try:
                st = path.stat()
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A short read-only connection (InputError if there is no store,
        StoreBusyError if another process writes for longer than ``wait_s``)."""
        with self.lock.read(), open_store(self.db, lock_timeout_s=self.wait_s) as con:
            yield con

    def version(self) -> str:
        """``"<ingest_id>:<sha256>"`` of the newest ingest, ``":bt<run>"`` appended when a
        backtest is stored (one stat while unchanged)."""
        key = self._stat_key_now()
        if key == self._stat_key and self._version is not None:
            return self._version
        if key[0] is None:
            raise StoreMissing(
                f"no store at {self.db}: ingest a record first (`barrage ingest PATH --db "
                f"{self.db}` or POST /api/ingest)"
            )
        with self.read() as con:
            row = con.execute(
                "SELECT ingest_id, source_file_sha256 FROM ingests ORDER BY ingest_id DESC LIMIT 1"
            ).fetchone()
            # a stored backtest changes what /api/backtest and the dashboard show
            backtest = backtest_head(con)
        version = "0:empty" if row is None else f"{row[0]}:{row[1]}"
        if backtest:
            version += f":bt{backtest}"
        self._stat_key, self._version = key, version
        return version

    def fresh_version(self) -> str | None:
        """The version if the file is unchanged since it was read, else None (no I/O but
        a stat; safe on the event loop)."""
        if self._version is not None and self._stat_key_now() == self._stat_key:
            return self._version
        return None

    def forget_version(self) -> None:
        self._stat_key = None

    def peek(self, name: str, params: Hashable) -> bytes | None:
        """A cached answer if the store file is unchanged since it was seen (no I/O but a
        stat; safe to call on the event loop)."""
        if self._version is None or self._stat_key_now() != self._stat_key:
            return None
        return self._cache.get((name, params, self._version))

    def peek_versioned(self, name: str, params: Hashable) -> tuple[bytes, str] | None:
        """:meth:`peek` with the version the answer belongs to (for its ETag)."""
        version = self._version
        hit = self.peek(name, params)
        return None if hit is None or version is None else (hit, version)

    def cached(
        self, name: str, params: Hashable, compute: Callable[[Any], BaseModel | bytes | str]
    ) -> tuple[bytes, str]:
        """``compute(con)`` (a model, serialised to JSON, or bytes/text), cached under
        (name, params, version).

        A model is validated once when computed; a hit costs a dict lookup. Concurrent
        misses of one key compute once.
        """
        stale = self._latest.get((name, params))
        try:
            version = self.version()
        except StoreBusyError:
            if stale is None:
                raise
            return stale  # another process is writing: the last answer, not a 503
        key = (name, params, version)
        hit = self._cache.get(key)
        if hit is not None:
            return hit, version
        with self._cache_lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        # One thread computes a new answer; while it does, the others get the last one
        # instead of waiting (found under load: an assessment refit after an update
        # took >30 s and the waiting requests filled the thread pool, so even /health
        # timed out).
        if not key_lock.acquire(blocking=stale is None):
            return stale
        try:
            hit = self._cache.get(key)
            if hit is not None:
                return hit, version
            try:
                with self.read() as con:
                    value = compute(con)
            except StoreBusyError:
                if stale is None:
                    raise
                return stale
            if isinstance(value, BaseModel):
                data = value.model_dump_json().encode()
            else:
                data = value.encode() if isinstance(value, str) else bytes(value)
            with self._cache_lock:
                self._cache[key] = data
                self._cache.move_to_end(key)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
                self._key_locks.pop(key, None)
                self._latest[(name, params)] = (data, version)
        finally:
            key_lock.release()
        return data, version
