"""A salvo's summary from counts reduced on the workers, not from every run's outputs.

:meth:`barrage.salvo.engine.SalvoResult.summary` needs, of each integer per-run output,
only how many runs took each value: the mean is the sum of value x runs over the runs,
and a quantile is an order statistic (or two, interpolated), found by counting. So each
chunk returns :class:`SalvoTally` (one :class:`Counts` per output column and the per-run
defender cost, the one output that is not a small integer), tallies are added in chunk
order, and :func:`tally_summary` gives the same numbers, bit for bit, as the summary of
the joined per-run result: the quantiles follow numpy's default (linear, Hyndman and
Fan's 7th) with numpy's own arithmetic, checked against ``np.quantile`` in the tests.

Why: through the command line a 2-worker cluster lost to one process at 2 million runs,
partly because about 120 MB of per-run counts travelled back and were joined on the
client that shares the cores; a chunk's tally is a fifth of its narrowed outputs (most of
it the cost, 8 bytes a run) and the client sorts one float column instead of 30
(docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from barrage.errors import InputError
from barrage.salvo.compile import CompiledScenario

QUANTILES = np.array([0.05, 0.5, 0.95])
"""The summary's quantiles, as in :func:`barrage.salvo.engine.summarise`."""

COLUMNS = (
    "leakers",
    "leakers_by_class",
    "leakers_by_asset",
    "interceptors_by_layer",
    "kills_by_layer",
    "destroyed_by_class",
    "ew_lost_by_class",
    "debris_falls",
    "debris_by_asset",
    "decoys_engaged",
    "decoys_through",
)
"""Integer outputs tallied: the engine's per-run outputs and the two totals the summary
reports (leakers over classes, debris falls over assets)."""


@dataclass(frozen=True)
class Counts:
    """Runs by value of one integer output: ``runs_at[i]`` runs took the value ``lo + i``."""

    lo: int
    runs_at: np.ndarray  # (values,) int64

    @classmethod
    def of(cls, values: np.ndarray) -> Counts:
        """The counts of one column of per-run integers (at least one run)."""
        lo = int(values.min())
        return cls(lo=lo, runs_at=np.bincount(values - lo).astype(np.int64))

    def __add__(self, other: Counts) -> Counts:
        """The counts of both sets of runs together (exact: integers)."""
        lo = min(self.lo, other.lo)
        hi = max(self.lo + self.runs_at.size, other.lo + other.runs_at.size)
        runs_at = np.zeros(hi - lo, dtype=np.int64)
        for c in (self, other):
            runs_at[c.lo - lo : c.lo - lo + c.runs_at.size] += c.runs_at
        return Counts(lo=lo, runs_at=runs_at)

    def summary(self) -> dict[str, float]:
        """Mean and quantiles, equal to ``summarise`` of the per-run values."""
        values = np.arange(self.lo, self.lo + self.runs_at.size, dtype=np.int64)
        runs = int(self.runs_at.sum())
        # an exact integer sum over an exact count: numpy's float mean of integers below
        # 2**53 is the same correctly rounded quotient
        mean = int(values @ self.runs_at) / runs
        return _summary(mean, values.astype(float), self.runs_at, runs)


def _order_statistics(values: np.ndarray, runs_at: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The ``rank``-th smallest (0-based) of the runs, ``values`` ascending."""
    return values[np.searchsorted(np.cumsum(runs_at), rank, side="right")]


def _summary(mean: float, values: np.ndarray, runs_at: np.ndarray, runs: int) -> dict[str, float]:
    """Mean and the 5/50/95% quantiles as ``np.quantile(..., method="linear")`` computes
    them: index ``(n - 1) q``, its two neighbours (the last value past the end), and
    numpy's two-sided lerp, so the floats are the same."""
    index = (runs - 1) * QUANTILES
    below = np.floor(index)
    past_end = index >= runs - 1
    lo_rank = np.where(past_end, runs - 1, below).astype(np.int64)
    hi_rank = np.where(past_end, runs - 1, below + 1).astype(np.int64)
    a = _order_statistics(values, runs_at, lo_rank)
    b = _order_statistics(values, runs_at, hi_rank)
    t = index - below
    diff = b - a
    q = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
    return {"mean": float(mean), "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


@dataclass(frozen=True)
class SalvoTally:
    """What a salvo's summary needs from a set of runs: counts of every integer output
    column (:data:`COLUMNS`) and the defender's cost per run, in block order."""

    runs: int
    counts: dict[str, tuple[Counts, ...]]
    defender_cost_usd: np.ndarray  # (runs,) float64

    @classmethod
    def of(cls, outputs: dict[str, np.ndarray], interceptor_cost_usd: np.ndarray) -> SalvoTally:
        """The tally of per-run outputs (:func:`barrage.salvo.engine.simulate_blocks`)."""
        columns = {
            **outputs,
            "leakers": outputs["leakers_by_class"].sum(axis=1),
            "debris_falls": outputs["debris_by_asset"].sum(axis=1),
        }
        counts = {}
        for name in COLUMNS:
            values = columns[name] if columns[name].ndim == 2 else columns[name][:, None]
            counts[name] = tuple(Counts.of(values[:, j]) for j in range(values.shape[1]))
        cost = outputs["interceptors_by_layer"] @ interceptor_cost_usd  # as SalvoResult's
        return cls(runs=len(cost), counts=counts, defender_cost_usd=cost)

    @classmethod
    def merge(cls, parts: list[SalvoTally]) -> SalvoTally:
        """The tally of all parts' runs; per-run costs kept in the parts' order."""
        if not parts:
            raise InputError("salvo parts: expected at least one part, got none")
        counts = {
            name: tuple(_sum_counts([p.counts[name][j] for p in parts]) for j in range(len(cols)))
            for name, cols in parts[0].counts.items()
        }
        return cls(
            runs=sum(p.runs for p in parts),
            counts=counts,
            defender_cost_usd=np.concatenate([p.defender_cost_usd for p in parts]),
        )


def _sum_counts(counts: list[Counts]) -> Counts:
    total = counts[0]
    for c in counts[1:]:
        total = total + c
    return total


def _float_summary(values: np.ndarray) -> dict[str, float]:
    """``summarise`` of per-run floats (the same call, so the same numbers)."""
    p05, p50, p95 = np.quantile(values, QUANTILES)
    return {"mean": float(values.mean()), "p05": float(p05), "p50": float(p50), "p95": float(p95)}


def tally_summary(tally: SalvoTally, cs: CompiledScenario, *, seed: int) -> dict:
    """:meth:`SalvoResult.summary` of the tallied runs: same keys, order and numbers."""
    labels = {"class": cs.classes, "asset": cs.assets, "layer": [ly.name for ly in cs.layers]}

    def by(name: str, kind: str) -> dict[str, dict[str, float]]:
        return {k: c.summary() for k, c in zip(labels[kind], tally.counts[name], strict=True)}

    def one(name: str) -> dict[str, float]:
        return tally.counts[name][0].summary()

    cost = tally.defender_cost_usd
    return {
        "runs": tally.runs,
        "seed": seed,
        "leakers": one("leakers"),
        "leakers_by_class": by("leakers_by_class", "class"),
        "leakers_by_asset": by("leakers_by_asset", "asset"),
        "interceptors_used_by_layer": by("interceptors_by_layer", "layer"),
        "kills_by_layer": by("kills_by_layer", "layer"),
        "destroyed_by_class": by("destroyed_by_class", "class"),
        "lost_to_ew_by_class": by("ew_lost_by_class", "class"),
        "debris_falls": one("debris_falls"),
        "debris_by_asset": by("debris_by_asset", "asset"),
        "decoys_engaged": one("decoys_engaged"),
        "decoys_through": one("decoys_through"),
        "cost_exchange": {
            "attacker_cost_usd": cs.attacker_cost_usd,
            "defender_cost_usd": _float_summary(cost),
            "defender_per_attacker_usd": _float_summary(cost / max(cs.attacker_cost_usd, 1.0)),
        },
    }
