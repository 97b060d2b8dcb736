"""Choosing ``step_sd`` and ``source_sd`` by the evidence, never by a check's score.

The rule (docs/stockpile.md, "Step sd and source sd chosen by the evidence"): fit every
family at each cell of a fixed grid, sum the families' log evidence
(:meth:`StockpileModel.marginal_log_likelihood`) and take the cell with the largest sum.
One pair is shared by all families: most have one to four statements, too few to choose
two numbers each. The chosen pair is the model's default (a constant with its date), not
a search inside every fit; leave-one-out re-runs the rule inside each fold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from barrage.errors import InputError
from barrage.stockpile.model import StockpileModel

if TYPE_CHECKING:
    import pandas as pd

    from barrage.stockpile.statements import Statement

#: The fixed grid, written down before the evidence was computed.
STEP_SD_GRID: tuple[float, ...] = (0.2, 0.35, 0.5, 0.7, 1.0)
SOURCE_SD_GRID: tuple[float, ...] = (0.2, 0.35, 0.5, 0.7)
GRID: tuple[tuple[float, float], ...] = tuple(itertools.product(STEP_SD_GRID, SOURCE_SD_GRID))


def grid_fits(
    launches: pd.DataFrame,
    statements: list[Statement],
    *,
    as_of: pd.Timestamp | str,
    grid: tuple[tuple[float, float], ...] = GRID,
    families: list[str] | tuple[str, ...] | None = None,
    massive_nights: pd.DatetimeIndex | None = None,
    n_samples: int = 2000,
    seed: int = 0,
    **params,
) -> Iterator[tuple[tuple[float, float], StockpileModel]]:
    """One fit per ``(step_sd, source_sd)`` cell, same seed and data (output at as_of only);
    ``params``: the model's other settings, the same in every cell."""
    import pandas as pd

    if not grid:
        raise InputError("grid: expected at least one (step_sd, source_sd) pair")
    for cell in grid:
        model = StockpileModel(
            n_samples=n_samples, seed=seed, step_sd=cell[0], source_sd=cell[1], **params
        ).fit(
            launches, statements, as_of=as_of, massive_nights=massive_nights,
            families=families, output_as_of=pd.DatetimeIndex([as_of]),
        )  # fmt: skip
        yield cell, model


def evidence_table(fits) -> pd.DataFrame:
    """Long table of (step_sd, source_sd, family, log_evidence, log_evidence_se)."""
    import pandas as pd

    rows = [
        {
            "step_sd": cell[0],
            "source_sd": cell[1],
            "family": f,
            "log_evidence": p.log_evidence,
            "log_evidence_se": p.log_evidence_se,
        }  # fmt: skip
        for cell, model in fits
        for f, p in model.posteriors_.items()
    ]
    return pd.DataFrame(rows)


def select(table: pd.DataFrame) -> tuple[float, float]:
    """The ``(step_sd, source_sd)`` cell with the largest log evidence summed over families.

    Every cell must hold the same families (a sum over fewer would win by missing terms).
    """
    if table.empty:
        raise InputError("evidence table: expected at least one fitted cell")
    per_cell = table.groupby(["step_sd", "source_sd"])["family"].agg(frozenset)
    if per_cell.nunique() != 1:
        raise InputError("evidence table: expected the same families in every grid cell")
    total = table.groupby(["step_sd", "source_sd"])["log_evidence"].sum()
    step, source = total.idxmax()
    return float(step), float(source)


def summed(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell: summed log evidence, its Monte Carlo se (root sum of squares), and the
    gap to the best cell."""
    g = table.groupby(["step_sd", "source_sd"])
    out = g["log_evidence"].sum().to_frame()
    out["log_evidence_se"] = g["log_evidence_se"].apply(lambda s: float((s**2).sum() ** 0.5))
    out["gap_to_best"] = out["log_evidence"] - out["log_evidence"].max()
    return out.reset_index()
