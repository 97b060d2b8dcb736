"""Speed-ups that must not change an answer: the on-disk stockpile refit cache and the
one-row real-time design (each compared bit for bit with the plain computation)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from barrage.indicators import Hooks, KnownRecord, indicator_frame, resolve_target
from barrage.record import open_store
from barrage.warning import stock
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
