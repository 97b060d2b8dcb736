"""Defender's planning: greedy beats the naive plan; enumeration checks greedy's gap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from barrage.cli import app
from barrage.errors import InputError
from barrage.grid.planning import PlanEvaluator, affordable_plans, plan_defence, ranking
from barrage.grid.strike import build_strike_model, example_strike_scenarios, strike_from_dict

EXAMPLE = example_strike_scenarios()["strike_case24"]


@pytest.fixture(scope="module")
def grid_dir(shared_data: Path) -> Path:
    return shared_data / "grid" / "pglib-opf"


@pytest.fixture(scope="module")
def plan(grid_dir):
    return plan_defence(EXAMPLE, runs=200, seed=0, grid_dir=grid_dir)


def test_greedy_beats_protecting_the_largest_loads(plan):
    greedy = plan["greedy"]["expected_unserved_energy_mwh"]
    naive = plan["naive_largest_loads"]
    assert naive["units"] == {"point_defence_north": 1, "point_defence_transformers": 1}
    assert greedy < naive["expected_unserved_energy_mwh"]
    # paired (common random numbers) difference, well beyond its standard error
    assert naive["difference_vs_reference_mwh"] > 3 * naive["difference_standard_error_mwh"]
    assert plan["greedy"]["cost"] <= plan["budget"]
    assert greedy < plan["no_additions"]["expected_unserved_energy_mwh"]


def test_exact_enumeration_confirms_the_greedy_gap(plan):
    exact = plan["exact"]
    assert exact["plans_scored"] == 49  # every affordable plan at budget 2
    g = plan["greedy"]["expected_unserved_energy_mwh"]
    assert exact["expected_unserved_energy_mwh"] <= g + 1e-6
    assert exact["greedy_gap_mwh"] == pytest.approx(g - exact["expected_unserved_energy_mwh"])
    assert exact["greedy_gap_mwh"] >= 0


def test_marginal_values_add_up_to_the_plan(plan):
    steps = plan["greedy"]["steps"]
    assert steps, "greedy bought nothing"
    total = sum(s["reduction_mwh"] for s in steps)
    base = plan["no_additions"]["expected_unserved_energy_mwh"]
    assert total == pytest.approx(base - plan["greedy"]["expected_unserved_energy_mwh"])
    assert all(s["reduction_mwh"] > 0 for s in steps)
    assert plan["evaluations"]["greedy_lazy"] < plan["evaluations"]["greedy_plain_upper_bound"]


def test_common_random_numbers_empty_plan_equals_plain_strike(grid_dir):
    """Unbought candidate layers (stock 0) leave the strike's numbers unchanged."""
    from barrage.grid import simulate_strike

    scenario = strike_from_dict(yaml.safe_load(EXAMPLE.read_text()))
    ev = PlanEvaluator(build_strike_model(scenario, grid_dir=grid_dir), runs=100, seed=5)
    plain = simulate_strike(scenario, runs=100, seed=5, grid_dir=grid_dir)
    assert (ev.unserved(ev.empty()) == plain.unserved_energy_mwh).all()
    assert len(affordable_plans(ev, 0.5)) == 3  # nothing, one spare, one crew


def test_cli_plan_defence_json(grid_dir):
    res = CliRunner().invoke(
        app,
        ["plan-defence", str(EXAMPLE), "--budget", "1", "--runs", "60", "--no-exact", "--json"],
        env={"BARRAGE_GRID_DIR": str(grid_dir)},
    )
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["budget"] == 1 and out["greedy"]["cost"] <= 1 and out["exact"] is None


def test_cli_plan_defence_bad_budget_is_clean(grid_dir):
    res = CliRunner().invoke(
        app,
        ["plan-defence", str(EXAMPLE), "--budget", "-1", "--runs", "20", "--json"],
        env={"BARRAGE_GRID_DIR": str(grid_dir)},
    )
    assert res.exit_code == 2
    assert res.stderr.startswith("error: --budget: expected a non-negative number")
    assert res.stdout == ""


def test_scenario_without_planning_section(grid_dir):
    data = yaml.safe_load(EXAMPLE.read_text())
    data.pop("planning")
    with pytest.raises(InputError, match="no 'planning:' section"):
        plan_defence(strike_from_dict(data), runs=10, grid_dir=grid_dir)


def test_passive_protection_cuts_damage_by_its_factor(grid_dir):
    # factor 0 on every target: nothing can be damaged, nothing is shed; factor 1 changes
    # nothing, run for run (common random numbers)
    data = yaml.safe_load(example_strike_scenarios()["strike_case24"].read_text())
    targets = sorted({t for ids in data["grid"]["targets"].values() for t in ids})
    data["planning"] = {
        "budget": 10,
        "cost_unit": "USD",
        "candidates": [
            {
                "name": "bunker",
                "kind": "passive_protection",
                "covers": targets,
                "factor": 0.0,
                "cost": 3.1,
            },
            {
                "name": "sandbags",
                "kind": "passive_protection",
                "covers": targets,
                "factor": 1.0,
                "cost": 1.0,
            },
            {
                "name": "half",
                "kind": "passive_protection",
                "covers": targets[:1],
                "factor": 0.5,
                "cost": 1.0,
                "max_units": 2,
            },
        ],
    }
    sc = strike_from_dict(data)
    ev = PlanEvaluator(build_strike_model(sc, grid_dir=grid_dir), runs=60, seed=5)
    assert ev.unserved((1, 0, 0)).max() == 0.0
    np.testing.assert_array_equal(ev.unserved((0, 1, 0)), ev.unserved((0, 0, 0)))
    first = ev.model.groups[targets[0]]
    model = ev._model_for((0, 0, 2))
    for i, u in enumerate(ev.model.target_ids):
        assert model.protection[i] == (0.25 if u in first else 1.0)
    ranked = ranking(ev)
    assert ranked[0]["unit"] == "bunker"
    assert ranked[0]["avoided_mwh"] == pytest.approx(ev.unserved((0, 0, 0)).mean())
    assert ranked[0]["cvar95_mwh"] == 0.0


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        (
            {"kind": "passive_protection", "covers": ["substation:18"], "factor": 1.5},
            r"planning.candidates\[0\].factor",
        ),
        ({"kind": "passive_protection", "covers": ["substation:99"]}, "not a target"),
        (
            {"kind": "spare_transformers", "unit_type": "gas_turbine"},
            r"planning.candidates\[0\].unit_type",
        ),
        ({"kind": "crews", "cost": -2}, r"planning.candidates\[0\].cost"),
    ],
)
def test_bad_candidates_name_the_field(candidate, message):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["planning"] = {"candidates": [{"name": "x", **candidate}]}
    with pytest.raises(InputError, match=message):
        strike_from_dict(data, source="plan.yaml")


def test_stylised_plan_is_ranked_in_usd_and_checked_by_enumeration(grid_dir):
    path = example_strike_scenarios()["ukraine_stylised"]
    out = plan_defence(path, runs=6, seed=0, grid_dir=grid_dir, budget=6_000_000)
    assert out["cost_unit"] == "USD"
    per = [r["avoided_mwh_per_cost"] for r in out["ranking"]]
    assert per == sorted(per, reverse=True)
    assert all("cvar95_mwh" in r for r in out["ranking"])
    assert len(out["ranking"]) == 6
    exact = out["exact"]
    assert exact["plans_scored"] >= 2
    assert exact["greedy_gap_mwh"] >= -1e-6  # the exact optimum is never worse than greedy


def test_plan_tables_fit_80_columns_without_cutting(plan, monkeypatch, capsys):
    from barrage.cli.strike import _render_plan

    monkeypatch.setenv("COLUMNS", "80")
    _render_plan(plan)
    text = capsys.readouterr().out
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "E unserved MWh" in text and "Each unit alone" in text
