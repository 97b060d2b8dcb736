"""The warning commands through the real CLI: outputs, errors, and no look-ahead."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from barrage.cli import app
from barrage.warning.launches import ADAPTIVE
from barrage.warning.registration import REGISTRATION

runner = CliRunner()
#: Early (first winter), the Khmelnytskyi-strike autumn, spring of a heating season, a
#: summer, the record's last days (rows whose window closes after noon), and a date with a
#: row closing at exactly 12:00 (known only the next day: the noon boundary itself).
NO_LOOK_AHEAD_DATES = (
    "2022-12-20",
    "2023-11-20",
    "2025-03-10",
    "2024-06-15",
    "2025-09-29",
    "2024-12-31",
)


def _assess(db, *args):
    res = runner.invoke(app, ["assess", "--db", str(db), "--json", *args])
    return res


#: The registered targets: the no-look-ahead test covers both.
TARGETS = ("massive_combined", "massive_missiles")


@pytest.fixture(scope="module")
def assessed_full(record_db):
    out = {}
    for t in TARGETS:
        for d in NO_LOOK_AHEAD_DATES:
            res = _assess(record_db, "--as-of", d, "--target", t)
            assert res.exit_code == 0, res.output
            out[t, d] = json.loads(res.stdout)
    return out


def test_assess_json_shape(assessed_full):
    a = assessed_full["massive_combined", "2025-03-10"]
    assert a["as_of"] == "2025-03-10"
    assert set(a["p"]) == {"1", "3", "7"}
    assert 0 < a["p"]["1"] <= a["p"]["7"] < 1
    assert a["level"] in {"LOW", "ELEVATED", "HIGH", "SEVERE"}
    assert set(a["expected_launches"]) == {
        "attack_drone",
        "missiles",
        "cruise_missile",
        "ballistic_missile",
    }
    # the launch forecast comes from the registered launch model (v3.1 amendment)
    assert REGISTRATION.launch_primaries["attack_drone"] == "track_draws_90"
    for g, by_k in a["expected_launches"].items():
        for v in by_k.values():
            assert v["model"] == REGISTRATION.launch_primaries[g]
            assert 0 <= v["p10"] <= v["p50"] <= v["p90"]
    assert a["drivers"] and {"indicator", "value", "percentile", "effect"} <= set(a["drivers"][0])
    # the drivers are the primary's own terms: base + terms = the 7-day log-odds
    att = a["attribution"]
    assert att["model"] == a["model"] == a["driver_model"]
    z = att["base_log_odds"] + sum(d["log_odds"] for d in att["terms"])
    assert 1 / (1 + math.exp(-z)) == pytest.approx(a["p"]["7"], rel=1e-9)
    # the level is never given without its skill statement
    assert a["skill"]["statement"].startswith("no demonstrated skill: read as a base rate")
    # every indicator, not only the drivers, carries its unit and one-line meaning
    assert len(a["indicators"]) >= 30
    for name, ind in a["indicators"].items():
        assert {"value", "percentile", "unit", "meaning"} <= set(ind), name
        assert ind["meaning"], name
    assert a["stale"] is None and a["warnings"] == []


@pytest.mark.parametrize("as_of", NO_LOOK_AHEAD_DATES)
def test_no_look_ahead_against_a_store_of_only_known_rows(
    as_of, assessed_full, record_csv, tmp_path
):
    """assess --as-of D on the full store equals assess on a store ingested from only the
    rows with time_end < D 12:00, for both registered targets."""
    raw = pd.read_csv(record_csv, dtype=str, keep_default_na=False)
    end = pd.to_datetime(raw["time_end"], format="mixed")
    date_only = raw["time_end"].str.len() <= 10
    end = end.where(~date_only, end + pd.Timedelta(hours=23, minutes=59, seconds=59))
    cutoff = pd.Timestamp(as_of) + pd.Timedelta(hours=12)
    part = raw[end < cutoff]
    assert 0 < len(part) < len(raw)
    csv = tmp_path / "part.csv"
    part.to_csv(csv, index=False)
    db = tmp_path / "part.duckdb"
    assert runner.invoke(app, ["ingest", str(csv), "--db", str(db), "--json"]).exit_code == 0
    for t in TARGETS:
        res = _assess(db, "--as-of", as_of, "--target", t)
        assert res.exit_code == 0, res.output
        got = json.loads(res.stdout)
        assert got == assessed_full[t, as_of]


def test_stale_record_still_answers_with_a_warning(record_db):
    res = _assess(record_db, "--as-of", "2025-11-15")
    assert res.exit_code == 0
    a = json.loads(res.stdout)
    assert a["stale"] == {
        "last_night": "2025-09-30",
        "days": 46,
        "threshold_d": 2,
        "longest_gap_d": 2,
        "lookback_d": 365,
    }
    assert "stale" in res.stderr and "2025-09-30" in res.stderr
    assert "floor" in a["warnings"][0]


@pytest.mark.parametrize(
    "as_of, stale",
    [
        # in the year to 2025-09-30 an attack was recorded at least every other night
        ("2025-10-01", None),  # the day after the last night: nothing missing
        ("2025-10-02", None),  # one night without rows, as has happened before
        (
            "2025-10-03",
            {
                "last_night": "2025-09-30",
                "days": 3,
                "threshold_d": 2,
                "longest_gap_d": 2,
                "lookback_d": 365,
            },
        ),
        # a gappy, short history: the 12-day gap of 2022-11 is said, the threshold capped
        (
            "2023-02-05",
            {
                "last_night": "2023-01-25",
                "days": 11,
                "threshold_d": 7,
                "longest_gap_d": 12,
                "lookback_d": 120,
            },
        ),
        # early 2023 had gaps of up to 15 days: 5 days after 2023-02-28 is not stale
        ("2023-03-05", None),
    ],
)
def test_staleness_is_judged_against_the_records_own_gaps(record_db, as_of, stale):
    a = json.loads(_assess(record_db, "--as-of", as_of).stdout)
    assert a["stale"] == stale
    assert bool(a["warnings"]) == (stale is not None)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--as-of", "2021-01-01"], "before the record starts"),
        (["--as-of", "2022-10-15"], "too little history"),
        (["--as-of", "yesterday-ish"], "expected a date"),
        (["--target", "nope"], "unknown target 'nope'"),
        (["--target", "missiles >= __import__('os')"], "not allowed"),
    ],
)
def test_bad_input_is_a_clean_error(record_db, args, message):
    res = _assess(record_db, *args)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert message in res.stderr and "Traceback" not in res.stderr


def test_empty_store_is_a_clean_error(tmp_path):
    from barrage.record.store import connect

    db = tmp_path / "empty.duckdb"
    connect(db).close()
    res = _assess(db)
    assert res.exit_code == 2
    assert "no usable rows" in res.stderr


def test_backtest_csv_and_json(record_db, tmp_path):
    out = tmp_path / "bt.csv"
    res = runner.invoke(
        app,
        [
            "backtest",
            "--db",
            str(record_db),
            "--start",
            "2025-04-01",
            "--end",
            "2025-06-30",
            "--horizon",
            "7",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["horizons"] == [7]
    rows = [r for r in summary["scores"] if r["period"] == "all"]
    from barrage.warning import MODELS

    assert {r["model"] for r in rows} == set(MODELS)
    clim = next(r for r in rows if r["model"] == "climatology")
    assert clim["brier_skill"] == 0.0
    # three months cannot judge the protocol, whose windows are fixed dates
    verdict = summary["verdict"]
    assert verdict["evaluation"]["holds"] is None
    assert verdict["protocol"]["primary_model"] == "recent_rate"
    assert "cannot be judged" in verdict["sentence"]
    twelve = next(
        c for c in verdict["cells"] if c["horizon_days"] == 7 and c["period"] == "last_12m"
    )
    assert twelve["status"] == (
        "not scored: the backtest has outcomes for origins 2025-04-01 .. 2025-06-30, "
        "the window is 2024-10-01 .. 2025-09-24"
    )
    df = pd.read_csv(out)
    assert list(df.columns) == ["as_of", "model", "horizon_days", "p", "outcome"]
    assert len(df) == 91 * len(MODELS)
    # the text tables name every model whole, with its figures, in 80 columns
    from rich.console import Console

    from barrage.cli.warning import _score_tables

    console = Console(width=80, record=True)
    for table in _score_tables(summary):
        console.print(table)
    text = console.export_text()
    assert "…" not in text and "7-day horizon, all origins" in text
    for r in rows:
        figures = re.escape(f"{r['brier']:.4f}") + " +" + re.escape(f"{r['brier_skill']:+.3f}")
        assert re.search(rf"^ {r['model']} +{figures} ", text, re.M), r["model"]
    # launch scores: pinball loss and 10-90% coverage for every model, the naive baseline
    # (quantiles only) without a CRPS
    launch = [r for r in summary["launch_crps"] if r["period"] == "all"]
    assert {r["model"] for r in launch} >= {
        "recent_quantiles",
        "nightly_draws_90",
        "level_draws_14",
        *ADAPTIVE,
    }
    for r in launch:
        assert r["pinball_mean"] > 0 and 0 <= r["coverage_80"] <= 1
        # quantile-only forecasts (the naive baseline, the adaptive models) get no CRPS
        assert (r["crps_mean"] is None) == (r["model"] in ("recent_quantiles", *ADAPTIVE))
    registered = [r for r in launch if r["model"] == REGISTRATION.launch_primaries[r["group"]]]
    assert {r["group"] for r in registered} == set(REGISTRATION.launch_primaries)
    assert df["as_of"].min() == "2025-04-01" and df["as_of"].max() == "2025-06-30"


def test_report_is_self_contained(record_db, tmp_path, monkeypatch):
    import shutil

    from barrage.warning import evaluate

    real = evaluate.default_plan
    monkeypatch.setattr(
        evaluate,
        "default_plan",
        lambda record, **_: real(record, start="2025-05-01", end="2025-07-31", horizons=(7,)),
    )
    db = tmp_path / "store.duckdb"  # report stores its backtest for reuse
    shutil.copy(record_db, db)
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", "--db", str(db), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "Petro Ivaniuk" in text and "Plotly" in text and "<script src" not in text
    assert len(text) > 3_000_000  # plotly.js is embedded
    assert "Verdict against the naive baselines" in text and "cannot be judged" in text
    # the primary's forecasts are drawn; scores by period and launch CRPS are tabled
    assert "recent_rate (primary)" in text
    assert "7-day horizon: Brier by period" in text and "id='launch-scores'" in text
    # every launch model is in the table, the quantile-only baseline too, the registered
    # one in bold
    assert "<th>recent_quantiles</th>" in text and "<th>track_draws_90</th>" in text
    assert re.search(r"<b>[0-9.]+ \(0\.[0-9]{2}\)</b>", text)
    assert "mean lead (d)" in text
    # the level never appears without its skill statement
    assert "<p id='skill'>Skill: no demonstrated skill: read as a base rate" in text
    assert json.loads(res.stdout)["report"] == str(out)


def test_assess_text_gives_the_skill_beside_the_level(record_db, assessed_full):
    res = runner.invoke(app, ["assess", "--db", str(record_db), "--as-of", "2025-03-10"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())  # rich wraps long lines
    assert re.search(
        r"as of 2025-03-10T12:00 Europe/Kyiv: (LOW|ELEVATED|HIGH|SEVERE) "
        r"skill: no demonstrated skill: read as a base rate",
        text,
    )
    assert "drivers (the recent_rate model's own 7-day log-odds" in text
    # the stock trend is shown as an indicator, with its unit, beside the drivers
    assert re.search(r"p_stock_growth_missiles_90d: [01]\.\d\d \(probability\)", text)
    # the launch table shows each registered launch model's median and 10-90% interval,
    # the quantiles it is scored on (an adaptive model's mean is its base's: not shown)
    drones = assessed_full["massive_combined", "2025-03-10"]["expected_launches"]
    d7 = drones["attack_drone"]["7"]
    assert "expected launches (median, 10-90% interval)" in text
    cell = f"{d7['p50']:.0f} ({d7['p10']:.0f}-{d7['p90']:.0f})"
    assert re.search(r"attack_drone .*" + re.escape(cell), text)


def test_assess_text_gives_the_launch_skill_beside_the_launches(assessed_full, capsys):
    """The measured worth of each 7-day interval is printed under the expected launches:
    coverage against the aim, pinball beside the naive's; unmeasured says so."""
    from barrage.cli.warning import render_assessment
    from barrage.warning.assess import attach_skill

    a = assessed_full["massive_combined", "2025-03-10"]
    rows = [
        {
            "group": g,
            "horizon_days": 7,
            "model": m,
            "period": "registered_last_12m",
            "origins": 359,
            "crps_mean": None,
            "pinball_mean": pin,
            "coverage_80": 0.8,
        }
        for g in REGISTRATION.launch_primaries
        for m, pin in ((REGISTRATION.launch_primaries[g], 12.34), ("recent_quantiles", 56.78))
    ]
    render_assessment(attach_skill(a, {"launch_crps": rows}))
    text = " ".join(capsys.readouterr().out.split())
    assert "the 7-day intervals, measured (359 origins, registered last 12m)" in text
    assert re.search(r"attack_drone\W+track_draws_90\W+80%\W+12\.34\W+56\.78", text)
    render_assessment(attach_skill(a, None))
    text = " ".join(capsys.readouterr().out.split())
    assert "the 7-day intervals, measured (unmeasured: no stored backtest)" in text
    assert re.search(r"attack_drone\W+track_draws_90\W+n/a\W+n/a\W+n/a", text)
