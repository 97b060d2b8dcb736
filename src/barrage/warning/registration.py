"""The warning's third registration (and its v3.1 launch-count amendment): targets,
primaries, candidates, rules, windows, aims.

Frozen before the final run on the record snapshot (docs/warning-registration.md; git
shows the order). The constant :data:`REGISTRATION` is what the verdict, the assessment
and the launch scores read, so the code cannot drift from the document: a test checks
that the document names the same primaries.

The primaries were chosen by :func:`select_primary` (the rule below) from a backtest on
the development origins only; the evaluation windows were not scored before this file
was committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

#: Models whose probability splits exactly into a base and additive log-odds terms (the
#: drivers), in order of simplicity (ties go to the earlier one).
EXPLAINABLE_MODELS: tuple[str, ...] = (
    "climatology",
    "recent_rate",
    "recent_rate_30",
    "recent_rate_365",
    "persistence",
    "renewal",
    "seasonal",
    "renewal_adaptive",
    "forgetting_logit_fast",
    "forgetting_logit",
)
#: Launch models in order of simplicity (ties go to the earlier one).
LAUNCH_SIMPLICITY: tuple[str, ...] = (
    "recent_quantiles",
    "negbin_climatology",
    "window_negbin_90",
    "window_negbin_45",
    "nightly_draws_90",
    "negbin_features",
    # v3.1 amendment
    "level_draws_14",
    "aci_draws_90",
    "aci_level_14",
    "track_draws_90",
    "track_level_14",
)
#: A development score within this of the best counts as a tie.
TIE_BRIER = 0.0005
TIE_PINBALL_SHARE = 0.01


@dataclass(frozen=True)
class Registration:
    """What the third version is judged by. Dates are forecast origins."""

    version: str
    headline_target: str
    targets: tuple[str, ...]
    primaries: Mapping[str, str]
    candidates: tuple[str, ...]
    development_first: date
    development_last: date
    snapshot_end: date
    evaluation_months: tuple[int, ...]
    horizons_d: tuple[int, ...]
    selection_horizon_d: int
    aim_horizon_d: int
    aim_brier_skill: float
    aim_roc_auc: float
    launch_candidates: tuple[str, ...]
    launch_baselines: tuple[str, ...]
    launch_primaries: Mapping[str, str]
    launch_aim_coverage: tuple[float, float]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.headline_target not in self.targets:
            raise ValueError(f"headline_target {self.headline_target!r} is not registered")
        missing = [t for t in self.targets if t not in self.primaries]
        if missing:
            raise ValueError(f"primaries: no primary for {missing}")
        odd = [m for m in self.primaries.values() if m not in EXPLAINABLE_MODELS]
        if odd:
            raise ValueError(f"primaries: {odd} cannot explain their number exactly")
        if self.development_last >= self.snapshot_end:
            raise ValueError("development_last: must come before the snapshot's end")

    def primary(self, target_name: str) -> str:
        """The registered primary of a target (the headline's for an unregistered one)."""
        return self.primaries.get(target_name, self.primaries[self.headline_target])


def select_primary(dev_brier: Mapping[str, float]) -> str:
    """The rule, fixed before the development run: among :data:`EXPLAINABLE_MODELS`
    scored on the development origins, the lowest mean Brier score at the selection
    horizon; a model within :data:`TIE_BRIER` of it loses to a simpler one."""
    scored = {m: b for m, b in dev_brier.items() if m in EXPLAINABLE_MODELS}
    if not scored:
        raise ValueError("dev_brier: no explainable model scored")
    best = min(scored.values())
    return next(m for m in EXPLAINABLE_MODELS if m in scored and scored[m] <= best + TIE_BRIER)


def select_launch_primary_v31(
    dev_pinball: Mapping[str, float], dev_coverage: Mapping[str, float], band=(0.75, 0.85)
) -> str:
    """The v3.1 launch rule, fixed before its development run: among the models whose
    10-90% coverage on the development origins lies in ``band`` (the aim), the v3 rule
    (:func:`select_launch_primary`: lowest pinball, a 1% tie to the simpler); when no
    model lies in the band, the v3 rule over all of them. The aim has two parts, coverage
    and pinball, and the v3 rule read only the second."""
    lo, hi = band
    inside = {m: v for m, v in dev_pinball.items() if lo <= dev_coverage.get(m, -1) <= hi}
    return select_launch_primary(inside or dev_pinball)


def select_launch_primary(dev_pinball: Mapping[str, float]) -> str:
    """The launch rule, fixed before the development run: the lowest mean pinball loss
    (10/50/90%) at the selection horizon on the development origins, per group; within
    :data:`TIE_PINBALL_SHARE` of it (relative), the simpler model."""
    scored = {m: v for m, v in dev_pinball.items() if m in LAUNCH_SIMPLICITY}
    if not scored:
        raise ValueError("dev_pinball: no launch model scored")
    best = min(scored.values())
    limit = best * (1 + TIE_PINBALL_SHARE)
    return next(m for m in LAUNCH_SIMPLICITY if m in scored and scored[m] <= limit)


#: The third version as registered (commit ab2e7da), kept as history.
REGISTRATION_V3 = Registration(
    version="v3",
    headline_target="massive_combined",
    targets=("massive_combined", "massive_missiles"),
    # select_primary on the development runs (docs/warning-registration.md): both targets
    # gave the same scores (no 400-drone night before 2025-05-31), lowest 7-day Brier.
    primaries={"massive_combined": "recent_rate", "massive_missiles": "recent_rate"},
    candidates=("renewal_adaptive", "forgetting_logit", "forgetting_logit_fast"),
    development_first=date(2022, 12, 16),
    development_last=date(2024, 9, 30),
    snapshot_end=date(2025, 9, 30),
    evaluation_months=(12,),
    horizons_d=(3, 7),
    selection_horizon_d=7,
    aim_horizon_d=7,
    aim_brier_skill=0.30,
    aim_roc_auc=0.80,
    launch_candidates=("window_negbin_45", "window_negbin_90", "nightly_draws_90"),
    launch_baselines=("negbin_climatology", "recent_quantiles"),
    # select_launch_primary on the development runs: lowest 7-day pinball loss per group.
    launch_primaries={
        "attack_drone": "recent_quantiles",
        "missiles": "nightly_draws_90",
        "cruise_missile": "nightly_draws_90",
        "ballistic_missile": "window_negbin_90",
    },
    launch_aim_coverage=(0.75, 0.85),
)

#: The v3.1 launch-count amendment (docs/warning-registration.md): the third version with
#: new launch candidates and the launch primaries picked by :func:`select_launch_primary_v31`
#: on the development origins. Everything else is the third version's.
REGISTRATION = replace(
    REGISTRATION_V3,
    version="v3.1",
    launch_candidates=(
        *REGISTRATION_V3.launch_candidates,
        "level_draws_14",
        "aci_draws_90",
        "aci_level_14",
        "track_draws_90",
        "track_level_14",
    ),
    launch_primaries={
        "attack_drone": "track_draws_90",
        "missiles": "nightly_draws_90",
        "cruise_missile": "nightly_draws_90",
        "ballistic_missile": "recent_quantiles",
    },
)
