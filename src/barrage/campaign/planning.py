"""Defence packages over a season: each package's campaign against the same draws.

Every package is played with the same seed (common random numbers), so the difference in
customer-hours lost against "no package" is the package's effect, not noise between
samples. The score is expected customer-hours avoided per USD, with the CVaR95 of the
season's customer-hours lost under the package (the bad tail it leaves)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from barrage.campaign.engine import CampaignContext, CampaignRuns
from barrage.campaign.scenario import Package
from barrage.errors import InputError
from barrage.grid.strike import summarise_tail

_H_PER_DAY = 24.0


def apply_package(ctx: CampaignContext, package: Package) -> CampaignContext:
    """The context with the package's interceptors, resupply, crews, spares, mobile
    generation and passive protection (a factor on every target unit's damage
    probability) added."""
    names = list(ctx.layer_names)
    stock0 = ctx.stock0.copy()
    resupply = ctx.resupply_per_day.copy()
    stocked = ctx.stocked.copy()
    for name, n in package.interceptors.items():
        stock0[names.index(name)] += n
        stocked[names.index(name)] = True
    for name, r in package.resupply_per_day.items():
        resupply[names.index(name)] += r
        stocked[names.index(name)] = True
    spares = dict(ctx.spares)
    for pool, n in package.spares.items():
        if pool not in spares:
            raise InputError(
                f"packages.{package.name}.spares.{pool}: unknown spare pool; allowed: "
                + ", ".join(spares)
            )
        spares[pool] += n
    model = ctx.model
    if package.protection_factor < 1.0:
        model = replace(model, protection=model.protection * package.protection_factor)
    return replace(
        ctx,
        model=model,
        stock0=stock0,
        resupply_per_day=resupply,
        stocked=stocked,
        crews=ctx.crews + package.crews,
        spares=spares,
        mobile=replace(
            ctx.mobile, generation_mw=ctx.mobile.generation_mw + package.mobile_generation_mw
        ),
    )


def customer_hours(ctx: CampaignContext, runs: CampaignRuns) -> np.ndarray:
    """(runs,) customer-hours lost over the season (people x hours without power)."""
    return runs.customers_off_share.sum(axis=1) * _H_PER_DAY * ctx.model.cache.people


def compare_packages(
    ctx: CampaignContext,
    play: Callable[[CampaignContext], CampaignRuns],
    *,
    budget_usd: float,
) -> dict:
    """Score every package that fits ``budget_usd`` against no package (same draws)."""
    packages = ctx.scenario.packages
    if not packages:
        raise InputError(f"{ctx.scenario.source}: packages: a campaign plan needs packages")
    cheapest = min(p.cost_usd for p in packages)
    if budget_usd < cheapest:
        raise InputError(
            f"budget_usd: {budget_usd:g} is below the cheapest package ({cheapest:g} USD)"
        )
    base = customer_hours(ctx, play(ctx))
    rows = []
    for p in packages:
        if p.cost_usd > budget_usd:
            continue
        ch = customer_hours(ctx, play(apply_package(ctx, p)))
        avoided = base - ch
        se = float(avoided.std(ddof=1) / np.sqrt(len(avoided))) if len(avoided) > 1 else 0.0
        rows.append(
            {
                "package": p.name,
                "cost_usd": p.cost_usd,
                "customer_hours_lost": summarise_tail(ch),
                "customer_hours_avoided": summarise_tail(avoided),
                "customer_hours_avoided_se": se,
                "customer_hours_avoided_per_usd": float(avoided.mean() / p.cost_usd),
            }
        )
    rows.sort(key=lambda r: -r["customer_hours_avoided_per_usd"])
    return {
        "budget_usd": budget_usd,
        "runs": int(len(base)),
        "no_package_customer_hours_lost": summarise_tail(base),
        "packages": rows,
        "illustrative": True,
    }
