"""Scores for probability forecasts, a registry of metrics, and block-bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

#: The period of origins whose window closes after the snapshot (the prospective test).
PROSPECTIVE_PERIOD = "after_snapshot"


def registered_period(months: int) -> str:
    """The name of a registered evaluation window: the last ``months`` of the snapshot."""
    return f"registered_last_{months}m"


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
    order = np.argsort(-p, kind="mergesort")
    return _average_precision_sorted(p[order], y[order])


def _average_precision_sorted(ps: np.ndarray, ys: np.ndarray) -> float:
    """:func:`average_precision` of forecasts already sorted from the highest."""
    n1 = ys.sum()
    if n1 == 0:
        return float("nan")
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
    point = {name: np.array([fn(p, y)]) for name, (fn, _) in METRICS.items()}
    point = _with_skill(point, np.array([brier(p_ref, y)]))
    boots = resampled_metrics(p[idx], y[idx], p_ref[idx])
    for name, value in point.items():
        vals = boots[name]
        vals = vals[~np.isnan(vals)]
        out[name] = float(value[0])
        out[f"{name}_lo"] = float(np.quantile(vals, lo_q)) if vals.size else float("nan")
        out[f"{name}_hi"] = float(np.quantile(vals, hi_q)) if vals.size else float("nan")
    return out


def _with_skill(res: dict[str, np.ndarray], b_ref: np.ndarray) -> dict[str, np.ndarray]:
    """The metrics with the Brier skill against ``b_ref`` and the Brier difference to it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        skill = np.where(b_ref > 0, 1 - res["brier"] / b_ref, np.nan)
    return {**res, "brier_skill": skill, "brier_minus_ref": res["brier"] - b_ref}


def resampled_metrics(P: np.ndarray, Y: np.ndarray, R: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric of :data:`METRICS` (and the Brier skill and difference against the
    reference ``R``) for every row of the (resamples, origins) arrays: the numbers the
    metric functions give row by row, bit for bit, without a Python call per resample
    per metric (the bootstrap of a backtest summary makes tens of thousands)."""
    Pc = np.clip(P, _EPS, 1 - _EPS)
    # AUC and average precision read only the sorted values and which forecasts tie,
    # never the order within a tie: one unstable sort serves both
    order = np.argsort(P, axis=1)
    res = {
        "brier": np.mean((P - Y) ** 2, axis=1),
        "log_score": -np.mean(Y * np.log(Pc) + (1 - Y) * np.log(1 - Pc), axis=1),
        "roc_auc": _roc_auc_rows(P, Y, order),
    }
    res["average_precision"] = _average_precision_rows(P, Y, order[:, ::-1])
    res["ece"] = _calibration_error_rows(P, Y)
    res = {name: res[name] for name in METRICS}
    return _with_skill(res, np.mean((R - Y) ** 2, axis=1))


def _row_sums(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``np.sum(values[i][mask[i]])`` for each row i, bit for bit: the rows with as many
    selected entries are summed as one (rows, k) block, which numpy adds row by row in
    the same order as each row alone."""
    out = np.empty(values.shape[0])
    counts = mask.sum(axis=1)
    for k in np.unique(counts):
        rows = np.flatnonzero(counts == k)
        out[rows] = values[rows][mask[rows]].reshape(rows.size, k).sum(axis=1)
    return out


def _average_precision_rows(P: np.ndarray, Y: np.ndarray, order: np.ndarray) -> np.ndarray:
    """:func:`average_precision` of each row (the same steps, on every row at once);
    ``order``: each row's forecasts from the highest (ties in any order)."""
    ps, ys = np.take_along_axis(P, order, 1), np.take_along_axis(Y, order, 1)
    cols = np.broadcast_to(np.arange(P.shape[1]), P.shape)
    last = np.ones(P.shape, bool)  # the last index of each distinct threshold
    last[:, :-1] = ps[:, 1:] != ps[:, :-1]
    first = np.ones(P.shape, bool)
    first[:, 1:] = last[:, :-1]
    tp = np.cumsum(ys, axis=1)
    start = np.maximum.accumulate(np.where(first, cols, 0), axis=1)
    tp_before = np.where(start > 0, np.take_along_axis(tp, np.maximum(start - 1, 0), 1), 0.0)
    n1 = ys.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / (tp + ((cols + 1) - tp))
        recall, recall_before = tp / n1[:, None], tp_before / n1[:, None]
        terms = np.where(start > 0, recall - recall_before, recall) * precision
    return np.where(n1 == 0, np.nan, _row_sums(terms, last))


def _calibration_error_rows(P: np.ndarray, Y: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """:func:`expected_calibration_error` of each row (one bincount for all rows)."""
    b = np.minimum((P * n_bins).astype(int), n_bins - 1)
    flat = (b + n_bins * np.arange(P.shape[0])[:, None]).ravel()
    size = P.shape[0] * n_bins
    cnt = np.bincount(flat, None, size).reshape(-1, n_bins)
    sp = np.bincount(flat, P.ravel(), size).reshape(-1, n_bins)
    sy = np.bincount(flat, Y.ravel(), size).reshape(-1, n_bins)
    return _row_sums(np.abs(sy - sp), cnt > 0) / P.shape[1]


def _roc_auc_rows(P: np.ndarray, Y: np.ndarray, order: np.ndarray) -> np.ndarray:
    """:func:`roc_auc` of each row: tied forecasts share their average rank (1-based);
    ``order``: each row's forecasts from the lowest (ties in any order)."""
    pos = Y == 1
    n1, n0 = pos.sum(axis=1), (Y == 0).sum(axis=1)
    sp = np.take_along_axis(P, order, 1)
    cols = np.broadcast_to(np.arange(P.shape[1]), P.shape)
    starts = np.ones(P.shape, bool)
    starts[:, 1:] = sp[:, 1:] != sp[:, :-1]
    ends = np.ones(P.shape, bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, cols, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, cols, P.shape[1])[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(P.shape)
    np.put_along_axis(ranks, order, first + (last - first) / 2.0 + 1, axis=1)
    # sums of half-integers far below 2**52: exact in any order
    rank_sum = np.where(pos, ranks, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)
    return np.where((n1 == 0) | (n0 == 0), np.nan, auc)


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
