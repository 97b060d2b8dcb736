"""One execution layer for barrage's heavy work: map a function over chunks on Dask.

Every heavy job (salvo runs, strike scenarios, backtest folds) is a list of independent
chunks and a pure function of one chunk. :func:`run_map` runs it

* ``"sync"``: in this process, one chunk after the other (debugging, small jobs);
* ``"local"``: on a ``distributed.LocalCluster`` started for the call (one process per
  worker, one thread each) and stopped after it;
* ``"auto"``: the heavy entry points (``simulate_salvo``, ``shed_load_in_chunks``) pick
  ``"sync"`` for jobs too small to repay a cluster's start-up, else ``"local"``;
* ``"tcp://HOST:PORT"``: on an existing Dask cluster (``dask-scheduler`` and
  ``dask-worker``, dask-jobqueue, Dask on Kubernetes; see docs/scale-out.md);
* a ``distributed.Client`` already connected (a service reusing one cluster).

Results come back in chunk order whatever finished first, so a reduction in that order is
the same on any scheduler. Randomness belongs to fixed blocks seeded from
``SeedSequence(seed)`` (:func:`chunk_seeds`), not to chunks, so the chunk size changes
nothing but speed. A chunk lost with a dead worker is recomputed by Dask from the same
inputs, so the result is unchanged. On Ctrl-C the tasks are cancelled and a cluster
started here is closed with its worker processes.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import math
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from barrage.errors import InputError

Progress = Callable[[int, int], None]
"""``on_progress(done, total)``: called after each finished chunk (and once at 0)."""

SCHEDULER_HELP = (
    "Where heavy work runs: local (a LocalCluster on this machine), tcp://HOST:PORT "
    "(an existing Dask scheduler), sync (this process, no parallelism) or auto (sync for "
    "small jobs, else local)."
)
_REMOTE_PREFIXES = ("tcp://", "tls://", "inproc://")
_NO_CONTEXT = object()
CONNECT_TIMEOUT_S = 10.0
"""How long to try reaching a ``tcp://`` scheduler before giving up."""


def check_scheduler(scheduler: Any) -> Any:
    """Validate a scheduler spec; returns it unchanged (a string or a Client)."""
    if not isinstance(scheduler, str):
        if hasattr(scheduler, "submit") and hasattr(scheduler, "scheduler_info"):
            return scheduler  # a distributed.Client
        raise InputError(f"scheduler: expected a string or a Dask Client, got {scheduler!r}")
    if scheduler in ("sync", "local", "auto"):
        return scheduler
    if scheduler.startswith(_REMOTE_PREFIXES):
        _check_address(scheduler)
        return scheduler
    raise InputError(
        f"scheduler: expected 'local', 'sync', 'auto' or a scheduler address like "
        f"'tcp://HOST:8786', got {scheduler!r}"
    )


def _check_address(address: str) -> None:
    """A remote address names a host and, if any, a valid port: ``tcp://`` alone was a
    traceback from Dask after a 20 s time-out."""
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    try:
        parts.port  # noqa: B018 (raises on a port that is not 0..65535)
    except ValueError as exc:
        raise InputError(
            f"scheduler: {address!r} has a bad port ({exc}); expected an address like "
            "'tcp://HOST:8786'"
        ) from None
    if not parts.hostname:
        raise InputError(
            f"scheduler: {address!r} names no host; expected an address like 'tcp://HOST:8786'"
        )


def resolve_auto(scheduler: Any, work: int, threshold: int) -> Any:
    """``"auto"``: ``"local"`` when ``work >= threshold``, else ``"sync"``."""
    if isinstance(scheduler, str) and scheduler == "auto":
        return "local" if work >= threshold else "sync"
    return scheduler


WORKERS_PER_CORE = 4
"""Most local worker processes per core: each starts an interpreter with numpy and the
library (about 350 MB) before any work, so ``--workers 10**6`` would fork until the
machine ran out of memory."""


def check_workers(workers: int | None, scheduler: Any = "local") -> int | None:
    """Validate ``workers`` (``None``: one per core): positive, and, where they would be
    forked here (a local or auto scheduler), at most :data:`WORKERS_PER_CORE` per core of
    this machine; a remote cluster's size is its own."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers: expected a positive number of workers, got {workers!r}")
    forked_here = isinstance(scheduler, str) and scheduler in ("local", "auto")
    most = WORKERS_PER_CORE * max(1, os.cpu_count() or 1)
    if forked_here and workers is not None and workers > most:
        raise InputError(
            f"workers: expected at most {most} worker processes ({WORKERS_PER_CORE} per core "
            f"of this machine; each holds its own interpreter), got {workers:,}"
        )
    return workers


def check_run(scheduler: Any, workers: int | None) -> Any:
    """Validate where a job runs (:func:`check_scheduler`, :func:`check_workers`) before
    any of its inputs are read, so a bad flag fails first; returns ``scheduler``."""
    check_scheduler(scheduler)
    check_workers(workers, scheduler)
    return scheduler


def plan_chunks(total: int, chunk_size: int) -> list[range]:
    """Cut ``0 .. total-1`` into consecutive ranges of ``chunk_size`` (the last shorter)."""
    if not isinstance(total, int | np.integer) or total < 0:
        raise InputError(f"total: expected a non-negative integer, got {total!r}")
    if not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise InputError(f"chunk size: expected a positive integer, got {chunk_size!r}")
    return [range(lo, min(lo + chunk_size, total)) for lo in range(0, total, chunk_size)]


def chunk_seeds(seed: int | np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds of ``seed``: child ``i`` is the same for any ``n > i``.

    Give them to fixed blocks of work (not to chunks of a size chosen for speed), so that
    regrouping blocks into chunks changes no number.
    """
    if n < 0:
        raise InputError(f"n: expected a non-negative number of seeds, got {n}")
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(n)


def auto_chunk_size(
    total: int, n_workers: int, *, min_size: int = 1, max_size: int | None = None
) -> int:
    """A chunk size giving about four chunks per worker (load balance after a worker is
    lost, a progress bar that moves), within ``min_size .. max_size``.

    ``min_size`` is where the per-chunk overhead becomes negligible (measured in
    benchmarks/bench_compute.py); ``max_size`` bounds a chunk's memory.
    """
    size = max(min_size, math.ceil(total / max(1, 4 * n_workers)))
    if max_size is not None:
        size = min(size, max_size)
    return max(1, size)


def local_workers(workers: int | None = None) -> int:
    """Worker processes for a LocalCluster: ``workers`` or one per core."""
    return check_workers(workers) or max(1, os.cpu_count() or 1)


WORKER_ENVIRON_UNSET = ("MALLOC_TRIM_THRESHOLD_",)
"""Variables Dask's nanny would set in worker processes that barrage leaves unset.

``MALLOC_TRIM_THRESHOLD_=65536`` (Dask's default) also switches off glibc's dynamic mmap
threshold, so every large numpy temporary becomes a fresh mmap and its pages fault in
again: the salvo engine ran 1.95x slower in such a worker, and 1.7-2.1x slower in a plain
process with the variable set (benchmarks/bench_compute.py). For workers started by hand, see docs/scale-out.md."""


WORKER_SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
}
"""Dask settings of the LocalClusters barrage starts: fewer wake-ups of threads that
take the GIL from the salvo's GIL-bound numpy chunks. The workers' statistical profiler
(every 10 ms, for the dashboard) cost about 4-6% of the task time in extra worker CPU; the
event loops' health tick (20 ms), system monitor (0.5 s) and memory monitor (0.1 s) at
Dask's defaults cost a 2-worker cluster about 0.5 s of CPU per 10 s idle, 0.2 s at these
settings, and about 5% of a 524,288-run salvo's CPU (docs/benchmarks.md). A command's
own short-lived cluster has no one watching its dashboard; start one by hand to profile."""


def worker_start_method() -> str:
    """How a LocalCluster's worker processes start: ``fork`` on Linux, else ``spawn``.

    A spawned worker is a fresh interpreter that imports distributed, numpy and barrage
    before its first task: 2.2-2.4 s of wall time and 1.3 s of CPU for a 2-worker
    cluster on the 2-core machine, against 0.43-0.44 s and 0.16 s forked from the command's
    process, which has them imported already (docs/benchmarks.md). Dask supports
    ``fork``; it is kept to Linux, where no system framework forbids it, and the cluster
    is started before the progress bar's thread (:func:`progress_bar` starts it on the
    first report), so only Dask's own threads run when the workers fork.
    """
    return "fork" if sys.platform == "linux" else "spawn"


def start_local_cluster(n_workers: int, *, silence_logs: int = logging.ERROR) -> Any:
    """A LocalCluster of ``n_workers`` processes with one thread each on this machine
    (its dashboard, if bokeh is installed, on a free port: ``cluster.dashboard_link``)."""
    import dask
    from distributed import LocalCluster

    settings: dict[str, Any] = {
        f"distributed.nanny.pre-spawn-environ.{k}": None for k in WORKER_ENVIRON_UNSET
    }
    settings["distributed.worker.multiprocessing-method"] = worker_start_method()
    settings.update(WORKER_SETTINGS)
    with dask.config.set(settings):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: no clash with another cluster's 8787
            silence_logs=silence_logs,
        )


@contextlib.contextmanager
def dask_client(scheduler: Any = "local", *, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler`` (``None`` for ``"sync"``).

    ``"local"`` starts a LocalCluster of ``workers`` processes (default: one per core),
    one thread each, and closes it, worker processes included, on leaving (also on
    Ctrl-C). An address connects to that cluster and only disconnects on leaving. A Client
    passed in is used as it is and left open.
    """
    scheduler = check_scheduler(scheduler)
    check_workers(workers, scheduler)
    if not isinstance(scheduler, str):
        yield scheduler
        return
    if scheduler == "sync":
        yield None
        return
    from distributed import Client

    if scheduler in ("local", "auto"):  # auto: the caller judged the job big enough
        cluster = start_local_cluster(local_workers(workers))
        try:
            client = Client(cluster, set_as_default=False)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"scheduler: cannot reach a Dask scheduler at {scheduler} ({exc}); start one "
            "with `dask-scheduler` or use 'local'"
        ) from None
    try:
        yield client
    finally:
        client.close()


def n_workers_of(client: Any) -> int:
    """Worker threads a client can use (1 for sync)."""
    if client is None:
        return 1
    return max(1, sum(client.nthreads().values()))


def run_map(
    func: Callable[..., Any],
    chunks: Sequence[Any],
    *,
    scheduler: Any = "local",
    workers: int | None = None,
    on_progress: Progress | None = None,
    context: Any = _NO_CONTEXT,
    weights: Sequence[int] | None = None,
) -> list[Any]:
    """``[func(chunk) for chunk in chunks]`` on ``scheduler``, results in chunk order.

    ``context``: one object every call needs (a compiled scenario, a network); it is sent
    to each worker once and the calls become ``func(context, chunk)``. ``func`` must be
    importable by the workers (a module-level function, not a lambda or a closure).
    ``weights``: what each chunk counts for in ``on_progress(done, total)`` (default 1,
    so progress is in chunks; the salvo passes runs).
    """
    chunks = list(chunks)
    weights = [1] * len(chunks) if weights is None else [int(w) for w in weights]
    if len(weights) != len(chunks):
        raise InputError(
            f"weights: expected {len(chunks)} values (one per chunk), got {len(weights)}"
        )
    with dask_client(scheduler, workers=workers) as client:
        return map_on(
            client, func, chunks, on_progress=on_progress, context=context, weights=weights
        )


def map_on(
    client: Any,
    func: Callable[..., Any],
    chunks: list[Any],
    *,
    on_progress: Progress | None = None,
    context: Any = _NO_CONTEXT,
    weights: list[int] | None = None,
) -> list[Any]:
    """:func:`run_map` on an open client (``None``: in this process)."""
    weights = [1] * len(chunks) if weights is None else weights
    total = sum(weights)
    if on_progress is not None:
        on_progress(0, total)
    if client is None:
        out, done = [], 0
        for chunk, w in zip(chunks, weights, strict=True):
            out.append(func(chunk) if context is _NO_CONTEXT else func(context, chunk))
            done += w
            if on_progress is not None:
                on_progress(done, total)
        return out
    return _map_distributed(client, func, chunks, on_progress, context, weights, total)


_CONTEXTS: collections.OrderedDict[str, Any] = collections.OrderedDict()
"""Contexts unpickled in this worker process, by digest; the newest few are kept."""
_CONTEXTS_KEPT = 2
_CONTEXTS_LOCK = threading.Lock()


def _call_with_context(func: Callable[..., Any], digest: str, blob: bytes, chunk: Any) -> Any:
    """``func(context, chunk)`` with the context unpickled once per worker, not per task.

    The context travels as one pickled ``bytes``: scattered bare, a tuple or dict is split
    into a future per element (a solved-set table of 7,000 entries became 7,000 futures:
    2.4 s to broadcast 0.9 MB), and even wrapped whole it took 0.14 s; as bytes 0.01 s
    (benchmarks/bench_compute.py). ``digest`` (of the bytes, made by the client) names it
    in a small per-process cache, so two maps sharing a worker each find their own, and
    threads of one worker unpickle it once. ``func`` must not modify the context.
    """
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(digest)
        if context is None:
            context = pickle.loads(blob)  # cloudpickle's output is plain pickle
            _CONTEXTS[digest] = context
            while len(_CONTEXTS) > _CONTEXTS_KEPT:
                _CONTEXTS.popitem(last=False)
        else:
            _CONTEXTS.move_to_end(digest)
    return func(context, chunk)


def _map_distributed(client, func, chunks, on_progress, context, weights, total) -> list[Any]:
    from distributed import as_completed

    futures: list[Any] = []
    shared = None
    try:
        call: Callable[..., Any] = func
        args: tuple = ()
        if context is not _NO_CONTEXT:
            # one copy per worker; a replacement worker fetches it from a peer
            import cloudpickle  # Dask's own: lambdas and local classes in a context too

            blob = cloudpickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)
            digest = hashlib.sha256(blob).hexdigest()
            shared = client.scatter(blob, broadcast=True, hash=False)
            call, args = _call_with_context, (func, digest, shared)
        # earlier chunks first: the progress bar and a Ctrl-C leave the fewest gaps
        futures = [
            client.submit(call, *args, chunk, pure=False, priority=-i)
            for i, chunk in enumerate(chunks)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(chunks)
        done = 0
        for future in as_completed(futures, loop=client.loop):
            i = index[future.key]
            results[i] = future.result()
            future.release()  # the worker may drop it now
            done += weights[i]
            if on_progress is not None:
                on_progress(done, total)
        return results
    except BaseException:
        # Ctrl-C or a failed chunk: stop everything still queued or running
        with contextlib.suppress(Exception):
            client.cancel([f for f in futures if f.status != "finished"], force=True)
        raise
    finally:
        if shared is not None:
            with contextlib.suppress(Exception):
                client.cancel([shared])


@contextlib.contextmanager
def progress_bar(description: str, *, console: Any = None) -> Iterator[Progress]:
    """A rich progress bar on stderr, fed through the ``on_progress(done, total)`` hook.

    The bar (and its refresh thread) starts with the first report, which comes once the
    work is set up: worker processes forked by :func:`start_local_cluster` before then
    inherit no thread of it (see :func:`worker_start_method`).
    """
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    bar = RichProgress(console=console or Console(stderr=True), transient=True)
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        if not bar.live.is_started:  # the first report: the cluster, if any, is up
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()
