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

from barrage.errors import InputError, shown
from barrage.files import decode_utf8, read_bounded

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


MAX_WEATHER_BYTES = 16 * 2**20
"""Larger weather files are refused before reading (the shared one is 126 kB; ten years
of daily rows with fifty columns is under 2 MB)."""

WEATHER_BOUNDS = {
    "avg_night_cloudcover": (0.0, 100.0, "%"),
    "avg_precipitation": (0.0, np.inf, "mm"),
    "avg_windspeed": (0.0, np.inf, "km/h"),
}
"""Each column's physical range and unit: a value outside is a broken row, not weather."""


def load_weather(path: str | os.PathLike[str] | None) -> pd.DataFrame | None:
    """Daily weather (date index; cloud_night_pct, precipitation_mm, wind_max_kmh).

    The whole file or nothing: a bad date or value is an :class:`InputError` naming the
    line, the column and what was expected (an empty value is a missing observation)."""
    if path is None:
        return None
    path = Path(path)
    df = _read_weather_csv(path)
    missing = [c for c in ["date", *WEATHER_COLUMNS] if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    out = pd.DataFrame({"date": _checked_dates(path, df["date"])})
    for col, name in WEATHER_COLUMNS.items():
        out[name] = _checked_values(path, df[col])
    return out.groupby("date").mean()


def _read_weather_csv(path: Path) -> pd.DataFrame:
    """The file as text columns, its size bounded before it is read."""
    import io

    text = decode_utf8(path, read_bounded(path, MAX_WEATHER_BYTES, "weather file"))
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file (expected a CSV with a header row)") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: not a readable CSV ({' '.join(str(exc).split())})") from None


def _checked_dates(path: Path, dates: pd.Series) -> pd.Series:
    """ISO dates (YYYY-MM-DD); the first other names its line (the header is line 1)."""
    text = dates.str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        k = int(bad[0])
        raise InputError(
            f"{path}: line {k + 2}, date: expected a date YYYY-MM-DD, got {shown(text.iloc[k], 40)!r}"
        )
    return parsed


def _checked_values(path: Path, values: pd.Series) -> np.ndarray:
    """A column's numbers in its physical range; empty is missing (NaN)."""
    text = values.str.strip()
    num = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(float)
    low, high, unit = WEATHER_BOUNDS[str(values.name)]
    bad = np.flatnonzero(
        ((text != "").to_numpy() & np.isnan(num)) | (num < low) | (num > high) | np.isinf(num)
    )
    if len(bad):
        k = int(bad[0])
        span = f"{low:g}..{high:g}" if np.isfinite(high) else f">= {low:g}"
        raise InputError(
            f"{path}: line {k + 2}, {values.name}: expected a number {span} ({unit}), "
            f"got {shown(text.iloc[k], 40)!r}"
        )
    return num


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
