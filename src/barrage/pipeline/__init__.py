"""Orchestration: the jobs that string several parts together, in one call each.

Above warning, grid, compute and report, below web and the CLI: the daily update (fetch,
ingest, assess, log), the main job ``run``, the report job, and ``assess`` with its log
entry. A part below never calls up to string the others; the CLI and the API call here
once and render.

Public API::

    from barrage.pipeline import run_main, run_update, assess_and_log, report_main
"""

from barrage.pipeline.assess import assess_and_log
from barrage.pipeline.main import ReportResult, RunResult, report_main, run_main
from barrage.pipeline.update import UpdateResult, run_update, update_lock_path

__all__ = [
    "ReportResult",
    "RunResult",
    "UpdateResult",
    "assess_and_log",
    "report_main",
    "run_main",
    "run_update",
    "update_lock_path",
]
