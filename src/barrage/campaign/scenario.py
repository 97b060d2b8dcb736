"""The campaign scenario: a strike scenario on the grid plus a season's doctrine and stocks.

One strict pydantic schema; every bad field gives one line naming the file and field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from barrage.errors import InputError
from barrage.salvo.scenario import Layer, format_validation_error, read_scenario_yaml

MAX_SEASON_DAYS = 366
#: The earliest and latest first day of a season: the season's dates stay in pandas'
#: range (2300-01-01 crashed the CLI).
START_RANGE = (dt.date(1900, 1, 1), dt.date(2200, 12, 31))
NonNegative = Annotated[float, Field(ge=0)]

#: Monthly mean air temperature at Kyiv, deg C, January first. January (-3.2), February
#: (-2.3) and December (-2.0) follow the 1991-2020 norm of the Borys Sreznevsky Central
#: Geophysical Observatory as stated in its monthly reports (January 2021: -2.5, "0.7 deg C
#: above the updated norm (1991-2020)"; February 2026: -5.3, "3 deg C below the norm";
#: winter 2025-26: -4.0, "1.5 deg C below the climatic norm"). March to November are an
#: ASSUMPTION close to the same normal period (no cited source here); see docs/campaign.md.
KYIV_NORMALS_C = (-3.2, -2.3, 1.9, 9.4, 15.4, 19.2, 21.0, 20.1, 14.6, 8.6, 2.8, -2.0)


class Range(BaseModel):
    """A quantity known only as a range: each run draws uniformly in ``[low, high]``."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"expected low <= high, got low={self.low}, high={self.high}")
        return self


class Attacker(BaseModel):
    """Stock, production and stated doctrine (all in weapons of the strike's mix)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    stock_start: Range
    production_per_day: Range
    strike_rate_per_day: float = Field(gt=0, le=1)
    min_lull_days: int = Field(default=5, ge=0, le=90)
    stock_share_per_strike: float = Field(default=0.25, gt=0, le=1)
    size_sigma: float = Field(default=0.3, ge=0, le=2)
    repeat_share: float = Field(default=0.3, ge=0, le=1)


class LayerStock(BaseModel):
    """A defender layer's interceptors at the start and delivered per day."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    stock: float = Field(ge=0)
    resupply_per_day: float = Field(default=0.0, ge=0)


class Climate(BaseModel):
    """Daily mean temperature: a supplied series from the start date, else the normals."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    temperature_c: list[float] = Field(default_factory=list, max_length=MAX_SEASON_DAYS)
    monthly_normals_c: tuple[float, ...] = Field(
        default=KYIV_NORMALS_C, min_length=12, max_length=12
    )


class Package(BaseModel):
    """A defence package for ``plan-defence --campaign``: what it adds and its cost."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    name: str = Field(min_length=1)
    cost_usd: float = Field(gt=0)
    interceptors: dict[str, NonNegative] = Field(default_factory=dict)
    resupply_per_day: dict[str, NonNegative] = Field(default_factory=dict)
    crews: int = Field(default=0, ge=0)
    spares: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    protection_factor: float = Field(default=1.0, ge=0, le=1)
    mobile_generation_mw: float = Field(
        default=0.0,
        ge=0,
        le=1e5,
        description="Mobile generation added, MW (serves shed "
        "load, critical classes first, from the strike scenario's mobile_deploy_days).",
    )


class CampaignScenario(BaseModel):
    """A season of strikes; see docs/campaign.md for every field."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    name: str = "campaign"
    strike: str = Field(min_length=1)
    start: dt.date = Field(ge=START_RANGE[0], le=START_RANGE[1])
    days: int = Field(ge=1, le=MAX_SEASON_DAYS)
    attacker: Attacker
    defender: dict[str, LayerStock] = Field(default_factory=dict)
    extra_layers: list[Layer] = Field(default_factory=list)
    spares_resupply_per_day: dict[str, NonNegative] = Field(default_factory=dict)
    climate: Climate = Field(default_factory=Climate)
    packages: list[Package] = Field(default_factory=list)
    budget_usd: float | None = Field(default=None, gt=0)
    source: str = Field(default="scenario", exclude=True)
    base_dir: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _budget_buys_something(self) -> CampaignScenario:
        if self.budget_usd is not None and self.packages:
            cheapest = min(p.cost_usd for p in self.packages)
            if self.budget_usd < cheapest:
                raise ValueError(
                    f"budget_usd: {self.budget_usd:g} is below the cheapest package "
                    f"({cheapest:g} USD); expected a budget >= {cheapest:g}"
                )
        return self


def campaign_from_dict(data: Any, *, source: str = "scenario", base_dir: Path | None = None):
    """Validate a parsed mapping; one line naming ``source`` and the field on error."""
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    data = dict(data)
    if isinstance(data.get("start"), str):
        try:
            data["start"] = dt.date.fromisoformat(data["start"])
        except ValueError:
            raise InputError(
                f"{source}: start: expected a date YYYY-MM-DD, got {data['start']!r}"
            ) from None
    try:
        return CampaignScenario.model_validate({**data, "source": source, "base_dir": base_dir})
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, source)) from None


def load_campaign(path: str | Path) -> CampaignScenario:
    """Read a campaign YAML file: a path, or the name of a bundled example."""
    examples = example_campaigns()
    p = examples.get(str(path), Path(path))
    return campaign_from_dict(read_scenario_yaml(p), source=str(path), base_dir=p.parent)


def example_campaigns() -> dict[str, Path]:
    """Campaign scenarios shipped with the package (illustrative), by stem."""
    from importlib import resources

    root = resources.files("barrage.campaign").joinpath("scenarios")
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def with_overrides(scenario: CampaignScenario, *, start=None, days=None) -> CampaignScenario:
    """The scenario with ``start`` / ``days`` replaced, checked like the file's fields."""
    data = scenario.model_dump()
    if start is not None:
        data["start"] = start
    if days is not None:
        data["days"] = days
    return campaign_from_dict(data, source=scenario.source, base_dir=scenario.base_dir)
