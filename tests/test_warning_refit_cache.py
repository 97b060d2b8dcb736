"""Speed-ups that must not change an answer: the on-disk stockpile refit cache, the
one-row real-time design and the design kept in the process (each compared bit for bit
with the plain computation)."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest

from barrage.indicators import Hooks, KnownRecord, indicator_frame, resolve_target, to_day
from barrage.record import open_store
from barrage.record.nights import known_rows
from barrage.warning import backtest, stock
from barrage.warning.models import design_matrix, design_rows
from barrage.warning.stock import StockpileFeatures, refit_cache_dir, refit_index


@pytest.fixture(scope="module")
def record(record_db) -> KnownRecord:
    with open_store(record_db) as con:
        return KnownRecord.from_store(con)


@pytest.fixture(scope="module")
def early_refits(record) -> tuple[list[int], dict[int, dict[str, float]]]:
    """The first two refit days and their values computed directly (no cache at all)."""
    r = refit_index(record.first_night, 100)
    days = [int(d) for d in np.unique(r[r >= 0])[:2]]
    sf = StockpileFeatures(record)
    return days, {d: stock._refit(sf._payload(d)[1]) for d in days}


def _bits(values: dict[str, float]) -> dict[str, str]:
    return {k: float(v).hex() for k, v in values.items()}


def test_cached_refits_equal_computed_ones_bit_for_bit(record, early_refits, tmp_path, monkeypatch):
    days, direct = early_refits
    folder = refit_cache_dir(tmp_path / "s.duckdb")
    assert folder == tmp_path / "s.duckdb.cache" / "stockpile_refits"
    monkeypatch.setattr(stock, "_CACHE", {})  # a fresh process
    first = StockpileFeatures(record, cache_dir=folder).refits(days)
    files = sorted(folder.glob("*.json"))
    assert len(files) == len(days)
    assert {d: _bits(v) for d, v in first.items()} == {d: _bits(v) for d, v in direct.items()}

    # Another process with the same folder reads every refit from disk: nothing is fitted.
    monkeypatch.setattr(stock, "_CACHE", {})

    def no_fit(payload):
        raise AssertionError("a cached refit was computed again")

    monkeypatch.setattr(stock, "_refit", no_fit)
    again = StockpileFeatures(record, cache_dir=folder).refits(days)
    assert {d: _bits(v) for d, v in again.items()} == {d: _bits(v) for d, v in direct.items()}


class _ClearedByAnotherThread(dict):
    """The process cache as a second thread sees it: emptied right after every write."""

    def update(self, *args, **kwargs):
        super().update(*args, **kwargs)
        self.clear()

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.clear()


def test_refits_survive_another_thread_clearing_the_process_cache(
    record, early_refits, monkeypatch
):
    days, direct = early_refits
    monkeypatch.setattr(stock, "_CACHE", _ClearedByAnotherThread())
    got = StockpileFeatures(record).refits(days)
    assert {d: _bits(v) for d, v in got.items()} == {d: _bits(v) for d, v in direct.items()}


def test_a_changed_setting_is_another_key(record, early_refits):
    days, _ = early_refits
    key = StockpileFeatures(record)._payload(days[0])[0]
    assert StockpileFeatures(record, n_samples=600)._payload(days[0])[0] != key
    assert StockpileFeatures(record, seed=1)._payload(days[0])[0] != key
    assert StockpileFeatures(record)._payload(days[1])[0] != key
    assert StockpileFeatures(record)._payload(days[0])[0] == key


def test_an_unwritable_or_corrupt_cache_falls_back_to_computing(
    record, early_refits, tmp_path, monkeypatch
):
    days, direct = early_refits
    blocker = tmp_path / "store.duckdb.cache"
    blocker.write_text("a file where the folder would be")  # mkdir fails, as read-only
    monkeypatch.setattr(stock, "_CACHE", {})
    got = StockpileFeatures(record, cache_dir=blocker / "stockpile_refits").refits(days[:1])
    assert _bits(got[days[0]]) == _bits(direct[days[0]])

    folder = tmp_path / "bad"
    monkeypatch.setattr(stock, "_CACHE", {})
    StockpileFeatures(record, cache_dir=folder).refits(days[:1])
    (path,) = folder.glob("*.json")
    data = json.loads(path.read_text())
    data["values"].pop(next(iter(data["values"])))
    path.write_text(json.dumps(data))  # a truncated entry is not trusted
    monkeypatch.setattr(stock, "_CACHE", {})
    calls = []
    real = stock._refit
    monkeypatch.setattr(stock, "_refit", lambda p: calls.append(1) or real(p))
    got = StockpileFeatures(record, cache_dir=folder).refits(days[:1])
    assert calls == [1] and _bits(got[days[0]]) == _bits(direct[days[0]])
    path.write_text("{not json")
    monkeypatch.setattr(stock, "_CACHE", {})
    got = StockpileFeatures(record, cache_dir=folder).refits(days[:1])
    assert calls == [1, 1] and _bits(got[days[0]]) == _bits(direct[days[0]])


def test_design_rows_equal_the_last_row_of_the_full_design(record):
    """The real-time design computes one row per revised origin; it must be the row the
    full design of that panel would give, bit for bit."""
    target = resolve_target(None)
    hook = StockpileFeatures(record)
    for t in (5, 40, 400, 700):
        panel = record.panel(record.first_night + np.timedelta64(t, "D"))
        full = design_matrix(panel, target, hooks=Hooks(stockpile=hook))
        row = design_rows(panel, target, np.array([t]), hooks=Hooks(stockpile=hook))
        np.testing.assert_array_equal(row[0], full.to_numpy(float)[-1])
        some = np.array([1, t // 2, t])
        part = indicator_frame(panel, target, hooks=Hooks(stockpile=hook), origins=some)
        np.testing.assert_array_equal(
            part.to_numpy(float), full[part.columns].to_numpy(float)[some - 1]
        )
        assert part.index.equals(full.index[some - 1])


# --- the real-time design kept in the process ------------------------------------------


@pytest.fixture()
def no_kept_designs(monkeypatch):
    """An empty design memo for the test (as in a fresh process); restored after."""
    monkeypatch.setattr(backtest, "_DESIGNS", OrderedDict())


def _fresh(record, target, day, hooks):
    return backtest._realtime_design(record, target, to_day(day), hooks)


def test_a_kept_design_equals_a_fresh_one_and_is_not_recomputed(
    record, no_kept_designs, monkeypatch
):
    """A date, an earlier one (its first rows: nothing computed), then later ones (only
    the rows they add): each is the fresh design bit for bit, index and all."""
    target, hooks = resolve_target(None), Hooks(stockpile=StockpileFeatures(record))
    calls = []
    real = backtest._realtime_design

    def counted(record, target, last, hooks, first=1):
        calls.append((str(last), first))
        return real(record, target, last, hooks, first)

    monkeypatch.setattr(backtest, "_realtime_design", counted)
    beyond = str(record.last_known_day + np.timedelta64(3, "D"))
    for day in ("2024-06-15", "2022-12-20", "2025-03-10", beyond):
        kept = backtest.realtime_design(record, target, day, hooks=hooks)
        pd.testing.assert_frame_equal(
            kept, real(record, target, to_day(day), hooks), check_exact=True
        )
    after_2024 = record.day_index(np.datetime64("2024-06-15")) + 1
    after_2025 = record.day_index(np.datetime64("2025-03-10")) + 1
    assert calls == [("2024-06-15", 1), ("2025-03-10", after_2024), (beyond, after_2025)]


def test_a_changed_record_or_hook_is_another_design(record, record_db, no_kept_designs):
    """One row more launched on one night, another target, other weather or another
    stockpile setting: another key, and the design of the changed inputs, not the kept
    one."""
    target = resolve_target(None)
    with open_store(record_db) as con:
        rows = known_rows(con)
    counted = rows["duplicate_from"].isna() & (rows["weapon_class"] == "attack_drone")
    i = int(np.flatnonzero(counted & (rows["night"] == pd.Timestamp("2024-06-01")))[0])
    rows.loc[i, "launched"] += 50  # 50 more attack drones on a night two weeks before
    changed = KnownRecord(rows)
    assert changed.fingerprint() != record.fingerprint()
    assert KnownRecord(rows.iloc[::-1]).fingerprint() == changed.fingerprint()  # row order
    day = "2024-06-15"
    before = backtest.realtime_design(record, target, day)
    after = backtest.realtime_design(changed, target, day)
    pd.testing.assert_frame_equal(after, _fresh(changed, target, day, Hooks()), check_exact=True)
    drones = after["tempo_attack_drone_30d"].iloc[-1] - before["tempo_attack_drone_30d"].iloc[-1]
    assert drones == pytest.approx(50 / 30)

    keys = {
        backtest._design_key(record, target, Hooks()),
        backtest._design_key(changed, target, Hooks()),
        backtest._design_key(record, resolve_target("massive_missiles"), Hooks()),
        backtest._design_key(record, target, Hooks(weather=_weather(0.0))),
        backtest._design_key(record, target, Hooks(weather=_weather(1.0))),
        backtest._design_key(record, target, Hooks(stockpile=StockpileFeatures(record))),
        backtest._design_key(record, target, Hooks(stockpile=StockpileFeatures(record, seed=1))),
    }
    assert len(keys) == 7
    # a hook that cannot say what it reads is never kept
    assert backtest._design_key(record, target, Hooks(production=lambda f, n: {})) is None


def _weather(cloud: float) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=30, name="date")
    return pd.DataFrame(
        {"cloud_night_pct": cloud, "precipitation_mm": 0.0, "wind_max_kmh": 10.0}, index=idx
    )


def test_an_assessment_follows_the_store(store, no_kept_designs):
    """assess on a store that changed (200 more attack drones on a night ten days before)
    answers from the changed rows; and its kept design equals a fresh one. (An early date:
    fewer late rows to revisit, the same code.)"""
    import duckdb

    from barrage.warning.assess import assess, inputs_from_store

    day = "2023-06-15"
    first = assess(inputs_from_store(store), day)
    assert assess(inputs_from_store(store), day) == first  # kept
    with duckdb.connect(str(store)) as con:
        con.execute(
            "UPDATE attacks SET launched = launched + 200 WHERE night = (SELECT max(night) "
            "FROM attacks WHERE night <= DATE '2023-06-05' AND weapon_class = 'attack_drone' "
            "AND source_level <> 'regional') AND weapon_class = 'attack_drone' "
            "AND source_level <> 'regional'"
        )
    changed = assess(inputs_from_store(store), day)
    tempo = "tempo_attack_drone_30d"
    assert changed["indicators"][tempo]["value"] > first["indicators"][tempo]["value"]
    backtest._DESIGNS.clear()
    assert assess(inputs_from_store(store), day) == changed
