"""The salvo engine: a layered air defence against a mixed salvo, vectorised over runs.

Model, per run (all runs at once as ``runs x weapons`` arrays):

1. Each weapon draws an arrival time, uniform in its group's window, and a target asset
   from the attacker's aim. Weapons are put in arrival order (stable radix sort on a
   16-bit time, 0.7 s resolution over a 12 h night).
2. Electronic warfare removes each weapon with probability ``ew_loss`` (per class or
   family) before any layer sees it.
3. Layers engage in scenario order (outermost first). Layer ``l`` can engage a weapon if
   it is still flying, its class is in ``engages`` and its target is in ``covers``. The
   night is cut into equal slots; in slot ``s`` the layer has
   ``floor(c (s+1)) - floor(c s)`` engagements, with ``c = channels * slot / engagement
   time``; weapons in a slot are served first come first served and the rest pass.
   Saturation is therefore the result of channels and time, not a factor. An engagement
   spends ``shots_per_target`` interceptors (``salvo`` doctrine, kill probability
   ``1-(1-pk)^k``) or fires one at a time until a kill, up to ``k`` (``shoot_look_shoot``,
   same kill probability, fewer shots). A layer stops when its next engagement would
   exceed the stock.
4. A weapon killed by a layer falls as debris near its target with probability
   ``debris_probability`` (per class); debris is counted apart from leakers.
5. Non-decoy weapons still flying after the last layer are leakers on their target.

Because layers interact only through which weapons are still flying, processing one
layer over the whole night and then the next is the same as processing slot by slot.
Probabilities are compared against 15-bit uniforms (resolution 1/32768).

Randomness: the runs are cut into fixed blocks of ``BLOCK_RUNS``; block ``b`` draws from
``Generator(PCG64(SeedSequence(seed).spawn(n_blocks)[b]))`` in a fixed order, so a run's
numbers do not depend on how blocks are grouped into chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from barrage.errors import InputError
from barrage.salvo.scenario import BetaPrior, Scenario, load_families

BLOCK_RUNS = 1024
"""Runs per random block; fixed so results do not depend on the chunk size."""

TIME_TICKS = 65536
"""Quantisation of the night (16 bits)."""

PROB_TICKS = 32768
"""Quantisation of probabilities (15-bit uniforms, resolution 1/32768)."""

DEFAULT_DEBRIS_PROBABILITY = {
    "attack_drone": 0.3,
    "recon_drone": 0.1,
    "cruise_missile": 0.5,
    "ballistic_missile": 0.6,
    "mixed_missile": 0.5,
    "guided_bomb": 0.5,
    "unknown": 0.3,
}
"""P(an intercepted weapon's fragments fall near its target), by class; a rough default
informed by the record's fragment-fall counts (``num_fall_fragment_location``)."""


@dataclass(frozen=True)
class ProbabilityTable:
    """Per-family probability: fixed ``p`` or Beta(alpha, beta) drawn once per run."""

    p: np.ndarray  # (F,) fixed value (used where alpha is NaN)
    alpha: np.ndarray  # (F,) NaN where fixed
    beta: np.ndarray

    @property
    def random_index(self) -> np.ndarray:
        return np.flatnonzero(~np.isnan(self.alpha))

    def draw(self, rng: np.random.Generator, runs: int) -> np.ndarray:
        """(runs, F) probabilities; Beta draws only for the random entries."""
        out = np.broadcast_to(self.p, (runs, self.p.size)).copy()
        idx = self.random_index
        if idx.size:
            out[:, idx] = rng.beta(self.alpha[idx], self.beta[idx], size=(runs, idx.size))
        return out


@dataclass(frozen=True)
class CompiledLayer:
    name: str
    can_engage: np.ndarray  # (F * A,) bool: family f, target a -> f * A + a
    capacity_per_slot: np.ndarray  # (S,) int32
    stock: int | None
    shots: int
    doctrine: str
    kill: ProbabilityTable  # single-shot pk per family
    interceptor_cost_usd: float


@dataclass(frozen=True)
class CompiledScenario:
    """A scenario turned into arrays the engine can use directly."""

    families: list[str]
    classes: list[str]
    family_class: np.ndarray  # (F,) index into classes
    is_decoy: np.ndarray  # (F,) bool
    unit_cost_usd: np.ndarray  # (F,)
    weapon_family: np.ndarray  # (W,) int16
    window_lo: np.ndarray  # (W,) uint32 time ticks
    window_span: np.ndarray  # (W,) uint32
    assets: list[str]
    aim_cumulative: np.ndarray  # (A-1,) uint32 thresholds on a 16-bit uniform
    n_slots: int
    layers: list[CompiledLayer]
    ew: ProbabilityTable
    debris: np.ndarray  # (F,) float

    @property
    def n_weapons(self) -> int:
        return int(self.weapon_family.size)

    @property
    def attacker_cost_usd(self) -> float:
        return float(self.unit_cost_usd[self.weapon_family].sum())


def _resolve(spec: dict, family: str, weapon_class: str):
    """Family key overrides class key."""
    if family in spec:
        return spec[family]
    return spec.get(weapon_class)


def _table(spec: dict, families: list[str], classes: list[str], default: float) -> ProbabilityTable:
    p = np.full(len(families), default, dtype=float)
    alpha = np.full(len(families), np.nan)
    beta = np.full(len(families), np.nan)
    for i, (fam, cls) in enumerate(zip(families, classes, strict=True)):
        value = _resolve(spec, fam, cls)
        if value is None:
            continue
        if isinstance(value, BetaPrior):
            alpha[i], beta[i] = value.alpha, value.beta
            p[i] = value.alpha / (value.alpha + value.beta)
        else:
            p[i] = float(value)
    return ProbabilityTable(p=p, alpha=alpha, beta=beta)


def _split_decoys(scenario: Scenario) -> list[tuple[str, int, tuple[float, float]]]:
    """Weapon groups after turning ``decoy_share`` of each Shahed group into decoys."""
    groups = []
    share = scenario.salvo.decoy_share
    for g in scenario.salvo.weapons:
        if g.family == "shahed" and share > 0:
            n_decoy = int(round(g.count * share))
            groups.append(("shahed", g.count - n_decoy, g.arrival_h))
            groups.append(("decoy", n_decoy, g.arrival_h))
        else:
            groups.append((g.family, g.count, g.arrival_h))
    return [g for g in groups if g[1] > 0]


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """Validate cross-field rules that need the family table and build the arrays."""
    table = load_families()
    groups = _split_decoys(scenario)
    families = sorted({g[0] for g in groups})
    if not families:
        raise InputError("salvo.weapons: the salvo has no weapons (all counts are 0)")
    fam_index = {f: i for i, f in enumerate(families)}
    fam_classes = [table[f].weapon_class for f in families]
    classes = sorted(set(fam_classes))
    family_class = np.array([classes.index(c) for c in fam_classes], dtype=np.int16)

    night_ticks = TIME_TICKS / scenario.night_h
    fam_w, lo_w, span_w = [], [], []
    for fam, count, (start, end) in groups:
        fam_w.append(np.full(count, fam_index[fam], dtype=np.int16))
        lo = min(int(start * night_ticks), TIME_TICKS - 1)
        span = max(min(int((end - start) * night_ticks), TIME_TICKS - 1 - lo), 0)
        lo_w.append(np.full(count, lo, dtype=np.uint32))
        span_w.append(np.full(count, span, dtype=np.uint32))

    assets = [a.name for a in scenario.assets]
    if scenario.aim.mode == "uniform":
        weights = np.ones(len(assets))
    elif scenario.aim.mode == "weights":
        weights = np.array([scenario.aim.weights.get(a, 0.0) for a in assets])
    else:
        weights = np.array([a.value_weight for a in scenario.assets], dtype=float)
        if weights.sum() <= 0:
            raise InputError("assets.value_weight: value-weighted aim needs a positive weight")
    cum = np.cumsum(weights / weights.sum())[:-1]
    aim_cumulative = np.minimum(np.round(cum * TIME_TICKS), TIME_TICKS - 1).astype(np.uint32)

    n_slots = max(1, math.ceil(scenario.night_h * 60.0 / scenario.slot_min))
    slot_len_min = scenario.night_h * 60.0 / n_slots
    layers = []
    for i, layer in enumerate(scenario.layers):
        engaged_classes = set(layer.engages)
        for cls in engaged_classes:
            has_value = cls in layer.kill_probability or all(
                f in layer.kill_probability
                for f, c in zip(families, fam_classes, strict=True)
                if c == cls
            )
            if not has_value and cls in fam_classes:
                raise InputError(
                    f"layers[{i}].kill_probability: no value for engaged class {cls!r}; "
                    f"give a probability in [0, 1] for it"
                )
        covered = (
            np.ones(len(assets), bool)
            if "all" in layer.covers
            else np.array([a in layer.covers for a in assets])
        )
        by_family = np.array([c in engaged_classes for c in fam_classes])
        can = (by_family[:, None] & covered[None, :]).ravel()
        per_slot = layer.channels * slot_len_min / layer.engagement_time_min
        edges = np.floor(per_slot * np.arange(n_slots + 1) + 1e-9)
        layers.append(
            CompiledLayer(
                name=layer.name,
                can_engage=can,
                capacity_per_slot=np.diff(edges).astype(np.int32),
                stock=layer.stock,
                shots=layer.shots_per_target,
                doctrine=layer.doctrine,
                kill=_table(layer.kill_probability, families, fam_classes, 0.0),
                interceptor_cost_usd=layer.interceptor_cost_usd,
            )
        )
    names = [layer.name for layer in scenario.layers]
    if len(set(names)) != len(names):
        raise InputError(f"layers: layer names must be unique, got {names}")

    debris_spec = {**DEFAULT_DEBRIS_PROBABILITY, **scenario.debris_probability}
    debris = np.array(
        [
            float(_resolve(debris_spec, f, c) or 0.0)
            for f, c in zip(families, fam_classes, strict=True)
        ]
    )
    return CompiledScenario(
        families=families,
        classes=classes,
        family_class=family_class,
        is_decoy=np.array([table[f].is_decoy for f in families]),
        unit_cost_usd=np.array([table[f].unit_cost_usd for f in families]),
        weapon_family=np.concatenate(fam_w),
        window_lo=np.concatenate(lo_w),
        window_span=np.concatenate(span_w),
        assets=assets,
        aim_cumulative=aim_cumulative,
        n_slots=n_slots,
        layers=layers,
        ew=_table(scenario.ew_loss, families, fam_classes, 0.0),
        debris=debris,
    )


@dataclass
class SalvoResult:
    """Per-run outcomes (one sample axis: runs) and their labels."""

    runs: int
    seed: int
    classes: list[str]
    assets: list[str]
    layers: list[str]
    leakers_by_class: np.ndarray  # (runs, C) int
    leakers_by_asset: np.ndarray  # (runs, A)
    destroyed_by_class: np.ndarray  # (runs, C) killed by a layer (decoys count as drones)
    ew_lost_by_class: np.ndarray  # (runs, C)
    debris_by_asset: np.ndarray  # (runs, A)
    interceptors_by_layer: np.ndarray  # (runs, L)
    kills_by_layer: np.ndarray  # (runs, L)
    decoys_engaged: np.ndarray  # (runs,)
    decoys_through: np.ndarray  # (runs,)
    attacker_cost_usd: float
    interceptor_cost_usd: np.ndarray = field(repr=False)  # (L,)

    @property
    def leakers(self) -> np.ndarray:
        return self.leakers_by_class.sum(axis=1)

    @property
    def destroyed(self) -> np.ndarray:
        return self.destroyed_by_class.sum(axis=1)

    @property
    def debris_falls(self) -> np.ndarray:
        return self.debris_by_asset.sum(axis=1)

    @property
    def defender_cost_usd(self) -> np.ndarray:
        return self.interceptors_by_layer @ self.interceptor_cost_usd

    def summary(self) -> dict:
        """Means and 5/50/95% quantiles of every output, as plain JSON-ready dicts."""
        by = lambda arr, labels: {k: summarise(arr[:, i]) for i, k in enumerate(labels)}  # noqa: E731
        cost = self.defender_cost_usd
        return {
            "runs": self.runs,
            "seed": self.seed,
            "leakers": summarise(self.leakers),
            "leakers_by_class": by(self.leakers_by_class, self.classes),
            "leakers_by_asset": by(self.leakers_by_asset, self.assets),
            "interceptors_used_by_layer": by(self.interceptors_by_layer, self.layers),
            "kills_by_layer": by(self.kills_by_layer, self.layers),
            "destroyed_by_class": by(self.destroyed_by_class, self.classes),
            "lost_to_ew_by_class": by(self.ew_lost_by_class, self.classes),
            "debris_falls": summarise(self.debris_falls),
            "debris_by_asset": by(self.debris_by_asset, self.assets),
            "decoys_engaged": summarise(self.decoys_engaged),
            "decoys_through": summarise(self.decoys_through),
            "cost_exchange": {
                "attacker_cost_usd": self.attacker_cost_usd,
                "defender_cost_usd": summarise(cost),
                "defender_per_attacker_usd": summarise(cost / max(self.attacker_cost_usd, 1.0)),
            },
        }


def summarise(values: np.ndarray) -> dict[str, float]:
    """Mean and the 5%, 50% and 95% quantiles of one per-run output."""
    values = np.asarray(values, dtype=float)
    p05, p50, p95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {"mean": float(values.mean()), "p05": float(p05), "p50": float(p50), "p95": float(p95)}


def _uniform15(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """15-bit uniforms from full-range 16-bit draws (the full range is the fast path)."""
    u = rng.integers(0, TIME_TICKS, size=shape, dtype=np.uint16)
    u >>= 1
    return u


def _draw_block(cs: CompiledScenario, rng: np.random.Generator, runs: int) -> dict:
    """All random numbers for one block, in a fixed order."""
    w = cs.n_weapons
    draws = {"ew_p": cs.ew.draw(rng, runs)}
    draws["kill_p"] = [layer.kill.draw(rng, runs) for layer in cs.layers]
    draws["time"] = rng.integers(0, TIME_TICKS, size=(runs, w), dtype=np.uint16)
    draws["target"] = (
        rng.integers(0, TIME_TICKS, size=(runs, w), dtype=np.uint16) if len(cs.assets) > 1 else None
    )
    draws["ew_u"] = _uniform15(rng, (runs, w))
    draws["kill_u"] = [_uniform15(rng, (runs, w)) for _ in cs.layers]
    return draws


def _stack(blocks: list[dict]) -> dict:
    if len(blocks) == 1:
        return blocks[0]
    out = {}
    for key, value in blocks[0].items():
        if value is None:
            out[key] = None
        elif isinstance(value, list):
            out[key] = [np.concatenate([b[key][i] for b in blocks]) for i in range(len(value))]
        else:
            out[key] = np.concatenate([b[key] for b in blocks])
    return out


def _thresholds(p: np.ndarray) -> np.ndarray:
    """Probabilities as integer thresholds for ``u < threshold`` with 15-bit ``u``."""
    return np.rint(np.asarray(p) * PROB_TICKS).astype(np.uint16)


def _gather(table: np.ndarray, fam_run: np.ndarray) -> np.ndarray:
    """``table[run, fam[run, w]]`` for a (runs, F) table; ``fam_run = fam + run * F``."""
    return table.ravel().take(fam_run)


def _count_by(keys: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Per-run counts of ``mask`` by ``keys`` (values in 0..n-1) -> (runs, n)."""
    out = np.empty((mask.shape[0], n), dtype=np.int64)
    if n == 1:
        out[:, 0] = np.count_nonzero(mask, axis=1)
        return out
    for i in range(n):
        out[:, i] = np.count_nonzero(mask & (keys == i), axis=1)
    return out


def _simulate_chunk(cs: CompiledScenario, d: dict) -> dict:
    runs, w = d["time"].shape
    n_f, n_a, n_c = len(cs.families), len(cs.assets), len(cs.classes)
    rank_dtype = np.int16 if w < 32767 else np.int32

    # 1. arrival order (stable radix sort on 16-bit times)
    t = (cs.window_lo + ((cs.window_span * d["time"].astype(np.uint32)) >> 16)).astype(np.uint16)
    order = np.argsort(t, axis=1, kind="stable")
    t_sorted = np.take_along_axis(t, order, axis=1)
    fam = cs.weapon_family[order]  # (runs, W)
    slot = ((t_sorted.astype(np.uint32) * cs.n_slots) >> 16).astype(np.intp)
    del t, t_sorted, order
    new_slot = np.empty((runs, w), dtype=bool)
    new_slot[:, 0] = True
    np.not_equal(slot[:, 1:], slot[:, :-1], out=new_slot[:, 1:])
    # targets are iid per weapon and independent of family and time: drawn in place
    target = np.zeros((runs, w), dtype=np.uint8)
    if d["target"] is not None:
        for threshold in cs.aim_cumulative.astype(np.uint16):
            target += d["target"] >= threshold
    key = fam.astype(np.intp)
    key *= n_a
    key += target
    fam_run = fam + (np.arange(runs, dtype=np.intp) * n_f)[:, None]

    # 2. electronic warfare
    alive = d["ew_u"] >= _gather(_thresholds(d["ew_p"]), fam_run)
    ew_lost = ~alive
    cls = cs.family_class.astype(np.int8)[fam]
    decoy_w = cs.is_decoy[fam]

    n_l = len(cs.layers)
    interceptors = np.zeros((runs, n_l), dtype=np.int64)
    kills = np.zeros((runs, n_l), dtype=np.int64)
    decoys_engaged = np.zeros(runs, dtype=np.int64)
    destroyed = np.zeros((runs, w), dtype=bool)
    debris = np.zeros((runs, w), dtype=bool)

    # 3. layers, outermost first; each over the whole night
    fam_i = fam.astype(np.intp)
    for li, layer in enumerate(cs.layers):
        elig = layer.can_engage.take(key)
        elig &= alive
        n_elig = np.count_nonzero(elig, axis=1)
        if not n_elig.any():
            continue
        if n_elig.max() <= layer.capacity_per_slot.min():
            engaged = elig  # capacity cannot bind in any slot of any run
        else:
            # rank of each eligible weapon within its slot, first come first served
            rank = np.cumsum(elig, axis=1, dtype=rank_dtype)
            offset = rank - elig
            offset *= new_slot
            np.maximum.accumulate(offset, axis=1, out=offset)
            rank -= offset
            engaged = rank <= layer.capacity_per_slot.astype(rank_dtype).take(slot)
            engaged &= elig
        p1 = d["kill_p"][li]
        per_run = layer.kill.random_index.size > 0
        fam_index = fam_run if per_run else fam_i

        def lookup(
            p: np.ndarray, fam_index: np.ndarray = fam_index, per_run: bool = per_run
        ) -> np.ndarray:
            table = _thresholds(p if per_run else p[0])
            return table.ravel().take(fam_index)

        u = d["kill_u"][li]
        k = layer.shots
        p_kill = 1.0 - (1.0 - p1) ** k
        if layer.doctrine == "shoot_look_shoot" and k > 1:
            shots = engaged.astype(np.int32)
            for j in range(1, k):
                shots += engaged & (u >= lookup(1.0 - (1.0 - p1) ** j))
        else:
            shots = engaged.astype(np.int32)
            shots *= k
        total = shots.sum(axis=1)
        if layer.stock is not None:
            over = np.flatnonzero(total > layer.stock)  # only these runs run out
            if over.size:
                sub = shots[over]
                within = np.cumsum(sub, axis=1, dtype=np.int32) <= layer.stock
                sub *= within
                shots[over] = sub
                engaged[over] &= within
                total[over] = sub.sum(axis=1)
        killed = u < lookup(p_kill)
        killed &= engaged
        # debris: only killed weapons; u is uniform below the kill threshold when killed
        hit = np.flatnonzero(killed)
        u_hit = u.ravel()[hit]
        debris_p = p_kill * cs.debris
        debris_t = _thresholds(debris_p if per_run else debris_p[0]).ravel()
        debris.ravel()[hit[u_hit < debris_t.take(fam_index.ravel()[hit])]] = True
        interceptors[:, li] = total
        kills[:, li] = np.count_nonzero(killed, axis=1)
        if cs.is_decoy.any():
            decoys_engaged += np.count_nonzero(engaged & decoy_w, axis=1)
        destroyed |= killed
        alive &= ~killed

    leak = alive & ~decoy_w
    return {
        "leakers_by_class": _count_by(cls, leak, n_c),
        "leakers_by_asset": _count_by(target, leak, n_a),
        "destroyed_by_class": _count_by(cls, destroyed, n_c),
        "ew_lost_by_class": _count_by(cls, ew_lost, n_c),
        "debris_by_asset": _count_by(target, debris, n_a),
        "interceptors_by_layer": interceptors,
        "kills_by_layer": kills,
        "decoys_engaged": decoys_engaged,
        "decoys_through": np.count_nonzero(alive & decoy_w, axis=1),
    }


def block_generators(seed: int, runs: int) -> list[tuple[np.random.Generator, int]]:
    """One generator per block of ``BLOCK_RUNS`` runs, with the block's size."""
    n_blocks = max(1, math.ceil(runs / BLOCK_RUNS))
    children = np.random.SeedSequence(seed).spawn(n_blocks)
    sizes = [min(BLOCK_RUNS, runs - b * BLOCK_RUNS) for b in range(n_blocks)]
    return [
        (np.random.Generator(np.random.PCG64(c)), s) for c, s in zip(children, sizes, strict=True)
    ]


def simulate(
    scenario: Scenario | CompiledScenario,
    *,
    runs: int = 10_000,
    seed: int = 0,
    chunk_runs: int = 2 * BLOCK_RUNS,
    progress: Callable[[int], None] | None = None,
) -> SalvoResult:
    """Simulate ``runs`` independent nights of the scenario.

    ``chunk_runs`` only trades memory for speed: it is rounded to whole blocks, and the
    numbers are the same for any value. ``progress`` is called with the runs done so far.
    """
    if runs < 1:
        raise InputError(f"--runs: expected a positive number of runs, got {runs}")
    if seed < 0:
        raise InputError(f"--seed: expected a non-negative integer, got {seed}")
    cs = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    blocks_per_chunk = max(1, chunk_runs // BLOCK_RUNS)
    gens = block_generators(seed, runs)
    parts: list[dict] = []
    done = 0
    for start in range(0, len(gens), blocks_per_chunk):
        group = gens[start : start + blocks_per_chunk]
        draws = _stack([_draw_block(cs, g, size) for g, size in group])
        parts.append(_simulate_chunk(cs, draws))
        done += sum(size for _, size in group)
        if progress is not None:
            progress(done)
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return SalvoResult(
        runs=runs,
        seed=seed,
        classes=cs.classes,
        assets=cs.assets,
        layers=[layer.name for layer in cs.layers],
        attacker_cost_usd=cs.attacker_cost_usd,
        interceptor_cost_usd=np.array([layer.interceptor_cost_usd for layer in cs.layers]),
        **merged,
    )
