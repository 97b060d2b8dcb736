"""Geran-3 (jet Shahed) from the record's turbojet columns.

The record counts jet-powered Shahed variants inside the Shahed rows: ``turbojet`` of the
row's ``launched`` were jets and ``turbojet_destroyed`` of them were destroyed. The
engine models them as their own class, ``jet_drone`` (family ``geran3``), with their own
kill probability per layer: slow layers (mobile fire groups, interceptor drones) are not
given it. Public reporting (Ihnat, Aug 2025: jets so fast that radars sometimes take them
for cruise missiles) is why they are a class and not a Shahed with another number.
"""

from __future__ import annotations

import os

import pandas as pd
from scipy import stats

from barrage.record.nights import load_per_night


def load_jet_nights(db: str | os.PathLike[str]) -> pd.DataFrame:
    """Nights with jet Shaheds reported: ``night, launched, destroyed`` of the jets."""
    return load_per_night(
        db,
        "SELECT night, sum(turbojet) AS launched, sum(coalesce(turbojet_destroyed, 0)) "
        "AS destroyed FROM attack_rows WHERE turbojet > 0 AND NOT is_regional_duplicate "
        "GROUP BY night ORDER BY night",
    )


def calibrate_jets(jet_nights: pd.DataFrame) -> dict[str, float]:
    """Kill probability of the whole defence against jets: ``Beta(1 + destroyed,
    1 + launched - destroyed)`` pooled over the nights, with its 90% interval."""
    launched = float(jet_nights["launched"].sum())
    destroyed = float(jet_nights["destroyed"].clip(upper=jet_nights["launched"]).sum())
    a, b = 1.0 + destroyed, 1.0 + launched - destroyed
    return {
        "nights": int(len(jet_nights)),
        "launched": launched,
        "destroyed": destroyed,
        "alpha": a,
        "beta": b,
        "pk_mean": a / (a + b),
        "pk_p05": float(stats.beta.ppf(0.05, a, b)),
        "pk_p95": float(stats.beta.ppf(0.95, a, b)),
    }
