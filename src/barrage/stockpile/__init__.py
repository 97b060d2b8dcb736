"""Stockpiles: production and stock per weapon family from statements and launches.

Public API::

    from barrage.stockpile import (
        StockpileModel, load_statements, family_launches, stockpile_indicators,
        stockpile_indicator_series, posterior_checks, stock_figure,
    )

Layers: imports :mod:`barrage.record` only.
"""

from barrage.stockpile.checks import posterior_checks
from barrage.stockpile.families import (
    FAMILY_LABELS,
    STOCK_ESTIMABLE,
    STOCK_FAMILIES,
    family_launches,
    massive_night_dates,
)
from barrage.stockpile.figures import stock_figure
from barrage.stockpile.indicators import (
    default_as_of,
    indicators_to_json,
    stockpile_indicator_series,
    stockpile_indicators,
    stockpile_report,
)
from barrage.stockpile.model import QUANTILES, FamilyPosterior, StockpileModel
from barrage.stockpile.statements import Statement, load_statements, packaged_statements

__all__ = [
    "FAMILY_LABELS",
    "QUANTILES",
    "STOCK_ESTIMABLE",
    "STOCK_FAMILIES",
    "FamilyPosterior",
    "Statement",
    "StockpileModel",
    "default_as_of",
    "family_launches",
    "indicators_to_json",
    "load_statements",
    "massive_night_dates",
    "packaged_statements",
    "posterior_checks",
    "stock_figure",
    "stockpile_indicator_series",
    "stockpile_indicators",
    "stockpile_report",
]
