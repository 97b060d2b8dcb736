"""Warning: forecast models, the rolling-origin backtest and the assessment.

Public API::

    from barrage.warning import assess, run_backtest, BacktestPlan, MODELS
"""

from barrage.warning.backtest import (
    HORIZONS_D,
    BacktestPlan,
    BacktestResult,
    ForecastWindow,
    realtime_design,
    run_backtest,
)
from barrage.warning.models import (
    BASELINES,
    DRIVER_MODEL,
    MODELS,
    PRIMARY_MODEL,
    design_matrix,
    make_model,
)
from barrage.warning.stock import StockpileFeatures

__all__ = [
    "BASELINES",
    "DRIVER_MODEL",
    "HORIZONS_D",
    "MODELS",
    "PRIMARY_MODEL",
    "BacktestPlan",
    "BacktestResult",
    "ForecastWindow",
    "StockpileFeatures",
    "design_matrix",
    "make_model",
    "realtime_design",
    "run_backtest",
]
