"""The stockpile's checks against its sources, printed as the markdown tables of
docs/stockpile.md (not a timing benchmark; kept beside them because it reads the snapshot).

Run:  .venv/bin/python benchmarks/stockpile_checks.py [--db FILE] [--samples N]
      [--evidence] [--nested]

Prints: every statement against the fitted figure for its period (as of 2025-10-01), the
leave-one-statement-out coverage, the production-to-launch ratios behind the tempo
anchor's sd, the 90-day stock trend per family and for all missiles, the annual launch
totals and salvo check, and the anchor sensitivity table at the last three massive nights.
About two minutes on two cores. ``--evidence``: also the evidence of every cell of the
step sd x source sd grid as of 2025-10-01 and the cell the rule picks (about two minutes
more). ``--nested``: the leave-one-out re-chooses the pair inside each fold without the
held-out statements (20 refits a fold: tens of minutes).
"""

from __future__ import annotations

import math
import time

import numpy as np

from bench_stockpile import stockpile_inputs  # the scripts' shared set-up (same folder)

AS_OF = "2025-10-01"
ISK_FLOOR = "iskm-2024-rusi-plus-kn23"
HUR_CAPACITY = "missiles-2025-06-hur-capacity"
FLAGS = (
    ("--evidence", "print the evidence of every grid cell and the chosen pair"),
    ("--nested", "leave-one-out re-chooses step sd and source sd in each fold"),
)
SETTINGS = {"anchor off": None, "as shipped (sd 1.0)": 1.0, "twice as strong (sd 0.5)": 0.5}


def n(v: float) -> str:
    """A figure for a table: thousands separators, no "-0", "inf" as "-"."""
    if not math.isfinite(v):
        return "-"
    return f"{round(v) + 0:,}" if abs(v) >= 10 else f"{round(v, 1) + 0:g}"


def p_allowed(r) -> str:
    """P(the fitted quantity in the allowed range); "-" for a point (probability 0)."""
    return "-" if r.allowed_low == r.allowed_high else f"{r.p_allowed:.2f}"


def print_evidence(launches, statements, massive, samples: int) -> None:
    """The evidence of every grid cell as of AS_OF, summed over families, and the pick."""
    from barrage.stockpile.evidence import evidence_table, grid_fits, select, summed
    from barrage.stockpile.model import SOURCE_SD, STEP_SD

    t0 = time.perf_counter()
    table = evidence_table(grid_fits(
        launches, statements, as_of=AS_OF, massive_nights=massive, n_samples=samples,
    ))  # fmt: skip
    print(f"## Evidence per grid cell, as of {AS_OF} ({time.perf_counter() - t0:.0f} s)\n")
    print("| step sd | source sd | log evidence (+- MC se) | gap to best |\n|---|---|---|---|")
    for r in summed(table).itertuples():
        print(f"| {r.step_sd:g} | {r.source_sd:g} | {r.log_evidence:.1f} "
              f"(+- {r.log_evidence_se:.2f}) | {r.gap_to_best:.1f} |")  # fmt: skip
    pick = select(table)
    same = pick == (STEP_SD, SOURCE_SD)
    print(f"\nchosen: step sd {pick[0]:g}, source sd {pick[1]:g}; the model's defaults "
          f"{'are' if same else 'are NOT'} this pair ({STEP_SD:g}, {SOURCE_SD:g})\n")  # fmt: skip


def main() -> None:
    import pandas as pd

    from barrage.stockpile import (
        StockpileModel,
        posterior_checks,
    )
    from barrage.stockpile.checks import (
        MISSILE_FAMILIES,
        loo_coverage,
        sensitivity_table,
        statement_draws,
        statement_table,
        stock_change,
        stock_trend,
        tempo_ratios,
    )

    args, nt, launches, massive, statements = stockpile_inputs("checks", FLAGS)

    t0 = time.perf_counter()
    model = StockpileModel(n_samples=args.samples).fit(
        launches, statements, as_of=AS_OF, massive_nights=massive
    )
    print(f"fit as of {AS_OF}: {time.perf_counter() - t0:.1f} s\n")

    print("## Statements against the fit\n")
    print("| statement | family | what | period | stated | allowed | fit median [90%] | "
          "P(allowed) | verdict |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    tab = statement_table(model, statements, include_later=True)
    for r in tab.itertuples():
        stated = n(r.stated_low) if r.stated_low == r.stated_high else (
            f"{n(r.stated_low)}-{n(r.stated_high)}")  # fmt: skip
        flags = ("" if r.used else ", not fitted") + (
            ", stated later" if r.stated_after_fit else ""
        )
        print(f"| {r.statement_id} | {r.family} | {r.metric} ({r.kind}{flags}) | {r.period} | "
              f"{stated} | {n(r.allowed_low)}-{n(r.allowed_high)} | {n(r.fit_p50)} "
              f"[{n(r.fit_p05)}, {n(r.fit_p95)}] | {p_allowed(r)} | {r.verdict} |")  # fmt: skip
    fitted = tab[tab.used & ~tab.stated_after_fit]
    print(f"\nfitted statements reproduced: {(fitted.verdict == 'reproduced').sum()} of "
          f"{len(fitted)}; all rows: {(tab.verdict == 'reproduced').sum()} of {len(tab)}\n")  # fmt: skip

    if args.evidence:
        print_evidence(launches, statements, massive, args.samples)

    t0 = time.perf_counter()
    loo = loo_coverage(launches, statements, as_of=AS_OF, massive_nights=massive,
                       n_samples=max(args.samples // 2, 500), nested=args.nested)  # fmt: skip
    how = "nested: step sd and source sd re-chosen in each fold" if args.nested else (
        f"step sd {model.step_sd}, source sd {model.source_sd} in every fold")  # fmt: skip
    print(f"## Leave one statement out ({how}; {time.perf_counter() - t0:.0f} s)\n")
    print("| statement | held out with | read as | refit without them: median [90%] | "
          "90% predictive | inside | step sd, source sd |\n|---|---|---|---|---|---|---|")  # fmt: skip
    side = {0.0: "", 1.0: ">= ", -1.0: "<= "}
    for r in loo.itertuples():
        print(f"| {r.statement_id} | {r.held_with or '-'} | {side[r.read_sign]}{n(r.read_as)} | "
              f"{n(r.fit_p50)} [{n(r.fit_p05)}, {n(r.fit_p95)}] | [{n(r.predictive_p05)}, "
              f"{n(r.predictive_p95)}] | {'yes' if r.inside_90_predictive else 'no'} | "
              f"{r.step_sd:g}, {r.source_sd:g} |")  # fmt: skip
    print(f"\ncoverage: 90% predictive interval {loo.inside_90_predictive.mean():.0%} "
          f"({loo.inside_90_predictive.sum()} of {len(loo)}); 90% interval of the fitted "
          f"quantity alone meets the allowed range {loo.inside_90.mean():.0%}\n")  # fmt: skip

    print("## Iskander-M/KN-23 in 2024 against the sourced floor\n")
    floor = next(s for s in statements if s.statement_id == ISK_FLOOR)
    made = statement_draws(model, floor)
    launched_2024 = float(launches.loc["2024-01-01":"2024-12-31", "iskander_m_kn23"].sum())
    held = loo.set_index("statement_id").loc[ISK_FLOOR]
    print(
        f"- produced in 2024 (fit as of {AS_OF}): median {n(np.median(made))} "
        f"[{n(np.quantile(made, 0.05))}, {n(np.quantile(made, 0.95))}]; "
        f"P(>= {n(floor.low)}) = {np.mean(made >= floor.low):.2f}; "
        f"launched in 2024 {n(launched_2024)}"
    )
    print(
        f"- held out with {held.held_with or 'nothing'}: {n(held.fit_p50)} "
        f"[{n(held.fit_p05)}, {n(held.fit_p95)}], predictive upper end "
        f"{n(held.predictive_p95)}"
    )
    kn23 = {ISK_FLOOR, *held.held_with.split(";"), "kn23-2024-hur", "kn23-2024-01-kirby"}
    rest = [s for s in statements if s.statement_id not in kn23]
    for label, stmts, params in (
        ("held out with the two KN-23 floors too", rest, {}),
        (
            "hand-set step sd 0.35, source sd 0.35 (before the evidence rule)",
            statements,
            {"step_sd": 0.35, "source_sd": 0.35},
        ),
    ):
        samples = args.samples if params else max(args.samples // 2, 500)
        fit = StockpileModel(n_samples=samples, **params).fit(
            launches, stmts, as_of=AS_OF, massive_nights=massive, families=["iskander_m_kn23"]
        )
        d = statement_draws(fit, floor)
        print(f"- {label}: {n(np.median(d))} [{n(np.quantile(d, 0.05))}, "
              f"{n(np.quantile(d, 0.95))}], P(>= {n(floor.low)}) = {np.mean(d >= floor.low):.2f}")  # fmt: skip
    print()

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

    hur = next(s for s in statements if s.statement_id == HUR_CAPACITY)
    june = statement_draws(model, hur)
    change = stock_change(model, AS_OF, MISSILE_FAMILIES)
    at_hur = june >= hur.low
    print(
        f"\nall missiles, draws whose June 2025 production is at or above HUR's capacity "
        f"({n(hur.low)} a month): {at_hur.mean():.0%} of draws; P(growth) among them "
        f"{np.mean(change[at_hur] > 0):.2f}, among the rest {np.mean(change[~at_hur] > 0):.2f}"
    )

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
