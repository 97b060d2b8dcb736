"""unique_rows: the hashed dedup of price_masks equals numpy's exact row sort."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import barrage.grid.restoration as restoration
from barrage.grid.restoration import unique_rows


def _check(rows: np.ndarray) -> None:
    first, inverse = unique_rows(rows)
    expected_first = np.unique(rows, axis=0, return_index=True)[1]
    # the same distinct rows, each at its first occurrence
    assert sorted(first.tolist()) == sorted(expected_first.tolist())
    assert np.array_equal(rows[first][inverse], rows)
    assert len({rows[i].tobytes() for i in first}) == len(first)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 20).flatmap(
        lambda w: arrays(np.uint8, st.tuples(st.integers(1, 60), st.just(w)),
                         elements=st.integers(0, 3))
    )
)  # fmt: skip
def test_matches_numpy_unique(rows):
    _check(rows)


def test_wide_rows_and_many_duplicates():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(50, 37), dtype=np.uint8)
    _check(base[rng.integers(0, 50, size=5000)])


def test_hash_collision_falls_back_to_exact(monkeypatch):
    """Every row hashing alike must still give the exact answer."""
    monkeypatch.setattr(restoration, "_ROW_HASH_MULTIPLIERS", np.zeros(64, dtype=np.uint64))
    rng = np.random.default_rng(1)
    _check(rng.integers(0, 2, size=(300, 9), dtype=np.uint8))


@pytest.mark.parametrize("width", [1, 8, 9, 600])
def test_widths_around_word_boundaries(width):
    rng = np.random.default_rng(width)
    _check(rng.integers(0, 2, size=(200, width), dtype=np.uint8))


def test_top_bits_of_different_words_do_not_collide(monkeypatch):
    """Rows that differ only in the top bit of two different 64-bit words (damaged
    asset 56 against asset 120, say) hash apart: the fast path answers alone."""

    def refuse(words):
        raise AssertionError("fell back to the exact sort")

    monkeypatch.setattr(restoration, "_unique_rows_exact", refuse)
    rows = np.zeros((4, 16), dtype=np.uint8)
    rows[0, 7] = 0x80  # top bit of word 0
    rows[1, 15] = 0x80  # top bit of word 1
    rows[2, 7] = rows[2, 15] = 0x80
    _check(rows)
    rng = np.random.default_rng(5)
    wide = rng.integers(0, 256, size=(2000, 40), dtype=np.uint8)
    wide[:, [7, 15, 23, 31, 39]] &= 0x80  # only top bits vary in the last byte of each word
    _check(wide)
