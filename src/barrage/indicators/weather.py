"""Weather at the attack dates (Open-Meteo / Copernicus ERA5), read from the shared file.

The file holds only dates *with* attacks, so whether a date is present leaks whether an
attack happened: the indicators never use a date's own row (or its absence) for that
date. They use the mean of the nights observed in the week before the forecast date
(past, known) as a stand-in for a weather forecast, and say so.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from barrage.errors import InputError

WEATHER_COLUMNS = {
    "avg_night_cloudcover": "cloud_night_pct",
    "avg_precipitation": "precipitation_mm",
    "avg_windspeed": "wind_max_kmh",
}
WEATHER_FILE = Path("weather") / "ukraine_weather_by_date.csv"


def default_weather_path() -> Path | None:
    """``$BARRAGE_WEATHER``, else the shared data folder beside the repo, if present."""
    env = os.environ.get("BARRAGE_WEATHER")
    if env:
        return Path(env)
    shared = os.environ.get("BARRAGE_SHARED_DATA")
    roots = [Path(shared)] if shared else []
    roots.append(Path(__file__).resolve().parents[4] / "shared" / "data")
    roots.append(Path.cwd() / "data")
    for root in roots:
        if (root / WEATHER_FILE).is_file():
            return root / WEATHER_FILE
    return None


def load_weather(path: str | os.PathLike[str] | None) -> pd.DataFrame | None:
    """Daily weather (date index; cloud_night_pct, precipitation_mm, wind_max_kmh)."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weather file not found")
    df = pd.read_csv(path)
    missing = [c for c in ["date", *WEATHER_COLUMNS] if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    out = df[["date", *WEATHER_COLUMNS]].rename(columns=WEATHER_COLUMNS)
    out["date"] = pd.to_datetime(out["date"], errors="coerce")
    out = out.dropna(subset=["date"]).groupby("date").mean()
    return out


def recent_weather(
    weather: pd.DataFrame | None, first_night: np.datetime64, n_origins: int, window_d: int = 7
) -> dict[str, np.ndarray]:
    """For origins 0..n-1 (days from ``first_night``): mean of each weather column over the
    observed dates in ``[origin - window_d, origin - 1]``; NaN where none."""
    out: dict[str, np.ndarray] = {}
    if weather is None:
        return {c: np.full(n_origins, np.nan) for c in WEATHER_COLUMNS.values()}
    days = (weather.index.to_numpy("datetime64[D]") - first_night).astype(np.int64)
    keep = (days >= 0) & (days < n_origins)
    for col in WEATHER_COLUMNS.values():
        v = weather[col].to_numpy(float)[keep]
        d = days[keep]
        ok = ~np.isnan(v)
        s = np.bincount(d[ok], v[ok], n_origins)
        c = np.bincount(d[ok], None, n_origins).astype(float)
        cs, cc = np.concatenate([[0], np.cumsum(s)]), np.concatenate([[0], np.cumsum(c)])
        t = np.arange(n_origins)
        lo = np.maximum(t - window_d, 0)
        num, den = cs[t] - cs[lo], cc[t] - cc[lo]
        out[col] = np.divide(num, den, out=np.full(n_origins, np.nan), where=den > 0)
    return out
