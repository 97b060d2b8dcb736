"""Stockpile indicators for the warning: what has been built since the last massive strike.

As-of rule (the one rule of the package): an estimate *as of D* uses statements with
``stated_on < D`` and launches on nights before ``D``; it describes the stock at the end
of the night ``D - 1``.

Indicators per family:

- ``built_since_last_massive_*``: stock now minus stock right after the last massive
  night (>= ``MASSIVE_MISSILES`` missiles) before D: production since minus launches since.
- ``typical_massive_salvo``: median launches of the family on the massive nights of the
  365 days before D where it was launched (all earlier ones if none).
- ``accumulation_ratio_*``: built since the last massive strike / typical salvo.
- ``recent_launches_per_night``: mean launches over the 28 nights before D.
- ``nights_of_capacity``: stock (median) / recent tempo, capped at 365 (and 365 when the
  family was not launched in those 28 nights).
- ``stock_change_90d_*``, ``p_stock_growth_90d``, ``stock_trend_90d``: the stock's change
  over the 90 days before D, the probability it grew, and the word (growing / flat /
  falling, :func:`barrage.stockpile.checks.trend_word`).

When all six missile families are fitted, an ``all_missiles`` row sums them draw by draw
(production, stock, trend; the salvo columns are NaN).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from barrage.errors import InputError
from barrage.record.nights import load_night_totals
from barrage.stockpile.checks import ALL_MISSILES, MISSILE_FAMILIES, stock_trend
from barrage.stockpile.families import (
    STOCK_FAMILIES,
    family_launches,
    massive_night_dates,
)
from barrage.stockpile.model import MAX_AHEAD_D, QUANTILE_NAMES, QUANTILES, StockpileModel
from barrage.stockpile.statements import load_statements

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from barrage.stockpile.statements import Statement

TEMPO_NIGHTS = 28
TYPICAL_WINDOW_DAYS = 365
MAX_NIGHTS_OF_CAPACITY = 365.0


def _night_totals(con_or_night_totals: duckdb.DuckDBPyConnection | pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if isinstance(con_or_night_totals, pd.DataFrame):
        needed = {"night", "weapon_class", "family", "launched"}
        missing = needed - set(con_or_night_totals.columns)
        if missing:
            raise InputError(f"night_totals: missing column(s) {', '.join(sorted(missing))}")
        return con_or_night_totals
    from barrage.record import night_totals

    return night_totals(con_or_night_totals)


def default_as_of(night_totals: pd.DataFrame) -> pd.Timestamp:
    """The day after the record's last night: everything recorded is known."""
    import pandas as pd

    if night_totals.empty:
        raise InputError("the record holds no nights: ingest a record first")
    return pd.Timestamp(night_totals["night"].max()).normalize() + pd.Timedelta(days=1)


def _context(launches: pd.DataFrame, massive: pd.DatetimeIndex, origin: pd.Timestamp) -> dict:
    """Typical salvo and recent tempo per family from nights before ``origin``."""
    import pandas as pd

    before = launches[launches.index < origin]
    recent = before[before.index >= origin - pd.Timedelta(days=TEMPO_NIGHTS)]
    m = massive[massive < origin]
    window = m[m >= origin - pd.Timedelta(days=TYPICAL_WINDOW_DAYS)]
    out = {}
    for f in STOCK_FAMILIES:
        typical = np.nan
        for nights in (window, m):
            vals = before[f].reindex(nights).to_numpy()
            vals = vals[vals > 0]
            if len(vals):
                typical = float(np.median(vals))
                break
        out[f] = {
            "typical_massive_salvo": typical,
            "recent_launches_per_night": float(recent[f].sum() / TEMPO_NIGHTS),
        }
    return out


def _trend_columns(trend: dict | None) -> dict[str, Any]:
    """The 90-day trend of :func:`stock_trend` as flat columns (NaN when not estimable)."""
    if trend is None:
        return {
            "stock_change_90d_p05": np.nan, "stock_change_90d_p50": np.nan,
            "stock_change_90d_p95": np.nan, "p_stock_growth_90d": np.nan,
            "stock_trend_90d": "n/a",
        }  # fmt: skip
    return {
        **{f"stock_change_90d_{q}": trend["change"][q] for q in ("p05", "p50", "p95")},
        "p_stock_growth_90d": trend["p_growth"],
        "stock_trend_90d": trend["trend"],
    }


def _all_missiles_row(model: StockpileModel, origin: pd.Timestamp, trend: dict | None) -> dict:
    """Production and stock of the six missile families summed draw by draw."""
    import pandas as pd

    rate = sum(
        model.posteriors_[f].rate_at(origin - pd.Timedelta(days=1)) for f in MISSILE_FAMILIES
    )
    stock = sum(model.posteriors_[f].stock_at(origin) for f in MISSILE_FAMILIES)
    rec: dict[str, Any] = {"as_of": origin, "family": ALL_MISSILES}
    for name, draws in (("stock", stock), ("production_per_month", rate)):
        for q, v in zip(QUANTILE_NAMES, np.quantile(draws, QUANTILES), strict=True):
            rec[f"{name}_{q}"] = float(v)
    for q in QUANTILE_NAMES:
        rec[f"built_since_last_massive_{q}"] = np.nan
    rec.update({
        "last_massive_night": None, "typical_massive_salvo": np.nan,
        "recent_launches_per_night": np.nan, "accumulation_ratio_p05": np.nan,
        "accumulation_ratio_p50": np.nan, "accumulation_ratio_p95": np.nan,
        "nights_of_capacity": np.nan, "ess": np.nan,
    })  # fmt: skip
    rec.update(_trend_columns(trend))
    return rec


def _rows_for(model: StockpileModel, origins: pd.DatetimeIndex, ctx: dict) -> list[dict]:
    rows = []
    trends = {o: stock_trend(model, o) for o in origins}
    for f, post in model.posteriors_.items():
        for origin in origins:
            i = post.row(origin)
            rec: dict[str, Any] = {"as_of": origin, "family": f}
            for name, arr in (
                ("stock", post.stock_q),
                ("production_per_month", post.production_q),
                ("built_since_last_massive", post.built_q),
            ):
                for q, v in zip(
                    QUANTILE_NAMES,
                    arr[i] if arr is not None else [np.nan] * 5,
                    strict=True,
                ):
                    rec[f"{name}_{q}"] = float(v)
            lm = post.last_massive[i]
            rec["last_massive_night"] = None if np.isnat(lm) else str(lm)
            c = ctx[origin][f]
            rec.update(c)
            typical = c["typical_massive_salvo"]
            for q in ("p05", "p50", "p95"):
                b = rec[f"built_since_last_massive_{q}"]
                rec[f"accumulation_ratio_{q}"] = (
                    b / typical
                    if np.isfinite(b) and np.isfinite(typical) and typical > 0
                    else np.nan
                )
            stock = rec["stock_p50"]
            tempo = c["recent_launches_per_night"]
            if not np.isfinite(stock):
                rec["nights_of_capacity"] = np.nan
            elif tempo > 0:
                rec["nights_of_capacity"] = float(
                    min(max(stock, 0) / tempo, MAX_NIGHTS_OF_CAPACITY)
                )
            else:
                rec["nights_of_capacity"] = MAX_NIGHTS_OF_CAPACITY
            rec["ess"] = post.ess
            rec.update(_trend_columns(trends[origin].get(f)))
            rows.append(rec)
    if all(f in model.posteriors_ for f in MISSILE_FAMILIES):
        for origin in origins:
            rows.append(_all_missiles_row(model, origin, trends[origin].get(ALL_MISSILES)))
    return rows


def stockpile_indicator_series(
    night_totals: pd.DataFrame | duckdb.DuckDBPyConnection,
    origins: list | pd.DatetimeIndex,
    *,
    statements: list[Statement] | None = None,
    families: list[str] | None = None,
    refit: str | None = "month",
    n_samples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Indicators at many as-of dates, without look-ahead (one row per origin x family).

    The model is refitted at the start of each ``refit`` period holding origins
    (``"month"``, ``"quarter"``; ``None``: at every origin) with what was known then; an origin later in the
    period adds the launches of the nights between (bookkeeping only). An origin that is
    a refit date gives exactly :func:`stockpile_indicators`.
    """
    import pandas as pd

    nt = _night_totals(night_totals)
    statements = load_statements() if statements is None else statements
    launches = family_launches(nt)
    latest = launches.index.max().normalize() + pd.Timedelta(days=MAX_AHEAD_D)
    try:
        origins = pd.DatetimeIndex(pd.to_datetime(list(origins))).normalize()
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        origins = pd.DatetimeIndex([latest + pd.Timedelta(days=1)])  # refused just below
    origins = origins.unique().sort_values()
    if len(origins) == 0:
        raise InputError("origins: expected at least one as-of date")
    if origins.max() > latest:
        raise InputError(
            f"as-of date: expected a date up to {latest.date()} ({MAX_AHEAD_D} days after "
            "the record's last night); the stockpile's day grid runs to the as-of date"
        )
    massive = massive_night_dates(nt)
    start = launches.index.min()
    if origins.min() <= start + pd.Timedelta(days=1):
        raise InputError(
            f"as-of date {origins.min().date()}: expected a date after "
            f"{(start + pd.Timedelta(days=1)).date()} (the record starts {start.date()})"
        )
    if refit is None:
        refit_dates = origins
    elif refit in ("month", "quarter"):
        refit_dates = origins.to_period("M" if refit == "month" else "Q").to_timestamp()
        refit_dates = pd.DatetimeIndex(
            np.maximum(refit_dates.to_numpy(), (start + pd.Timedelta(days=2)).to_datetime64())
        )
    else:
        raise InputError(f"refit: expected 'month', 'quarter' or None, got {refit!r}")
    ctx = {o: _context(launches, massive, o) for o in origins}
    rows: list[dict] = []
    for r in refit_dates.unique():
        group = origins[refit_dates == r]
        model = StockpileModel(n_samples=n_samples, seed=seed).fit(
            launches,
            statements,
            as_of=r,
            massive_nights=massive,
            families=families,
            horizon=group.max(),
            output_as_of=group,
        )
        rows += _rows_for(model, group, ctx)
    return pd.DataFrame(rows)


def stockpile_indicators(
    con_or_night_totals: duckdb.DuckDBPyConnection | pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp | None = None,
    *,
    statements: list[Statement] | None = None,
    families: list[str] | None = None,
    n_samples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Indicators as of one date (default: the day after the last recorded night)."""
    nt = _night_totals(con_or_night_totals)
    as_of = default_as_of(nt) if as_of is None else as_of
    return stockpile_indicator_series(
        nt, [as_of], statements=statements, families=families, refit=None,
        n_samples=n_samples, seed=seed,
    )  # fmt: skip


def stockpile_report(
    db: str | os.PathLike[str],
    as_of: str | None = None,
    *,
    statements: str | os.PathLike[str] | None = None,
    family: list[str] | None = None,
    n_samples: int = 2000,
    seed: int = 0,
    status: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> dict:
    """``barrage stockpile``: the indicators as of ``as_of`` (ISO text; default the day
    after the last recorded night) from the store ``db``, with the packaged statements
    and the file ``statements`` added, as :func:`indicators_to_json`'s object. ``status``
    is shown while the models fit."""
    if as_of is not None:
        try:
            as_of_date = dt.date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"as_of: expected a date YYYY-MM-DD, got {as_of!r}") from None
    else:
        as_of_date = None
    for f in family or []:
        if f not in STOCK_FAMILIES:
            raise InputError(f"family: expected one of {', '.join(STOCK_FAMILIES)}, got {f!r}")
    nt = load_night_totals(db)
    with (status or nullcontext)("fitting stockpiles"):
        frame = stockpile_indicators(
            nt,
            as_of_date,
            statements=load_statements(statements),
            families=family or None,
            n_samples=n_samples,
            seed=seed,
        )
    return indicators_to_json(frame)


def indicators_to_json(frame: pd.DataFrame) -> dict:
    """The CLI's JSON object: {"as_of", "families": {family: {...}}} for one as-of date."""
    import math

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    def block(row, name: str) -> dict | None:
        vals = {q: clean(float(row[f"{name}_{q}"])) for q in QUANTILE_NAMES}
        return None if all(v is None for v in vals.values()) else vals

    families: dict[str, dict] = {}
    for _, row in frame.iterrows():
        families[row["family"]] = {
            "stock": block(row, "stock"),
            "production_per_month": block(row, "production_per_month"),
            "built_since_last_massive": block(row, "built_since_last_massive"),
            "last_massive_night": row["last_massive_night"],
            "typical_massive_salvo": clean(float(row["typical_massive_salvo"])),
            "accumulation_ratio_p50": clean(float(row["accumulation_ratio_p50"])),
            "recent_launches_per_night": clean(float(row["recent_launches_per_night"])),
            "nights_of_capacity": clean(float(row["nights_of_capacity"])),
            "effective_sample_size": clean(float(row["ess"])),
            "trend_90d": None
            if row["stock_trend_90d"] == "n/a"
            else {
                "stock_change": {
                    q: clean(float(row[f"stock_change_90d_{q}"])) for q in ("p05", "p50", "p95")
                },
                "p_growth": clean(float(row["p_stock_growth_90d"])),
                "trend": row["stock_trend_90d"],
            },
        }
    as_of = frame["as_of"].iloc[0]
    return {"as_of": as_of.date().isoformat(), "families": families}
