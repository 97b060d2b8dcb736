"""The salvo engine: a layered air defence against a mixed salvo, vectorised over runs.

Model, per run (all runs at once as ``runs x weapons`` arrays):

1. Each weapon draws an arrival time, uniform in its group's window, and a target asset
   from the attacker's aim. Weapons are put in arrival order (16-bit time, 0.7 s
   resolution over a 12 h night; ties by weapon group, i.e. by weapon index).
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
Probabilities are compared against 15-bit uniforms (resolution 1/32768). Speed comes from
deciding EW before the sort (the sort key puts the weapons still flying first), working
only on those columns, and computing slot ranks and stock cuts only for the runs where
channels or stock can bind (see docs/benchmarks.md).

Randomness: the runs are cut into fixed blocks of ``BLOCK_RUNS``; block ``b`` draws from
``Generator(PCG64(SeedSequence(seed).spawn(n_blocks)[b]))`` in a fixed order (the
per-run Beta draws, then one ``random_raw`` call cut into 16-bit planes), so a run's
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

GROUP_BITS = 15
GROUP_MASK = (1 << GROUP_BITS) - 1
"""Sort keys are ``lost (1 bit) | arrival time (16 bits) | weapon group (15 bits)``."""

SUB_CHUNK_RUNS = 512
"""Runs simulated together inside a chunk: small enough for the arrays to stay in cache."""

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
    aim_cumulative: np.ndarray  # (A-1,) uint32 thresholds on a 16-bit uniform (<= 65536)
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
    # a threshold of TIME_TICKS is never reached by a 16-bit draw: zero-weight last assets
    aim_cumulative = np.minimum(np.round(cum * TIME_TICKS), TIME_TICKS).astype(np.uint32)

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


def _draw_block(cs: CompiledScenario, rng: np.random.Generator, runs: int) -> dict:
    """All random numbers for one block, in a fixed order.

    First the per-run probabilities (Beta draws), then one ``random_raw`` call cut into
    16-bit planes of ``runs x weapons``: arrival time, EW, target, one kill uniform per
    layer. The time and EW planes are per weapon; the others are per *arrival position*
    (weapons are exchangeable within a group and these draws are iid, so it is the same
    model and saves carrying them through the sort).
    """
    draws = {"ew_p": cs.ew.draw(rng, runs)}
    draws["kill_p"] = [layer.kill.draw(rng, runs) for layer in cs.layers]
    n_planes = 3 + len(cs.layers)
    n = n_planes * runs * cs.n_weapons
    raw = rng.bit_generator.random_raw((n + 3) // 4)
    planes = raw.view(np.uint16)[:n].reshape(n_planes, runs, cs.n_weapons)
    planes[1] >>= 1  # EW and kill uniforms are 15-bit (thresholds up to PROB_TICKS fit)
    planes[3:] >>= 1
    draws["planes"] = planes
    return draws


def _stack(blocks: list[dict]) -> dict:
    if len(blocks) == 1:
        return blocks[0]
    return {
        "ew_p": np.concatenate([b["ew_p"] for b in blocks]),
        "kill_p": [np.concatenate(ps) for ps in zip(*(b["kill_p"] for b in blocks), strict=True)],
        "planes": np.concatenate([b["planes"] for b in blocks], axis=1),
    }


def _thresholds(p: np.ndarray) -> np.ndarray:
    """Probabilities as integer thresholds for ``u < threshold`` with 15-bit ``u``."""
    return np.rint(np.asarray(p) * PROB_TICKS).astype(np.uint16)


@dataclass(frozen=True)
class _Plan:
    """Per-scenario index tables. A *group* is a contiguous run of weapons of one family
    and arrival window (exchangeable); a *category* is (group, target asset)."""

    group_start: np.ndarray  # (G,) first weapon of each group
    weapon_group: np.ndarray  # (W,) uint32
    group_family: np.ndarray  # (G,) intp
    cat_family: np.ndarray  # (K,) intp, K = G * A; category = group * A + asset
    cat_class: np.ndarray  # (K, C) int64 one-hot
    cat_asset: np.ndarray  # (K, A) int64 one-hot
    cat_decoy: np.ndarray  # (K,) bool
    weapons_by_class: np.ndarray  # (C,) int64


def _plan(cs: CompiledScenario) -> _Plan:
    fam, lo, span = cs.weapon_family, cs.window_lo, cs.window_span
    change = np.ones(fam.size, dtype=bool)
    change[1:] = (fam[1:] != fam[:-1]) | (lo[1:] != lo[:-1]) | (span[1:] != span[:-1])
    group_start = np.flatnonzero(change)
    if group_start.size > GROUP_MASK + 1:
        raise InputError(
            f"salvo.weapons: at most {GROUP_MASK + 1} weapon groups, got {group_start.size}"
        )
    weapon_group = (np.cumsum(change) - 1).astype(np.uint32)
    group_family = fam[group_start].astype(np.intp)
    n_a, n_c = len(cs.assets), len(cs.classes)
    cat_family = np.repeat(group_family, n_a)
    cat_asset = np.tile(np.arange(n_a), group_family.size)
    cat_class = cs.family_class.astype(np.intp)[cat_family]
    return _Plan(
        group_start=group_start,
        weapon_group=weapon_group,
        group_family=group_family,
        cat_family=cat_family,
        cat_class=np.eye(n_c, dtype=np.int64)[cat_class],
        cat_asset=np.eye(n_a, dtype=np.int64)[cat_asset],
        cat_decoy=cs.is_decoy[cat_family],
        weapons_by_class=np.bincount(cs.family_class[fam], minlength=n_c).astype(np.int64),
    )


class _Thresholds:
    """A per-family threshold table (``(F,)`` or per run ``(runs, F)``) ready to be read
    at arrival positions. A table with one value on every category a layer can engage
    is a scalar (no gather); otherwise it is gathered by category (and run)."""

    def __init__(self, table: np.ndarray, plan: _Plan, can_cat: np.ndarray):
        self.scalar = self.column = self.by_cat = None
        if table.ndim == 1:
            by_cat = table[plan.cat_family]
            values = np.unique(by_cat[can_cat])
            if values.size == 1:
                self.scalar = values[0]
            else:
                self.by_cat = by_cat
            return
        fams = np.unique(plan.cat_family[can_cat])
        if fams.size == 1:
            self.column = table[:, fams[0]][:, None]
        else:
            self.by_cat = table[:, plan.cat_family]

    def at(self, cat: np.ndarray, rows: slice) -> np.ndarray | np.uint16:
        """Values at the positions of categories ``cat`` (runs ``rows`` of the chunk)."""
        if self.scalar is not None:
            return self.scalar
        if self.column is not None:
            return self.column[rows]
        if self.by_cat.ndim == 1:
            return self.by_cat.take(cat)
        table = self.by_cat[rows]
        return table.ravel().take(cat + (np.arange(len(table)) * table.shape[1])[:, None])


def _layer_thresholds(cs: CompiledScenario, plan: _Plan, d: dict, can: list) -> list[dict]:
    """Per layer: kill, debris and shoot-look-shoot thresholds for the chunk's runs."""
    out = []
    for li, layer in enumerate(cs.layers):
        p1 = d["kill_p"][li]
        if layer.kill.random_index.size == 0:
            p1 = p1[0]
        k = layer.shots
        p_kill = 1.0 - (1.0 - p1) ** k
        sls = layer.doctrine == "shoot_look_shoot" and k > 1
        out.append(
            {
                "kill": _Thresholds(_thresholds(p_kill), plan, can[li]),
                "debris": _Thresholds(_thresholds(p_kill * cs.debris), plan, can[li]),
                # shoot-look-shoot: shot j + 1 is fired if the first j missed
                "next_shot": [
                    _Thresholds(_thresholds(1.0 - (1.0 - p1) ** j), plan, can[li])
                    for j in range(1, k)
                ]
                if sls
                else [],
            }
        )
    return out


def _row_count(mask: np.ndarray) -> np.ndarray:
    """Per-row count of a 2-D bool array (a byte sum: several times faster than
    ``count_nonzero(axis=1)``)."""
    return mask.view(np.uint8).sum(axis=1, dtype=np.int32)


def _layer_bits(cs: CompiledScenario, plan: _Plan) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-category eligibility: one bit per layer, and the per-layer bool tables."""
    n_a = len(cs.assets)
    can = [
        layer.can_engage.reshape(len(cs.families), n_a)[plan.group_family].ravel()
        for layer in cs.layers
    ]
    dtype = next(
        t
        for t in (np.uint8, np.uint16, np.uint32, np.uint64, None)
        if t is None or len(can) <= np.iinfo(t).bits
    )
    if dtype is None:
        return np.empty(0), can
    bits = np.zeros(plan.cat_family.size, dtype=dtype)
    for li, c in enumerate(can):
        bits[c] |= dtype(1) << dtype(li)
    return bits, can


def _simulate_chunk(cs: CompiledScenario, d: dict, *, rows: int = SUB_CHUNK_RUNS) -> dict:
    """Per-run outputs for the runs of ``d`` (one or more stacked blocks).

    Runs are independent, so they are simulated ``rows`` at a time to keep the working
    arrays in cache; the numbers do not depend on ``rows``.
    """
    runs = d["planes"].shape[1]
    plan = _plan(cs)
    bits, can = _layer_bits(cs, plan)
    thresholds = _layer_thresholds(cs, plan, d, can)
    parts = []
    for start in range(0, runs, rows):
        sl = slice(start, min(start + rows, runs))
        part = {
            "ew_p": d["ew_p"][sl],
            "kill_p": [p[sl] for p in d["kill_p"]],
            "planes": d["planes"][:, sl],
        }
        parts.append(_simulate_rows(cs, plan, bits, can, thresholds, sl, part))
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _simulate_rows(
    cs: CompiledScenario,
    plan: _Plan,
    bits: np.ndarray,
    can: list[np.ndarray],
    thresholds: list[dict],
    sl: slice,
    d: dict,
) -> dict:
    planes = d["planes"]
    _, runs, w = planes.shape
    n_a, n_l, n_slots = len(cs.assets), len(cs.layers), cs.n_slots
    fam_w = cs.weapon_family.astype(np.intp)

    # 1. EW, per weapon before sorting (a weapon's family is fixed by its column)
    ew_t = _thresholds(d["ew_p"])
    lost = planes[1] < (ew_t[:, fam_w] if cs.ew.random_index.size else ew_t[0, fam_w])
    lost_by_group = np.add.reduceat(lost.view(np.uint8), plan.group_start, axis=1, dtype=np.int64)
    ew_lost_by_class = lost_by_group @ plan.cat_class[::n_a]
    n_flying = w - lost_by_group.sum(axis=1)

    # 2. arrival order: sort keys (lost bit | 16-bit time | group) row by row; weapons
    # still flying come first, in arrival order (ties by group, i.e. by weapon index)
    key = planes[0].astype(np.uint32)
    key *= cs.window_span
    key >>= 16
    key += cs.window_lo
    key <<= GROUP_BITS
    key |= plan.weapon_group
    key += lost * np.uint32(1 << 31)
    key.sort(axis=1)
    wa = -(-max(1, int(n_flying.max())) // 8) * 8  # whole 8-byte words per row
    if wa > w:
        key = np.concatenate([key, np.full((runs, wa - w), 1 << 31, np.uint32)], axis=1)
        planes = np.concatenate([planes, np.zeros(planes.shape[:2] + (wa - w,), np.uint16)], 2)
    key = np.ascontiguousarray(key[:, :wa])
    alive = key < np.uint32(1 << 31)
    target = np.zeros((runs, wa), dtype=np.uint8 if n_a < 256 else np.uint16)
    if n_a > 1:
        t_plane = planes[2][:, :wa]
        for threshold in cs.aim_cumulative[cs.aim_cumulative < TIME_TICKS].astype(np.uint16):
            target += t_plane >= threshold
    cat = (key & np.uint32(GROUP_MASK)).astype(np.intp)
    cat *= n_a
    cat += target
    cat_bits = bits.take(cat) if bits.size else None
    decoy = plan.cat_decoy.take(cat) if cs.is_decoy.any() else None
    slot = None  # arrival slot by position, built the first time capacity may bind

    interceptors = np.zeros((runs, n_l), dtype=np.int64)
    kills = np.zeros((runs, n_l), dtype=np.int64)
    decoys_engaged = np.zeros(runs, dtype=np.int64)
    debris = np.zeros((runs, wa), dtype=bool)

    # 3. layers, outermost first; each over the whole night
    for li, layer in enumerate(cs.layers):
        can_cat = can[li]
        if not can_cat.any():
            continue
        if cat_bits is not None:
            e = (cat_bits & bits.dtype.type(1 << li)) != 0
        else:
            e = can_cat.take(cat)
        e &= alive
        n_e = _row_count(e)
        if not n_e.any():
            continue
        capacity = layer.capacity_per_slot
        c = int(capacity.min())
        if n_e.max() > c:
            if slot is None:  # lost weapons (at the end of each row) get slots >= n_slots
                slot = ((key >> GROUP_BITS) * np.uint32(n_slots)) >> 16
            # sorted rows: more than c flying weapons share a slot iff slot[i + c] == slot[i]
            crowded = slot[:, c:] == slot[:, : wa - c]
            crowded &= slot[:, c:] < n_slots
            rows = np.flatnonzero(crowded.any(axis=1))
            if rows.size:  # rank of each eligible weapon in its slot, first come first served
                es, ss = e[rows], slot[rows]
                new_slot = np.empty(es.shape, dtype=bool)
                new_slot[:, 0] = True
                np.not_equal(ss[:, 1:], ss[:, :-1], out=new_slot[:, 1:])
                rank = np.cumsum(es, axis=1, dtype=np.int32)
                offset = rank - es
                offset *= new_slot
                np.maximum.accumulate(offset, axis=1, out=offset)
                rank -= offset
                cap = np.concatenate([capacity, np.zeros(n_slots, np.int32)])
                es &= rank <= cap.take(ss)
                e[rows] = es
                n_e[rows] = _row_count(es)

        k = layer.shots
        th = thresholds[li]
        u = planes[3 + li][:, :wa]
        extra = [e & (u >= t.at(cat, sl)) for t in th["next_shot"]]
        total = n_e + sum(_row_count(x) for x in extra) if extra else n_e * k
        if layer.stock is not None:
            over = np.flatnonzero(total > layer.stock)  # only these runs run out
            if over.size:
                es = e[over]
                shots = es.astype(np.int32)
                if extra:
                    for x in extra:
                        shots += x[over]
                else:
                    shots *= k
                within = np.cumsum(shots, axis=1, dtype=np.int32) <= layer.stock
                es &= within
                e[over] = es
                shots *= within
                total[over] = shots.sum(axis=1)
        killed = u < th["kill"].at(cat, sl)
        killed &= e
        # debris: only killed weapons; u is uniform below the kill threshold when killed
        debris |= killed & (u < th["debris"].at(cat, sl))
        interceptors[:, li] = total
        kills[:, li] = _row_count(killed)
        if decoy is not None:
            e &= decoy
            decoys_engaged += _row_count(e)
        alive ^= killed

    # 4. tallies: weapons still flying by category, debris by asset
    n_cat = plan.cat_family.size
    flying = np.flatnonzero(alive)
    by_cat = np.bincount(
        (flying // wa) * n_cat + cat.ravel().take(flying), minlength=runs * n_cat
    ).reshape(runs, n_cat)
    leaking = ~plan.cat_decoy
    fell = np.flatnonzero(debris)
    debris_by_asset = np.bincount(
        (fell // wa) * n_a + target.ravel().take(fell), minlength=runs * n_a
    ).reshape(runs, n_a)
    return {
        "leakers_by_class": by_cat @ (plan.cat_class * leaking[:, None]),
        "leakers_by_asset": by_cat @ (plan.cat_asset * leaking[:, None]),
        "destroyed_by_class": plan.weapons_by_class - ew_lost_by_class - by_cat @ plan.cat_class,
        "ew_lost_by_class": ew_lost_by_class,
        "debris_by_asset": debris_by_asset,
        "interceptors_by_layer": interceptors,
        "kills_by_layer": kills,
        "decoys_engaged": decoys_engaged,
        "decoys_through": by_cat @ plan.cat_decoy.astype(np.int64),
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
    chunk_runs: int = BLOCK_RUNS,
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
