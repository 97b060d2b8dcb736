"""Decoys apart from electronic warfare: what the record can and cannot tell apart.

Two mechanisms, two parameters:

* ``decoy_share``: the share of launched attack drones that are decoys (Gerbera,
  Parody). Decoys draw engagements and are never threats.
* ``ew_loss`` of real drones: the share of real Shaheds lost to electronic warfare, fuel
  or navigation failure before any layer.

The record (Petro Ivaniuk / Ukrainian Air Force) reports per night ``launched``,
``destroyed`` and ``not_reach_goal`` ("locationally lost") for attack drones; on 26
nights of July-September 2025 it also reports how many of the drones were Shaheds
(column ``is_shahed``), which pins the decoy share of those nights. Without that
column the counts identify only the sum of decoys that fell unengaged and real drones
lost to EW, so the two are not separated (see :func:`separation`).

Public statements of decoy shares are kept apart from the record as cited priors
(:data:`DECOY_STATEMENTS`) and checked against it, never mixed into its counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from barrage.record.nights import load_per_night
from barrage.salvo.calibration import DEFAULT_PERIODS, assign_periods, fit_beta_binomial


@dataclass(frozen=True)
class DecoyStatement:
    """A public statement of the decoy share of a night or a period."""

    start: str
    end: str
    decoy_share: float
    launched: int | None
    who: str
    phrase: str
    url: str


DECOY_STATEMENTS = (
    DecoyStatement(
        start="2025-07-08",
        end="2025-07-09",
        decoy_share=1 - 303 / 728,
        launched=728,
        who="Yurii Ihnat, Ukrainian Air Force spokesman (United News telethon, 9 Jul 2025)",
        phrase="of 728 drones a little over 300 were Shahed-type; 303 Shaheds in the report, "
        "the 415 lost include the imitators",
        url="https://newsreadonline.com/oltre-il-50-dei-droni-erano-imitatori-ignat-"
        "sullattacco-allucraina-del-9-luglio",
    ),
    DecoyStatement(
        start="2025-07-09",
        end="2025-07-09",
        decoy_share=0.5,
        launched=None,
        who="Andrii Kovalenko, Centre for Countering Disinformation (same report)",
        phrase="as a rule more than 50% are decoys during the attacks (a lower bound)",
        url="https://newsreadonline.com/oltre-il-50-dei-droni-erano-imitatori-ignat-"
        "sullattacco-allucraina-del-9-luglio",
    ),
    DecoyStatement(
        start="2024-09-01",
        end="2024-11-30",
        decoy_share=0.6,
        launched=None,
        who="UK Ministry of Defence intelligence update, via dpa (brf.be), Dec 2024",
        phrase="between September and November probably up to 60 percent of the drones "
        "launched were only decoys (an upper bound)",
        url="https://brf.be/international/1928942",
    ),
)
"""Cited public statements of decoy shares (checked against the record, not fitted)."""


def load_drone_nights(db: str | os.PathLike[str]) -> pd.DataFrame:
    """Attack-drone totals per night from a store, with the Shahed count where reported.

    Columns: ``night, launched, destroyed, lost, shaheds`` (``shaheds`` NaN on nights
    without ``is_shahed``). Regional duplicates are left out, as in every total.
    """
    return load_per_night(
        db,
        "SELECT night, sum(coalesce(launched, 0)) AS launched, "
        "sum(coalesce(destroyed, 0)) AS destroyed, "
        "sum(coalesce(not_reach_goal, 0)) AS lost, sum(is_shahed) AS shaheds "
        "FROM attack_rows WHERE weapon_class = 'attack_drone' "
        "AND NOT is_regional_duplicate GROUP BY night ORDER BY night",
    )


def _beta_row(successes: float, trials: float) -> dict[str, float]:
    a, b = 1.0 + successes, 1.0 + trials - successes
    return {
        "mean": a / (a + b),
        "p05": float(stats.beta.ppf(0.05, a, b)),
        "p95": float(stats.beta.ppf(0.95, a, b)),
    }


def calibrate_decoys(drone_nights: pd.DataFrame, periods=DEFAULT_PERIODS) -> pd.DataFrame:
    """Decoy share and EW loss of real drones per period, as separate parameters.

    On nights with a Shahed count: decoys ``D = launched - shaheds``; the pooled
    posterior of the decoy share is ``Beta(1 + sum D, 1 + sum shaheds)`` and the
    night-to-night spread a beta-binomial fit (``decoy_night_alpha/beta``). The EW loss
    of real drones is read from the same nights as ``max(lost - D, 0)`` of the Shaheds,
    under the Air Force's own reading that the locationally lost are decoys first
    ("the lost include the imitators"): with a posterior ``Beta(1 + E, 1 + shaheds - E)``.
    Periods without Shahed counts get NaN: there the record does not separate them.
    """
    d = drone_nights.assign(period=assign_periods(drone_nights["night"], periods))
    rows = []
    for period, grp in d.dropna(subset=["period"]).groupby("period", sort=True):
        known = grp[grp["shaheds"].notna() & (grp["launched"] > 0)]
        row: dict = {"period": period, "nights": len(grp), "nights_with_shahed_count": len(known)}
        if len(known):
            shaheds = np.minimum(known["shaheds"], known["launched"])
            decoys = known["launched"] - shaheds
            reports_lost = known["lost"] > 0
            ew = np.maximum(known["lost"] - decoys, 0)[reports_lost]
            dec = _beta_row(decoys.sum(), known["launched"].sum())
            na, nb = fit_beta_binomial(decoys.to_numpy(), known["launched"].to_numpy())
            ewr = _beta_row(ew.sum(), shaheds[reports_lost].sum())
            row |= {
                "decoy_share": dec["mean"],
                "decoy_p05": dec["p05"],
                "decoy_p95": dec["p95"],
                "decoy_night_alpha": na,
                "decoy_night_beta": nb,
                "nights_with_lost_and_shahed_count": int(reports_lost.sum()),
                "ew_real_share": ewr["mean"] if reports_lost.any() else np.nan,
                "ew_real_p05": ewr["p05"] if reports_lost.any() else np.nan,
                "ew_real_p95": ewr["p95"] if reports_lost.any() else np.nan,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def separation(drone_nights: pd.DataFrame) -> dict:
    """How strongly the record separates decoys from EW losses.

    * ``identity``: on nights reporting both the lost and the Shahed count, how close
      ``lost`` is to ``launched - shaheds`` (if "lost" were EW on real drones plus
      decoys falling at random, it would not match the decoy count to a drone);
    * ``implied_ew_real_by_decoy_share``: on the other nights the record gives only
      ``lost / launched = decoy_share * (share of decoys lost) + (1 - decoy_share) * ew``:
      one equation, two unknowns. For each decoy share over the range of the cited
      statements (0.3-0.6), the EW loss of real drones it implies (decoys all lost):
      every pair on that line fits the counts equally well, so they are not separated.
    """
    d = drone_nights[drone_nights["launched"] > 0]
    both = d[d["shaheds"].notna() & (d["lost"] > 0)]
    gap = (both["lost"] - (both["launched"] - both["shaheds"])).to_numpy()
    only_lost = d[d["shaheds"].isna() & (d["lost"] > 0)]
    share = (only_lost["lost"] / only_lost["launched"]).to_numpy()
    deltas = np.linspace(0.3, 0.6, 7)
    implied = np.clip((share.mean() - deltas) / (1 - deltas), 0, 1) if share.size else deltas * 0
    return {
        "nights_with_both": int(len(both)),
        "lost_minus_decoys": gap.tolist(),
        "decoys_on_those_nights": float((both["launched"] - both["shaheds"]).sum()),
        "nights_with_lost_only": int(len(only_lost)),
        "mean_lost_share": float(share.mean()) if share.size else float("nan"),
        "implied_ew_real_by_decoy_share": dict(
            zip([round(float(x), 2) for x in deltas], implied.round(3).tolist(), strict=True)
        ),
    }


def check_statements(drone_nights: pd.DataFrame) -> pd.DataFrame:
    """Each cited statement beside what the record gives for the same nights."""
    rows = []
    for s in DECOY_STATEMENTS:
        inside = drone_nights[
            (drone_nights["night"] >= pd.Timestamp(s.start))
            & (drone_nights["night"] <= pd.Timestamp(s.end))
        ]
        launched = inside["launched"].sum()
        rows.append(
            {
                "who": s.who,
                "period": f"{s.start}..{s.end}",
                "stated_decoy_share": round(s.decoy_share, 3),
                "record_lost_share": float(inside["lost"].sum() / launched) if launched else np.nan,
                "url": s.url,
            }
        )
    return pd.DataFrame(rows)
