"""The assessment, declared once: what :func:`barrage.warning.assess.assess` says.

The library builds the assessment as a plain mapping (the forecast log hashes it, the
report and the CLI read it); this model is its one declaration. The API answers with it
(``response_model``), and ``barrage assess --json`` prints it dumped, so the two cannot
drift apart. Fields are in the order the library writes them, so a dump is the same JSON
byte for byte; unknown keys are kept (a logged assessment carries ``log``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Number = float | int | None
"""A number as the library wrote it (an int stays an int in the dump)."""


class Driver(BaseModel):
    """One term of the driver model's log-odds, in numbers and in words."""

    model_config = ConfigDict(extra="allow")
    indicator: str
    value: Number = Field(description="The indicator's value on the as-of day.")
    percentile: Number = Field(description="Its percentile in its own history (0-100).")
    log_odds: Number = Field(description="The term's contribution to the log-odds.")
    effect: Number
    meaning: str
    sentence: str = Field(description="The driver in words.")


class Skill(BaseModel):
    """The measured skill of the model behind the level (from a stored backtest)."""

    model_config = ConfigDict(extra="allow")
    demonstrated: bool = Field(description="True only when the skill's 90% interval is above 0.")
    statement: str = Field(description="Shown beside the level, always.")


class LaunchSkill(BaseModel):
    """What one group's expected-launch interval is worth, from a stored backtest: the
    registered launch model's 10-90% coverage against the aim and its mean pinball loss
    beside the naive recent quantiles' (:func:`barrage.warning.verdict.launch_skill`).
    The figures are None when no stored backtest scored it."""

    model_config = ConfigDict(frozen=True)
    model: str = Field(description="The registered launch model of the group.")
    horizon_d: int
    measured: bool = Field(description="False when no stored backtest scored it.")
    aim_coverage: tuple[float, float] = Field(description="The registered 10-90% coverage aim.")
    statement: str = Field(description="Shown beside the expected launches, always.")
    period: str | None = Field(None, description="The scored period read.")
    origins: int | None = None
    coverage_80: float | None = Field(None, description="Share of outcomes inside 10-90%.")
    coverage_in_aim: bool | None = None
    pinball: float | None = Field(None, description="Mean 10/50/90% quantile loss, launches.")
    naive_pinball: float | None = Field(None, description="The naive recent quantiles' loss.")
    beats_naive: bool | None = Field(None, description="Pinball below the naive's (not a tie).")


class Assessment(BaseModel):
    """The warning as ``barrage assess --json`` gives it."""

    model_config = ConfigDict(extra="allow")
    as_of: str
    issued_at: str = Field(description="12:00 Europe/Kyiv on the as-of day.")
    target: dict[str, str] = Field(description="{name, expression} of the target night.")
    p: dict[str, float] = Field(description="P(target night within k days), k = '1','3','7'.")
    level: str
    level_rule: str
    skill: Skill = Field(description="The measured skill of the model behind the level.")
    model: str = Field(description="The registered primary model of the target.")
    driver_model: str
    p_by_model: dict[str, dict[str, float]]
    expected_launches: dict[str, Any] | None = None
    launch_skill: dict[str, LaunchSkill] = Field(
        default_factory=dict,
        description="Per launch group, the measured worth of its 7-day interval.",
    )
    expected_next_strike: dict[str, Any]
    drivers: list[Driver]
    attribution: dict[str, Any]
    indicators: dict[str, Any] = Field(
        description="Each indicator today: value, percentile, unit, meaning."
    )
    stale: dict[str, Any] | None = Field(
        None, description="Set when the record is stale on the as-of day (then a warning)."
    )
    warnings: list[str] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """As ``barrage assess --json`` prints it (the library's mapping, key for key)."""
        return self.model_dump(mode="json")
