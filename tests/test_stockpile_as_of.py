"""The stockpile's as-of rule at its boundary: a statement made on the as-of date itself
is not yet known (statements count from the day after they are made)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from barrage.record import load_night_totals
from barrage.stockpile import StockpileModel, family_launches, load_statements, massive_night_dates
from barrage.stockpile.statements import Statement

AS_OF = dt.date(2025, 2, 1)


@pytest.fixture(scope="module")
def nt(record_db: Path) -> pd.DataFrame:
    return load_night_totals(record_db)


def _claim(stated_on: dt.date) -> Statement:
    return Statement(
        statement_id="boundary-claim", family="kh101", metric="stockpile", kind="estimate",
        low=2000, high=2500, stated_on=stated_on, refers_to=dt.date(2024, 12, 1),
    )  # fmt: skip


def _stock_q(nt: pd.DataFrame, statements: list[Statement]) -> np.ndarray:
    fit = StockpileModel(n_samples=400, seed=3).fit(
        family_launches(nt), statements, as_of=AS_OF, massive_nights=massive_night_dates(nt),
        families=["kh101"],
    )  # fmt: skip
    return fit.posteriors_["kh101"].stock_q


def test_a_statement_made_on_the_as_of_date_is_not_yet_used(nt):
    base = load_statements()
    plain = _stock_q(nt, base)
    np.testing.assert_array_equal(plain, _stock_q(nt, [*base, _claim(AS_OF)]))
    # made the day before, the same statement moves the estimate (the test can fail)
    day_before = _stock_q(nt, [*base, _claim(AS_OF - dt.timedelta(days=1))])
    assert not np.array_equal(plain, day_before)
