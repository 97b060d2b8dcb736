"""`barrage stockpile`: exact JSON shape, clean errors, exit codes, help text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--samples", str(10**12)], "error: --samples: 1,000,000,000,000 draws x "),
        (["--seed", "-1"], "error: --seed: expected a non-negative integer, got -1\n"),
        (["--samples", "10"], "error: --samples: expected at least 100, got 10\n"),
    ],
    ids=["samples-huge", "seed-negative", "samples-few"],
)
def test_draws_and_seed_are_checked_before_fitting(record_db: Path, extra, message):
    """``--samples 10**12`` was numpy's 116 TiB MemoryError, ``--seed -1`` numpy's
    ValueError: both tracebacks, exit 1; ``n_samples:`` did not name the flag."""
    res = runner.invoke(app, ["stockpile", "--db", str(record_db), *extra])
    assert res.exit_code == 2, res.output
    assert res.stdout == "" and res.stderr.startswith(message) and res.stderr.count("\n") == 1


def test_help_text():
    res = runner.invoke(app, ["stockpile", "--help"])
    assert res.exit_code == 0
    for opt in ("--as-of", "--family", "--db", "--json", "--statements"):
        assert opt in res.stdout


def test_text_answers_in_words_per_family_and_for_all_missiles(record_db: Path):
    """Issue 16: growing / flat / falling over the last 90 days with P(growth), per family
    and for all missiles; the JSON carries the same figures."""
    import re

    res = runner.invoke(
        app, ["stockpile", "--db", str(record_db), "--as-of", "2025-07-01", "--samples", "400"]
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    for fam in ("kh101", "kalibr", "iskander_m_kn23", "attack_drones", "all_missiles"):
        assert re.search(
            rf"{fam}: stock (growing|flat|falling) over the last 90 days "
            rf"\(P\(growth\) [01]\.\d\d; change -?[\d,]+ \[-?[\d,]+, -?[\d,]+\]\)",
            text,
        ), fam
    assert "decoys: stock" not in text
    assert not re.search(r"(?<![\d,.])-0(?![\d.,])", text)  # no "-0"
    res = runner.invoke(
        app, ["stockpile", "--db", str(record_db), "--as-of", "2025-07-01", "--samples", "400",
              "--json"],
    )  # fmt: skip
    fams = json.loads(res.stdout)["families"]
    t = fams["all_missiles"]["trend_90d"]
    assert 0 <= t["p_growth"] <= 1
    assert t["trend"] == ("growing" if t["p_growth"] >= 0.8 else
                          "falling" if t["p_growth"] <= 0.2 else "flat")  # fmt: skip
    assert fams["decoys"]["trend_90d"] is None


def test_numbers_never_print_minus_zero():
    from barrage.cli.stockpile import _num

    assert [_num(v) for v in (-0.4, -0.0, 0.4, -0.6, 1234.5)] == ["0", "0", "0", "-1", "1,234"]
