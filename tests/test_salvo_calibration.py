"""Calibration and the posterior predictive check, on synthetic night totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barrage.salvo.calibration import (
    calibrate_kill_probabilities,
    fit_beta_binomial,
    fit_saturation_curve,
)
from barrage.salvo.validation import posterior_predictive_check


def synthetic_nights(n_nights=80, seed=0, pk=(8.0, 2.0), ew=(2.0, 8.0)):
    """Nights drawn from exactly the model the calibration assumes."""
    rng = np.random.default_rng(seed)
    nights = pd.date_range("2024-07-01", periods=n_nights, freq="2D")
    rows = []
    for night in nights:
        for cls, fam, size in (("attack_drone", "shahed", 150), ("cruise_missile", "kh101", 20)):
            launched = int(rng.integers(size // 3, size * 2))
            lost = rng.binomial(launched, rng.beta(*ew)) if cls == "attack_drone" else 0
            destroyed = rng.binomial(launched - lost, rng.beta(*pk))
            rows.append((night, cls, fam, float(launched), float(destroyed), float(lost)))
    return pd.DataFrame(
        rows, columns=["night", "weapon_class", "family", "launched", "destroyed", "not_reach_goal"]
    )


def test_pooled_posterior_is_conjugate():
    df = pd.DataFrame(
        {
            "night": pd.to_datetime(["2024-08-01", "2024-08-02", "2024-08-02"]),
            "weapon_class": ["attack_drone", "attack_drone", "attack_drone"],
            "family": ["shahed", "shahed", "unknown_uav"],
            "launched": [100.0, 50.0, 10.0],
            "destroyed": [60.0, 30.0, 10.0],
            "not_reach_goal": [20.0, np.nan, 0.0],
        }
    )
    cal = calibrate_kill_probabilities(df)
    row = cal.set_index(["period", "weapon_class"]).loc[("2024H2", "attack_drone")]
    # engaged = 160 - 20 = 140, destroyed = 100; prior Beta(1, 1)
    assert (row["alpha"], row["beta"]) == (101.0, 41.0)
    assert (row["ew_alpha"], row["ew_beta"]) == (21.0, 141.0)
    assert row["nights"] == 2
    assert "public record" in row["source"]


def test_beta_binomial_fit_recovers_parameters():
    rng = np.random.default_rng(1)
    n = rng.integers(50, 300, size=400)
    k = rng.binomial(n, rng.beta(6.0, 2.0, size=n.size))
    a, b = fit_beta_binomial(k, n)
    assert a / (a + b) == pytest.approx(0.75, abs=0.02)
    assert a + b == pytest.approx(8.0, rel=0.3)


def test_saturation_curve_recovers_a_falling_rate():
    rng = np.random.default_rng(2)
    size = rng.integers(20, 800, size=300)
    rate = 1 / (1 + np.exp(-(1.5 - 0.8 * np.log(size / 100))))
    df = pd.DataFrame(
        {
            "night": pd.date_range("2025-01-01", periods=300, freq="D").repeat(1)[:300],
            "weapon_class": "attack_drone",
            "family": "shahed",
            "launched": size.astype(float),
            "destroyed": rng.binomial(size, rate).astype(float),
            "not_reach_goal": 0.0,
        }
    )
    curve = fit_saturation_curve(df)
    assert set(curve["period"]) == {"2025H1", "2025H2"}
    for row in curve.itertuples():
        assert row.b == pytest.approx(-0.8, abs=0.15)
        assert row.rate_at_50 > row.rate_at_800


def test_posterior_predictive_coverage_is_near_nominal_when_the_model_holds():
    df = synthetic_nights()
    per_night, coverage = posterior_predictive_check(df, runs=1024, seed=0)
    cov = coverage.set_index("weapon_class")
    assert cov.loc["total", "nights"] == 80
    for cls in ("attack_drone", "total"):
        assert 0.35 <= cov.loc[cls, "coverage_50"] <= 0.65
        assert 0.80 <= cov.loc[cls, "coverage_90"] <= 0.98
    assert (per_night["sim_p05"] <= per_night["sim_p95"]).all()


def test_a_nights_own_destroyed_count_does_not_enter_its_own_check():
    """Leave one out: the checked night's intervals come from the other nights only, so
    changing its reported ``destroyed`` leaves them as they were (and moves the others)."""
    df = synthetic_nights(n_nights=12, seed=3)
    night = df["night"].unique()[5]
    changed = df.copy()
    changed.loc[changed["night"] == night, "destroyed"] = 0.0
    sims = ["sim_p05", "sim_p25", "sim_p50", "sim_p75", "sim_p95"]
    before, _ = posterior_predictive_check(df, runs=512, seed=0)
    after, _ = posterior_predictive_check(changed, runs=512, seed=0)
    own = before["night"] == night
    assert own.sum() == 3  # attack_drone, cruise_missile, total
    pd.testing.assert_frame_equal(before.loc[own, sims], after.loc[own, sims])
    assert (after.loc[own, "reported_destroyed"] == 0).all()
    others = ~own & (before["weapon_class"] == "total")
    assert (after.loc[others, "sim_p50"] < before.loc[others, "sim_p50"]).all()


def test_missing_columns_is_a_clear_error():
    from barrage.errors import InputError

    with pytest.raises(InputError, match="missing columns \\['not_reach_goal'\\]"):
        calibrate_kill_probabilities(
            pd.DataFrame(columns=["night", "weapon_class", "family", "launched", "destroyed"])
        )
