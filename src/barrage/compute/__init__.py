"""Scale-out: barrage's heavy work (salvo runs, strike Monte Carlo, backtests) on Dask.

One layer, no job system of its own: :func:`run_map` maps a module-level function over
chunks on ``scheduler="local"`` (a LocalCluster sized to the machine), an existing
cluster (``"tcp://HOST:PORT"``) or ``"sync"`` (this process), with results in chunk
order, an ``on_progress(done, total)`` hook, recomputation of chunks lost with a worker,
and cancellation on Ctrl-C. See docs/scale-out.md.

    from barrage.compute import simulate_salvo
    result = simulate_salvo(scenario, runs=1_000_000, seed=0, scheduler="local")
"""

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
from barrage.compute.salvo import simulate_salvo
from barrage.compute.strike import plan_defence_chunked, simulate_strike_chunked

__all__ = [
    "StoredBacktestRun",
    "backtest_reused_or_run",
    "SCHEDULER_HELP",
    "auto_chunk_size",
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
]
