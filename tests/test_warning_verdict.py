"""The verdict: the pre-registered primary against every baseline, on synthetic backtests
whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barrage.errors import InputError
from barrage.indicators import resolve_target
from barrage.warning.backtest import BacktestResult
from barrage.warning.models import BASELINES
from barrage.warning.verdict import PROSPECTIVE_PERIOD, EvaluationProtocol, verdict


def synthetic(
    first: str = "2023-01-01",
    last: str = "2025-09-30",
    horizons=(3, 7),
    seed: int = 0,
    forecasts: dict | None = None,
) -> tuple[BacktestResult, dict]:
    """Origins ``first .. last``; the outcome is drawn from a known probability that
    switches between 0.1 and 0.6 in 20-day blocks. Every model gets a forecast: the
    baselines a constant or noise, and ``forecasts`` may override any model with a
    function of (truth, rng)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last, freq="D")
    truth = np.where((np.arange(days.size) // 20) % 2 == 0, 0.1, 0.6)
    rows = []
    for k in horizons:
        y = (rng.random(days.size) < truth).astype(float)
        share = y.mean()
        by_model = {
            "climatology": np.full(days.size, share),
            "seasonal": np.clip(share + 0.05 * np.sin(np.arange(days.size) / 30), 0, 1),
            "recent_rate": np.clip(share + rng.normal(0, 0.08, days.size), 0.01, 0.99),
            "renewal": np.clip(share + rng.normal(0, 0.05, days.size), 0.01, 0.99),
            "feature": np.clip(share + rng.normal(0, 0.1, days.size), 0.01, 0.99),
        }
        for name, fn in (forecasts or {}).items():
            by_model[name] = fn(truth, rng, by_model)
        for name, p in by_model.items():
            rows.append(
                pd.DataFrame(
                    {"as_of": days, "model": name, "horizon_days": k, "p": p, "outcome": y}
                )
            )
    fc = pd.concat(rows, ignore_index=True)
    result = BacktestResult(
        fc, None, np.array([], int), np.datetime64(first), None, resolve_target(None)
    )
    return result, {"truth": truth, "days": days}


def informed(truth, rng, by_model):
    return truth


def test_a_model_that_knows_the_probability_beats_every_baseline():
    result, _ = synthetic(forecasts={"feature": informed})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    ev = v["evaluation"]
    assert ev == {
        "cells": 4,
        "scored": 4,
        "cells_beaten": 4,
        "holds": True,
        "holds_with_intervals": True,
        "aim_met": True,
    }
    for c in v["cells"]:
        if c["period"] == PROSPECTIVE_PERIOD:
            assert c["status"].startswith("not scored: no origins after 2025-09-30")
            continue
        prim = c["primary"]
        assert {x["baseline"] for x in prim["versus"]} == set(BASELINES)
        assert all(x["brier_diff_hi"] < 0 for x in prim["versus"])
        assert prim["brier_skill"] > 0.15 and prim["roc_auc"] > 0.7
    assert "beats every baseline" in v["sentence"] and "is met" in v["sentence"]
    assert v["prospective"]["holds"] is None and "not yet scored" in v["sentence"]


def test_a_primary_no_better_than_climatology_does_not_hold():
    result, _ = synthetic()
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"]["holds"] is False
    assert v["evaluation"]["aim_met"] is False
    assert "does not beat every baseline" in v["sentence"]
    assert "is not met" in v["sentence"]


def test_a_baseline_as_primary_is_judged_against_the_other_baselines():
    result, _ = synthetic(forecasts={"recent_rate": informed})
    v = verdict(result)  # the shipped protocol: the primary is the recent_rate baseline
    assert v["protocol"]["primary_model"] == "recent_rate"
    cell = next(c for c in v["cells"] if c["status"] == "scored")
    assert {x["baseline"] for x in cell["primary"]["versus"]} == set(BASELINES) - {"recent_rate"}
    assert v["evaluation"]["holds"] is True


def test_differences_are_exact_and_their_intervals_paired():
    """The point difference is the plain Brier difference; a model identical to a
    baseline differs by exactly 0 on every resample (an unpaired interval would not)."""
    result, _ = synthetic(forecasts={"feature": lambda t, r, m: m["renewal"].copy()})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    fc = result.forecasts
    for c in v["cells"]:
        if c["status"] != "scored":
            continue
        g = fc[fc["horizon_days"] == c["horizon_days"]].pivot(
            index="as_of", columns="model", values="p"
        )
        y = fc[fc["horizon_days"] == c["horizon_days"]].drop_duplicates("as_of")["outcome"]
        y = y.to_numpy()
        n = c["origins"]
        sel = slice(len(g) - n, None)  # the last 12 / 24 months are the latest origins
        for x in c["primary"]["versus"]:
            direct = np.mean((g["feature"].to_numpy()[sel] - y[sel]) ** 2) - np.mean(
                (g[x["baseline"]].to_numpy()[sel] - y[sel]) ** 2
            )
            assert x["brier_diff"] == pytest.approx(direct, abs=1e-12)
        same = next(x for x in c["primary"]["versus"] if x["baseline"] == "renewal")
        assert same["brier_diff"] == same["brier_diff_lo"] == same["brier_diff_hi"] == 0.0


def test_a_tie_with_a_baseline_is_not_a_win():
    bad = {
        b: (lambda t, r, m: np.full(t.size, 0.99)) for b in ("seasonal", "recent_rate", "renewal")
    }
    result, _ = synthetic(forecasts={**bad, "feature": lambda t, r, m: m["climatology"].copy()})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    for c in v["cells"]:
        if c["status"] == "scored":
            diffs = {x["baseline"]: x["brier_diff"] for x in c["primary"]["versus"]}
            assert diffs["climatology"] == 0.0
            assert all(d < 0 for b, d in diffs.items() if b != "climatology")
            assert c["primary"]["beats_every_baseline"] is False
    assert v["evaluation"]["holds"] is False


def test_the_best_model_of_a_period_is_shown_and_marked_as_chosen_on_it():
    result, _ = synthetic(forecasts={"ensemble": informed})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    cell = next(c for c in v["cells"] if c["status"] == "scored")
    assert cell["best_on_period"]["model"] == "ensemble"
    assert cell["best_on_period"]["chosen_on_period"] is True
    assert cell["primary"]["chosen_on_period"] is False
    # the claim is the primary's, never the period's best
    assert v["evaluation"]["holds"] is False


def test_a_short_backtest_leaves_the_claim_untested_not_refuted():
    result, _ = synthetic(first="2025-09-10", last="2025-09-30")
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"]["holds"] is None
    assert all(c["status"].startswith("not scored") for c in v["cells"])
    assert "cannot be judged" in v["sentence"]


def test_a_missing_horizon_or_model_is_said_not_scored():
    result, _ = synthetic(horizons=(7,))
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"]["holds"] is None
    three = [c for c in v["cells"] if c["horizon_days"] == 3]
    assert three and all("no forecasts at 3 days" in c["status"] for c in three)
    v = verdict(result, EvaluationProtocol(primary_model="gbm", horizons_d=(7,)))
    assert all("models not in this backtest: ['gbm']" in c["status"] for c in v["cells"])


def test_rows_after_the_snapshot_are_the_prospective_test():
    result, info = synthetic(last="2026-03-31", forecasts={"feature": informed})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    after = [c for c in v["cells"] if c["period"] == PROSPECTIVE_PERIOD]
    assert [c["status"] for c in after] == ["scored", "scored"]
    assert all(c["origins"] == (info["days"] > "2025-09-30").sum() for c in after)
    assert v["prospective"]["holds"] is True
    assert (
        "Prospective test (origins after 2025-09-30): the primary beats every baseline "
        "in 2 of 2 cells" in v["sentence"]
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"primary_model": "oracle"}, "unknown model(s) 'oracle'"),
        ({"baselines": ()}, "at least one baseline"),
        ({"reference_model": "renewal", "baselines": ("climatology",)}, "must be one of"),
        ({"horizons_d": (3,)}, "aim's horizon 7 d"),
        ({"periods": ("last_6m",)}, "periods must be among"),
        ({"level": 1.0}, "level must be"),
        ({"n_boot": 5}, "n_boot"),
    ],
)
def test_a_bad_protocol_is_refused_at_construction(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EvaluationProtocol(**kwargs)
