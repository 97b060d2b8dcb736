"""Warm the slow answers in the background, so no visitor waits for them.

An uncached assessment refits the models on the whole record (10-20 s). The server
computes it (and the other slow default answers) in one background thread at start-up
and after every ingest, through :meth:`StoreView.cached` under the very keys the routes
use; a request arriving meanwhile waits on the same computation instead of starting a
second one, and the dashboard shows a "computing" banner instead of waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any

from barrage.errors import BarrageError
from barrage.web.store import StoreView

logger = logging.getLogger("barrage.web")

Task = tuple[str, Hashable, Callable[[Any], Any]]
"""(cache name, params, compute(con)) as for :meth:`StoreView.cached`."""


class Warmer:
    """Runs ``tasks()`` in one daemon thread; a start while running runs them once more
    afterwards (the store may have changed meanwhile)."""

    def __init__(self, store: StoreView, tasks: Callable[[], list[Task]]) -> None:
        self.store = store
        self.tasks = tasks
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._stopped = False
        #: (version, name) -> message of the last failure, so pages can say why
        self.errors: dict[tuple[str, str], str] = {}

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self._stopped:
                return
            if self.busy:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="barrage-warm", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 0.0) -> None:
        with self._lock:
            self._stopped, self._again = True, False
            thread = self._thread
        if thread is not None and timeout_s > 0:
            thread.join(timeout_s)

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the current round (tests, benchmarks)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def error(self, name: str) -> str | None:
        """Why ``name`` could not be computed for the store as it is now, if it failed."""
        version = self.store.fresh_version()
        return None if version is None else self.errors.get((version, name))

    def _run(self) -> None:
        while True:
            for name, params, compute in self.tasks():
                if self._stopped:
                    return
                try:
                    self.store.cached(name, params, compute)
                except BarrageError as exc:
                    version = self.store.fresh_version()
                    if version is not None:
                        self.errors[(version, name)] = exc.message
                    logger.info("warming %s: %s", name, exc.message)
                except Exception:  # noqa: BLE001 - a warm-up must never take the server down
                    logger.exception("warming %s failed", name)
            with self._lock:
                if not self._again or self._stopped:
                    self._thread = None  # a start from now on begins a new round
                    return
                self._again = False
