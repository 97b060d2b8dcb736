"""``barrage simulate salvo``: JSON contract, clean errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from barrage import ATTRIBUTION
from barrage.cli import app
from barrage.salvo import example_scenarios, load_scenario, simulate

EXAMPLE = example_scenarios()["2024-08-26_combined"]


@pytest.fixture()
def runner():
    return CliRunner()


def test_json_output_has_the_contract_and_matches_the_api(runner):
    res = runner.invoke(
        app, ["simulate", "salvo", str(EXAMPLE), "--runs", "2048", "--seed", "3", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {
        "runs",
        "seed",
        "leakers",
        "leakers_by_class",
        "leakers_by_asset",
        "interceptors_used_by_layer",
    } <= set(out)
    assert out["runs"] == 2048 and out["seed"] == 3
    assert set(out["leakers"]) == {"mean", "p05", "p50", "p95"}
    assert set(out["leakers_by_class"]) == {"attack_drone", "ballistic_missile", "cruise_missile"}
    assert list(out["interceptors_used_by_layer"]) == [
        "mobile_fire_groups",
        "gepard_guns",
        "shorad",
        "mrad",
        "patriot",
    ]
    api = simulate(load_scenario(EXAMPLE), runs=2048, seed=3).summary()
    assert out["leakers"] == api["leakers"]


def test_every_example_scenario_runs(runner):
    assert set(example_scenarios()) >= {"2024-08-26_combined", "2025-07-09_combined"}
    for path in example_scenarios().values():
        res = runner.invoke(app, ["simulate", "salvo", str(path), "--runs", "1024"])
        assert res.exit_code == 0, res.output
        assert "leakers" in res.stdout
        # every result says what it rests on, in units, and credits its sources
        text = " ".join(res.stdout.split())
        assert "ILLUSTRATIVE: the layers, stocks and kill probabilities" in text
        assert "attacker cost (M USD)" in text and "Petro Ivaniuk" in text
        assert ATTRIBUTION in text and text.count("Petro Ivaniuk") == 1


def _bad(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["salvo"]["weapons"][0].update(count=-5),
            "salvo.weapons[0].count: Input should be greater than or equal to 0 (got -5)",
        ),
        (
            lambda d: d["salvo"]["weapons"][1].update(family="tomahawk"),
            "salvo.weapons[1].family: unknown weapon family 'tomahawk'; allowed: decoy,",
        ),
        (
            lambda d: d["layers"][2].update(covers=["chp_a", "mars_base"]),
            "layers[2].covers: undefined asset 'mars_base'; allowed: all, chp_a, chp_b, hpp_a, tpp_a, tpp_b",
        ),
        (
            lambda d: d["layers"][4]["kill_probability"].update(ballistic_missile=1.2),
            "layers[4].kill_probability.ballistic_missile: Input should be less than or equal to 1 "
            "(got 1.2)",
        ),
        (
            lambda d: d["layers"][0]["kill_probability"].update(attack_drone=-0.1),
            "layers[0].kill_probability.attack_drone: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["layers"][0].update(doctrine="spray"),
            "layers[0].doctrine: Input should be 'salvo' or 'shoot_look_shoot' (got 'spray')",
        ),
        (  # an infinite aim weight simulated to garbage with exit 0
            lambda d: d["assets"][0].update(value_weight=float("inf")),
            "assets[0].value_weight: Input should be a finite number (got inf)",
        ),
    ],
)
def test_bad_scenario_names_the_field_and_exits_2(runner, tmp_path, mutate, expected):
    path = _bad(tmp_path, mutate)
    res = runner.invoke(app, ["simulate", "salvo", str(path), "--json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.startswith(f"error: {path}: ")
    assert expected in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_file_and_bad_yaml_exit_2(runner, tmp_path):
    res = runner.invoke(app, ["simulate", "salvo", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2 and "cannot read scenario file" in res.stderr
    bad = tmp_path / "b.yaml"
    bad.write_text("salvo: [unclosed\n")
    res = runner.invoke(app, ["simulate", "salvo", str(bad)])
    assert res.exit_code == 2 and "not valid YAML" in res.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--sizes", "1000000000"], "error: --sizes: 1,000,000,000 shahed weapons do not make"),
        (["--sizes", "100,200,100"], "error: --sizes: expected distinct salvo sizes, got 100"),
        (["--family", "nosuch"], "error: --family: the scenario has no 'nosuch' group"),
        (["--runs", "0"], "error: --runs: expected a positive number of runs, got 0"),
    ],
    ids=["size-over-schema", "repeated-size", "unknown-family", "no-runs"],
)
def test_salvo_curve_bad_flags_are_one_line_exit_2(runner, args, expected):
    """Each was a traceback (pydantic, pandas reshape, KeyError) after simulating."""
    res = runner.invoke(app, ["simulate", "salvo-curve", str(EXAMPLE), "--runs", "50", *args])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith(expected) and res.stderr.count("\n") == 1


def test_salvo_curve_memory_is_checked_before_simulating(runner, monkeypatch):
    """``--runs 10**12`` ran past a minute: the largest size's cost is now checked first
    (here against a 1 MB budget, which 2,000 runs of 400 weapons exceed)."""
    import barrage.salvo.saturation as saturation

    monkeypatch.setattr(saturation, "DEFAULT_MAX_MEMORY_MB", 1.0)
    monkeypatch.setattr(saturation, "simulate", None)  # a simulation would now fail loudly
    res = runner.invoke(
        app, ["simulate", "salvo-curve", str(EXAMPLE), "--runs", "2000", "--sizes", "100,400"]
    )
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: --runs: ") and "over the limit of 1 MB" in res.stderr


def test_help_for_every_simulate_command(runner):
    for cmd in (
        ["simulate", "--help"],
        ["simulate", "salvo", "--help"],
        ["simulate", "salvo-check", "--help"],
        ["simulate", "salvo-curve", "--help"],
    ):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 0 and len(res.stdout) > 50


def test_salvo_curve_takes_a_shipped_name_like_every_scenario_command(runner):
    """The README: scenario arguments take a file or a shipped example's name."""
    args = ["--sizes", "100", "--runs", "64", "--json"]
    by_name = runner.invoke(app, ["simulate", "salvo-curve", "stylised_waves", *args])
    by_file = runner.invoke(
        app, ["simulate", "salvo-curve", str(example_scenarios()["stylised_waves"]), *args]
    )
    assert by_name.exit_code == 0, by_name.output
    assert json.loads(by_name.stdout) == json.loads(by_file.stdout)
