"""What a salvo simulation will cost, known from its size before anything is allocated.

A job's memory and time follow from its size: weapons ``W``, runs ``R``, layers ``L``,
assets ``A``, weapon families ``F`` and slots ``S`` of the night. The engine holds, at
once (bytes; ``W64`` is ``W`` rounded up to whole 64-bit words):

- the random planes of one pass of ``blocks_per_pass`` blocks of 1,024 runs:
  ``(2 + L) P W64 2`` (uint16) for the ``P`` runs of the pass, twice when the pass
  stacks more than one block;
- the working arrays of 512 runs: ``512 W64 (PER_POSITION_B + (F + 5A + 2L + 16) / 8)``
  (sort keys, ranks, and one bit per weapon and family, asset or rule). The engine now
  simulates 1,024 runs a pass but sorts only the runs where capacity can bind; the
  512-run figure still bounds the measured peak (tests/test_hardening_cost.py);
- the per-run outputs of all runs: ``2 R (4A + 4C + 2L + 2) 8`` (int64, joined once),
  or, when each worker reduces its chunk of ``R_c`` runs to counts, ``2 workers R_c``
  runs' outputs and ``3 R 8`` for the per-run defender cost;
- the slot capacities: ``L S 24`` (float edges and int32 capacities per layer);

and the sum is taken times :data:`SAFETY`.
Time is the weapon-engagements ``R W max(L, 1)`` at :data:`ENGAGEMENTS_PER_S` plus the
slot work ``R / 512 L S`` at :data:`SLOT_STEPS_PER_S`. Both rates are floors measured on
a loaded 2-core machine (docs/reliability.md), so the estimate errs long. The CLI and the
API check the same :func:`salvo_cost` against their budget and refuse, naming the
parameter, before compiling the scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from barrage.budget import MAX_MEMORY_MB
from barrage.errors import InputError
from barrage.salvo.scenario import Scenario, load_families

BLOCK_RUNS = 1024
ROW_RUNS = 512
PER_POSITION_B = 80
"""Bytes per weapon position of the 512-run working arrays besides the bit words: sort
keys, ranks, offsets and slot numbers (4 each) and their temporaries (measured: about
70 with tracemalloc on the shipped scenario at 4x its weapons)."""

SAFETY = 1.25
"""Margin on the sum of the terms (allocator slack, fragmentation)."""

ENGAGEMENTS_PER_S = 2.0e7
"""Floor of weapon-engagements simulated per second on one loaded core (measured 3-8e7
on the shipped scenarios with other work on the machine)."""

SLOT_STEPS_PER_S = 2.0e8
"""Floor of slot capacities copied per second (one copy per layer and 512 runs)."""

BASE_MEMORY_MB = 350.0
"""The interpreter with numpy, pandas, DuckDB and the web stack loaded, before a job."""

DEFAULT_MAX_MEMORY_MB = MAX_MEMORY_MB
"""The library's and CLI's budget for a simulation's arrays (:mod:`barrage.budget`)."""


@dataclass(frozen=True)
class SalvoCost:
    """A simulation's size and its estimated peak memory (MB) and time (s)."""

    weapons: int
    runs: int
    layers: int
    assets: int
    slots: int
    memory_mb: float
    seconds: float

    def check(self, *, max_memory_mb: float, max_seconds: float | None = None) -> SalvoCost:
        """Raise :class:`InputError` naming what to reduce when over either budget."""
        size = (
            f"{self.weapons:,} weapons x {self.runs:,} runs x {self.layers} layers x "
            f"{self.assets} assets x {self.slots:,} slots"
        )
        if self.memory_mb > max_memory_mb:
            raise InputError(
                f"runs: {size} needs about {self.memory_mb:,.0f} MB, over the limit of "
                f"{max_memory_mb:,.0f} MB; ask for fewer runs, weapons, layers or assets"
            )
        if max_seconds is not None and self.seconds > max_seconds:
            raise InputError(
                f"runs: {size} needs about {self.seconds:,.0f} s, over the limit of "
                f"{max_seconds:,.0f} s; ask for fewer runs, weapons or layers"
            )
        return self


def n_slots(scenario: Scenario) -> int:
    """Slots of the night, as the engine cuts it."""
    return max(1, math.ceil(scenario.night_h * 60.0 / scenario.slot_min))


def salvo_cost(
    scenario: Scenario,
    runs: int,
    *,
    blocks_per_pass: int = 2,
    workers: int = 1,
    reduced_chunk_runs: int | None = None,
) -> SalvoCost:
    """Estimated peak memory and time of ``runs`` runs of ``scenario`` (see module doc).

    ``workers`` processes each hold one pass; the outputs are joined in this one, unless
    each worker reduces its chunks of ``reduced_chunk_runs`` runs to counts
    (``barrage.compute.summarise_salvo``): then each holds one chunk's outputs and this
    process one float a run (the defender cost, about three copies while summarised).
    """
    weapons = sum(g.count for g in scenario.salvo.weapons)
    layers, assets = len(scenario.layers), len(scenario.assets)
    families = len({g.family for g in scenario.salvo.weapons}) + 1  # + decoys
    classes = len({load_families()[g.family].weapon_class for g in scenario.salvo.weapons})
    slots = n_slots(scenario)
    w64 = 64 * -(-max(weapons, 1) // 64)
    pass_runs = min(runs, BLOCK_RUNS * max(1, blocks_per_pass))
    planes_b = (2 + layers) * pass_runs * w64 * 2 * (2 if pass_runs > BLOCK_RUNS else 1)
    rows_b = (
        min(runs, ROW_RUNS) * w64 * (PER_POSITION_B + (families + 5 * assets + 2 * layers + 16) / 8)
    )
    per_run_b = (4 * assets + 4 * classes + 2 * layers + 2) * 8
    if reduced_chunk_runs is None:
        outputs_b = 2 * runs * per_run_b
    else:
        held = max(1, workers) * min(runs, reduced_chunk_runs)
        outputs_b = 2 * held * per_run_b + 3 * 8 * runs
    slots_b = layers * slots * 24 + w64 * 24
    memory_b = SAFETY * (max(1, workers) * (planes_b + rows_b) + outputs_b + slots_b)
    engagements = runs * weapons * max(layers, 1)
    slot_steps = -(-runs // ROW_RUNS) * layers * slots
    return SalvoCost(
        weapons=weapons,
        runs=runs,
        layers=layers,
        assets=assets,
        slots=slots,
        memory_mb=memory_b / 2**20,
        seconds=engagements / ENGAGEMENTS_PER_S + slot_steps / SLOT_STEPS_PER_S,
    )
