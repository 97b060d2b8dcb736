"""A salvo scenario compiled into the arrays and tables the engine reads.

:func:`compile_scenario` turns a :class:`~barrage.salvo.scenario.Scenario` into a
:class:`CompiledScenario` (weapons in arrival order, quantised windows and aim, each
layer's engagement mask, capacity per slot and kill-probability table); its
:attr:`CompiledScenario.plan` (built once, on first use) groups exchangeable weapons and
turns each layer's kill, debris and next-shot probabilities into integer thresholds
shared by the families that have the same value. No random draw happens here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from barrage.errors import InputError
from barrage.salvo.scenario import VISUAL_LAYERS, BetaPrior, Scenario, load_families

TIME_TICKS = 65536
"""Quantisation of the night (16 bits)."""

PROB_BITS = 16
PROB_TICKS = 1 << PROB_BITS
"""Quantisation of probabilities: 16-bit uniforms, a probability held to 1/65536 (the
threshold ``round(p * 65536)``; 65536 is a sure event)."""

GROUP_BITS = 15
GROUP_MASK = (1 << GROUP_BITS) - 1
"""Sort keys are ``arrival time (16 bits) | family (15 bits)``; unused positions ``1 << 31``
(time 65535, after every real tick, and family bits ``1 << 15``)."""

DEFAULT_DEBRIS_PROBABILITY = {
    "attack_drone": 0.3,
    "jet_drone": 0.3,
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
    # a decoy share drawn per run: each Shahed burst of N is a Shahed group and a decoy
    # group of N each (first weapons at these offsets), of which a run keeps N in all
    decoy_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    decoy_prior: BetaPrior | None = None

    @cached_property
    def plan(self) -> Plan:
        """The engine's per-scenario tables, built once per compiled scenario."""
        return build_plan(self)

    @property
    def n_weapons(self) -> int:
        """Weapons launched in a run."""
        return int(self.weapon_family.size - self.decoy_pairs[:, 2].sum())

    @property
    def attacker_cost_usd(self) -> float:
        """Cost of a run's salvo (expected, when the decoy share is drawn per run)."""
        cost = float(self.unit_cost_usd[self.weapon_family].sum())
        if self.decoy_prior is None:
            return cost
        m = self.decoy_prior.alpha / (self.decoy_prior.alpha + self.decoy_prior.beta)
        for start_s, start_d, n in self.decoy_pairs:
            c_s = self.unit_cost_usd[self.weapon_family[start_s]]
            c_d = self.unit_cost_usd[self.weapon_family[start_d]]
            cost -= n * (c_s + c_d) - n * (m * c_d + (1 - m) * c_s)
        return float(cost)


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


Group = tuple[str, str, int, tuple[float, float], "str | None", bool]
"""A compiled weapon group: label, family, count, arrival window, corridor, and whether
it is half of a Shahed/decoy pair whose split is drawn per run."""


def _split_decoys(scenario: Scenario) -> list[Group]:
    """Weapon groups (one per burst) after turning ``decoy_share`` of each Shahed burst
    into decoys. A burst through a named corridor gets its own label ``family@corridor``
    so layers can tell corridors apart; without corridors labels are family names. A
    share drawn per run (``{alpha, beta}``) gives a Shahed and a decoy group of the whole
    burst each; each run keeps the burst's count between them (see :func:`barrage.salvo.blocks.draw_block`)."""
    groups = []
    share = scenario.salvo.decoy_share
    for g in scenario.salvo.weapons:
        for count, window, corridor in g.bursts():
            suffix = "" if corridor is None else f"@{corridor}"
            if g.family == "shahed" and isinstance(share, BetaPrior):
                groups.append(("shahed" + suffix, "shahed", count, window, corridor, True))
                groups.append(("decoy" + suffix, "decoy", count, window, corridor, True))
            elif g.family == "shahed" and share > 0:
                n_decoy = int(round(count * share))
                groups.append(
                    ("shahed" + suffix, "shahed", count - n_decoy, window, corridor, False)
                )
                groups.append(("decoy" + suffix, "decoy", n_decoy, window, corridor, False))
            else:
                groups.append((g.family + suffix, g.family, count, window, corridor, False))
    return [g for g in groups if g[2] > 0]


def _shift_logit(spec: dict, shift: float) -> dict:
    """Kill probabilities moved by ``shift`` on the logit scale (a Beta keeps its
    concentration and moves its mean); 0 and 1 stay where they are."""

    def move(p: float) -> float:
        if p <= 0.0 or p >= 1.0:
            return p
        return 1.0 / (1.0 + math.exp(-(math.log(p / (1.0 - p)) + shift)))

    out = {}
    for key, value in spec.items():
        if isinstance(value, BetaPrior):
            kappa = value.alpha + value.beta
            m = move(value.alpha / kappa)
            out[key] = BetaPrior(alpha=m * kappa, beta=(1 - m) * kappa)
        else:
            out[key] = move(float(value))
    return out


def _layer_kill(scenario: Scenario, layer) -> dict:
    """A layer's kill probabilities, moved by the night's weather if it is visual."""
    if scenario.weather is None or layer.type not in VISUAL_LAYERS:
        return layer.kill_probability
    return _shift_logit(layer.kill_probability, scenario.weather.logit_shift())


def _decoy_pairs(groups: list[Group]) -> np.ndarray:
    """``(P, 3)``: first weapon of the Shahed group, of the decoy group, and N, per pair."""
    starts = np.cumsum([0] + [g[2] for g in groups])[:-1]
    paired = [i for i, g in enumerate(groups) if g[5]]
    return np.array(
        [
            (starts[i], starts[j], groups[i][2])
            for i, j in zip(paired[::2], paired[1::2], strict=True)
        ],
        dtype=np.int64,
    ).reshape(-1, 3)


def _n_slots(scenario: Scenario) -> int:
    """Equal slots the night is cut into (at least one)."""
    return max(1, math.ceil(scenario.night_h * 60.0 / scenario.slot_min))


def _aim_cumulative(scenario: Scenario, assets: list[str]) -> np.ndarray:
    """The attacker's aim as cumulative thresholds on a 16-bit uniform, one per asset but
    the last (uniform, given weights, or value-weighted)."""
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
    return np.minimum(np.round(cum * TIME_TICKS), TIME_TICKS).astype(np.uint32)


def _compile_layer(
    scenario: Scenario,
    i: int,
    labels: list[str],
    families: list[str],
    fam_classes: list[str],
    corridor_of: dict,
    weapons_total: int,
) -> CompiledLayer:
    """Layer ``i`` as arrays: what it can engage (family x asset), its engagements per
    slot, and its kill-probability table; refuses an engaged class with no kill value."""
    layer = scenario.layers[i]
    assets = [a.name for a in scenario.assets]
    n_slots = _n_slots(scenario)
    slot_len_min = scenario.night_h * 60.0 / n_slots
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
    if "all" not in layer.corridors:  # a layer sees only the corridors it covers
        by_family &= np.array([corridor_of[x] in layer.corridors for x in labels])
    can = (by_family[:, None] & covered[None, :]).ravel()
    per_slot = layer.engagements_per_slot(slot_len_min)
    edges = np.floor(per_slot * np.arange(n_slots + 1) + 1e-9)
    return CompiledLayer(
        name=layer.name,
        can_engage=can,
        # a slot never engages more than the whole salvo: keeps int32 exact
        capacity_per_slot=np.minimum(np.diff(edges), weapons_total).astype(np.int32),
        stock=layer.stock,
        shots=layer.shots_per_target,
        doctrine=layer.doctrine,
        kill=_table(_layer_kill(scenario, layer), families, fam_classes, 0.0),
        interceptor_cost_usd=layer.interceptor_cost_usd,
    )


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """Validate cross-field rules that need the family table and build the arrays."""
    table = load_families()
    groups = _split_decoys(scenario)
    labels = sorted({g[0] for g in groups})
    if not labels:
        raise InputError("salvo.weapons: the salvo has no weapons (all counts are 0)")
    base = {g[0]: g[1] for g in groups}
    corridor_of = {g[0]: g[4] for g in groups}
    families = [base[x] for x in labels]  # per engine family (label): the weapon family
    fam_index = {f: i for i, f in enumerate(labels)}
    fam_classes = [table[f].weapon_class for f in families]
    classes = sorted(set(fam_classes))
    family_class = np.array([classes.index(c) for c in fam_classes], dtype=np.int16)

    night_ticks = TIME_TICKS / scenario.night_h
    fam_w, lo_w, span_w = [], [], []
    for label, _, count, (start, end), _, _ in groups:
        fam_w.append(np.full(count, fam_index[label], dtype=np.int16))
        lo = min(int(start * night_ticks), TIME_TICKS - 1)
        span = max(min(int((end - start) * night_ticks), TIME_TICKS - 1 - lo), 0)
        lo_w.append(np.full(count, lo, dtype=np.uint32))
        span_w.append(np.full(count, span, dtype=np.uint32))

    assets = [a.name for a in scenario.assets]
    aim_cumulative = _aim_cumulative(scenario, assets)

    weapons_total = sum(g[2] for g in groups)  # (label, family, count, window, corridor, drawn)
    n_slots = _n_slots(scenario)
    layers = [
        _compile_layer(scenario, i, labels, families, fam_classes, corridor_of, weapons_total)
        for i in range(len(scenario.layers))
    ]
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
        families=labels,
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
        decoy_pairs=_decoy_pairs(groups),
        decoy_prior=share if isinstance(share := scenario.salvo.decoy_share, BetaPrior) else None,
    )


def weapon_groups(cs: CompiledScenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First weapon, size and family of each *group*: a contiguous run of weapons of one
    family and arrival window (exchangeable weapons)."""
    fam, lo, span = cs.weapon_family, cs.window_lo, cs.window_span
    change = np.ones(fam.size, dtype=bool)
    change[1:] = (fam[1:] != fam[:-1]) | (lo[1:] != lo[:-1]) | (span[1:] != span[:-1])
    start = np.flatnonzero(change)
    size = np.diff(np.append(start, fam.size))
    return start, size, fam[start].astype(np.intp)


def thresholds(p: np.ndarray) -> np.ndarray:
    """Probabilities as integer thresholds for ``u < threshold`` with 16-bit ``u``."""
    return np.rint(np.asarray(p) * PROB_TICKS).astype(np.uint32)


@dataclass(frozen=True)
class Rule:
    """One threshold of one layer (kill, debris or a shoot-look-shoot next shot), as
    value classes over the families the layer engages: families with the same fixed
    threshold share one comparison over the night; a family drawn per run has its own.
    The first class (most weapons) applies to every position outside the others."""

    values: list  # per class: scalar uint32 or (runs, 1) column for the chunk's runs
    families: list[list[int]]  # per class after the first: its families


@dataclass(frozen=True)
class LayerPlan:
    families: np.ndarray  # (F,) bool: families it engages
    assets: np.ndarray | None  # (A,) bool: assets it covers (None: all)
    kill_plane: int  # index of its kill-uniform plane (shared by disjoint layers)
    drawn: np.ndarray  # (F,) bool: kill probability drawn per run
    classes: list[list[list[int]]]  # per rule (kill, debris, next shots): value classes
    rules: list[Rule] | None  # the rules themselves when nothing is drawn per run


@dataclass(frozen=True)
class Plan:
    """Per-scenario tables; a *group* is a run of weapons of one family and window."""

    group_size: np.ndarray  # (G,) int64
    group_family: np.ndarray  # (G,) intp
    group_lo: np.ndarray  # (G + 1,) uint16 window start in ticks; last (unused): 65535
    group_span: np.ndarray  # (G + 1,) uint32 arrival window in ticks; last: 0
    group_family_key: np.ndarray  # (G + 1,) uint32 family; last: 1 << 15 (key 1 << 31)
    group_class: np.ndarray  # (G, C) int64 one-hot
    weapons_by_class: np.ndarray  # (C,) int64
    layers: list[LayerPlan]
    n_kill_planes: int
    min_capacity: int
    pair_groups: np.ndarray  # (P, 2) intp: Shahed and decoy group of each pair
    pair_size: np.ndarray  # (P,) int64: the burst's count N


def rule_tables(cs: CompiledScenario, li: int, p1: np.ndarray) -> list[np.ndarray]:
    """Kill, debris and next-shot thresholds, ``(F,)`` or ``(runs, F)``."""
    layer = cs.layers[li]
    k = layer.shots
    p_kill = 1.0 - (1.0 - p1) ** k
    tables = [thresholds(p_kill), thresholds(p_kill * cs.debris)]
    if layer.doctrine == "shoot_look_shoot":  # shot j + 1 is fired if the first j missed
        tables += [thresholds(1.0 - (1.0 - p1) ** j) for j in range(1, k)]
    return tables


def _value_classes(table, engaged, drawn, weight) -> list[list[int]]:
    by_value: dict = {}
    for f in engaged:
        by_value.setdefault(("drawn", f) if drawn[f] else int(table[f]), []).append(int(f))
    classes = sorted(by_value.values(), key=lambda fs: -int(weight[fs].sum()))
    return classes or [[0]]


def make_rule(table: np.ndarray, classes: list[list[int]]) -> Rule:
    values = [table[fs[0]] if table.ndim == 1 else table[:, [fs[0]]] for fs in classes]
    return Rule(values=values, families=classes[1:])


def build_plan(cs: CompiledScenario) -> Plan:
    start, size, family = weapon_groups(cs)
    n_c, n_f, n_a = len(cs.classes), len(cs.families), len(cs.assets)
    weight = np.bincount(cs.weapon_family, minlength=n_f)
    layers, plane_families = [], []
    for li, layer in enumerate(cs.layers):
        can = layer.can_engage.reshape(n_f, n_a)
        fams = can.any(axis=1)
        # layers that engage disjoint families can share one kill-uniform plane
        plane = next((i for i, pf in enumerate(plane_families) if not (pf & fams).any()), None)
        if plane is None:
            plane = len(plane_families)
            plane_families.append(fams.copy())
        else:
            plane_families[plane] |= fams
        drawn = np.zeros(n_f, dtype=bool)
        drawn[layer.kill.random_index] = True
        tables = rule_tables(cs, li, layer.kill.p)  # fixed entries as in every run
        classes = [_value_classes(t, np.flatnonzero(fams), drawn, weight) for t in tables]
        layers.append(
            LayerPlan(
                families=fams,
                assets=None if can.any(axis=0).all() else can.any(axis=0),
                kill_plane=plane,
                drawn=drawn,
                classes=classes,
                rules=None
                if drawn.any()
                else [make_rule(t, c) for t, c in zip(tables, classes, strict=True)],
            )
        )
    return Plan(
        group_size=size.astype(np.int64),
        group_family=family,
        group_lo=np.append(cs.window_lo[start], TIME_TICKS - 1).astype(np.uint16),
        group_span=np.append(cs.window_span[start], 0).astype(np.uint32),
        group_family_key=np.append(family, 1 << GROUP_BITS).astype(np.uint32),
        group_class=np.eye(n_c, dtype=np.int64)[cs.family_class[family]],
        weapons_by_class=np.bincount(cs.family_class[cs.weapon_family], minlength=n_c).astype(
            np.int64
        ),
        layers=layers,
        n_kill_planes=max(1, len(plane_families)),
        min_capacity=min((int(x.capacity_per_slot.min()) for x in cs.layers), default=0),
        pair_groups=np.searchsorted(start, cs.decoy_pairs[:, :2]).astype(np.intp),
        pair_size=cs.decoy_pairs[:, 2].copy(),
    )
