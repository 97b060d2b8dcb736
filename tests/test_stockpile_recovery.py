"""Recovery (issue 23): launches simulated from a known production path and starting
stock, with a few noisy statements; the fit's 90% intervals must cover the truth.

Deterministic seeds; the tolerance can fail both ways: coverage of the true production
rate and stock at seven dates over five seeds must be at least 75% (nominal 90%), and the
intervals must be informative (median 90% width under 2.5 times the true value), so an
interval made wide enough to cover anything fails too.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from barrage.stockpile import STOCK_FAMILIES, StockpileModel
from barrage.stockpile.model import DAYS_PER_MONTH
from barrage.stockpile.statements import Statement

START = pd.Timestamp("2022-09-27")
DAYS = pd.date_range(START, "2025-06-30", freq="D")
CHECK_DATES = pd.date_range("2023-03-01", "2025-06-01", freq="4MS")
SEEDS = (11, 12, 13, 14, 15)


def _truth(seed: int):
    """True daily rate (units/month), launches that never exceed the stock, the stock."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    t = np.arange(len(DAYS)) / 365.0
    rate = 25.0 * np.exp(0.45 * t + 0.15 * np.sin(2 * np.pi * t + rng.uniform(0, 6)))
    stock, s = np.empty(len(DAYS)), 150.0
    launched = np.zeros(len(DAYS))
    for i in range(len(DAYS)):
        s += rate[i] / DAYS_PER_MONTH
        if rng.random() < 0.08:  # a strike about every 12 nights, drawing on the stock
            launched[i] = min(np.floor(s), rng.poisson(0.9 * rate[i] * 12 / DAYS_PER_MONTH))
            s -= launched[i]
        stock[i] = s
    return rate, launched, stock, rng


def _statements(rate, stock, rng) -> list[Statement]:
    """A production figure every 6 months (true mean rate x log-normal error 0.2) and one
    stock figure, each stated a month after the period it describes."""
    out = []
    for k, start in enumerate(pd.date_range("2022-10-01", "2025-01-01", freq="6MS")):
        end = start + pd.Timedelta(days=89)
        sel = (DAYS >= start) & (DAYS <= end)
        v = float(rate[sel].mean() * np.exp(0.2 * rng.standard_normal()))
        out.append(Statement(
            statement_id=f"p{k}", family="kh101", metric="monthly_production",
            kind="estimate", low=v, high=v, stated_on=(end + pd.Timedelta(days=30)).date(),
            refers_from=start.date(), refers_to=end.date(),
        ))  # fmt: skip
    day = pd.Timestamp("2023-06-01")
    v = float(stock[DAYS.get_loc(day) - 1] * np.exp(0.2 * rng.standard_normal()))
    out.append(Statement(
        statement_id="s0", family="kh101", metric="stockpile", kind="estimate", low=v,
        high=v, stated_on=dt.date(2023, 8, 1), refers_to=day.date(),
    ))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def recovered():
    res = []
    for seed in SEEDS:
        rate, launched, stock, rng = _truth(seed)
        frame = pd.DataFrame(0.0, index=DAYS, columns=list(STOCK_FAMILIES))
        frame["kh101"] = launched
        model = StockpileModel(n_samples=1000, seed=seed).fit(
            frame, _statements(rate, stock, rng), as_of="2025-07-01", families=["kh101"],
            output_as_of=CHECK_DATES,
        )  # fmt: skip
        post = model.posteriors_["kh101"]
        rows = CHECK_DATES - pd.Timedelta(days=1)  # as of D: the end of night D - 1
        idx = DAYS.get_indexer(rows)
        res.append((rate[idx], stock[idx], post.production_q, post.stock_q))
    return res


def test_ninety_percent_intervals_cover_the_true_production_and_stock(recovered):
    hits, widths = [], []
    for true_rate, true_stock, prod_q, stock_q in recovered:
        for truth, q in ((true_rate, prod_q), (true_stock, stock_q)):
            hits += list((q[:, 0] <= truth) & (truth <= q[:, 4]))
            widths += list((q[:, 4] - q[:, 0]) / truth)
    coverage = float(np.mean(hits))
    assert len(hits) == 2 * len(SEEDS) * len(CHECK_DATES)
    assert coverage >= 0.75, coverage
    assert float(np.median(widths)) < 2.5, np.median(widths)
