"""Indicators of an coming massive strike, computable as of any date with no look-ahead.

Public API::

    from barrage.indicators import KnownRecord, indicator_frame, resolve_target
"""

from barrage.indicators.features import (
    INDICATORS,
    NO_HOOKS,
    STOCK_GROUPS,
    STOCK_TREND_INDICATORS,
    STOCKPILE_INDICATORS,
    Hooks,
    Indicator,
    StockpileHook,
    event_flags,
    indicator_frame,
    indicator_values,
    launch_totals,
    outcomes,
    percentile_of_last,
)
from barrage.indicators.panel import KnownRecord, NightPanel, to_day
from barrage.indicators.targets import BUILTIN_TARGETS, DEFAULT_TARGET, Target, resolve_target
from barrage.indicators.weather import default_weather_path, load_weather

__all__ = [
    "BUILTIN_TARGETS",
    "DEFAULT_TARGET",
    "INDICATORS",
    "NO_HOOKS",
    "STOCK_TREND_INDICATORS",
    "STOCKPILE_INDICATORS",
    "STOCK_GROUPS",
    "StockpileHook",
    "Hooks",
    "Indicator",
    "KnownRecord",
    "NightPanel",
    "Target",
    "default_weather_path",
    "event_flags",
    "indicator_frame",
    "indicator_values",
    "launch_totals",
    "load_weather",
    "outcomes",
    "percentile_of_last",
    "resolve_target",
    "to_day",
]
