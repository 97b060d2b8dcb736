"""Stock families and the record's launches mapped onto them.

The record counts by weapon ``family`` (taxonomy.csv); a stock is kept per *stock
family*, a group of record families that share production:

=================  ==============================================================
stock family       record families
=================  ==============================================================
attack_drones      shahed, unknown_uav (Shahed/Geran-type; the Air Force counts
                   Gerbera and other decoys in the same figure)
decoys             none: the record has no separate decoy rows, so only the
                   production rate is estimated, never a stock
kh101              kh101 (Kh-101/Kh-555)
kalibr             kalibr
iskander_m_kn23    iskander_m, iskander_m_or_kn23, kn23
iskander_k         iskander_k
kinzhal            kinzhal
other_missiles     Kh-22/32, Kh-59/69, Kh-31, Kh-35, Oniks, Zircon, Banderol,
                   unidentified cruise and ballistic missiles
=================  ==============================================================

Not counted in any stock: S-300/S-400 fired at ground targets (air-defence stocks), the
ICBM, tactical and reconnaissance drones, guided bombs.

A combined row (``kh101+kalibr``) holds one count for the group. Its count is split over
its parts in proportion to each part's single-family launches in the same calendar
month (equal shares when no part was launched alone that month); shares of parts
outside every stock are dropped. The split conserves the row's count, so nothing is
counted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from barrage.record import MASSIVE_MISSILES, MISSILE_CLASSES

if TYPE_CHECKING:
    import pandas as pd

STOCK_FAMILIES: dict[str, tuple[str, ...]] = {
    "attack_drones": ("shahed", "unknown_uav"),
    "decoys": (),
    "kh101": ("kh101",),
    "kalibr": ("kalibr",),
    "iskander_m_kn23": ("iskander_m", "iskander_m_or_kn23", "kn23"),
    "iskander_k": ("iskander_k",),
    "kinzhal": ("kinzhal",),
    "other_missiles": (
        "kh22", "kh32", "kh59", "kh69", "kh59_or_kh69", "kh59mk2", "kh31", "kh31p",
        "kh31pd", "kh35", "oniks", "zircon", "banderol", "unknown_missile",
        "unknown_ballistic",
    ),
}  # fmt: skip
FAMILY_LABELS: dict[str, str] = {
    "attack_drones": "Attack drones (Shahed/Geran)",
    "decoys": "Decoys (Gerbera and others)",
    "kh101": "Kh-101/Kh-555",
    "kalibr": "Kalibr",
    "iskander_m_kn23": "Iskander-M / KN-23",
    "iskander_k": "Iskander-K",
    "kinzhal": "Kinzhal",
    "other_missiles": "Other missiles",
}
#: Families whose stock can be estimated (launches are recorded).
STOCK_ESTIMABLE: tuple[str, ...] = tuple(f for f, parts in STOCK_FAMILIES.items() if parts)
_RECORD_TO_STOCK = {rf: sf for sf, parts in STOCK_FAMILIES.items() for rf in parts}


def stock_family_of(record_family: str) -> str | None:
    """The stock family a single record family belongs to (None: not in any stock)."""
    return _RECORD_TO_STOCK.get(record_family)


def family_launches(night_totals: pd.DataFrame) -> pd.DataFrame:
    """Launches per night and stock family (combined rows split, see module docstring).

    Returns a wide frame: index every calendar night from the first to the last night of
    ``night_totals``, one column per stock family (``decoys`` all zero), floats.
    """
    import numpy as np
    import pandas as pd

    cols = list(STOCK_FAMILIES)
    if night_totals.empty:
        return pd.DataFrame(columns=cols, dtype=float)
    nt = night_totals[["night", "family", "launched"]].copy()
    nt["night"] = pd.to_datetime(nt["night"]).dt.normalize()
    nt["launched"] = nt["launched"].astype(float).fillna(0.0)
    nt["month"] = nt["night"].dt.to_period("M")
    combined = nt["family"].str.contains("+", regex=False)
    single = nt[~combined]
    single_month = single.groupby(["month", "family"])["launched"].sum()

    pieces = [single.assign(part=single["family"], n=single["launched"])]
    groups = nt[combined]
    if not groups.empty:
        parts = groups.assign(part=groups["family"].str.split("+")).explode("part")
        # weight of each part: its single-family launches that month
        key = pd.MultiIndex.from_arrays([parts["month"], parts["part"]])
        w = single_month.reindex(key).fillna(0.0).to_numpy()
        parts = parts.assign(w=w)
        total_w = parts.groupby(level=0)["w"].transform("sum").to_numpy()
        n_parts = parts.groupby(level=0)["w"].transform("size").to_numpy()
        share = np.where(total_w > 0, w / np.where(total_w > 0, total_w, 1.0), 1.0 / n_parts)
        parts = parts.assign(n=parts["launched"].to_numpy() * share)
        pieces.append(parts)
    allp = pd.concat(pieces, ignore_index=True)
    allp["stock_family"] = allp["part"].map(_RECORD_TO_STOCK)
    allp = allp.dropna(subset=["stock_family"])
    wide = allp.pivot_table(
        index="night", columns="stock_family", values="n", aggfunc="sum", fill_value=0.0
    )
    nights = pd.date_range(nt["night"].min(), nt["night"].max(), freq="D", name="night")
    return wide.reindex(index=nights, columns=cols, fill_value=0.0).astype(float).fillna(0.0)


def massive_night_dates(
    night_totals: pd.DataFrame, threshold: int = MASSIVE_MISSILES
) -> pd.DatetimeIndex:
    """Nights with ``threshold`` or more missiles (same rule as ``record.massive_nights``)."""
    import pandas as pd

    m = night_totals[night_totals["weapon_class"].isin(MISSILE_CLASSES)]
    per_night = m.groupby(pd.to_datetime(m["night"]).dt.normalize())["launched"].sum()
    return pd.DatetimeIndex(per_night.index[per_night >= threshold]).sort_values()
