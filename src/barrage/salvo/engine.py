"""The salvo engine: a layered air defence against a mixed salvo, vectorised over runs.

Model, per run (all runs at once as ``runs x weapons`` arrays):

1. Each weapon draws an arrival time, uniform in its group's window (a wave's window
   when the group has waves), and a target asset from the attacker's aim. A weapon
   arriving through a named corridor belongs to a group labelled ``family@corridor``;
   with a decoy share drawn per run, a Shahed burst of N is a Shahed group and a decoy
   group of N each, of which each run keeps ``N - D`` and ``D``. Arrival times are 16-bit
   (0.7 s resolution over a 12 h night; ties by family). A run's weapons are put in
   arrival order only where the order can matter: if more weapons than the smallest
   capacity arrive in one slot, or when a layer's stock runs out.
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
Kill probabilities are compared against 16-bit uniforms (a probability is held to
1/65536), drawn bit-sliced (:mod:`barrage.salvo.blocks`) so that ``u < t`` for 64
positions at once is 16 word operations, with no per-position compare. Speed
comes from drawing EW as one binomial per run and weapon group (weapons of a group are
exchangeable), so random numbers are drawn only for the weapons still flying; from
keeping every per-weapon flag as bits in 64-bit words (``np.packbits``; counts by
``np.bitwise_count``); from comparing each kill or debris threshold once over the night
per value (families with the same value share it); and from sorting and computing slot
ranks and stock cuts only for the runs where channels or stock can bind (see
docs/benchmarks.md). Elsewhere a run's weapons keep their group order: its per-position
draws (target, kill) are independent of the arrival times, so which weapon reads which
position's draws does not change any distribution.

Randomness: every draw is made in :mod:`barrage.salvo.blocks` (fixed blocks of runs, each
from its own seed), so a run's numbers do not depend on how blocks are grouped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from barrage.errors import InputError
from barrage.salvo.blocks import (
    BLOCK_RUNS,
    Draws,
    block_generator,
    block_generators,
    draw_block,
    draw_block_given,
    n_blocks,
    stack,
)
from barrage.salvo.compile import (
    GROUP_BITS,
    GROUP_MASK,
    PROB_BITS,
    PROB_TICKS,
    TIME_TICKS,
    CompiledScenario,
    Plan,
    Rule,
    compile_scenario,
    make_rule,
    rule_tables,
)
from barrage.salvo.cost import DEFAULT_MAX_MEMORY_MB, salvo_cost
from barrage.salvo.result import OUTPUTS, SalvoResult
from barrage.salvo.scenario import Scenario

SUB_CHUNK_RUNS = 1024
"""Runs simulated together inside a chunk (a whole block: with bit-sliced draws, the word
operations are many and small, so fewer, larger passes are faster; docs/benchmarks.md)."""


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


def _repeat(table: np.ndarray, per_position: np.ndarray, wa: int) -> np.ndarray:
    """``runs x wa``: each group's entry of ``table`` (G + 1 entries, the last for unused
    positions) repeated over the row's positions of that group."""
    runs = per_position.shape[0]
    return np.repeat(np.tile(table, runs), per_position.ravel()).reshape(runs, wa)


def _crowded_rows(tick: np.ndarray, n_flying: np.ndarray, c: int, n_slots: int) -> np.ndarray:
    """Rows where more than ``c`` weapons still flying arrive in one slot.

    On each row's sorted 16-bit times (a row sorts as fast again as the 32-bit keys with
    the family): more than ``c`` share a slot iff ``slot[i + c] == slot[i]`` for some
    ``i``, looked at only where the times are less than a slot length apart. ``tick``:
    uint16, unused positions 65535."""
    rows = np.flatnonzero(n_flying > c)
    wa = tick.shape[1]
    if not rows.size or c >= wa:
        return rows[:0]
    t = tick[rows] if rows.size < tick.shape[0] else tick.copy()  # unused: 65535, last
    t.sort(axis=1)
    real = np.arange(c, wa) < n_flying[rows, None]  # t[i + c] is a weapon's time
    slot_len = -(-TIME_TICKS // n_slots)
    near = (t[:, c:] - t[:, : wa - c]) <= np.uint16(min(slot_len - 1, TIME_TICKS - 1))
    near &= real
    some = np.flatnonzero(near.any(axis=1))
    slot = (t[some].astype(np.uint32) * np.uint32(n_slots)) >> 16
    hit = slot[:, c:] == slot[:, : wa - c]
    hit &= real[some]
    return rows[some[hit.any(axis=1)]]


def _group_family_words(plan: Plan, per_position: np.ndarray, n_f: int, wa: int) -> list:
    """Per family, bit words of its positions in group order (a group's weapons still
    flying take consecutive positions), without a compare per position."""
    end = np.cumsum(per_position[:, :-1], axis=1)
    start = end - per_position[:, :-1]
    base = 64 * np.arange(wa // 64)
    words = [np.zeros((per_position.shape[0], wa // 64), np.uint64) for _ in range(n_f)]
    for g, f in enumerate(plan.group_family):
        hi = _LOW_BITS[np.clip(end[:, g, None] - base, 0, 64)]
        hi &= ~_LOW_BITS[np.clip(start[:, g, None] - base, 0, 64)]
        words[f] |= hi
    return words


def _within_stock(
    shots: np.ndarray, stock: int, sort_keys: Callable, over: np.ndarray, is_ordered: np.ndarray
) -> np.ndarray:
    """``shots`` (rows ``over``, by position) fired in arrival order until ``stock`` is
    spent: which positions are engaged. Rows in group order are put in arrival order
    here (ties by family, then by position, so the order does not depend on the CPU)."""
    within = np.cumsum(shots, axis=1, dtype=np.int32) <= stock
    b = np.flatnonzero(~is_ordered[over])
    if b.size:
        wa = shots.shape[1]
        key = sort_keys(over[b]).astype(np.uint64) << np.uint64(32)
        key |= np.arange(wa, dtype=np.uint64)
        key.sort(axis=1)
        order = (key & np.uint64(0xFFFFFFFF)).astype(np.intp)
        cum = np.cumsum(np.take_along_axis(shots[b], order, axis=1), axis=1, dtype=np.int32)
        engaged = np.empty(cum.shape, dtype=bool)
        np.put_along_axis(engaged, order, cum <= stock, axis=1)
        within[b] = engaged
    return within


def _layer_rules(cs: CompiledScenario, d: Draws) -> list[list[Rule]]:
    """Per layer: kill, debris and next-shot rules for the chunk's runs."""
    out = []
    for li, lp in enumerate(cs.plan.layers):
        if lp.rules is not None:
            out.append(lp.rules)
            continue
        tables = rule_tables(cs, li, d.kill_p[li])
        out.append([make_rule(t, c) for t, c in zip(tables, lp.classes, strict=True)])
    return out


def below(v: np.ndarray, t: int) -> np.ndarray:
    """Bit words of ``u < t`` at every position, from bit-sliced 16-bit uniforms ``u``
    (``v[b]``: bit ``b`` of every position, most significant first; ``t`` in [0, 65536]).

    The stored bits are read as the complement of ``u``'s (an equally uniform reading).
    From the least significant bit up, ``u`` is below ``t`` on bits ``b..15`` if it is on
    bit ``b`` (``u_b = 0 < t_b = 1``) or ties there and is below on bits ``b+1..15``:
    ``r = v_b | r`` where ``t_b = 1``, ``r = v_b & r`` where ``t_b = 0``; bits under the
    lowest set bit of ``t`` leave ``r = 0``, so the fold starts there."""
    if t <= 0:
        return np.zeros(v.shape[1:], np.uint64)
    if t >= PROB_TICKS:
        return np.full(v.shape[1:], np.uint64(0xFFFFFFFFFFFFFFFF))
    low = (t & -t).bit_length() - 1  # lowest set bit of t, counted from the least significant
    r = v[PROB_BITS - 1 - low].copy()
    for b in range(PROB_BITS - 2 - low, -1, -1):
        if (t >> (PROB_BITS - 1 - b)) & 1:
            r |= v[b]
        else:
            r &= v[b]
    return r


def below_rows(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """:func:`below` with a threshold per row (``t``: ``rows x 1``), for probabilities
    drawn per run: ``r = (v_b & r) | (v_b | r) & T_b``, ``T_b`` all ones where the row's
    threshold has bit ``b``."""
    t = t[:, 0].astype(np.int64)
    r = np.zeros(v.shape[1:], np.uint64)
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    for b in range(PROB_BITS - 1, -1, -1):
        t_b = np.where((t >> (PROB_BITS - 1 - b)) & 1 == 1, ones, np.uint64(0))[:, None]
        either = v[b] | r
        either &= t_b
        r &= v[b]
        r |= either
    r[t >= PROB_TICKS] = ones
    return r


def _below(v: np.ndarray, rule: Rule, rows: slice, words_of: Callable) -> np.ndarray:
    """Bit words of ``u < threshold`` at every position, each family with its own."""

    def compare(value) -> np.ndarray:
        if value.ndim:  # (runs, 1) thresholds drawn per run
            return below_rows(v, value[rows])
        return below(v, int(value))

    out = compare(rule.values[0])
    if rule.families:
        out &= ~words_of(tuple(f for fs in rule.families for f in fs))
        for value, fs in zip(rule.values[1:], rule.families, strict=True):
            out |= compare(value) & words_of(tuple(fs))
    return out


def simulate_chunk(cs: CompiledScenario, d: Draws, *, rows: int = SUB_CHUNK_RUNS) -> dict:
    """Per-run outputs for the runs of ``d`` (one or more stacked blocks).

    Runs are independent, so they are simulated ``rows`` at a time to keep the working
    arrays in cache; the numbers do not depend on ``rows``.
    """
    runs = d.planes.shape[1]
    plan = cs.plan
    rules = _layer_rules(cs, d)
    parts = []
    for start in range(0, runs, rows):
        sl = slice(start, min(start + rows, runs))
        parts.append(_simulate_rows(cs, plan, rules, sl, d.rows(sl)))
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _simulate_rows(
    cs: CompiledScenario, plan: Plan, rules: list[dict], sl: slice, d: Draws
) -> dict:
    """Per-run outputs of ``rows`` runs: the numeric kernel (steps 1-5 of the module's
    model on 64-bit words).

    Kept as one function on purpose: its stages share a dozen large working arrays
    (positions, bit words per family and asset, ranks, slots) that a split would have to
    pass around or copy, and its speed is measured as a whole (docs/benchmarks.md)."""
    planes = d.planes
    _, runs, w = planes.shape
    n_f, n_a, n_l, n_slots = len(cs.families), len(cs.assets), len(cs.layers), cs.n_slots

    # 1. EW was drawn per group; the positions of a row are the weapons still flying of
    # each group in turn, then unused positions (up to a whole number of 64-bit words)
    ew_lost_by_group = d.ew_lost
    flying_by_group = plan.group_size - ew_lost_by_group - d.absent
    n_flying = flying_by_group.sum(axis=1)
    wa = -(-max(1, int(n_flying.max())) // 64) * 64
    sliced = d.bits  # bit-sliced target and kill uniforms
    if wa > w:
        planes = np.concatenate([planes, np.zeros(planes.shape[:2] + (wa - w,), np.uint16)], 2)
        pad = np.zeros(sliced.shape[:3] + ((wa - w) // 64,), np.uint64)
        sliced = np.concatenate([sliced, pad], 3)
    sliced = sliced[..., : wa // 64]
    counts = np.concatenate([flying_by_group, (wa - n_flying)[:, None]], axis=1).ravel()

    # 2. arrival times (16-bit ticks; unused positions 65535, after every real tick). A row
    # is put in arrival order only if capacity can bind in it (``crowded``); elsewhere the
    # positions stay in group order, where no count depends on the order (step 3 sorts a
    # row whose stock runs out when it needs to)
    per_position = counts.reshape(runs, -1)
    tick = planes[0][:, :wa] * _repeat(plan.group_span, per_position, wa)
    tick >>= 16
    tick = tick.astype(np.uint16)
    tick += _repeat(plan.group_lo, per_position, wa)

    def sort_keys(rows: np.ndarray) -> np.ndarray:
        """Arrival keys (16-bit time | family; unused positions 1 << 31) of ``rows``,
        in position order; ties by family."""
        key = tick[rows].astype(np.uint32) << np.uint32(GROUP_BITS)
        key += _repeat(plan.group_family_key, per_position[rows], wa)
        return key

    ordered = _crowded_rows(tick, n_flying, plan.min_capacity, n_slots)  # arrival order
    key = sort_keys(ordered)
    key.sort(axis=1)

    # every per-position flag below is a bit in ``runs x wa/64`` words; the weapons still
    # flying are the first ``n_flying`` positions of each row
    bits = np.clip(n_flying[:, None] - 64 * np.arange(wa // 64), 0, 64)
    alive = _LOW_BITS[bits]
    family_words = _group_family_words(plan, per_position, n_f, wa)
    if ordered.size:  # the family is the key's low bits (unused positions: never alive)
        family = (key & np.uint32(GROUP_MASK)).astype(np.uint16)
        for f in range(n_f):
            family_words[f][ordered] = _pack(family == f)
    is_ordered = np.zeros(runs, dtype=bool)
    is_ordered[ordered] = True
    # target >= asset a: thresholds on the 16-bit aim draw (bit-sliced: not below)
    at_least = [alive.copy()] + [~below(sliced[0], int(t)) for t in cs.aim_cumulative]
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
    ordered_slot = ((key >> GROUP_BITS) * np.uint32(n_slots)) >> 16

    def crowded(c: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows where more than ``c`` weapons still flying share a slot (sorted rows: iff
        ``slot[i + c] == slot[i]``), and their arrival slot by position: among the rows
        in arrival order, which are those for the smallest capacity. Unused positions (at
        the end of each row) get slots >= n_slots."""
        if c not in crowded_rows:
            rows, slot = ordered, ordered_slot
            if c >= wa:
                rows, slot = np.arange(0), np.zeros((0, wa), np.uint32)
            elif c != plan.min_capacity and rows.size:
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
        u = sliced[1 + lp.kill_plane]
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
                within = _within_stock(shots, layer.stock, sort_keys, over, is_ordered)
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
        - d.absent @ plan.group_class
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
        raise InputError(f"runs: expected a positive number of runs, got {runs}")
    if seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed}")
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
        draws = stack([draw_block(cs, g, size) for g, size in group])
        parts.append(simulate_chunk(cs, draws))
        done += sum(size for _, size in group)
        if progress is not None:
            progress(done)
    return assemble_result(cs, runs=runs, seed=seed, parts=parts)


def simulate_given(
    cs: CompiledScenario, *, ew_p: np.ndarray, kill_p: list[np.ndarray], seed: int
) -> SalvoResult:
    """Simulate one run per row of the given per-run probabilities (``ew_p``: runs x F;
    ``kill_p``: per layer, runs x F); everything else is drawn as :func:`simulate` draws
    it, block by block from ``seed``.

    The layers' kill tables must be drawn (Beta) in ``cs``, not fixed, so the engine reads
    ``kill_p`` rather than rules compiled from fixed values."""
    runs = ew_p.shape[0]
    if runs < 1:
        raise InputError(f"ew_p: expected at least one run, got {runs}")
    if any(not lp.drawn[lp.families].all() for lp in cs.plan.layers):
        raise InputError("kill_p: every engaged family's kill probability must be drawn")
    parts = []
    for b, (g, size) in enumerate(block_generators(seed, runs)):
        rows = slice(b * BLOCK_RUNS, b * BLOCK_RUNS + size)
        draws = draw_block_given(cs, g, ew_p[rows], [p[rows] for p in kill_p])
        parts.append(simulate_chunk(cs, draws))
    return assemble_result(cs, runs=runs, seed=seed, parts=parts)


# --- blocks simulated apart (another process or machine) and put back together ---


def simulate_blocks(
    cs: CompiledScenario,
    *,
    seed: int,
    runs: int,
    start: int,
    stop: int,
    blocks_per_pass: int = 2,
) -> dict[str, np.ndarray]:
    """Per-run outputs of blocks ``start .. stop-1`` of a ``runs``-run simulation.

    The rows equal the same rows of ``simulate(cs, runs=runs, seed=seed)``.
    ``blocks_per_pass`` bounds memory (as ``chunk_runs`` does in ``simulate``).
    """
    total = n_blocks(runs)
    if not 0 <= start < stop <= total:
        raise InputError(f"blocks: expected 0 <= start < stop <= {total}, got {start}..{stop}")
    sizes = [min(BLOCK_RUNS, runs - b * BLOCK_RUNS) for b in range(start, stop)]
    parts = []
    for lo in range(start, stop, max(1, blocks_per_pass)):
        hi = min(lo + max(1, blocks_per_pass), stop)
        draws = stack(
            [draw_block(cs, block_generator(seed, b), sizes[b - start]) for b in range(lo, hi)]
        )
        parts.append(simulate_chunk(cs, draws))
    return merge_parts(parts)


def merge_parts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate block-range outputs along the run axis, in the given order."""
    if len(parts) == 1:
        return dict(parts[0])
    return {k: np.concatenate([p[k] for p in parts]) for k in OUTPUTS}


def assemble_result(
    cs: CompiledScenario, *, runs: int, seed: int, parts: list[dict[str, np.ndarray]]
) -> SalvoResult:
    """A :class:`SalvoResult` from block-range outputs given in block order."""
    merged = merge_parts(parts)
    got = len(merged["decoys_through"])
    if got != runs:
        raise InputError(f"salvo parts: expected {runs} runs in total, got {got}")
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
