"""The library calls behind the CLI commands (one each): what each checks and in which
order, and the results declared once that the API and ``--json`` share."""

from __future__ import annotations

import json
import shutil

import pytest

from barrage.errors import InputError
from barrage.grid.strike import StrikeSummary
from barrage.pipeline.simulate import parse_sizes, salvo_job, strike_job
from barrage.record import ingest_record
from barrage.record.locate import RECORD_FILENAME, scenario_file
from barrage.stockpile import stockpile_report
from barrage.warning.assessment import Assessment


def test_a_bad_scheduler_fails_before_the_scenario_is_read():
    """The scheduler and workers are checked first (as the command did), and the error
    names the parameter; the CLI turns it into the flag."""
    with pytest.raises(InputError, match="^scheduler: expected 'local'"):
        salvo_job("no-such-scenario", runs=10, seed=0, scheduler="threads")
    with pytest.raises(InputError, match="^workers: expected a positive"):
        strike_job("no-such-scenario", runs=10, seed=0, scheduler="local", workers=0)


def test_a_scenario_is_a_file_or_a_shipped_name(tmp_path):
    examples = {"shipped": tmp_path / "shipped.yaml"}
    own = tmp_path / "own.yaml"
    own.write_text("x")
    assert scenario_file(own, examples) == own
    assert scenario_file("shipped", examples) == examples["shipped"]
    with pytest.raises(InputError, match="not a shipped example: shipped"):
        scenario_file(tmp_path / "missing.yaml", examples)


def test_sizes_are_parsed_in_the_library_and_the_error_names_the_parameter():
    assert parse_sizes("100, 200,,400") == [100, 200, 400]
    with pytest.raises(InputError, match="^sizes: expected comma-separated integers"):
        parse_sizes("100,lots")


def test_stockpile_report_refuses_bad_arguments_before_reading_the_store(tmp_path):
    missing = tmp_path / "none.duckdb"
    with pytest.raises(InputError, match="^as_of: expected a date"):
        stockpile_report(missing, "01/06/2025")
    with pytest.raises(InputError, match="^family: expected one of"):
        stockpile_report(missing, None, family=["pancakes"])


def test_ingest_takes_the_folder_holding_the_record(record_csv, tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    shutil.copy(record_csv, folder / RECORD_FILENAME)
    report = ingest_record(folder, tmp_path / "s.duckdb")
    assert report.source_file == str(folder / RECORD_FILENAME) and report.rows_added > 0
    with pytest.raises(InputError, match=r"\(from PATH\)"):
        ingest_record(tmp_path, tmp_path / "t.duckdb", given_as="PATH")


def test_the_assessment_dumps_as_the_library_wrote_it():
    """``assess --json`` prints the model's dump: the same keys in the same order, ints
    kept ints, None kept, extra keys (a log entry) kept; a field out of order fails."""
    raw = {
        "as_of": "2025-07-01",
        "issued_at": "2025-07-01T12:00 Europe/Kyiv",
        "target": {"name": "t", "expression": "missiles >= 30"},
        "p": {"1": 0.1, "3": 0.25, "7": 0.5},
        "level": "HIGH",
        "level_rule": "7-day probability: SEVERE >= 0.6, else LOW",
        "skill": {"demonstrated": False, "statement": "none", "model": "m", "period": None},
        "model": "m",
        "driver_model": "m",
        "p_by_model": {"m": {"1": 0.1}},
        "expected_launches": {"missiles": {"1": {"mean": 3.0}}},
        "launch_skill": {
            "missiles": {
                "model": "m",
                "horizon_d": 7,
                "measured": True,
                "aim_coverage": [0.75, 0.85],
                "statement": "held 80%",
                "period": "registered_last_12m",
                "origins": 359,
                "coverage_80": 0.8,
                "coverage_in_aim": True,
                "pinball": 7.79,
                "naive_pinball": 7.76,
                "beats_naive": False,
            }
        },
        "expected_next_strike": {"basis": "median", "missiles": None},
        "drivers": [
            {
                "indicator": "events_90d",
                "value": 7,
                "percentile": 91.2,
                "log_odds": 0.6,
                "effect": 0.6,
                "meaning": "target nights",
                "sentence": "Seven.",
            }
        ],  # fmt: skip
        "attribution": {"model": "m", "terms": []},
        "indicators": {"events_90d": {"value": 7.0, "percentile": None}},
        "stale": None,
        "warnings": [],
        "log": {"seq": 3, "logged": True},
    }
    assert json.dumps(Assessment.model_validate(raw).as_json()) == json.dumps(raw)


def test_the_strike_summary_dumps_as_the_library_wrote_it():
    """``simulate strike --json`` prints the model's dump: keys in order, ``in_context``
    only where the summary has it (not a null added)."""
    stats = {"mean": 1.5, "p05": 0, "p50": 1, "p95": 4, "cvar95": 4.0}
    raw = {"runs": 10, "seed": 3, "network": "case24", "unserved_energy_mwh": stats}
    raw |= {"unserved_energy_mwh_standard_error": 0.2, "unserved_energy_by_class_mwh": {}}
    for k in ("customer_hours", "cold_customer_hours", "harm_weighted_customer_hours",
              "peak_shed_mw", "shed_hours", "restoration_days"):  # fmt: skip
        raw[k] = stats
    raw |= {"restored_within_horizon": 1, "assets_destroyed": stats}
    raw |= {"destroyed_probability_by_asset": {"sub:1": 0.5}, "mean_shed_mw_by_day": [3.0, 0]}
    raw |= {"leakers": stats, "leakers_by_class": {}, "leakers_by_asset": {}}
    assert json.dumps(StrikeSummary.model_validate(raw).as_json()) == json.dumps(raw)
    with_context = {**raw, "in_context": {"demand_mw": 18000.0}}
    assert StrikeSummary.model_validate(with_context).as_json() == with_context
