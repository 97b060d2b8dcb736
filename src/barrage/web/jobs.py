"""Simulation jobs: submit, poll progress, fetch the result, cancel.

Bounded on every side: a job may ask for at most ``max_runs`` runs, at most
``max_queue`` jobs wait or run at once (the next is refused, not queued), one job runs at
a time (two cores), and a job running past ``timeout_s`` or cancelled stops at its next
chunk of runs. The work itself (a salvo, a strike, a campaign) runs in this process,
whose ``on_progress(done, total)`` hook feeds the progress and the stop checks.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from barrage.campaign.summary import CampaignSummary
from barrage.compute.salvo import simulate_salvo
from barrage.compute.strike import simulate_strike_chunked
from barrage.errors import BarrageError
from barrage.grid.strike import StrikeSummary
from barrage.pipeline.simulate import campaign_job
from barrage.salvo.result import SalvoSummary

JobState = Literal["queued", "running", "done", "failed", "cancelled", "timed_out"]
FINISHED: tuple[JobState, ...] = ("done", "failed", "cancelled", "timed_out")


class QueueFull(BarrageError):
    """Too many jobs waiting or running."""


class _Stop(Exception):
    """Raised from the progress hook to stop a job between chunks."""

    def __init__(self, state: JobState) -> None:
        super().__init__(state)
        self.state = state


@dataclass
class Job:
    id: str
    kind: str
    request: dict
    state: JobState = "queued"
    done: int = 0
    total: int = 0
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: SalvoSummary | StrikeSummary | CampaignSummary | dict | None = None
    error: str | None = None
    cancel_requested: bool = False


Runner = Callable[[Callable[[int, int], None]], dict]
"""A job's work: called with ``on_progress(done, total)``, returns a JSON-ready dict."""


class JobManager:
    """In-memory jobs with a bounded queue and one worker thread."""

    def __init__(self, *, max_queue: int, timeout_s: float, keep: int = 100) -> None:
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="barrage-job")

    def active(self) -> int:
        return sum(j.state in ("queued", "running") for j in self._jobs.values())

    def submit(self, kind: str, request: dict, runner: Runner, *, total: int) -> Job:
        with self._lock:
            if self.active() >= self.max_queue:
                raise QueueFull(
                    f"job queue full ({self.max_queue} jobs queued or running); "
                    "wait for one to finish or cancel one"
                )
            job = Job(id=uuid.uuid4().hex, kind=kind, request=request, total=total)
            self._jobs[job.id] = job
            self._trim()
        self._pool.submit(self._run, job, runner)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def kept(self) -> list[Job]:
        """The jobs this server keeps, oldest first (a copy: safe while jobs change)."""
        return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        with self._lock:
            if job.state == "queued":
                job.state, job.finished_at = "cancelled", time.time()
            elif job.state == "running":
                job.cancel_requested = True
        return job

    def shutdown(self) -> None:
        for job in list(self._jobs.values()):
            self.cancel(job.id)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _trim(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.state in FINISHED]
        for job_id in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[job_id]

    def _run(self, job: Job, runner: Runner) -> None:
        with self._lock:
            if job.state != "queued":
                return  # cancelled while waiting
            job.state, job.started_at = "running", time.time()
        deadline = time.monotonic() + self.timeout_s

        def on_progress(done: int, total: int) -> None:
            job.done, job.total = int(done), int(total)
            if job.cancel_requested:
                raise _Stop("cancelled")
            if time.monotonic() > deadline:
                raise _Stop("timed_out")

        try:
            result = runner(on_progress)
        except _Stop as stop:
            state: JobState = stop.state
            job.error = (
                "cancelled on request"
                if state == "cancelled"
                else f"stopped after the {self.timeout_s:g} s job time limit"
            )
        except BarrageError as exc:
            state, job.error = "failed", exc.message
        except MemoryError:
            state, job.error = "failed", "out of memory: ask for fewer runs or weapons"
        except Exception as exc:  # noqa: BLE001 - a job must never take the server down
            state, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        else:
            state, job.result = "done", result
        with self._lock:
            job.state, job.finished_at = state, time.time()
        release_memory()


def release_memory() -> None:
    """Give freed heap back to the system after a job (glibc keeps it otherwise: after
    one large job the server stayed at 1.36 GB). A no-op where there is no glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def salvo_runner(scenario: Any, *, runs: int, seed: int, chunk_runs: int = 1024) -> Runner:
    """The work of a salvo job: the library's simulation, progress per block of runs."""

    def run(on_progress: Callable[[int, int], None]) -> SalvoSummary:
        result = simulate_salvo(
            scenario,
            runs=runs,
            seed=seed,
            scheduler="sync",
            chunk_runs=chunk_runs,
            on_progress=on_progress,
        )
        return SalvoSummary.model_validate(result.summary())

    return run


def strike_runner(scenario: Any, *, runs: int, seed: int, grid_dir: Any = None) -> Runner:
    """The work of a strike job: salvo -> damage -> load shed -> restoration, as the CLI's
    ``barrage simulate strike`` (:func:`barrage.compute.strike.simulate_strike_chunked`),
    progress at each of the library's steps."""

    def run(on_progress: Callable[[int, int], None]) -> StrikeSummary:
        on_progress(0, runs)
        # The library counts its own steps (draws, solves, restoration); the job reports
        # progress in runs, and stops (cancel, time limit) between steps. The job thread
        # is the worker: no cluster.
        result = simulate_strike_chunked(
            scenario,
            runs=runs,
            seed=seed,
            grid_dir=grid_dir,
            scheduler="sync",
            on_progress=lambda done, total: on_progress(runs * done // max(total, 1), runs),
        )
        return StrikeSummary.model_validate(result.summary())

    return run


def campaign_runner(
    scenario: str, *, runs: int, seed: int, start: str | None, days: int | None, grid_dir: Any
) -> Runner:
    """The work of a campaign job: ``barrage simulate campaign`` in the job thread (no
    cluster), the same summary as its ``--json``. Progress (and the cancel and time-limit
    checks) come after each chunk of 25 runs; the load-shed pricing after the last chunk
    reports none, so the server bounds runs x days before the job starts."""

    def run(on_progress: Callable[[int, int], None]) -> CampaignSummary:
        @contextlib.contextmanager
        def progress(description: str):
            yield on_progress  # the job's hook: runs done, cancel and time-limit checks

        summary = campaign_job(
            scenario, runs=runs, seed=seed, start=start, days=days, grid_dir=grid_dir,
            scheduler="sync", progress=progress,
        )  # fmt: skip
        return CampaignSummary.model_validate(summary)

    return run
