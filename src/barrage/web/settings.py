"""Server configuration: one pydantic settings model read from ``BARRAGE_*`` variables.

Defaults are safe: loopback only, uploads disabled until a token is set, small jobs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What the server may do; each field is ``BARRAGE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BARRAGE_", extra="ignore")

    db: Path = Field(default=Path("barrage.duckdb"), description="DuckDB store file.")
    upload_token: SecretStr | None = Field(
        default=None, description="Bearer token for POST /api/ingest; unset disables uploads."
    )
    max_upload_mb: float = Field(default=50.0, gt=0, description="Largest record upload, MB.")
    max_runs: int = Field(default=50_000, ge=1, description="Most Monte Carlo runs per job.")
    max_weapons: int = Field(default=5_000, ge=1, description="Most weapons in a job's salvo.")
    max_strike_runs: int = Field(
        default=5_000,
        ge=1,
        description="Most runs per strike job (a run restores a damaged grid for months).",
    )
    max_campaign_run_days: int = Field(
        default=6_000,
        ge=1,
        description="Most runs x days per campaign job (a run-day: one simulated night and "
        "its load-shed pricing; 40 runs x 150 days took 11 s of CPU on the 2-core machine).",
    )
    max_request_kb: float = Field(
        default=256.0, gt=0, description="Largest request body except uploads, kB."
    )
    warm: bool = Field(
        default=True,
        description="Compute the current assessment and the dashboard in the background at "
        "start-up and after an ingest (uncached, the assessment takes 10-20 s).",
    )
    max_job_memory_mb: float = Field(
        default=512.0,
        gt=0,
        description="Most memory a job's arrays may need, MB, estimated from its size "
        "(weapons x runs x layers x assets x slots) before it starts (barrage.salvo.cost).",
    )
    max_job_estimate_s: float = Field(
        default=600.0,
        gt=0,
        description="Jobs whose estimated time (barrage.salvo.cost) is over this are refused "
        "before they start; the others run and stop at BARRAGE_JOB_TIMEOUT_S.",
    )
    max_queue: int = Field(default=4, ge=1, description="Jobs queued or running at once.")
    job_timeout_s: float = Field(default=120.0, gt=0, description="Wall-clock limit per job.")
    keep_jobs: int = Field(default=100, ge=1, description="Finished jobs kept for polling.")
    store_wait_s: float = Field(
        default=2.0, ge=0, description="How long a request waits for a busy store before 503."
    )
    allowed_hosts: list[str] = Field(
        default=["127.0.0.1", "localhost", "::1", "testserver"],
        description="Host header values served (DNS-rebinding guard), as a JSON list in "
        "BARRAGE_ALLOWED_HOSTS; `barrage serve --host` adds its address; '*' serves any. "
        "'testserver' is the name test clients send.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Most seconds from a connection's first byte to the end of a request's "
        "headers; slower connections are closed (slow-header clients held connections "
        "open past 100 s).",
    )
    grid_dir: Path | None = Field(
        default=None,
        description="Folder of the test networks strike scenarios name; default: the first "
        "of ../shared/data/grid/pglib-opf beside the working directory or the store.",
    )
    keep_alive_s: int = Field(
        default=75,
        ge=1,
        le=3600,
        description=(
            "How long an idle HTTP connection is kept open. Longer than clients keep theirs "
            "(httpx 5 s, browsers up to about a minute): at uvicorn's default of 5 s a "
            "request sent as the server closed the idle connection failed "
            "(docs/reliability.md, F7)."
        ),
    )

    @field_validator("upload_token", mode="before")
    @classmethod
    def _blank_token_disables_uploads(cls, value: object) -> object:
        """An empty or blank token would accept an empty header: treat it as unset."""
        if value is None:
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return text if text.strip() else None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
