"""The warning's small rules against independent computations: level thresholds at their
boundaries, and the scores against scikit-learn or a hand count."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss

from barrage.warning.assess import LEVELS, warning_level
from barrage.warning.scores import brier, expected_calibration_error, log_score, reliability_table


@pytest.mark.parametrize(("name", "threshold"), LEVELS)
def test_a_probability_at_a_threshold_gets_that_level(name, threshold):
    assert warning_level(threshold) == name
    below = warning_level(np.nextafter(threshold, 0.0))
    assert below != name and below in {"LOW", *(n for n, _ in LEVELS)}


def test_levels_by_hand():
    assert [warning_level(p) for p in (0.0, 0.149, 0.15, 0.34, 0.35, 0.59, 0.6, 1.0)] == [
        "LOW",
        "LOW",
        "ELEVATED",
        "ELEVATED",
        "HIGH",
        "HIGH",
        "SEVERE",
        "SEVERE",
    ]


@pytest.fixture(scope="module")
def forecasts():
    rng = np.random.default_rng(4)
    y = (rng.random(400) < 0.3).astype(float)
    p = np.clip(0.3 + 0.4 * (y - 0.3) + rng.normal(0, 0.15, 400), 0.02, 0.98)
    return p, y


def test_brier_and_log_score_equal_scikit_learn(forecasts):
    p, y = forecasts
    assert brier(p, y) == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    assert log_score(p, y) == pytest.approx(log_loss(y, p), rel=1e-12)


def test_calibration_error_and_reliability_by_hand():
    p = np.array([0.05, 0.05, 0.05, 0.05, 0.42, 0.48, 0.95, 0.95])
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    # bins: [0, 0.1) 4 forecasts, mean 0.05, observed 0.25; [0.4, 0.5) 2, mean 0.45,
    # observed 0.5; [0.9, 1] 2, mean 0.95, observed 1
    table = reliability_table(p, y)
    assert table["count"] == [4, 2, 2]
    np.testing.assert_allclose(table["forecast"], [0.05, 0.45, 0.95])
    np.testing.assert_allclose(table["observed"], [0.25, 0.5, 1.0])
    expected = (4 * 0.2 + 2 * 0.05 + 2 * 0.05) / 8
    assert expected_calibration_error(p, y) == pytest.approx(expected)
