"""`barrage grid opf|flow`: exact JSON on stdout, clean errors with exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from barrage import ATTRIBUTION
from barrage.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def case24(shared_data):
    return str(shared_data / "grid" / "pglib-opf" / "pglib_opf_case24_ieee_rts.m")


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_opf_intact_json(case24):
    out = _json(runner.invoke(app, ["grid", "opf", case24, "--json"]))
    assert set(out) >= {"network", "objective_per_h", "load_shed_mw", "generation_mw", "islands"}
    assert out["network"] == "pglib_opf_case24_ieee_rts"
    assert out["objective_per_h"] == pytest.approx(61001.2403, abs=1e-3)
    assert out["load_shed_mw"] == 0.0
    assert out["generation_mw"] == pytest.approx(2850.0)
    assert [i["buses"] for i in out["islands"]] == [24]


def test_opf_with_outages(case24):
    out = _json(
        runner.invoke(
            app,
            ["grid", "opf", case24, "--outage", "substation:13", "--outage", "branch:5", "--json"],
        )
    )
    assert out["outages"] == ["branch:5", "substation:13"]
    assert out["load_shed_mw"] == pytest.approx(265.0)  # bus 13's load goes with it
    assert out["generation_mw"] == pytest.approx(2585.0)


def test_flow_json_islands(case24):
    out = _json(runner.invoke(app, ["grid", "flow", case24, "--outage", "branch:11", "--json"]))
    assert out["islands"] == 2
    assert len(out["branches"]) == 38
    assert out["branches"][10]["p_from_mw"] == 0.0


def test_plain_output_mentions_shed(case24):
    result = runner.invoke(app, ["grid", "opf", case24, "--outage", "substation:13"])
    assert result.exit_code == 0
    assert "load shed: 265.0 of 2,850.0 MW" in result.stdout


@pytest.mark.parametrize("command", ["opf", "flow"])
def test_text_output_credits_the_data_and_json_stays_data(case24, command):
    text = runner.invoke(app, ["grid", command, case24])
    assert text.exit_code == 0, text.output
    assert ATTRIBUTION in " ".join(text.stdout.split())
    assert "attribution" not in _json(runner.invoke(app, ["grid", command, case24, "--json"]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outage", "plant:99"], "outage 'plant:99' is not an asset of network"),
        (["--outage", "pylon:1"], "outage 'pylon:1' is not an asset"),
    ],
)
def test_bad_outage(case24, args, message):
    result = runner.invoke(app, ["grid", "opf", case24, *args, "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_bad_file(tmp_path):
    bad = tmp_path / "broken.m"
    bad.write_text("mpc.baseMVA = 100;\nmpc.bus = [1 2 x];\n")
    for cmd in ("opf", "flow"):
        result = runner.invoke(app, ["grid", cmd, str(bad), "--json"])
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: {bad}: ")
        assert "Traceback" not in result.output


def test_everything_cut_is_an_answer(case24):
    outages = []
    for k in range(1, 39):
        outages += ["--outage", f"branch:{k}"]
    out = _json(runner.invoke(app, ["grid", "opf", case24, *outages, "--json"]))
    assert len(out["islands"]) == 24
    assert out["load_shed_mw"] > 0


def test_help_for_every_grid_command():
    for cmd in ("opf", "flow"):
        result = runner.invoke(app, ["grid", cmd, "--help"])
        assert result.exit_code == 0
        assert "--outage" in result.stdout and "--json" in result.stdout
