"""Restoration after a strike, day by day, vectorised over runs; winter demand and harm.

Model (daily steps, arrays are runs x assets):

* Each destroyed asset needs ``work`` days, lognormal with the kind's median and log-sd
  (:func:`default_repair`). Lines, transformers and substations need one grid repair crew
  per day of work; a plant is repaired by its own contractors (no grid crew).
* A destroyed transformer or substation needs a spare transformer. Spares go to the
  destroyed assets with the highest repair priority first; an asset without a spare
  waits a manufacturing lead time (lognormal) before its work can start.
* Each day the ``crews`` crews work on the ready assets with the highest priority: the
  load their repair alone would restore (MW, from the run's initial damage) per day of
  work, i.e. "most load back per crew-day first". Crews may switch assets between days.
* An asset is out for whole days, from the strike day to the day its work ends.
* Each day's damaged set is priced with :func:`barrage.grid.shed_load_batch` under that
  day's demand. Demand follows temperature: ``1 + s * max(0, T_ref - T)`` times the
  network's loads (rounded to ``demand_step`` so that days share solves), with ``s`` the
  heating sensitivity per degree C. Shed caused by the strike is the shed with the damage
  minus the shed of the intact network at the same demand (which is reported as zero
  harm). Sets are deduplicated across runs and days (``np.unique`` over packed masks) and
  cached across calls, so planning re-uses earlier solves.

Customer-hours count the population of each load times its shed fraction; hours at
sub-zero temperature are reported apart and weighted by ``1 + w * (-T)`` as harm.

Units (:mod:`barrage.grid.units`): spares come from a pool per unit type
(:data:`SPARE_POOL`); mobile substations bridge destroyed transformer-type units and
mobile generation serves shed load from a deploy day (:class:`Mobile`); the OPF's
nuclear output against the intact system's is the nuclear curtailment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from barrage.grid.batch import row_sum, shed_load_batch
from barrage.grid.network import PRIORITY_CLASSES, Network, assets

ASSET_KINDS = ("substation", "plant", "line", "transformer")
#: Spare pool each unit type draws on when destroyed (types not listed need no spare).
SPARE_POOL = {
    "substation": "transformer",
    "transformer": "transformer",
    "autotransformer": "autotransformer",
}
_NEEDS_CREW = {"substation", "transformer", "line", "autotransformer", "bay"}
_HOURS_PER_DAY = 24.0
_TOL_MW = 1e-6


class RepairSpec(BaseModel):
    """A lognormal duration: median (days) and log-standard deviation."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    median_days: float = Field(gt=0, le=3650)
    sigma: float = Field(default=0.5, ge=0, le=3)


def default_repair() -> dict[str, RepairSpec]:
    """Work per destroyed asset once its parts are on site (see docs/grid.md for sources;
    the medians are assumptions anchored on public statements)."""
    return {
        "line": RepairSpec(median_days=3.0, sigma=0.5),
        "transformer": RepairSpec(median_days=14.0, sigma=0.4),
        "substation": RepairSpec(median_days=21.0, sigma=0.4),
        "plant": RepairSpec(median_days=120.0, sigma=0.5),
        "autotransformer": RepairSpec(median_days=14.0, sigma=0.4),
        "bay": RepairSpec(median_days=5.0, sigma=0.5),
        "thermal": RepairSpec(median_days=120.0, sigma=0.5),
        "chp": RepairSpec(median_days=120.0, sigma=0.5),
        "hydro": RepairSpec(median_days=180.0, sigma=0.5),
    }


class Winter(BaseModel):
    """Daily mean temperatures from the strike day, and how demand and harm follow them."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    temperature_c: list[float] = Field(default_factory=list, max_length=3650)
    reference_temperature_c: float = 12.0
    heating_sensitivity_per_degc: float = Field(default=0.01, ge=0, le=0.2)
    demand_step: float = Field(default=0.025, gt=0, le=1)
    cold_harm_weight_per_degc: float = Field(default=0.1, ge=0, le=10)

    def profile(self, days: int) -> tuple[np.ndarray, np.ndarray]:
        """(temperature_c, demand_factor) per day; after the profile, the reference
        temperature (demand factor 1, no cold harm)."""
        t = np.full(days, self.reference_temperature_c, dtype=float)
        given = np.asarray(self.temperature_c[:days], dtype=float)
        t[: len(given)] = given
        uplift = self.heating_sensitivity_per_degc * np.maximum(
            0.0, self.reference_temperature_c - t
        )
        factor = 1.0 + self.demand_step * np.rint(uplift / self.demand_step)
        return t, np.round(factor, 6)


def scaled_network(network: Network, factor: float) -> Network:
    """``network`` with every load times ``factor`` (a day's demand level)."""
    loads = network.loads.copy()
    loads["p_mw"] = loads["p_mw"] * factor
    return replace(network, loads=loads)


def nuclear_rows(network: Network) -> np.ndarray:
    """Generators whose ``unit_type`` is nuclear (none when the column is absent)."""
    if "unit_type" not in network.generators.columns:
        return np.zeros(len(network.generators), dtype=bool)
    return network.generators["unit_type"].to_numpy() == "nuclear"


ShedValue = tuple[float, float, np.ndarray, float]


def solve_shed(scaled: Network, full_masks: np.ndarray) -> list[ShedValue]:
    """(shed_mw, population_off, shed_by_class_mw, nuclear_mw) per damaged-asset mask on
    ``scaled``; ``nuclear_mw`` is the OPF's nuclear output, which falls when damaged
    substations cannot carry it away (the nuclear curtailment).

    Each LP starts from the intact network's basis, so a mask's numbers do not depend on
    the other masks solved with it: a cache filled in any order, in one process or in
    chunks on many (:mod:`barrage.compute.strike`), holds the same values.
    """
    res = shed_load_batch(scaled, full_masks, warm_start="intact")
    p = np.clip(scaled.loads["p_mw"].to_numpy(), 0.0, None)
    frac = np.divide(res.shed_by_load_mw, p, out=np.zeros_like(res.shed_by_load_mw), where=p > 0)
    # sums in order along each row (row_sum): neither a matrix product nor sum(axis=1)
    # rounds a row the same whatever the other rows solved with it, and a cache filled in
    # chunks on many processes must hold the same values as one filled here
    people = scaled.loads["population"].to_numpy(dtype=float)
    pop = row_sum(np.clip(frac, 0.0, 1.0) * people[None, :])
    by_class = res.shed_by_class_mw()
    nuclear = row_sum(res.gen_mw[:, nuclear_rows(scaled)])
    return [
        (
            float(res.load_shed_mw[j]),
            float(pop[j]),
            np.array([by_class[c][j] for c in PRIORITY_CLASSES]),
            float(nuclear[j]),
        )
        for j in range(len(full_masks))
    ]


class ShedCache:
    """Load shed by (demand factor, damaged-asset mask), solved once per network."""

    def __init__(self, network: Network):
        self.network = network
        self.n_assets = len(assets(network))
        self.people = float(network.loads["population"].sum())
        self._nets: dict[float, Network] = {}
        self._store: dict[tuple[float, bytes], ShedValue] = {}
        self.solves = 0

    def _scaled(self, factor: float) -> Network:
        if factor not in self._nets:
            self._nets[factor] = scaled_network(self.network, factor)
        return self._nets[factor]

    def __contains__(self, key: tuple[float, bytes]) -> bool:
        return key in self._store

    def entries(self) -> dict[tuple[float, bytes], ShedValue]:
        """The solved table, keyed by (demand factor, packed full mask)."""
        return self._store

    def add(self, entries: dict, *, solved: int = 0) -> None:
        """Take in values solved elsewhere (same network, :func:`solve_shed`)."""
        self._store.update(entries)
        self.solves += solved

    def lookup(self, full_masks: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, ...]:
        """(shed_mw, population_off, shed_by_class_mw, nuclear_mw) for each row (already
        unique)."""
        n = len(full_masks)
        packed = np.packbits(full_masks, axis=1)
        keys = [(float(f), packed[i].tobytes()) for i, f in enumerate(factors)]
        missing = [i for i, k in enumerate(keys) if k not in self._store]
        classes = list(PRIORITY_CLASSES)
        for factor in sorted({keys[i][0] for i in missing}):
            rows = [i for i in missing if keys[i][0] == factor]
            values = solve_shed(self._scaled(factor), full_masks[rows])
            self.solves += len(rows)
            for i, v in zip(rows, values, strict=True):
                self._store[keys[i]] = v
        shed = np.empty(n)
        pop_off = np.empty(n)
        by = np.empty((n, len(classes)))
        nuc = np.empty(n)
        for i, k in enumerate(keys):
            shed[i], pop_off[i], by[i], nuc[i] = self._store[k]
        return shed, pop_off, by, nuc


def price_masks(
    cache: ShedCache, target_rows: np.ndarray, target_masks: np.ndarray, factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shed for many (target mask, demand factor) rows, solving each distinct pair once."""
    n, m = target_masks.shape
    packed = np.packbits(target_masks, axis=1)
    fac = np.asarray(factors, dtype=np.float64)
    key = np.concatenate([packed, fac.view(np.uint8).reshape(n, 8)], axis=1)
    first, inverse = unique_rows(key)
    full = np.zeros((len(first), cache.n_assets), dtype=bool)
    full[:, target_rows] = target_masks[first]
    shed, pop, by, nuc = cache.lookup(full, fac[first])
    return shed[inverse], pop[inverse], by[inverse], nuc[inverse]


_ROW_HASH_MULTIPLIERS = np.random.default_rng(20261130).integers(
    1, 2**63, size=256, dtype=np.uint64
) | np.uint64(1)
"""Odd 64-bit multipliers, one per 32-bit half-word of a row (rows up to 1 kB)."""


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse) of the distinct rows of a 2-D uint8 array: ``rows[first]`` are
    the distinct rows (each at its first occurrence), ``rows[first][inverse] == rows``.

    Why not ``np.unique(axis=0)``: it sorts whole rows as opaque records, 0.8 s for the
    1.1 M run-days of a 3,072-run strike. Here each row is hashed to one uint64 (its
    32-bit half-words times odd 64-bit multipliers, wrapping), the hashes are sorted (a
    1-D sort, ~10x faster), and the grouping is then checked row for row; on a hash
    collision it falls back to the exact sort, so the answer is always exact.
    """
    n, width = rows.shape
    pad = (-width) % 8
    if pad:
        rows = np.concatenate([rows, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    words = np.ascontiguousarray(rows).view(np.uint64)
    if 2 * words.shape[1] <= len(_ROW_HASH_MULTIPLIERS):
        # 32-bit halves widened to 64 bits before the multiply: on whole 64-bit words a
        # difference in the top bit of two words always collided (2**63 * odd = 2**63)
        halves = words.view(np.uint32).astype(np.uint64)
        mult = _ROW_HASH_MULTIPLIERS[: halves.shape[1]]
        with np.errstate(over="ignore"):
            h = (halves * mult[None, :]).sum(axis=1, dtype=np.uint64)
        _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        if np.array_equal(words[first][inverse], words):
            return first, inverse
    return _unique_rows_exact(words)


def _unique_rows_exact(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact (and slow) row sort, for hash collisions and very wide rows."""
    _, first, inverse = np.unique(words, axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


@dataclass(frozen=True)
class Restoration:
    """Per-run outcomes of the recovery (runs along axis 0)."""

    shed_mw: np.ndarray  # (runs, days) shed caused by the strike, daily mean MW
    unserved_energy_mwh: np.ndarray
    unserved_energy_by_class_mwh: np.ndarray  # (runs, classes) in PRIORITY_CLASSES order
    customer_hours: np.ndarray
    cold_customer_hours: np.ndarray
    harm_weighted_customer_hours: np.ndarray
    peak_shed_mw: np.ndarray
    shed_hours: np.ndarray
    restoration_days: np.ndarray
    restored_within_horizon: np.ndarray  # bool
    repaired_day: np.ndarray  # (runs, M) last day out; horizon if never repaired
    temperature_c: np.ndarray  # (days,)
    demand_factor: np.ndarray  # (days,)
    shed_hours_by_class: np.ndarray | None = None  # (runs, classes) hours with shed > 0
    customers_off_share: np.ndarray | None = None  # (runs, days) share of people off
    nuclear_curtailed_mw: np.ndarray | None = None  # (runs, days) nuclear output lost


@dataclass(frozen=True)
class Mobile:
    """Mobile substations and generation the grid operator can bring in.

    ``substations``: units that each stand in for one destroyed transformer-type unit
    (autotransformer, transformer, substation) from ``deploy_days`` after the strike until
    its repair ends, given to the highest-priority units first. ``generation_mw``: mobile
    generation set up at the shed loads from ``deploy_days``; it serves up to that many
    MW of each day's shed, critical classes first (an assumption: it stands where the
    load is cut, and the network around it does not limit it).
    """

    substations: int = 0
    generation_mw: float = 0.0
    deploy_days: int = 3


def top_k(eligible: np.ndarray, priority: np.ndarray, k: int | np.ndarray) -> np.ndarray:
    """(runs, M) True for each run's ``k`` eligible units of highest priority."""
    runs, m = eligible.shape
    order = np.argsort(-np.where(eligible, priority, -np.inf), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(m)[None, :].repeat(runs, 0), axis=1)
    return eligible & (rank < k)


def _spare_grants(damaged, kinds, priority, spares) -> tuple[np.ndarray, np.ndarray]:
    """(needs_spare, got_spare) (runs, M): spares of each pool go to its destroyed units
    with the highest priority first. ``spares``: an int (one pool for every unit that
    needs a spare, the original rule) or a mapping pool -> count."""
    pool = np.array([SPARE_POOL.get(k, "") for k in kinds], dtype=object)
    if isinstance(spares, int | np.integer):
        pool = np.where(pool != "", "all", "")
        counts = {"all": int(spares)}
    else:
        counts = {str(k): int(v) for k, v in spares.items()}
    needs = damaged & (pool != "")[None, :]
    got = np.zeros_like(damaged)
    for name in sorted(set(pool) - {""}):
        got |= top_k(needs & (pool == name)[None, :], priority, counts.get(name, 0))
    return needs, got


def assign_crews(crew_ready: np.ndarray, priority: np.ndarray, crews: int) -> np.ndarray:
    """Which of the (runs x units) ``crew_ready`` units the ``crews`` crews of each run
    work on today: the highest ``priority`` first (all of them when crews suffice)."""
    runs, m = crew_ready.shape
    if crews >= m:
        return crew_ready
    assigned = np.zeros_like(crew_ready)
    if crews > 0:
        score = np.where(crew_ready, priority, -np.inf)
        top = np.argpartition(-score, crews - 1, axis=1)[:, :crews]
        rows = np.arange(runs)[:, None]
        assigned[rows, top] = crew_ready[rows, top]
    return assigned


def repair_schedule(
    damaged: np.ndarray,
    kinds: np.ndarray,
    work_days: np.ndarray,
    lead_days: np.ndarray,
    priority: np.ndarray,
    *,
    crews: int,
    spares: int | dict[str, int],
    horizon_days: int,
) -> np.ndarray:
    """(runs, M) index of the last day each destroyed asset is out (``horizon_days`` if
    it is still out at the horizon); -1 for assets not destroyed.

    ``spares``: one pool (an int, for every transformer-type unit) or counts by pool
    (:data:`SPARE_POOL` names each unit type's pool). A destroyed unit without a spare
    waits its lead time before work starts.
    """
    needs_crew = np.isin(kinds, list(_NEEDS_CREW))[None, :]
    needs, got_spare = _spare_grants(damaged, kinds, priority, spares)
    wait = np.where(needs & ~got_spare, lead_days, 0.0)
    remaining = np.where(damaged, np.maximum(work_days, 1e-9), 0.0)
    last_day = np.where(damaged, horizon_days, -1)
    for day in range(horizon_days):
        active = remaining > 0
        if not active.any():
            break
        ready = active & (wait <= day)
        assigned = assign_crews(ready & needs_crew, priority, crews)
        working = assigned | (ready & ~needs_crew)
        remaining = remaining - working
        done = active & (remaining <= 0)
        last_day[done] = day
    return last_day


def mobile_cover(
    last: np.ndarray, kinds: np.ndarray, priority: np.ndarray, mobile: Mobile
) -> np.ndarray:
    """``last`` with the units bridged by a mobile substation back in service from day
    ``deploy_days`` (the highest-priority transformer-type units still out then)."""
    if mobile.substations <= 0:
        return last
    eligible = np.isin(kinds, list(SPARE_POOL))[None, :] & (last >= mobile.deploy_days)
    covered = top_k(eligible, priority, mobile.substations)
    return np.where(covered, mobile.deploy_days - 1, last)


def priority_masks(damaged: np.ndarray) -> np.ndarray:
    """(runs * (M + 1), M) sets priced to rank repairs: each run's damage, then the same
    minus each asset in turn."""
    runs, m = damaged.shape
    rows = np.concatenate(
        [damaged[:, None, :], damaged[:, None, :] & ~np.eye(m, dtype=bool)[None]], 1
    )
    return rows.reshape(-1, m)


@dataclass(frozen=True, eq=False)
class RestorationSettings:
    """What a restoration runs under, declared once (:func:`barrage.grid.strike.restoration_settings`
    builds it from a scenario): the damaged assets' rows, kinds and capacities, the repair
    times by kind and the transformer lead time, crews, spare pools, the horizon, the
    winter, mobile substations and generation, and the repair priority rule (``"shed"``
    or ``"capacity"``, see :func:`plan_repairs`)."""

    target_rows: np.ndarray
    target_kinds: np.ndarray
    capacity_mw: np.ndarray
    repair: dict[str, RepairSpec]
    lead_time: RepairSpec
    crews: int
    spares: int | dict[str, int]
    horizon_days: int
    winter: Winter
    mobile: Mobile | None = None
    priority_rule: str = "shed"


def plan_repairs(
    cache: ShedCache,
    *,
    damaged: np.ndarray,
    z_work: np.ndarray,
    z_lead: np.ndarray,
    settings: RestorationSettings,
) -> np.ndarray:
    """The first half of :func:`simulate_restoration`: each run's repair schedule
    (:func:`repair_schedule`), its priorities and the units a mobile substation bridges
    (:func:`mobile_cover`).

    ``priority_rule``: ``"shed"`` ranks repairs by the load (MW) each restores alone,
    priced on the strike day (one load-shed solve per destroyed asset and run);
    ``"capacity"`` by the capacity (MW) each brings back, per day of work (no solves:
    with many units per site, most single repairs restore no load on their own)."""
    s = settings
    target_rows, target_kinds, capacity_mw = s.target_rows, s.target_kinds, s.capacity_mw
    repair, lead_time, crews, spares = s.repair, s.lead_time, s.crews, s.spares
    horizon_days, winter, mobile = s.horizon_days, s.winter, s.mobile
    runs, m = damaged.shape
    _, factor = winter.profile(horizon_days)
    median = np.array([repair[k].median_days for k in target_kinds])
    sigma = np.array([repair[k].sigma for k in target_kinds])
    work = median[None, :] * np.exp(sigma[None, :] * z_work)
    lead = lead_time.median_days * np.exp(lead_time.sigma * z_lead)

    if s.priority_rule == "shed":
        # MW of load restored by repairing one asset alone, from the initial damage
        shed0, _, _, _ = price_masks(
            cache, target_rows, priority_masks(damaged), np.full(runs * (m + 1), factor[0])
        )
        shed0 = shed0.reshape(runs, m + 1)
        gain = np.clip(shed0[:, :1] - shed0[:, 1:], 0.0, None)
    else:  # "capacity": MW of capacity each repair brings back, no load-shed solves
        gain = np.zeros((runs, m))
        capacity_mw = capacity_mw * 1e3
    priority = (gain + 1e-3 * capacity_mw[None, :] + 1e-6) / np.maximum(work, 1e-3)
    last = repair_schedule(
        damaged,
        target_kinds,
        work,
        lead,
        priority,
        crews=crews,
        spares=spares,
        horizon_days=horizon_days,
    )
    return mobile_cover(last, target_kinds, priority, mobile or Mobile())


def serve_with_mobile_generation(
    shed: np.ndarray, by_day: np.ndarray, mobile: Mobile
) -> tuple[np.ndarray, np.ndarray]:
    """Shed (runs, days) and shed by class (runs, days, classes) after mobile generation
    serves up to ``generation_mw`` of each day's shed from ``deploy_days``, the classes
    with the highest value of lost load first."""
    if mobile.generation_mw <= 0:
        return shed, by_day
    days = shed.shape[1]
    cap = np.where(np.arange(days) >= mobile.deploy_days, mobile.generation_mw, 0.0)[None, :]
    order = np.argsort([-v for v in PRIORITY_CLASSES.values()], kind="stable")
    left = np.broadcast_to(cap, shed.shape).copy()
    out = by_day.copy()
    for c in order:
        served = np.minimum(out[:, :, c], left)
        out[:, :, c] -= served
        left -= served
    return out.sum(axis=2), out


def people_still_off(
    people_off: np.ndarray, shed_mw: np.ndarray, shed_after_mw: np.ndarray
) -> np.ndarray:
    """People without power once some of the shed is served (mobile generation): back
    in proportion to the MW served, none where no shed is left."""
    ratio = shed_after_mw / np.where(shed_mw > 0, shed_mw, 1.0)
    return people_off * np.where(shed_after_mw > 0, ratio, 0.0)


def restoration_outcomes(
    cache: ShedCache,
    *,
    damaged: np.ndarray,
    last: np.ndarray,
    settings: RestorationSettings,
) -> Restoration:
    """The second half of :func:`simulate_restoration`: each day's damaged set priced
    under the day's demand, and the per-run outcomes. Row by row: a slice of runs gives
    the same slice of the outcomes."""
    target_rows, horizon_days, winter = settings.target_rows, settings.horizon_days, settings.winter
    runs, m = damaged.shape
    mobile = settings.mobile or Mobile()
    temp, factor = winter.profile(horizon_days)
    base_shed, base_pop, base_by, base_nuc = price_masks(
        cache, target_rows, np.zeros((horizon_days, m), dtype=bool), factor
    )
    days = np.arange(horizon_days)
    n_cls = len(PRIORITY_CLASSES)
    shed = np.zeros((runs, horizon_days))
    pop = np.zeros((runs, horizon_days))
    nuc = np.zeros((runs, horizon_days))
    by_day = np.zeros((runs, horizon_days, n_cls))
    for start in range(0, runs, 1024):  # bounded memory: runs x days x assets per block
        sl = slice(start, min(start + 1024, runs))
        out = damaged[sl, None, :] & (last[sl, None, :] >= days[None, :, None])
        r = out.shape[0]
        s, p, b, n = price_masks(cache, target_rows, out.reshape(-1, m), np.tile(factor, r))
        shed[sl] = np.clip(s.reshape(r, -1) - base_shed[None, :], 0.0, None)
        pop[sl] = np.clip(p.reshape(r, -1) - base_pop[None, :], 0.0, None)
        lost = base_nuc[None, :] - n.reshape(r, -1)
        nuc[sl] = np.where(lost > _TOL_MW, lost, 0.0)
        by_day[sl] = np.clip(b.reshape(r, horizon_days, n_cls) - base_by[None], 0.0, None)
    served_shed, by_day = serve_with_mobile_generation(shed, by_day, mobile)
    pop, shed = people_still_off(pop, shed, served_shed), served_shed
    by_class = by_day.sum(axis=1) * _HOURS_PER_DAY
    cold = temp < 0.0
    weight = 1.0 + winter.cold_harm_weight_per_degc * np.maximum(0.0, -temp)
    customer_h = pop * _HOURS_PER_DAY
    shedding = shed > _TOL_MW
    restored = ~(damaged & (last >= horizon_days)).any(axis=1)
    people = cache.people
    return Restoration(
        shed_mw=shed,
        unserved_energy_mwh=row_sum(shed) * _HOURS_PER_DAY,
        unserved_energy_by_class_mwh=by_class,
        customer_hours=row_sum(customer_h),
        cold_customer_hours=row_sum(customer_h[:, cold]),
        harm_weighted_customer_hours=row_sum(customer_h * weight[None, :]),
        peak_shed_mw=shed.max(axis=1),
        shed_hours=shedding.sum(axis=1) * _HOURS_PER_DAY,
        restoration_days=np.where(
            damaged.any(axis=1), np.minimum(np.max(last, axis=1) + 1, horizon_days), 0
        ),
        restored_within_horizon=restored,
        repaired_day=last,
        temperature_c=temp,
        demand_factor=factor,
        shed_hours_by_class=(by_day > _TOL_MW).sum(axis=1) * _HOURS_PER_DAY,
        customers_off_share=pop / people if people > 0 else np.zeros_like(pop),
        nuclear_curtailed_mw=nuc,
    )


def simulate_restoration(
    network: Network,
    cache: ShedCache,
    *,
    damaged: np.ndarray,
    z_work: np.ndarray,
    z_lead: np.ndarray,
    settings: RestorationSettings,
) -> Restoration:
    """Recovery of each run's damage; see the module notes for the model."""
    last = plan_repairs(cache, damaged=damaged, z_work=z_work, z_lead=z_lead, settings=settings)
    return restoration_outcomes(cache, damaged=damaged, last=last, settings=settings)
