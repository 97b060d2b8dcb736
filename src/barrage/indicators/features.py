"""Indicators for every forecast origin at once, from one as-of night panel.

Origin ``t`` (the date ``first_night + t``) sees only nights ``< t``: every window below
ends the night before the origin. Windows are differences of cumulative sums, so the whole
matrix is a handful of array operations. Each indicator has a one-line meaning in
:data:`INDICATORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from barrage.indicators.panel import NightPanel
from barrage.indicators.targets import Target
from barrage.indicators.weather import recent_weather
from barrage.record.taxonomy import MISSILE_CLASSES, WEAPON_CLASSES

TEMPO_WINDOWS_D = (7, 30, 90)
#: Heating season in Ukraine: 15 October to 15 April (day of year bounds, inclusive).
HEATING_START_DOY, HEATING_END_DOY = 288, 105


@dataclass(frozen=True)
class Indicator:
    name: str
    unit: str
    meaning: str


def _tempo_meaning(group: str, w: int) -> str:
    return f"{group} launched per night over the {w} nights before the forecast date"


_TEMPO_GROUPS = {
    "attack_drone": "attack drones",
    "missiles": "missiles (cruise + ballistic + mixed)",
    "cruise_missile": "cruise missiles",
    "ballistic_missile": "ballistic missiles",
}

INDICATORS: dict[str, Indicator] = {
    **{
        f"tempo_{g}_{w}d": Indicator(f"tempo_{g}_{w}d", "weapons/night", _tempo_meaning(label, w))
        for g, label in _TEMPO_GROUPS.items()
        for w in TEMPO_WINDOWS_D
    },
    "days_since_event_d": Indicator(
        "days_since_event_d", "days", "days since the last night meeting the target"
    ),
    "gap_percentile": Indicator(
        "gap_percentile",
        "fraction",
        "share of past gaps between target nights that were no longer than the current one",
    ),
    "events_90d": Indicator("events_90d", "nights", "target nights in the last 90 nights"),
    "events_365d": Indicator("events_365d", "nights", "target nights in the last 365 nights"),
    "accumulation_missiles": Indicator(
        "accumulation_missiles",
        "missiles",
        "missiles produced (estimate) minus missiles launched since the last target night",
    ),
    "accumulation_attack_drones": Indicator(
        "accumulation_attack_drones",
        "drones",
        "attack drones produced (estimate) minus launched since the last target night",
    ),
    "intercept_rate_attack_drone_30d": Indicator(
        "intercept_rate_attack_drone_30d",
        "fraction",
        "attack drones destroyed / launched, 30 nights",
    ),
    "intercept_rate_missiles_30d": Indicator(
        "intercept_rate_missiles_30d", "fraction", "missiles destroyed / launched, 30 nights"
    ),
    "intercept_trend_attack_drone": Indicator(
        "intercept_trend_attack_drone",
        "fraction",
        "attack-drone intercept rate, last 30 nights minus the 90 nights before",
    ),
    "intercept_trend_missiles": Indicator(
        "intercept_trend_missiles",
        "fraction",
        "missile intercept rate, last 30 nights minus the 90 nights before",
    ),
    "intercept_rate_cruise_missile_30d": Indicator(
        "intercept_rate_cruise_missile_30d",
        "fraction",
        "cruise missiles destroyed / launched, 30 nights",
    ),
    "intercept_trend_cruise_missile": Indicator(
        "intercept_trend_cruise_missile",
        "fraction",
        "cruise-missile intercept rate, last 30 nights minus the 90 nights before",
    ),
    "intercept_rate_ballistic_missile_30d": Indicator(
        "intercept_rate_ballistic_missile_30d",
        "fraction",
        "ballistic missiles destroyed / launched, 30 nights",
    ),
    "intercept_trend_ballistic_missile": Indicator(
        "intercept_trend_ballistic_missile",
        "fraction",
        "ballistic-missile intercept rate, last 30 nights minus the 90 nights before",
    ),
    "probing_recon_energy_7d": Indicator(
        "probing_recon_energy_7d",
        "drones",
        "reconnaissance drones over regions with critical energy sites, last 7 nights",
    ),
    "probing_small_strikes_energy_7d": Indicator(
        "probing_small_strikes_energy_7d",
        "missiles",
        "missiles at energy regions on nights below the target, last 7 nights",
    ),
    "heating_season": Indicator(
        "heating_season", "0/1", "forecast date in the heating season (15 Oct - 15 Apr)"
    ),
    "season_cos": Indicator(
        "season_cos", "-1..1", "cosine of the day of year (1 in mid-January, -1 in mid-July)"
    ),
    "cloud_night_pct": Indicator(
        "cloud_night_pct",
        "%",
        "night cloud cover observed on attack dates in the last 7 days (forecast stand-in)",
    ),
    "wind_max_kmh": Indicator(
        "wind_max_kmh",
        "km/h",
        "daily maximum wind at 10 m (mean of Kyiv, Kharkiv, Odesa, Zaporizhzhia) observed "
        "on attack dates in the last 7 days",
    ),
    "salvo_size_last": Indicator(
        "salvo_size_last", "weapons", "missiles + attack drones launched on the last target night"
    ),
    "salvo_size_trend": Indicator(
        "salvo_size_trend",
        "ratio",
        "mean size of the last 3 target nights over the 3 before, minus 1",
    ),
    "stock_accumulation_ratio_missiles": Indicator(
        "stock_accumulation_ratio_missiles",
        "salvos",
        "missiles built (stockpile estimate) minus launched since the last target night, "
        "in typical target-night salvos",
    ),
    "stock_accumulation_ratio_attack_drones": Indicator(
        "stock_accumulation_ratio_attack_drones",
        "salvos",
        "attack drones built (stockpile estimate) minus launched since the last target "
        "night, in typical target-night salvos",
    ),
    "stock_nights_of_capacity_missiles": Indicator(
        "stock_nights_of_capacity_missiles",
        "nights",
        "estimated missile stock over the 30-night launch tempo (capped at 365)",
    ),
    "stock_nights_of_capacity_attack_drones": Indicator(
        "stock_nights_of_capacity_attack_drones",
        "nights",
        "estimated attack-drone stock over the 30-night launch tempo (capped at 365)",
    ),
    "p_stock_growth_missiles_90d": Indicator(
        "p_stock_growth_missiles_90d",
        "probability",
        "chance that the estimated missile stock (six families summed) grew over the 90 "
        "days before the stockpile refit in force (shown only: in no model's design)",
    ),
    "p_stock_growth_attack_drones_90d": Indicator(
        "p_stock_growth_attack_drones_90d",
        "probability",
        "chance that the estimated attack-drone stock grew over the 90 days before the "
        "stockpile refit in force (shown only: in no model's design)",
    ),
}
#: Indicators that need a stockpile estimate (``Hooks.stockpile``); NaN without one.
#: The models' stockpile columns (``stock_*``; see :mod:`barrage.warning.models`).
STOCKPILE_INDICATORS: tuple[str, ...] = tuple(c for c in INDICATORS if c.startswith("stock_"))
#: Stockpile indicators shown beside the others but read by no model (the registered
#: models are frozen): the stock's 90-day trend of each stock group, from the hook's
#: ``p_stock_growth_<g>_90d`` (NaN without a hook or a key).
STOCK_TREND_INDICATORS: tuple[str, ...] = tuple(
    c for c in INDICATORS if c.startswith("p_stock_growth_")
)
#: Stock groups of the stockpile hook and the launch series of the panel they match.
STOCK_GROUPS: dict[str, str] = {"missiles": "missiles", "attack_drones": "attack_drone"}
MAX_NIGHTS_OF_CAPACITY = 365.0
TYPICAL_SALVO_WINDOW_D = 365

#: ``production(first_night, n_origins) -> {"missiles": per-day array, "attack_drones": ...}``
#: e.g. from ``barrage.stockpile``; None uses the launch-rate proxy.
ProductionHook = Callable[[np.datetime64, int], dict[str, np.ndarray]]
#: ``stockpile(first_night, n) -> arrays of length n`` (the warning layer passes one in;
#: indicators never import barrage.stockpile). Keys, for g in :data:`STOCK_GROUPS`:
#: ``refit_index`` (per origin t = 1..n, the day index r <= t of the refit in force, -1
#: when none), ``stock_<g>_at_refit`` (per origin: stock at the end of night r - 1, from
#: statements before r and launches before r), ``production_<g>_per_day`` (per night
#: i = 0..n-1: the production rate from the refit in force at origin i + 1, so origin t
#: only reads rates estimated before t); optional ``p_stock_growth_<g>_90d`` (per origin:
#: the probability that the stock grew over the 90 days before r).
StockpileHook = Callable[[np.datetime64, int], dict[str, np.ndarray]]


@dataclass(frozen=True, eq=False)
class Hooks:
    """What the indicators read beside the record, declared once and passed whole from
    the inputs bundle down to :func:`indicator_values`: the weather by date (None: the
    weather indicators are NaN), the production hook (None: a launch-rate proxy) and the
    stockpile hook (None: the stockpile indicators are NaN)."""

    weather: pd.DataFrame | None = None
    production: ProductionHook | None = None
    stockpile: StockpileHook | None = None


NO_HOOKS = Hooks()


def _cumsum0(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, axis=0)])


def _window(cs: np.ndarray, t: np.ndarray, w: int) -> np.ndarray:
    """Sum over nights [t - w, t - 1] from a zero-prefixed cumulative sum."""
    return cs[t] - cs[np.maximum(t - w, 0)]


def event_flags(panel: NightPanel, target: Target) -> np.ndarray:
    """Which known nights meet the target (bool per night of the panel)."""
    return target.evaluate(panel.by_class("launched"))


def launch_rate_proxy(
    panel: NightPanel, t: np.ndarray, series: np.ndarray, window_d: int = 180
) -> np.ndarray:
    """Production proxy: mean launches per night over the ``window_d`` nights before each
    origin (launches are a floor on output; used until a stockpile estimate is given)."""
    cs = _cumsum0(series)
    return _window(cs, t, window_d) / np.maximum(np.minimum(t, window_d), 1)


def indicator_frame(
    panel: NightPanel,
    target: Target,
    *,
    hooks: Hooks = NO_HOOKS,
    origins: np.ndarray | None = None,
) -> pd.DataFrame:
    """Indicators for every origin 1..n (n = nights in the panel, i.e. up to ``as_of``).

    Row ``t`` is the forecast issued at 12:00 on ``first_night + t`` and uses nights
    ``< t`` only. Index: the origin dates. The stockpile indicators are NaN without a
    stockpile hook in ``hooks``. ``origins``: only these origins t (1..n; the rows are the same
    numbers as in the full frame, computed for those rows only, as the real-time design
    needs one row per panel).
    """
    n = panel.n_nights
    t = np.arange(1, n + 1) if origins is None else np.asarray(origins, dtype=np.int64)
    out = indicator_values(panel, target, hooks=hooks, origins=t)
    index = pd.date_range(pd.Timestamp(panel.first_night) + pd.Timedelta(days=1), periods=n)
    frame = pd.DataFrame(out, index=index if origins is None else index[t - 1])
    frame.index.name = "as_of"
    return frame


def indicator_values(
    panel: NightPanel,
    target: Target,
    *,
    hooks: Hooks = NO_HOOKS,
    origins: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The columns of :func:`indicator_frame` as arrays (in :data:`INDICATORS` order),
    without building a frame: the real-time design calls it once per revised origin."""
    n = panel.n_nights
    t = np.arange(1, n + 1) if origins is None else np.asarray(origins, dtype=np.int64)
    if t.size and (t.min() < 1 or t.max() > n):
        raise ValueError(f"origins: expected values in 1..{n}")
    groups = _launch_groups(panel.launched)
    out: dict[str, np.ndarray] = {}
    for g, series in groups.items():
        cs = _cumsum0(series)
        for w in TEMPO_WINDOWS_D:
            out[f"tempo_{g}_{w}d"] = _window(cs, t, w) / np.minimum(t, w)
    ev = event_flags(panel, target)
    ev_idx = np.flatnonzero(ev)
    last = np.maximum.accumulate(np.where(ev, np.arange(n), -1))  # last event <= night i
    last_before = last[t - 1]  # last event night < t
    has_event = last_before >= 0
    out.update(_event_timing(ev, ev_idx, t, last_before, has_event))
    start = np.where(has_event, last_before + 1, 0)
    out.update(_accumulation(panel, groups, t, start, hooks.production))
    out.update(_intercept_rates(panel, groups, t))
    # Probing: recon over energy regions; small strikes (nights below the target) there.
    out["probing_recon_energy_7d"] = _window(_cumsum0(panel.recon_energy), t, 7)
    small = np.where(ev, 0.0, panel.missiles_energy)
    out["probing_small_strikes_energy_7d"] = _window(_cumsum0(small), t, 7)
    out.update(_season_and_weather(panel, hooks.weather, t))
    out.update(_salvo_size(groups, ev_idx, t))
    out.update(
        _stockpile_indicators(hooks.stockpile, panel, t, start, has_event, ev_idx, groups, out)
    )
    return {c: out[c] for c in INDICATORS}


def _launch_groups(launched: np.ndarray) -> dict[str, np.ndarray]:
    """Launches per night of the groups the indicators follow (columns of ``launched``
    in :data:`WEAPON_CLASSES` order)."""
    cls = {c: i for i, c in enumerate(WEAPON_CLASSES)}
    return {
        "attack_drone": launched[:, cls["attack_drone"]],
        "missiles": launched[:, [cls[c] for c in MISSILE_CLASSES]].sum(axis=1),
        "cruise_missile": launched[:, cls["cruise_missile"]],
        "ballistic_missile": launched[:, cls["ballistic_missile"]],
    }


def _event_timing(
    ev: np.ndarray, ev_idx: np.ndarray, t: np.ndarray, last_before: np.ndarray, has_event
) -> dict[str, np.ndarray]:
    """Days since the last target night, where that gap stands among the closed gaps
    before, and target nights in the last 90 and 365 nights."""
    out: dict[str, np.ndarray] = {}
    days_since = np.where(has_event, t - last_before, t).astype(float)
    out["days_since_event_d"] = days_since
    if ev_idx.size >= 2:
        gap_len = np.diff(ev_idx)
        gap_end = ev_idx[1:]
        closed = gap_end[None, :] < t[:, None]
        n_closed = closed.sum(axis=1)
        le = (closed & (gap_len[None, :] <= days_since[:, None])).sum(axis=1)
        out["gap_percentile"] = np.where(n_closed > 0, le / np.maximum(n_closed, 1), np.nan)
    else:
        out["gap_percentile"] = np.full(t.size, np.nan)
    ev_cs = _cumsum0(ev.astype(float))
    out["events_90d"] = _window(ev_cs, t, 90)
    out["events_365d"] = _window(ev_cs, t, 365)
    return out


def _accumulation(
    panel: NightPanel,
    groups: dict[str, np.ndarray],
    t: np.ndarray,
    start: np.ndarray,
    production: ProductionHook | None,
) -> dict[str, np.ndarray]:
    """Accumulation since the last event: estimated production (the hook's, else a
    launch-rate proxy) minus launches, from night ``start`` to the origin."""
    n = panel.n_nights
    out: dict[str, np.ndarray] = {}
    prod = production(panel.first_night, n) if production is not None else None
    for key, g in (("missiles", "missiles"), ("attack_drones", "attack_drone")):
        cs = _cumsum0(groups[g])
        launched_since = cs[t] - cs[start]
        if prod is not None and key in prod:
            pcs = _cumsum0(np.asarray(prod[key], float)[:n])
            produced = pcs[t] - pcs[start]
        else:
            produced = launch_rate_proxy(panel, t, groups[g]) * (t - start)
        out[f"accumulation_{key}"] = produced - launched_since
    return out


def _intercept_rates(
    panel: NightPanel, groups: dict[str, np.ndarray], t: np.ndarray
) -> dict[str, np.ndarray]:
    """Share destroyed over the last 30 nights per group, and its change against the 90
    nights before."""
    destroyed = panel.destroyed
    cls = {c: i for i, c in enumerate(WEAPON_CLASSES)}
    miss_idx = [cls[c] for c in MISSILE_CLASSES]
    out: dict[str, np.ndarray] = {}
    for key, lv, dv in (
        ("attack_drone", groups["attack_drone"], destroyed[:, cls["attack_drone"]]),
        ("missiles", groups["missiles"], destroyed[:, miss_idx].sum(axis=1)),
        ("cruise_missile", groups["cruise_missile"], destroyed[:, cls["cruise_missile"]]),
        (
            "ballistic_missile",
            groups["ballistic_missile"],
            destroyed[:, cls["ballistic_missile"]],
        ),
    ):
        lcs, dcs = _cumsum0(lv), _cumsum0(dv)
        l30, d30 = _window(lcs, t, 30), _window(dcs, t, 30)
        l120, d120 = _window(lcs, t, 120), _window(dcs, t, 120)
        r30 = np.divide(d30, l30, out=np.full(t.size, np.nan), where=l30 > 0)
        lp, dp = l120 - l30, d120 - d30
        rprev = np.divide(dp, lp, out=np.full(t.size, np.nan), where=lp > 0)
        out[f"intercept_rate_{key}_30d"] = np.clip(r30, 0, 1)
        out[f"intercept_trend_{key}"] = np.clip(r30, 0, 1) - np.clip(rprev, 0, 1)
    return out


def _season_and_weather(
    panel: NightPanel, weather: pd.DataFrame | None, t: np.ndarray
) -> dict[str, np.ndarray]:
    """Heating season, the season's cosine, and the weather of the origin's night."""
    dates = panel.first_night + t.astype("timedelta64[D]")
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    wx = recent_weather(weather, panel.first_night, panel.n_nights + 1)
    return {
        "heating_season": ((doy >= HEATING_START_DOY) | (doy <= HEATING_END_DOY)).astype(float),
        "season_cos": np.cos(2 * np.pi * (doy - 15) / 365.25),
        "cloud_night_pct": wx["cloud_night_pct"][t],
        "wind_max_kmh": wx["wind_max_kmh"][t],
    }


def _salvo_size(
    groups: dict[str, np.ndarray], ev_idx: np.ndarray, t: np.ndarray
) -> dict[str, np.ndarray]:
    """Salvo size of the last target night, and the last three against the three before."""
    size = groups["missiles"] + groups["attack_drone"]
    ev_size = size[ev_idx]
    k = np.searchsorted(ev_idx, t, side="left")  # events before origin t
    csz = np.concatenate([[0.0], np.cumsum(ev_size)])
    last3 = (csz[k] - csz[np.maximum(k - 3, 0)]) / 3
    prev3 = (csz[np.maximum(k - 3, 0)] - csz[np.maximum(k - 6, 0)]) / 3
    return {
        "salvo_size_last": np.where(k >= 1, csz[k] - csz[np.maximum(k - 1, 0)], np.nan),
        "salvo_size_trend": np.where(
            (k >= 6) & (prev3 > 0), last3 / np.where(prev3 > 0, prev3, 1) - 1, np.nan
        ),
    }


def _typical_salvo(series: np.ndarray, ev_idx: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Median launches of a group on the target nights of the 365 nights before each
    origin where it was launched (all earlier target nights if none); NaN if none."""
    n = t.size
    out = np.full(n, np.nan)
    if ev_idx.size == 0:
        return out
    vals = series[ev_idx]
    before = ev_idx[None, :] < t[:, None]
    used = before & (vals[None, :] > 0)
    recent = used & (ev_idx[None, :] >= (t - TYPICAL_SALVO_WINDOW_D)[:, None])
    mask = np.where(recent.any(axis=1)[:, None], recent, used)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size:
        # the median of each row's used nights: NaN elsewhere sort last (np.nanmedian's
        # masked median, without its per-call cost: the real-time design calls this per
        # revised origin); halves of sums of whole launch counts are exact
        srt = np.sort(np.where(mask[rows], vals[None, :], np.nan), axis=1)
        k = mask[rows].sum(axis=1)
        low = np.take_along_axis(srt, ((k - 1) // 2)[:, None], 1)[:, 0]
        high = np.take_along_axis(srt, (k // 2)[:, None], 1)[:, 0]
        out[rows] = (low + high) / 2.0
    return out


def _stockpile_indicators(stockpile, panel, t, start, has_event, ev_idx, groups, out) -> dict:
    """Accumulation since the last target night in typical salvos, and nights of
    capacity at the recent tempo, from the hook's production rates and refit stocks plus
    the panel's launches (as known on each origin). ``t``: the origins wanted (the hook
    always answers for every origin 1..n of the panel)."""
    n = panel.n_nights
    if stockpile is None:
        return {c: np.full(t.size, np.nan) for c in STOCKPILE_INDICATORS + STOCK_TREND_INDICATORS}
    sp = stockpile(panel.first_night, n)
    r_all = np.asarray(sp["refit_index"], dtype=np.int64)[:n]
    first_refit = int(r_all[r_all >= 0].min()) if (r_all >= 0).any() else n + 1
    r = r_all[t - 1]
    fitted = r >= 0
    res = {}
    for g, series_name in STOCK_GROUPS.items():
        series = groups[series_name]
        prod = np.asarray(sp[f"production_{g}_per_day"], float)[:n].copy()
        # Nights before the first refit take its rate: only origins after it read them.
        ok = np.isfinite(prod)
        prod = np.where(ok, prod, prod[ok][0] if ok.any() else 0.0)
        pcs, lcs = _cumsum0(prod), _cumsum0(series)
        valid = fitted & (t >= first_refit)
        built = (pcs[t] - pcs[start]) - (lcs[t] - lcs[start])
        typical = _typical_salvo(series, ev_idx, t)
        ratio = np.divide(
            built, typical, out=np.full(t.size, np.nan), where=valid & has_event & (typical > 0)
        )
        rr = np.where(fitted, r, 0)
        stock = (
            np.asarray(sp[f"stock_{g}_at_refit"], float)[:n][t - 1]
            + (pcs[t] - pcs[rr])
            - (lcs[t] - lcs[rr])
        )
        tempo = out[f"tempo_{series_name}_30d"]
        capacity = np.where(
            tempo > 0,
            np.minimum(
                np.maximum(np.nan_to_num(stock), 0) / np.where(tempo > 0, tempo, 1.0),
                MAX_NIGHTS_OF_CAPACITY,
            ),
            MAX_NIGHTS_OF_CAPACITY,
        )
        trend = sp.get(f"p_stock_growth_{g}_90d")
        res[f"p_stock_growth_{g}_90d"] = (
            np.where(fitted, np.asarray(trend, float)[:n][t - 1], np.nan)
            if trend is not None
            else np.full(t.size, np.nan)
        )
        res[f"stock_accumulation_ratio_{g}"] = ratio
        res[f"stock_nights_of_capacity_{g}"] = np.where(
            valid & np.isfinite(stock), capacity, np.nan
        )
    return res


def outcomes(panel: NightPanel, target: Target, horizons: tuple[int, ...]) -> pd.DataFrame:
    """Outcome for origins 1..n and each horizon k: did any night of ``[t, t+k-1]`` meet
    the target (1/0), NaN where that window is not fully known in the panel."""
    ev = event_flags(panel, target).astype(float)
    n = panel.n_nights
    cs = _cumsum0(ev)
    t = np.arange(1, n + 1)
    cols = {}
    for k in horizons:
        end = t + k  # exclusive
        ok = end <= n
        s = cs[np.minimum(end, n)] - cs[np.minimum(t, n)]
        cols[k] = np.where(ok, (s > 0).astype(float), np.nan)
    idx = pd.date_range(pd.Timestamp(panel.first_night) + pd.Timedelta(days=1), periods=n)
    df = pd.DataFrame(cols, index=idx)
    df.index.name = "as_of"
    return df


def launch_totals(panel: NightPanel, horizons: tuple[int, ...]) -> dict[str, pd.DataFrame]:
    """Launches over ``[t, t+k-1]`` per origin, for attack drones, all missiles, cruise
    and ballistic missiles (NaN if not fully known)."""
    cls = {c: i for i, c in enumerate(WEAPON_CLASSES)}
    n = panel.n_nights
    series = {
        "attack_drone": panel.launched[:, cls["attack_drone"]],
        "missiles": panel.launched[:, [cls[c] for c in MISSILE_CLASSES]].sum(axis=1),
        "cruise_missile": panel.launched[:, cls["cruise_missile"]],
        "ballistic_missile": panel.launched[:, cls["ballistic_missile"]],
    }
    t = np.arange(1, n + 1)
    idx = pd.date_range(pd.Timestamp(panel.first_night) + pd.Timedelta(days=1), periods=n)
    res = {}
    for name, s in series.items():
        cs = _cumsum0(s)
        cols = {}
        for k in horizons:
            end = t + k
            cols[k] = np.where(end <= n, cs[np.minimum(end, n)] - cs[np.minimum(t, n)], np.nan)
        res[name] = pd.DataFrame(cols, index=idx)
    return res


def percentile_of_last(frame: pd.DataFrame) -> pd.Series:
    """Each indicator's last value as a percentile (0-100) of its own earlier values."""
    values = frame.to_numpy(float)
    last, hist = values[-1], values[:-1]
    out = {}
    for j, col in enumerate(frame.columns):
        h = hist[:, j]
        h = h[~np.isnan(h)]
        if np.isnan(last[j]) or h.size == 0:
            out[col] = np.nan
        else:
            out[col] = 100.0 * (np.sum(h < last[j]) + 0.5 * np.sum(h == last[j])) / h.size
    return pd.Series(out)
