"""Restoration on the RTS-24, checked by behaviour: which repair comes first, each day's
shed against an independent OPF solve, and more crews or spares never hurting.

Written against the public strike API (``simulate_strike`` and its result), not the
scheduler's internals, so the model may be rewritten behind it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from barrage.grid import asset_mask, damage_from_assets, read_network, simulate_strike, solve_opf
from barrage.grid.strike import example_strike_scenarios, strike_from_dict

CASE24 = "pglib_opf_case24_ieee_rts.m"
SURE = {"substation": 1.0, "plant": 1.0, "line": 1.0, "transformer": 1.0}


@pytest.fixture(scope="module")
def grid_dir(shared_data: Path) -> Path:
    path = shared_data / "grid" / "pglib-opf"
    if not (path / CASE24).is_file():
        pytest.fail(f"PGLib case {CASE24} missing in {path}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def case24(grid_dir):
    return read_network(grid_dir / CASE24)


def two_substations(crews: int, *, work_days: float = 10.0, horizon_days: int = 30) -> dict:
    """Two load substations (bus 18: 333 MW, bus 5: 71 MW) destroyed in every run: 60
    undefended ballistic missiles, sure damage, fixed repair time, spares for both."""
    return {
        "name": "two substations",
        "salvo": {"weapons": [{"family": "iskander_m", "count": 60, "arrival_h": [0, 1]}]},
        "assets": [{"name": "big"}, {"name": "small"}],
        "layers": [],
        "grid": {
            "network": CASE24,
            "targets": {"big": ["substation:18"], "small": ["substation:5"]},
            "damage_probability": {"ballistic_missile": SURE},
            "repair": {"substation": {"median_days": work_days, "sigma": 0.0}},
            "crews": crews,
            "spare_transformers": 2,
            "horizon_days": horizon_days,
        },
    }


def test_one_crew_repairs_the_more_valuable_substation_first(grid_dir):
    result = simulate_strike(
        strike_from_dict(two_substations(1)), runs=8, seed=0, grid_dir=grid_dir
    )
    assert result.damaged.all()  # the premise: both destroyed in every run
    shed = result.restoration.shed_mw
    # days 0-9 both out (404 MW); days 10-19 only bus 5 (71 MW): bus 18 went first
    np.testing.assert_allclose(shed[:, :10], 404.0, rtol=1e-6)
    np.testing.assert_allclose(shed[:, 10:20], 71.0, rtol=1e-6)
    np.testing.assert_allclose(shed[:, 20:], 0.0, atol=1e-6)
    np.testing.assert_allclose(result.unserved_energy_mwh, (10 * 404 + 10 * 71) * 24.0)


def test_two_crews_repair_both_at_once(grid_dir):
    result = simulate_strike(
        strike_from_dict(two_substations(2)), runs=4, seed=0, grid_dir=grid_dir
    )
    shed = result.restoration.shed_mw
    np.testing.assert_allclose(shed[:, :10], 404.0, rtol=1e-6)
    np.testing.assert_allclose(shed[:, 10:], 0.0, atol=1e-6)


@pytest.fixture(scope="module")
def example() -> dict:
    return yaml.safe_load(example_strike_scenarios()["strike_case24"].read_text())


@pytest.fixture(scope="module")
def example_result(grid_dir, example):
    return simulate_strike(strike_from_dict(example), runs=24, seed=5, grid_dir=grid_dir)


def _out_on_day(result, case24, run: int, day: int) -> np.ndarray:
    """The assets of ``run`` still out on ``day`` (from the result's repair days)."""
    r = result.restoration
    out = result.damaged[run] & (r.repaired_day[run] >= day)
    ids = [a for a, o in zip(result.target_ids, out, strict=True) if o]
    return asset_mask(case24, ids)


def _opf_shed_mw(case24, mask: np.ndarray, factor: float) -> float:
    loads = case24.loads.copy()
    loads["p_mw"] = loads["p_mw"] * factor
    net = replace(case24, loads=loads)
    return solve_opf(net, damage_from_assets(net, mask), cost_model="piecewise").load_shed_mw


def test_each_days_shed_equals_an_opf_solve_of_that_days_damage(example_result, case24):
    """shed_mw[run, day] = OPF shed with the assets still out that day minus the intact
    network's shed, at that day's demand, solved one by one with ``solve_opf``."""
    r = example_result.restoration
    hit = np.flatnonzero(example_result.damaged.any(axis=1))
    assert hit.size >= 5
    solved: dict[tuple, float] = {}
    checked = 0
    for run in hit[:6]:
        for day in (0, 1, 3, 7, 15, 29, 45, 89, 200, 364):
            mask = _out_on_day(example_result, case24, run, day)
            factor = float(r.demand_factor[day])
            for key in ((factor, mask.tobytes()), (factor, b"intact")):
                if key not in solved:
                    m = mask if key[1] != b"intact" else np.zeros_like(mask)
                    solved[key] = _opf_shed_mw(case24, m, factor)
            expected = solved[factor, mask.tobytes()] - solved[factor, b"intact"]
            assert r.shed_mw[run, day] == pytest.approx(max(expected, 0.0), abs=1e-4), (run, day)
            checked += expected > 1e-6
    assert checked >= 10  # the check covered days with real shed, not only zeros


@pytest.mark.parametrize(
    "fewer",
    [{"crews": 1}, {"crews": 0}, {"spare_transformers": 0}, {"crews": 1, "spare_transformers": 0}],
    ids=["1-crew", "no-crew", "no-spare", "1-crew-no-spare"],
)
def test_more_crews_or_spares_never_raise_unserved_energy(grid_dir, example, example_result, fewer):
    """Same seed, so the same salvo, damage and repair times (common random numbers):
    run by run, the example's 3 crews and 2 spares never leave more unserved energy than
    fewer of them, and they help in some run."""
    data = yaml.safe_load(yaml.safe_dump(example))
    data["grid"].update(fewer)
    worse = simulate_strike(strike_from_dict(data), runs=24, seed=5, grid_dir=grid_dir)
    np.testing.assert_array_equal(worse.damaged, example_result.damaged)
    base = example_result.unserved_energy_mwh
    assert np.all(base <= worse.unserved_energy_mwh + 1e-6)
    assert base.sum() < worse.unserved_energy_mwh.sum()
