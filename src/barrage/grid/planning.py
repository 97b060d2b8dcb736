"""Defender's planning: which protection units minimise expected unserved energy.

The units are the scenario's ``planning.candidates``: air-defence placements (a layer
covering some sites), spare transformers and repair crews, each with a cost; a plan is a
count per candidate within the budget. A plan is scored by the strike Monte Carlo
(:func:`barrage.grid.strike.run_strike`) with the same seed for every plan (common random
numbers): every candidate layer is always in the salvo model, with stock 0 when not
bought, so the salvo's random planes line up across plans, and the grid's damage and
repair draws come from their own streams. Plan differences are then paired per run, and
their standard errors are reported.

* :func:`greedy_plan`: cost-benefit greedy with lazy evaluation (CELF): a unit's gain is
  re-scored only when it reaches the top of the queue with a stale score.
* :func:`exact_plan`: every affordable plan scored (small cases), the exact optimum of
  the same sample-average objective; it measures greedy's gap.
* :func:`naive_plan`: the rule of thumb "protect the largest loads": placements in order
  of the load (MW) at the buses of the sites they cover.

This optimises protection only (placements, spares, crews), never an attack.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from barrage.errors import InputError
from barrage.grid.network import assets
from barrage.grid.strike import (
    PlanExtras,
    StrikeModel,
    StrikeResult,
    StrikeScenario,
    build_strike_model,
    load_strike_scenario,
    run_strike,
    summarise_tail,
)

SPARE_POOLS = ("transformer", "autotransformer")
"""Pools a spare-transformer candidate without ``unit_type`` adds to."""

EXACT_LIMIT = 512
"""Most plans :func:`exact_plan` will score."""


@dataclass
class PlanEvaluator:
    """Scores plans (count per candidate) on one fixed sample; caches by plan."""

    model: StrikeModel
    runs: int
    seed: int
    runner: Callable[..., StrikeResult] = run_strike  # or one on a cluster (barrage.compute)

    def __post_init__(self):
        sc = self.model.scenario
        if sc.planning is None:
            raise InputError(
                f"{sc.source}: no 'planning:' section (candidates and budget); see docs/grid.md"
            )
        self.candidates = sc.planning.candidates
        self._cache: dict[tuple[int, ...], np.ndarray] = {}
        self.evaluations = 0

    def cost(self, plan: tuple[int, ...]) -> float:
        return float(sum(n * c.cost for n, c in zip(plan, self.candidates, strict=True)))

    def empty(self) -> tuple[int, ...]:
        return tuple(0 for _ in self.candidates)

    def unserved(self, plan: tuple[int, ...]) -> np.ndarray:
        """Per-run unserved energy (MWh) under ``plan``."""
        if plan not in self._cache:
            result = self.runner(
                self._model_for(plan), runs=self.runs, seed=self.seed, **self._extras(plan)
            )
            self._cache[plan] = result.unserved_energy_mwh
            self.evaluations += 1
        return self._cache[plan]

    def _model_for(self, plan: tuple[int, ...]) -> StrikeModel:
        """The bound model with the plan's passive protection on its targets' units."""
        factor = np.ones(len(self.model.target_ids))
        ids = list(self.model.target_ids)
        for n, cand in zip(plan, self.candidates, strict=True):
            if cand.kind == "passive_protection" and n:
                for t in cand.covers:
                    factor[[ids.index(u) for u in self.model.groups[t]]] *= cand.factor**n
        if np.all(factor == 1.0):
            return self.model
        return dataclasses.replace(self.model, protection=self.model.protection * factor)

    def _extras(self, plan: tuple[int, ...]) -> dict:
        """The salvo (every candidate layer present, stock 0 when not bought) and the
        spares, crews and mobile units the plan adds."""
        sc = self.model.scenario
        layers = list(sc.salvo.layers)
        spares: dict[str, int] = {}
        crews, mobile_substations, mobile_mw = 0, 0, 0.0
        for n, cand in zip(plan, self.candidates, strict=True):
            if cand.kind == "air_defence":
                layers.append(cand.layer if n else cand.layer.model_copy(update={"stock": 0}))
            elif cand.kind == "spare_transformers":
                for pool in [cand.unit_type] if cand.unit_type else list(SPARE_POOLS):
                    spares[pool] = spares.get(pool, 0) + n * cand.units
            elif cand.kind == "crews":
                crews += n * cand.units
            elif cand.kind == "mobile_substations":
                mobile_substations += n * cand.units
            elif cand.kind == "mobile_generation":
                mobile_mw += n * cand.units * cand.mw
        salvo = sc.salvo.model_copy(update={"layers": layers})
        extras = PlanExtras(spares, crews, mobile_substations, mobile_mw)
        return {"salvo_scenario": salvo, "extras": extras}

    def describe(self, plan: tuple[int, ...], reference: tuple[int, ...] | None = None) -> dict:
        ue = self.unserved(plan)
        out = {
            "units": {c.name: n for n, c in zip(plan, self.candidates, strict=True) if n},
            "cost": self.cost(plan),
            "expected_unserved_energy_mwh": float(ue.mean()),
            "standard_error_mwh": _se(ue),
            "unserved_energy_mwh": summarise_tail(ue),
        }
        if reference is not None:
            d = ue - self.unserved(reference)
            out["difference_vs_reference_mwh"] = float(d.mean())
            out["difference_standard_error_mwh"] = _se(d)
        return out


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def _add(plan: tuple[int, ...], i: int) -> tuple[int, ...]:
    return tuple(n + (k == i) for k, n in enumerate(plan))


def greedy_plan(ev: PlanEvaluator, budget: float) -> tuple[tuple[int, ...], list[dict]]:
    """Lazy (CELF) cost-benefit greedy; returns the plan and the marginal value of each
    unit added, in order."""
    plan = ev.empty()
    current = ev.unserved(plan)
    steps: list[dict] = []
    # heap of (-gain per cost, candidate, round the gain was computed in)
    heap: list[tuple[float, int, int]] = []
    for i, c in enumerate(ev.candidates):
        if c.cost <= budget + 1e-9:
            gain = float(current.mean() - ev.unserved(_add(plan, i)).mean())
            heapq.heappush(heap, (-gain / c.cost, i, 0))
    round_ = 0
    while heap:
        neg, i, stamp = heapq.heappop(heap)
        cand = ev.candidates[i]
        if plan[i] >= cand.max_units or ev.cost(plan) + cand.cost > budget + 1e-9:
            continue
        if stamp != round_:  # stale: re-score against the current plan
            gain = float(current.mean() - ev.unserved(_add(plan, i)).mean())
            heapq.heappush(heap, (-gain / cand.cost, i, round_))
            continue
        if -neg <= 0:
            break  # nothing left that lowers expected unserved energy
        new = _add(plan, i)
        after = ev.unserved(new)
        diff = current - after
        steps.append(
            {
                "step": len(steps) + 1,
                "unit": cand.name,
                "kind": cand.kind,
                "cost": cand.cost,
                "expected_unserved_energy_mwh": float(after.mean()),
                "reduction_mwh": float(diff.mean()),
                "reduction_standard_error_mwh": _se(diff),
                "reduction_per_cost_mwh": float(diff.mean() / cand.cost),
            }
        )
        plan, current = new, after
        round_ += 1
        if plan[i] < cand.max_units:
            heapq.heappush(heap, (neg, i, round_ - 1))
    return plan, steps


def ranking(ev: PlanEvaluator) -> list[dict]:
    """Each candidate's first unit on its own, against no additions: expected unserved
    energy avoided (MWh, paired SE) per cost unit, and CVaR95 with and without it;
    best value for money first."""
    base = ev.empty()
    before = ev.unserved(base)
    rows = []
    for i, cand in enumerate(ev.candidates):
        after = ev.unserved(_add(base, i))
        diff = before - after
        rows.append(
            {
                "unit": cand.name,
                "kind": cand.kind,
                "cost": cand.cost,
                "avoided_mwh": float(diff.mean()),
                "avoided_standard_error_mwh": _se(diff),
                "avoided_mwh_per_cost": float(diff.mean() / cand.cost),
                "cvar95_mwh": summarise_tail(after)["cvar95"],
                "cvar95_avoided_mwh": summarise_tail(before)["cvar95"]
                - summarise_tail(after)["cvar95"],
            }
        )
    return sorted(rows, key=lambda r: -r["avoided_mwh_per_cost"])


def affordable_plans(ev: PlanEvaluator, budget: float) -> list[tuple[int, ...]]:
    """Every count vector within the budget and the candidates' max_units."""
    ranges = [range(c.max_units + 1) for c in ev.candidates]
    return [p for p in itertools.product(*ranges) if ev.cost(p) <= budget + 1e-9]


def exact_plan(ev: PlanEvaluator, budget: float, *, limit: int = EXACT_LIMIT):
    """The best affordable plan by enumeration, or None when there are more than ``limit``."""
    plans = affordable_plans(ev, budget)
    if len(plans) > limit:
        return None, len(plans)
    scores = [ev.unserved(p).mean() for p in plans]
    return plans[int(np.argmin(scores))], len(plans)


def site_load_mw(model: StrikeModel) -> dict[str, float]:
    """Load (MW) at the buses where each site's grid assets stand."""
    table = assets(model.network)
    loads = model.network.loads.groupby("bus")["p_mw"].sum()
    index = dict(zip(table["asset_id"], table["bus"], strict=True))
    br = model.network.branches
    far_end = dict(zip(br["branch_id"], br["to_bus"], strict=True))  # an autotransformer's LV bus
    out = {}
    for site, ids in model.scenario.grid.targets.items():
        units = [u for a in ids for u in model.groups[str(a).strip()]]
        buses = {int(index[u]) for u in units} | {int(far_end[u]) for u in units if u in far_end}
        out[site] = float(sum(loads.get(b, 0.0) for b in buses))
    return out


def naive_plan(ev: PlanEvaluator, budget: float) -> tuple[int, ...]:
    """Protect the largest loads: placements by covered load, then nothing else."""
    load = site_load_mw(ev.model)
    sites = list(load)
    scored = []
    for i, c in enumerate(ev.candidates):
        if c.kind != "air_defence":
            continue
        covered = sites if "all" in c.layer.covers else c.layer.covers
        scored.append((-sum(load[s] for s in covered), i))
    plan = ev.empty()
    for _, i in sorted(scored):
        if ev.cost(plan) + ev.candidates[i].cost <= budget + 1e-9:
            plan = _add(plan, i)
    return plan


def plan_defence(
    scenario: StrikeScenario | str | Path,
    *,
    budget: float | None = None,
    runs: int = 400,
    seed: int = 0,
    grid_dir: str | Path | None = None,
    exact: bool = True,
    exact_limit: int = EXACT_LIMIT,
    runner: Callable[..., StrikeResult] = run_strike,
) -> dict:
    """Greedy protection plan, its marginal values, the naive plan and the exact check."""
    if isinstance(scenario, str | Path):
        scenario = load_strike_scenario(scenario)
    if runs < 2:
        raise InputError(f"runs: expected at least 2 runs (standard errors), got {runs}")
    if seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed}")
    model = build_strike_model(scenario, grid_dir=grid_dir)
    ev = PlanEvaluator(model, runs, seed, runner)
    if budget is None:
        budget = scenario.planning.budget
    if budget < 0 or not np.isfinite(budget):
        raise InputError(f"budget: expected a non-negative number, got {budget}")
    base = ev.empty()
    greedy, steps = greedy_plan(ev, budget)
    greedy_evals = ev.evaluations
    naive = naive_plan(ev, budget)
    out = {
        "scenario": scenario.name,
        "network": model.network.name,
        "runs": runs,
        "seed": seed,
        "budget": budget,
        "cost_unit": scenario.planning.cost_unit,
        "no_additions": ev.describe(base),
        "greedy": {**ev.describe(greedy, base), "steps": steps},
        "naive_largest_loads": ev.describe(naive, greedy),
        "evaluations": {
            "greedy_lazy": greedy_evals,
            "greedy_plain_upper_bound": 1 + len(ev.candidates) * (len(steps) + 1),
        },
        "exact": None,
    }
    if exact:
        best, n_plans = exact_plan(ev, budget, limit=exact_limit)
        if best is None:
            out["exact"] = {"skipped": f"{n_plans} affordable plans > limit {exact_limit}"}
        else:
            g = ev.unserved(greedy).mean()
            b = ev.unserved(best).mean()
            out["exact"] = {
                **ev.describe(best, greedy),
                "plans_scored": n_plans,
                "greedy_gap_mwh": float(g - b),
                "greedy_gap_percent": float(100.0 * (g - b) / b) if b > 0 else 0.0,
            }
    out["ranking"] = ranking(ev)
    out["shed_solves"] = model.cache.solves
    return out
