"""Third-version models: exact log-odds terms, the forgetting weights, the recent-window
launch statistics against a direct computation, the pinball loss and the rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from barrage.indicators import KnownRecord, resolve_target
from barrage.record import open_store
from barrage.warning import MODELS, make_model, realtime_design
from barrage.warning.launches import (
    QUANTILES,
    group_series,
    launch_window_values,
    make_launch_model,
    pinball_loss,
    window_column,
)
from barrage.warning.models import BASELINES
from barrage.warning.registration import (
    EXPLAINABLE_MODELS,
    REGISTRATION,
    select_launch_primary,
    select_primary,
)


@pytest.fixture(scope="module")
def record(record_db):
    with open_store(record_db) as con:
        return KnownRecord.from_store(con)


@pytest.fixture(scope="module")
def design(record):
    from barrage.indicators import outcomes

    target = resolve_target("massive_combined")
    X = realtime_design(record, target, "2025-06-01")
    y = outcomes(record.panel("2025-06-01"), target, (7,))[7]
    ok = y.notna()
    return X[ok], y[ok].to_numpy()


@pytest.mark.parametrize("name", EXPLAINABLE_MODELS)
def test_log_odds_terms_add_up_to_the_probability(name, design):
    X, y = design
    model = make_model(name, 7).fit(X.iloc[:700], y[:700])
    base, terms = model.log_odds_terms(X.iloc[700:])
    z = base + sum(terms.values(), np.zeros(len(base)))
    np.testing.assert_allclose(expit(z), model.predict_proba(X.iloc[700:])[:, 1], rtol=1e-9)


def test_the_forgetting_glm_follows_a_level_that_moved():
    # the event rate steps from 5% to 50% half-way: the discounted fit ends near 50%,
    # the expanding base rate near the average
    rng = np.random.default_rng(1)
    n = 800
    idx = pd.date_range("2023-01-01", periods=n, name="as_of")
    rate = np.where(np.arange(n) < n // 2, 0.05, 0.5)
    y = (rng.random(n) < rate).astype(float)
    X = pd.DataFrame(
        {
            "days_since_event_d": 5.0,
            "events_30d": 3.0,
            "events_90d": 9.0,
            "events_365d": 30.0,
            "tempo_attack_drone_30d": 50.0,
            "tempo_missiles_30d": 3.0,
            "heating_season": 0.0,
        },
        index=idx,
    )
    p_fast = make_model("forgetting_logit_fast", 7).fit(X, y).predict_proba(X.iloc[-1:])[0, 1]
    p_clim = make_model("climatology", 7).fit(X, y).predict_proba(X.iloc[-1:])[0, 1]
    assert p_fast == pytest.approx(0.5, abs=0.08)
    assert p_clim == pytest.approx(y.mean(), abs=0.01)


def test_window_statistics_match_a_direct_computation(record):
    panel = record.panel("2025-09-01")
    t = np.array([5, 60, 400, panel.n_nights])
    vals = launch_window_values(panel, t)
    s = group_series(panel)["attack_drone"]
    for i, origin in enumerate(t):
        for k in (1, 7):
            # the k-night sums lying wholly in the 90 nights before the origin
            sums = [s[a : a + k].sum() for a in range(max(origin - 90, 0), origin - k + 1)]

            def col(stat, k=k, i=i):
                return vals[window_column(90, "attack_drone", k, stat)][i]

            if len(sums) == 0:
                assert np.isnan(col("mean"))
                continue
            assert col("mean") == pytest.approx(np.mean(sums))
            assert col("q90") == pytest.approx(np.quantile(sums, 0.9))
            if len(sums) > 1:
                assert col("var") == pytest.approx(np.var(sums, ddof=1))


def test_window_statistics_use_only_nights_before_the_origin(record):
    # changing a night at or after the origin leaves the origin's statistics unchanged
    panel = record.panel("2025-09-01")
    t = np.array([700])
    before = launch_window_values(panel, t)
    launched = panel.launched.copy()
    launched[700:] *= 10  # nights 700.. (origin 700 sees nights 0..699)
    from dataclasses import replace

    after = launch_window_values(replace(panel, launched=launched), t)
    for c in before:
        np.testing.assert_equal(before[c], after[c])


def test_pinball_loss_against_its_definition():
    q = np.array([[2.0, 5.0, 9.0]])
    assert pinball_loss(q, np.array([5.0]))[0] == pytest.approx((0.1 * 3 + 0 + 0.1 * 4) / 3)
    assert pinball_loss(q, np.array([12.0]))[0] == pytest.approx((0.1 * 10 + 0.5 * 7 + 0.9 * 3) / 3)


def test_nightly_draws_sum_k_independent_nights(design):
    X, _ = design
    one = make_launch_model("nightly_draws_90", "attack_drone", 1).fit(X)
    seven = make_launch_model("nightly_draws_90", "attack_drone", 7).fit(X)
    rows = X.iloc[-5:]
    np.testing.assert_allclose(seven.predict_mean(rows), 7 * one.predict_mean(rows))
    np.testing.assert_allclose(seven.predict_dispersion(rows), 7 * one.predict_dispersion(rows))
    q = seven.predict_quantiles(rows)
    assert (np.diff(q, axis=1) >= 0).all() and q.shape == (5, len(QUANTILES))


def test_the_naive_baseline_reads_its_quantile_columns(design):
    X, _ = design
    m = make_launch_model("recent_quantiles", "missiles", 7).fit(X)
    cols = [window_column(90, "missiles", 7, f"q{a}") for a in (10, 50, 90)]
    np.testing.assert_array_equal(m.predict_quantiles(X.iloc[-3:]), X[cols].iloc[-3:].to_numpy())


def test_selection_rules_pick_the_lowest_and_break_ties_to_the_simpler():
    assert select_primary({"forgetting_logit": 0.20, "climatology": 0.25}) == "forgetting_logit"
    assert select_primary({"forgetting_logit": 0.2000, "renewal": 0.2004}) == "renewal"
    assert select_primary({"gbm": 0.1, "renewal": 0.2}) == "renewal"  # gbm cannot explain
    assert select_launch_primary({"negbin_features": 10.0, "window_negbin_90": 10.05}) == (
        "window_negbin_90"
    )


def test_registration_names_known_models_and_baselines():
    assert set(REGISTRATION.candidates) <= set(MODELS)
    assert set(REGISTRATION.primaries.values()) <= set(EXPLAINABLE_MODELS)
    assert {"recent_rate_30", "recent_rate_365", "persistence"} <= set(BASELINES)
    assert REGISTRATION.targets[0] == REGISTRATION.headline_target == "massive_combined"
    assert logit(0.5) == 0


def test_closed_form_crps_equals_the_sum_over_the_support():
    from barrage.warning.launches import crps_negbin, crps_negbin_by_sum

    rng = np.random.default_rng(3)
    for lo, hi in ((0.05, 3.0), (5.0, 60.0), (100.0, 600.0)):
        n = 40
        mean = rng.uniform(lo, hi, n)
        r = np.exp(rng.uniform(np.log(0.05), np.log(1000.0), n))  # over- to near-Poisson
        y = (rng.poisson(mean) * rng.integers(0, 3, n)).astype(float)
        np.testing.assert_allclose(
            crps_negbin(mean, r, y), crps_negbin_by_sum(mean, r, y), rtol=1e-6
        )


def test_row_quantiles_equal_numpys_nanquantile():
    from barrage.warning.launches import _nanquantile_rows

    rng = np.random.default_rng(5)
    vals = rng.integers(0, 50, (200, 84)).astype(float)
    vals[rng.random(vals.shape) < 0.3] = np.nan
    vals[0] = np.nan
    vals[1, 1:] = np.nan  # one value
    got = _nanquantile_rows(vals, QUANTILES)
    want = np.full_like(got, np.nan)
    want[1:] = np.nanquantile(vals[1:], QUANTILES, axis=1).T
    np.testing.assert_array_equal(got, want)


def test_frame_of_parts_equals_concatenated_frames():
    from barrage.warning.backtest import _frame

    idx = pd.date_range("2025-01-01", periods=3)
    parts = [
        {"as_of": idx.to_numpy(), "model": "a", "horizon_days": 7, "p": np.array([0.1, 0.2, 0.3])},
        {"as_of": idx[:2].to_numpy(), "model": "bb", "horizon_days": 3, "p": np.array([0.4, 0.5])},
    ]
    want = pd.concat([pd.DataFrame(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(_frame(parts), want)


def test_shared_launch_pass_and_ensemble_reuse_give_the_same_numbers(record):
    from dataclasses import replace

    from barrage.warning import BacktestPlan, run_backtest
    from barrage.warning.backtest import run_registered_backtests

    plan = BacktestPlan(
        start=pd.Timestamp("2025-06-02").date(),
        end=pd.Timestamp("2025-06-29").date(),
        horizons=(7,),
        models=("renewal", "seasonal", "feature_stock", "feature_isotonic", "ensemble"),
    )
    targets = tuple(resolve_target(t) for t in REGISTRATION.targets)
    both = run_registered_backtests(record, plan, targets)
    alone = run_backtest(record, plan, targets[1])
    # the second target reused the first's launch forecasts: equal to its own
    pd.testing.assert_frame_equal(both[targets[1].name].launches, alone.launches)
    pd.testing.assert_frame_equal(both[targets[1].name].forecasts, alone.forecasts)
    # the ensemble built from the loop's fitted members equals one fitted on its own
    # and the isotonic feature model from feature_stock's regressions equals its own fit
    only = run_backtest(record, replace(plan, models=("ensemble", "feature_isotonic")), targets[1])
    for name in ("ensemble", "feature_isotonic"):
        mine = alone.forecasts[alone.forecasts["model"] == name]["p"].to_numpy()
        own = only.forecasts[only.forecasts["model"] == name]["p"].to_numpy()
        np.testing.assert_array_equal(mine, own)


def test_isotonic_from_the_platt_fit_equals_its_own_fit(design):
    from barrage.warning.models import with_isotonic

    X, y = design
    own = make_model("feature_isotonic", 7).fit(X, y)
    derived = with_isotonic(make_model("feature_stock", 7).fit(X, y))
    assert derived.isotonic_ is not None
    np.testing.assert_array_equal(derived.predict_proba(X), own.predict_proba(X))
    with pytest.raises(ValueError, match="other settings"):
        with_isotonic(make_model("feature", 7).fit(X, y))


def test_boosted_trees_run_openmp_on_one_thread_with_one_controller():
    from threadpoolctl import threadpool_info

    from barrage.warning.models import _one_openmp_thread, _openmp_controller

    assert _openmp_controller() is _openmp_controller()
    with _one_openmp_thread():
        omp = [i for i in threadpool_info() if i["user_api"] == "openmp"]
        assert omp and all(i["num_threads"] == 1 for i in omp)


def test_aci_moves_each_level_by_gamma_times_target_minus_hit():
    # horizon 1: origin j's outcome is known from origin j + 2 on (the backtest's gap)
    from barrage.warning.launches import aci_levels

    gamma, a = 0.1, 0.9
    below = np.array([0.95, 0.20, 0.95, 0.95, 0.30])  # y <= Q(l) exactly when below < l
    used, final = aci_levels(below, np.arange(5), 1, (a,), gamma)
    # by hand: l0 = l1 = 0.9 (nothing known); row 0 missed (0.95 >= 0.9): l2 = 0.9 + 0.1 *
    # (0.9 - 0) = 0.99; row 1 hit: l3 = 0.99 + 0.1 * (0.9 - 1) = 0.98; row 2 at 0.99 hit:
    # l4 = 0.97; rows 3 (at 0.98) and 4 (at 0.97) hit: final 0.97 - 0.02 = 0.95
    np.testing.assert_allclose(used[:, 0], [0.9, 0.9, 0.99, 0.98, 0.97])
    assert final[0] == pytest.approx(0.95)


def test_aci_uses_no_outcome_before_it_is_known():
    from barrage.warning.launches import aci_levels

    below = np.random.default_rng(3).random(60)
    days = np.arange(60)
    used, _ = aci_levels(below, days, 7, (0.1, 0.5, 0.9), 0.05)
    changed = below.copy()
    changed[30:] = 1 - changed[30:]  # outcomes of origins 30.. are not known before origin 38
    used2, _ = aci_levels(changed, days, 7, (0.1, 0.5, 0.9), 0.05)
    np.testing.assert_array_equal(used[:38], used2[:38])
    assert not np.array_equal(used[38:], used2[38:])
    np.testing.assert_array_equal(used[:8], 0 * used[:8] + [0.1, 0.5, 0.9])


@pytest.fixture(scope="module")
def tripled_level():
    """7-night drone sums whose level triples a third of the way in, beside a 90-night
    window that never moves (the worst case of a window that lags)."""
    from barrage.warning.launches import window_column

    rng = np.random.default_rng(5)
    n = 1200
    idx = pd.date_range("2022-01-01", periods=n, name="as_of")
    X = pd.DataFrame(
        {
            window_column(90, "attack_drone", 1, "mean"): 50.0,
            window_column(90, "attack_drone", 1, "var"): 50.0 + 50.0**2 / 5,
        },
        index=idx,
    )
    level = np.where(np.arange(n) < n // 3, 50.0, 150.0) * 7
    return X, rng.negative_binomial(35, 35 / (35 + level)).astype(float)


def _late_coverage(name, X, y):
    covered = []
    for i in range(2 * len(y) // 3, len(y), 25):  # refits as the backtest makes them
        train = slice(0, i - 7)
        m = make_launch_model(name, "attack_drone", 7).fit(X[train], y[train])
        q = m.predict_quantiles(X.iloc[i : i + 1])[0]
        covered.append(q[0] <= y[i] <= q[2])
    return np.mean(covered)


def test_log_tracking_regains_coverage_after_the_level_tripled(tripled_level):
    X, y = tripled_level
    q_base = (
        make_launch_model("nightly_draws_90", "attack_drone", 7)
        .fit(X)
        .predict_quantiles(X.iloc[:1])[0]
    )
    late = y[2 * len(y) // 3 :]
    assert np.mean((q_base[0] <= late) & (late <= q_base[2])) < 0.05
    assert _late_coverage("track_draws_90", X, y) == pytest.approx(0.8, abs=0.12)
    # level-space ACI cannot read beyond its base's 99.9% quantile: no coverage here
    assert _late_coverage("aci_draws_90", X, y) < 0.2


def test_the_v31_rule_keeps_to_the_coverage_band():
    from barrage.warning.registration import select_launch_primary_v31

    pin = {"recent_quantiles": 10.0, "aci_draws_90": 10.5, "track_draws_90": 10.3}
    cov = {"recent_quantiles": 0.70, "aci_draws_90": 0.80, "track_draws_90": 0.79}
    assert select_launch_primary_v31(pin, cov) == "track_draws_90"
    # within 1% of the best inside the band: the simpler
    pin["aci_draws_90"] = 10.35
    assert select_launch_primary_v31(pin, cov) == "aci_draws_90"
    # nobody in the band: the v3 rule over all
    assert select_launch_primary_v31(pin, dict.fromkeys(pin, 0.5)) == "recent_quantiles"


def test_launch_scores_cover_the_new_models_on_every_period_after_the_snapshot_too():
    # a newer record (origins to 2026-03-31): every launch model, the adaptive ones
    # included, is scored on the registered window and on the prospective period
    from types import SimpleNamespace

    from barrage.warning.evaluate import PROSPECTIVE_PERIOD, launch_scores
    from barrage.warning.launches import LAUNCH_MODELS

    as_of = pd.date_range("2024-06-01", "2026-03-31")
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame(
            {
                "as_of": as_of,
                "group": "attack_drone",
                "model": name,
                "horizon_days": 7,
                "crps": np.nan,
                "pinball": rng.random(len(as_of)),
                "covered_80": (rng.random(len(as_of)) < 0.8).astype(float),
                "outcome": 1.0,
            }
        )
        for name in LAUNCH_MODELS
    ]
    scores = launch_scores(SimpleNamespace(launches=pd.concat(frames, ignore_index=True)))
    after = scores[scores["period"] == PROSPECTIVE_PERIOD]
    assert set(after["model"]) == set(LAUNCH_MODELS)
    # origins whose 7-night window closes after 2025-09-30: 2025-09-25 .. 2026-03-31
    assert set(after["origins"]) == {len(pd.date_range("2025-09-25", "2026-03-31"))}
    reg = scores[scores["period"] == "registered_last_12m"]
    assert set(reg["origins"]) == {len(pd.date_range("2024-10-01", "2025-09-24"))}


@pytest.mark.parametrize("name", ["aci_draws_90", "track_level_14"])
def test_a_refit_that_resumes_the_last_replay_equals_a_replay_from_the_start(name, design):
    from barrage.warning import launches

    X, _ = design
    y = X[window_column(90, "attack_drone", 7, "q50")].fillna(0).to_numpy()[::-1].copy()
    fresh = {}
    for n in (500, 650):
        launches._REPLAYS.clear()
        fresh[n] = make_launch_model(name, "attack_drone", 7).fit(X.iloc[:n], y[:n])
    launches._REPLAYS.clear()
    make_launch_model(name, "attack_drone", 7).fit(X.iloc[:500], y[:500])
    resumed = make_launch_model(name, "attack_drone", 7).fit(X.iloc[:650], y[:650])
    np.testing.assert_array_equal(resumed.states_, fresh[650].states_)
    np.testing.assert_array_equal(resumed.states_path_, fresh[650].states_path_)
    # changed early rows are not resumed from
    y2 = y.copy()
    y2[10] += 1000
    changed = make_launch_model(name, "attack_drone", 7).fit(X.iloc[:650], y2[:650])
    launches._REPLAYS.clear()
    again = make_launch_model(name, "attack_drone", 7).fit(X.iloc[:650], y2[:650])
    np.testing.assert_array_equal(changed.states_path_, again.states_path_)
    assert not np.array_equal(fresh[500].states_, fresh[650].states_)
