"""Posterior checks: a stock that could not have supplied an observed salvo is a model error.

- ``salvo``: after every launch night before the as-of date, every draw's stock is >= 0,
  i.e. the stock before the night covered its salvo; reported for the family's largest
  night (stock before it, 5th percentile, against the salvo).
- ``annual``: the model's books reproduce the record's launches per year: production in
  the year minus the stock's change equals the launches the record holds for that year,
  draw by draw (and the year's production, with intervals, is shown beside them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from barrage.stockpile.model import QUANTILES

if TYPE_CHECKING:
    from barrage.stockpile.model import StockpileModel


def posterior_checks(model: StockpileModel, years: tuple[int, ...] = (2024, 2025)) -> dict:
    """Per family: the salvo check and the annual launch-total check (see module doc)."""
    import pandas as pd

    out: dict[str, dict] = {}
    for f, post in model.posteriors_.items():
        if post.stock_q is None:
            out[f] = {"stock_estimable": False}
            continue
        res: dict = {"stock_estimable": True}
        if len(post.night_days):
            k = int(np.argmax(post.night_launched))
            res["min_stock_after_any_night"] = float(post.night_stock_min.min())
            res["largest_night"] = {
                "night": post.night_days[k].date().isoformat(),
                "launched": float(post.night_launched[k]),
                "stock_before_p05": float(post.night_stock_before_q[k, 0]),
                "stock_before_p50": float(post.night_stock_before_q[k, 2]),
            }
            res["salvo_ok"] = bool(
                res["min_stock_after_any_night"] >= 0
                and res["largest_night"]["stock_before_p05"] >= res["largest_night"]["launched"]
            )
        annual = {}
        me = post.month_ends
        for y in years:
            end_sel = np.flatnonzero((me.year == y) & (me < post.as_of))
            start_sel = np.flatnonzero(me == pd.Timestamp(f"{y - 1}-12-31"))
            if len(end_sel) == 0 or len(start_sel) == 0:
                continue
            e, s = end_sel[-1], start_sel[0]
            produced = post.month_end_cum_production[:, e] - post.month_end_cum_production[:, s]
            implied = produced - (post.month_end_stock[:, e] - post.month_end_stock[:, s])
            window = post.launches[(post.launches.index > me[s]) & (post.launches.index <= me[e])]
            record = float(window.sum())
            annual[str(y)] = {
                "through": me[e].date().isoformat(),
                "record_launched": record,
                "model_launched_p50": float(np.median(implied)),
                "model_launched_max_abs_error": float(np.abs(implied - record).max()),
                "production": dict(
                    zip(
                        ("p05", "p25", "p50", "p75", "p95"),
                        np.quantile(produced, QUANTILES).tolist(),
                        strict=True,
                    )
                ),  # fmt: skip
                "production_to_launches_p50": float(np.median(produced) / record)
                if record > 0
                else None,
            }
        res["annual"] = annual
        out[f] = res
    return out
