"""What a salvo simulation returns: per-run outcomes on one sample axis, and one summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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


def summarise(values: np.ndarray) -> dict[str, float]:
    """Mean and the 5%, 50% and 95% quantiles of one per-run output."""
    values = np.asarray(values, dtype=float)
    p05, p50, p95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {"mean": float(values.mean()), "p05": float(p05), "p50": float(p50), "p95": float(p95)}
