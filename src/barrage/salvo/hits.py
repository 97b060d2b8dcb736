"""Hit locations (``num_hit_location``) against the record's leakers, for drones.

The field counts *locations* hit on a night's drone rows, reported since 24 May 2025.
It cannot calibrate layers: the record never says which layer killed, and a location
count is not a weapon count (several drones may hit one place; one report may merge
places). What it can do is check the leakers the out-of-sample check scores
(``launched - destroyed - lost``): a night with more locations hit than drones through
would say the leakers are undercounted. :func:`hit_location_check` gives the ratio and
the elasticity of locations to leakers.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from barrage.record.nights import load_per_night


def load_hit_nights(db: str | os.PathLike[str]) -> pd.DataFrame:
    """Drone nights reporting hit locations: ``night, leakers, hit_locations``."""
    df = load_per_night(
        db,
        "SELECT night, sum(coalesce(launched, 0)) - sum(coalesce(destroyed, 0)) "
        "- sum(coalesce(not_reach_goal, 0)) AS leakers, "
        "sum(num_hit_location) AS hit_locations FROM attack_rows "
        "WHERE weapon_class = 'attack_drone' AND NOT is_regional_duplicate "
        "GROUP BY night HAVING count(num_hit_location) > 0 ORDER BY night",
    )
    df["leakers"] = df["leakers"].clip(lower=0)
    return df


def hit_location_check(hit_nights: pd.DataFrame) -> dict[str, float]:
    """Locations per leaker (median, quartiles), nights with more locations than
    leakers, and the elasticity ``b`` of ``E[locations] = exp(a) (1 + leakers)^b``
    (quasi-Poisson)."""
    import statsmodels.api as sm

    d = hit_nights[hit_nights["leakers"] > 0]
    ratio = d["hit_locations"] / d["leakers"]
    fit = sm.GLM(
        hit_nights["hit_locations"],
        sm.add_constant(np.log1p(hit_nights["leakers"].to_numpy())),
        family=sm.families.Poisson(),
    ).fit(scale="X2")
    return {
        "nights": int(len(hit_nights)),
        "first_night": str(hit_nights["night"].min().date()),
        "locations_per_leaker_median": float(ratio.median()),
        "locations_per_leaker_q25": float(ratio.quantile(0.25)),
        "locations_per_leaker_q75": float(ratio.quantile(0.75)),
        "nights_more_locations_than_leakers": int(
            (hit_nights["hit_locations"] > hit_nights["leakers"]).sum()
        ),
        "elasticity": float(fit.params.iloc[1]),
        "elasticity_se": float(fit.bse.iloc[1]),
        "correlation": float(np.corrcoef(hit_nights["leakers"], hit_nights["hit_locations"])[0, 1]),
    }
