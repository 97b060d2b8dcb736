"""Weather on visual layers: the night's cloud and wind against the drone kill share.

Mobile fire groups and helicopters find drones by eye, searchlight and sound, so cloud
and wind should cost them kills. :func:`fit_weather_effect` measures that in the record:
a binomial GLM of the night's drone kill share (destroyed of those not lost) on the
night's mean cloud cover (20:00-06:00 Kyiv, average of Kyiv, Kharkiv, Odesa and
Zaporizhzhia) and the day's mean maximum wind, with a level per half-year (so seasons of
a changing war are not read as weather) and a quasi-binomial scale (nights vary more
than a binomial). The defaults of :class:`barrage.salvo.scenario.Weather` are this fit on
the nights before 2025-04-01; the nights after it are the check (docs/salvo.md).

The effect is the whole defence's: the record does not say which layer killed. Applying
it to the visual layers alone is an assumption (if they make a share of the kills the
per-layer effect is larger), stated, not measured.

Weather data: Open-Meteo / Copernicus ERA5 (CC BY 4.0), ``ukraine_weather_by_date.csv``;
a night is matched to the weather row of its own date (the evening the strike started).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.salvo.calibration import by_night_class

WEATHER_COLUMNS = {
    "date": "night",
    "avg_night_cloudcover": "cloud_pct",
    "avg_windspeed": "wind_kmh",
}


def load_night_weather(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``night, cloud_pct, wind_kmh`` from the weather file (one row a date)."""
    try:
        df = pd.read_csv(path, usecols=list(WEATHER_COLUMNS))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: cannot read the weather file, expected columns "
            f"{', '.join(WEATHER_COLUMNS)} ({exc})"
        ) from None
    df = df.rename(columns=WEATHER_COLUMNS)
    df["night"] = pd.to_datetime(df["night"], errors="coerce")
    return df.dropna().reset_index(drop=True)


def weather_for_night(weather: pd.DataFrame, night: str) -> dict[str, float]:
    """The ``weather`` block of a scenario for one night (cloud and wind only)."""
    row = weather[weather["night"] == pd.Timestamp(night)]
    if row.empty:
        raise InputError(f"weather: no row for {night}; the file holds attack dates only")
    return {
        "cloud_pct": float(row["cloud_pct"].iloc[0]),
        "wind_kmh": float(row["wind_kmh"].iloc[0]),
    }


def fit_weather_effect(
    night_totals: pd.DataFrame, weather: pd.DataFrame, *, start: str, end: str
) -> dict[str, float]:
    """Logit change of the drone kill share per 100% cloud and per 10 km/h of wind,
    with standard errors, on the nights in ``[start, end)``."""
    import statsmodels.api as sm

    g = by_night_class(night_totals)
    g = g[(g["weapon_class"] == "attack_drone") & (g["engaged"] > 0)].dropna(subset=["period"])
    g = g[(g["night"] >= pd.Timestamp(start)) & (g["night"] < pd.Timestamp(end))]
    g = g.merge(weather, on="night", how="inner")
    if len(g) < 30:
        raise InputError(f"weather fit: {len(g)} drone nights with weather, expected >= 30")
    x = pd.get_dummies(g["period"], drop_first=True, dtype=float)
    x["cloud_100pct"] = g["cloud_pct"].to_numpy() / 100
    x["wind_10kmh"] = g["wind_kmh"].to_numpy() / 10
    y = np.column_stack([g["destroyed"], g["engaged"] - g["destroyed"]])
    fit = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial()).fit(scale="X2")
    return {
        "nights": int(len(g)),
        "logit_per_100pct_cloud": float(fit.params["cloud_100pct"]),
        "se_cloud": float(fit.bse["cloud_100pct"]),
        "logit_per_10kmh_wind": float(fit.params["wind_10kmh"]),
        "se_wind": float(fit.bse["wind_10kmh"]),
    }
