"""Benchmark: the stockpile fit over the whole snapshot, and its vectorised target.

Run:  .venv/bin/python benchmarks/bench_stockpile.py [--db FILE]

Prints (1) the wall time of the full fit (all families, as of the day after the last
night, default 2,000 draws; the issue asks for under 30 s) and (2) the ratio of a naive
reference to the vectorised code on the same work: the stock path and the
non-negativity check of 2,000 draws of the Kh-101 family, computed with a per-draw,
per-day Python loop (the reference) against the numpy version the model uses.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def naive_min_stock(theta, log_s0, knots, day0, launched):
    """Reference: one draw at a time, one day at a time (what the vectorised code replaces)."""
    out = []
    for i in range(theta.shape[0]):
        stock, lowest = math.exp(log_s0[i]), math.inf
        for d in range(len(launched)):
            t = day0 + d + 0.5
            j = min(max(int(np.searchsorted(knots, t, side="right")) - 1, 0), len(knots) - 2)
            f = (t - knots[j]) / (knots[j + 1] - knots[j])
            stock += math.exp((1 - f) * theta[i, j] + f * theta[i, j + 1]) / 30.4375
            stock -= launched[d]
            lowest = min(lowest, stock)
        out.append(lowest)
    return np.array(out)


def vector_min_stock(theta, log_s0, knots, day0, launched):
    from barrage.stockpile.model import cumulative_production, interp_weights

    w = interp_weights(day0 + np.arange(len(launched)) + 0.5, knots)
    stock = np.exp(log_s0)[:, None] + cumulative_production(theta, w) - np.cumsum(launched)
    return stock.min(axis=1)


def stockpile_inputs(name: str, flags: tuple[tuple[str, str], ...] = ()):
    """The scripts' shared set-up: ``--db`` (else the shared record ingested into a
    temporary store), ``--samples`` and the script's own on/off ``flags`` ((flag, help)
    pairs); the night totals, family launches, massive nights and statements."""
    from barrage.record import ingest_record, load_night_totals
    from barrage.stockpile import family_launches, load_statements, massive_night_dates

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--samples", type=int, default=2000)
    for flag, text in flags:
        ap.add_argument(flag, action="store_true", help=text)
    args = ap.parse_args()
    db = args.db
    if db is None:
        db = Path(tempfile.mkdtemp()) / f"{name}.duckdb"
        ingest_record(DATA / "attack-record" / "missile_attacks_daily.csv", db)
    nt = load_night_totals(db)
    return args, nt, family_launches(nt), massive_night_dates(nt), load_statements()


def main() -> None:
    import pandas as pd

    from barrage.stockpile import (
        StockpileModel,
    )

    args, nt, launches, massive, statements = stockpile_inputs("bench")
    as_of = pd.Timestamp(nt["night"].max()) + pd.Timedelta(days=1)

    t0 = time.perf_counter()
    model = StockpileModel(n_samples=args.samples).fit(
        launches, statements, as_of=as_of, massive_nights=massive
    )
    fit_s = time.perf_counter() - t0
    ess = {f: round(p.ess) for f, p in model.posteriors_.items()}
    print(f"full fit, {len(model.posteriors_)} families, {args.samples} draws, as of "
          f"{as_of.date()}: {fit_s:.2f} s (limit 30 s); effective sample sizes {ess}")  # fmt: skip

    rng = np.random.default_rng(np.random.SeedSequence(0))
    launched = launches["kh101"].to_numpy()
    day0 = float((launches.index[0] - pd.Timestamp("1970-01-01")).days)
    knots = day0 + np.arange(0, len(launched) + 120, 91.0)
    n = 2000
    theta = math.log(60) + 0.3 * rng.standard_normal((n, len(knots)))
    log_s0 = math.log(300) + rng.standard_normal(n)
    t0 = time.perf_counter()
    fast = vector_min_stock(theta, log_s0, knots, day0, launched)
    fast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = naive_min_stock(theta[:200], log_s0[:200], knots, day0, launched)
    slow_s = (time.perf_counter() - t0) * n / 200  # 200 draws timed, scaled to n
    assert np.allclose(slow, fast[:200], rtol=1e-9, atol=1e-6)
    print(f"stock path + constraint, {n} draws x {len(launched)} days: vectorised "
          f"{fast_s * 1e3:.1f} ms, naive per-draw Python loop {slow_s:.2f} s (timed on 200 "
          f"draws, scaled): ratio {slow_s / fast_s:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
