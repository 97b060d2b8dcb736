"""Validation of the salvo engine: closed forms and a posterior predictive check.

Closed forms (limiting cases the engine must reproduce within Monte Carlo error):

* one layer, unlimited stock and channels: leakers ~ Binomial(N, 1 - pk_k);
* Hughes salvo equation for a homogeneous exchange: N missiles arriving together against
  a defence that can engage ``y`` of them, each engagement killing with ``pk``:
  ``E[leakers] = N - pk * min(N, y)`` (deterministic ``N - y`` when ``pk = 1``);
* time saturation: N weapons uniform over S slots, capacity ``c`` per slot:
  ``E[leakers] = S * (E[max(0, X - c)] + (1 - pk) E[min(X, c)])``, ``X ~ Bin(N, 1/S)``.

Posterior predictive check: each combined strike night (attack drones and missiles on the
same night) is simulated with defaults calibrated on the *other* nights of its period,
and the reported ``destroyed`` is compared with the simulated 50% and 90% intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from barrage.salvo.calibration import (
    DEFAULT_PERIODS,
    STRIKE_CLASSES,
    by_night_class,
    fit_beta_binomial,
)
from barrage.salvo.engine import simulate
from barrage.salvo.scenario import scenario_from_dict

CLASS_FAMILY = {
    "attack_drone": "shahed",
    "cruise_missile": "kh101",
    "ballistic_missile": "iskander_m_or_kn23",
    "mixed_missile": "mixed_missile",
}
"""The family that stands for a class when a night is simulated from class totals."""


def binomial_leakers(n: int, pk_per_shot: float, shots: int = 1) -> tuple[float, float]:
    """Mean and variance of leakers, one layer with unlimited stock and channels."""
    q = (1.0 - pk_per_shot) ** shots
    return n * q, n * q * (1 - q)


def hughes_leakers(n: int, engageable: int, pk: float) -> tuple[float, float]:
    """Mean and variance of leakers for the stochastic Hughes salvo exchange."""
    m = min(n, engageable)
    return n - pk * m, m * pk * (1 - pk)


def slotted_leakers(n: int, slots: int, capacity: int, pk: float) -> float:
    """Expected leakers with uniform arrivals over ``slots`` of ``capacity`` each."""
    x = np.arange(n + 1)
    pmf = stats.binom.pmf(x, n, 1.0 / slots)
    over = np.maximum(x - capacity, 0)
    served = np.minimum(x, capacity)
    return float(slots * np.sum(pmf * (over + (1 - pk) * served)))


def strike_nights(
    night_totals: pd.DataFrame, start: str = "2024-01-01", end: str = "2025-12-31"
) -> pd.DataFrame:
    """Combined strike nights: attack drones and at least one missile class launched."""
    g = by_night_class(night_totals)
    g = g[(g["night"] >= pd.Timestamp(start)) & (g["night"] <= pd.Timestamp(end))]
    wide = g.pivot_table(index="night", columns="weapon_class", values="launched", aggfunc="sum")
    wide = wide.reindex(columns=list(STRIKE_CLASSES)).fillna(0)
    missiles = wide[["cruise_missile", "ballistic_missile", "mixed_missile"]].sum(axis=1)
    combined = wide.index[(wide["attack_drone"] > 0) & (missiles > 0)]
    return g[g["night"].isin(combined)]


def night_scenario(counts: pd.DataFrame, priors: dict[str, dict]) -> dict:
    """A one-layer aggregate-defence scenario for one night (class counts, Beta priors)."""
    weapons = [
        {"family": CLASS_FAMILY[r.weapon_class], "count": int(r.launched), "arrival_h": [0, 8]}
        for r in counts.itertuples()
        if r.launched > 0
    ]
    classes = sorted({r.weapon_class for r in counts.itertuples() if r.launched > 0})
    return {
        "name": "record night",
        "night_h": 8,
        "slot_min": 60,
        "salvo": {"weapons": weapons},
        "assets": [{"name": "ukraine"}],
        "ew_loss": {c: priors[c]["ew"] for c in classes},
        "layers": [
            {
                "name": "air_defence",
                "type": "long_range",
                "engages": classes,
                "channels": 1_000_000,
                "engagement_time_min": 1,
                "kill_probability": {c: priors[c]["pk"] for c in classes},
            }
        ],
    }


def _priors(history: pd.DataFrame, period: str, classes: list[str]) -> dict[str, dict]:
    out = {}
    for cls in classes:
        h = history[(history["period"] == period) & (history["weapon_class"] == cls)]
        if len(h) < 3:  # too few nights in the period: use the class over all periods
            h = history[history["weapon_class"] == cls]
        a, b = fit_beta_binomial(h["destroyed"].to_numpy(), h["engaged"].to_numpy())
        ea, eb = fit_beta_binomial(h["lost_to_ew"].to_numpy(), h["launched"].to_numpy())
        out[cls] = {"pk": {"alpha": a, "beta": b}, "ew": {"alpha": ea, "beta": eb}}
    return out


def posterior_predictive_check(
    night_totals: pd.DataFrame,
    *,
    start: str = "2024-01-01",
    end: str = "2025-12-31",
    runs: int = 2000,
    seed: int = 0,
    periods=DEFAULT_PERIODS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-night intervals and the coverage table (by class and for the night total).

    Each night is simulated with Beta priors fitted on the other nights of its period
    (leave one night out), through the salvo engine, ``runs`` times.
    """
    history = by_night_class(night_totals, periods).dropna(subset=["period"])
    nights = strike_nights(night_totals, start, end)
    rows = []
    for i, (night, counts) in enumerate(nights.groupby("night", sort=True)):
        period = counts["period"].iloc[0]
        if pd.isna(period):
            continue
        classes = sorted(counts.loc[counts["launched"] > 0, "weapon_class"])
        priors = _priors(history[history["night"] != night], period, classes)
        scn = scenario_from_dict(night_scenario(counts, priors), source=f"night {night:%Y-%m-%d}")
        result = simulate(scn, runs=runs, seed=seed + i)
        sims = {c: result.destroyed_by_class[:, result.classes.index(c)] for c in classes}
        sims["total"] = result.destroyed
        reported = dict(zip(counts["weapon_class"], counts["destroyed"], strict=True))
        reported["total"] = counts["destroyed"].sum()
        for key, sim in sims.items():
            q05, q25, q50, q75, q95 = np.quantile(sim, [0.05, 0.25, 0.5, 0.75, 0.95])
            obs = float(reported[key])
            rows.append(
                {
                    "night": night,
                    "period": period,
                    "weapon_class": key,
                    "launched": float(
                        counts["launched"].sum()
                        if key == "total"
                        else counts.loc[counts["weapon_class"] == key, "launched"].sum()
                    ),
                    "reported_destroyed": obs,
                    "sim_p05": q05,
                    "sim_p25": q25,
                    "sim_p50": q50,
                    "sim_p75": q75,
                    "sim_p95": q95,
                    "in_50": bool(q25 <= obs <= q75),
                    "in_90": bool(q05 <= obs <= q95),
                }
            )
    per_night = pd.DataFrame(rows)
    if per_night.empty:
        return per_night, pd.DataFrame(
            columns=["weapon_class", "nights", "coverage_50", "coverage_90"]
        )
    coverage = (
        per_night.groupby("weapon_class", sort=True)
        .agg(
            nights=("night", "nunique"),
            coverage_50=("in_50", "mean"),
            coverage_90=("in_90", "mean"),
        )
        .reset_index()
    )
    return per_night, coverage
