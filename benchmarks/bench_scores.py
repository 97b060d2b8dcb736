"""The backtest summary's bootstrap: every resample scored at once
(:func:`barrage.warning.scores.score_with_intervals`) against a call of each metric
function per resample, the loop it replaced (the reference, written out below), on one
year of daily forecasts; the intervals are compared bit for bit.

    python benchmarks/bench_scores.py [--origins 363] [--repeat 20]

A backtest summary scores every (model, horizon, period) cell this way: 238 cells for
``barrage run``'s backtest of one target.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from barrage.warning.scores import METRICS, block_bootstrap_indices, brier, score_with_intervals


def reference(p, y, p_ref, *, block_len=28, n_boot=200, seed=0, level=0.9) -> dict:
    """The per-resample loop: each metric function called on each resample."""
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
    out = {}
    for name, value in point.items():
        vals = np.array([b[name] for b in boots], float)
        vals = vals[~np.isnan(vals)]
        out[name] = value
        out[f"{name}_lo"] = float(np.quantile(vals, lo_q)) if vals.size else float("nan")
        out[f"{name}_hi"] = float(np.quantile(vals, hi_q)) if vals.size else float("nan")
    return out


def _best_s(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--origins", type=int, default=363)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    y = (rng.random(args.origins) < 0.2).astype(float)
    p = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.2, args.origins), 0, 1).round(3)
    p_ref = np.full(args.origins, y.mean())
    ref_s = _best_s(lambda: reference(p, y, p_ref), args.repeat)
    new_s = _best_s(lambda: score_with_intervals(p, y, p_ref), args.repeat)
    want, got = reference(p, y, p_ref), score_with_intervals(p, y, p_ref)
    same = {k: float(v).hex() for k, v in want.items()} == {
        k: float(v).hex() for k, v in got.items()
    }
    print(f"reference (a metric call per resample): {ref_s * 1e3:6.1f} ms a cell")
    print(f"all resamples at once:                  {new_s * 1e3:6.1f} ms a cell")
    print(f"ratio: {ref_s / new_s:.1f}x; identical intervals: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
