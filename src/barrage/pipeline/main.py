"""The main job (``barrage run``) and the report job (``barrage report``), each one call.

Both cross parts: the record (ingest, summary), warning (assess, the stored backtest),
grid (the last strike's impact) and report (the HTML). They live here so the CLI makes
one call and renders, and no library part calls back up to string the others together.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from barrage.campaign import read_summary
from barrage.compute import backtest_reused_or_run
from barrage.compute.backtest import StoredBacktestRun
from barrage.errors import InputError
from barrage.files import check_output_file
from barrage.grid.replay import last_strike_impact_from_store
from barrage.record import ingest_record, locate_record, open_store
from barrage.record import summary as record_summary
from barrage.report import write_report
from barrage.warning import evaluate
from barrage.warning.assess import AssessInputs, assess, attach_skill, inputs_from_store
from barrage.warning.forecast_log import target_key
from barrage.warning.scorecard import scorecard

Progress = Callable[[int, int], None]
Notify = Callable[[str], None]


def _quiet(_message: str) -> None:
    """The default ``notify``: say nothing."""


@dataclass(frozen=True)
class RunResult:
    """What the main job did: the ingest (None: the store used as it was), the record's
    summary, the assessment with this run's measured skill, the backtest's verdict, the
    last strike's impact (or why it was skipped), and the report written."""

    ingest: dict | None
    summary: dict
    assessment: dict
    verdict: dict
    last_strike_impact: dict
    report: Path
    backtest: StoredBacktestRun

    def as_json(self) -> dict[str, Any]:
        """As ``barrage run --json`` prints it."""
        return {
            "ingest": self.ingest,
            "summary": self.summary,
            "assessment": self.assessment,
            "verdict": self.verdict,
            "last_strike_impact": self.last_strike_impact,
            "report": str(self.report),
        }


def ingest_or_use_store(record: Path | None, db: Path, notify: Notify = _quiet) -> dict | None:
    """Ingest the located record; with no record anywhere (no ``record``, no
    $BARRAGE_RECORD, no ./data) but a store that holds one, use the store as it is."""
    try:
        path = locate_record(record)
    except InputError:
        if record is not None or os.environ.get("BARRAGE_RECORD") or not db.is_file():
            raise
        notify(f"no record given or in ./data: using {db} as last ingested")
        return None
    notify(f"ingesting {path} into {db}")
    return ingest_record(path, db).as_dict()


def stored_backtest(
    db: Path, inputs: AssessInputs, on_progress: Progress | None = None
) -> StoredBacktestRun:
    """The default backtest, from the store when the record and code are unchanged, else
    run and stored (so the next ``run``, ``report`` and the dashboard reuse it)."""
    # read through the module, so a test (or a caller) can narrow the default plan
    plan = evaluate.default_plan(inputs.record)
    return backtest_reused_or_run(db, inputs, plan, on_progress=on_progress)


def last_strike_impact(db: Path) -> dict:
    """The impact section, or why it was skipped (no network files here)."""
    try:
        return last_strike_impact_from_store(db)
    except InputError as exc:
        return {"skipped": exc.message}


def run_main(
    record: Path | None,
    db: Path,
    out: Path,
    *,
    on_progress: Progress | None = None,
    notify: Notify = _quiet,
) -> RunResult:
    """Ingest the record, summarise it, assess the risk, write the report.

    With no record to find but a store at ``db``, it works from the store; the backtest
    is reused while the record and the code are unchanged. ``notify`` hears what is
    being ingested; ``on_progress(done, total)`` the backtest's refits when it runs."""
    check_output_file(out, param="out")
    ingested = ingest_or_use_store(record, db, notify)
    summary = record_summary(db)
    inputs = inputs_from_store(db, None, None)
    assessment = assess(inputs)
    stored = stored_backtest(db, inputs, on_progress)
    verdict = stored.summary["verdict"]
    assessment = attach_skill(assessment, stored.summary)  # measured skill
    impact = last_strike_impact(db)
    html = write_report(
        inputs,
        out,
        backtest=stored.result,
        assessment=assessment,
        summary=stored.summary,
        impact=impact,
    )
    return RunResult(ingested, summary, assessment, verdict, impact, html, stored)


@dataclass(frozen=True)
class ReportResult:
    """The report written, and the stored backtest it shows."""

    report: Path
    backtest: StoredBacktestRun


def report_main(
    db: Path,
    out: Path,
    *,
    target: str | None = None,
    weather: Any = None,
    on_progress: Progress | None = None,
    campaign: Path | None = None,
) -> ReportResult:
    """Write the HTML report: the stored backtest (run when stale) and the live
    scorecard beside it, so both speak of the same backtest; with ``campaign`` (a saved
    ``simulate campaign --json``, checked first) its fan charts too."""
    check_output_file(out, param="out")
    saved = None if campaign is None else read_summary(campaign).as_json()
    inputs = inputs_from_store(db, target, weather)
    stored = stored_backtest(db, inputs, on_progress)
    bt = stored.result
    with open_store(db) as con:
        card = scorecard(con, weather=weather, backtests={target_key(inputs.target): bt.forecasts})
    path = write_report(
        inputs, out, backtest=bt, scorecard=card, summary=stored.summary, campaign=saved
    )
    return ReportResult(path, stored)
