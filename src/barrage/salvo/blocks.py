"""The salvo engine's random draws: fixed blocks of runs, each from its own seed.

The runs are cut into fixed blocks of ``BLOCK_RUNS``; block ``b`` draws from
``Generator(SFC64(SeedSequence(seed).spawn(n_blocks)[b]))`` in a fixed order (the
per-run Beta draws, with a drawn decoy share its Beta and binomials, the per-group EW
binomials, then one ``random_raw`` call cut into a 16-bit arrival plane and the
bit-sliced target and kill uniforms, as wide as the block's largest number of weapons
still flying), so a run's numbers do not depend on how blocks
are grouped into chunks, processes or machines. This module is the only one that draws;
:class:`Draws` is all the engine (:mod:`barrage.salvo.engine`) reads that is random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from barrage.salvo.compile import PROB_BITS, CompiledScenario

BLOCK_RUNS = 1024
"""Runs per random block; fixed so results do not depend on the chunk size."""


@dataclass(frozen=True)
class Draws:
    """Every random number of one or more blocks of runs (the engine draws nothing
    else), in the order :func:`draw_block` draws them."""

    ew_p: np.ndarray  # (runs, F) P(lost to EW) per run and family
    kill_p: list[np.ndarray]  # per layer: (runs, F) single-shot kill probability
    ew_lost: np.ndarray  # (runs, G) weapons of each group lost to EW
    absent: np.ndarray  # (runs, G) weapons of each group not in the run's salvo (decoys)
    planes: np.ndarray  # (1, runs, width) uint16: arrival uniforms
    bits: np.ndarray  # (1 + kill planes, 16, runs, width / 64) uint64: target, kill uniforms

    @property
    def runs(self) -> int:
        return self.planes.shape[1]

    def rows(self, sl: slice) -> Draws:
        """The draws of runs ``sl`` (views, no copy)."""
        return Draws(
            ew_p=self.ew_p[sl],
            kill_p=[p[sl] for p in self.kill_p],
            ew_lost=self.ew_lost[sl],
            absent=self.absent[sl],
            planes=self.planes[:, sl],
            bits=self.bits[:, :, sl],
        )


def n_blocks(runs: int) -> int:
    """Number of random blocks for ``runs`` runs."""
    return max(1, math.ceil(runs / BLOCK_RUNS))


def block_generator(seed: int, block: int) -> np.random.Generator:
    """Block ``block``'s generator, without spawning the blocks before it.

    ``SeedSequence(seed, spawn_key=(b,))`` is the same sequence as
    ``SeedSequence(seed).spawn(n)[b]`` for any ``n > b``.
    """
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed, spawn_key=(block,))))


def block_generators(seed: int, runs: int) -> list[tuple[np.random.Generator, int]]:
    """One generator per block of ``BLOCK_RUNS`` runs, with the block's size."""
    n_blocks = max(1, math.ceil(runs / BLOCK_RUNS))
    children = np.random.SeedSequence(seed).spawn(n_blocks)
    sizes = [min(BLOCK_RUNS, runs - b * BLOCK_RUNS) for b in range(n_blocks)]
    return [
        (np.random.Generator(np.random.SFC64(c)), s) for c, s in zip(children, sizes, strict=True)
    ]


def draw_block(cs: CompiledScenario, rng: np.random.Generator, runs: int) -> Draws:
    """All random numbers for one block, in a fixed order.

    First the per-run probabilities (Beta draws), then the number of each group's weapons
    lost to EW (one binomial per run and group: weapons of a group are exchangeable, so
    which ones are lost does not matter), then one ``random_raw`` call cut into a 16-bit
    plane of ``runs x width`` arrival times, ``width`` being the block's largest number of
    weapons still flying, then a 16-bit target uniform and one 16-bit kill uniform per
    kill plane (layers engaging disjoint families share a plane: a weapon only ever reads
    one of them), per *position* (the weapons still flying of each group in turn, then
    unused positions).
    Drawing only for the weapons still flying halves the random numbers on a night with
    heavy EW.

    The target and kill uniforms are *bit-sliced*: word ``bits[k, b, r, j]`` holds bit
    ``b`` (0: the most significant) of the uniforms of positions ``64 j .. 64 j + 63`` of
    run ``r`` (``k`` 0: target; 1 on: kill planes), so a threshold compare is 16 word
    operations per 64 positions, with no per-position compare or bit packing
    (:func:`barrage.salvo.engine.below`).
    """
    ew_p = cs.ew.draw(rng, runs)
    return draw_block_given(cs, rng, ew_p, [layer.kill.draw(rng, runs) for layer in cs.layers])


def draw_block_given(
    cs: CompiledScenario, rng: np.random.Generator, ew_p: np.ndarray, kill_p: list[np.ndarray]
) -> Draws:
    """A block's draws with the per-run probabilities given (``ew_p``: runs x F; ``kill_p``:
    per layer, runs x F), the rest drawn as :func:`draw_block` draws it.

    For a caller whose per-run probabilities come from a model the scenario's independent
    Betas cannot state (the out-of-sample check's joint kill and lost shares)."""
    runs = ew_p.shape[0]
    draws = {"ew_p": ew_p, "kill_p": kill_p}
    size, family = cs.plan.group_size, cs.plan.group_family
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
    n_time = runs * width // 4  # 64-bit words of the 16-bit arrival plane
    n_bits = (1 + cs.plan.n_kill_planes) * PROB_BITS * runs * width // 64
    raw = rng.bit_generator.random_raw(n_time + n_bits)
    draws["planes"] = raw[:n_time].view(np.uint16).reshape(1, runs, width)
    draws["bits"] = raw[n_time:].reshape(-1, PROB_BITS, runs, width // 64)
    return Draws(**draws)


def _absent(cs: CompiledScenario, rng: np.random.Generator, runs: int) -> np.ndarray:
    """``(runs, G)`` weapons of each group not in a run's salvo: with a decoy share drawn
    per run, a burst of N has ``D ~ Binomial(N, share)`` decoys, so ``D`` of its Shahed
    group and ``N - D`` of its decoy group are absent. Zeros otherwise (no draws)."""
    plan = cs.plan
    absent = np.zeros((runs, plan.group_size.size), dtype=np.int64)
    if cs.decoy_prior is None or not plan.pair_groups.size:
        return absent
    share = rng.beta(cs.decoy_prior.alpha, cs.decoy_prior.beta, size=(runs, 1))
    n_decoy = rng.binomial(plan.pair_size[None, :], share)
    absent[:, plan.pair_groups[:, 0]] = n_decoy
    absent[:, plan.pair_groups[:, 1]] = plan.pair_size - n_decoy
    return absent


def stack(blocks: list[Draws]) -> Draws:
    """Blocks' draws as one, along the run axis (planes padded to the widest block)."""
    if len(blocks) == 1:
        return blocks[0]
    width = max(b.planes.shape[2] for b in blocks)
    planes = [
        np.pad(p, ((0, 0), (0, 0), (0, width - p.shape[2]))) if p.shape[2] < width else p
        for p in (b.planes for b in blocks)
    ]  # positions past a block's width are never used by its runs
    bits = [
        np.pad(k, ((0, 0), (0, 0), (0, 0), (0, width // 64 - k.shape[3])))
        if k.shape[3] < width // 64
        else k
        for k in (b.bits for b in blocks)
    ]
    return Draws(
        ew_p=np.concatenate([b.ew_p for b in blocks]),
        kill_p=[np.concatenate(ps) for ps in zip(*(b.kill_p for b in blocks), strict=True)],
        ew_lost=np.concatenate([b.ew_lost for b in blocks]),
        absent=np.concatenate([b.absent for b in blocks]),
        planes=np.concatenate(planes, axis=1),
        bits=np.concatenate(bits, axis=2),
    )
