"""What a salvo simulation returns: per-run outcomes on one sample axis, and one summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

OUTPUTS = (
    "leakers_by_class",
    "leakers_by_asset",
    "destroyed_by_class",
    "ew_lost_by_class",
    "debris_by_asset",
    "interceptors_by_layer",
    "kills_by_layer",
    "decoys_engaged",
    "decoys_through",
)
"""Per-run outputs of a block range, in :class:`SalvoResult` field order."""


@dataclass
class SalvoResult:
    """Per-run outcomes (one sample axis: runs) and their labels."""

    runs: int
    seed: int
    classes: list[str]
    assets: list[str]
    layers: list[str]
    leakers_by_class: np.ndarray  # (runs, C) int
    leakers_by_asset: np.ndarray  # (runs, A)
    destroyed_by_class: np.ndarray  # (runs, C) killed by a layer (decoys count as drones)
    ew_lost_by_class: np.ndarray  # (runs, C)
    debris_by_asset: np.ndarray  # (runs, A)
    interceptors_by_layer: np.ndarray  # (runs, L)
    kills_by_layer: np.ndarray  # (runs, L)
    decoys_engaged: np.ndarray  # (runs,)
    decoys_through: np.ndarray  # (runs,)
    attacker_cost_usd: float
    interceptor_cost_usd: np.ndarray = field(repr=False)  # (L,)

    @property
    def leakers(self) -> np.ndarray:
        return self.leakers_by_class.sum(axis=1)

    @property
    def destroyed(self) -> np.ndarray:
        return self.destroyed_by_class.sum(axis=1)

    @property
    def debris_falls(self) -> np.ndarray:
        return self.debris_by_asset.sum(axis=1)

    @property
    def defender_cost_usd(self) -> np.ndarray:
        return self.interceptors_by_layer @ self.interceptor_cost_usd

    def summary(self) -> dict:
        """Means and 5/50/95% quantiles of every output, as plain JSON-ready dicts."""
        by = lambda arr, labels: {k: summarise(arr[:, i]) for i, k in enumerate(labels)}  # noqa: E731
        cost = self.defender_cost_usd
        return {
            "runs": self.runs,
            "seed": self.seed,
            "leakers": summarise(self.leakers),
            "leakers_by_class": by(self.leakers_by_class, self.classes),
            "leakers_by_asset": by(self.leakers_by_asset, self.assets),
            "interceptors_used_by_layer": by(self.interceptors_by_layer, self.layers),
            "kills_by_layer": by(self.kills_by_layer, self.layers),
            "destroyed_by_class": by(self.destroyed_by_class, self.classes),
            "lost_to_ew_by_class": by(self.ew_lost_by_class, self.classes),
            "debris_falls": summarise(self.debris_falls),
            "debris_by_asset": by(self.debris_by_asset, self.assets),
            "decoys_engaged": summarise(self.decoys_engaged),
            "decoys_through": summarise(self.decoys_through),
            "cost_exchange": {
                "attacker_cost_usd": self.attacker_cost_usd,
                "defender_cost_usd": summarise(cost),
                "defender_per_attacker_usd": summarise(cost / max(self.attacker_cost_usd, 1.0)),
            },
        }


Stats = dict[str, Any]
"""Mean and the 5%, 50% and 95% quantiles of one output (:func:`summarise`)."""


class SalvoSummary(BaseModel):
    """A salvo Monte Carlo's summary (:meth:`SalvoResult.summary`, or the chunked
    :func:`barrage.compute.tally.tally_summary`), declared once: ``barrage simulate salvo
    --json`` prints its dump and a salvo job's result is one. Fields in the order the
    summary writes them, so the dump is the same JSON byte for byte. Counts are weapons
    (or interceptors) per night; costs in USD (illustrative unit costs, docs/salvo.md)."""

    model_config = ConfigDict(extra="forbid")
    runs: int
    seed: int | None
    leakers: Stats = Field(description="Weapons that got through the defence.")
    leakers_by_class: dict[str, Stats]
    leakers_by_asset: dict[str, Stats]
    interceptors_used_by_layer: dict[str, Stats]
    kills_by_layer: dict[str, Stats]
    destroyed_by_class: dict[str, Stats]
    lost_to_ew_by_class: dict[str, Stats] = Field(
        description="Weapons lost to electronic warfare, fuel or navigation failure."
    )
    debris_falls: Stats
    debris_by_asset: dict[str, Stats]
    decoys_engaged: Stats = Field(description="Decoys that drew an engagement.")
    decoys_through: Stats
    cost_exchange: dict[str, Any] = Field(
        description="Attacker's cost (USD), defender's cost (USD) and their ratio."
    )

    def as_json(self) -> dict[str, Any]:
        """As ``barrage simulate salvo --json`` prints it (the summary, key for key)."""
        return self.model_dump(exclude_unset=True)


def summarise(values: np.ndarray) -> dict[str, float]:
    """Mean and the 5%, 50% and 95% quantiles of one per-run output."""
    values = np.asarray(values, dtype=float)
    p05, p50, p95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {"mean": float(values.mean()), "p05": float(p05), "p50": float(p50), "p95": float(p95)}
