"""The verdict: does the pre-registered primary model beat every naive baseline?

The warning is judged by one comparison, fixed before the evaluation was run
(docs/warning.md): on the last 12 and 24 months of a backtest, at 3 and 7 days, the
Brier score of :data:`~barrage.warning.models.PRIMARY_MODEL` minus that of every
baseline. The tool computes the answer from the backtest itself, so the report, the
dashboard and ``barrage backtest --json`` say it in the same words, and a newer record
answers it again without anyone rewriting a document.

Differences carry *paired* moving-block bootstrap intervals: both forecasts are
resampled on the same blocks of origins, so the weather of a period that is hard for
every model cancels in the difference. The model that scores best on a period is shown
too, marked as chosen on that period (an optimistic figure, never the claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.warning.backtest import BacktestResult
from barrage.warning.evaluate import REFERENCE_MODEL, SNAPSHOT_END, periods
from barrage.warning.models import BASELINES, MODELS, PRIMARY_MODEL
from barrage.warning.scores import block_bootstrap_indices, roc_auc

#: Fewer scored origins than this in a cell leave it unscored (as the score table).
MIN_ORIGINS = 30
#: The evaluation periods of the issue, and the prospective one: origins after the
#: record the protocol was frozen on, scored once newer rows are ingested.
EVALUATION_PERIODS: tuple[str, ...] = ("last_12m", "last_24m")
PROSPECTIVE_PERIOD = "after_snapshot"


@dataclass(frozen=True)
class EvaluationProtocol:
    """What the warning is judged by, frozen before its evaluation (docs/warning.md).

    ``snapshot_end`` is the last night of the record the protocol was written on: origins
    after it had not happened then, so their scores are the clean, prospective test.
    """

    primary_model: str = PRIMARY_MODEL
    baselines: tuple[str, ...] = BASELINES
    reference_model: str = REFERENCE_MODEL
    horizons_d: tuple[int, ...] = (3, 7)
    periods: tuple[str, ...] = EVALUATION_PERIODS
    development_end: date = date(2023, 9, 30)
    snapshot_end: date = SNAPSHOT_END
    aim_horizon_d: int = 7
    aim_brier_skill: float = 0.15
    aim_roc_auc: float = 0.70
    level: float = 0.9
    n_boot: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        named = (self.primary_model, self.reference_model, *self.baselines)
        unknown = [m for m in named if m not in MODELS]
        if unknown:
            raise InputError(
                f"protocol: unknown model(s) {', '.join(map(repr, unknown))}; expected "
                f"names from {', '.join(MODELS)}"
            )
        if not self.baselines:
            raise InputError("protocol: expected at least one baseline")
        if self.reference_model not in self.baselines:
            raise InputError(
                f"protocol: the reference {self.reference_model!r} must be one of the baselines"
            )
        if not self.horizons_d or any(int(k) < 1 for k in self.horizons_d):
            raise InputError(f"protocol: horizons must be whole days >= 1, got {self.horizons_d}")
        if self.aim_horizon_d not in self.horizons_d:
            raise InputError(
                f"protocol: the aim's horizon {self.aim_horizon_d} d is not among {self.horizons_d}"
            )
        known = set(periods(pd.DatetimeIndex([]), pd.Timestamp("2000-01-01")))
        bad = [p for p in (*self.periods, PROSPECTIVE_PERIOD) if p not in known]
        if bad or not self.periods:
            raise InputError(f"protocol: periods must be among {sorted(known)}, got {bad}")
        if not 0.5 < self.level < 1:
            raise InputError(f"protocol: level must be in (0.5, 1), got {self.level}")
        if self.n_boot < 20:
            raise InputError(f"protocol: n_boot must be >= 20, got {self.n_boot}")
        if self.development_end >= self.snapshot_end:
            raise InputError("protocol: the development period must end before the snapshot")


def _cell(
    wide: pd.DataFrame,
    y: np.ndarray,
    mask: np.ndarray,
    k: int,
    protocol: EvaluationProtocol,
) -> dict:
    """Scores of the primary and of the period's best non-baseline model against every
    baseline on one (horizon, period) cell, paired bootstrap on shared resamples."""
    models = list(wide.columns)
    P = wide.loc[mask].to_numpy(float)
    yy = y[mask]
    err = (P - yy[:, None]) ** 2  # (origins, models)
    brier = err.mean(axis=0)
    idx = block_bootstrap_indices(yy.size, max(14, 4 * k), protocol.n_boot, protocol.seed)
    boot = err[idx].mean(axis=1)  # (n_boot, models): every model on the same resamples
    lo_q, hi_q = (1 - protocol.level) / 2, 1 - (1 - protocol.level) / 2
    col = {m: j for j, m in enumerate(models)}
    ref = col[protocol.reference_model]

    def judged(name: str, chosen_on_period: bool) -> dict:
        j = col[name]
        versus = []
        for b in protocol.baselines:
            if b == name:
                continue
            d = boot[:, j] - boot[:, col[b]]
            versus.append(
                {
                    "baseline": b,
                    "brier_baseline": float(brier[col[b]]),
                    "brier_diff": float(brier[j] - brier[col[b]]),
                    "brier_diff_lo": float(np.quantile(d, lo_q)),
                    "brier_diff_hi": float(np.quantile(d, hi_q)),
                }
            )
        skill_boot = 1 - boot[:, j] / np.where(boot[:, ref] > 0, boot[:, ref], np.nan)
        skill_boot = skill_boot[np.isfinite(skill_boot)]
        return {
            "model": name,
            "chosen_on_period": chosen_on_period,
            "brier": float(brier[j]),
            "brier_skill": float(1 - brier[j] / brier[ref]) if brier[ref] > 0 else None,
            "brier_skill_lo": float(np.quantile(skill_boot, lo_q)) if skill_boot.size else None,
            "brier_skill_hi": float(np.quantile(skill_boot, hi_q)) if skill_boot.size else None,
            "roc_auc": roc_auc(P[:, j], yy),
            "versus": versus,
            "beats_every_baseline": bool(all(v["brier_diff"] < 0 for v in versus)),
            "beats_every_baseline_with_intervals": bool(
                all(v["brier_diff_hi"] < 0 for v in versus)
            ),
        }

    challengers = [m for m in models if m not in protocol.baselines]
    best = min(challengers, key=lambda m: brier[col[m]]) if challengers else None
    return {
        "status": "scored",
        "origins": int(yy.size),
        "event_share": float(yy.mean()),
        "primary": judged(protocol.primary_model, chosen_on_period=False),
        "best_on_period": None if best is None else judged(best, chosen_on_period=True),
    }


def verdict(result: BacktestResult, protocol: EvaluationProtocol | None = None) -> dict:
    """The protocol's answer on ``result``: one cell per (horizon, period), then whether
    the primary beats every baseline in every evaluation cell, with and without its
    intervals, whether it reaches the aim, and the same on the prospective period.

    ``holds`` is None (not False) when an evaluation cell cannot be scored, e.g. a short
    backtest: the claim is then untested, not refuted.
    """
    protocol = protocol or EvaluationProtocol()
    fc = result.forecasts.dropna(subset=["outcome"])
    needed = {protocol.primary_model, *protocol.baselines}
    cells = []
    for k in protocol.horizons_d:
        g = fc[fc["horizon_days"] == k]
        wide = g.pivot(index="as_of", columns="model", values="p") if len(g) else None
        masks = (
            periods(wide.index, wide.index.max(), snapshot_end=protocol.snapshot_end)
            if wide is not None
            else {}
        )
        y = (
            g.drop_duplicates("as_of").set_index("as_of")["outcome"].reindex(wide.index)
            if wide is not None
            else None
        )
        for pname in (*protocol.periods, PROSPECTIVE_PERIOD):
            base = {"horizon_days": int(k), "period": pname}
            if wide is None:
                cells.append({**base, "status": f"no forecasts at {k} days in this backtest"})
                continue
            missing = sorted(needed - set(wide.columns))
            if missing:
                cells.append({**base, "status": f"models not in this backtest: {missing}"})
                continue
            mask = masks[pname]
            yv = y.to_numpy(float)
            n = int(mask.sum())
            if n < MIN_ORIGINS or np.unique(yv[mask]).size < 2:
                why = (
                    f"no origins after {protocol.snapshot_end} yet (ingest a newer record)"
                    if pname == PROSPECTIVE_PERIOD and n == 0
                    else f"{n} origin(s) with known outcome, one outcome class or fewer than "
                    f"{MIN_ORIGINS}"
                )
                cells.append({**base, "status": f"not scored: {why}"})
                continue
            cells.append({**base, **_cell(wide, yv, mask, int(k), protocol)})

    def answer(names: tuple[str, ...]) -> dict:
        mine = [c for c in cells if c["period"] in names]
        scored = [c for c in mine if c["status"] == "scored"]
        if not mine or len(scored) < len(mine):
            return {
                "cells": len(mine),
                "scored": len(scored),
                "holds": None,
                "holds_with_intervals": None,
                "aim_met": None,
            }
        prim = [c["primary"] for c in scored]
        aim = [c["primary"] for c in scored if c["horizon_days"] == protocol.aim_horizon_d]
        return {
            "cells": len(mine),
            "scored": len(scored),
            "cells_beaten": sum(p["beats_every_baseline"] for p in prim),
            "holds": all(p["beats_every_baseline"] for p in prim),
            "holds_with_intervals": all(p["beats_every_baseline_with_intervals"] for p in prim),
            "aim_met": bool(aim)
            and all(
                (p["brier_skill"] or -np.inf) >= protocol.aim_brier_skill
                and (p["roc_auc"] if np.isfinite(p["roc_auc"]) else -np.inf) >= protocol.aim_roc_auc
                for p in aim
            ),
        }

    evaluation = answer(protocol.periods)
    prospective = answer((PROSPECTIVE_PERIOD,))
    return {
        "protocol": {
            "primary_model": protocol.primary_model,
            "baselines": list(protocol.baselines),
            "reference_model": protocol.reference_model,
            "horizons_d": list(protocol.horizons_d),
            "periods": list(protocol.periods),
            "prospective_period": PROSPECTIVE_PERIOD,
            "development_end": str(protocol.development_end),
            "snapshot_end": str(protocol.snapshot_end),
            "aim": {
                "horizon_d": protocol.aim_horizon_d,
                "brier_skill": protocol.aim_brier_skill,
                "roc_auc": protocol.aim_roc_auc,
            },
            "level": protocol.level,
            "n_boot": protocol.n_boot,
        },
        "evaluation": evaluation,
        "prospective": prospective,
        "cells": cells,
        "sentence": verdict_sentence(evaluation, prospective, protocol, cells),
    }


def verdict_sentence(
    evaluation: dict, prospective: dict, protocol: EvaluationProtocol, cells: list[dict]
) -> str:
    """The verdict in plain words, with the numbers behind it."""
    who = f"The pre-registered primary model ({protocol.primary_model})"
    span = (
        f"{' and '.join(map(str, protocol.horizons_d))} days over "
        f"{' and '.join(p.replace('last_', 'the last ').replace('m', ' months') for p in protocol.periods)}"
    )
    if evaluation["holds"] is None:
        head = (
            f"{who} cannot be judged on this backtest: {evaluation['scored']} of "
            f"{evaluation['cells']} evaluation cells ({span}) could be scored."
        )
    elif evaluation["holds"]:
        sig = (
            "with every paired 90% interval below zero"
            if evaluation["holds_with_intervals"]
            else "on point estimates, though not every paired interval excludes zero"
        )
        head = f"{who} beats every baseline on Brier at {span}, {sig}."
    else:
        head = (
            f"{who} does not beat every baseline: it has a lower Brier score than all of "
            f"them in {evaluation['cells_beaten']} of {evaluation['cells']} cells ({span})."
        )
    aim = protocol.aim_horizon_d
    at_aim = [
        c
        for c in cells
        if c["status"] == "scored" and c["horizon_days"] == aim and c["period"] in protocol.periods
    ]
    if at_aim:
        figs = "; ".join(
            f"{c['period'].replace('_', ' ')}: skill {c['primary']['brier_skill']:+.3f}, "
            f"AUC {c['primary']['roc_auc']:.2f}"
            for c in at_aim
        )
        met = "met" if evaluation["aim_met"] else "not met"
        head += (
            f" The aim (Brier skill >= {protocol.aim_brier_skill:.2f} against "
            f"{protocol.reference_model} and ROC-AUC >= {protocol.aim_roc_auc:.2f} at {aim} "
            f"days) is {met} ({figs})."
        )
    if prospective["holds"] is None:
        head += (
            f" Prospective test (origins after {protocol.snapshot_end}, unseen when the "
            "protocol was fixed): not yet scored."
        )
    else:
        head += (
            f" Prospective test (origins after {protocol.snapshot_end}): the primary beats "
            f"every baseline in {prospective['cells_beaten']} of {prospective['cells']} cells."
        )
    return head


__all__ = [
    "EVALUATION_PERIODS",
    "PROSPECTIVE_PERIOD",
    "EvaluationProtocol",
    "verdict",
    "verdict_sentence",
]
