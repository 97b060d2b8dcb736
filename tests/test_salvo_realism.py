"""Salvo realism (issue 19): new mechanisms, their validation, and unchanged defaults."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from barrage.salvo import example_scenarios, load_scenario, simulate
from barrage.salvo.result import OUTPUTS

FROZEN = {
    "2024-08-26_combined": "af6a80b8f52a276372ba0754d1cfde1de97d91973676fd0c67a27edb3413b2a8",
    "2025-07-09_combined": "7bf904b29b4bfeb58c30be6ed431bb6f26640646e82920359548b772a11fce40",
}
"""sha256 of every per-run output (3,000 runs, seed 7) with the new fields at their
defaults. Frozen before the new mechanisms; re-frozen in issue 19's third pass, when the
engine's random stream changed for speed (rows sorted only where capacity can bind;
bit-sliced 16-bit target and kill uniforms; SFC64 blocks): a fixed seed gives other
numbers, the distributions are checked equal (docs/benchmarks.md)."""


def digest(result) -> str:
    h = hashlib.sha256()
    for name in OUTPUTS:
        h.update(np.ascontiguousarray(getattr(result, name), dtype=np.int64).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_new_fields_at_defaults_keep_results_bit_identical(name):
    result = simulate(load_scenario(example_scenarios()[name]), runs=3000, seed=7)
    assert digest(result) == FROZEN[name]


# --- 1. decoys apart from EW -----------------------------------------------------------


def drone_nights(rows):
    import pandas as pd

    df = pd.DataFrame(rows, columns=["night", "launched", "destroyed", "lost", "shaheds"])
    df["night"] = pd.to_datetime(df["night"])
    return df


def test_decoy_share_and_ew_are_separate_parameters():
    from barrage.salvo.decoys import calibrate_decoys

    nights = drone_nights(
        [
            # Shahed count given: decoys = launched - shaheds; lost beyond them is EW
            ("2025-07-14", 200, 110, 90, 120.0),  # 80 decoys, 10 real lost to EW
            ("2025-07-15", 100, 50, 40, 60.0),  # 40 decoys, no EW
            ("2025-09-07", 100, 80, 0, 60.0),  # no lost reported: no EW reading
            ("2025-08-01", 300, 200, 100, np.nan),  # no Shahed count: not used
        ]
    )
    row = calibrate_decoys(nights).set_index("period").loc["2025H2"]
    assert row["nights_with_shahed_count"] == 3
    # decoys 80 + 40 + 40 of 400: Beta(1 + 160, 1 + 240)
    assert row["decoy_share"] == pytest.approx(161 / 402)
    assert row["decoy_p05"] < row["decoy_share"] < row["decoy_p95"]
    # EW on real drones: 10 of 180 Shaheds on the nights reporting lost
    assert row["ew_real_share"] == pytest.approx(11 / 182)
    assert row["nights_with_lost_and_shahed_count"] == 2


def test_separation_reports_the_identity_and_the_ridge():
    from barrage.salvo.decoys import separation

    nights = drone_nights(
        [
            ("2025-07-14", 200, 110, 80, 120.0),
            ("2025-05-01", 100, 50, 40, np.nan),
        ]
    )
    out = separation(nights)
    assert out["lost_minus_decoys"] == [0.0]
    assert out["nights_with_lost_only"] == 1
    # lost share 0.4: a decoy share of 0.3 leaves 1/7 of real drones to EW, 0.4 none
    implied = out["implied_ew_real_by_decoy_share"]
    assert implied[0.3] == pytest.approx((0.4 - 0.3) / 0.7, abs=1e-3)
    assert implied[0.4] == 0.0


def test_statements_are_cited_and_checked_against_the_record():
    from barrage.salvo.decoys import DECOY_STATEMENTS, check_statements

    assert all(s.url.startswith("https://") and s.who and s.phrase for s in DECOY_STATEMENTS)
    nights = drone_nights([("2025-07-08", 728, 296, 415, np.nan)])
    out = check_statements(nights)
    first = out.iloc[0]
    assert first["stated_decoy_share"] == pytest.approx(0.584, abs=1e-3)
    assert first["record_lost_share"] == pytest.approx(415 / 728)


@pytest.mark.parametrize("share", [1.0, 1.5, -0.1])
def test_decoy_share_outside_0_1_is_refused(share):
    from barrage.errors import InputError
    from barrage.salvo.scenario import scenario_from_dict

    expected = "expected a share in \\[0, 1\\)" if share >= 1 else "greater than or equal to 0"
    with pytest.raises(InputError, match=rf"salvo\.decoy_share: .*{expected}"):
        scenario_from_dict(
            {
                "salvo": {"decoy_share": share, "weapons": [{"family": "shahed", "count": 5}]},
                "assets": [{"name": "a"}],
            }
        )


# --- 2. out-of-sample check -------------------------------------------------------------


def synthetic_totals(start="2023-07-01", n_nights=480, seed=0):
    """Class totals drawn from a stationary model: kill Beta(8, 2), lost Beta(1, 9)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for night in pd.date_range(start, periods=n_nights, freq="D"):
        for cls, fam, size in (
            ("attack_drone", "shahed", 100),
            ("cruise_missile", "kh101", 10),
            ("ballistic_missile", "iskander_m_or_kn23", 4),
        ):
            launched = int(rng.integers(1, size * 2))
            lost = rng.binomial(launched, rng.beta(1, 9))
            destroyed = rng.binomial(launched - lost, rng.beta(8, 2))
            rows.append((night, cls, fam, float(launched), float(destroyed), float(lost)))
    return pd.DataFrame(
        rows, columns=["night", "weapon_class", "family", "launched", "destroyed", "not_reach_goal"]
    )


def test_crps_of_integer_forecasts_matches_closed_forms():
    from scipy import stats

    from barrage.salvo.outofsample import crps_from_cdf

    # a point mass at 3 against 7: |3 - 7|
    cdf = (np.arange(11) >= 3).astype(float)
    assert crps_from_cdf(cdf, 7) == pytest.approx(4.0)
    # a binomial against a direct E|X - y| - E|X - X'| / 2
    n, p, y = 20, 0.3, 9
    k = np.arange(n + 1)
    pmf = stats.binom.pmf(k, n, p)
    direct = pmf @ np.abs(k - y) - 0.5 * pmf @ np.abs(k[:, None] - k[None, :]) @ pmf
    assert crps_from_cdf(stats.binom.cdf(k, n, p), y) == pytest.approx(direct, rel=1e-9)


def test_calibration_sees_no_night_after_the_cut():
    import pandas as pd

    from barrage.salvo.outofsample import class_nights, fit_layered

    base = synthetic_totals()
    cut = pd.Timestamp("2024-07-01")
    changed = base.copy()
    after = changed["night"] >= cut
    changed.loc[after, "destroyed"] = 0.0  # the future is a disaster: must not matter
    a = fit_layered(class_nights(base), cut)
    b = fit_layered(class_nights(changed), cut)
    assert a == b


def test_cut_after_the_last_night_is_refused():
    import pandas as pd

    from barrage.errors import InputError
    from barrage.salvo.outofsample import Cut

    with pytest.raises(
        InputError,
        match="on or before the store's last night .2025-03-01., got 2025-04-01; a later cut needs a newer record",
    ):
        Cut(pd.Timestamp("2025-04-01"), pd.Timestamp("2025-03-01"))


@pytest.mark.parametrize("config", ["joint", "independent"])
def test_out_of_sample_coverage_is_near_nominal_when_the_model_holds(config):
    from barrage.salvo.outofsample import out_of_sample_check

    per_night, table = out_of_sample_check(
        synthetic_totals(), cuts=("2024-07-01",), runs=400, seed=0, config=config
    )
    t = table.set_index(["weapon_class", "model"])
    for cls in ("attack_drone", "cruise_missile"):
        assert 0.80 <= t.loc[(cls, "layered"), "coverage_90"] <= 0.99
        assert 0.35 <= t.loc[(cls, "layered"), "coverage_50"] <= 0.75
    # the trailing rate ignores night-to-night spread: it under-covers the drones
    assert t.loc[("attack_drone", "trailing_90"), "coverage_90"] < 0.75
    assert set(per_night["model"]) == {"layered", "trailing_90", "beta_binomial"}
    assert (per_night["night"] >= "2024-07-01").all()


def test_salvo_check_cli_is_the_out_of_sample_check(monkeypatch):
    import json

    from typer.testing import CliRunner

    import barrage.pipeline.simulate as jobs
    from barrage.cli import app

    # the name the salvo-check job reads the store through (bound at its import)
    monkeypatch.setattr(jobs, "load_night_totals", lambda db: synthetic_totals())
    args = ["simulate", "salvo-check", "--runs", "100", "--cut", "2024-07-01", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["cuts"] == ["2024-07-01"]
    models = {(r["weapon_class"], r["model"]) for r in out["scores"]}
    assert ("attack_drone", "layered") in models and ("cruise_missile", "trailing_90") in models
    # the text table: every column whole in an 80-column terminal, sources credited
    text = CliRunner().invoke(app, args[:-1], terminal_width=80).stdout
    assert "…" not in text and "Petro Ivaniuk" in text
    assert re.search(r"drone +│ beta_binomial +│ +\d+ │", text)
    res = CliRunner().invoke(app, [*args[:-1], "--runs", "10"])
    assert res.exit_code == 2 and "runs: expected at least 100" in res.stderr
    for cut, message in (
        ("nope", "--cut: expected a date YYYY-MM-DD (ISO only), got 'nope'"),
        ("2020-01-01", "no attack_drone nights before the cut 2020-01-01"),
        ("2030-01-01", "--cut: expected a date on or before the store's last night"),
    ):
        res = CliRunner().invoke(app, ["simulate", "salvo-check", "--runs", "100", "--cut", cut])
        assert res.exit_code == 2 and message in res.stderr, res.stderr
        assert res.stderr.count("\n") == 1


# --- 3. saturation where it happens: waves, corridors, capacity -------------------------


def layer(name, *, channels=1_000_000, time_min=60, pk=1.0, **extra):
    return {
        "name": name,
        "type": "shorad",
        "engages": ["attack_drone"],
        "channels": channels,
        "engagement_time_min": time_min,
        "kill_probability": {"attack_drone": pk},
        **extra,
    }


def test_a_layer_sees_only_the_corridors_it_covers():
    from barrage.salvo.scenario import scenario_from_dict

    scn = scenario_from_dict(
        {
            "night_h": 2,
            "slot_min": 60,
            "salvo": {
                "weapons": [
                    {
                        "family": "shahed",
                        "count": 50,
                        "waves": [
                            {"count": 30, "arrival_h": [0, 1], "corridor": "north"},
                            {"count": 20, "arrival_h": [1, 2], "corridor": "south"},
                        ],
                    }
                ]
            },
            "assets": [{"name": "a"}],
            "layers": [layer("north_guns", corridors=["north"]), layer("south", pk=0.0)],
        }
    )
    r = simulate(scn, runs=500, seed=0)
    assert (r.leakers == 20).all()  # every southern drone gets through, no northern one
    assert (r.kills_by_layer[:, 0] == 30).all()


def test_tracks_and_reload_cap_engagements_per_slot():
    from barrage.salvo.scenario import scenario_from_dict

    def one(**extra):
        return scenario_from_dict(
            {
                "night_h": 1,
                "slot_min": 60,
                "salvo": {"weapons": [{"family": "shahed", "count": 120, "arrival_h": [0, 1]}]},
                "assets": [{"name": "a"}],
                "layers": [layer("l", channels=100, **extra)],
            }
        )

    # Hughes with pk = 1: leakers are exactly N minus the engagements the slot allows
    assert (simulate(one(), runs=200, seed=1).leakers == 20).all()
    assert (simulate(one(tracks=50), runs=200, seed=1).leakers == 70).all()
    # reload of 60 min every 2 rounds: each channel 60 / (60 + 30) of a slot -> 66
    reload = simulate(one(reload_min=60, rounds_per_load=2), runs=200, seed=1)
    assert (reload.leakers == 120 - 66).all()


def test_waves_make_saturation_bind_where_an_even_spread_does_not():
    from barrage.salvo.scenario import scenario_from_dict

    def night(waves):
        group = {"family": "shahed", "count": 400, "arrival_h": [0, 8]}
        if waves:
            group["waves"] = [
                {"count": 200, "arrival_h": [1, 1.5]},
                {"count": 200, "arrival_h": [5, 5.5]},
            ]
        return scenario_from_dict(
            {
                "night_h": 8,
                "slot_min": 10,
                "salvo": {"weapons": [group]},
                "assets": [{"name": "a"}],
                "layers": [layer("mfg", channels=30, time_min=10, pk=0.8)],
            }
        )

    even = simulate(night(False), runs=2000, seed=2)
    burst = simulate(night(True), runs=2000, seed=2)
    # even: 8.3 arrivals per 10-min slot against 30 engagements; waves: 66.7 against 30
    assert even.leakers.mean() == pytest.approx(400 * 0.2, rel=0.05)
    assert burst.leakers.mean() > 400 - 6 * 30 * 0.8 - 1


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["salvo"].update(decoy_share=1.0),
            "salvo.decoy_share: expected a share in [0, 1), got 1.0",
        ),
        (
            lambda d: d["salvo"]["weapons"][0].update(
                waves=[{"count": 100, "arrival_h": [0, 1]}, {"count": 5, "arrival_h": [1, 2]}]
            ),
            "salvo.weapons[0]: waves: wave counts sum to 105; expected the group's count 109",
        ),
        (
            lambda d: (
                d["salvo"]["weapons"][0].update(corridor="east"),
                [x.update(corridors=["west"]) for x in d["layers"]],
                d["salvo"]["weapons"][1].update(corridor="west"),
            ),
            "salvo.weapons: corridor 'east' is covered by no layer",
        ),
        (
            lambda d: d["layers"][1].update(channels=-4),
            "layers[1].channels: Input should be greater than or equal to 0 (got -4)",
        ),
        (
            lambda d: d["layers"][1].update(tracks=-1),
            "layers[1].tracks: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            lambda d: d.update(weather={"cloud_pct": 150, "wind_kmh": 10}),
            "weather.cloud_pct: Input should be less than or equal to 100 (got 150)",
        ),
        (
            lambda d: d["layers"][1].update(reload_min=-5),
            "layers[1].reload_min: Input should be greater than or equal to 0 (got -5)",
        ),
        (
            lambda d: d["salvo"].update(decoy_share=-0.1),
            "salvo.decoy_share: Input should be greater than or equal to 0 (got -0.1)",
        ),
        (
            lambda d: d["layers"][1].update(stock=-1),
            "layers[1].stock: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            lambda d: d["layers"][1].update(rounds_per_load=0),
            "layers[1].rounds_per_load: Input should be greater than or equal to 1 (got 0)",
        ),
        (
            lambda d: d["layers"][1].update(engagement_time_min=0),
            "layers[1].engagement_time_min: Input should be greater than 0 (got 0)",
        ),
        (
            lambda d: d["salvo"]["weapons"][0].update(
                waves=[{"count": 200, "arrival_h": [0, 1]}, {"count": 5, "arrival_h": [1, 2]}]
            ),
            "salvo.weapons[0]: waves: wave counts sum to 205; expected the group's count 109",
        ),
    ],
)
def test_bad_realism_fields_name_the_field_and_exit_2(tmp_path, mutate, expected):
    import yaml
    from typer.testing import CliRunner

    from barrage.cli import app

    path_in = example_scenarios()["2024-08-26_combined"]
    data = yaml.safe_load(path_in.read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(app, ["simulate", "salvo", str(path), "--json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.startswith(f"error: {path}: ") and res.stderr.count("\n") == 1
    assert expected in res.stderr


def test_scaling_keeps_wave_shares_and_spreading_removes_the_bursts():
    from barrage.salvo.saturation import scale_salvo

    scn = load_scenario(example_scenarios()["stylised_waves"])
    big = scale_salvo(scn, "shahed", 1000)
    waves = big.salvo.weapons[0].waves
    assert [w.count for w in waves] == [400, 350, 250]
    assert [w.corridor for w in waves] == ["north", "east", "south"]
    spread = scale_salvo(scn, "shahed", 999, spread=True)
    assert sum(w.count for w in spread.salvo.weapons[0].waves) == 999
    assert {w.arrival_h for w in spread.salvo.weapons[0].waves} == {(0.0, scn.night_h)}


def test_on_the_stylised_night_waves_make_saturation_bind():
    from barrage.salvo.saturation import leak_rate_curve, saturation_onset

    scn = load_scenario(example_scenarios()["stylised_waves"])
    curve = leak_rate_curve(scn, [100, 600, 1400], runs=1024, seed=0)
    rate = curve.set_index(["size", "profile"])["leak_rate"]
    # small salvos: the bursts fit within the layers; large ones: they do not
    assert abs(rate[(100, "waves")] - rate[(100, "spread")]) < 0.03
    assert rate[(600, "waves")] > rate[(600, "spread")] + 0.05
    assert rate[(1400, "waves")] > rate[(100, "waves")] + 0.3
    onset = saturation_onset(curve)
    assert onset["waves"] == 600


def test_report_shows_the_leak_rate_curve():
    from barrage.report.html import _salvo_html

    html = _salvo_html(runs=200)
    assert html.startswith("<h2>Salvo saturation")
    assert html.count("plotly-graph-div") == 1


def test_salvo_curve_cli(tmp_path):
    import json

    from typer.testing import CliRunner

    from barrage.cli import app

    path = str(example_scenarios()["stylised_waves"])
    res = CliRunner().invoke(
        app, ["simulate", "salvo-curve", path, "--sizes", "100,800", "--runs", "256", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {r["profile"] for r in out["curve"]} == {"waves", "spread"}
    # a shipped example by name, as `simulate salvo` takes it; text says what it rests on
    res = CliRunner().invoke(
        app, ["simulate", "salvo-curve", "stylised_waves", "--sizes", "100,800", "--runs", "256"]
    )
    assert res.exit_code == 0, res.output
    assert "ILLUSTRATIVE: the scenario's stated layers" in " ".join(res.stdout.split())
    res = CliRunner().invoke(app, ["simulate", "salvo-curve", path, "--sizes", "100,x"])
    assert res.exit_code == 2 and "--sizes: expected comma-separated integers" in res.stderr
    res = CliRunner().invoke(app, ["simulate", "salvo-curve", path, "--family", "kalibr"])
    assert res.exit_code == 2 and "no 'kalibr' group" in res.stderr


def test_engine_agrees_with_the_reference_with_the_new_mechanisms_on():
    from barrage.salvo import compile_scenario
    from barrage.salvo.reference import simulate_reference

    cs = compile_scenario(load_scenario(example_scenarios()["stylised_waves"]))
    ref = simulate_reference(cs, runs=300, seed=3)
    vec = simulate(cs, runs=8192, seed=3)
    for name, sample in (("leakers", vec.leakers), ("destroyed", vec.destroyed)):
        r = ref[name].astype(float)
        se = np.sqrt(r.var(ddof=1) / r.size + sample.var(ddof=1) / sample.size)
        assert abs(r.mean() - sample.mean()) <= 4 * se, name
    for li, layer in enumerate(cs.layers):
        r = ref["interceptors_by_layer"][:, li].astype(float)
        v = vec.interceptors_by_layer[:, li]
        se = np.sqrt(r.var(ddof=1) / r.size + v.var(ddof=1) / v.size) + 1e-9
        assert abs(r.mean() - v.mean()) <= 4 * se, layer.name


# --- 4. Geran-3, interceptor drones, weather -------------------------------------------


def test_jets_are_their_own_class_and_slow_layers_do_not_touch_them():
    from barrage.salvo.scenario import scenario_from_dict

    scn = scenario_from_dict(
        {
            "salvo": {
                "weapons": [
                    {"family": "shahed", "count": 40},
                    {"family": "geran3", "count": 10},
                ]
            },
            "assets": [{"name": "a"}],
            "layers": [
                {**layer("interceptor_drones", pk=1.0), "type": "interceptor_drone"},
                {
                    **layer("gun", pk=0.0),
                    "engages": ["attack_drone", "jet_drone"],
                    "kill_probability": {"attack_drone": 0.0, "jet_drone": 1.0},
                },
            ],
        }
    )
    r = simulate(scn, runs=300, seed=0)
    assert r.classes == ["attack_drone", "jet_drone"]
    assert (r.leakers_by_class[:, 0] == 0).all()  # every Shahed to the interceptor drones
    assert (r.kills_by_layer[:, 1] == 10).all()  # every jet to the gun


def test_jet_calibration_from_the_turbojet_columns(record_db):
    from barrage.salvo.jets import calibrate_jets, load_jet_nights

    nights = load_jet_nights(record_db)
    first = nights.set_index("night").loc["2025-08-01"]
    assert (first["launched"], first["destroyed"]) == (8.0, 8.0)
    cal = calibrate_jets(nights)
    assert cal["alpha"] == 1 + nights["destroyed"].sum()
    assert cal["pk_p05"] < cal["pk_mean"] < cal["pk_p95"]


def test_weather_moves_only_the_visual_layers():
    from scipy.special import expit, logit

    from barrage.salvo.scenario import scenario_from_dict
    from barrage.salvo.validation import binomial_leakers

    def night(weather, kind):
        data = {
            "night_h": 1,
            "slot_min": 60,
            "salvo": {"weapons": [{"family": "shahed", "count": 200, "arrival_h": [0, 1]}]},
            "assets": [{"name": "a"}],
            "layers": [{**layer("l", pk=0.5), "type": kind}],
        }
        if weather:
            data["weather"] = {"cloud_pct": 100, "wind_kmh": 20}
        return scenario_from_dict(data)

    pk = expit(logit(0.5) - 0.359 - 0.025 * 2)
    cloudy = simulate(night(True, "mobile_fire_group"), runs=20_000, seed=4)
    mean, _ = binomial_leakers(200, pk)
    se = cloudy.leakers.std() / np.sqrt(cloudy.runs)
    assert abs(cloudy.leakers.mean() - mean) < 4 * se
    # a radar-guided layer ignores the weather: the same numbers as without it
    radar = simulate(night(True, "shorad"), runs=2000, seed=4)
    clear = simulate(night(False, "shorad"), runs=2000, seed=4)
    np.testing.assert_array_equal(radar.leakers, clear.leakers)


def test_weather_defaults_are_the_fit_before_2025_04_01(record_db, shared_data):
    from barrage.record.nights import load_night_totals
    from barrage.salvo.scenario import Weather
    from barrage.salvo.weather import fit_weather_effect, load_night_weather

    nt = load_night_totals(record_db)
    wx = load_night_weather(shared_data / "weather" / "ukraine_weather_by_date.csv")
    train = fit_weather_effect(nt, wx, start="2022-01-01", end="2025-04-01")
    default = Weather(cloud_pct=0, wind_kmh=0)
    assert train["logit_per_100pct_cloud"] == pytest.approx(
        default.logit_per_100pct_cloud, abs=5e-4
    )
    assert train["logit_per_10kmh_wind"] == pytest.approx(default.logit_per_10kmh_wind, abs=5e-4)
    # the check on the nights after: same sign for cloud, more than 2 se from 0
    check = fit_weather_effect(nt, wx, start="2025-04-01", end="2026-01-01")
    assert check["logit_per_100pct_cloud"] < -2 * check["se_cloud"]


# --- 5. hit locations -------------------------------------------------------------------


def test_hit_location_check_on_a_known_relation():
    import pandas as pd

    from barrage.salvo.hits import hit_location_check

    rng = np.random.default_rng(0)
    leakers = rng.integers(1, 80, size=400)
    locations = rng.poisson(np.exp(0.2) * (1 + leakers) ** 0.6)
    nights = pd.DataFrame(
        {
            "night": pd.date_range("2025-06-01", periods=400),
            "leakers": leakers.astype(float),
            "hit_locations": locations.astype(float),
        }
    )
    out = hit_location_check(nights)
    assert out["elasticity"] == pytest.approx(0.6, abs=4 * out["elasticity_se"])
    assert out["nights_more_locations_than_leakers"] == int((locations > leakers).sum())


def test_hit_locations_start_in_may_2025_and_rarely_exceed_leakers(record_db):
    from barrage.salvo.hits import hit_location_check, load_hit_nights

    nights = load_hit_nights(record_db)
    out = hit_location_check(nights)
    assert out["first_night"] >= "2025-05-01"
    assert out["nights_more_locations_than_leakers"] <= 0.05 * out["nights"]
    assert 0 < out["elasticity"] < 1  # big nights pile more drones on each place


# --- the decoy share drawn per run ------------------------------------------------------


def decoy_night(share, pk=0.0, n=300):
    from barrage.salvo.scenario import scenario_from_dict

    return scenario_from_dict(
        {
            "night_h": 4,
            "slot_min": 60,
            "salvo": {
                "decoy_share": share,
                "weapons": [{"family": "shahed", "count": n, "arrival_h": [0, 4]}],
            },
            "assets": [{"name": "a"}],
            "layers": [layer("l", pk=pk)],
            "ew_loss": {"shahed": 0.1, "decoy": 0.0},
        }
    )


def test_a_decoy_share_drawn_per_run_is_beta_binomial():
    a, b, n = 12.8, 18.0, 300  # the record's night-level Beta (2025H2)
    r = simulate(decoy_night({"alpha": a, "beta": b}), runs=20_000, seed=5)
    m, kappa = a / (a + b), a + b
    real = n - r.decoys_through  # pk = 0 and no EW on decoys: every decoy flies through
    assert abs(real.mean() - n * (1 - m)) < 4 * real.std() / np.sqrt(real.size)
    var = n * m * (1 - m) * (kappa + n) / (kappa + 1)
    assert abs(real.var() - var) < 4 * var * np.sqrt(2 / r.runs) * 1.5
    # every drone is accounted for once: destroyed + lost to EW + leaked + decoys through
    total = r.destroyed + r.ew_lost_by_class.sum(axis=1) + r.leakers + r.decoys_through
    assert (total == n).all()
    # EW takes real drones only (decoys: 0 here)
    ew = r.ew_lost_by_class[:, 0]
    assert abs(ew.mean() - 0.1 * n * (1 - m)) < 4 * ew.std() / np.sqrt(ew.size)


def test_a_fixed_share_is_the_old_split_and_the_cost_is_expected():
    from barrage.salvo import compile_scenario

    fixed = compile_scenario(decoy_night(0.4))
    drawn = compile_scenario(decoy_night({"alpha": 4.0, "beta": 6.0}))
    assert fixed.n_weapons == drawn.n_weapons == 300
    assert fixed.decoy_prior is None and fixed.decoy_pairs.shape == (0, 3)
    assert drawn.attacker_cost_usd == pytest.approx(300 * (0.4 * 10_000 + 0.6 * 35_000))
    assert fixed.attacker_cost_usd == pytest.approx(120 * 10_000 + 180 * 35_000)


def test_engine_agrees_with_the_reference_on_a_drawn_decoy_share():
    from barrage.salvo import compile_scenario
    from barrage.salvo.reference import simulate_reference

    cs = compile_scenario(decoy_night({"alpha": 4.0, "beta": 6.0}, pk=0.5, n=120))
    ref = simulate_reference(cs, runs=1500, seed=2)
    vec = simulate(cs, runs=8192, seed=2)
    for name, sample in (
        ("leakers", vec.leakers),
        ("destroyed", vec.destroyed),
        ("ew_lost", vec.ew_lost_by_class.sum(axis=1)),
        ("decoys_engaged", vec.decoys_engaged),
    ):
        r = ref[name].astype(float)
        se = np.sqrt(r.var(ddof=1) / r.size + sample.var(ddof=1) / sample.size)
        assert abs(r.mean() - sample.mean()) <= 4 * se, name


def test_drift_is_net_of_the_blocks_own_noise():
    import pandas as pd

    from barrage.salvo.outofsample import drift_sd

    rng = np.random.default_rng(3)

    def blocks(tau):
        level = np.cumsum(rng.normal(0, tau, size=12)) + 1.5  # logit level, random walk
        m = 1 / (1 + np.exp(-level))
        kappa, nights = 10.0, 60
        noisy = [rng.beta(mi * kappa, (1 - mi) * kappa, size=nights).mean() for mi in m]
        return pd.DataFrame({"mean": noisy, "kappa": kappa, "nights": nights})

    still = np.mean([drift_sd(blocks(0.0)) for _ in range(40)])
    moving = np.mean([drift_sd(blocks(0.6)) for _ in range(40)])
    assert still < 0.1  # the raw sd of differences is about 0.14 here
    assert moving == pytest.approx(0.6, abs=0.15)
    assert drift_sd(blocks(0.6).iloc[:2]) == 0.0


def test_drift_beta_matches_the_mixture_moments():
    from barrage.salvo.outofsample import _drift_beta

    rng = np.random.default_rng(4)
    mean, kappa, tau, horizon = 0.85, 12.0, 0.5, 2
    logit_m = np.log(mean / (1 - mean)) + rng.normal(0, tau * np.sqrt(horizon), 400_000)
    m = 1 / (1 + np.exp(-logit_m))
    draws = rng.beta(m * kappa, (1 - m) * kappa)
    b = _drift_beta(mean, kappa, tau, horizon)
    a, bb = b["alpha"], b["beta"]
    assert a / (a + bb) == pytest.approx(draws.mean(), abs=2e-3)
    var = a * bb / ((a + bb) ** 2 * (a + bb + 1))
    assert var == pytest.approx(draws.var(), rel=0.02)
    # no drift: the Beta itself
    flat = _drift_beta(mean, kappa, 0.0, horizon)
    assert flat["alpha"] == pytest.approx(mean * kappa) and flat["beta"] == pytest.approx(
        (1 - mean) * kappa
    )


# --- the second configuration: joint kill and lost shares ------------------------------


def correlated_totals(rho, start="2023-07-01", n_nights=480, seed=0):
    """Drone nights whose (lost, kill) logits are bivariate normal with correlation rho."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, rho], [rho, 1.0]]) * 0.5**2
    z = rng.multivariate_normal([-1.5, 2.0], cov, size=n_nights)
    p = 1 / (1 + np.exp(-z))
    rows = []
    for night, (p_lost, p_kill) in zip(pd.date_range(start, periods=n_nights), p, strict=True):
        launched = int(rng.integers(200, 400))
        lost = rng.binomial(launched, p_lost)
        rows.append(
            (night, "attack_drone", "shahed", launched, rng.binomial(launched - lost, p_kill), lost)
        )
        for cls, fam in (("cruise_missile", "kh101"), ("ballistic_missile", "iskander_m_or_kn23")):
            launched = int(rng.integers(1, 10))
            lost = rng.binomial(launched, 0.05)
            rows.append((night, cls, fam, launched, rng.binomial(launched - lost, 0.4), lost))
    return pd.DataFrame(
        rows, columns=["night", "weapon_class", "family", "launched", "destroyed", "not_reach_goal"]
    ).astype({"launched": float, "destroyed": float, "not_reach_goal": float})


def test_joint_fit_recovers_the_correlation_and_sees_no_night_after_the_cut():
    import pandas as pd

    from barrage.salvo.outofsample import class_nights, fit_joint

    cut = pd.Timestamp("2024-07-01")
    for rho in (-0.8, 0.0):
        fit = fit_joint(class_nights(correlated_totals(rho)), cut)["attack_drone"]
        sd = np.sqrt(np.diag(fit.spread))
        assert fit.spread[0, 1] / sd.prod() == pytest.approx(rho, abs=0.15)
        assert sd == pytest.approx([0.5, 0.5], abs=0.1)  # net of binomial sampling noise
        assert fit.level == pytest.approx(
            [-1.5, 2.0], abs=0.3
        )  # pooled share of a logit-normal: near its centre at sd 0.5
    base = correlated_totals(-0.8)
    changed = base.copy()
    changed.loc[changed["night"] >= cut, "destroyed"] = 0.0
    a = fit_joint(class_nights(base), cut)["attack_drone"]
    b = fit_joint(class_nights(changed), cut)["attack_drone"]
    assert np.array_equal(a.spread, b.spread) and np.array_equal(a.drift, b.drift)
    assert np.array_equal(a.level, b.level)


def test_joint_drift_is_zero_when_the_level_holds_and_found_when_it_walks():
    import pandas as pd

    from barrage.salvo.outofsample import class_nights, fit_joint

    still = fit_joint(
        class_nights(correlated_totals(0.0, n_nights=1200)), pd.Timestamp("2026-07-01")
    )
    walk = correlated_totals(0.0, n_nights=1200)
    block = (walk["night"] - walk["night"].min()).dt.days // 91
    rng = np.random.default_rng(5)
    steps = np.cumsum(rng.normal(0, 0.6, size=block.max() + 1))  # kill logit random walk
    drones = walk["weapon_class"] == "attack_drone"
    engaged = walk["launched"] - walk["not_reach_goal"]
    p_kill = 1 / (1 + np.exp(-(2.0 + steps[block] + rng.normal(0, 0.5, len(walk)))))
    walk.loc[drones, "destroyed"] = rng.binomial(engaged[drones].astype(int), p_kill[drones])
    moving = fit_joint(class_nights(walk), pd.Timestamp("2026-07-01"))
    assert np.sqrt(still["attack_drone"].drift[1, 1]) < 0.2  # the raw block noise is ~0.1
    assert np.sqrt(moving["attack_drone"].drift[1, 1]) == pytest.approx(0.6, abs=0.3)


def test_simulate_given_uses_the_given_shares():
    from barrage.errors import InputError
    from barrage.salvo import compile_scenario
    from barrage.salvo.engine import simulate_given
    from barrage.salvo.outofsample import PLACEHOLDER_BETA
    from barrage.salvo.scenario import scenario_from_dict

    def night(kill):
        return compile_scenario(
            scenario_from_dict(
                {
                    "name": "one layer",
                    "salvo": {"weapons": [{"family": "shahed", "count": 200}]},
                    "assets": [{"name": "a"}],
                    "ew_loss": {"attack_drone": PLACEHOLDER_BETA},
                    "layers": [
                        {
                            "name": "l",
                            "type": "long_range",
                            "engages": ["attack_drone"],
                            "channels": 1000,
                            "engagement_time_min": 1,
                            "kill_probability": {"attack_drone": kill},
                        }
                    ],
                },
                source="test",
            )
        )

    cs = night(PLACEHOLDER_BETA)
    runs = 3000
    ew_p = np.full((runs, len(cs.families)), 0.3)
    kill_p = [np.full((runs, len(cs.families)), 0.8)]
    r = simulate_given(cs, ew_p=ew_p, kill_p=kill_p, seed=1)
    q = 0.7 * 0.2  # binomial leakers: 200 * (1 - 0.3) * (1 - 0.8)
    se = np.sqrt(200 * q * (1 - q) / runs)
    assert abs(r.leakers.mean() - 200 * q) < 4 * se
    assert abs(r.ew_lost_by_class.mean() - 60) < 4 * np.sqrt(200 * 0.21 / runs)
    with pytest.raises(InputError, match="kill_p"):
        simulate_given(night(0.8), ew_p=ew_p, kill_p=kill_p, seed=1)


def test_an_unknown_configuration_is_refused():
    from barrage.errors import InputError
    from barrage.salvo.outofsample import out_of_sample_check

    with pytest.raises(InputError, match="config: expected one of joint, independent"):
        out_of_sample_check(synthetic_totals(), cuts=("2024-07-01",), runs=100, config="both")
