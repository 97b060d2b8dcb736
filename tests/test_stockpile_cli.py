"""`barrage stockpile`: exact JSON shape, clean errors, exit codes, help text."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from barrage.cli import app

runner = CliRunner()


def test_json_is_one_object_with_quantiles_per_family(record_db: Path):
    res = runner.invoke(
        app,
        ["stockpile", "--db", str(record_db), "--as-of", "2025-07-01", "--family", "kinzhal",
         "--family", "decoys", "--samples", "400", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["as_of"] == "2025-07-01"
    assert list(out["families"]) == ["kinzhal", "decoys"]
    k = out["families"]["kinzhal"]
    for block in ("stock", "production_per_month", "built_since_last_massive"):
        assert list(k[block]) == ["p05", "p25", "p50", "p75", "p95"]
        vals = list(k[block].values())
        assert vals == sorted(vals)
    assert k["last_massive_night"] == "2025-06-28"
    assert out["families"]["decoys"]["stock"] is None
    assert out["families"]["decoys"]["production_per_month"]["p50"] > 0


def test_default_as_of_is_the_day_after_the_last_night(record_db: Path):
    res = runner.invoke(
        app, ["stockpile", "--db", str(record_db), "--family", "kinzhal", "--samples", "300",
              "--json"]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["as_of"] == "2025-10-01"


def test_bad_inputs_exit_2_with_one_line(record_db: Path, tmp_path: Path):
    cases = [
        (["--as-of", "2025-02-30"], "error: --as-of: expected a date YYYY-MM-DD, got '2025-02-30'\n"),
        (["--family", "shahed"], "error: --family: expected one of attack_drones, decoys, kh101, "
         "kalibr, iskander_m_kn23, iskander_k, kinzhal, other_missiles, got 'shahed'\n"),
        (["--as-of", "2020-01-01"], "error: as-of date 2020-01-01: expected a date after "
         "2022-09-28 (the record starts 2022-09-27)\n"),
    ]  # fmt: skip
    for extra, message in cases:
        res = runner.invoke(app, ["stockpile", "--db", str(record_db), "--json", *extra])
        assert res.exit_code == 2
        assert res.stdout == ""
        assert res.stderr == message
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "statement_id,family,metric,kind,low,high,stated_on,refers_from,refers_to\n"
        "x,kh101,monthly_production,estimate,60,50,2023-04-14,2023-03-01,2023-04-14\n"
    )
    res = runner.invoke(app, ["stockpile", "--db", str(record_db), "--statements", str(bad)])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr == (
        f"error: {bad} line 2 (statement 'x'): low: 60.0 is above high 50.0: expected low <= high\n"
    )
    res = runner.invoke(app, ["stockpile", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: no store at ")


def test_help_text():
    res = runner.invoke(app, ["stockpile", "--help"])
    assert res.exit_code == 0
    for opt in ("--as-of", "--family", "--db", "--json", "--statements"):
        assert opt in res.stdout
