"""The salvo engine: reproducibility, closed forms, and agreement with the reference."""

from __future__ import annotations

import numpy as np
import pytest

from barrage.salvo import compile_scenario, example_scenarios, load_scenario, simulate
from barrage.salvo.reference import simulate_reference
from barrage.salvo.scenario import scenario_from_dict
from barrage.salvo.validation import binomial_leakers, hughes_leakers, slotted_leakers


def one_layer(
    n,
    pk,
    *,
    channels=1_000_000,
    slots_h=1.0,
    slot_min=60,
    stock=None,
    shots=1,
    doctrine="salvo",
    arrival=(0.0, 1.0),
):
    return scenario_from_dict(
        {
            "night_h": slots_h,
            "slot_min": slot_min,
            "salvo": {"weapons": [{"family": "kh101", "count": n, "arrival_h": list(arrival)}]},
            "assets": [{"name": "a"}],
            "layers": [
                {
                    "name": "l",
                    "type": "mrad",
                    "engages": ["cruise_missile"],
                    "channels": channels,
                    "engagement_time_min": slot_min,
                    "stock": stock,
                    "shots_per_target": shots,
                    "doctrine": doctrine,
                    "kill_probability": {"cruise_missile": pk},
                }
            ],
        }
    )


def assert_mean(sample, expected, k=4.0, floor=1e-9):
    se = max(sample.std(ddof=1) / np.sqrt(sample.size), floor)
    assert abs(sample.mean() - expected) <= k * se, (sample.mean(), expected, se)


@pytest.fixture(scope="module")
def combined_2025():
    return load_scenario(example_scenarios()["2025-07-09_combined"])


def test_same_seed_same_numbers_whatever_the_chunk(combined_2025):
    runs = 3000  # not a multiple of the block: exercises the partial last block
    base = simulate(combined_2025, runs=runs, seed=7, chunk_runs=1024)
    for chunk in (2048, 3072, 100_000):
        other = simulate(combined_2025, runs=runs, seed=7, chunk_runs=chunk)
        np.testing.assert_array_equal(base.leakers_by_asset, other.leakers_by_asset)
        np.testing.assert_array_equal(base.interceptors_by_layer, other.interceptors_by_layer)
        np.testing.assert_array_equal(base.debris_by_asset, other.debris_by_asset)
    different = simulate(combined_2025, runs=runs, seed=8)
    assert not np.array_equal(base.leakers_by_asset, different.leakers_by_asset)


def test_one_layer_unlimited_is_binomial():
    n, pk, shots = 200, 0.3, 2
    r = simulate(one_layer(n, pk, shots=shots), runs=20_000, seed=1)
    mean, var = binomial_leakers(n, pk, shots)
    assert_mean(r.leakers, mean)
    # variance: the sample variance of a binomial has SE ~ var * sqrt(2/runs)
    assert abs(r.leakers.var() - var) <= 4 * var * np.sqrt(2 / r.runs)
    assert (r.interceptors_by_layer[:, 0] == n * shots).all()


def test_hughes_salvo_equation_homogeneous():
    # all arrive in one slot; the layer can engage y = channels of them
    n, y, pk = 120, 50, 0.8
    r = simulate(one_layer(n, pk, channels=y), runs=20_000, seed=2)
    mean, var = hughes_leakers(n, y, pk)
    assert_mean(r.leakers, mean)
    assert abs(r.leakers.var() - var) <= 4 * var * np.sqrt(2 / r.runs)
    # pk = 1: Hughes is deterministic, N - y
    exact = simulate(one_layer(n, 1.0, channels=y), runs=500, seed=3)
    assert (exact.leakers == n - y).all()


def test_saturation_emerges_from_channels_and_time():
    n, slots, cap, pk = 300, 12, 20, 0.7
    scn = one_layer(n, pk, channels=cap, slots_h=slots, slot_min=60, arrival=(0, slots))
    r = simulate(scn, runs=20_000, seed=4)
    assert_mean(r.leakers, slotted_leakers(n, slots, cap, pk))
    # more weapons, same defence: a lower intercept rate
    big = simulate(
        one_layer(2 * n, pk, channels=cap, slots_h=slots, arrival=(0, slots)), runs=5000, seed=4
    )
    assert big.destroyed.mean() / (2 * n) < r.destroyed.mean() / n - 0.05


def test_finite_stock_and_shoot_look_shoot():
    n, pk, stock = 100, 0.5, 60
    r = simulate(
        one_layer(n, pk, stock=stock, shots=2, doctrine="shoot_look_shoot"), runs=20_000, seed=5
    )
    assert r.interceptors_by_layer.max() <= stock
    unlimited = simulate(
        one_layer(n, pk, shots=2, doctrine="shoot_look_shoot"), runs=20_000, seed=5
    )
    # shoot-look-shoot: expected shots per engagement 1 + (1 - pk)
    assert_mean(unlimited.interceptors_by_layer[:, 0].astype(float), n * (2 - pk))
    assert_mean(unlimited.leakers.astype(float), n * (1 - pk) ** 2)


@pytest.mark.parametrize("pk", [0.5, 1.0])
def test_stock_runs_out_at_exactly_the_stock_one_shot(pk):
    """n = 100, stock = 60, one shot each, channels unlimited: exactly 60 engagements, so
    E[leakers] = 40 + 60 (1 - pk) (every run, the last interceptor used)."""
    n, stock = 100, 60
    r = simulate(one_layer(n, pk, stock=stock), runs=20_000, seed=12)
    assert (r.interceptors_by_layer[:, 0] == stock).all()
    assert_mean(r.leakers.astype(float), 40 + 60 * (1 - pk))
    assert r.leakers.min() >= 40


def test_stock_runs_out_two_shot_salvo():
    """Two shots per target, stock 60: 30 targets engaged, E[leakers] = 70 + 30 (1-pk)^2."""
    n, stock, pk = 100, 60, 0.5
    r = simulate(one_layer(n, pk, stock=stock, shots=2), runs=20_000, seed=13)
    assert (r.interceptors_by_layer[:, 0] == stock).all()
    assert_mean(r.leakers.astype(float), 70 + 30 * (1 - pk) ** 2)


def test_stock_runs_out_shoot_look_shoot():
    """Shoot-look-shoot, 2 shots, stock 60, pk 1: one shot kills, so 60 targets engaged
    and 40 leak in every run; with pk 0.5 the stock is spent (to within one shot: a
    target that would need a second shot past the stock is not engaged)."""
    sure = simulate(
        one_layer(100, 1.0, stock=60, shots=2, doctrine="shoot_look_shoot"), runs=2000, seed=14
    )
    assert (sure.interceptors_by_layer[:, 0] == 60).all() and (sure.leakers == 40).all()
    r = simulate(
        one_layer(100, 0.5, stock=60, shots=2, doctrine="shoot_look_shoot"), runs=20_000, seed=14
    )
    used = r.interceptors_by_layer[:, 0]
    assert used.max() == 60 and used.min() >= 59
    assert (used == 60).mean() > 0.5


def test_engine_agrees_with_the_reference_when_stock_runs_out():
    """Stock spent in every run (2-shot salvo and shoot-look-shoot, slotted channels): the
    engine's means equal the pure-Python reference's."""
    for doctrine in ("salvo", "shoot_look_shoot"):
        scn = one_layer(
            150, 0.6, channels=20, slots_h=4, stock=70, shots=2, doctrine=doctrine, arrival=(0, 4)
        )
        cs = compile_scenario(scn)
        ref = simulate_reference(cs, runs=1500, seed=21)
        vec = simulate(cs, runs=20_000, seed=21)
        assert ref["interceptors_by_layer"].min() >= 69  # the premise: the stock runs out
        pairs = (
            ("leakers", ref["leakers"], vec.leakers),
            ("interceptors", ref["interceptors_by_layer"][:, 0], vec.interceptors_by_layer[:, 0]),
        )
        for name, r, sample in pairs:
            r = r.astype(float)
            se = np.sqrt(r.var(ddof=1) / r.size + sample.var(ddof=1) / sample.size) + 1e-9
            assert abs(r.mean() - sample.mean()) <= 4 * se, (doctrine, name)


def test_engine_agrees_with_pure_python_reference(combined_2025):
    cs = compile_scenario(combined_2025)
    ref = simulate_reference(cs, runs=400, seed=11)
    vec = simulate(cs, runs=20_000, seed=11)
    for name, sample in (
        ("leakers", vec.leakers),
        ("destroyed", vec.destroyed),
        ("debris", vec.debris_falls),
        ("decoys_engaged", vec.decoys_engaged),
    ):
        r = ref[name].astype(float)
        se = np.sqrt(r.var(ddof=1) / r.size + sample.var(ddof=1) / sample.size)
        assert abs(r.mean() - sample.mean()) <= 4 * se, name
    for li in range(len(cs.layers)):
        r = ref["interceptors_by_layer"][:, li].astype(float)
        v = vec.interceptors_by_layer[:, li]
        se = np.sqrt(r.var(ddof=1) / r.size + v.var(ddof=1) / v.size) + 1e-9
        assert abs(r.mean() - v.mean()) <= 4 * se, cs.layers[li].name


def test_decoys_are_never_leakers_and_debris_is_apart():
    scn = scenario_from_dict(
        {
            "salvo": {"weapons": [{"family": "decoy", "count": 50}]},
            "assets": [{"name": "a"}, {"name": "b", "value_weight": 0}],
            "layers": [
                {
                    "name": "g",
                    "type": "gun",
                    "engages": ["attack_drone"],
                    "channels": 2,
                    "engagement_time_min": 10,
                    "kill_probability": {"attack_drone": 0.5},
                }
            ],
            "debris_probability": {"attack_drone": 1.0},
        }
    )
    r = simulate(scn, runs=2000, seed=0)
    assert r.leakers.max() == 0
    assert (r.decoys_engaged > 0).all()
    # every kill drops debris (p = 1), all on the only aimed-at asset
    np.testing.assert_array_equal(r.debris_falls, r.destroyed)
    assert r.debris_by_asset[:, 1].max() == 0
    assert (r.decoys_through + r.destroyed == 50).all()


def test_beta_kill_probability_varies_by_run():
    scn = one_layer(100, 0.5)
    data = scn.model_dump()
    data["layers"][0]["kill_probability"] = {"cruise_missile": {"alpha": 2.0, "beta": 2.0}}
    r = simulate(scenario_from_dict(data), runs=20_000, seed=9)
    # Beta(2,2)-binomial: mean 50, variance n p q (a+b+n)/(a+b+1) = 100*.25*104/5
    assert_mean(r.leakers.astype(float), 50.0)
    assert abs(r.leakers.var() - 520.0) <= 4 * 520.0 * np.sqrt(2 / r.runs) * 1.5


def test_cost_exchange_uses_unit_costs(combined_2025):
    r = simulate(combined_2025, runs=1024, seed=0)
    s = r.summary()["cost_exchange"]
    assert s["attacker_cost_usd"] == pytest.approx(
        437 * 35_000 + 291 * 10_000 + 4 * 13_000_000 + 3 * 1_000_000 + 6 * 10_000_000
    )
    assert s["defender_cost_usd"]["mean"] > 0


def test_rows_per_pass_do_not_change_the_numbers(combined_2025):
    from barrage.salvo.blocks import block_generators, draw_block
    from barrage.salvo.engine import simulate_chunk

    cs = compile_scenario(combined_2025)
    ((rng, size),) = block_generators(5, 700)
    draws = draw_block(cs, rng, size)
    base = simulate_chunk(cs, draws)
    other = simulate_chunk(cs, draws, rows=97)
    for key, value in base.items():
        np.testing.assert_array_equal(value, other[key], err_msg=key)
    assert base["leakers_by_asset"].shape == (700, len(cs.assets))


def test_stock_goes_to_the_first_arrivals_not_the_first_listed():
    """Channels never bind, so the run's weapons are not sorted for the slots; when the
    stock runs out they must still be engaged in arrival order. The Kh-101 burst is
    listed first but arrives an hour after the Kinzhal burst: a stock of 10 sure kills
    goes to the 10 Kinzhal, every Kh-101 leaks, in every run."""
    scn = scenario_from_dict(
        {
            "night_h": 2,
            "slot_min": 60,
            "salvo": {
                "weapons": [
                    {"family": "kh101", "count": 10, "arrival_h": [1.5, 2.0]},
                    {"family": "kinzhal", "count": 10, "arrival_h": [0.0, 0.5]},
                ]
            },
            "assets": [{"name": "a"}],
            "layers": [
                {
                    "name": "l",
                    "type": "long_range",
                    "engages": ["cruise_missile", "ballistic_missile"],
                    "channels": 1_000_000,
                    "engagement_time_min": 60,
                    "stock": 10,
                    "shots_per_target": 1,
                    "kill_probability": {"cruise_missile": 1.0, "ballistic_missile": 1.0},
                }
            ],
        }
    )
    r = simulate(scn, runs=2000, seed=3)
    by_class = dict(zip(r.classes, r.leakers_by_class.T, strict=True))
    assert (by_class["cruise_missile"] == 10).all()
    assert (by_class["ballistic_missile"] == 0).all()


@pytest.mark.parametrize("c", [0, 1, 3, 7])
def test_crowded_rows_are_those_with_a_slot_over_capacity(c):
    """The sorted-time test finds exactly the rows where more than ``c`` weapons still
    flying share a slot (counted directly, slot by slot)."""
    from barrage.salvo.compile import TIME_TICKS
    from barrage.salvo.engine import _crowded_rows

    rng = np.random.default_rng(c)
    runs, wa, n_slots = 400, 64, 24
    n_flying = rng.integers(0, wa + 1, runs)
    tick = rng.integers(0, TIME_TICKS - 1, (runs, wa)).astype(np.uint32)
    tick[np.arange(wa)[None, :] >= n_flying[:, None]] = TIME_TICKS - 1  # unused positions
    slot = (tick.astype(np.int64) * n_slots) >> 16
    counts = [np.bincount(s[:n], minlength=n_slots) for s, n in zip(slot, n_flying, strict=True)]
    expected = np.flatnonzero([cnt.max(initial=0) > c for cnt in counts])
    assert expected.size and expected.size < runs  # the draw exercises both kinds of row
    np.testing.assert_array_equal(_crowded_rows(tick, n_flying, c, n_slots), expected)


def _sliced(u: np.ndarray) -> np.ndarray:
    """Bit-sliced words of 16-bit ``u`` as the engine reads them: level ``b`` holds the
    complement of bit ``15 - b`` of ``u`` (most significant first)."""
    levels = [((u >> (15 - b)) & 1) == 0 for b in range(16)]
    return np.stack([np.packbits(x, axis=1, bitorder="little").view(np.uint64) for x in levels])


@pytest.mark.parametrize("t", [0, 1, 2, 3, 255, 256, 19661, 32767, 32768, 40000, 65535, 65536])
def test_bit_sliced_compare_is_u_below_t(t):
    """16 word operations per 64 positions give exactly ``u < t`` at every position."""
    from barrage.salvo.engine import below

    u = np.random.default_rng(t).integers(0, 1 << 16, (40, 256), dtype=np.int64)
    u[0, :4] = [0, 1, 65534, 65535]  # the ends of the range
    expected = np.packbits(u < t, axis=1, bitorder="little").view(np.uint64)
    np.testing.assert_array_equal(below(_sliced(u), t), expected)


def test_bit_sliced_compare_with_a_threshold_per_run():
    from barrage.salvo.engine import below_rows

    rng = np.random.default_rng(5)
    u = rng.integers(0, 1 << 16, (300, 128), dtype=np.int64)
    t = rng.integers(0, (1 << 16) + 1, (300, 1))
    t[:3, 0] = [0, 1 << 16, 1]
    expected = np.packbits(u < t, axis=1, bitorder="little").view(np.uint64)
    np.testing.assert_array_equal(below_rows(_sliced(u), t), expected)


@pytest.mark.parametrize("pk", [1e-4, 0.003, 0.3, 0.5, 0.9, 0.9999])
def test_kill_share_is_the_kill_probability(pk):
    """A probability is held to 1/65536 (at most 7.6e-6 off): over 2 million engagements
    the kill share is within 4 standard errors of ``pk``, tiny and near-1 values too."""
    n, runs = 500, 4000
    r = simulate(one_layer(n, pk), runs=runs, seed=21)
    share = r.kills_by_layer[:, 0].sum() / (n * runs)
    se = np.sqrt(pk * (1 - pk) / (n * runs))
    assert abs(share - pk) <= 4 * se, (share, pk, se)
