"""Stockpile indicators in the warning: no look-ahead, arithmetic, and the new models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barrage.errors import InputError
from barrage.indicators import (
    STOCKPILE_INDICATORS,
    Hooks,
    KnownRecord,
    indicator_frame,
    resolve_target,
)
from barrage.record import open_store
from barrage.record.nights import known_rows
from barrage.stockpile import Statement, load_statements
from barrage.warning import MODELS, StockpileFeatures, make_model, realtime_design
from barrage.warning.stock import refit_index

AS_OF = "2023-04-20"


@pytest.fixture(scope="module")
def rows(record_db) -> pd.DataFrame:
    with open_store(record_db) as con:
        return known_rows(con)


@pytest.fixture(scope="module")
def record(rows) -> KnownRecord:
    return KnownRecord(rows)


def _cut(rows: pd.DataFrame, as_of: str) -> KnownRecord:
    """The record a store ingested at 12:00 on ``as_of`` would hold: rows known by then,
    regional duplicates only when their national counterpart is known by then."""
    day = pd.Timestamp(as_of)
    part = rows[rows["known_from"] <= day].copy()
    part.loc[part["duplicate_from"] > day, "duplicate_from"] = pd.NaT
    return KnownRecord(part)


@pytest.fixture(scope="module")
def design_full(record):
    return realtime_design(
        record, resolve_target(None), AS_OF, hooks=Hooks(stockpile=StockpileFeatures(record))
    )


def test_stockpile_indicators_are_filled(design_full):
    stock = design_full[list(STOCKPILE_INDICATORS)]
    late = stock.loc["2023-02-01":]
    assert late.notna().all().all()
    assert (late["stock_nights_of_capacity_missiles"] > 0).all()
    assert (late["stock_nights_of_capacity_missiles"] <= 365).all()
    # Before the first refit (31 nights into the record) there is nothing to say.
    assert stock.iloc[:30].isna().all().all()


def test_launches_after_d_do_not_change_the_as_of_d_features(rows, design_full):
    cut = _cut(rows, AS_OF)
    assert len(cut.launched) < len(rows)
    got = realtime_design(
        cut, resolve_target(None), AS_OF, hooks=Hooks(stockpile=StockpileFeatures(cut))
    )
    pd.testing.assert_frame_equal(got, design_full)


def test_a_statement_dated_after_d_does_not_change_the_as_of_d_features(record, design_full):
    base = load_statements()
    late = Statement(
        statement_id="test-late-huge-claim",
        family="kh101",
        metric="monthly_production",
        kind="estimate",
        low=5000.0,
        high=6000.0,
        stated_on=pd.Timestamp(AS_OF).date(),  # not before D: unseen as of D
        refers_from=pd.Timestamp("2023-01-01").date(),
        refers_to=pd.Timestamp("2023-03-31").date(),
    )
    target = resolve_target(None)
    with_late = realtime_design(
        record,
        target,
        AS_OF,
        hooks=Hooks(stockpile=StockpileFeatures(record, statements=[*base, late])),
    )
    pd.testing.assert_frame_equal(with_late, design_full)
    # The same statement dated before D does move the missile accumulation (the test can
    # fail).
    early = late.model_copy(update={"stated_on": pd.Timestamp("2023-03-15").date()})
    with_early = realtime_design(
        record,
        target,
        AS_OF,
        hooks=Hooks(stockpile=StockpileFeatures(record, statements=[*base, early])),
    )
    col = "stock_accumulation_ratio_missiles"
    assert not np.allclose(with_early[col].iloc[-5:], design_full[col].iloc[-5:])


def test_refit_index_is_the_month_start_in_force():
    first = np.datetime64("2022-09-27")
    r = refit_index(first, 70)
    # origin t = 31 is 2022-10-28: the first refit (31 nights) is on that day.
    assert (r[:30] == -1).all() and r[30] == 31
    # origins in November use the refit of 1 November (day 35).
    nov = first + np.arange(1, 71).astype("timedelta64[D]")
    in_nov = (nov >= np.datetime64("2022-11-01")) & (nov < np.datetime64("2022-12-01"))
    assert (r[in_nov] == 35).all()
    assert (r <= np.arange(1, 71)).all()


def test_accumulation_ratio_and_capacity_arithmetic(record):
    """A hand-made hook: 2 missiles/day built, a 100-missile stock at each refit."""
    panel = record.panel("2023-03-01")
    target = resolve_target(None)

    def hook(first_night, n):
        return {
            "refit_index": np.where(np.arange(1, n + 1) >= 40, 40, -1),
            "production_missiles_per_day": np.full(n, 2.0),
            "stock_missiles_at_refit": np.full(n, 100.0),
            "production_attack_drones_per_day": np.full(n, 10.0),
            "stock_attack_drones_at_refit": np.full(n, 500.0),
        }

    f = indicator_frame(panel, target, hooks=Hooks(stockpile=hook))
    plain = indicator_frame(panel, target)
    assert plain[list(STOCKPILE_INDICATORS)].isna().all().all()
    frame = panel.frame()
    missiles = frame["missiles"].to_numpy()
    ev = np.flatnonzero(missiles >= 30)
    t = panel.n_nights  # last origin
    last = ev[ev < t][-1]
    built = 2.0 * (t - 1 - last) - missiles[last + 1 : t].sum()
    recent = ev[(ev < t) & (ev >= t - 365)]
    typical = np.median(missiles[recent][missiles[recent] > 0])
    assert f["stock_accumulation_ratio_missiles"].iloc[-1] == pytest.approx(built / typical)
    stock = 100.0 + 2.0 * (t - 40) - missiles[40:t].sum()
    tempo = missiles[t - 30 : t].mean()
    assert f["stock_nights_of_capacity_missiles"].iloc[-1] == pytest.approx(
        min(max(stock, 0) / tempo, 365)
    )


def test_stock_trend_is_shown_from_the_refit_in_force_and_read_by_no_model(record):
    """p_stock_growth_<g>_90d: the hook's value at each origin (NaN before the first
    refit, or without the key), and in no model's columns (the models are frozen)."""
    from barrage.indicators import INDICATORS, STOCK_TREND_INDICATORS
    from barrage.warning.models import FORGETTING_COLUMNS, GBM_COLUMNS, STOCK_FEATURE_COLUMNS

    panel = record.panel("2023-03-01")
    target = resolve_target(None)

    def hook(first_night, n, with_trend=True):
        t = np.arange(1, n + 1)
        out = {
            "refit_index": np.where(t >= 40, 40, -1),
            "production_missiles_per_day": np.full(n, 2.0),
            "stock_missiles_at_refit": np.full(n, 100.0),
            "production_attack_drones_per_day": np.full(n, 10.0),
            "stock_attack_drones_at_refit": np.full(n, 500.0),
        }
        if with_trend:
            out["p_stock_growth_missiles_90d"] = np.where(t >= 40, 0.25, np.nan)
            out["p_stock_growth_attack_drones_90d"] = np.where(t >= 40, 0.75, np.nan)
        return out

    f = indicator_frame(panel, target, hooks=Hooks(stockpile=hook))
    assert set(STOCK_TREND_INDICATORS) == {
        "p_stock_growth_missiles_90d",
        "p_stock_growth_attack_drones_90d",
    }
    assert f["p_stock_growth_missiles_90d"].iloc[:39].isna().all()
    assert (f["p_stock_growth_missiles_90d"].iloc[39:] == 0.25).all()
    assert (f["p_stock_growth_attack_drones_90d"].iloc[39:] == 0.75).all()
    assert all(INDICATORS[c].unit == "probability" for c in STOCK_TREND_INDICATORS)
    old_hook = indicator_frame(panel, target, hooks=Hooks(stockpile=lambda a, n: hook(a, n, False)))
    assert old_hook[list(STOCK_TREND_INDICATORS)].isna().all().all()
    assert indicator_frame(panel, target)[list(STOCK_TREND_INDICATORS)].isna().all().all()
    read = set(STOCK_FEATURE_COLUMNS) | set(GBM_COLUMNS) | set(FORGETTING_COLUMNS)
    assert not read & set(STOCK_TREND_INDICATORS)


@pytest.fixture(scope="module")
def xy(design_full, record):
    from barrage.indicators import outcomes

    y = outcomes(record.panel(AS_OF), resolve_target(None), (7,))[7]
    ok = y.notna().to_numpy()
    return design_full[ok], y.to_numpy()[ok]


def test_ensemble_is_the_mean_of_its_members(xy):
    X, y = xy
    ens = make_model("ensemble", 7).fit(X, y)
    members = [make_model(m, 7).fit(X, y).predict_proba(X)[:, 1] for m in ens.members]
    np.testing.assert_allclose(ens.predict_proba(X)[:, 1], np.mean(members, axis=0))


def test_gbm_respects_its_monotonic_constraints(xy):
    X, y = xy
    model = make_model("gbm", 7).fit(X, y)
    fitted = model.predict_proba(X)[:, 1]
    assert np.ptp(fitted) > 0.1  # the trees, not the constant fallback
    from barrage.warning.models import GBM_COLUMNS

    moved = 0
    for col in (c for c, sign in GBM_COLUMNS.items() if sign == 1):
        values = np.linspace(np.nanmin(X[col]), np.nanmax(X[col]), 20)
        for i in range(0, len(X), max(1, len(X) // 10)):
            grid = pd.concat([X.iloc[[i]]] * 20)
            grid[col] = values
            p = model.predict_proba(grid)[:, 1]
            assert (np.diff(p) >= -1e-12).all(), (col, i)
            moved += p[-1] > p[0] + 1e-6
    assert moved > 0  # the check saw a constrained feature move p (it can fail)


def test_isotonic_calibration_is_fitted_and_bounded(xy):
    X, y = xy
    model = make_model("feature_isotonic", 7).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert p.min() >= 0.01 and p.max() <= 0.99
    # a step function of the model's score: non-decreasing in it, with few levels, and
    # not the Platt curve of the same score
    order = np.argsort(model.decision_function(X), kind="stable")
    assert (np.diff(p[order]) >= -1e-12).all()
    assert len(np.unique(p)) < 0.2 * len(p)
    platt = make_model("feature", 7).fit(X, y).predict_proba(X)[:, 1]
    assert np.abs(p - platt).max() > 0.01
    with pytest.raises(
        InputError, match="calibration: expected 'platt' or 'isotonic', got 'magic'"
    ):
        MODELS["feature"](horizon_days=7, calibration="magic").fit(X, y)


def test_the_warning_reads_the_same_growth_figure_as_barrage_stockpile(record):
    """Issue 16: the probability that the missile stock grew over the 90 days before the
    refit is the one ``barrage stockpile`` words (all missiles, draw by draw)."""
    from barrage.stockpile import StockpileModel, family_launches, massive_night_dates
    from barrage.stockpile.checks import stock_trend
    from barrage.warning.stock import GROUP_FAMILIES, _refit

    day = np.datetime64("2023-06-01")
    nt = record.night_totals(day)
    as_of = pd.Timestamp(day)
    got = _refit((nt, load_statements(), as_of, 500, 0))
    families = [f for fams in GROUP_FAMILIES.values() for f in fams]
    model = StockpileModel(n_samples=500, seed=0).fit(
        family_launches(nt), load_statements(), as_of=as_of,
        massive_nights=massive_night_dates(nt), families=families,
        output_as_of=pd.DatetimeIndex([as_of]),
    )  # fmt: skip
    trend = stock_trend(model, as_of)
    assert got["p_stock_growth_missiles_90d"] == trend["all_missiles"]["p_growth"]
    assert got["p_stock_growth_attack_drones_90d"] == trend["attack_drones"]["p_growth"]
    hook = StockpileFeatures(record)(record.first_night, 300)
    assert np.isfinite(hook["p_stock_growth_missiles_90d"][250])
