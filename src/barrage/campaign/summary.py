"""Summaries of campaign runs: per run totals as mean, p05, p50, p95 and CVaR95, and the
same quantiles day by day for fan charts (one sample axis: runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from barrage.errors import InputError
from barrage.files import read_bounded
from barrage.grid.network import PRIORITY_CLASSES
from barrage.grid.strike import Stats, summarise_tail
from barrage.salvo.scenario import format_validation_error

_H_PER_DAY = 24.0
WEEK_D = 7


CVAR_SHARE = 0.05


def fan(values: np.ndarray, *, worse: str = "high") -> dict[str, list[float] | str]:
    """(runs, days) -> per-day mean, p05, p50, p95 and CVaR95 across runs (a fan chart).

    ``worse``: which tail is bad for the defender, so CVaR95 is the mean of the worst 5%
    of runs that day: ``"high"`` (hours off, attacker stock) or ``"low"`` (interceptors).
    """
    v = np.asarray(values, dtype=float)
    q = np.quantile(v, [0.05, 0.5, 0.95], axis=0)
    k = max(1, int(np.ceil(CVAR_SHARE * len(v))))
    ordered = np.sort(v, axis=0)
    tail = ordered[-k:] if worse == "high" else ordered[:k]
    return {
        "mean": v.mean(axis=0).round(4).tolist(),
        "p05": q[0].round(4).tolist(),
        "p50": q[1].round(4).tolist(),
        "p95": q[2].round(4).tolist(),
        "cvar95": tail.mean(axis=0).round(4).tolist(),
        "cvar95_tail": worse,
    }


def worst_week(hours_per_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hours without power in each run's worst 7 days, index of its first day)."""
    c = np.concatenate([np.zeros((len(hours_per_day), 1)), np.cumsum(hours_per_day, axis=1)], 1)
    width = min(WEEK_D, hours_per_day.shape[1])
    sums = c[:, width:] - c[:, :-width]
    return sums.max(axis=1), sums.argmax(axis=1)


def ran_dry_day(inventory: np.ndarray) -> np.ndarray:
    """(runs, L) first day a layer's inventory fell below one interceptor; -1 if never."""
    dry = inventory < 1.0
    first = dry.argmax(axis=1)
    return np.where(dry.any(axis=1), first, -1)


def _by_month(dates: tuple[str, ...], daily: np.ndarray) -> dict[str, dict]:
    months = pd.to_datetime(list(dates)).strftime("%Y-%m").to_numpy()
    return {m: summarise_tail(daily[:, months == m].sum(axis=1)) for m in dict.fromkeys(months)}


def summarise_campaign(ctx, runs) -> dict:
    """The JSON-ready summary of :class:`barrage.campaign.engine.CampaignRuns`."""
    hours = runs.customers_off_share * _H_PER_DAY  # average customer, hours off per day
    load = ctx.class_load_mw[None, None, :] * ctx.demand_factor[None, :, None]
    class_hours = np.where(load > 0, runs.shed_by_class_mw / np.where(load > 0, load, 1), 0) * 24
    ww, ww_start = worst_week(hours)
    dry = ran_dry_day(runs.interceptors)
    n = len(hours)
    strikes = (runs.launched > 0).sum(axis=1)
    layers = {}
    for i, name in enumerate(ctx.layer_names):
        if not ctx.stocked[i]:
            continue
        ran_dry = dry[:, i] >= 0
        layers[name] = {
            "stock": fan(runs.interceptors[:, :, i], worse="low"),
            "used_season": summarise_tail(runs.interceptors_used[:, :, i].sum(axis=1)),
            "share_of_runs_ran_dry": float(ran_dry.mean()),
            "day_ran_dry_p50": (
                ctx.dates[int(np.median(dry[ran_dry, i]))] if ran_dry.any() else None
            ),
        }
    return {
        "name": ctx.scenario.name,
        "start": ctx.dates[0],
        "days": len(ctx.dates),
        "runs": n,
        "illustrative": True,
        "massive_strike_nights": summarise_tail(strikes),
        "hours_without_power_per_day": {
            "season_mean": summarise_tail(hours.mean(axis=1)),
            "by_day": fan(hours),
        },
        "hours_without_power_per_day_by_class": {
            c: summarise_tail(class_hours[:, :, j].mean(axis=1))
            for j, c in enumerate(PRIORITY_CLASSES)
            if ctx.class_load_mw[j] > 0
        },
        "customer_hours_per_customer_season": summarise_tail(hours.sum(axis=1)),
        "unserved_energy_mwh": summarise_tail(runs.shed_mw.sum(axis=1) * _H_PER_DAY),
        "unserved_energy_mwh_by_month": _by_month(ctx.dates, runs.shed_mw * _H_PER_DAY),
        "worst_week": {
            "hours_without_power": summarise_tail(ww),
            "start_p50": ctx.dates[int(np.median(ww_start))],
        },
        "interceptors": layers,
        "attacker_stock": fan(runs.attacker_stock, worse="high"),
        "launched_season": summarise_tail(runs.launched.sum(axis=1)),
        "temperature_c": np.round(ctx.temperature_c, 2).tolist(),
        "dates": list(ctx.dates),
    }


_FAN_SERIES = ("mean", "p05", "p50", "p95", "cvar95")


class Fan(BaseModel):
    """A per-day series across runs (:func:`fan`): what a fan chart draws."""

    mean: list[float]
    p05: list[float]
    p50: list[float]
    p95: list[float]
    cvar95: list[float] = Field(description="Mean of the worst 5% of runs that day.")
    cvar95_tail: Literal["high", "low"] = Field(description="Which tail is bad.")


class HoursPerDay(BaseModel):
    season_mean: Stats = Field(description="Each run's season mean, hours a day.")
    by_day: Fan


class WorstWeek(BaseModel):
    hours_without_power: Stats
    start_p50: str


class LayerSeason(BaseModel):
    stock: Fan = Field(description="Interceptors in stock by day.")
    used_season: Stats
    share_of_runs_ran_dry: float
    day_ran_dry_p50: str | None


class CampaignSummary(BaseModel):
    """A campaign's summary (:func:`summarise_campaign` plus the seed), declared once:
    ``barrage simulate campaign --json`` prints it and a campaign job's result is one.
    Fields in the order the summary writes them, so the dump is the same JSON byte for
    byte. With a store (``--db``) an extra field follows, ``attacker_as_of``: the launch
    and stockpile models as of the start (kept as an extra, so it is absent, not null,
    without one)."""

    model_config = ConfigDict(extra="allow")
    name: str
    start: str
    days: int
    runs: int
    illustrative: bool
    massive_strike_nights: Stats
    hours_without_power_per_day: HoursPerDay = Field(description="Average customer.")
    hours_without_power_per_day_by_class: dict[str, Stats]
    customer_hours_per_customer_season: Stats
    unserved_energy_mwh: Stats
    unserved_energy_mwh_by_month: dict[str, Stats]
    worst_week: WorstWeek
    interceptors: dict[str, LayerSeason] = Field(description="Tracked layers only.")
    attacker_stock: Fan = Field(description="Weapons of the salvo's mix in stock by day.")
    launched_season: Stats
    temperature_c: list[float]
    dates: list[str]
    seed: int | None = None

    @model_validator(mode="after")
    def _one_value_a_day(self) -> CampaignSummary:
        """Every per-day series has one value per date (a fan chart of a cut or mixed
        file would draw values against the wrong days)."""
        fans = {"hours_without_power_per_day.by_day": self.hours_without_power_per_day.by_day,
                "attacker_stock": self.attacker_stock}  # fmt: skip
        fans |= {f"interceptors.{k}.stock": v.stock for k, v in self.interceptors.items()}
        n = len(self.dates)
        if n != self.days:
            raise ValueError(f"dates: {n} dates, expected one per day of the season ({self.days})")
        series = {f"{k}.{q}": getattr(f, q) for k, f in fans.items() for q in _FAN_SERIES}
        series["temperature_c"] = self.temperature_c
        for name, values in series.items():
            if len(values) != n:
                raise ValueError(f"{name}: {len(values)} values, expected one per date ({n})")
        return self

    def as_json(self) -> dict[str, Any]:
        """As ``barrage simulate campaign --json`` prints it, key for key."""
        return self.model_dump(exclude_unset=True)


MAX_SUMMARY_BYTES = 16 * 2**20
"""Larger saved summaries are refused before reading (a 150-day season's is about 50 kB,
whatever the runs: it holds day-by-day quantiles, not runs)."""


def read_summary(path: str | Path) -> CampaignSummary:
    """A saved ``barrage simulate campaign --json`` summary, checked whole before anything
    is drawn; one line naming the file (and the field) when it is not one."""
    p = Path(path)
    raw = read_bounded(p, MAX_SUMMARY_BYTES, "the campaign summary")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{p}: expected the JSON of `barrage simulate campaign --json` ({exc})"
        ) from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply to be a campaign summary") from None
    try:
        return CampaignSummary.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, str(p))) from None
