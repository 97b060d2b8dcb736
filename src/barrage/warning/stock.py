"""Stockpile estimates as warning indicators: monthly refits as known, cached once.

The stockpile model (:mod:`barrage.stockpile`) is refitted at the first day of each
month r (and not before the record holds :data:`MIN_RECORD_D` nights) with the
statements dated before r and the launches on nights before r *as known at 12:00 on r*
(:meth:`KnownRecord.night_totals`), the one as-of rule of the warning layer. From each
refit the warning keeps, per stock group (missiles: the six missile families summed
draw by draw; attack drones), the median production rate and the median stock at the
end of night r - 1, and the probability that the group's stock grew over the 90 days
before r (:func:`barrage.stockpile.checks.stock_change`, the figure ``barrage
stockpile`` words as growing / flat / falling).

:class:`StockpileFeatures` is the ``Hooks.stockpile`` of
:func:`barrage.indicators.indicator_frame`: origin t reads the refit in force on t
(r <= t) and the production rates of refits in force on earlier origins; the indicators
add the panel's launches known on t. Refits are deterministic (seeded), keyed by a hash
of exactly what they read, and cached in the process, so a backtest computes each month
once and an assessment on a store cut at D reuses the refits of the full store.

They are also cached on disk, in a folder next to the store (:func:`refit_cache_dir`),
one small JSON file per refit named by its key. The key hashes what the refit reads
(the night totals before r, the statements dated before r, the draws and seed) and what
computes it (the package version, the source of :mod:`barrage.stockpile` and of this
module, the numpy/scipy/pandas versions), so a cached value is the value a refit would
compute, bit for bit (JSON floats round-trip exactly). A folder that cannot be read or
written (a read-only store) only means the refits are computed, never an error.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

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
#: Bump when the layout of a cached refit changes.
CACHE_FORMAT = 2
#: The values of one refit (the keys of a cached file).
REFIT_VALUES: tuple[str, ...] = tuple(
    f"{kind}_{g}{suffix}"
    for g in GROUP_FAMILIES
    for kind, suffix in (("production", "_per_day"), ("stock", ""), ("p_stock_growth", "_90d"))
)
#: Days of the stock-growth window (the same as ``barrage stockpile``'s trend).
GROWTH_DAYS = 90
assert set(GROUP_FAMILIES) == set(STOCK_GROUPS)
logger = logging.getLogger(__name__)


def refit_cache_dir(store: str | os.PathLike[str]) -> Path:
    """The on-disk refit cache of the store file ``store``: ``<store>.cache/stockpile_refits``."""
    p = Path(store)
    return p.with_name(p.name + ".cache") / "stockpile_refits"


def store_cache_dir(con) -> Path | None:
    """:func:`refit_cache_dir` of the file behind an open DuckDB connection (None in memory)."""
    try:
        rows = con.execute("PRAGMA database_list").fetchall()
    except Exception:  # noqa: BLE001 - any connection without a file: no disk cache
        return None
    files = [r[2] for r in rows if r[2]]
    return refit_cache_dir(files[0]) if files else None


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """What computes a refit: versions, and the source of the stockpile model and of this
    module (so a changed model never reads an old cached value, version bump or not)."""
    import numpy
    import pandas
    import scipy

    import barrage
    import barrage.stockpile

    h = hashlib.sha256()
    h.update(
        f"{CACHE_FORMAT}|{barrage.__version__}|{numpy.__version__}|{scipy.__version__}|"
        f"{pandas.__version__}".encode()
    )
    files = sorted(Path(barrage.stockpile.__file__).parent.glob("*.py")) + [Path(__file__)]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _read_cached(folder: Path | None, key: str) -> dict[str, float] | None:
    """A refit from the disk cache, or None (missing, unreadable or malformed)."""
    if folder is None:
        return None
    try:
        data = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
        values = data["values"]
        if data.get("key") != key or set(values) != set(REFIT_VALUES):
            return None
        return {k: float(values[k]) for k in REFIT_VALUES}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cached(folder: Path | None, key: str, values: dict[str, float]) -> None:
    """Store a refit in the disk cache atomically; a folder that cannot be written is
    skipped (the in-process cache still holds the value)."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"key": key, "format": CACHE_FORMAT, "values": values}, f)
            os.replace(tmp, folder / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.debug("stockpile refit cache %s not written: %s", folder, exc)


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
    from barrage.stockpile.checks import stock_change

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
        # draw by draw: families are fitted independently, draw i of each is a joint draw
        rate = sum(model.posteriors_[f].rate_at(as_of - pd.Timedelta(days=1)) for f in fams)
        stock = sum(model.posteriors_[f].stock_at(as_of) for f in fams)
        out[f"production_{g}_per_day"] = float(np.median(rate)) / 30.4375
        out[f"stock_{g}"] = float(np.median(stock))
        grid0 = max(model.posteriors_[f].days_grid_start for f in fams)
        if as_of - pd.Timedelta(days=GROWTH_DAYS) > grid0:
            change = stock_change(model, as_of, fams, GROWTH_DAYS)
            out[f"p_stock_growth_{g}_90d"] = float(np.mean(change > 0))
        else:
            out[f"p_stock_growth_{g}_90d"] = float("nan")
    return out


class StockpileFeatures:
    """The ``Hooks.stockpile``: monthly stockpile refits as known, computed once.

    ``statements``: the dated statements (default: the packaged table); a refit on r
    reads only those with ``stated_on < r``. ``cache_dir``: the on-disk refit cache
    (see the module docstring; None: in-process only).
    """

    def __init__(
        self,
        record: KnownRecord,
        *,
        statements: Sequence | None = None,
        n_samples: int = N_SAMPLES,
        seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.record = record
        self.statements = statements
        self.n_samples = n_samples
        self.seed = seed
        self.cache_dir = cache_dir
        self._by_day: dict[int, dict[str, float]] = {}
        self._packaged: list | None = None

    def _statements(self) -> list:
        """The statements in use; the packaged table is loaded once into a private
        attribute, so ``statements`` stays the parameter as given (``None``) and the
        backtest fingerprint, which hashes it, is the same before and after a refit."""
        if self.statements is not None:
            return list(self.statements)
        if self._packaged is None:
            from barrage.stockpile import load_statements

            self._packaged = load_statements()
        return list(self._packaged)

    def cache_key(self) -> str:
        """What every refit of this hook reads beside the code: the record's
        fingerprint, the statements, the draws and the seed (equal keys, equal arrays)."""
        h = hashlib.sha256(f"{self.record.fingerprint()}|{self.n_samples}|{self.seed}".encode())
        for s in sorted(self._statements(), key=lambda s: s.statement_id):
            h.update(s.model_dump_json().encode())
        return h.hexdigest()

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
        h.update(f"{code_fingerprint()}|{day}|{self.n_samples}|{self.seed}".encode())
        h.update(pd.util.hash_pandas_object(nt, index=False).to_numpy().tobytes())
        for s in used:
            h.update(s.model_dump_json().encode())
        return h.hexdigest(), (nt, used, as_of, self.n_samples, self.seed)

    def refits(self, days: Sequence[int]) -> dict[int, dict[str, float]]:
        """Refit outputs for refit day indices ``days`` (each computed once, then cached)."""
        folder = None if self.cache_dir is None else Path(self.cache_dir)
        keys, todo, found = {}, {}, {}
        for r in sorted({int(d) for d in days} - set(self._by_day)):
            key, payload = self._payload(r)
            keys[r] = key
            kept = _CACHE.get(key)  # one read: another thread may clear the cache
            if kept is not None:
                found[key] = kept
                # computed in this process for another store: keep this store's cache whole
                if folder is not None and not (folder / f"{key}.json").exists():
                    _write_cached(folder, key, kept)
                continue
            if key in found or key in {k for k, _ in todo.values()}:
                continue
            cached = _read_cached(folder, key)
            if cached is not None:
                found[key] = cached
            else:
                todo[r] = (key, payload)
        if found or todo:
            items = list(todo.values())
            results = [_refit(p) for _, p in items]
            for (key, _), res in zip(items, results, strict=True):
                _write_cached(folder, key, res)
            found.update((key, res) for (key, _), res in zip(items, results, strict=True))
            if len(_CACHE) + len(found) > _CACHE_MAX:
                _CACHE.clear()
            _CACHE.update(found)
        # read from this call's own dict, never the shared cache (threads clear it)
        self._by_day.update({r: found[k] for r, k in keys.items()})
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
                (f"p_stock_growth_{g}_90d", f"p_stock_growth_{g}_90d"),
            ):
                table = np.array([res[int(d)][col] for d in days] or [np.nan])
                # Production of night i comes from the refit in force at origin i + 1.
                out[name] = np.where(r >= 0, table[np.minimum(pos, table.size - 1)], np.nan)
        return out
