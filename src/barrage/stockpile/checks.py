"""Posterior checks: a stock that could not have supplied an observed salvo is a model error.

- ``salvo``: after every launch night before the as-of date, every draw's stock is >= 0,
  i.e. the stock before the night covered its salvo; reported for the family's largest
  night (stock before it, 5th percentile, against the salvo).
- ``annual``: the model's books reproduce the record's launches per year: production in
  the year minus the stock's change equals the launches the record holds for that year,
  draw by draw (and the year's production, with intervals, is shown beside them).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from barrage.errors import InputError
from barrage.stockpile.evidence import evidence_table, grid_fits, select
from barrage.stockpile.model import QUANTILES

if TYPE_CHECKING:
    import pandas as pd

    from barrage.stockpile.model import StockpileModel
    from barrage.stockpile.statements import Statement


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


# ---------------------------------------------------------------- statements vs the fit
#: The missile families (summed for "all missiles").
MISSILE_FAMILIES: tuple[str, ...] = (
    "kh101", "kalibr", "iskander_m_kn23", "iskander_k", "kinzhal", "other_missiles",
)  # fmt: skip
ALL_MISSILES = "all_missiles"


def statement_draws(model: StockpileModel, s: Statement) -> np.ndarray:
    """The fitted quantity a statement speaks about, per draw, in the statement's units.

    Monthly production: the mean rate over the period (units/month); total supplied:
    the units produced over the period (both over the part of it from the record's first
    night on, as the fit reads them); stockpile: the stock at the start of
    ``refers_to``. ``all_missiles`` statements read the sum of the missile families
    (families are fitted independently, so draw i of each family is a joint draw).
    """
    from barrage.stockpile.model import DAYS_PER_MONTH, _day_number

    fams = MISSILE_FAMILIES if s.family == ALL_MISSILES else (s.family,)
    missing = [f for f in fams if f not in model.posteriors_]
    if missing:
        raise InputError(f"statement {s.statement_id!r}: family {missing[0]!r} was not fitted")
    # the part of the period the record covers, as the fit reads it (a rate over
    # 2022-06..11 is the mean over 2022-09-27..11-30, not that output spread over 6 months)
    day0 = _day_number(model.posteriors_[fams[0]].days_grid_start)
    first = max(_day_number(s.refers_from or s.refers_to), day0)
    last = max(_day_number(s.refers_to) + 1, first + 1)
    total = 0.0
    for f in fams:
        post = model.posteriors_[f]
        if s.metric == "stockpile":
            total = total + post.stock_at(s.refers_to)
        else:
            cum = post.cum_production(np.array([first, last]))
            total = total + (cum[:, 1] - cum[:, 0])
    if s.metric == "monthly_production":
        total = total / ((last - first) / DAYS_PER_MONTH)
    return np.asarray(total, dtype=float)


def target_range(model: StockpileModel, s: Statement) -> tuple[float, float]:
    """The range a statement allows for the family's quantity (units as stated).

    An estimate: ``low``-``high``; a plan: down to ``low`` / e^plan_bias (plans outrun
    output); a figure for part of a family: up to ``high`` x the part factor (attack
    drones) or unbounded (a floor); a figure for more than the family, or a ceiling: up to
    ``high``; a floor: ``low`` and up. ``all_missiles`` aggregates are read as the sum of
    the missile families.
    """
    lo, hi = s.low, s.high
    kind = s.kind
    if s.coverage == "more" and kind in ("estimate", "plan") and s.family != ALL_MISSILES:
        kind = "upper_bound"
    if kind == "upper_bound":
        return 0.0, hi
    if kind == "lower_bound":
        return lo, math.inf
    if kind == "plan":
        lo = lo / math.exp(model.plan_bias)
    if s.coverage == "part":
        part = (model.part_factor or {"attack_drones": 1.4}).get(s.family)
        hi = hi * part if part else math.inf
    return lo, hi


def _verdict(q05: float, q95: float, lo: float, hi: float) -> str:
    if q95 < lo:
        return "contradicted (fit below)"
    if q05 > hi:
        return "contradicted (fit above)"
    return "reproduced"


def statement_table(
    model: StockpileModel, statements: list[Statement], *, include_later: bool = False
):
    """Every statement made before the fit's as-of date against the fitted figure.

    One row per statement about a fitted family (or all missiles, when every missile
    family is fitted), used or not: the stated range, the range it allows
    (:func:`target_range`), the fitted median and 90% interval, and the verdict:
    ``reproduced`` when the 90% interval meets the allowed range, else ``contradicted``
    (fit above or below) with both sets of figures; ``p_allowed``: the posterior
    probability that the quantity lies in the allowed range. ``include_later``: also statements
    made on or after the as-of date about a period before it (the fit never saw them:
    an out-of-sample check; ``stated_after_fit`` says which).
    """
    import pandas as pd

    rows = []
    for s in statements:
        later = pd.Timestamp(s.stated_on) >= model.as_of_
        if later and not (include_later and pd.Timestamp(s.refers_to) < model.as_of_):
            continue
        fams = MISSILE_FAMILIES if s.family == ALL_MISSILES else (s.family,)
        if any(f not in model.posteriors_ for f in fams):
            continue
        if s.metric == "stockpile" and any(model.posteriors_[f].stock_q is None for f in fams):
            continue
        draws = statement_draws(model, s)
        q05, q50, q95 = np.quantile(draws, (0.05, 0.5, 0.95))
        lo, hi = target_range(model, s)
        rows.append({
            "statement_id": s.statement_id, "family": s.family, "metric": s.metric,
            "kind": s.kind, "coverage": s.coverage, "used": s.use,
            "period": f"{s.refers_from or s.refers_to}..{s.refers_to}",
            "stated_low": s.low, "stated_high": s.high, "allowed_low": lo, "allowed_high": hi,
            "fit_p05": q05, "fit_p50": q50, "fit_p95": q95,
            "p_allowed": float(np.mean((draws >= lo) & (draws <= hi))),
            "verdict": _verdict(q05, q95, lo, hi), "stated_after_fit": later,
        })  # fmt: skip
    return pd.DataFrame(rows)


def tempo_ratios(launches: pd.DataFrame, statements: list[Statement]):
    """Stated production over recorded launches, per statement, in the statement's period.

    For the rate and supply statements about one estimable family that give a figure
    (estimates) or a floor (lower bounds; the ratio is then a floor too): the evidence the
    tempo anchor's sd rests on (a stock is built when the ratio exceeds 1).
    """
    import pandas as pd

    from barrage.stockpile.families import STOCK_ESTIMABLE
    from barrage.stockpile.model import DAYS_PER_MONTH

    rows = []
    for s in statements:
        if s.family not in STOCK_ESTIMABLE or s.metric == "stockpile" or s.coverage == "more":
            continue
        if s.kind not in ("estimate", "lower_bound") or not s.use:
            continue
        start, end = pd.Timestamp(s.refers_from), pd.Timestamp(s.refers_to)
        if start < launches.index[0] or end > launches.index[-1]:
            continue
        launched = float(launches.loc[start:end, s.family].sum())
        months = ((end - start).days + 1) / DAYS_PER_MONTH
        stated = math.sqrt(max(s.low, 1e-9) * s.high) if s.kind == "estimate" else s.low
        if s.metric == "total_supplied":
            stated = stated / months
        if launched <= 0:
            continue
        rows.append({
            "statement_id": s.statement_id, "family": s.family, "kind": s.kind,
            "period": f"{start.date()}..{end.date()}", "stated_per_month": stated,
            "launched_per_month": launched / months,
            "ratio": stated / (launched / months),
        })  # fmt: skip
    return pd.DataFrame(rows)


def source_groups(statements: list[Statement]) -> list[list[Statement]]:
    """Statements held out together: those about one family that share a source.

    Two used statements about the same family are in one group when they share a
    non-empty ``source_url`` or ``source_title`` (one report or article, e.g. RUSI's
    "approximately 250 in 2023 to more than 700 in 2024"): their errors are one
    source's errors, so holding out one while the fit keeps its sibling would leak it.
    Groups are returned in the order of their first statement.
    """
    parent = list(range(len(statements)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[tuple[str, str], int] = {}
    for i, s in enumerate(statements):
        for key in (s.source_url.strip(), s.source_title.strip()):
            if not key:
                continue
            j = seen.setdefault((s.family, key), i)
            parent[root(i)] = root(j)
    groups: dict[int, list[Statement]] = {}
    for i, s in enumerate(statements):
        groups.setdefault(root(i), []).append(s)
    return sorted(groups.values(), key=lambda g: statements.index(g[0]))


def predictive_check(
    reading: tuple[float, float, float], draws: np.ndarray, noise: np.ndarray
) -> tuple[float, float, bool]:
    """Does a statement fall in the fit's 90% predictive interval, as the fit reads it?

    ``reading``: ``(y, sd, sign)`` from :meth:`StockpileModel.reading` (the log figure in
    the family's units: plans discounted, part figures scaled; its own error ``sd``,
    range, source and plan/part error together). The predictive draw is the fitted
    quantity times ``exp(sd * noise)``: the statement's own error enters once, here, and
    the statement is compared as one figure ``y`` (an allowed *range* on top would count
    the range, the plan discount and the part factor a second time). Two-sided: ``y``
    inside the 5-95% predictive interval; a floor (sign +1): the 95% end reaches ``y``;
    a ceiling (-1): the 5% end is at or under ``y``. Returns the interval (units) and
    the verdict.
    """
    y, sd, sign = reading
    pred = np.log(np.maximum(draws, 1e-9)) + sd * noise
    p05, p95 = np.quantile(pred, (0.05, 0.95))
    if sign > 0:
        inside = p95 >= y
    elif sign < 0:
        inside = p05 <= y
    else:
        inside = p05 <= y <= p95
    return math.exp(p05), math.exp(p95), bool(inside)


def loo_coverage(
    launches: pd.DataFrame,
    statements: list[Statement],
    *,
    as_of: pd.Timestamp | str,
    massive_nights: pd.DatetimeIndex | None = None,
    n_samples: int = 1000,
    seed: int = 0,
    families: tuple[str, ...] | None = None,
    nested: bool = False,
    evidence: pd.DataFrame | None = None,
    **params,
):
    """Leave one source out: refit a family without a group of statements, check each.

    ``nested``: inside each fold, ``step_sd`` and ``source_sd`` are re-chosen by the
    evidence rule (:mod:`.evidence`) without the held-out statements: the held-out
    family's evidence comes from fold refits over the grid, the other families' from
    ``evidence`` (an :func:`~barrage.stockpile.evidence.evidence_table` on all the
    statements, the same ``n_samples`` and seed; computed when None). Each fold then
    keeps the refit at its chosen cell (``step_sd``/``source_sd`` columns). Minutes,
    not seconds: 20 refits a fold.

    The held-out statements are the used ones about one family made before ``as_of``
    that bound something (:meth:`StockpileModel.reading` is not None), grouped by
    :func:`source_groups` (a report's sibling figures leave together). For each group
    the family is refitted without it, and for each of its statements:
    ``inside_90_predictive`` (:func:`predictive_check`: the statement as the fit reads it
    inside the 90% predictive interval, its own error counted once), the coverage the
    docs report; ``inside_90``: the refit's 90% interval of the quantity alone meets the
    statement's allowed range (:func:`target_range`), the table's verdict on the refit.
    Returns one row per held-out statement (``held_with``: the rest of its group).
    """
    import pandas as pd

    from barrage.stockpile.model import StockpileModel

    probe = StockpileModel(**params)
    held = _held_out(probe, statements, as_of, families)
    if nested and ({"step_sd", "source_sd"} & set(params)):
        raise InputError("loo_coverage: nested chooses step_sd and source_sd; do not pass them")
    if nested and evidence is None:
        evidence = evidence_table(grid_fits(
            launches, statements, as_of=as_of, massive_nights=massive_nights,
            n_samples=n_samples, seed=seed, **params,
        ))  # fmt: skip
    groups = source_groups(held)
    noise_seeds = np.random.SeedSequence([seed, 1]).spawn(len(held))
    rows = []
    for group in groups:
        out = {s.statement_id for s in group}
        rest = [t for t in statements if t.statement_id not in out]
        fold = dict(
            as_of=as_of, massive_nights=massive_nights, families=[group[0].family],
        )  # fmt: skip
        if nested:
            model = _nested_refit(launches, rest, evidence, n_samples, seed, {**fold, **params})
        else:
            model = StockpileModel(n_samples=n_samples, seed=seed, **params).fit(
                launches, rest, output_as_of=pd.DatetimeIndex([as_of]), **fold
            )
        rows += [_held_out_row(model, s, out, noise_seeds[held.index(s)]) for s in group]
    order = {s.statement_id: i for i, s in enumerate(held)}
    if not rows:
        return pd.DataFrame(rows)
    return pd.DataFrame(rows).sort_values(
        "statement_id", key=lambda c: c.map(order), ignore_index=True
    )


def _held_out(probe, statements: list[Statement], as_of, families) -> list[Statement]:
    """The statements a leave-one-out check holds out: used, made before ``as_of``,
    about one of ``families`` (None: any), and bounding something the model reads."""
    import pandas as pd

    return [
        s for s in statements
        if s.use and pd.Timestamp(s.stated_on) < pd.Timestamp(as_of)
        and (families is None or s.family in families)
        and probe.reading(s.family, s) is not None
    ]  # fmt: skip


def _held_out_row(model, s: Statement, out: set[str], noise_seed) -> dict:
    """One held-out statement against the refit without its group: the refit's 90%
    interval, the predictive check (noise drawn from ``noise_seed``), and the verdicts."""
    draws = statement_draws(model, s)
    read = model.reading(s.family, s)
    noise = np.random.default_rng(noise_seed).standard_normal(len(draws))
    n05, n95, inside = predictive_check(read, draws, noise)
    lo, hi = target_range(model, s)
    q05, q50, q95 = np.quantile(draws, (0.05, 0.5, 0.95))
    return {
        "statement_id": s.statement_id, "family": s.family, "metric": s.metric,
        "kind": s.kind, "held_with": ";".join(sorted(out - {s.statement_id})),
        "read_as": math.exp(read[0]), "read_sign": read[2],
        "allowed_low": lo, "allowed_high": hi,
        "fit_p05": q05, "fit_p50": q50, "fit_p95": q95,
        "predictive_p05": n05, "predictive_p95": n95,
        "inside_90": _verdict(q05, q95, lo, hi) == "reproduced",
        "inside_90_predictive": inside,
        "step_sd": model.step_sd, "source_sd": model.source_sd,
    }  # fmt: skip


def _nested_refit(launches, rest, evidence, n_samples: int, seed: int, fold: dict):
    """The fold's refit at the cell the evidence rule picks without the held-out
    statements: the held-out family's evidence from refits on ``rest``, the other
    families' from the full-data ``evidence`` (their statements are all in the fold).
    ``fold``: as_of, massive_nights, families (one) and the model's other settings."""
    import pandas as pd

    fits = dict(grid_fits(launches, rest, n_samples=n_samples, seed=seed, **fold))
    others = evidence[evidence.family != fold["families"][0]]
    return fits[select(pd.concat([others, evidence_table(fits.items())], ignore_index=True))]


# ---------------------------------------------------------------- trend in words
TREND_DAYS = 90
#: P(growth) at or above TREND_P reads "growing", at or below TREND_P_FALLING "falling".
TREND_P = 0.8
TREND_P_FALLING = 0.2


def trend_word(p_growth: float) -> str:
    """growing / falling when the probability of growth is >= 0.8 / <= 0.2, else flat."""
    if not np.isfinite(p_growth):
        return "n/a"
    if p_growth >= TREND_P:
        return "growing"
    if p_growth <= TREND_P_FALLING:
        return "falling"
    return "flat"


def stock_change(
    model: StockpileModel, date: pd.Timestamp | str, families: tuple[str, ...],
    days: int = TREND_DAYS,
) -> np.ndarray:  # fmt: skip
    """Per draw: the summed stock of ``families`` as of ``date`` minus ``days`` earlier."""
    import pandas as pd

    d = pd.Timestamp(date).normalize()
    total = 0.0
    for f in families:
        post = model.posteriors_[f]
        total = total + post.stock_at(d) - post.stock_at(d - pd.Timedelta(days=days))
    return np.asarray(total, dtype=float)


def stock_trend(
    model: StockpileModel, date: pd.Timestamp | str | None = None, days: int = TREND_DAYS
) -> dict[str, dict]:
    """Is the stock growing, flat or falling over the ``days`` before ``date``?

    Per estimable fitted family and, when all six missile families are fitted, for all
    missiles (summed draw by draw): the change in stock (median, 90% interval), the
    probability it grew, the word (:func:`trend_word`), and production and launches
    over the window. Default ``date``: the fit's as-of date.
    """
    import pandas as pd

    d = model.as_of_ if date is None else pd.Timestamp(date).normalize()
    groups = {f: (f,) for f, p in model.posteriors_.items() if p.stock_q is not None}
    if all(f in model.posteriors_ for f in MISSILE_FAMILIES):
        groups[ALL_MISSILES] = MISSILE_FAMILIES
    start = d - pd.Timedelta(days=days)
    out = {}
    for name, fams in groups.items():
        grid0 = max(model.posteriors_[f].days_grid_start for f in fams)
        if start <= grid0:
            continue
        change = stock_change(model, d, fams, days)
        launched = sum(
            float(model.posteriors_[f].launches.loc[start : d - pd.Timedelta(days=1)].sum())
            for f in fams
        )
        p = float(np.mean(change > 0))
        out[name] = {
            "from": start.date().isoformat(), "to": d.date().isoformat(),
            "change": dict(zip(("p05", "p50", "p95"),
                               np.quantile(change, (0.05, 0.5, 0.95)).tolist(), strict=True)),
            "p_growth": p, "trend": trend_word(p),
            "launched": launched,
            "produced_p50": float(np.median(change) + launched),
        }  # fmt: skip
    return out


# ---------------------------------------------------------------- sensitivity
def sensitivity_table(
    launches: pd.DataFrame,
    statements: list[Statement],
    nights: pd.DatetimeIndex,
    *,
    massive_nights: pd.DatetimeIndex,
    settings: dict[str, float | None],
    n_samples: int = 2000,
    seed: int = 0,
    families: tuple[str, ...] | None = None,
):
    """Production, stock and built-since-last-massive per family at each night, as of
    that night (no look-ahead), under each tempo-anchor setting (``tempo_sd``; None off).
    """
    import pandas as pd

    from barrage.stockpile.model import StockpileModel

    rows = []
    for label, tempo_sd in settings.items():
        for night in nights:
            model = StockpileModel(n_samples=n_samples, seed=seed, tempo_sd=tempo_sd).fit(
                launches, statements, as_of=night, massive_nights=massive_nights,
                families=families, output_as_of=pd.DatetimeIndex([night]),
            )  # fmt: skip
            for f, post in model.posteriors_.items():
                if post.stock_q is None:
                    continue
                rows.append({
                    "setting": label, "night": night.date().isoformat(), "family": f,
                    "production_p05": post.production_q[0, 0],
                    "production_p50": post.production_q[0, 2],
                    "production_p95": post.production_q[0, 4],
                    "stock_p05": post.stock_q[0, 0], "stock_p50": post.stock_q[0, 2],
                    "stock_p95": post.stock_q[0, 4],
                    "built_p05": post.built_q[0, 0], "built_p50": post.built_q[0, 2],
                    "built_p95": post.built_q[0, 4],
                })  # fmt: skip
    return pd.DataFrame(rows)
