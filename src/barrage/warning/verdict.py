"""The verdict: does the pre-registered primary model beat every naive baseline?

The warning is judged by one comparison, fixed before the evaluation was run
(docs/warning.md): at 3 and 7 days, on the origins of the last 12 and 24 months of the
record snapshot the protocol was written on, the Brier score of
:data:`~barrage.warning.models.PRIMARY_MODEL` minus that of every baseline. The tool
computes the answer from the backtest itself, so the report, the dashboard and
``barrage backtest --json`` say it in the same words.

The windows are fixed dates, not "the last 12 months of whatever was run": a shorter
backtest leaves them unscored rather than judging the primary on other origins, and a
newer record does not move them. Origins whose outcome window closes after the snapshot
were unseen when the protocol was fixed; they form the **prospective** period, scored as
soon as a newer record is ingested.

Differences carry *paired* moving-block bootstrap intervals: both forecasts are
resampled on the same blocks of origins, so a stretch that is hard for every model
cancels in the difference. The best non-baseline model of each window is shown too,
marked as chosen on that window (an optimistic figure, never the claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.warning.assessment import LaunchSkill
from barrage.warning.backtest import BacktestResult
from barrage.warning.models import BASELINES, BASELINES_V2, MODELS
from barrage.warning.registration import REGISTRATION
from barrage.warning.scores import (
    PROSPECTIVE_PERIOD,
    REFERENCE_MODEL,
    block_bootstrap_indices,
    forecast_table,
    registered_period,
    roc_auc,
)

#: Fewer scored origins than this in a cell leave it unscored (as the score table).
MIN_ORIGINS = 30
#: The last night of the record snapshot the protocol was fixed on.
SNAPSHOT_END = REGISTRATION.snapshot_end


@dataclass(frozen=True)
class EvaluationProtocol:
    """What the warning is judged by, frozen before its evaluation. The defaults are the
    second version's protocol (kept as history, :data:`V2_PROTOCOL`); the third
    version's, one per registered target, come from :func:`protocol_for`.

    Evaluation window ``last_<N>m`` at horizon k: origins from ``snapshot_end`` minus N
    months (exclusive) to ``snapshot_end - (k - 1)`` days, the last origin whose k-night
    window had closed on the snapshot. Prospective: every later origin.
    """

    primary_model: str = "recent_rate"
    baselines: tuple[str, ...] = BASELINES_V2
    reference_model: str = REFERENCE_MODEL
    target_name: str = "massive_missiles"
    horizons_d: tuple[int, ...] = (3, 7)
    evaluation_months: tuple[int, ...] = (12, 24)
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
        if not self.evaluation_months or any(int(m) < 1 for m in self.evaluation_months):
            raise InputError(
                f"protocol: evaluation windows must be whole months >= 1, got "
                f"{self.evaluation_months}"
            )
        first = min(self.window(m, 1)[0] for m in self.evaluation_months)
        if first <= self.development_end:
            raise InputError(
                f"protocol: an evaluation window starting {first} overlaps the development "
                f"period (to {self.development_end})"
            )
        if not 0.5 < self.level < 1:
            raise InputError(f"protocol: level must be in (0.5, 1), got {self.level}")
        if self.n_boot < 20:
            raise InputError(f"protocol: n_boot must be >= 20, got {self.n_boot}")

    def window(self, months: int, horizon_d: int) -> tuple[date, date]:
        """First and last origin of the ``months`` evaluation window at ``horizon_d``."""
        first = (pd.Timestamp(self.snapshot_end) - pd.DateOffset(months=months)).date()
        return first + timedelta(days=1), self.snapshot_end - timedelta(days=horizon_d - 1)

    def prospective_first(self, horizon_d: int) -> date:
        """First origin whose ``horizon_d``-night window closes after the snapshot."""
        return self.snapshot_end - timedelta(days=horizon_d - 2)


#: The second version's registered protocol (docs/warning.md), kept as history.
V2_PROTOCOL = EvaluationProtocol()


def protocol_for(target_name: str) -> EvaluationProtocol:
    """The third version's protocol for a target (:data:`REGISTRATION`): its registered
    primary against every baseline, the registered windows and aims. An unregistered
    target gets the headline target's protocol (the verdict says it is not registered)."""
    reg = REGISTRATION
    name = target_name if target_name in reg.targets else reg.headline_target
    return EvaluationProtocol(
        primary_model=reg.primary(name),
        baselines=BASELINES,
        target_name=name,
        horizons_d=reg.horizons_d,
        evaluation_months=reg.evaluation_months,
        development_end=reg.development_last,
        snapshot_end=reg.snapshot_end,
        aim_horizon_d=reg.aim_horizon_d,
        aim_brier_skill=reg.aim_brier_skill,
        aim_roc_auc=reg.aim_roc_auc,
    )


def _judge(
    name: str,
    *,
    chosen_on_period: bool,
    col: dict[str, int],
    P: np.ndarray,
    y: np.ndarray,
    brier: np.ndarray,
    boot: np.ndarray,
    protocol: EvaluationProtocol,
) -> dict:
    """One model against every baseline but itself: Brier differences with paired
    intervals (``boot`` holds every model's Brier on the same resamples)."""
    lo_q, hi_q = (1 - protocol.level) / 2, 1 - (1 - protocol.level) / 2
    j, ref = col[name], col[protocol.reference_model]
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
    with np.errstate(divide="ignore", invalid="ignore"):
        skill_boot = 1 - boot[:, j] / boot[:, ref]
    skill_boot = skill_boot[np.isfinite(skill_boot)]
    auc = roc_auc(P[:, j], y)
    return {
        "model": name,
        "chosen_on_period": chosen_on_period,
        "brier": float(brier[j]),
        "brier_skill": float(1 - brier[j] / brier[ref]) if brier[ref] > 0 else None,
        "brier_skill_lo": float(np.quantile(skill_boot, lo_q)) if skill_boot.size else None,
        "brier_skill_hi": float(np.quantile(skill_boot, hi_q)) if skill_boot.size else None,
        "roc_auc": auc if np.isfinite(auc) else None,
        "versus": versus,
        "beats_every_baseline": bool(all(v["brier_diff"] < 0 for v in versus)),
        "beats_every_baseline_with_intervals": bool(all(v["brier_diff_hi"] < 0 for v in versus)),
    }


def _cell(
    wide: pd.DataFrame, y: np.ndarray, mask: np.ndarray, k: int, protocol: EvaluationProtocol
) -> dict:
    """The primary, and the window's best non-baseline model, on one (horizon, window)."""
    models = list(wide.columns)
    P = wide.to_numpy(float)[mask]
    yy = y[mask]
    err = (P - yy[:, None]) ** 2  # (origins, models)
    brier = err.mean(axis=0)
    idx = block_bootstrap_indices(yy.size, max(14, 4 * k), protocol.n_boot, protocol.seed)
    boot = err[idx].mean(axis=1)  # (n_boot, models): every model on the same resamples
    col = {m: j for j, m in enumerate(models)}
    common = {"col": col, "P": P, "y": yy, "brier": brier, "boot": boot, "protocol": protocol}
    challengers = [m for m in models if m not in protocol.baselines]
    best = min(challengers, key=lambda m: brier[col[m]]) if challengers else None
    return {
        "status": "scored",
        "origins": int(yy.size),
        "first_origin": str(wide.index[mask].min().date()),
        "last_origin": str(wide.index[mask].max().date()),
        "event_share": float(yy.mean()),
        "primary": _judge(protocol.primary_model, chosen_on_period=False, **common),
        "best_challenger": None
        if best is None or best == protocol.primary_model
        else _judge(best, chosen_on_period=True, **common),
    }


def _cells_at(fc: pd.DataFrame, k: int, protocol: EvaluationProtocol) -> list[dict]:
    names = [f"last_{m}m" for m in protocol.evaluation_months]
    g = fc[fc["horizon_days"] == k]
    if g.empty:
        why = f"no forecasts with a known outcome at {k} days in this backtest"
        return [
            {"horizon_days": k, "period": p, "status": f"not scored: {why}"}
            for p in (*names, PROSPECTIVE_PERIOD)
        ]
    wide, y = forecast_table(g)
    missing = sorted({protocol.primary_model, *protocol.baselines} - set(wide.columns))
    if missing:
        return [
            {"horizon_days": k, "period": p, "status": f"not scored: models not in this "
             f"backtest: {missing}"}
            for p in (*names, PROSPECTIVE_PERIOD)
        ]  # fmt: skip
    yv = y.to_numpy(float)
    complete = wide.notna().all(axis=1).to_numpy() & np.isfinite(yv)
    days = wide.index
    have_first, have_last = days[complete].min().date(), days[complete].max().date()
    cells = []
    for m, name in zip(protocol.evaluation_months, names, strict=True):
        first, last = protocol.window(m, k)
        base = {"horizon_days": k, "period": name, "window": [str(first), str(last)]}
        if have_first > first or have_last < last:
            cells.append(
                {
                    **base,
                    "status": f"not scored: the backtest has outcomes for origins "
                    f"{have_first} .. {have_last}, the window is {first} .. {last}",
                }
            )
            continue
        mask = complete & (days >= pd.Timestamp(first)) & (days <= pd.Timestamp(last))
        cells.append({**base, **_scored_or_why(wide, yv, mask, k, protocol)})
    first = protocol.prospective_first(k)
    mask = complete & (days >= pd.Timestamp(first))
    base = {"horizon_days": k, "period": PROSPECTIVE_PERIOD, "window": [str(first), None]}
    if not mask.any():
        why = f"no origin from {first} with a known outcome yet (ingest a newer record)"
        cells.append({**base, "status": f"not scored: {why}"})
    else:
        cells.append({**base, **_scored_or_why(wide, yv, mask, k, protocol)})
    return cells


def _scored_or_why(wide, y, mask, k, protocol) -> dict:
    n = int(mask.sum())
    if n < MIN_ORIGINS or np.unique(y[mask]).size < 2:
        return {
            "status": f"not scored: {n} origin(s) with a known outcome; needs "
            f"{MIN_ORIGINS} or more, with both outcomes",
            "origins": n,
        }
    return _cell(wide, y, mask, k, protocol)


def _answer(cells: list[dict], protocol: EvaluationProtocol) -> dict:
    """Whether the primary beats every baseline in every cell (None: a cell unscored,
    the claim untested rather than refuted), and whether it reaches the aim."""
    scored = [c for c in cells if c["status"] == "scored"]
    if not cells or len(scored) < len(cells):
        return {
            "cells": len(cells),
            "scored": len(scored),
            "cells_beaten": sum(c["primary"]["beats_every_baseline"] for c in scored),
            "holds": None,
            "holds_with_intervals": None,
            "aim_met": None,
        }
    prim = [c["primary"] for c in scored]
    at_aim = [c["primary"] for c in scored if c["horizon_days"] == protocol.aim_horizon_d]

    def reaches(p: dict) -> bool:
        skill, auc = p["brier_skill"], p["roc_auc"]
        return (
            skill is not None
            and auc is not None
            and skill >= protocol.aim_brier_skill
            and auc >= protocol.aim_roc_auc
        )

    return {
        "cells": len(cells),
        "scored": len(scored),
        "cells_beaten": sum(p["beats_every_baseline"] for p in prim),
        "holds": all(p["beats_every_baseline"] for p in prim),
        "holds_with_intervals": all(p["beats_every_baseline_with_intervals"] for p in prim),
        "aim_met": bool(at_aim) and all(reaches(p) for p in at_aim),
    }


def verdict(result: BacktestResult, protocol: EvaluationProtocol | None = None) -> dict:
    """The protocol's answer on ``result``: one cell per (horizon, window), whether the
    primary beats every baseline in every evaluation cell (with and without its
    intervals), whether it reaches the aim, and the same on the prospective period."""
    protocol = protocol or protocol_for(result.target.name)
    fc = result.forecasts.dropna(subset=["outcome"])
    cells = [c for k in protocol.horizons_d for c in _cells_at(fc, int(k), protocol)]
    evaluation = _answer([c for c in cells if c["period"] != PROSPECTIVE_PERIOD], protocol)
    prospective = _answer([c for c in cells if c["period"] == PROSPECTIVE_PERIOD], protocol)
    registered = result.target.name == protocol.target_name
    return {
        "protocol": {
            "primary_model": protocol.primary_model,
            "baselines": list(protocol.baselines),
            "reference_model": protocol.reference_model,
            "target_name": protocol.target_name,
            "horizons_d": list(protocol.horizons_d),
            "evaluation_windows": {
                f"last_{m}m": {
                    str(k): [str(d) for d in protocol.window(m, k)] for k in protocol.horizons_d
                }
                for m in protocol.evaluation_months
            },
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
        "target": result.target.name,
        "registered_target": registered,
        "evaluation": evaluation,
        "prospective": prospective,
        "cells": cells,
        "sentence": verdict_sentence(evaluation, prospective, protocol, cells, registered),
    }


def _fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def verdict_sentence(
    evaluation: dict,
    prospective: dict,
    protocol: EvaluationProtocol,
    cells: list[dict],
    registered: bool = True,
) -> str:
    """The verdict in plain words, with the numbers behind it."""
    who = (
        f"The pre-registered primary model ({protocol.primary_model})"
        if registered
        else f"The primary model ({protocol.primary_model}, pre-registered for "
        f"{protocol.target_name}, not for this target)"
    )
    months = " and ".join(f"the last {m} months" for m in protocol.evaluation_months)
    span = (
        f"{' and '.join(map(str, protocol.horizons_d))} days over {months} of the record "
        f"to {protocol.snapshot_end}"
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
            f"{who} does not beat every baseline: its Brier score is lower than all of "
            f"theirs in {evaluation['cells_beaten']} of {evaluation['cells']} cells ({span})."
        )
    aim = protocol.aim_horizon_d
    at_aim = [
        c
        for c in cells
        if c["status"] == "scored"
        and c["horizon_days"] == aim
        and c["period"] != PROSPECTIVE_PERIOD
    ]
    if at_aim:
        figs = "; ".join(
            f"{c['period'].replace('_', ' ')}: skill {_fmt(c['primary']['brier_skill'], '+.3f')}, "
            f"AUC {_fmt(c['primary']['roc_auc'], '.2f')}"
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
            f" Prospective test (origins whose window closes after {protocol.snapshot_end}, "
            f"unseen when the protocol was fixed): {prospective['scored']} of "
            f"{prospective['cells']} cells scored so far."
        )
    else:
        head += (
            f" Prospective test (origins whose window closes after {protocol.snapshot_end}): "
            f"the primary beats every baseline in {prospective['cells_beaten']} of "
            f"{prospective['cells']} cells."
        )
    return head


NO_SKILL = "no demonstrated skill: read as a base rate"


def skill_statement(stored_verdict: dict | None, primary_model: str) -> dict:
    """What the level is worth, said beside it everywhere: the registered primary's
    measured 7-day skill (Brier skill against climatology with its 90% interval, and the
    ROC-AUC) from a stored backtest's verdict, read on the prospective period when it is
    scored, else on the registered evaluation window. Skill is *demonstrated* only when
    the interval lies above zero; otherwise, or with no stored backtest of this primary,
    the statement says to read the level as a base rate."""
    cells = [] if not stored_verdict else stored_verdict.get("cells", [])
    ran_primary = (stored_verdict or {}).get("protocol", {}).get("primary_model")
    aim = (stored_verdict or {}).get("protocol", {}).get("aim", {}).get("horizon_d", 7)
    scored = [
        c
        for c in cells
        if c.get("status") == "scored" and c["horizon_days"] == aim and "primary" in c
    ]
    scored.sort(key=lambda c: c["period"] != PROSPECTIVE_PERIOD)  # prospective first
    if not scored or ran_primary != primary_model:
        why = (
            "no stored backtest measured it"
            if not scored
            else f"the stored backtest judged {ran_primary}, not {primary_model}"
        )
        return {
            "demonstrated": False,
            "statement": f"{NO_SKILL} (skill unmeasured: {why})",
            "model": primary_model,
            "horizon_d": aim,
            "period": None,
            "brier_skill": None,
            "brier_skill_lo": None,
            "brier_skill_hi": None,
            "roc_auc": None,
            "origins": None,
        }
    c = scored[0]
    p = c["primary"]
    lo, hi = p.get("brier_skill_lo"), p.get("brier_skill_hi")
    demonstrated = lo is not None and lo > 0
    figure = (
        f"{aim}-day Brier skill {_fmt(p['brier_skill'], '+.2f')} (90% interval "
        f"{_fmt(lo, '+.2f')} to {_fmt(hi, '+.2f')}) against climatology, ROC-AUC "
        f"{_fmt(p['roc_auc'], '.2f')}, on {c['origins']} origins {c['first_origin']} .. "
        f"{c['last_origin']} ({c['period'].replace('_', ' ')})"
    )
    return {
        "demonstrated": demonstrated,
        "statement": figure if demonstrated else f"{NO_SKILL} ({figure})",
        "model": primary_model,
        "horizon_d": aim,
        "period": c["period"],
        "brier_skill": p["brier_skill"],
        "brier_skill_lo": lo,
        "brier_skill_hi": hi,
        "roc_auc": p["roc_auc"],
        "origins": c["origins"],
    }


NAIVE_LAUNCH_MODEL = "recent_quantiles"
"""The launch forecast a newcomer tries first: the 10/50/90% quantiles of the k-night sums
over the 90 nights before the origin."""


def _launch_period(rows: list[dict]) -> str | None:
    """The period a launch skill is read on: the prospective one once scored, else the
    registered evaluation window (the shortest)."""
    names = {r["period"] for r in rows}
    windows = [registered_period(m) for m in sorted(REGISTRATION.evaluation_months)]
    return next((n for n in (PROSPECTIVE_PERIOD, *windows) if n in names), None)


def launch_skill(
    launch_rows: list[dict] | None,
    primaries: dict[str, str] | None = None,
    horizon_d: int = 7,
) -> dict[str, dict]:
    """What each expected-launch interval is worth, said beside it: per launch group, the
    registered launch model's 10-90% coverage (against the registered aim band) and its
    mean pinball loss against the naive recent quantiles', from a stored backtest's
    ``launch_crps`` rows, on the prospective period once scored, else the registered
    window. ``beats_naive`` is False on a tie or a loss; no stored rows: unmeasured."""
    primaries = dict(REGISTRATION.launch_primaries if primaries is None else primaries)
    lo, hi = REGISTRATION.launch_aim_coverage
    out: dict[str, dict] = {}
    for group, model in primaries.items():
        rows = [
            r for r in launch_rows or [] if r["group"] == group and r["horizon_days"] == horizon_d
        ]
        period = _launch_period([r for r in rows if r["model"] == model])
        own = next((r for r in rows if r["model"] == model and r["period"] == period), None)
        naive = next(
            (r for r in rows if r["model"] == NAIVE_LAUNCH_MODEL and r["period"] == period), None
        )
        out[group] = _launch_skill_entry(group, model, horizon_d, own, naive, (lo, hi))
    return out


def _launch_skill_entry(
    group: str,
    model: str,
    horizon_d: int,
    own: dict | None,
    naive: dict | None,
    band: tuple[float, float],
) -> dict:
    """One group's launch skill (:class:`~barrage.warning.assessment.LaunchSkill`, as a
    mapping): figures and the sentence shown beside the interval."""
    head = f"{horizon_d}-day {group.replace('_', ' ')} ({model})"
    if own is None or naive is None:
        return LaunchSkill(
            model=model,
            horizon_d=horizon_d,
            measured=False,
            aim_coverage=band,
            statement=f"{head}: unmeasured (no stored backtest scored it)",
        ).model_dump(mode="json")
    cov, pin, ref = own["coverage_80"], own["pinball_mean"], naive["pinball_mean"]
    in_band = band[0] <= cov <= band[1]
    if model == NAIVE_LAUNCH_MODEL:
        versus = "it is the naive recent quantiles"
    elif ref > 0:
        change = pin / ref - 1.0
        versus = (
            f"{abs(change):.1%} {'better' if change < 0 else 'worse'} than the naive recent "
            f"quantiles' {ref:.2f}"
        )
    else:  # a group with nothing launched in the window: no loss to be relative to
        versus = f"against the naive recent quantiles' {ref:.2f}"
    statement = (
        f"{head}: the 10-90% interval held {cov:.0%} of outcomes "
        f"({'inside' if in_band else 'outside'} the aim {band[0]:.0%}-{band[1]:.0%}); "
        f"pinball loss {pin:.2f}, {versus}; on {own['origins']} origins "
        f"({own['period'].replace('_', ' ')})"
    )
    return LaunchSkill(
        model=model,
        horizon_d=horizon_d,
        measured=True,
        aim_coverage=band,
        statement=statement,
        period=own["period"],
        origins=own["origins"],
        coverage_80=cov,
        coverage_in_aim=in_band,
        pinball=pin,
        naive_pinball=ref,
        beats_naive=model != NAIVE_LAUNCH_MODEL and pin < ref,
    ).model_dump(mode="json")


__all__ = [
    "NAIVE_LAUNCH_MODEL",
    "NO_SKILL",
    "launch_skill",
    "skill_statement",
    "PROSPECTIVE_PERIOD",
    "SNAPSHOT_END",
    "V2_PROTOCOL",
    "EvaluationProtocol",
    "protocol_for",
    "verdict",
    "verdict_sentence",
]
