"""Scale-out: barrage's heavy work (salvo runs, strike Monte Carlo, backtests) on Dask.

One layer, no job system of its own: :func:`run_map` maps a module-level function over
chunks on ``scheduler="local"`` (a LocalCluster sized to the machine), an existing
cluster (``"tcp://HOST:PORT"``) or ``"sync"`` (this process), with results in chunk
order, an ``on_progress(done, total)`` hook, recomputation of chunks lost with a worker,
and cancellation on Ctrl-C. See docs/scale-out.md.

    from barrage.compute import simulate_salvo
    result = simulate_salvo(scenario, runs=1_000_000, seed=0, scheduler="local")

The names below are imported on first use, not with the package: every Dask worker
imports ``barrage.compute.executor`` to run a task, and importing the backtest and strike
modules with it (scipy, scikit-learn, pandapower: 1.5 s of one core) made a fresh
cluster's first salvo map 3 s slower (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from barrage.compute.backtest import (
        StoredBacktestRun,
        backtest_reused_or_run,
        run_backtest_in_chunks,
        run_backtest_on,
    )
    from barrage.compute.executor import (
        SCHEDULER_HELP,
        auto_chunk_size,
        check_scheduler,
        check_workers,
        chunk_seeds,
        dask_client,
        map_on,
        plan_chunks,
        progress_bar,
        run_map,
        start_local_cluster,
    )
    from barrage.compute.grid import shed_load_in_chunks
    from barrage.compute.salvo import simulate_salvo, summarise_salvo
    from barrage.compute.strike import plan_defence_chunked, simulate_strike_chunked

_HOME = {
    "barrage.compute.backtest": (
        "StoredBacktestRun",
        "backtest_reused_or_run",
        "run_backtest_in_chunks",
        "run_backtest_on",
    ),
    "barrage.compute.executor": (
        "SCHEDULER_HELP",
        "auto_chunk_size",
        "check_scheduler",
        "check_workers",
        "chunk_seeds",
        "dask_client",
        "map_on",
        "plan_chunks",
        "progress_bar",
        "run_map",
        "start_local_cluster",
    ),
    "barrage.compute.grid": ("shed_load_in_chunks",),
    "barrage.compute.salvo": ("simulate_salvo", "summarise_salvo"),
    "barrage.compute.strike": ("plan_defence_chunked", "simulate_strike_chunked"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = [
    "SCHEDULER_HELP",
    "StoredBacktestRun",
    "auto_chunk_size",
    "backtest_reused_or_run",
    "check_scheduler",
    "check_workers",
    "chunk_seeds",
    "dask_client",
    "map_on",
    "plan_chunks",
    "plan_defence_chunked",
    "progress_bar",
    "run_backtest_in_chunks",
    "run_backtest_on",
    "run_map",
    "shed_load_in_chunks",
    "simulate_salvo",
    "simulate_strike_chunked",
    "start_local_cluster",
    "summarise_salvo",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'barrage.compute' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
