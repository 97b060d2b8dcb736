"""Models and scores: the estimator contract, windows, metrics against scikit-learn."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.utils.validation import NotFittedError

from barrage.errors import InputError
from barrage.indicators import KnownRecord, outcomes, resolve_target
from barrage.record import open_store
from barrage.warning import MODELS, BacktestPlan, ForecastWindow, make_model, realtime_design
from barrage.warning.launches import NegBinLaunchModel, crps_negbin
from barrage.warning.scores import (
    METRICS,
    average_precision,
    block_bootstrap_indices,
    brier,
    expected_calibration_error,
    resampled_metrics,
    roc_auc,
)


@pytest.fixture(scope="module")
def design(record_db):
    with open_store(record_db) as con:
        rec = KnownRecord.from_store(con)
    target = resolve_target(None)
    X = realtime_design(rec, target, "2025-06-01")
    y = outcomes(rec.panel("2025-06-01"), target, (7,))[7]
    ok = y.notna()
    return X[ok], y[ok].to_numpy()


@pytest.mark.parametrize("name", list(MODELS))
def test_models_follow_the_estimator_contract(name, design):
    X, y = design
    model = make_model(name, 7)
    with pytest.raises(NotFittedError):
        model.predict_proba(X.iloc[:3])
    assert model.fit(X.iloc[:500], y[:500]) is model
    p = model.predict_proba(X.iloc[500:])
    assert p.shape == (len(X) - 500, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert ((p > 0) & (p < 1)).all()


def test_climatology_is_the_base_rate(design):
    X, y = design
    p = make_model("climatology", 7).fit(X, y).predict_proba(X.iloc[:1])[0, 1]
    assert p == pytest.approx((y.sum() + 1) / (y.size + 2))


def test_hawkes_learns_self_excitation_from_clustered_events():
    rng = np.random.default_rng(0)
    n = 5000
    ev = np.zeros(n)
    excite = np.zeros(n)
    for i in range(1, n):  # simulate a discrete Hawkes with strong excitation
        excite[i] = np.exp(-0.1) * (excite[i - 1] + ev[i - 1])
        ev[i] = rng.random() < 1 - np.exp(-(0.01 + 0.08 * excite[i]))
    X = pd.DataFrame(
        {
            "heating_season": 0.0,
            **{f"excite_{b:g}": 0.0 for b in (0.5, 0.2, 0.1, 0.05, 0.025, 0.0125)},
        },
        index=pd.date_range("2020-01-01", periods=n),
    )
    X["excite_0.1"] = excite
    model = make_model("hawkes", 1).fit(X, ev)
    assert model.decay_ == 0.1
    assert np.exp(model.params_[2]) == pytest.approx(0.08, rel=0.3)


def test_bad_y_is_input_error(design):
    X, _ = design
    with pytest.raises(InputError, match="0/1"):
        make_model("feature", 7).fit(X.iloc[:10], np.full(10, 2.0))


def test_window_refuses_a_gap_shorter_than_the_horizon():
    with pytest.raises(InputError, match="outcome would not be known"):
        ForecastWindow(date(2024, 1, 5), date(2024, 1, 10), date(2024, 1, 16), 7)
    ok = ForecastWindow(date(2024, 1, 2), date(2024, 1, 10), date(2024, 1, 16), 7)
    assert ok.horizon_days == 7


def test_plan_refuses_impossible_settings():
    with pytest.raises(InputError, match="before start"):
        BacktestPlan(start=date(2024, 2, 1), end=date(2024, 1, 1))
    with pytest.raises(InputError, match="at least weekly"):
        BacktestPlan(start=date(2024, 1, 1), end=date(2024, 2, 1), refit_every_d=14)
    wins = BacktestPlan(start=date(2024, 1, 1), end=date(2024, 1, 20)).windows(3)
    assert [w.forecast_first for w in wins] == [
        date(2024, 1, 1),
        date(2024, 1, 8),
        date(2024, 1, 15),
    ]
    assert wins[0].train_last_origin == date(2023, 12, 28)


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(float)
    p = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, 300), 0.01, 0.99).round(2)
    assert roc_auc(p, y) == pytest.approx(roc_auc_score(y, p))
    assert average_precision(p, y) == pytest.approx(average_precision_score(y, p))
    assert expected_calibration_error(np.full(10, 0.5), np.array([1.0] * 5 + [0.0] * 5)) == 0


@pytest.mark.parametrize(
    ("n", "decimals", "resamples"), [(7, 2, 300), (40, 2, 300), (363, 2, 300), (1200, None, 40)]
)
def test_resampled_metrics_equal_the_metric_functions_row_by_row_bit_for_bit(
    n, decimals, resamples
):
    """The bootstrap's vectorised metrics against a call of each metric function per
    resample (the loop they replace): rounded forecasts give ties, short resamples
    rows with one class only (AUC NaN), a zero reference Brier a NaN skill; unrounded
    forecasts of a long record give many distinct thresholds, as real forecasts do."""
    rng = np.random.default_rng(n)
    y = (rng.random(n) < 0.2).astype(float)
    p = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.2, n), 0.0, 1.0)
    p = p if decimals is None else p.round(decimals)
    ref = np.full(n, y.mean())
    idx = block_bootstrap_indices(n, 5, resamples, seed=n)
    idx[0] = np.flatnonzero(y == 0)[0]  # one class only
    got = resampled_metrics(p[idx], y[idx], ref[idx])
    got_zero_ref = resampled_metrics(p[idx], y[idx], y[idx])
    for i, rows in enumerate(idx):
        pp, yy, rr = p[rows], y[rows], ref[rows]
        want = {name: fn(pp, yy) for name, (fn, _) in METRICS.items()}
        b_ref = brier(rr, yy)
        want["brier_skill"] = 1 - want["brier"] / b_ref if b_ref > 0 else float("nan")
        want["brier_minus_ref"] = want["brier"] - b_ref
        for name, value in want.items():
            assert float(got[name][i]).hex() == float(value).hex(), (name, i)
        assert np.isnan(got_zero_ref["brier_skill"][i])
    assert np.isnan(got["roc_auc"][0]) and np.isnan(got["average_precision"][0])


def test_block_bootstrap_keeps_blocks():
    idx = block_bootstrap_indices(100, 10, 5, seed=3)
    assert idx.shape == (5, 100)
    assert (np.diff(idx[:, :10], axis=1) == 1).all()


def test_crps_of_a_sharp_forecast_is_the_absolute_error():
    # Dispersion -> infinity is Poisson; a tiny mean is nearly a point mass at 0.
    assert crps_negbin(np.array([1e-9]), 10.0, np.array([4.0]))[0] == pytest.approx(4.0, abs=1e-6)


def test_launch_model_keeps_its_slopes_in_bounds_and_falls_back_on_few_launches(design):
    from barrage.warning.launches import HEATING_BOUNDS, MIN_NONZERO_FOR_FEATURES, TEMPO_BOUNDS

    X, _ = design
    rng = np.random.default_rng(np.random.SeedSequence(11))
    # counts that fall as tempo rises: an unbounded fit would take a negative elasticity
    tempo = X["tempo_cruise_missile_7d"].to_numpy(float)
    y = rng.poisson(np.exp(2.0 - 0.8 * np.log1p(7 * tempo)))
    m = NegBinLaunchModel(group="cruise_missile", horizon_days=7).fit(X, y)
    for b, (lo, hi) in zip(m.coef_[1:3], TEMPO_BOUNDS, strict=True):
        assert lo <= b <= hi
    assert HEATING_BOUNDS[0] <= m.coef_[3] <= HEATING_BOUNDS[1]
    # a handful of launching windows: intercept only, the slopes exactly zero
    few = np.zeros(len(X))
    few[: MIN_NONZERO_FOR_FEATURES - 1] = 3
    m = NegBinLaunchModel(group="ballistic_missile", horizon_days=7).fit(X, few)
    assert (m.coef_[1:] == 0).all()
    assert m.predict_mean(X) == pytest.approx(np.full(len(X), few.mean()), rel=0.05)


@pytest.mark.parametrize("as_of", ["2023-04-22", "2023-05-08", "2025-03-10"])
def test_launch_forecasts_by_class_are_coherent(record_db, as_of):
    """Means grow with the horizon, and a class never outnumbers all missiles by far
    (before the slopes were bounded, cruise missiles forecast 1,525 in a week here)."""
    from barrage.warning.assess import assess, inputs_from_store

    with open_store(record_db) as con:
        inputs = inputs_from_store(con)
    a = assess(inputs, as_of)["expected_launches"]
    for group, by_k in a.items():
        means = [by_k[k]["mean"] for k in ("1", "3", "7")]
        assert means == sorted(means), (group, means)
    for cls in ("cruise_missile", "ballistic_missile"):
        assert a[cls]["7"]["mean"] <= 1.25 * a["missiles"]["7"]["mean"] + 1
