"""Scores for probability forecasts, a registry of metrics, and block-bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

#: The period of origins whose window closes after the snapshot (the prospective test).
PROSPECTIVE_PERIOD = "after_snapshot"
#: The model skill is measured against.
REFERENCE_MODEL = "climatology"


def forecast_table(forecasts: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """One horizon's forecasts as (origins x models probabilities, outcome per origin)."""
    wide = forecasts.pivot(index="as_of", columns="model", values="p")
    y = forecasts.drop_duplicates("as_of").set_index("as_of")["outcome"].reindex(wide.index)
    return wide, y


_EPS = 1e-6


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def log_score(p: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood (lower is better)."""
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def roc_auc(p: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted half (NaN if one class is absent)."""
    pos, neg = y == 1, y == 0
    n1, n0 = pos.sum(), neg.sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(p.size)
    sp = p[order]
    # average ranks for ties
    _, first, counts = np.unique(sp, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def average_precision(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise, as scikit-learn)."""
    n1 = y.sum()
    if n1 == 0:
        return float("nan")
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    # group ties: take the last index of each distinct threshold
    last = np.r_[np.flatnonzero(np.diff(ps) != 0), ps.size - 1]
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n1
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def expected_calibration_error(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """Weighted mean |observed rate - mean forecast| over equal-width probability bins."""
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    cnt = np.bincount(b, None, n_bins)
    sp = np.bincount(b, p, n_bins)
    sy = np.bincount(b, y, n_bins)
    ok = cnt > 0
    return float(np.sum(np.abs(sy[ok] - sp[ok])) / p.size)


def reliability_table(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> dict[str, list]:
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    cnt = np.bincount(b, None, n_bins)
    sp = np.bincount(b, p, n_bins)
    sy = np.bincount(b, y, n_bins)
    ok = cnt > 0
    return {
        "forecast": (sp[ok] / cnt[ok]).tolist(),
        "observed": (sy[ok] / cnt[ok]).tolist(),
        "count": cnt[ok].astype(int).tolist(),
    }


#: Metric registry: name -> (function(p, y), higher_is_better).
METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]] = {
    "brier": (brier, False),
    "log_score": (log_score, False),
    "roc_auc": (roc_auc, True),
    "average_precision": (average_precision, True),
    "ece": (expected_calibration_error, False),
}


def block_bootstrap_indices(n: int, block_len: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """Moving-block bootstrap: (n_boot, n) indices built from random blocks of
    consecutive origins (keeps the serial dependence of overlapping windows)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    block_len = max(1, min(block_len, n))
    n_blocks = int(np.ceil(n / block_len))
    starts = rng.integers(0, n - block_len + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block_len)[None, None, :]).reshape(n_boot, -1)
    return idx[:, :n]


def score_with_intervals(
    p: np.ndarray,
    y: np.ndarray,
    p_ref: np.ndarray,
    *,
    block_len: int = 28,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.9,
) -> dict[str, float]:
    """Every metric plus the Brier skill vs ``p_ref`` (climatology) and the Brier
    difference to it, each with a block-bootstrap interval (``<name>_lo``/``_hi``)."""
    out: dict[str, float] = {}
    idx = block_bootstrap_indices(p.size, block_len, n_boot, seed)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2

    def all_metrics(pp, yy, rr):
        res = {name: fn(pp, yy) for name, (fn, _) in METRICS.items()}
        b_ref = brier(rr, yy)
        res["brier_skill"] = 1 - res["brier"] / b_ref if b_ref > 0 else float("nan")
        res["brier_minus_ref"] = res["brier"] - b_ref
        return res

    point = all_metrics(p, y, p_ref)
    boots = [all_metrics(p[i], y[i], p_ref[i]) for i in idx]
    for name, value in point.items():
        vals = np.array([b[name] for b in boots], float)
        vals = vals[~np.isnan(vals)]
        out[name] = value
        out[f"{name}_lo"] = float(np.quantile(vals, lo_q)) if vals.size else float("nan")
        out[f"{name}_hi"] = float(np.quantile(vals, hi_q)) if vals.size else float("nan")
    return out


def warning_skill(
    origins: np.ndarray,
    p: np.ndarray,
    y: np.ndarray,
    event_nights: np.ndarray,
    horizon_days: int,
    threshold: float,
) -> dict[str, float]:
    """Hit rate, false-alarm ratio and mean lead time of warnings ``p >= threshold``.

    A target night e counts as hit if some origin in ``[e - k + 1, e]`` warned; its lead
    time is ``e - `` the earliest such origin (days). False-alarm ratio: warnings whose
    k-day window held no target night, over all warnings. ``origins`` and
    ``event_nights`` are integer days.
    """
    warn = p >= threshold
    n_warn = int(warn.sum())
    far = float(np.sum(warn & (y == 0)) / n_warn) if n_warn else float("nan")
    ev = event_nights[(event_nights >= origins.min()) & (event_nights <= origins.max())]
    warned = origins[warn]
    leads = []
    for e in ev:  # few dozen events
        cover = warned[(warned <= e) & (warned > e - horizon_days)]
        if cover.size:
            leads.append(e - cover.min())
    hit = len(leads) / ev.size if ev.size else float("nan")
    return {
        "threshold": threshold,
        "warnings": n_warn,
        "events": int(ev.size),
        "hit_rate": hit,
        "false_alarm_ratio": far,
        "mean_lead_time_d": float(np.mean(leads)) if leads else float("nan"),
    }
