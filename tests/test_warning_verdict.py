"""The verdict: the pre-registered primary against every baseline, on synthetic backtests
whose answer is known by construction."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from barrage.errors import InputError
from barrage.indicators import resolve_target
from barrage.warning.backtest import BacktestResult
from barrage.warning.models import BASELINES_V2 as BASELINES
from barrage.warning.scores import block_bootstrap_indices
from barrage.warning.verdict import (
    PROSPECTIVE_PERIOD,
    V2_PROTOCOL,
    EvaluationProtocol,
    protocol_for,
    verdict,
)


def synthetic(
    first: str = "2023-01-01",
    last: str = "2025-09-30",
    horizons=(3, 7),
    seed: int = 0,
    forecasts: dict | None = None,
) -> tuple[BacktestResult, dict]:
    """Origins ``first .. last``; the outcome is drawn from a known probability that
    switches between 0.1 and 0.6 in 20-day blocks, unknown where the k-night window runs
    past ``last`` (as in a real backtest). Every model gets a forecast: the
    baselines a constant or noise, and ``forecasts`` may override any model with a
    function of (truth, rng)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last, freq="D")
    truth = np.where((np.arange(days.size) // 20) % 2 == 0, 0.1, 0.6)
    rows = []
    for k in horizons:
        y = (rng.random(days.size) < truth).astype(float)
        share = y.mean()
        y[days > pd.Timestamp(last) - pd.Timedelta(days=k - 1)] = np.nan  # window still open
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


def cell(v: dict, k: int, period: str) -> dict:
    return next(c for c in v["cells"] if c["horizon_days"] == k and c["period"] == period)


def test_the_windows_are_the_registered_dates():
    pr = EvaluationProtocol()
    assert pr.window(12, 3) == (date(2024, 10, 1), date(2025, 9, 28))
    assert pr.window(24, 7) == (date(2023, 10, 1), date(2025, 9, 24))
    assert pr.prospective_first(7) == date(2025, 9, 25)  # the day after the last window
    assert pr.prospective_first(1) == date(2025, 10, 1)


def test_a_model_that_knows_the_probability_beats_every_baseline():
    result, _ = synthetic(forecasts={"feature": informed})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"] == {
        "cells": 4,
        "scored": 4,
        "cells_beaten": 4,
        "holds": True,
        "holds_with_intervals": True,
        "aim_met": True,
    }
    for months, k in ((12, 3), (12, 7), (24, 3), (24, 7)):
        c = cell(v, k, f"last_{months}m")
        first, last = EvaluationProtocol().window(months, k)
        assert (c["first_origin"], c["last_origin"]) == (str(first), str(last))
        assert c["origins"] == (last - first).days + 1
        prim = c["primary"]
        assert {x["baseline"] for x in prim["versus"]} == set(BASELINES)
        assert all(x["brier_diff_hi"] < 0 for x in prim["versus"])
        assert prim["brier_skill"] > 0.15 and prim["roc_auc"] > 0.7
    for k in (3, 7):
        assert cell(v, k, PROSPECTIVE_PERIOD)["status"].startswith("not scored: no origin from")
    assert "beats every baseline" in v["sentence"] and "is met" in v["sentence"]
    assert v["prospective"]["holds"] is None and "0 of 2 cells scored so far" in v["sentence"]


def test_a_primary_no_better_than_climatology_does_not_hold():
    result, _ = synthetic()
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"]["holds"] is False
    assert v["evaluation"]["aim_met"] is False
    assert "does not beat every baseline" in v["sentence"]
    assert "is not met" in v["sentence"]


def test_a_small_win_holds_on_points_but_not_with_intervals():
    def slight(truth, rng, m):
        return m["climatology"] + 0.03 * (truth - truth.mean())

    result, _ = synthetic(forecasts={"feature": slight})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"]["holds"] is True
    assert v["evaluation"]["holds_with_intervals"] is False
    assert "not every paired interval excludes zero" in v["sentence"]


def test_the_aim_needs_both_skill_and_discrimination():
    result, _ = synthetic(forecasts={"feature": informed})
    for kwargs in ({"aim_roc_auc": 0.99}, {"aim_brier_skill": 0.9}):
        v = verdict(result, EvaluationProtocol(primary_model="feature", **kwargs))
        assert v["evaluation"]["holds"] is True
        assert v["evaluation"]["aim_met"] is False
    # a skill of exactly what is asked for is enough
    v = verdict(result, EvaluationProtocol(primary_model="feature", aim_brier_skill=0.0))
    assert v["evaluation"]["aim_met"] is True


def test_a_baseline_as_primary_is_judged_against_the_other_baselines():
    result, _ = synthetic(forecasts={"recent_rate": informed})
    v = verdict(result, V2_PROTOCOL)  # v2's protocol: the primary is the recent_rate baseline
    assert v["protocol"]["primary_model"] == "recent_rate"
    c = cell(v, 3, "last_12m")
    assert {x["baseline"] for x in c["primary"]["versus"]} == set(BASELINES) - {"recent_rate"}
    assert v["evaluation"]["holds"] is True


def test_differences_skill_and_intervals_against_a_direct_computation():
    """Point differences and skill are the plain Brier formulas; intervals are the 5% and
    95% quantiles of differences on shared resamples, so a model identical to a baseline
    differs by exactly 0 on every resample (an unpaired interval would not)."""
    result, _ = synthetic(forecasts={"feature": lambda t, r, m: m["renewal"].copy()})
    protocol = EvaluationProtocol(primary_model="feature")
    v = verdict(result, protocol)
    fc = result.forecasts
    for c in v["cells"]:
        if c["status"] != "scored":
            continue
        k = c["horizon_days"]
        g = fc[fc["horizon_days"] == k].pivot(index="as_of", columns="model", values="p")
        y = fc[fc["horizon_days"] == k].drop_duplicates("as_of").set_index("as_of")["outcome"]
        sel = (g.index >= c["first_origin"]) & (g.index <= c["last_origin"])
        g, y = g[sel], y[sel].to_numpy()
        err = {m: (g[m].to_numpy() - y) ** 2 for m in g.columns}
        idx = block_bootstrap_indices(y.size, max(14, 4 * k), protocol.n_boot, protocol.seed)
        prim = c["primary"]
        assert prim["brier_skill"] == pytest.approx(
            1 - err["feature"].mean() / err["climatology"].mean(), abs=1e-12
        )
        for x in prim["versus"]:
            d = err["feature"] - err[x["baseline"]]
            assert x["brier_diff"] == pytest.approx(d.mean(), abs=1e-12)
            boot = d[idx].mean(axis=1)
            assert x["brier_diff_lo"] == pytest.approx(np.quantile(boot, 0.05), abs=1e-12)
            assert x["brier_diff_hi"] == pytest.approx(np.quantile(boot, 0.95), abs=1e-12)
        same = next(x for x in prim["versus"] if x["baseline"] == "renewal")
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


def test_the_best_challenger_is_shown_and_marked_as_chosen_on_the_window():
    result, _ = synthetic(forecasts={"ensemble": informed})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    c = cell(v, 7, "last_24m")
    assert c["best_challenger"]["model"] == "ensemble"
    assert c["best_challenger"]["chosen_on_period"] is True
    assert c["primary"]["chosen_on_period"] is False
    assert v["evaluation"]["holds"] is False  # the claim is the primary's, never the best's
    # a primary that is itself the best challenger is shown once
    v = verdict(result, EvaluationProtocol(primary_model="ensemble"))
    assert cell(v, 7, "last_24m")["best_challenger"] is None


@pytest.mark.parametrize(
    "first, last",
    [("2025-03-01", "2025-09-30"), ("2023-01-01", "2025-06-30"), ("2025-09-10", "2025-09-30")],
)
def test_a_backtest_that_misses_a_window_leaves_the_claim_untested(first, last):
    """Not refuted, and never judged on other origins than the registered ones."""
    result, _ = synthetic(first=first, last=last, forecasts={"feature": informed})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"]["holds"] is None
    assert "cannot be judged" in v["sentence"]
    short = cell(v, 7, "last_24m")
    assert short["status"].startswith("not scored: the backtest has outcomes for origins")
    assert "the window is 2023-10-01 .. 2025-09-24" in short["status"]


def test_a_missing_horizon_or_model_is_said_not_scored():
    result, _ = synthetic(horizons=(7,))
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    assert v["evaluation"]["holds"] is None
    three = [c for c in v["cells"] if c["horizon_days"] == 3]
    assert three and all(
        "no forecasts with a known outcome at 3 days" in c["status"] for c in three
    )
    v = verdict(result, EvaluationProtocol(primary_model="gbm", horizons_d=(7,)))
    assert all("models not in this backtest: ['gbm']" in c["status"] for c in v["cells"])


def test_origins_after_the_snapshot_are_the_prospective_test():
    result, info = synthetic(last="2026-03-31", forecasts={"feature": informed})
    v = verdict(result, EvaluationProtocol(primary_model="feature"))
    for k in (3, 7):
        c = cell(v, k, PROSPECTIVE_PERIOD)
        assert c["status"] == "scored"
        assert c["first_origin"] == str(EvaluationProtocol().prospective_first(k))
        assert c["last_origin"] == str(date(2026, 3, 31) - timedelta(days=k - 1))
    # the evaluation windows did not move with the newer record
    assert cell(v, 7, "last_12m")["last_origin"] == "2025-09-24"
    assert v["prospective"]["holds"] is True
    assert "the primary beats every baseline in 2 of 2 cells" in v["sentence"]


def test_another_target_is_not_called_pre_registered():
    result, _ = synthetic()
    result = BacktestResult(
        result.forecasts, None, result.event_days, result.first_night, None,
        resolve_target("massive_drones"),
    )  # fmt: skip
    v = verdict(result)
    assert v["registered_target"] is False
    assert "pre-registered for massive_combined, not for this target" in v["sentence"]


def test_each_registered_target_gets_its_own_v3_protocol():
    for name in ("massive_combined", "massive_missiles"):
        p = protocol_for(name)
        assert p.target_name == name
        assert (p.aim_brier_skill, p.aim_roc_auc, p.evaluation_months) == (0.30, 0.80, (12,))
        # the registered window starts the day after the development period ends
        assert p.window(12, 7) == (date(2024, 10, 1), date(2025, 9, 24))
        assert p.development_end == date(2024, 9, 30)
    assert protocol_for("custom").target_name == "massive_combined"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"primary_model": "oracle"}, "unknown model(s) 'oracle'"),
        ({"baselines": ()}, "at least one baseline"),
        ({"reference_model": "renewal", "baselines": ("climatology",)}, "must be one of"),
        ({"horizons_d": (3,)}, "aim's horizon 7 d"),
        ({"evaluation_months": (0,)}, "whole months"),
        ({"evaluation_months": (30,)}, "overlaps the development period"),
        ({"level": 1.0}, "level must be"),
        ({"n_boot": 5}, "n_boot"),
    ],
)
def test_a_bad_protocol_is_refused_at_construction(kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        EvaluationProtocol(**kwargs)


def test_the_skill_statement_says_base_rate_unless_the_interval_is_above_zero():
    from barrage.warning.verdict import skill_statement

    informed_result, _ = synthetic(last="2026-03-31", forecasts={"feature": informed})
    protocol = EvaluationProtocol(primary_model="feature")
    good = skill_statement(verdict(informed_result, protocol), "feature")
    assert good["demonstrated"] is True and good["brier_skill_lo"] > 0
    assert good["statement"].startswith("7-day Brier skill +")
    # the newer record's prospective cell is preferred to the registered window
    assert good["period"] == PROSPECTIVE_PERIOD
    noisy, _ = synthetic()
    bad = skill_statement(verdict(noisy, protocol), "feature")
    assert bad["demonstrated"] is False
    assert bad["statement"].startswith("no demonstrated skill: read as a base rate (7-day")
    # no stored backtest, or one that judged another model: unmeasured, a base rate
    for v, model in ((None, "feature"), (verdict(informed_result, protocol), "renewal")):
        s = skill_statement(v, model)
        assert s["demonstrated"] is False and "skill unmeasured" in s["statement"]


def _launch_row(group, model, period, pinball, coverage, horizon_d=7, origins=100):
    return {
        "group": group,
        "horizon_days": horizon_d,
        "model": model,
        "period": period,
        "origins": origins,
        "crps_mean": None,
        "pinball_mean": pinball,
        "coverage_80": coverage,
    }


def test_the_launch_skill_is_the_registered_model_against_the_naive():
    from barrage.warning.verdict import launch_skill

    primaries = {"attack_drone": "track_draws_90", "ballistic_missile": "recent_quantiles"}
    rows = [
        _launch_row("attack_drone", "track_draws_90", "registered_last_12m", 104.0, 0.80),
        _launch_row("attack_drone", "recent_quantiles", "registered_last_12m", 96.0, 0.58),
        _launch_row("attack_drone", "track_draws_90", "last_6m", 50.0, 0.99),  # not read
        _launch_row("attack_drone", "recent_quantiles", "last_6m", 80.0, 0.50),
        _launch_row("attack_drone", "track_draws_90", "registered_last_12m", 1.0, 0.80, 3),
        _launch_row("ballistic_missile", "recent_quantiles", "registered_last_12m", 1.76, 0.73),
    ]
    s = launch_skill(rows, primaries)
    drones = s["attack_drone"]
    assert drones["measured"] and drones["period"] == "registered_last_12m"
    assert (drones["coverage_80"], drones["pinball"], drones["naive_pinball"]) == (0.80, 104, 96)
    assert drones["coverage_in_aim"] is True and drones["beats_naive"] is False
    assert "held 80% of outcomes (inside the aim 75%-85%)" in drones["statement"]
    assert "8.3% worse than the naive recent quantiles' 96.00" in drones["statement"]
    # the naive model never beats itself; its coverage is still judged against the aim
    naive = s["ballistic_missile"]
    assert naive["beats_naive"] is False and naive["coverage_in_aim"] is False
    assert "it is the naive recent quantiles" in naive["statement"]
    # once the newer record scores the prospective period, that is what is read
    rows += [
        _launch_row("attack_drone", "track_draws_90", "after_snapshot", 90.0, 0.70, origins=40),
        _launch_row("attack_drone", "recent_quantiles", "after_snapshot", 100.0, 0.60),
    ]
    after = launch_skill(rows, primaries)["attack_drone"]
    assert (after["period"], after["origins"], after["beats_naive"]) == ("after_snapshot", 40, True)
    assert "10.0% better" in after["statement"] and "outside the aim" in after["statement"]
    # no stored backtest: every group is said to be unmeasured, never left out
    for skill in launch_skill(None, primaries).values():
        assert skill["measured"] is False and "unmeasured" in skill["statement"]


def test_the_launch_skill_of_a_quiet_group_says_no_nan():
    """A group with nothing launched in the window: the naive loss is 0, no ratio."""
    from barrage.warning.verdict import launch_skill

    rows = [
        _launch_row("kinzhal", "nightly_draws_90", "registered_last_12m", 0.5, 1.0),
        _launch_row("kinzhal", "recent_quantiles", "registered_last_12m", 0.0, 1.0),
    ]
    s = launch_skill(rows, {"kinzhal": "nightly_draws_90"})["kinzhal"]
    assert "nan" not in s["statement"] and s["beats_naive"] is False
    assert "against the naive recent quantiles' 0.00" in s["statement"]
