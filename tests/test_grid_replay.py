"""Replay of a campaign: leakers from the record, accumulation over nights, repair,
the factor-of-2 rule; each against a small hand-computed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from barrage.cli import app
from barrage.errors import InputError
from barrage.grid.network import from_arrays
from barrage.grid.replay import (
    generation_lost_mw,
    replay_campaign,
    strike_nights,
    within_factor_two,
)
from barrage.grid.strike import build_strike_model, strike_from_dict


def _net():
    bus = [
        [1, 3, 0, 0, 0, 0, 1, 1, 0, 330, 1, 1.1, 0.9],
        [2, 1, 100, 0, 0, 0, 1, 1, 0, 330, 1, 1.1, 0.9],
    ]
    gen = [[1, 0, 0, 100, -100, 1, 100, 1, 200, 0]]
    branch = [[1, 2, 0.0, 0.1, 0, 0, 0, 0, 0, 0, 1, -360, 360]]
    cost = [[2, 0, 0, 3, 0.0, 10.0, 0.0]]
    return from_arrays(
        name="two_bus",
        base_mva=100.0,
        bus=np.array(bus),
        gen=np.array(gen),
        branch=np.array(branch),
        gencost=np.array(cost),
    )


def _model(p_plant: float, units: int = 2):
    sc = strike_from_dict(
        {
            "name": "replay",
            "salvo": {"weapons": [{"family": "shahed", "count": 1}]},
            "assets": [{"name": "plant"}],
            "grid": {
                "network": "unused.m",
                "targets": {"plant": ["plant:1"]},
                "plants": {"plant:1": {"units": units, "type": "thermal"}},
                "damage_probability": {"attack_drone": {"plant": p_plant}},
                "repair": {"thermal": {"median_days": 10, "sigma": 0}},
            },
        }
    )
    return build_strike_model(sc, network=_net())


def _leakers(rows: dict) -> pd.DataFrame:
    df = pd.DataFrame.from_dict(rows, orient="index", columns=["attack_drone"])
    df.index = pd.to_datetime(df.index)
    return df


def test_leakers_are_launched_minus_destroyed_on_the_night_before():
    nights = pd.to_datetime(["2024-03-21", "2024-03-28"])
    launched = pd.DataFrame(
        {"attack_drone": [63.0, 60.0], "cruise_missile": [47.0, 41.0]}, index=nights
    )
    destroyed = pd.DataFrame(
        {"attack_drone": [55.0, 61.0], "cruise_missile": [37.0, 28.0]}, index=nights
    )
    out = strike_nights(launched, destroyed, ["2024-03-22", "2024-03-29"])
    assert list(out.index.strftime("%Y-%m-%d")) == ["2024-03-22", "2024-03-29"]
    assert out["attack_drone"].tolist() == [8, 0]  # never below zero
    assert out["cruise_missile"].tolist() == [10, 13]
    with pytest.raises(InputError, match="no attack on the night of 2024-04-10"):
        strike_nights(launched, destroyed, ["2024-04-11"])


def test_no_damage_scale_means_nothing_is_lost():
    model = _model(1.0)
    camp = replay_campaign(model, _leakers({"2024-03-22": 5}), kappa=0.0, runs=50, seed=0)
    assert np.all(generation_lost_mw(model, camp, 0.0) == 0.0)


def test_damage_accumulates_over_nights_and_is_repaired():
    # a 200 MW plant as 2 units of 100 MW; every leaker destroys the unit it strikes;
    # repair takes exactly 10 days. Night 1: one leaker, one unit out (days 0..10).
    # Night 2 (day 5): one leaker; it strikes the other unit (1/2): both out until day 10,
    # the second until day 15; or the same one again, which restarts its repair (to 15).
    model = _model(1.0)
    runs = 4000
    camp = replay_campaign(
        model, _leakers({"2024-03-01": 1, "2024-03-06": 1}), kappa=1.0, runs=runs, seed=1
    )
    lost_day3 = generation_lost_mw(model, camp, 3.0)
    lost_day7 = generation_lost_mw(model, camp, 7.0)
    lost_day12 = generation_lost_mw(model, camp, 12.0)
    np.testing.assert_allclose(lost_day3, 100.0)
    both = (lost_day7 == 200.0).mean()
    assert both == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / runs))
    np.testing.assert_allclose(lost_day12, 100.0)  # one unit still out to day 15 either way
    assert np.all(generation_lost_mw(model, camp, 16.0) == 0.0)


def test_factor_two_rule():
    assert within_factor_two(9_000.0, 9_200.0)
    assert within_factor_two(4_600.0, 9_200.0)
    assert not within_factor_two(4_500.0, 9_200.0)
    assert not within_factor_two(18_500.0, 9_200.0)
    assert not within_factor_two(0.0, 2.0)


def test_cli_replay_refuses_too_few_runs(tmp_path):
    res = CliRunner().invoke(
        app, ["simulate", "replay", "--runs", "5", "--db", str(tmp_path / "x")]
    )
    assert res.exit_code == 2
    assert "--runs: expected at least 20 runs" in res.stderr


def test_cli_replay_bounds_memory_by_runs_before_reading_the_store(tmp_path):
    """``--runs 10**12`` was numpy's 7 TiB MemoryError traceback, after the record was read."""
    res = CliRunner().invoke(
        app, ["simulate", "replay", "--runs", str(10**12), "--db", str(tmp_path / "x")]
    )
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: --runs: 1,000,000,000,000 runs x 98 units needs about")
    assert res.stderr.count("\n") == 1 and "ask for at most" in res.stderr


def test_days_until_lost_capacity_is_back():
    from barrage.grid.replay import Campaign, _capacity_back_days

    model = _model(1.0)  # two 100 MW units
    # run 0: both lost on day 0, back after day 4 and day 10; run 1: nothing lost
    end = np.array([[4.0, 10.0], [-np.inf, -np.inf]])
    hit = np.array([[0.0, 0.0], [np.inf, np.inf]])
    camp = Campaign(start=pd.Timestamp("2024-01-01"), end_day=end, hit_day=hit)
    np.testing.assert_array_equal(_capacity_back_days(model, camp, 0.5), [5, 0])
    np.testing.assert_array_equal(_capacity_back_days(model, camp, 1.0), [11, 0])


def test_last_strike_impact_replays_the_last_massive_night(shared_data):
    from barrage.grid.replay import last_strike_impact

    nights = pd.to_datetime(["2024-08-25", "2024-09-01", "2024-09-10"])
    cols = ["attack_drone", "cruise_missile", "ballistic_missile", "mixed_missile", "missiles"]
    launched = pd.DataFrame(
        [[109, 115, 9, 0, 124], [20, 0, 0, 0, 0], [60, 50, 5, 0, 55]], index=nights, columns=cols
    )
    destroyed = pd.DataFrame(
        [[99, 99, 2, 0, 101], [20, 0, 0, 0, 0], [50, 40, 1, 0, 41]], index=nights, columns=cols
    )
    out = last_strike_impact(
        launched, destroyed, runs=20, seed=0, grid_dir=shared_data / "grid" / "pglib-opf"
    )
    assert out["night"] == "2024-09-11"
    assert out["leakers"] == {
        "attack_drone": 10,
        "cruise_missile": 10,
        "ballistic_missile": 4,
        "mixed_missile": 0,
    }
    assert 0 <= out["shed_gw"]["p05"] <= out["shed_gw"]["median"] <= out["shed_gw"]["p95"]
    assert out["hours_without_power_per_day"]["median"] == pytest.approx(
        24 * out["shed_percent_of_demand"]["median"] / 100
    )
    assert out["illustrative"].startswith("stylised system")


def test_run_skips_the_impact_section_with_one_line_when_it_cannot_be_made(tmp_path):
    from barrage.pipeline.main import last_strike_impact as _last_strike_impact

    out = _last_strike_impact(tmp_path / "missing.duckdb")
    assert set(out) == {"skipped"} and "no store" in out["skipped"]


def test_report_section_shows_the_impact_or_why_it_was_skipped():
    from barrage.report.html import _impact_html

    v = {"median": 1.5, "p05": 0.5, "p95": 3.0, "mean": 1.6}
    impact = {
        "night": "2024-12-25",
        "shed_gw": v,
        "shed_percent_of_demand": v,
        "hours_without_power_per_day": v,
        "generation_lost_gw": v,
        "nuclear_curtailed_mw": v,
        "days_to_restore_capacity": {"50%": v, "90%": v, "100%": v},
        "illustrative": "assumptions <x>",
    }
    page = _impact_html(impact)
    assert "What a strike like the last one would do" in page
    assert "days until 90% of the lost capacity is back" in page
    assert "illustrative: rests on assumptions &lt;x&gt;" in page
    assert "skipped: no networks" in _impact_html({"skipped": "no networks"})
    assert _impact_html(None) == ""


def test_replay_check_fits_on_2024_and_checks_without_refitting(record_db, shared_data):
    from barrage.grid.replay import KAPPAS, replay_from_store

    out = replay_from_store(
        _stylised(),
        record_db,
        runs=20,
        seed=0,
        grid_dir=shared_data / "grid" / "pglib-opf",
    )
    search = {t["kappa"]: t["median_generation_lost_mw"] for t in out["kappa_search"]}
    assert set(search) == set(KAPPAS)
    best = min(search, key=lambda k: abs(np.log(max(search[k], 1e-9) / 9_200.0)))
    assert out["kappa"] == best
    kinds = [r["kind"] for r in out["rows"]]
    assert kinds.count("fit") == 1 and kinds.count("out-of-sample") == 2
    assert len(out["strikes_2024"]) == 13 and out["strikes_2022_23"][5] == "2022-12-16"
    for r in out["rows"]:
        assert r["model_p05"] <= r["model_median"] <= r["model_p95"]
        assert r["within_factor_2"] == within_factor_two(r["model_median"], r["public"])


def _stylised():
    from barrage.grid.strike import example_strike_scenarios

    return example_strike_scenarios()["ukraine_stylised"]


def test_replay_text_gives_the_model_in_the_public_figures_unit(capsys):
    from barrage.cli.strike import _render_replay

    row = {
        "target": "generating capacity lost by 1 Jun 2024",
        "kind": "fit",
        "public": 9200.0,
        "unit": "MW",
        "model_median": 9127.0,
        "model_p05": 8352.0,
        "model_p95": 9776.0,
        "within_factor_2": True,
        "source": "a public statement",
    }
    _render_replay({"scenario": "s", "runs": 5, "kappa": 4.0, "rows": [row]})
    text = " ".join(capsys.readouterr().out.split())
    assert "9,200 MW 9,127 MW 8,352-9,776 hit" in text


def test_the_run_impact_names_what_got_through_in_words(capsys):
    from barrage.cli.strike import render_impact

    stat = {"median": 1.0, "p05": 0.5, "p95": 2.0}
    impact = {
        "night": "2025-09-28",
        "demand_mw": 18500.0,
        "leakers": {"attack_drone": 27, "cruise_missile": 3, "mixed_missile": 0},
        "days_to_restore_capacity": {"50%": stat},
        "illustrative": "a stylised system",
    }
    for key in ("shed_gw", "shed_percent_of_demand", "hours_without_power_per_day",
                "generation_lost_gw", "nuclear_curtailed_mw"):  # fmt: skip
        impact[key] = stat
    render_impact(impact)
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "night of 2025-09-28: got through (launched - destroyed) 27 attack drones, "
        "3 cruise missiles; winter peak 18,500 MW" in text
    )
