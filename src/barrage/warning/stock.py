"""Stockpile estimates as warning indicators: monthly refits as known, cached once.

The stockpile model (:mod:`barrage.stockpile`) is refitted at the first day of each
month r (and not before the record holds :data:`MIN_RECORD_D` nights) with the
statements dated before r and the launches on nights before r *as known at 12:00 on r*
(:meth:`KnownRecord.night_totals`), the one as-of rule of the warning layer. From each
refit the warning keeps, per stock group (missiles: the six missile families summed;
attack drones), the median production rate and the median stock at the end of night
r - 1 (sums of family medians, a point summary, not the median of the sum).

:class:`StockpileFeatures` is the ``stockpile=`` hook of
:func:`barrage.indicators.indicator_frame`: origin t reads the refit in force on t
(r <= t) and the production rates of refits in force on earlier origins; the indicators
add the panel's launches known on t. Refits are deterministic (seeded), keyed by a hash
of exactly what they read, and cached in the process, so a backtest computes each month
once and an assessment on a store cut at D reuses the refits of the full store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from barrage.indicators import STOCK_GROUPS, KnownRecord

#: Stock families summed into each stock group of the indicators.
GROUP_FAMILIES: dict[str, tuple[str, ...]] = {
    "missiles": ("kh101", "kalibr", "iskander_m_kn23", "iskander_k", "kinzhal", "other_missiles"),
    "attack_drones": ("attack_drones",),
}
#: No refit before the record holds this many nights (the model's initial stock prior
#: reads the first 91 days of launches; a month is the least that says anything).
MIN_RECORD_D = 31
#: Draws of each refit: the indicators use medians only, so fewer than the stockpile
#: command's default suffice (each adaptation round still uses at least 2,000).
N_SAMPLES = 500
_CACHE: dict[str, dict[str, float]] = {}
_CACHE_MAX = 20_000
assert set(GROUP_FAMILIES) == set(STOCK_GROUPS)


def _month_start_index(first_night: np.datetime64, days: np.ndarray) -> np.ndarray:
    """Day index (from ``first_night``) of the first day of the month of each day index."""
    dates = first_night + days.astype("timedelta64[D]")
    months = dates.astype("datetime64[M]").astype("datetime64[D]")
    return (months - first_night).astype(np.int64)


def refit_index(first_night: np.datetime64, n: int) -> np.ndarray:
    """For origins t = 1..n: the day index of the refit in force on t (-1 if none)."""
    t = np.arange(1, n + 1)
    r = np.maximum(_month_start_index(first_night, t), MIN_RECORD_D)
    return np.where(r <= t, r, -1)


def _refit(payload: tuple) -> dict[str, float]:
    """One refit (a top-level function so that a process pool can run it)."""
    from threadpoolctl import threadpool_limits

    from barrage.stockpile import StockpileModel, family_launches, massive_night_dates

    night_totals, statements, as_of, n_samples, seed = payload
    families = [f for fams in GROUP_FAMILIES.values() for f in fams]
    with threadpool_limits(1):
        launches = family_launches(night_totals)
        model = StockpileModel(n_samples=n_samples, seed=seed).fit(
            launches,
            statements,
            as_of=as_of,
            massive_nights=massive_night_dates(night_totals),
            families=families,
            output_as_of=pd.DatetimeIndex([as_of]),
        )
    out: dict[str, float] = {}
    for g, fams in GROUP_FAMILIES.items():
        prod = stock = 0.0
        for f in fams:
            post = model.posteriors_[f]
            i = post.row(as_of)
            prod += float(post.production_q[i][2])
            stock += float(post.stock_q[i][2]) if post.stock_q is not None else 0.0
        out[f"production_{g}_per_day"] = prod / 30.4375
        out[f"stock_{g}"] = stock
    return out


class StockpileFeatures:
    """The ``stockpile=`` hook: monthly stockpile refits as known, computed once.

    ``statements``: the dated statements (default: the packaged table); a refit on r
    reads only those with ``stated_on < r``.
    """

    def __init__(
        self,
        record: KnownRecord,
        *,
        statements: Sequence | None = None,
        n_samples: int = N_SAMPLES,
        seed: int = 0,
    ) -> None:
        self.record = record
        self.statements = statements
        self.n_samples = n_samples
        self.seed = seed
        self._by_day: dict[int, dict[str, float]] = {}

    def _statements(self) -> list:
        if self.statements is None:
            from barrage.stockpile import load_statements

            self.statements = load_statements()
        return list(self.statements)

    def _payload(self, r: int) -> tuple[str, tuple]:
        """Cache key and refit inputs for the refit on day index ``r``."""
        day = self.record.first_night + np.timedelta64(int(r), "D")
        as_of = pd.Timestamp(day)
        nt = self.record.night_totals(day)
        used = sorted(
            (s for s in self._statements() if pd.Timestamp(s.stated_on) < as_of),
            key=lambda s: s.statement_id,
        )
        h = hashlib.sha256()
        h.update(f"{day}|{self.n_samples}|{self.seed}".encode())
        h.update(pd.util.hash_pandas_object(nt, index=False).to_numpy().tobytes())
        for s in used:
            h.update(s.model_dump_json().encode())
        return h.hexdigest(), (nt, used, as_of, self.n_samples, self.seed)

    def refits(self, days: Sequence[int]) -> dict[int, dict[str, float]]:
        """Refit outputs for refit day indices ``days`` (each computed once, then cached)."""
        keys, todo = {}, {}
        for r in sorted({int(d) for d in days} - set(self._by_day)):
            key, payload = self._payload(r)
            keys[r] = key
            if key not in _CACHE and key not in {k for k, _ in todo.values()}:
                todo[r] = (key, payload)
        if todo:
            items = list(todo.values())
            results = [_refit(p) for _, p in items]
            if len(_CACHE) + len(results) > _CACHE_MAX:
                _CACHE.clear()
            for (key, _), res in zip(items, results, strict=True):
                _CACHE[key] = res
        self._by_day.update({r: _CACHE[k] for r, k in keys.items()})
        return {int(d): self._by_day[int(d)] for d in days}

    def __call__(self, first_night: np.datetime64, n: int) -> dict[str, np.ndarray]:
        """Hook arrays for origins 1..n (see :data:`barrage.indicators.StockpileHook`)."""
        if first_night != self.record.first_night:
            raise ValueError("stockpile hook: panel and record start on different nights")
        r = refit_index(first_night, n)
        fitted = r[r >= 0]
        days = np.unique(fitted)
        res = self.refits(days) if fitted.size else {}
        out: dict[str, np.ndarray] = {"refit_index": r}
        pos = np.searchsorted(days, np.maximum(r, 0)) if days.size else np.zeros(n, int)
        for g in GROUP_FAMILIES:
            for name, col in (
                (f"production_{g}_per_day", f"production_{g}_per_day"),
                (f"stock_{g}_at_refit", f"stock_{g}"),
            ):
                table = np.array([res[int(d)][col] for d in days] or [np.nan])
                # Production of night i comes from the refit in force at origin i + 1.
                out[name] = np.where(r >= 0, table[np.minimum(pos, table.size - 1)], np.nan)
        return out
