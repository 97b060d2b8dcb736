"""The salvo engine: a layered air defence against a mixed salvo, vectorised over runs.

Model, per run (all runs at once as ``runs x weapons`` arrays):

1. Each weapon draws an arrival time, uniform in its group's window (a wave's window
   when the group has waves), and a target asset from the attacker's aim. A weapon
   arriving through a named corridor belongs to a group labelled ``family@corridor``;
   with a decoy share drawn per run, a Shahed burst of N is a Shahed group and a decoy
   group of N each, of which each run keeps ``N - D`` and ``D``. Weapons are put in
   arrival order (16-bit time, 0.7 s resolution over a 12 h night; ties by family).
2. Electronic warfare removes each weapon with probability ``ew_loss`` (per class or
   family) before any layer sees it.
3. Layers engage in scenario order (outermost first). Layer ``l`` can engage a weapon if
   it is still flying, its class is in ``engages``, its target is in ``covers`` and its
   corridor in ``corridors``. The night is cut into equal slots; in slot ``s`` the layer
   has ``floor(c (s+1)) - floor(c s)`` engagements, with ``c`` the layer's sustained
   engagements per slot (``Layer.engagements_per_slot``: channels, tracks, reload);
   weapons in a slot are served first come first served and the rest pass.
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
Kill probabilities are compared against 15-bit uniforms (resolution 1/32768: the top 15
bits of a 16-bit draw, compared as ``u < 2 t`` so the plane is never shifted). Speed
comes from drawing EW as one binomial per run and weapon group (weapons of a group are
exchangeable), so random numbers are drawn only for the weapons still flying; from
keeping every per-weapon flag as bits in 64-bit words (``np.packbits``; counts by
``np.bitwise_count``); from comparing each kill or debris threshold once over the night
per value (families with the same value share it); and from computing slot ranks and
stock cuts only for the runs where channels or stock can bind (see docs/benchmarks.md).

Randomness: the runs are cut into fixed blocks of ``BLOCK_RUNS``; block ``b`` draws from
``Generator(PCG64(SeedSequence(seed).spawn(n_blocks)[b]))`` in a fixed order (the
per-run Beta draws, with a drawn decoy share its Beta and binomials, the per-group EW
binomials, then one ``random_raw`` call cut into
16-bit planes as wide as the block's largest number of weapons still flying), so a
run's numbers do not depend on how blocks are grouped into chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from barrage.errors import InputError
from barrage.salvo.cost import DEFAULT_MAX_MEMORY_MB, salvo_cost
from barrage.salvo.scenario import VISUAL_LAYERS, BetaPrior, Scenario, load_families

BLOCK_RUNS = 1024
"""Runs per random block; fixed so results do not depend on the chunk size."""

TIME_TICKS = 65536
"""Quantisation of the night (16 bits)."""

PROB_TICKS = 32768
"""Quantisation of probabilities (15-bit uniforms, resolution 1/32768)."""

GROUP_BITS = 15
GROUP_MASK = (1 << GROUP_BITS) - 1
"""Sort keys are ``arrival time (16 bits) | family (15 bits)``; unused positions ``1 << 31``."""

SUB_CHUNK_RUNS = 512
"""Runs simulated together inside a chunk: small enough for the arrays to stay in cache."""

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
    def _plan(self) -> _Plan:
        """The engine's per-scenario tables, built once per compiled scenario."""
        return _plan(self)

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
    burst each; each run keeps the burst's count between them (see ``_draw_block``)."""
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

    weapons_total = sum(g[2] for g in groups)  # (label, family, count, window, corridor, drawn)
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
        if "all" not in layer.corridors:  # a layer sees only the corridors it covers
            by_family &= np.array([corridor_of[x] in layer.corridors for x in labels])
        can = (by_family[:, None] & covered[None, :]).ravel()
        per_slot = layer.engagements_per_slot(slot_len_min)
        edges = np.floor(per_slot * np.arange(n_slots + 1) + 1e-9)
        layers.append(
            CompiledLayer(
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


def _groups(cs: CompiledScenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First weapon, size and family of each *group*: a contiguous run of weapons of one
    family and arrival window (exchangeable weapons)."""
    fam, lo, span = cs.weapon_family, cs.window_lo, cs.window_span
    change = np.ones(fam.size, dtype=bool)
    change[1:] = (fam[1:] != fam[:-1]) | (lo[1:] != lo[:-1]) | (span[1:] != span[:-1])
    start = np.flatnonzero(change)
    size = np.diff(np.append(start, fam.size))
    return start, size, fam[start].astype(np.intp)


def _draw_block(cs: CompiledScenario, rng: np.random.Generator, runs: int) -> dict:
    """All random numbers for one block, in a fixed order.

    First the per-run probabilities (Beta draws), then the number of each group's weapons
    lost to EW (one binomial per run and group: weapons of a group are exchangeable, so
    which ones are lost does not matter), then one ``random_raw`` call cut into 16-bit
    planes of ``runs x width``, ``width`` being the block's largest number of weapons still
    flying: arrival time, target and one kill uniform per kill plane (layers engaging
    disjoint families share a plane: a weapon only ever reads one of them), per *position* (the
    weapons still flying of each group in turn, then unused positions). Drawing only for
    the weapons still flying halves the random numbers on a night with heavy EW.
    """
    draws = {"ew_p": cs.ew.draw(rng, runs)}
    draws["kill_p"] = [layer.kill.draw(rng, runs) for layer in cs.layers]
    size, family = cs._plan.group_size, cs._plan.group_family
    absent = _absent(cs, rng, runs)
    draws["absent"] = absent
    p_lost = draws["ew_p"][:, family]
    lost = np.zeros((runs, size.size), dtype=np.int64)
    some = np.flatnonzero((p_lost > 0).any(axis=0))  # groups that can lose weapons to EW
    if some.size and cs.decoy_prior is None:
        lost[:, some] = rng.binomial(size[some], p_lost[:, some])
    elif some.size:
        lost[:, some] = rng.binomial(size[some] - absent[:, some], p_lost[:, some])
    draws["ew_lost"] = lost
    width = -(-max(1, int((size - lost - absent).sum(axis=1).max())) // 64) * 64
    n_planes = 2 + cs._plan.n_kill_planes
    n = n_planes * runs * width
    raw = rng.bit_generator.random_raw((n + 3) // 4)
    planes = raw.view(np.uint16)[:n].reshape(n_planes, runs, width)
    draws["planes"] = planes
    return draws


def _absent(cs: CompiledScenario, rng: np.random.Generator, runs: int) -> np.ndarray:
    """``(runs, G)`` weapons of each group not in a run's salvo: with a decoy share drawn
    per run, a burst of N has ``D ~ Binomial(N, share)`` decoys, so ``D`` of its Shahed
    group and ``N - D`` of its decoy group are absent. Zeros otherwise (no draws)."""
    plan = cs._plan
    absent = np.zeros((runs, plan.group_size.size), dtype=np.int64)
    if cs.decoy_prior is None or not plan.pair_groups.size:
        return absent
    share = rng.beta(cs.decoy_prior.alpha, cs.decoy_prior.beta, size=(runs, 1))
    n_decoy = rng.binomial(plan.pair_size[None, :], share)
    absent[:, plan.pair_groups[:, 0]] = n_decoy
    absent[:, plan.pair_groups[:, 1]] = plan.pair_size - n_decoy
    return absent


def _stack(blocks: list[dict]) -> dict:
    if len(blocks) == 1:
        return blocks[0]
    width = max(b["planes"].shape[2] for b in blocks)
    planes = [
        np.pad(p, ((0, 0), (0, 0), (0, width - p.shape[2]))) if p.shape[2] < width else p
        for p in (b["planes"] for b in blocks)
    ]  # positions past a block's width are never used by its runs
    return {
        "ew_p": np.concatenate([b["ew_p"] for b in blocks]),
        "kill_p": [np.concatenate(ps) for ps in zip(*(b["kill_p"] for b in blocks), strict=True)],
        "ew_lost": np.concatenate([b["ew_lost"] for b in blocks]),
        "absent": np.concatenate([b["absent"] for b in blocks]),
        "planes": np.concatenate(planes, axis=1),
    }


def _thresholds(p: np.ndarray) -> np.ndarray:
    """Probabilities as integer thresholds for ``u < threshold`` with 15-bit ``u``."""
    return np.rint(np.asarray(p) * PROB_TICKS).astype(np.uint16)


def _pack(mask: np.ndarray) -> np.ndarray:
    """A ``runs x positions`` bool array (positions a multiple of 64) as bit words."""
    return np.packbits(mask, axis=1, bitorder="little").view(np.uint64)


def _unpack(words: np.ndarray) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little").view(bool)


_LOW_BITS = np.array([(1 << b) - 1 for b in range(65)], dtype=np.uint64)
"""``_LOW_BITS[b]``: a 64-bit word with its ``b`` lowest bits set."""


def _count(words: np.ndarray) -> np.ndarray:
    """Per-row number of set bits (over the last axis).

    Summed as a float32 matrix-vector product, several times faster than an integer
    sum over a short axis, and exact: a row has far fewer than 2**24 positions."""
    per_word = np.bitwise_count(words).astype(np.float32)
    return (per_word @ np.ones(words.shape[-1], np.float32)).astype(np.int64)


@dataclass(frozen=True)
class _Rule:
    """One threshold of one layer (kill, debris or a shoot-look-shoot next shot), as
    value classes over the families the layer engages: families with the same fixed
    threshold share one comparison over the night; a family drawn per run has its own.
    The first class (most weapons) applies to every position outside the others."""

    values: list  # per class: scalar uint16 or (runs, 1) column for the chunk's runs
    families: list[list[int]]  # per class after the first: its families


@dataclass(frozen=True)
class _LayerPlan:
    families: np.ndarray  # (F,) bool: families it engages
    assets: np.ndarray | None  # (A,) bool: assets it covers (None: all)
    kill_plane: int  # index of its kill-uniform plane (shared by disjoint layers)
    drawn: np.ndarray  # (F,) bool: kill probability drawn per run
    classes: list[list[list[int]]]  # per rule (kill, debris, next shots): value classes
    rules: list[_Rule] | None  # the rules themselves when nothing is drawn per run


@dataclass(frozen=True)
class _Plan:
    """Per-scenario tables; a *group* is a run of weapons of one family and window."""

    group_size: np.ndarray  # (G,) int64
    group_family: np.ndarray  # (G,) intp
    group_key: np.ndarray  # (G + 1,) uint32 ``lo << 15 | family``; last: an unused position
    group_span: np.ndarray  # (G + 1,) uint32 arrival window in ticks; last: 0
    group_class: np.ndarray  # (G, C) int64 one-hot
    weapons_by_class: np.ndarray  # (C,) int64
    layers: list[_LayerPlan]
    n_kill_planes: int
    min_capacity: int
    pair_groups: np.ndarray  # (P, 2) intp: Shahed and decoy group of each pair
    pair_size: np.ndarray  # (P,) int64: the burst's count N


def _rule_tables(cs: CompiledScenario, li: int, p1: np.ndarray) -> list[np.ndarray]:
    """Kill, debris and next-shot thresholds, ``(F,)`` or ``(runs, F)``."""
    layer = cs.layers[li]
    k = layer.shots
    p_kill = 1.0 - (1.0 - p1) ** k
    tables = [_thresholds(p_kill), _thresholds(p_kill * cs.debris)]
    if layer.doctrine == "shoot_look_shoot":  # shot j + 1 is fired if the first j missed
        tables += [_thresholds(1.0 - (1.0 - p1) ** j) for j in range(1, k)]
    return tables


def _value_classes(table, engaged, drawn, weight) -> list[list[int]]:
    by_value: dict = {}
    for f in engaged:
        by_value.setdefault(("drawn", f) if drawn[f] else int(table[f]), []).append(int(f))
    classes = sorted(by_value.values(), key=lambda fs: -int(weight[fs].sum()))
    return classes or [[0]]


def _make_rule(table: np.ndarray, classes: list[list[int]]) -> _Rule:
    values = [table[fs[0]] if table.ndim == 1 else table[:, [fs[0]]] for fs in classes]
    return _Rule(values=values, families=classes[1:])


def _plan(cs: CompiledScenario) -> _Plan:
    start, size, family = _groups(cs)
    n_c, n_f, n_a = len(cs.classes), len(cs.families), len(cs.assets)
    group_key = (cs.window_lo[start] << np.uint32(GROUP_BITS)) | family.astype(np.uint32)
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
        tables = _rule_tables(cs, li, layer.kill.p)  # fixed entries as in every run
        classes = [_value_classes(t, np.flatnonzero(fams), drawn, weight) for t in tables]
        layers.append(
            _LayerPlan(
                families=fams,
                assets=None if can.any(axis=0).all() else can.any(axis=0),
                kill_plane=plane,
                drawn=drawn,
                classes=classes,
                rules=None
                if drawn.any()
                else [_make_rule(t, c) for t, c in zip(tables, classes, strict=True)],
            )
        )
    return _Plan(
        group_size=size.astype(np.int64),
        group_family=family,
        group_key=np.append(group_key, np.uint32(1 << 31)).astype(np.uint32),
        group_span=np.append(cs.window_span[start], 0).astype(np.uint32),
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


def _layer_rules(cs: CompiledScenario, d: dict) -> list[list[_Rule]]:
    """Per layer: kill, debris and next-shot rules for the chunk's runs."""
    out = []
    for li, lp in enumerate(cs._plan.layers):
        if lp.rules is not None:
            out.append(lp.rules)
            continue
        tables = _rule_tables(cs, li, d["kill_p"][li])
        out.append([_make_rule(t, c) for t, c in zip(tables, lp.classes, strict=True)])
    return out


def _below(u: np.ndarray, rule: _Rule, rows: slice, words_of: Callable) -> np.ndarray:
    """Bit words of ``u >> 1 < threshold`` at every position, each family with its own.

    ``u`` holds 16-bit draws whose top 15 bits are the kill uniform; ``u >> 1 < t`` is
    ``u <= 2 t - 1`` (never when ``t`` is 0), so the plane is never shifted."""

    def compare(value) -> np.ndarray:
        if value.ndim:  # (runs, 1) thresholds drawn per run
            value = value[rows]
            out = _pack(u <= (2 * value.astype(np.int32) - 1).clip(0).astype(np.uint16))
            out[value[:, 0] == 0] = 0
            return out
        if value == 0:
            return np.zeros((u.shape[0], u.shape[1] // 64), np.uint64)
        return _pack(u <= np.uint16(2 * int(value) - 1))

    out = compare(rule.values[0])
    if rule.families:
        out &= ~words_of(tuple(f for fs in rule.families for f in fs))
        for value, fs in zip(rule.values[1:], rule.families, strict=True):
            out |= compare(value) & words_of(tuple(fs))
    return out


def _simulate_chunk(cs: CompiledScenario, d: dict, *, rows: int = SUB_CHUNK_RUNS) -> dict:
    """Per-run outputs for the runs of ``d`` (one or more stacked blocks).

    Runs are independent, so they are simulated ``rows`` at a time to keep the working
    arrays in cache; the numbers do not depend on ``rows``.
    """
    runs = d["planes"].shape[1]
    plan = cs._plan
    rules = _layer_rules(cs, d)
    parts = []
    for start in range(0, runs, rows):
        sl = slice(start, min(start + rows, runs))
        part = {
            "ew_lost": d["ew_lost"][sl],
            "absent": d["absent"][sl],
            "planes": d["planes"][:, sl],
        }
        parts.append(_simulate_rows(cs, plan, rules, sl, part))
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _simulate_rows(
    cs: CompiledScenario, plan: _Plan, rules: list[dict], sl: slice, d: dict
) -> dict:
    planes = d["planes"]
    _, runs, w = planes.shape
    n_f, n_a, n_l, n_slots = len(cs.families), len(cs.assets), len(cs.layers), cs.n_slots

    # 1. EW was drawn per group; the positions of a row are the weapons still flying of
    # each group in turn, then unused positions (up to a whole number of 64-bit words)
    ew_lost_by_group = d["ew_lost"]
    flying_by_group = plan.group_size - ew_lost_by_group - d["absent"]
    n_flying = flying_by_group.sum(axis=1)
    wa = -(-max(1, int(n_flying.max())) // 64) * 64
    if wa > w:
        planes = np.concatenate([planes, np.zeros(planes.shape[:2] + (wa - w,), np.uint16)], 2)
    counts = np.concatenate([flying_by_group, (wa - n_flying)[:, None]], axis=1).ravel()

    # 2. arrival order: sort keys (16-bit time | family; unused positions 1 << 31) row by
    # row; weapons in arrival order first (ties by family)
    key = planes[0][:, :wa] * np.repeat(np.tile(plan.group_span, runs), counts).reshape(runs, wa)
    key >>= 16
    key <<= GROUP_BITS
    key += np.repeat(np.tile(plan.group_key, runs), counts).reshape(runs, wa)
    key.sort(axis=1)

    # every per-position flag below is a bit in ``runs x wa/64`` words; the weapons still
    # flying are the first ``n_flying`` positions of each row
    bits = np.clip(n_flying[:, None] - 64 * np.arange(wa // 64), 0, 64)
    alive = _LOW_BITS[bits]
    # the family is the key's low bits (unused positions: 0, as they are never alive)
    family = key.astype(np.uint8) if n_f < 256 else (key & np.uint32(GROUP_MASK)).astype(np.uint16)
    family_words = [_pack(family == f) for f in range(n_f)]
    t_plane = planes[1][:, :wa]
    at_least = [alive.copy()] + [  # target >= asset a: thresholds on the 16-bit aim draw
        _pack(t_plane >= t) if t < TIME_TICKS else np.zeros_like(alive) for t in cs.aim_cumulative
    ]
    asset_words = [at_least[a] & ~at_least[a + 1] for a in range(n_a - 1)] + [at_least[-1]]

    unions: dict[tuple, np.ndarray] = {}

    def union(words: list, picked: tuple) -> np.ndarray:
        """Bit words of the positions of any ``picked`` entry of ``words`` (cached: layers
        and rules share them; never modified in place)."""
        if (id(words), picked) not in unions:
            out = np.zeros_like(alive)
            for i in picked:
                out |= words[i]
            unions[id(words), picked] = out
        return unions[id(words), picked]

    def any_of(words: list, chosen: np.ndarray) -> np.ndarray:
        return union(words, tuple(np.flatnonzero(chosen).tolist()))

    def words_of(fs: tuple) -> np.ndarray:
        """Bit words of the positions of families ``fs``."""
        return union(family_words, tuple(sorted(fs)))

    decoy = any_of(family_words, cs.is_decoy)

    crowded_rows: dict[int, tuple] = {}  # capacity -> rows with a slot above it, their slots
    slot_key = np.uint32(-(-TIME_TICKS // n_slots) << GROUP_BITS)

    def crowded(c: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows where more than ``c`` weapons still flying share a slot (sorted rows: iff
        ``slot[i + c] == slot[i]``), and their arrival slot by position, found among the
        rows where ``c + 1`` weapons arrive within one slot length (a key difference: no
        slot numbers for the other rows). The rows for ``c`` are among those for the
        smallest capacity. Unused positions (at the end of each row) get slots >= n_slots."""
        if c not in crowded_rows:
            c_min = plan.min_capacity
            if c >= wa:
                rows, slot = np.arange(0), np.zeros((0, wa), np.uint32)
            elif c != c_min and c_min < wa:
                rows, slot = crowded(c_min)
            else:
                near = (key[:, c:] - key[:, : wa - c]) < slot_key
                near &= key[:, c:] < np.uint32(1 << 31)  # not unused positions
                rows = np.flatnonzero(near.any(axis=1))
                slot = ((key[rows] >> GROUP_BITS) * np.uint32(n_slots)) >> 16
            if rows.size:
                hit = slot[:, c:] == slot[:, : wa - c]
                hit &= slot[:, c:] < n_slots
                keep = hit.any(axis=1)
                rows, slot = rows[keep], slot[keep]
            crowded_rows[c] = rows, slot
        return crowded_rows[c]

    starts: dict[int, np.ndarray] = {}
    # ranks within a slot fit 16 bits when a row has fewer positions (same numbers)
    rank_type = np.int16 if wa < 32767 else np.int32

    def slot_starts(c: int) -> np.ndarray:
        """Positions that start a slot, for the crowded rows of capacity ``c`` (shared by
        the layers with that smallest capacity)."""
        if c not in starts:
            ss = crowded(c)[1]
            new_slot = np.empty(ss.shape, dtype=bool)
            new_slot[:, 0] = True
            np.not_equal(ss[:, 1:], ss[:, :-1], out=new_slot[:, 1:])
            starts[c] = new_slot
        return starts[c]

    interceptors = np.zeros((runs, n_l), dtype=np.int64)
    kills = np.zeros((runs, n_l), dtype=np.int64)
    decoys_engaged = np.zeros(runs, dtype=np.int64)
    debris = np.zeros_like(alive)

    # 3. layers, outermost first; each over the whole night
    for li, layer in enumerate(cs.layers):
        lp = plan.layers[li]
        if not lp.families.any():
            continue
        e = alive & any_of(family_words, lp.families)
        if lp.assets is not None:
            e &= any_of(asset_words, lp.assets)
        n_e = _count(e)
        if not n_e.any():
            continue
        capacity = layer.capacity_per_slot
        c = int(capacity.min())
        if n_e.max() > c:
            rows, ss = crowded(c)
            if rows.size:  # rank of each eligible weapon in its slot, first come first served
                es = _unpack(e[rows])
                new_slot = slot_starts(c)
                rank = np.cumsum(es, axis=1, dtype=rank_type)
                offset = rank - es
                offset *= new_slot
                np.maximum.accumulate(offset, axis=1, out=offset)
                rank -= offset
                es &= _within_capacity(rank, ss, capacity, n_slots)
                e[rows] = _pack(es)
                n_e[rows] = _count(e[rows])

        k = layer.shots
        kill_rule, debris_rule, *next_shot = rules[li]
        u = planes[2 + lp.kill_plane][:, :wa]
        extra = [e & ~_below(u, r, sl, words_of) for r in next_shot]
        total = n_e + sum(_count(x) for x in extra) if extra else n_e * k
        if layer.stock is not None:
            over = np.flatnonzero(total > layer.stock)  # only these runs run out
            if over.size:
                es = _unpack(e[over])
                shots = es.astype(np.int32)
                if extra:
                    for x in extra:
                        shots += _unpack(x[over])
                else:
                    shots *= k
                within = np.cumsum(shots, axis=1, dtype=np.int32) <= layer.stock
                es &= within
                e[over] = _pack(es)
                shots *= within
                total[over] = shots.sum(axis=1)
        killed = _below(u, kill_rule, sl, words_of)
        killed &= e
        # debris: only killed weapons; u is uniform below the kill threshold when killed
        debris |= killed & _below(u, debris_rule, sl, words_of)
        interceptors[:, li] = total
        kills[:, li] = _count(killed)
        decoys_engaged += _count(e & decoy)
        alive &= ~killed

    # 4. tallies from the weapons still flying and the debris, counted in one pass
    n_c = len(cs.classes)
    class_words = np.stack([any_of(family_words, cs.family_class == c) for c in range(n_c)])
    asset_stack = np.stack(asset_words)
    leaking = alive & ~decoy
    counts = _count(
        np.concatenate(
            [
                alive & class_words,
                leaking & class_words,
                leaking & asset_stack,
                debris & asset_stack,
                (alive & decoy)[None],
            ]
        )
    )
    flying_by_class = counts[:n_c].T
    ew_lost_by_class = ew_lost_by_group @ plan.group_class
    return {
        "leakers_by_class": np.ascontiguousarray(counts[n_c : 2 * n_c].T),
        "leakers_by_asset": np.ascontiguousarray(counts[2 * n_c : 2 * n_c + n_a].T),
        "destroyed_by_class": plan.weapons_by_class
        - d["absent"] @ plan.group_class
        - ew_lost_by_class
        - flying_by_class,
        "ew_lost_by_class": ew_lost_by_class,
        "debris_by_asset": np.ascontiguousarray(counts[2 * n_c + n_a : 2 * n_c + 2 * n_a].T),
        "interceptors_by_layer": interceptors,
        "kills_by_layer": kills,
        "decoys_engaged": decoys_engaged,
        "decoys_through": counts[-1],
    }


def _within_capacity(
    rank: np.ndarray, slot: np.ndarray, capacity: np.ndarray, n_slots: int
) -> np.ndarray:
    """``rank <= capacity[slot]`` at every eligible position.

    Capacities are floor differences, so they take two neighbouring values; the compare
    is then against the smaller one, and only positions ranked just above it look up
    their slot (the same result as a gather at every position, without it)."""
    low, high = int(capacity.min()), int(capacity.max())
    if high - low > 1:
        return rank <= np.concatenate([capacity, np.zeros(n_slots, np.int32)]).take(slot)
    keep = rank <= low
    if high > low:
        r, c = np.nonzero(rank == low + 1)
        s = slot[r, c]
        keep[r, c] = (s < n_slots) & (capacity.take(np.minimum(s, n_slots - 1)) > low)
    return keep  # unused positions (slots past the night) are never eligible


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
    if isinstance(scenario, Scenario):  # what it will cost, before compiling
        salvo_cost(scenario, runs, blocks_per_pass=max(1, chunk_runs // BLOCK_RUNS)).check(
            max_memory_mb=DEFAULT_MAX_MEMORY_MB
        )
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
