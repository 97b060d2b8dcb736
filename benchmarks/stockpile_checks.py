"""The stockpile's checks against its sources, printed as the markdown tables of
docs/stockpile.md (not a timing benchmark; kept beside them because it reads the snapshot).

Run:  .venv/bin/python benchmarks/stockpile_checks.py [--db FILE] [--samples N]

Prints: every statement against the fitted figure for its period (as of 2025-10-01), the
leave-one-statement-out coverage, the production-to-launch ratios behind the tempo
anchor's sd, the 90-day stock trend per family and for all missiles, the annual launch
totals and salvo check, and the anchor sensitivity table at the last three massive nights.
About two minutes on two cores.
"""

from __future__ import annotations

import math
import time

import numpy as np

from bench_stockpile import stockpile_inputs  # the scripts' shared set-up (same folder)

AS_OF = "2025-10-01"
SETTINGS = {"anchor off": None, "as shipped (sd 1.0)": 1.0, "twice as strong (sd 0.5)": 0.5}


def n(v: float) -> str:
    """A figure for a table: thousands separators, no "-0", "inf" as "-"."""
    if not math.isfinite(v):
        return "-"
    return f"{round(v) + 0:,}" if abs(v) >= 10 else f"{round(v, 1) + 0:g}"


def main() -> None:
    import pandas as pd

    from barrage.stockpile import (
        StockpileModel,
        posterior_checks,
    )
    from barrage.stockpile.checks import (
        loo_coverage,
        sensitivity_table,
        statement_table,
        stock_trend,
        tempo_ratios,
    )

    args, nt, launches, massive, statements = stockpile_inputs("checks")

    t0 = time.perf_counter()
    model = StockpileModel(n_samples=args.samples).fit(
        launches, statements, as_of=AS_OF, massive_nights=massive
    )
    print(f"fit as of {AS_OF}: {time.perf_counter() - t0:.1f} s\n")

    print("## Statements against the fit\n")
    print("| statement | family | what | period | stated | allowed | fit median [90%] | "
          "verdict |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    tab = statement_table(model, statements, include_later=True)
    for r in tab.itertuples():
        stated = n(r.stated_low) if r.stated_low == r.stated_high else (
            f"{n(r.stated_low)}-{n(r.stated_high)}")  # fmt: skip
        flags = ("" if r.used else ", not fitted") + (
            ", stated later" if r.stated_after_fit else ""
        )
        print(f"| {r.statement_id} | {r.family} | {r.metric} ({r.kind}{flags}) | {r.period} | "
              f"{stated} | {n(r.allowed_low)}-{n(r.allowed_high)} | {n(r.fit_p50)} "
              f"[{n(r.fit_p05)}, {n(r.fit_p95)}] | {r.verdict} |")  # fmt: skip
    fitted = tab[tab.used & ~tab.stated_after_fit]
    print(f"\nfitted statements reproduced: {(fitted.verdict == 'reproduced').sum()} of "
          f"{len(fitted)}; all rows: {(tab.verdict == 'reproduced').sum()} of {len(tab)}\n")  # fmt: skip

    t0 = time.perf_counter()
    loo = loo_coverage(launches, statements, as_of=AS_OF, massive_nights=massive,
                       n_samples=max(args.samples // 2, 500))  # fmt: skip
    print(f"## Leave one statement out ({time.perf_counter() - t0:.0f} s)\n")
    print("| statement | allowed | refit without it: median [90%] | 90% predictive | inside |"
          "\n|---|---|---|---|---|")  # fmt: skip
    for r in loo.itertuples():
        print(f"| {r.statement_id} | {n(r.allowed_low)}-{n(r.allowed_high)} | {n(r.fit_p50)} "
              f"[{n(r.fit_p05)}, {n(r.fit_p95)}] | [{n(r.predictive_p05)}, "
              f"{n(r.predictive_p95)}] | {'yes' if r.inside_90_predictive else 'no'} |")  # fmt: skip
    print(f"\ncoverage: 90% predictive interval {loo.inside_90_predictive.mean():.0%} "
          f"({loo.inside_90_predictive.sum()} of {len(loo)}); 90% interval of the fitted "
          f"quantity alone {loo.inside_90.mean():.0%}\n")  # fmt: skip

    print("## Production over launches in each statement's period\n")
    rat = tempo_ratios(launches, statements)
    print("| statement | family | kind | period | stated / month | launched / month | ratio |"
          "\n|---|---|---|---|---|---|---|")  # fmt: skip
    for r in rat.itertuples():
        print(
            f"| {r.statement_id} | {r.family} | {r.kind} | {r.period} | "
            f"{n(r.stated_per_month)} | {n(r.launched_per_month)} | {r.ratio:.2f} |"
        )
    est = rat[rat.kind == "estimate"]
    print(f"\nlog ratio over the {len(est)} estimates: mean {np.log(est.ratio).mean():.2f}, "
          f"sd {np.log(est.ratio).std(ddof=1):.2f}; all {len(rat)}: range "
          f"{rat.ratio.min():.2f}-{rat.ratio.max():.2f}\n")  # fmt: skip

    print(f"## Stock trend over the 90 days before {AS_OF}\n")
    print("| family | trend | P(growth) | change (median [90%]) | produced (median) | "
          "launched |\n|---|---|---|---|---|---|")  # fmt: skip
    for f, t in stock_trend(model).items():
        c = t["change"]
        print(f"| {f} | {t['trend']} | {t['p_growth']:.2f} | {n(c['p50'])} [{n(c['p05'])}, "
              f"{n(c['p95'])}] | {n(t['produced_p50'])} | {n(t['launched'])} |")  # fmt: skip

    print("\n## Posterior checks\n")
    for f, c in posterior_checks(model).items():
        if not c["stock_estimable"]:
            continue
        big = c["largest_night"]
        ann = "; ".join(
            f"{y}: launched {n(a['record_launched'])} (books err {a['model_launched_max_abs_error']:.1e}), "
            f"produced {n(a['production']['p50'])} [{n(a['production']['p05'])}, "
            f"{n(a['production']['p95'])}]"
            for y, a in c["annual"].items()
        )  # fmt: skip
        print(f"- {f}: salvo_ok {c['salvo_ok']}, largest {big['night']} ({n(big['launched'])}):"
              f" stock before p05 {n(big['stock_before_p05'])}, median "
              f"{n(big['stock_before_p50'])}; {ann}")  # fmt: skip

    nights = massive[massive < pd.Timestamp(AS_OF)][-3:]
    t0 = time.perf_counter()
    sens = sensitivity_table(launches, statements, nights, massive_nights=massive,
                             settings=SETTINGS, n_samples=args.samples)  # fmt: skip
    print(f"\n## Sensitivity to the tempo anchor ({time.perf_counter() - t0:.0f} s)\n")
    print("| massive night | family | setting | production / month | stock before | "
          "built since previous massive |\n|---|---|---|---|---|---|")  # fmt: skip
    for (night, fam), g in sens.groupby(["night", "family"], sort=False):
        for r in g.itertuples():
            print(f"| {night} | {fam} | {r.setting} | {n(r.production_p50)} "
                  f"[{n(r.production_p05)}, {n(r.production_p95)}] | {n(r.stock_p50)} "
                  f"[{n(r.stock_p05)}, {n(r.stock_p95)}] | {n(r.built_p50)} "
                  f"[{n(r.built_p05)}, {n(r.built_p95)}] |")  # fmt: skip


if __name__ == "__main__":
    main()
