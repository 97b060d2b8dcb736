"""The backtest is stored once per record, plan and code, and read back instead of refit:
the same frames, the same scores, no second stored run; any change of input refits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from barrage.compute import backtest_reused_or_run
from barrage.indicators import KnownRecord, resolve_target
from barrage.record.nights import known_rows
from barrage.warning.assess import inputs_from_store
from barrage.warning.backtest_store import backtest_fingerprint
from barrage.warning.evaluate import default_plan, score_summary

#: A short plan (three months, one horizon, with target nights), so it refits in seconds.
SHORT = {"start": "2025-05-01", "end": "2025-07-31", "horizons": (7,)}


def _runs(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM backtest_scores").fetchone()[0]


def test_second_call_reads_the_stored_run(store):
    inputs = inputs_from_store(store)
    plan = default_plan(inputs.record, **SHORT)
    first = backtest_reused_or_run(store, inputs, plan)
    again = backtest_reused_or_run(store, inputs_from_store(store), plan)
    assert not first.reused and again.reused
    assert again.run_id == first.run_id and _runs(store) == 1
    pd.testing.assert_frame_equal(again.result.forecasts, first.result.forecasts)
    pd.testing.assert_frame_equal(again.result.launches, first.result.launches)
    np.testing.assert_array_equal(again.result.event_days, first.result.event_days)
    assert score_summary(again.result, n_boot=20) == score_summary(first.result, n_boot=20)


def test_a_changed_input_or_code_refits(store, monkeypatch):
    inputs = inputs_from_store(store)
    plan = default_plan(inputs.record, **SHORT)
    base = backtest_fingerprint(inputs, plan)
    with duckdb.connect(str(store), read_only=True) as con:
        rows = known_rows(con)
    fewer = dataclasses.replace(inputs, record=KnownRecord(rows.iloc[:-1]))
    other = dataclasses.replace(inputs, target=resolve_target("missiles >= 31"))
    changed = {
        "record": backtest_fingerprint(fewer, plan),
        "target": backtest_fingerprint(other, plan),
        "plan": backtest_fingerprint(inputs, dataclasses.replace(plan, horizons=(3,))),
    }
    from barrage.warning import backtest_store

    real = backtest_store._code_hash
    monkeypatch.setattr(backtest_store, "_code_hash", lambda h: (real(h), h.update(b"edit")))
    changed["code"] = backtest_fingerprint(inputs, plan)
    assert all(v != base for v in changed.values()), changed
    monkeypatch.undo()
    # the rows come back from the store in any order: the fingerprint does not care
    shuffled = dataclasses.replace(inputs, record=KnownRecord(rows.sample(frac=1, random_state=1)))
    assert backtest_fingerprint(shuffled, plan) == base


def test_the_fingerprint_does_not_move_once_the_stockpile_hook_is_used(store):
    """``run`` assesses (which loads the hook's statements) before it looks for the stored
    backtest, ``report`` does not: both must compute the same fingerprint, or a report
    after a run refits the whole backtest."""
    inputs = inputs_from_store(store)
    plan = default_plan(inputs.record, **SHORT)
    before = backtest_fingerprint(inputs, plan)
    assert inputs.stockpile._statements()  # the packaged statements, loaded
    assert inputs.stockpile.statements is None  # the parameter as given
    assert backtest_fingerprint(inputs, plan) == before


def test_run_works_from_the_store_and_stores_one_backtest(store, tmp_path, monkeypatch):
    """``barrage run`` with no record anywhere but a store: it uses the store; run twice,
    it stores the backtest once and says the second was reused."""
    from barrage.cli import app
    from barrage.warning import evaluate

    real_plan = evaluate.default_plan
    monkeypatch.setattr(evaluate, "default_plan", lambda record, **_: real_plan(record, **SHORT))
    monkeypatch.delenv("BARRAGE_RECORD", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./data here
    args = ["run", "--db", str(store), "--out", str(tmp_path / "r.html")]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    said = " ".join(first.stderr.split())  # rich wraps long lines
    assert "no record given or in ./data: using" in said and ": stored" in said
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "reused (record and code unchanged)" in " ".join(again.stderr.split())
    assert _runs(store) == 1


def test_a_store_that_cannot_be_written_still_gets_its_backtest(store, monkeypatch):
    from barrage.errors import StoreBusyError
    from barrage.warning import backtest_store

    def busy(*args, **kwargs):
        raise StoreBusyError("store is locked by another barrage process")

    monkeypatch.setattr(backtest_store, "save_backtest", busy)
    inputs = inputs_from_store(store)
    out = backtest_reused_or_run(store, inputs, default_plan(inputs.record, **SHORT))
    assert out.run_id == 0 and not out.reused
    assert len(out.result.forecasts) > 0 and out.summary["verdict"]
