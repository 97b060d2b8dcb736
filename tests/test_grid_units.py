"""Damage as it happens: units, partial capacity, repeated hits, nuclear curtailment,
protection, spares by type and mobile units, each against a hand-computed small case."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from barrage.cli import app
from barrage.errors import InputError
from barrage.grid import shed_load_batch
from barrage.grid.network import assets, from_arrays
from barrage.grid.restoration import (
    Mobile,
    mobile_cover,
    repair_schedule,
    serve_with_mobile_generation,
    solve_shed,
)
from barrage.grid.strike import build_strike_model, draw_damage, strike_from_dict
from barrage.grid.units import PlantUnits, SubstationUnits, expand_units, split_critical_loads


def _bus(i: int, pd_mw: float, kind: int = 1) -> list[float]:
    return [i, kind, pd_mw, 0, 0, 0, 1, 1, 0, 330, 1, 1.1, 0.9]


def _gen(bus: int, pmax_mw: float) -> list[float]:
    return [bus, 0, 0, 100, -100, 1, 100, 1, pmax_mw, 0]


def _line(f: int, t: int) -> list[float]:
    return [f, t, 0.0, 0.1, 0, 0, 0, 0, 0, 0, 1, -360, 360]


def _net(load_mw: float, gens: list[tuple[int, float, float]]):
    """Bus 1 (reference) -- bus 2, load at bus 2; gens (bus, pmax, cost USD/MWh)."""
    return from_arrays(
        name="two_bus",
        base_mva=100.0,
        bus=np.array([_bus(1, 0.0, 3), _bus(2, load_mw)]),
        gen=np.array([_gen(b, p) for b, p, _ in gens]),
        branch=np.array([_line(1, 2)]),
        gencost=np.array([[2, 0, 0, 3, 0.0, c, 0.0] for _, _, c in gens]),
    )


def _masks(network, out_ids: list[list[str]]) -> np.ndarray:
    ids = list(assets(network)["asset_id"])
    masks = np.zeros((len(out_ids), len(ids)), bool)
    for i, row in enumerate(out_ids):
        masks[i, [ids.index(a) for a in row]] = True
    return masks


def test_substation_loses_capacity_unit_by_unit():
    # 100 MW at bus 2 behind 3 autotransformers, N-1 sized with margin 1.3:
    # each rated 1.3 * 100 / 2 = 65 MW; one out: 130 MW left, nothing shed;
    # two out: 65 MW, 35 shed; three out: the load is cut off, 100 shed
    net = _net(100.0, [(1, 300.0, 10.0)])
    spec = SubstationUnits(autotransformers=3, line_bays=False)
    un = expand_units(net, substations={"substation:2": spec}, plants={})
    ats = list(un.groups["substation:2"])
    assert ats == [f"substation:2/at{i}" for i in (1, 2, 3)]
    res = shed_load_batch(un.network, _masks(un.network, [[], ats[:1], ats[:2], ats]))
    np.testing.assert_allclose(res.load_shed_mw, [0.0, 0.0, 35.0, 100.0], atol=1e-6)


def test_generating_units_are_lost_one_by_one():
    # a 200 MW plant as 4 units of 50 MW, 120 MW load, no other supply
    net = _net(120.0, [(1, 200.0, 10.0)])
    un = expand_units(net, substations={}, plants={"plant:1": PlantUnits(units=4, type="thermal")})
    units = list(un.groups["plant:1"])
    g = un.network.generators
    np.testing.assert_allclose(g["pmax_mw"], [50.0] * 4)
    assert set(g["unit_type"]) == {"thermal"}
    res = shed_load_batch(un.network, _masks(un.network, [[], units[:2], units[:3], units]))
    np.testing.assert_allclose(res.load_shed_mw, [0.0, 20.0, 70.0, 120.0], atol=1e-6)


def test_nuclear_output_is_curtailed_by_damage_to_its_substation():
    # nuclear 100 MW (cheap) at bus 2 behind 3 autotransformers of 1.3 * 100 / 2 = 65 MW;
    # the 100 MW load sits at bus 1 with a costly 150 MW gas plant.
    net = from_arrays(
        name="npp",
        base_mva=100.0,
        bus=np.array([_bus(1, 100.0, 3), _bus(2, 0.0, 2)]),
        gen=np.array([_gen(1, 150.0), _gen(2, 100.0)]),
        branch=np.array([_line(1, 2)]),
        gencost=np.array([[2, 0, 0, 3, 0.0, 80.0, 0.0], [2, 0, 0, 3, 0.0, 5.0, 0.0]]),
    )
    un = expand_units(
        net,
        substations={"substation:2": SubstationUnits(autotransformers=3, line_bays=False)},
        plants={"plant:2": PlantUnits(units=1, type="nuclear")},
    )
    ats = list(un.groups["substation:2"])
    values = solve_shed(un.network, _masks(un.network, [[], ats[:1], ats[:2], ats]))
    nuclear = [v[3] for v in values]
    shed = [v[0] for v in values]
    # intact and one unit out: all 100 MW leave; two out: 65 MW; three out: none
    np.testing.assert_allclose(nuclear, [100.0, 100.0, 65.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(shed, [0.0, 0.0, 0.0, 0.0], atol=1e-6)  # gas covers it


def _salvo(leakers: list[int], runs: int) -> SimpleNamespace:
    """A salvo result stand-in: ``leakers`` attack drones on the one site in every run."""
    joint = np.zeros((runs, 1, 1), dtype=np.int64)
    joint[:, 0, 0] = leakers
    return SimpleNamespace(leakers_by_asset_class=joint, classes=["attack_drone"], runs=runs)


def _scenario(grid: dict) -> dict:
    return {
        "name": "units",
        "salvo": {"weapons": [{"family": "shahed", "count": 1}]},
        "assets": [{"name": "site"}],
        "grid": {"network": "unused.m", "targets": {"site": ["substation:2"]}, **grid},
    }


def _model(grid: dict, net=None):
    sc = strike_from_dict(_scenario(grid))
    return build_strike_model(sc, network=net or _net(100.0, [(1, 300.0, 10.0)]))


SURE = {"damage_probability": {"attack_drone": {"transformer": 1.0}}}
TWO_ATS = {"substations": {"substation:2": {"autotransformers": 2, "line_bays": False}}}


@pytest.mark.parametrize(("leakers", "both_out"), [(1, 0.0), (2, 0.5), (3, 0.75)])
def test_repeated_hits_on_one_site_accumulate(leakers, both_out):
    # each leaker strikes one of 2 units at random and destroys it: with k leakers both
    # are out unless all k struck the same unit, P = 1 - 2 * (1/2)**k
    model = _model({**SURE, **TWO_ATS})
    runs = 20_000
    out = draw_damage(model, _salvo([leakers] * runs, runs), seed=1)
    share = out.all(axis=1).mean()
    assert share == pytest.approx(both_out, abs=4 * np.sqrt(0.25 / runs))
    assert out.any(axis=1).all()


def test_damage_from_an_earlier_strike_stays_and_adds_up():
    # one unit of two already out; one sure leaker hits the other half the time
    model = _model({**SURE, **TWO_ATS, "prior_damage": {"substation:2": 1}})
    runs = 20_000
    out = draw_damage(model, _salvo([1] * runs, runs), seed=2)
    assert out[:, 0].all()
    assert out.all(axis=1).mean() == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / runs))


def test_protection_cuts_the_damage_probability_by_its_factor():
    # drone on an autotransformer: default 0.35, protection factor 0.2 -> 0.07
    one_at = {"substations": {"substation:2": {"autotransformers": 1, "line_bays": False}}}
    model = _model({**one_at, "protection": {"substation:2": 0.2}})
    np.testing.assert_allclose(model.damage_table(["attack_drone"]), [[0.07]])
    runs = 40_000
    out = draw_damage(model, _salvo([1] * runs, runs), seed=3)
    assert out.mean() == pytest.approx(0.07, abs=4 * np.sqrt(0.07 * 0.93 / runs))


def test_spares_are_drawn_by_unit_type():
    # two autotransformers and a transformer destroyed; 1 autotransformer spare and
    # 1 transformer spare: the lower-priority autotransformer waits the 30-day lead time
    damaged = np.array([[True, True, True]])
    kinds = np.array(["autotransformer", "autotransformer", "transformer"])
    work = np.array([[5.0, 5.0, 5.0]])
    last = repair_schedule(
        damaged,
        kinds,
        work,
        np.full((1, 3), 30.0),
        np.array([[2.0, 1.0, 3.0]]),
        crews=3,
        spares={"autotransformer": 1, "transformer": 1},
        horizon_days=100,
    )
    # work days 0..4 for the two with spares; the other starts on day 30: days 30..34
    np.testing.assert_array_equal(last, [[4, 34, 4]])


def test_mobile_substation_bridges_the_highest_priority_unit():
    last = np.array([[20, 40, -1]])
    kinds = np.array(["autotransformer", "autotransformer", "bay"])
    out = mobile_cover(
        last, kinds, np.array([[1.0, 5.0, 9.0]]), Mobile(substations=1, deploy_days=3)
    )
    np.testing.assert_array_equal(out, [[20, 2, -1]])  # back in service from day 3


def testserve_with_mobile_generation_serves_critical_load_first():
    # 30 MW shed on day 1: 10 hospital, 20 other; 15 MW of mobile generation from day 1
    by_day = np.zeros((1, 2, 5))
    by_day[0, :, 1] = 10.0  # hospital (PRIORITY_CLASSES order)
    by_day[0, :, 4] = 20.0  # other
    shed, out = serve_with_mobile_generation(
        by_day.sum(axis=2), by_day, Mobile(generation_mw=15.0, deploy_days=1)
    )
    np.testing.assert_allclose(shed, [[30.0, 15.0]])
    np.testing.assert_allclose(out[0, 1, [1, 4]], [0.0, 15.0])


def test_critical_shares_split_each_load_and_keep_people_on_households():
    net = split_critical_loads(
        _net(100.0, [(1, 300.0, 10.0)]), {"hospital": 0.05, "water_heating": 0.1}, "s.yaml"
    )
    loads = net.loads.set_index("priority_class")
    np.testing.assert_allclose(
        loads.loc[["hospital", "water_heating", "other"], "p_mw"], [5, 10, 85]
    )
    assert loads.loc["other", "population"] == pytest.approx(100.0 * 2700)
    assert loads.loc["hospital", "population"] == 0


def test_nuclear_plants_are_not_targets():
    with pytest.raises(InputError, match="nuclear plants are not targets"):
        _model(
            {
                "targets": {"site": ["plant:1"]},
                "plants": {"plant:1": {"units": 2, "type": "nuclear"}},
            }
        )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {
                "substations": {"substation:18": {"autotransformers": 2}},
                "prior_damage": {"substation:18": 40},
            },
            "grid.prior_damage.substation:18: 40 units out, but the site has",
        ),
        (
            {"protection": {"substation:18": 1.5}},
            "grid.protection.substation:18: expected a factor",
        ),
        ({"plants": {"plant:23": {"units": 2, "type": "gas"}}}, "grid.plants.plant:23.type"),
        ({"spares": {"gas_turbine": 2}}, "grid.spares.gas_turbine"),
    ],
)
def test_bad_unit_scenarios_are_one_line_naming_file_and_field(
    tmp_path, shared_data, edit, message
):
    from barrage.grid.strike import example_strike_scenarios

    data = yaml.safe_load(example_strike_scenarios()["strike_case24"].read_text())
    data["grid"].update(edit)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    grid_dir = shared_data / "grid" / "pglib-opf"
    res = CliRunner().invoke(
        app,
        ["simulate", "strike", str(path), "--runs", "5"],
        env={"BARRAGE_GRID_DIR": str(grid_dir)},
    )
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and message in lines[0], res.stderr


def test_negative_candidate_cost_is_one_line(tmp_path, shared_data):
    from barrage.grid.strike import example_strike_scenarios

    data = yaml.safe_load(example_strike_scenarios()["strike_case24"].read_text())
    data["planning"]["candidates"][5]["cost"] = -1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(
        app,
        ["plan-defence", str(path), "--runs", "5"],
        env={"BARRAGE_GRID_DIR": str(shared_data / "grid" / "pglib-opf")},
    )
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert str(path) in lines[0] and "planning.candidates[5].cost" in lines[0], lines[0]


def test_days_to_restore_count_from_the_worst_day():
    from barrage.grid.strike import days_to_restore

    shed = np.array(
        [
            [40.0, 100.0, 60.0, 45.0, 8.0, 0.0],  # worst on day 1
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # nothing shed
            [10.0, 10.0, 10.0, 10.0, 10.0, 10.0],  # never restored
        ]
    )
    np.testing.assert_array_equal(days_to_restore(shed, 0.5), [3, 0, 6])
    np.testing.assert_array_equal(days_to_restore(shed, 0.9), [4, 0, 6])
    np.testing.assert_array_equal(days_to_restore(shed, 1.0), [5, 0, 6])


def test_cli_headline_numbers_are_never_cut_in_80_columns(shared_data):
    res = CliRunner().invoke(
        app,
        ["simulate", "strike", "strike_case24", "--runs", "40"],
        env={"BARRAGE_GRID_DIR": str(shared_data / "grid" / "pglib-opf"), "COLUMNS": "80"},
    )
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    assert "hours off a day, average customer" in res.stdout
    assert "illustrative: rests on" in res.stdout
    assert "by class (medians): other" in res.stdout


def test_stylised_system_adds_up_to_the_public_aggregates(shared_data):
    from barrage.grid.strike import example_strike_scenarios, load_strike_scenario

    sc = load_strike_scenario(example_strike_scenarios()["ukraine_stylised"])
    model = build_strike_model(sc, grid_dir=shared_data / "grid" / "pglib-opf")
    net = model.network
    assert net.total_load_mw == pytest.approx(18_500.0)
    cap = net.generators.groupby("unit_type")["pmax_mw"].sum()
    assert cap["nuclear"] == pytest.approx(7_800.0)
    assert cap["thermal"] + cap["chp"] + cap["hydro"] == pytest.approx(12_200.0)
    assert cap["import"] == pytest.approx(1_700.0)
    shares = net.loads.groupby("priority_class")["p_mw"].sum() / 18_500.0
    assert shares["hospital"] == pytest.approx(0.02)
    # no nuclear unit is a target; every site maps to units
    assert not any(k == "nuclear" for k in model.target_kinds)
    np.testing.assert_allclose(model.site_share.sum(axis=1), 1.0)
    # the intact stylised system serves its winter peak
    intact = solve_shed(net, np.zeros((1, model.cache.n_assets), bool))[0]
    assert intact[0] == pytest.approx(0.0, abs=1e-6)
    assert intact[3] == pytest.approx(7_800.0)


def test_stylised_strike_in_chunks_equals_one_process(shared_data):
    from barrage.compute.strike import simulate_strike_chunked
    from barrage.grid import simulate_strike
    from barrage.grid.strike import example_strike_scenarios

    path = example_strike_scenarios()["ukraine_stylised"]
    grid_dir = shared_data / "grid" / "pglib-opf"
    one = simulate_strike(path, runs=24, seed=2, grid_dir=grid_dir)
    chunked = simulate_strike_chunked(
        path, runs=24, seed=2, grid_dir=grid_dir, scheduler="sync", chunk_runs=8
    )
    for name in ("unserved_energy_mwh", "nuclear_curtailed_mw", "customers_off_share"):
        np.testing.assert_array_equal(
            getattr(chunked.restoration, name), getattr(one.restoration, name)
        )
    assert chunked.summary()["in_context"] == one.summary()["in_context"]


def test_a_line_bay_hit_trips_its_line():
    # bus 2's only line is a bay of substation 2: losing it cuts the 100 MW load off
    net = _net(100.0, [(1, 300.0, 10.0)])
    un = expand_units(
        net, substations={"substation:2": SubstationUnits(autotransformers=2)}, plants={}
    )
    assert un.groups["substation:2"] == ("substation:2/at1", "substation:2/at2", "branch:1")
    assert un.unit_type["branch:1"] == "bay"
    res = shed_load_batch(un.network, _masks(un.network, [["branch:1"]]))
    np.testing.assert_allclose(res.load_shed_mw, [100.0], atol=1e-6)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (
            {"stylise": {"peak_demand_mw": 100, "capacity_mw": {"thermal": 50}}},
            "grid.stylise.capacity_mw: no capacity for type 'chp'",
        ),
        (
            {
                "stylise": {
                    "peak_demand_mw": 100,
                    "capacity_mw": {"thermal": 50, "chp": 10},
                    "import_limit_mw": 20,
                    "import_bus": 99,
                }
            },
            "grid.stylise.import_bus: expected a bus number",
        ),
        ({"critical_shares": {"hospital": 0.7, "water_heating": 0.5}}, "adding up to at most 1"),
        ({"critical_shares": {"bakeries": 0.1}}, "unknown class 'bakeries'"),
    ],
)
def test_bad_stylised_settings_name_the_field(grid, message):
    two_gens = _net(100.0, [(1, 300.0, 10.0), (1, 50.0, 20.0)])
    with pytest.raises(InputError, match=message):
        _model(
            {
                **grid,
                "targets": {"site": ["plant:1"]},
                "plants": {"plant:1": {"units": 2, "type": "thermal"}},
                **(
                    {"stylise": {**grid["stylise"], "default_type": "chp"}}
                    if "stylise" in grid
                    else {}
                ),
            },
            net=two_gens,
        )
