"""The held-back scoring paths, end to end: a record newer than the snapshot is ingested;
``backtest --json`` scores the registered warning models on the origins after 2025-09-30,
and ``simulate salvo-check --cut 2025-10-01`` the salvo model on the nights after it.

The project never sees the newer public record; its registrations are scored on it by
others with exactly these commands. This test builds a stand-in newer record (the
snapshot's last six months copied forward by 183 days, so rows run to 2026-04-01) only
to prove the path works: the figures it produces mean nothing and are not asserted.
"""

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from barrage.cli import app
from barrage.warning.registration import REGISTRATION

runner = CliRunner()
SHIFT = timedelta(days=183)


def _shifted(stamp: str) -> str:
    """``stamp`` moved forward by SHIFT, in the record's minute format; other forms kept."""
    try:
        moment = datetime.strptime(stamp.strip()[:16], "%Y-%m-%d %H:%M")
    except ValueError:
        return stamp
    return (moment + SHIFT).strftime("%Y-%m-%d %H:%M")


def _newer_record(record_csv: Path, folder: Path) -> Path:
    """The snapshot plus its rows from 2025-04-01 on, dated SHIFT later."""
    folder.mkdir()
    with record_csv.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    copied = [
        {**r, "time_start": _shifted(r["time_start"]), "time_end": _shifted(r["time_end"])}
        for r in rows
        if r["time_start"][:10] >= "2025-04-01"
    ]
    with (folder / record_csv.name).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(copied + rows)
    models = record_csv.parent / "missiles_and_uavs.csv"
    (folder / models.name).write_bytes(models.read_bytes())
    return folder


@pytest.fixture(scope="module")
def newer_store(record_csv, record_db, tmp_path_factory) -> Path:
    """The newer record's store. (record_db: the snapshot's stockpile refits held in this
    process; the newer record shares its months before 2025-10, so only the months after
    are fitted here.)"""
    root = tmp_path_factory.mktemp("newer")
    folder = _newer_record(record_csv, root / "record")
    db = root / "newer.duckdb"
    result = runner.invoke(app, ["ingest", str(folder), "--db", str(db)])
    assert result.exit_code == 0, result.stderr
    return db


def test_a_newer_record_is_scored_after_the_snapshot(newer_store):
    # the headline target; the verdict code is the same for every registered target
    # (test_warning_verdict.py covers both), so one backtest keeps the suite short
    target = "massive_combined"
    # a short backtest (origins from 2026-01-15, 7 days) keeps the test cheap; the
    # registered run is the full one, which reaches the same cells
    result = runner.invoke(
        app,
        [
            "backtest",
            "--db",
            str(newer_store),
            "--start",
            "2026-01-15",
            "--horizon",
            "7",
            "--target",
            target,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    verdict = out["verdict"]
    assert verdict["target"] == target and verdict["registered_target"] is True
    after = [
        c for c in verdict["cells"] if (c["period"], c["horizon_days"]) == ("after_snapshot", 7)
    ]
    assert [c["status"] for c in after] == ["scored"]
    # 2026-01-15 .. 2026-03-26: every origin whose 7 nights are in the newer record (to 04-01)
    assert after[0]["origins"] == 71 and after[0]["first_origin"] == "2026-01-15"
    assert after[0]["primary"]["model"] == verdict["protocol"]["primary_model"]
    assert verdict["prospective"]["scored"] == 1
    launch = {
        (r["group"], r["model"])
        for r in out["launch_crps"]
        if r["period"] == "after_snapshot" and r["horizon_days"] == 7 and r["origins"] == 71
    }
    # every class's registered launch model is scored there, beside the naive baseline
    for group, model in REGISTRATION.launch_primaries.items():
        assert {(group, model), (group, "recent_quantiles")} <= launch


def test_salvo_check_scores_the_nights_after_the_snapshot(newer_store, record_db):
    """The salvo's prospective test (docs/salvo.md): the registered cut reaches past the
    snapshot only on a newer record; there, every class is scored by every model."""
    from barrage.salvo.outofsample import MODELS, PROSPECTIVE_CUT

    args = ["simulate", "salvo-check", "--cut", PROSPECTIVE_CUT, "--runs", "100", "--json"]
    refused = runner.invoke(app, [*args, "--db", str(record_db)])
    assert refused.exit_code == 2
    assert "a later cut needs a newer record" in refused.stderr
    result = runner.invoke(app, [*args, "--db", str(newer_store)])
    assert result.exit_code == 0, result.stderr
    scores = json.loads(result.stdout)["scores"]
    assert {r["cut"] for r in scores} == {PROSPECTIVE_CUT}
    cells = {(r["weapon_class"], r["model"]): r["nights"] for r in scores}
    classes = ("attack_drone", "cruise_missile", "ballistic_missile")
    assert set(cells) == {(c, m) for c in classes for m in MODELS}
    # the stand-in's copied nights from 2025-10-01 on; the snapshot has none of them
    assert min(cells.values()) > 0
