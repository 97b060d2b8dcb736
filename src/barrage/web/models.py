"""The API's request and response types (they are the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# declared once, in the library; the API answers with it
from barrage.campaign.scenario import MAX_SEASON_DAYS, START_RANGE
from barrage.campaign.summary import CampaignSummary
from barrage.grid.strike import StrikeSummary
from barrage.salvo.result import SalvoSummary
from barrage.warning.assessment import Assessment, Driver, Skill  # noqa: F401
from barrage.warning.scorecard import Scorecard  # noqa: F401


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer: one clear sentence, plus the field errors of a bad request."""

    detail: str
    errors: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    store: str = Field(description="Store file the server reads.")
    store_version: str | None = Field(description="'<ingest_id>:<sha256>' of the newest ingest.")
    store_error: str | None = None
    jobs_active: int
    assessment_available: bool
    strike_simulation_available: bool


class LargestNight(BaseModel):
    night: str
    launched_total: int
    launched_by_class: dict[str, int]


class Summary(BaseModel):
    first_night: str
    last_night: str
    nights: int
    massive_nights: int
    massive_threshold_missiles: int
    launched_by_class_year: dict[str, dict[str, int]]
    destroyed_by_class_year: dict[str, dict[str, int]]
    largest_nights: list[LargestNight]
    rows_stored: int
    rows_regional_duplicate: int
    rows_quarantined: int
    attribution: str


class Night(BaseModel):
    night: dt.date
    launched_by_class: dict[str, int]
    destroyed_by_class: dict[str, int]
    missiles_launched: int = Field(description="cruise + ballistic + mixed")
    massive: bool = Field(description="missiles_launched >= the massive-strike threshold")


class NightsPage(BaseModel):
    total: int = Field(description="Nights matching the filters, all pages.")
    offset: int
    limit: int
    start: dt.date | None
    end: dt.date | None
    weapon_class: str | None
    items: list[Night]


class IndicatorValue(BaseModel):
    name: str
    unit: str
    meaning: str
    value: float | None
    percentile: float | None = Field(description="Last value as a percentile of its history.")
    history: list[tuple[dt.date, float | None]] = Field(
        description="(as_of, value) for the requested window, oldest first."
    )


class Indicators(BaseModel):
    as_of: dt.date
    target: str
    target_expression: str
    days: int
    indicators: list[IndicatorValue]


class ForecastPoint(BaseModel):
    as_of: dt.date
    horizon_days: int
    p: float | None
    outcome: int | None = Field(description="1 if a target night followed within the horizon.")


class ReliabilityBins(BaseModel):
    forecast: list[float] = Field(description="Mean forecast per probability bin.")
    observed: list[float] = Field(description="Observed frequency per bin.")
    count: list[int]


class Backtest(BaseModel):
    """The newest stored backtest (``barrage backtest --save`` or ``barrage run``)."""

    model_config = ConfigDict(extra="allow")
    target: str
    target_expression: str
    run_id: int
    created_at: str
    model_version: str
    record_sha256: str = Field(description="SHA-256 of the record file the run used.")
    start: str
    end: str
    horizons: list[int]
    models: list[str]
    primary_model: str
    scores: list[dict[str, Any]] = Field(
        description="Per horizon, model and period: metrics with 90% block-bootstrap intervals."
    )
    history: list[ForecastPoint] = Field(
        description="The primary model's forecasts and outcomes, every horizon."
    )
    event_nights: list[str] = Field(description="Target nights in the run's record.")
    reliability: dict[str, ReliabilityBins] = Field(
        description="Reliability of the primary model, by horizon (days)."
    )
    verdict: dict[str, Any] | None = Field(
        None,
        description="The pre-registered primary model against every baseline (paired "
        "bootstrap), as `barrage backtest --json`; absent in runs stored before it existed.",
    )


class SalvoJobRequest(BaseModel):
    """A salvo simulation: an example scenario by name, or a full scenario object."""

    model_config = ConfigDict(extra="forbid")
    scenario: str | None = Field(
        default=None, description="Name of a bundled scenario (GET /api/scenarios)."
    )
    scenario_spec: dict[str, Any] | None = Field(
        default=None, description="A full scenario (the YAML schema of docs/salvo.md) as JSON."
    )
    runs: int = Field(
        default=2000, ge=1, strict=True, description="Monte Carlo runs (server limit applies)."
    )
    seed: int = Field(default=0, ge=0, le=2**63 - 1, strict=True)


class StrikeJobRequest(BaseModel):
    """A strike simulation (salvo -> damage -> unserved energy): a bundled strike scenario
    by name, or a full one whose network is a bundled test network."""

    model_config = ConfigDict(extra="forbid")
    scenario: str | None = Field(
        default=None, description="Name of a bundled strike scenario (GET /api/scenarios)."
    )
    scenario_spec: dict[str, Any] | None = Field(
        default=None,
        description="A full strike scenario (the YAML schema of docs/grid.md) as JSON; "
        "grid.network must name a file of the server's network folder.",
    )
    runs: int = Field(default=256, ge=1, description="Monte Carlo runs (server limit applies).")
    seed: int = Field(default=0, ge=0, le=2**63 - 1)


class CampaignJobRequest(BaseModel):
    """A small campaign (a season night by night, illustrative) from a bundled campaign
    scenario; runs x days is bounded by the server (BARRAGE_MAX_CAMPAIGN_RUN_DAYS)."""

    model_config = ConfigDict(extra="forbid")
    scenario: str | None = Field(
        default=None,
        max_length=64,
        description="Name of a bundled campaign scenario (default: the first).",
    )
    start: dt.date | None = Field(
        default=None,
        ge=START_RANGE[0],
        le=START_RANGE[1],
        description="First day (default: the file's).",
    )
    days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SEASON_DAYS,
        strict=True,
        description="Season length (default: the file's).",
    )
    runs: int = Field(default=40, ge=1, strict=True, description="Monte Carlo runs (seasons).")
    seed: int = Field(default=0, ge=0, le=2**63 - 1, strict=True)


class JobProgress(BaseModel):
    done: int
    total: int
    fraction: float


class JobStatus(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed", "cancelled", "timed_out"]
    progress: JobProgress
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    request: dict[str, Any]
    result: StrikeSummary | SalvoSummary | CampaignSummary | dict[str, Any] | None = Field(
        default=None,
        description="The simulation's summary (as `--json`) once done: a strike job's is a "
        "StrikeSummary, a salvo job's a SalvoSummary, a campaign job's a CampaignSummary (a "
        "custom runner's, its own dict).",
    )
    error: str | None = None
    unserved_energy_note: str | None = None


class ScenarioInfo(BaseModel):
    name: str
    kind: Literal["salvo", "strike"] = Field(
        default="salvo", description="The job it is for: POST /api/jobs/<kind>."
    )
    description: str
    weapons: int
    layers: list[str]


class IngestResult(BaseModel):
    rows_read: int
    rows_added: int
    rows_updated: int
    rows_unchanged: int
    rows_quarantined: int
    unknown_models: list[str]
    quarantine_reasons: dict[str, int]
    new_nights: list[str]
    source_file_sha256: str
    store_version: str
