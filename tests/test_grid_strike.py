"""Strike Monte Carlo: salvo -> hits -> load shed -> restoration, winter, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from barrage.cli import app
from barrage.errors import InputError
from barrage.grid import read_network, simulate_strike
from barrage.grid.restoration import Winter, repair_schedule
from barrage.grid.strike import (
    example_strike_scenarios,
    leakers_by_site_class,
    strike_from_dict,
    summarise_tail,
)
from barrage.salvo import simulate

CASE24 = "pglib_opf_case24_ieee_rts.m"


@pytest.fixture(scope="module")
def grid_dir(shared_data: Path) -> Path:
    path = shared_data / "grid" / "pglib-opf"
    if not (path / CASE24).is_file():
        pytest.fail(f"PGLib case {CASE24} missing in {path}", pytrace=False)
    return path


@pytest.fixture()
def example() -> dict:
    """The shipped example as a mapping, to vary in tests."""
    return yaml.safe_load(example_strike_scenarios()["strike_case24"].read_text())


@pytest.fixture(scope="module")
def example_result(grid_dir):
    return simulate_strike(
        example_strike_scenarios()["strike_case24"], runs=200, seed=3, grid_dir=grid_dir
    )


def test_summary_has_the_dashboard_fields(example_result):
    s = example_result.summary()
    ue = s["unserved_energy_mwh"]
    assert set(ue) == {"mean", "p05", "p50", "p95", "cvar95"}
    assert 0 < ue["p05"] <= ue["p50"] <= ue["p95"] <= ue["cvar95"]
    assert set(s["leakers"]) == {"mean", "p05", "p50", "p95"}
    assert s["runs"] == 200 and len(s["mean_shed_mw_by_day"]) == 365
    json.dumps(s, allow_nan=False)  # JSON-ready


def test_outputs_share_one_run_axis_and_add_up(example_result):
    r = example_result.restoration
    runs = example_result.runs
    for arr in (r.unserved_energy_mwh, r.customer_hours, r.peak_shed_mw, r.shed_hours):
        assert arr.shape == (runs,)
    assert example_result.salvo.leakers.shape == (runs,)
    np.testing.assert_allclose(r.unserved_energy_mwh, r.shed_mw.sum(axis=1) * 24.0)
    np.testing.assert_allclose(r.unserved_energy_by_class_mwh.sum(axis=1), r.unserved_energy_mwh)
    np.testing.assert_allclose(r.peak_shed_mw, r.shed_mw.max(axis=1))
    assert np.all(r.cold_customer_hours <= r.customer_hours * (1 + 1e-9))
    assert np.all(r.harm_weighted_customer_hours >= r.customer_hours * (1 - 1e-9))
    # nothing destroyed, nothing shed
    quiet = ~example_result.damaged.any(axis=1)
    assert np.all(r.unserved_energy_mwh[quiet] == 0)


def test_same_seed_same_numbers_other_seed_other_numbers(grid_dir, example_result):
    path = example_strike_scenarios()["strike_case24"]
    again = simulate_strike(path, runs=200, seed=3, grid_dir=grid_dir)
    np.testing.assert_array_equal(again.unserved_energy_mwh, example_result.unserved_energy_mwh)
    other = simulate_strike(path, runs=200, seed=4, grid_dir=grid_dir)
    assert not np.array_equal(other.unserved_energy_mwh, example_result.unserved_energy_mwh)


def test_zero_damage_probability_sheds_nothing(grid_dir, example):
    example["grid"]["damage_probability"] = {
        c: {"substation": 0, "plant": 0, "line": 0, "transformer": 0}
        for c in ("attack_drone", "cruise_missile", "ballistic_missile")
    }
    result = simulate_strike(strike_from_dict(example), runs=50, seed=0, grid_dir=grid_dir)
    assert result.salvo.leakers.sum() > 0
    assert result.unserved_energy_mwh.sum() == 0
    assert result.summary()["unserved_energy_mwh"]["cvar95"] == 0


def test_class_mix_keeps_both_margins():
    scn = strike_from_dict(
        yaml.safe_load(example_strike_scenarios()["strike_case24"].read_text())
    ).salvo
    salvo = simulate(scn, runs=300, seed=1)
    joint = leakers_by_site_class(salvo, seed=1)
    np.testing.assert_array_equal(joint.sum(axis=2), salvo.leakers_by_asset)
    np.testing.assert_array_equal(joint.sum(axis=1), salvo.leakers_by_class)
    assert joint.min() >= 0


def test_damage_that_islands_everything_is_well_defined(grid_dir, example):
    """Every substation destroyed, no crews: all load is shed, every day, exactly."""
    net = read_network(grid_dir / CASE24)
    subs = [f"substation:{b}" for b in net.buses["bus_id"]]
    example["layers"] = []
    example["ew_loss"] = {}
    example["grid"]["targets"] = {a["name"]: subs for a in example["assets"]}
    sure = {"substation": 1.0, "plant": 1.0, "line": 1.0, "transformer": 1.0}
    example["grid"]["damage_probability"] = {
        c: sure for c in ("attack_drone", "cruise_missile", "ballistic_missile")
    }
    example["grid"]["crews"] = 0
    example["grid"]["horizon_days"] = 30
    example["salvo"]["weapons"] = [{"family": "iskander_m", "count": 200, "arrival_h": [0, 1]}]
    result = simulate_strike(strike_from_dict(example), runs=20, seed=0, grid_dir=grid_dir)
    assert result.damaged.all()
    r = result.restoration
    # intact network at each day's demand: the shed it would have anyway is not the strike's
    cap = net.generators["pmax_mw"].sum()
    load = net.total_load_mw * r.demand_factor
    expected_mw = load - np.clip(load - cap, 0, None)
    np.testing.assert_allclose(r.shed_mw, np.broadcast_to(expected_mw, r.shed_mw.shape), rtol=1e-6)
    assert np.all(r.restoration_days == 30) and not r.restored_within_horizon.any()
    assert np.isfinite(result.summary()["unserved_energy_mwh"]["cvar95"])


def test_repair_schedule_crews_spares_and_plants():
    kinds = np.array(["line", "line", "transformer", "plant"])
    damaged = np.array([[True, True, True, True]])
    work = np.array([[2.0, 3.0, 5.0, 10.0]])
    lead = np.array([[0.0, 0.0, 100.0, 0.0]])
    priority = np.array([[3.0, 2.0, 1.0, 0.0]])
    one_crew = repair_schedule(
        damaged, kinds, work, lead, priority, crews=1, spares=1, horizon_days=365
    )
    # line A days 0-1, line B 2-4, transformer (spare on site) 5-9; the plant on its own
    np.testing.assert_array_equal(one_crew, [[1, 4, 9, 9]])
    no_spare = repair_schedule(
        damaged, kinds, work, lead, priority, crews=1, spares=0, horizon_days=365
    )
    assert no_spare[0, 2] == 104  # waits 100 days for a new transformer, then 5 of work
    no_crew = repair_schedule(
        damaged, kinds, work, lead, priority, crews=0, spares=1, horizon_days=50
    )
    np.testing.assert_array_equal(no_crew, [[50, 50, 50, 9]])


def test_winter_demand_follows_temperature():
    w = Winter(
        temperature_c=[-8.0, 0.0, 12.0, 20.0],
        reference_temperature_c=12.0,
        heating_sensitivity_per_degc=0.01,
        demand_step=0.025,
    )
    t, factor = w.profile(6)
    np.testing.assert_allclose(factor, [1.2, 1.125, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(t, [-8, 0, 12, 20, 12, 12])


def test_cvar_is_the_mean_of_the_worst_five_percent():
    values = np.arange(100.0)
    assert summarise_tail(values)["cvar95"] == pytest.approx(np.mean([95, 96, 97, 98, 99]))


def test_asset_not_in_network_is_a_clean_cli_error(tmp_path, example, grid_dir):
    example["grid"]["targets"]["central_plant"] = ["substation:99"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(example))
    res = CliRunner().invoke(
        app, ["simulate", "strike", str(path), "--runs", "10", "--grid-dir", str(grid_dir)]
    )
    assert res.exit_code == 2
    assert "grid.targets.central_plant[0]: 'substation:99' is not an asset of network" in (
        res.stderr
    )
    assert "Traceback" not in res.stderr and res.stdout == ""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["grid"]["targets"].pop("west_plant"),
            "salvo asset 'west_plant' is not mapped",
        ),
        (lambda d: d.pop("grid"), "needs a 'grid:' section"),
        (lambda d: d["grid"].update(network="nope.m"), "grid.network 'nope.m' not found"),
        (lambda d: d["grid"].update(crews=-1), "grid.crews"),
        (
            lambda d: d["grid"].update(damage_probability={"attack_drone": {"plant": 1.5}}),
            "expected a probability",
        ),
        # NaN and inf passed the bounds: a NaN temperature was a numpy reshape traceback
        (
            lambda d: d["grid"]["winter"].update(reference_temperature_c=float("nan")),
            "grid.winter.reference_temperature_c: Input should be a finite number",
        ),
        (
            lambda d: d["planning"].update(budget=float("inf")),
            "planning.budget: Input should be a finite number",
        ),
    ],
)
def test_bad_scenarios_fail_cleanly(tmp_path, example, grid_dir, edit, message):
    edit(example)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(example))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        simulate_strike(path, runs=10, seed=0, grid_dir=grid_dir)


def test_cli_strike_json_is_one_object(grid_dir):
    res = CliRunner().invoke(
        app,
        ["simulate", "strike", "strike_case24", "--runs", "50", "--json"],
        env={"BARRAGE_GRID_DIR": str(grid_dir)},
    )
    assert res.exit_code == 0, res.stderr
    payload = json.loads(res.stdout)
    assert res.stdout.count("\n") == 1
    assert payload["runs"] == 50 and payload["unserved_energy_mwh"]["mean"] > 0
