"""The night-by-night engine of one chunk of campaign runs, vectorised over runs.

Each day ``d`` of a run, in this order:

1. The attacker's stock grows by its production (a rate drawn per run).
2. Night: the attacker strikes if ``min_lull_days`` have passed since its last strike,
   with probability ``strike_rate_per_day``. The salvo is ``stock_share_per_strike`` of
   the stock times a lognormal factor, never more than the stock, in the mix of the
   strike scenario's salvo (its counts scaled by a factor floored to 1/16).
3. The salvo goes through :func:`barrage.salvo.engine.simulate` with each layer's
   ``stock`` set to the defender's inventory (floored to a coarse grid of levels, so runs
   share compiled scenarios): an empty layer fires nothing and kills nothing, and the
   interceptors used leave the inventory.
4. A share ``repeat_share`` of the leakers is re-aimed at sites already damaged in the
   run (the rest keep the salvo's aim); damage is drawn unit by unit with
   :func:`barrage.grid.strike.draw_damage`. A newly destroyed unit needs its repair
   work (lognormal, the grid's repair table) and, for transformer-type units, a spare
   from its pool; without one it waits the manufacturing lead time.
5. Day: the damaged set is priced with :func:`barrage.grid.restoration.price_masks`
   under the day's demand (temperature), minus the intact network's shed.
6. The crews work on the ready units with the most capacity per day of work left (as
   ``repair_priority: capacity`` in the one-strike model); plants need no grid crew.
7. Interceptor resupply arrives.

Step 5 is done after the play, for all chunks at once (:func:`price_played`): each chunk
returns its distinct (damaged set, demand level) pairs, the caller merges them and
solves every distinct pair once (on workers, in pieces), so two workers never solve the
same set twice. A pair's load shed does not depend on the other pairs solved with it
(every LP starts from the intact network's basis), so the pieces change no number.

Compiled salvo scenarios are kept per process (:data:`_COMPILED`), across nights and
chunks. A run's numbers depend on its chunk's seed and members, so chunks are fixed by the
run count alone (never by the scheduler) and every scheduler gives the same numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from barrage.campaign.asof import attacker_as_of
from barrage.campaign.scenario import CampaignScenario
from barrage.errors import InputError
from barrage.grid.network import PRIORITY_CLASSES
from barrage.grid.restoration import (
    SPARE_POOL,
    Mobile,
    assign_crews,
    default_repair,
    people_still_off,
    scaled_network,
    serve_with_mobile_generation,
    solve_shed,
    top_k,
    unique_rows,
)
from barrage.grid.strike import (
    StrikeModel,
    build_strike_model,
    draw_damage,
    example_strike_scenarios,
    load_strike_scenario,
)
from barrage.record.nights import MASSIVE_MISSILES
from barrage.record.taxonomy import MISSILE_CLASSES
from barrage.salvo.compile import CompiledScenario, compile_scenario
from barrage.salvo.engine import simulate
from barrage.salvo.result import SalvoResult
from barrage.salvo.scenario import Scenario, load_families

SIZE_STEPS = 16  # salvo scale factors are multiples of 1/16 of the strike scenario's salvo
MAX_SCALE = 3.0
_NEEDS_CREW = ("substation", "transformer", "line", "autotransformer", "bay")
_H_PER_DAY = 24.0


def stock_levels(limit: float = 1e6) -> np.ndarray:
    """Inventory levels a layer's stock is floored to: 0..8, then about x1.25 a step."""
    levels = [0, 1, 2, 3, 4, 5, 6, 7, 8]
    while levels[-1] < limit:
        levels.append(int(np.ceil(levels[-1] * 1.25)))
    return np.array(levels, dtype=np.int64)


_LEVELS = stock_levels()


def floor_level(inventory: np.ndarray) -> np.ndarray:
    """Each inventory floored to a level of :func:`stock_levels` (never above it)."""
    idx = np.searchsorted(_LEVELS, np.floor(inventory), side="right") - 1
    return _LEVELS[np.clip(idx, 0, len(_LEVELS) - 1)]


@dataclass(frozen=True)
class CampaignContext:
    """What every chunk needs, built once: the grid model, the base salvo, the climate."""

    scenario: CampaignScenario
    model: StrikeModel
    salvo: Scenario
    layer_names: tuple[str, ...]
    stocked: np.ndarray  # (L,) bool: the campaign tracks this layer's inventory
    stock0: np.ndarray  # (L,)
    resupply_per_day: np.ndarray  # (L,)
    base_weapons: int
    temperature_c: np.ndarray  # (days,)
    demand_factor: np.ndarray  # (days,)
    dates: tuple[str, ...]
    crews: int
    spares: dict
    spares_resupply_per_day: dict  # pool -> spares delivered per day (fractions accrue)
    class_load_mw: np.ndarray  # (C,) load of each priority class at demand factor 1
    attacker_draws: np.ndarray | None = None  # (n, 2) stock, production/day (stockpile)
    as_of: dict | None = None  # what was read from the record as of the start date
    launches: dict | None = None  # nightly missiles: NB "mean", "dispersion" (launch model)
    base_missiles: int = 0  # missiles in the strike scenario's salvo
    mobile: Mobile = Mobile()  # mobile generation serving shed load (grid.restoration)


def daily_temperature(scenario: CampaignScenario) -> np.ndarray:
    """The supplied series, else the monthly normals interpolated to each day (mid-month
    knots, wrapping over the year)."""
    days = pd.date_range(scenario.start, periods=scenario.days, freq="D")
    given = np.asarray(scenario.climate.temperature_c, dtype=float)
    if len(given):
        if len(given) < scenario.days:
            raise InputError(
                f"{scenario.source}: climate.temperature_c: expected {scenario.days} daily "
                f"values from {scenario.start}, got {len(given)}"
            )
        return given[: scenario.days]
    normals = np.asarray(scenario.climate.monthly_normals_c, dtype=float)
    doy = days.dayofyear.to_numpy() - 1.0
    knots = (np.arange(12) + 0.5) * 365.25 / 12
    return np.interp(doy, knots, normals, period=365.25)


def with_extra_layers(salvo: Scenario, scenario: CampaignScenario) -> Scenario:
    """The strike scenario's salvo with the campaign's ``extra_layers`` engaging first
    (outermost: interceptor drones meet the drones before the guns and missiles do)."""
    if not scenario.extra_layers:
        return salvo
    known = {layer.name for layer in salvo.layers}
    for i, layer in enumerate(scenario.extra_layers):
        if layer.name in known:
            raise InputError(
                f"{scenario.source}: extra_layers[{i}].name: {layer.name!r} is already a layer "
                "of the strike scenario; expected a new name"
            )
        known.add(layer.name)
    return salvo.model_copy(update={"layers": [*scenario.extra_layers, *salvo.layers]})


def missiles_in(salvo: Scenario) -> int:
    """Weapons of a missile class (cruise, ballistic, ...) in the salvo."""
    fams = load_families()
    return sum(
        wg.count
        for wg in salvo.salvo.weapons
        if wg.family in fams and fams[wg.family].weapon_class in MISSILE_CLASSES
    )


def _resolve_strike(scenario: CampaignScenario):
    known = example_strike_scenarios()
    if scenario.strike in known:
        return load_strike_scenario(known[scenario.strike])
    path = (scenario.base_dir / scenario.strike) if scenario.base_dir else scenario.strike
    return load_strike_scenario(path)


def layer_count(scenario: CampaignScenario) -> int:
    """How many layers a season of ``scenario`` plays (its strike scenario's and its extra
    ones), read from the files alone, so a size check can run before any cluster or fit."""
    return len(_resolve_strike(scenario).salvo.layers) + len(scenario.extra_layers)


def _check_layers(scenario: CampaignScenario, names: list[str]) -> None:
    for name in scenario.defender:
        if name not in names:
            raise InputError(
                f"{scenario.source}: defender.{name}: unknown layer; allowed: " + ", ".join(names)
            )
    for i, p in enumerate(scenario.packages):
        for key in (*p.interceptors, *p.resupply_per_day):
            if key not in names:
                raise InputError(
                    f"{scenario.source}: packages[{i}].interceptors.{key}: unknown layer; "
                    "allowed: " + ", ".join(names)
                )


def build_context(
    scenario: CampaignScenario, *, grid_dir=None, model: StrikeModel | None = None, db=None
) -> CampaignContext:
    """Bind the scenario to its strike scenario and network; check layer names. ``db``:
    a store; the strike rate and the attacker's stock and production are then read as of
    the start date (:mod:`barrage.campaign.asof`) instead of the scenario's."""
    if model is None:
        model = build_strike_model(_resolve_strike(scenario), grid_dir=grid_dir)
    draws, as_of, launches = None, None, None
    if db is not None:
        launches, draws, as_of = attacker_as_of(db, scenario, model.scenario.salvo)
    salvo = with_extra_layers(model.scenario.salvo, scenario)
    names = [layer.name for layer in salvo.layers]
    _check_layers(scenario, names)
    stocked = np.array([n in scenario.defender for n in names], dtype=bool)
    stock0 = np.array(
        [scenario.defender[n].stock if n in scenario.defender else 0.0 for n in names]
    )
    resupply = np.array(
        [scenario.defender[n].resupply_per_day if n in scenario.defender else 0.0 for n in names]
    )
    temp = daily_temperature(scenario)
    w = model.scenario.grid.winter
    uplift = w.heating_sensitivity_per_degc * np.maximum(0.0, w.reference_temperature_c - temp)
    factor = np.round(1.0 + w.demand_step * np.rint(uplift / w.demand_step), 6)
    g = model.scenario.grid
    spares = {"transformer": g.spare_transformers, "autotransformer": g.spare_transformers}
    spares.update(g.spares)
    for pool in scenario.spares_resupply_per_day:
        if pool not in spares:
            raise InputError(
                f"{scenario.source}: spares_resupply_per_day.{pool}: unknown spare pool; "
                "allowed: " + ", ".join(spares)
            )
    loads = model.network.loads
    class_load = np.array(
        [loads.loc[loads["priority_class"] == c, "p_mw"].sum() for c in PRIORITY_CLASSES]
    )
    dates = tuple(
        d.date().isoformat() for d in pd.date_range(scenario.start, periods=scenario.days)
    )
    return CampaignContext(
        scenario=scenario,
        model=replace(model, prior_out=np.zeros(len(model.target_ids), dtype=bool)),
        salvo=salvo,
        layer_names=tuple(names),
        stocked=stocked,
        stock0=stock0,
        resupply_per_day=resupply,
        base_weapons=sum(wg.count for wg in salvo.salvo.weapons),
        temperature_c=temp,
        demand_factor=factor,
        dates=dates,
        crews=g.crews,
        spares=spares,
        spares_resupply_per_day=dict(scenario.spares_resupply_per_day),
        class_load_mw=class_load,
        attacker_draws=draws,
        as_of=as_of,
        launches=launches,
        base_missiles=missiles_in(salvo),
        mobile=Mobile(generation_mw=g.mobile_generation_mw, deploy_days=g.mobile_deploy_days),
    )


@dataclass(frozen=True)
class CampaignRuns:
    """Per-run, per-day outcomes of a chunk (runs along axis 0, days along axis 1)."""

    shed_mw: np.ndarray  # (R, D) shed caused by the campaign, daily mean MW
    customers_off_share: np.ndarray  # (R, D) share of people without power
    shed_by_class_mw: np.ndarray  # (R, D, C) in PRIORITY_CLASSES order
    interceptors: np.ndarray  # (R, D, L) inventory at the end of each day
    interceptors_used: np.ndarray  # (R, D, L)
    interceptors_available: np.ndarray  # (R, D, L) stock the salvo engine was given
    kills: np.ndarray  # (R, D, L)
    attacker_stock: np.ndarray  # (R, D) after the night's launch
    launched: np.ndarray  # (R, D) weapons launched
    units_out: np.ndarray  # (R, D) destroyed units still out at the end of the day
    crew_days: np.ndarray  # (R, D) crew-days of work done
    spares_left: np.ndarray  # (R, D) spares in every pool at the end of the day

    @staticmethod
    def concat(parts: list[CampaignRuns]) -> CampaignRuns:
        fields = CampaignRuns.__dataclass_fields__
        return CampaignRuns(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in fields})


def scaled_salvo(salvo: Scenario, scale: float, stock: np.ndarray, stocked: np.ndarray) -> Scenario:
    """The salvo with every weapon count times ``scale`` (floored) and each tracked
    layer's ``stock`` set to the given level."""
    weapons = []
    for wg in salvo.salvo.weapons:
        if wg.waves:
            waves = [
                w.model_copy(update={"count": int(np.floor(w.count * scale))}) for w in wg.waves
            ]
            waves = [w for w in waves if w.count > 0]
            n = sum(w.count for w in waves)
            if n:
                weapons.append(wg.model_copy(update={"count": n, "waves": waves}))
        elif (n := int(np.floor(wg.count * scale))) > 0:
            weapons.append(wg.model_copy(update={"count": n}))
    layers = [
        layer.model_copy(update={"stock": int(s)}) if keep else layer
        for layer, s, keep in zip(salvo.layers, stock, stocked, strict=True)
    ]
    return salvo.model_copy(
        update={"salvo": salvo.salvo.model_copy(update={"weapons": weapons}), "layers": layers}
    )


_COMPILED: dict[tuple, CompiledScenario] = {}
"""Compiled salvo scenarios of this process by (salvo and tracked layers, scale step,
stock levels): reused across nights, chunks and calls (a worker keeps its own)."""
_COMPILED_MAX = 20_000


class _Compiled:
    """Compiled salvo scenarios by (scale step, layer stock levels), built on first use and
    kept in :data:`_COMPILED` (compiling is deterministic, so sharing changes no number)."""

    def __init__(self, ctx: CampaignContext):
        self.ctx = ctx
        blob = ctx.salvo.model_dump_json().encode() + ctx.stocked.tobytes()
        self._prefix = hashlib.sha256(blob).hexdigest()

    def get(self, step: int, levels: tuple[int, ...]) -> CompiledScenario:
        key = (self._prefix, step, levels)
        if key not in _COMPILED:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            sc = scaled_salvo(self.ctx.salvo, step / SIZE_STEPS, np.array(levels), self.ctx.stocked)
            _COMPILED[key] = compile_scenario(sc)
        return _COMPILED[key]


def _reaim(salvo: SalvoResult, damaged_site: np.ndarray, share: float, rng) -> SalvoResult:
    """A share of each site's leakers moved to the run's damaged sites (uniformly); runs
    with no damaged site keep the salvo's aim."""
    by_site = np.asarray(salvo.leakers_by_asset, dtype=np.int64)
    if share <= 0 or not damaged_site.any():
        return salvo
    moved = rng.binomial(by_site, share)
    has = damaged_site.any(axis=1)
    moved[~has] = 0
    p = np.where(has[:, None], damaged_site, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    gained = rng.multinomial(moved.sum(axis=1), p)
    return replace(salvo, leakers_by_asset=by_site - moved + gained)


def _site_damage(model: StrikeModel, out: np.ndarray) -> np.ndarray:
    """(R, A) True where a site has a unit out."""
    return (out.astype(float) @ (model.site_share > 0).T.astype(float)) > 0


@dataclass
class _State:
    out: np.ndarray  # (R, M) bool
    work: np.ndarray  # (R, M) days of work left
    wait: np.ndarray  # (R, M) days until parts arrive
    spares: dict  # pool -> (R,) spares left (float: deliveries accrue by fractions)
    awaiting: np.ndarray  # (R, M) bool: out, waiting for a spare its pool did not have
    stock: np.ndarray  # (R,) attacker weapons
    inventory: np.ndarray  # (R, L) interceptors
    lull: np.ndarray  # (R,) days since the last strike


def _initial_state(ctx: CampaignContext, rng: np.random.Generator, runs: int):
    a = ctx.scenario.attacker
    m = len(ctx.model.target_ids)
    if ctx.attacker_draws is not None:  # the stockpile model's draws as of the start
        pick = ctx.attacker_draws[rng.integers(len(ctx.attacker_draws), size=runs)]
        stock, production = pick[:, 0], pick[:, 1]
    else:
        stock = rng.uniform(a.stock_start.low, a.stock_start.high, runs)
        production = rng.uniform(a.production_per_day.low, a.production_per_day.high, runs)
    state = _State(
        out=np.zeros((runs, m), dtype=bool),
        work=np.zeros((runs, m)),
        wait=np.zeros((runs, m)),
        spares={k: np.full(runs, float(int(v))) for k, v in ctx.spares.items()},
        awaiting=np.zeros((runs, m), dtype=bool),
        stock=np.floor(stock),
        inventory=np.tile(ctx.stock0, (runs, 1)).astype(float),
        lull=np.full(runs, 10**6),
    )
    return state, production


def _strike_scale(ctx: CampaignContext, st: _State, rng, runs: int) -> np.ndarray:
    """(R,) salvo scale step (multiples of 1/SIZE_STEPS); 0 = no strike tonight.

    With the launch model (``ctx.launches``): tonight's missiles are a draw of its nightly
    negative binomial; a night of at least ``MASSIVE_MISSILES`` after the lull is a strike
    of that many missiles, the rest of the mix in the salvo's proportions. Without: the
    stated doctrine (a rate after the lull, a share of the stock). Never above the stock."""
    a = ctx.scenario.attacker
    if ctx.launches is not None and ctx.base_missiles > 0:
        mean, r = ctx.launches["mean"], ctx.launches["dispersion"]
        missiles = rng.negative_binomial(r, r / (r + mean), runs)
        go = (st.lull >= a.min_lull_days) & (missiles >= MASSIVE_MISSILES)
        size = missiles * (ctx.base_weapons / ctx.base_missiles)
    else:
        go = (st.lull >= a.min_lull_days) & (rng.random(runs) < a.strike_rate_per_day)
        size = (
            a.stock_share_per_strike * st.stock * np.exp(a.size_sigma * rng.standard_normal(runs))
        )
    size = np.minimum(size, st.stock)
    step = np.floor(size / ctx.base_weapons * SIZE_STEPS).astype(np.int64)
    step = np.minimum(step, int(MAX_SCALE * SIZE_STEPS))
    return np.where(go, step, 0)


def _new_damage(ctx, st: _State, compiled: _Compiled, step, rng) -> dict:
    """The night's salvos, grouped by (scale, layer levels); returns per-run arrays."""
    runs = len(step)
    n_l = len(ctx.layer_names)
    res = {
        "new": np.zeros_like(st.out),
        "used": np.zeros((runs, n_l)),
        "avail": np.where(ctx.stocked[None, :], floor_level(st.inventory), np.inf),
        "kills": np.zeros((runs, n_l)),
        "launched": np.zeros(runs),
    }
    striking = np.flatnonzero(step > 0)
    if not striking.size:
        return res
    levels = floor_level(st.inventory[striking]) * ctx.stocked[None, :]
    keys = np.column_stack([step[striking], levels])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    sites = _site_damage(ctx.model, st.out)
    for g, key in enumerate(uniq):
        rows = striking[inverse.ravel() == g]
        cs = compiled.get(int(key[0]), tuple(int(x) for x in key[1:]))
        seed = int(rng.integers(2**31))
        salvo = simulate(cs, runs=len(rows), seed=seed)
        salvo = _reaim(salvo, sites[rows], ctx.scenario.attacker.repeat_share, rng)
        res["new"][rows] = draw_damage(ctx.model, salvo, seed)
        res["used"][rows] = salvo.interceptors_by_layer
        res["kills"][rows] = salvo.kills_by_layer
        res["launched"][rows] = cs.n_weapons
    return res


def _start_repairs(ctx, st: _State, new: np.ndarray, rng) -> None:
    """Newly destroyed units get their work and, if they need one, a spare or a wait."""
    model = ctx.model
    kinds = model.target_kinds
    fresh = new & ~st.out
    if not fresh.any():
        return
    repair = {**default_repair(), **model.scenario.grid.repair}
    median = np.array([repair[k].median_days for k in kinds])
    sigma = np.array([repair[k].sigma for k in kinds])
    z = rng.standard_normal(fresh.shape)
    st.work = np.where(fresh, median * np.exp(sigma * z), st.work)
    lead = model.scenario.grid.transformer_lead_time
    lead_days = lead.median_days * np.exp(lead.sigma * rng.standard_normal(fresh.shape))
    pool_of = np.array([SPARE_POOL.get(k, "") for k in kinds])
    prio = np.broadcast_to(model.capacity_mw, fresh.shape)
    for pool in sorted(set(pool_of) - {""}):
        needs = fresh & (pool_of == pool)[None, :]
        left = st.spares.get(pool, np.zeros(len(fresh)))
        got = top_k(needs, prio, np.floor(left)[:, None])
        st.spares[pool] = left - got.sum(axis=1)
        st.wait = np.where(needs & ~got, lead_days, st.wait)
        st.awaiting |= needs & ~got
    st.out |= fresh


def deliver_spares(ctx: CampaignContext, st: _State) -> None:
    """The day's spares arrive (``spares_resupply_per_day``, fractions accrue) and go to
    the units waiting for one, largest capacity first; a unit served stops waiting for
    the manufacturing lead time."""
    kinds = ctx.model.target_kinds
    pool_of = np.array([SPARE_POOL.get(k, "") for k in kinds])
    for pool, rate in ctx.spares_resupply_per_day.items():
        st.spares[pool] = st.spares[pool] + rate
        waiting = st.awaiting & (pool_of == pool)[None, :]
        if not waiting.any():
            continue
        got = top_k(waiting, ctx.model.capacity_mw[None, :], np.floor(st.spares[pool])[:, None])
        st.spares[pool] = st.spares[pool] - got.sum(axis=1)
        st.wait = np.where(got, 0.0, st.wait)
        st.awaiting &= ~got


def repair_day(out, work, wait, needs_crew, priority, crews: int):
    """One day of work: ready units (parts on site) are worked on, crew-needing ones by
    at most ``crews`` crews (highest priority first). Returns (out, work, wait, crew_days)."""
    ready = out & (wait <= 0)
    assigned = assign_crews(ready & needs_crew[None, :], priority, crews)
    working = assigned | (ready & ~needs_crew[None, :])
    work = np.where(working, work - 1.0, work)
    done = out & working & (work <= 0)
    return out & ~done, np.where(done, 0.0, work), np.maximum(wait - 1.0, 0.0), assigned.sum(axis=1)


def play_chunk(ctx: CampaignContext, chunk: tuple[int, np.random.SeedSequence]) -> PlayedChunk:
    """Play ``chunk = (runs, seed sequence)`` runs of the season, night by night; the
    load shed is priced later (:func:`price_played`)."""
    runs, seq = chunk
    rng = np.random.Generator(np.random.PCG64(seq))
    st, production = _initial_state(ctx, rng, runs)
    compiled = _Compiled(ctx)
    model = ctx.model
    days, n_l = ctx.scenario.days, len(ctx.layer_names)
    rec = {
        "interceptors": np.zeros((runs, days, n_l)),
        "interceptors_used": np.zeros((runs, days, n_l)),
        "interceptors_available": np.zeros((runs, days, n_l)),
        "kills": np.zeros((runs, days, n_l)),
        "attacker_stock": np.zeros((runs, days)),
        "launched": np.zeros((runs, days)),
        "units_out": np.zeros((runs, days)),
        "crew_days": np.zeros((runs, days)),
        "spares_left": np.zeros((runs, days)),
    }
    masks = np.zeros((runs, days, len(model.target_ids)), dtype=bool)
    needs_crew = np.isin(model.target_kinds, _NEEDS_CREW)
    for d in range(days):
        st.stock = st.stock + production
        step = _strike_scale(ctx, st, rng, runs)
        night = _new_damage(ctx, st, compiled, step, rng)
        st.stock = st.stock - night["launched"]
        st.lull = np.where(step > 0, 0, st.lull + 1)
        st.inventory = st.inventory - np.where(ctx.stocked[None, :], night["used"], 0.0)
        _start_repairs(ctx, st, night["new"], rng)
        masks[:, d] = st.out
        priority = model.capacity_mw[None, :] / np.maximum(st.work, 1e-3)
        st.out, st.work, st.wait, crew_days = repair_day(
            st.out, st.work, st.wait, needs_crew, priority, ctx.crews
        )
        st.awaiting &= st.out & (st.wait > 0)
        st.inventory = st.inventory + ctx.resupply_per_day[None, :]
        deliver_spares(ctx, st)
        rec["interceptors"][:, d] = np.where(ctx.stocked[None, :], st.inventory, np.nan)
        rec["interceptors_used"][:, d] = night["used"]
        rec["interceptors_available"][:, d] = night["avail"]
        rec["kills"][:, d] = night["kills"]
        rec["attacker_stock"][:, d] = st.stock
        rec["launched"][:, d] = night["launched"]
        rec["units_out"][:, d] = st.out.sum(axis=1)
        rec["crew_days"][:, d] = crew_days
        rec["spares_left"][:, d] = sum(st.spares.values(), np.zeros(runs))
    keys, index = pair_keys(masks, ctx.demand_factor)
    return PlayedChunk(rec=rec, keys=keys, index=index)


_SHED_FIELDS = ("shed_mw", "customers_off_share", "shed_by_class_mw")


@dataclass(frozen=True)
class PlayedChunk:
    """A chunk played but not yet priced: every outcome of :class:`CampaignRuns` but the
    load shed, and its run-days as rows of its distinct (damaged set, demand) pairs."""

    rec: dict  # CampaignRuns fields other than _SHED_FIELDS, (R, D, ...) each
    keys: np.ndarray  # (K, W) uint8: packed damaged set, then the demand factor's 8 bytes
    index: np.ndarray  # (R, D) int32: row of ``keys`` of each run-day


def pair_keys(masks: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, (R, D) row of each run-day) of ``masks`` (R, D, M) under the day's
    demand ``factors`` (D,): a chunk sends each damaged set once, not each run-day."""
    runs, days, m = masks.shape
    fac = np.tile(np.asarray(factors, dtype=np.float64), runs)
    key = np.concatenate(
        [np.packbits(masks.reshape(-1, m), axis=1), fac.view(np.uint8).reshape(-1, 8)], axis=1
    )
    first, inverse = unique_rows(key)
    return key[first], inverse.reshape(runs, days).astype(np.int32)


def _split_key(ctx: CampaignContext, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(full-network masks (K, assets), demand factors (K,)) of packed keys."""
    m = len(ctx.model.target_rows)
    nb = keys.shape[1] - 8
    target = np.unpackbits(keys[:, :nb], axis=1, count=m).astype(bool)
    full = np.zeros((len(keys), ctx.model.cache.n_assets), dtype=bool)
    full[:, ctx.model.target_rows] = target
    factors = np.ascontiguousarray(keys[:, nb:]).view(np.float64).ravel()
    return full, factors


ShedPiece = tuple[float, np.ndarray]
"""(demand factor, full-network masks (n, assets)): one LP batch for a worker."""


def shed_pieces(ctx: CampaignContext, keys: np.ndarray, piece_rows: int) -> list[ShedPiece]:
    """The pairs of ``keys`` not yet in the context's cache, by demand factor, cut into
    pieces of at most ``piece_rows`` masks (each piece builds its LP once)."""
    full, factors = _split_key(ctx, keys)
    packed = np.packbits(full, axis=1)
    cache = ctx.model.cache
    todo = np.array(
        [(float(f), packed[i].tobytes()) not in cache for i, f in enumerate(factors)], dtype=bool
    )
    pieces = []
    for f in np.unique(factors[todo]):
        rows = np.flatnonzero(todo & (factors == f))
        for lo in range(0, len(rows), max(1, piece_rows)):
            pieces.append((float(f), full[rows[lo : lo + piece_rows]]))
    return pieces


def solve_piece(ctx: CampaignContext, piece: ShedPiece) -> dict:
    """Cache entries (:class:`barrage.grid.restoration.ShedCache`) of one piece: its
    masks' load shed under its demand level (a task: it leaves the context unchanged)."""
    factor, full = piece
    values = solve_shed(scaled_network(ctx.model.cache.network, factor), full)
    packed = np.packbits(full, axis=1)
    return {(factor, packed[i].tobytes()): v for i, v in enumerate(values)}


def price_played(
    ctx: CampaignContext,
    parts: list[PlayedChunk],
    solve: Callable[[list[ShedPiece]], list[dict]],
    piece_rows: int = 1_000_000,
) -> CampaignRuns:
    """The chunks' runs priced: their distinct (damaged set, demand) pairs merged, the
    unsolved ones solved through ``solve`` (``[solve_piece(ctx, p) for p in pieces]``,
    or the same on workers), each run-day's shed minus the intact network's that day."""
    intact = np.zeros((1, len(ctx.demand_factor), len(ctx.model.target_rows)), dtype=bool)
    intact_keys, intact_index = pair_keys(intact, ctx.demand_factor)
    stacked = np.concatenate([intact_keys, *(p.keys for p in parts)])
    first, inverse = unique_rows(stacked)
    keys = stacked[first]
    for entries in solve(shed_pieces(ctx, keys, piece_rows)):
        ctx.model.cache.add(entries, solved=len(entries))
    shed, pop, by, _ = ctx.model.cache.lookup(*_split_key(ctx, keys))
    base = inverse[intact_index[0]]  # (D,) the intact network's row each day
    people = ctx.model.cache.people
    priced, lo = [], len(intact_keys)
    for p in parts:
        rows = inverse[lo : lo + len(p.keys)][p.index]  # (R, D)
        lo += len(p.keys)
        off = np.clip(pop[rows] - pop[base][None, :], 0.0, None)
        run_shed, run_by, off = _after_mobile_generation(
            ctx.mobile,
            np.clip(shed[rows] - shed[base][None, :], 0.0, None),
            np.clip(by[rows] - by[base][None], 0.0, None),
            off,
        )
        priced.append(
            CampaignRuns(
                shed_mw=run_shed,
                customers_off_share=off / people if people > 0 else off * 0.0,
                shed_by_class_mw=run_by,
                **p.rec,
            )
        )
    return CampaignRuns.concat(priced)


def _after_mobile_generation(mobile: Mobile, shed, by_class, people_off):
    """The campaign's shed, shed by class and people off after mobile generation serves
    up to ``mobile.generation_mw`` a day, critical classes first, of the shed that has
    lasted ``mobile.deploy_days`` (as in the one-strike model, where the gensets arrive
    that many days after the strike; here after each outage begins, so a new strike's
    shed waits for them too). People come back in proportion to the MW served."""
    if mobile.generation_mw <= 0:
        return shed, by_class, people_off
    eligible = _lasting(by_class, mobile.deploy_days)
    _, unserved = serve_with_mobile_generation(
        eligible.sum(axis=2), eligible, replace(mobile, deploy_days=0)
    )
    served = eligible - unserved
    by_after = by_class - served
    after = by_after.sum(axis=2)
    return after, by_after, people_still_off(people_off, shed, after)


def _lasting(by_class: np.ndarray, days: int) -> np.ndarray:
    """(R, D, C) the shed of each class that has lasted ``days`` days before each day:
    the least of that day's and the ``days`` days before it (none before the season)."""
    out = by_class.copy()
    for k in range(1, days + 1):
        before = np.zeros_like(by_class)
        before[:, k:] = by_class[:, :-k]
        np.minimum(out, before, out=out)
    return out


def run_chunk(ctx: CampaignContext, chunk: tuple[int, np.random.SeedSequence]) -> CampaignRuns:
    """One chunk played and priced in this process (tests, small jobs)."""
    return price_played(
        ctx, [play_chunk(ctx, chunk)], lambda pieces: [solve_piece(ctx, p) for p in pieces]
    )
