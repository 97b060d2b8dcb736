"""Weapon taxonomy: every ``model`` string of the record to a family and a class.

The mapping is data (``taxonomy.csv`` beside this file), seeded from the dataset's own
``missiles_and_uavs.csv`` categories. A combined string such as ``"X-101/X-555 and
Kalibr"`` is resolved by looking up each part: the row keeps its group count (never
split, never multiplied), its family joins the part families with ``+`` and its class is
the class all parts share, else ``mixed_missile`` when every part is a missile, else
(for drones only) the first of attack > tactical > recon drone it holds, else ``unknown``.
``tactical_drone`` (Lancet, Kub, Molniya: front-line loitering munitions) is kept apart
from ``attack_drone`` (Shahed/Geran and unidentified long-range one-way drones), which is
what strikes the power system far behind the front. A string with any part not in the table is class ``unknown`` and is reported.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

WEAPON_CLASSES: tuple[str, ...] = (
    "attack_drone",
    "tactical_drone",
    "recon_drone",
    "cruise_missile",
    "ballistic_missile",
    "mixed_missile",
    "guided_bomb",
    "unknown",
)
#: Classes counted as missiles in a massive strike (cruise + ballistic + mixed groups).
MISSILE_CLASSES: tuple[str, ...] = ("cruise_missile", "ballistic_missile", "mixed_missile")
_MISSILE_SET = frozenset(MISSILE_CLASSES)
#: A group of drones of different classes takes the first of these it contains.
_DRONE_PRECEDENCE: tuple[str, ...] = ("attack_drone", "tactical_drone", "recon_drone")
COMBINED_SEPARATOR = " and "


@dataclass(frozen=True)
class WeaponType:
    """What one model string of the record means."""

    model: str
    family: str
    weapon_class: str
    known: bool


@lru_cache(maxsize=1)
def taxonomy_table() -> dict[str, tuple[str, str]]:
    """The packaged table: model string → (family, weapon_class)."""
    text = resources.files("barrage.record").joinpath("taxonomy.csv").read_text("utf-8")
    table: dict[str, tuple[str, str]] = {}
    for row in csv.DictReader(text.splitlines()):
        if row["weapon_class"] not in WEAPON_CLASSES:
            raise ValueError(f"taxonomy.csv: model {row['model']!r} has unknown class")
        table[row["model"].strip()] = (row["family"], row["weapon_class"])
    return table


def classify_model(model: str, table: dict[str, tuple[str, str]] | None = None) -> WeaponType:
    """Resolve one model string (possibly combined) to its family and class."""
    table = taxonomy_table() if table is None else table
    name = " ".join(model.split())
    if name in table:
        family, weapon_class = table[name]
        return WeaponType(name, family, weapon_class, True)
    parts = [p.strip() for p in name.split(COMBINED_SEPARATOR) if p.strip()]
    if len(parts) < 2 or any(p not in table for p in parts):
        return WeaponType(name, "unknown", "unknown", False)
    families = [table[p][0] for p in parts]
    classes = {table[p][1] for p in parts}
    if len(classes) == 1:
        weapon_class = classes.pop()
    elif classes <= _MISSILE_SET:
        weapon_class = "mixed_missile"
    elif classes <= set(_DRONE_PRECEDENCE):
        weapon_class = next(c for c in _DRONE_PRECEDENCE if c in classes)
    else:
        weapon_class = "unknown"
    return WeaponType(name, "+".join(families), weapon_class, weapon_class != "unknown")


def classify_models(models: list[str]) -> list[WeaponType]:
    """Resolve many distinct model strings (called once per distinct string, not per row)."""
    table = taxonomy_table()
    return [classify_model(m, table) for m in models]
