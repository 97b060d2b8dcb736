"""The attacker as of the start date, from the record and barrage's models (no look-ahead).

Strike nights and sizes: the warning's registered launch-count model for the missile
group (:data:`barrage.warning.registration.REGISTRATION`, ``launch_primaries["missiles"]``)
on the night panel as a store ingested at ``start`` would hold it (only nights before the
start, rows known by then): its nightly predictive distribution (a negative binomial)
is drawn each night of the season; a night of at least ``MASSIVE_MISSILES`` missiles is a
massive strike (the record's own threshold). Stock and production: the stockpile model's
draws (:func:`attacker_draws_as_of`).

The record's massive-night count (kept for comparison): massive nights (>= 30 missiles, :data:`barrage.record.nights.MASSIVE_MISSILES`) in the
``window_days`` before ``start``, from the rows a store ingested at ``start`` would hold
(:func:`barrage.record.nights.night_totals_as_of`). With a minimum lull ``L`` and a nightly
probability ``p`` after it, the mean gap between strikes is ``L + 1/p``; ``p`` is set so
that this gap equals the window's mean gap.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.indicators import KnownRecord
from barrage.record import open_store
from barrage.record.nights import MASSIVE_MISSILES, MISSILE_CLASSES, night_totals_as_of
from barrage.record.nights import night_totals_as_of as _nt
from barrage.stockpile.families import family_launches, stock_family_of
from barrage.stockpile.model import DAYS_PER_MONTH, StockpileModel
from barrage.stockpile.statements import load_statements
from barrage.warning.launches import launch_window_values, make_launch_model
from barrage.warning.registration import REGISTRATION

WINDOW_D = 365
LAUNCH_GROUP = "missiles"


def massive_nights_before(con, start: dt.date, window_days: int = WINDOW_D) -> list[str]:
    """Massive nights in ``[start - window_days, start)``, as known at ``start``."""
    df = night_totals_as_of(con, pd.Timestamp(start))
    df = df[df["weapon_class"].isin(MISSILE_CLASSES)]
    per = df.groupby("night")["launched"].sum()
    lo = pd.Timestamp(start) - pd.Timedelta(days=window_days)
    keep = per[(per.index >= lo) & (per.index < pd.Timestamp(start)) & (per >= MASSIVE_MISSILES)]
    return [d.date().isoformat() for d in keep.index]


def rate_for_gap(mean_gap_days: float, min_lull_days: int) -> float:
    """Nightly probability ``p`` after the lull so that ``min_lull + 1/p`` is the gap."""
    room = mean_gap_days - min_lull_days
    if room <= 1.0:
        return 1.0
    return 1.0 / room


def strike_rate_as_of(con, start: dt.date, min_lull_days: int, window_days: int = WINDOW_D):
    """(nightly probability, the massive nights it rests on)."""
    nights = massive_nights_before(con, start, window_days)
    if not nights:
        raise InputError(
            f"db: no massive night in the {window_days} days before {start}; the strike "
            "rate cannot be taken from the record (give attacker.strike_rate_per_day)"
        )
    return rate_for_gap(window_days / len(nights), min_lull_days), nights


def mix_shares(salvo) -> dict[str, float]:
    """Share of each stock family in the strike scenario's salvo (families outside every
    stock, and decoys, are left out)."""
    counts: dict[str, float] = {}
    for wg in salvo.salvo.weapons:
        fam = stock_family_of(wg.family)
        if fam is not None:
            counts[fam] = counts.get(fam, 0.0) + wg.count
    total = sum(counts.values())
    return {f: c / total for f, c in counts.items()} if total else {}


def attacker_draws_as_of(con, start: dt.date, salvo, *, n_samples: int = 500, seed: int = 0):
    """(n, 2) draws of (stock, production per day) in weapons of the salvo's mix, as of
    ``start``, from the stockpile model fitted on the statements and launches before it.

    A salvo needs each family in its share, so the mix's stock is the scarcest family's
    stock over its share (draw by draw), and the same for production."""
    shares = mix_shares(salvo)
    if not shares:
        raise InputError("strike: the salvo has no family with a stock estimate")
    launches = family_launches(_nt(con, pd.Timestamp(start)))
    model = StockpileModel(n_samples=n_samples, seed=seed).fit(
        launches, load_statements(None), as_of=start, families=sorted(shares),
        output_as_of=pd.DatetimeIndex([pd.Timestamp(start) - pd.Timedelta(days=1)]),
    )  # fmt: skip
    stock = [model.posteriors_[f].stock_at(start) / s for f, s in shares.items()]
    rate = [model.posteriors_[f].rate_at(start) / DAYS_PER_MONTH / s for f, s in shares.items()]
    return np.column_stack([np.clip(np.min(stock, axis=0), 0, None), np.min(rate, axis=0)])


def nightly_launches_as_of(con, start: dt.date, group: str = LAUNCH_GROUP) -> dict:
    """The registered launch model's nightly predictive distribution of ``group`` at
    origin ``start``: ``{"model", "mean", "dispersion"}`` of a negative binomial (variance
    ``mean + mean**2 / dispersion``), from the nights before ``start`` only."""
    panel = KnownRecord.from_store(con).panel(start)
    name = REGISTRATION.launch_primaries[group]
    origin = np.array([panel.n_nights])  # nights 0 .. n-1: every night before the start
    x = pd.DataFrame(launch_window_values(panel, origin))
    model = make_launch_model(name, group, horizon_days=1).fit(x)
    mean, r = float(model.predict_mean(x)[0]), float(model.predict_dispersion(x)[0])
    if not (np.isfinite(mean) and np.isfinite(r) and mean > 0 and r > 0):
        raise InputError(
            f"db: the registered launch model {name!r} gives no nightly distribution of "
            f"{group} at {start} (mean {mean}, dispersion {r})"
        )
    return {"model": name, "group": group, "mean": mean, "dispersion": r}


def p_massive(launches: dict, threshold: int = MASSIVE_MISSILES) -> float:
    """P(a night of at least ``threshold``) under the nightly negative binomial."""
    from scipy import stats

    r, mean = launches["dispersion"], launches["mean"]
    return float(stats.nbinom.sf(threshold - 1, r, r / (r + mean)))


def attacker_as_of(db, scenario, salvo):
    """(nightly launch distribution, (n, 2) stock/production draws, what was read)."""
    with open_store(db) as con:
        launches = nightly_launches_as_of(con, scenario.start)
        nights = massive_nights_before(con, scenario.start)
        draws = attacker_draws_as_of(con, scenario.start, salvo)
    q = np.quantile(draws, [0.05, 0.5, 0.95], axis=0)
    read = {
        "launch_model": launches["model"],
        "missiles_per_night_mean": round(launches["mean"], 3),
        "missiles_per_night_dispersion": round(launches["dispersion"], 4),
        "p_massive_night": round(p_massive(launches), 4),
        "massive_nights_in_window": len(nights),
        "window_days": WINDOW_D,
        "stock_p05_p50_p95": q[:, 0].round(1).tolist(),
        "production_per_day_p05_p50_p95": q[:, 1].round(2).tolist(),
        "shares_of_mix": mix_shares(salvo),
    }
    return launches, draws, read
