"""Sites as sets of units: damage takes units out, not whole sites.

A strike rarely flattens a substation: it burns one or two autotransformers, or a
switchgear bay, and the substation keeps working at reduced capacity. A thermal plant
loses units one by one. This module rewrites a network so that each unit is an asset of
its own and partial damage is plain asset outages (so the batch OPF, its screen and its
cache need no change):

* ``substation:<bus>`` with ``autotransformers: n``: the bus's loads and generators move
  to a new low-voltage bus, joined to the original (high-voltage) bus by ``n`` parallel
  autotransformer branches. Each is rated so that ``n - 1`` of them carry
  ``design_margin`` times the larger of the local load and the local generating
  capacity (N-1 design, an **assumption**): losing one of three costs nothing, two of
  three leaves 65 %, all three cuts the bus's load and generation off. With
  ``line_bays``, the branches leaving the bus are units too (a bay hit trips its line).
* ``plant:<n>`` with ``units: k``: the generator becomes ``k`` equal units (Pmax/k,
  Pmin/k; the quadratic cost split so that equal dispatch costs what it did).
  ``type`` is thermal, chp, hydro or nuclear. Nuclear units are never targets; their
  output leaves through their substation's autotransformers, so damage there curtails
  it (reported as "nuclear output curtailed by grid damage").
* ``critical_shares``: every load is split into pieces by priority class (hospitals,
  water and heat, communications, the rest), so shedding spares the critical share and
  unserved energy can be reported by class. People are counted on the ``other`` piece
  (households); the critical pieces serve them indirectly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from barrage.errors import InputError
from barrage.grid.network import PRIORITY_CLASSES, Network

PLANT_TYPES = ("thermal", "chp", "hydro", "nuclear")
UNIT_TYPES = ("autotransformer", "bay", *PLANT_TYPES, "substation", "transformer", "line", "plant")
"""Unit types a target can hold; the last four are whole assets (no ``units`` given)."""

DAMAGE_KIND = {
    "autotransformer": "transformer",
    "bay": "substation",
    "thermal": "plant",
    "chp": "plant",
    "hydro": "plant",
    "nuclear": "plant",
    "substation": "substation",
    "transformer": "transformer",
    "line": "line",
    "plant": "plant",
}
"""Which row of ``grid.damage_probability`` a unit type reads (a bay is switchgear)."""

_AT_REACTANCE_PU = 0.02
"""Reactance of the substation's autotransformers in parallel (on the system base)."""


class SubstationUnits(BaseModel):
    """A substation's units: ``autotransformers`` in parallel, and its line bays."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    autotransformers: int = Field(ge=1, le=32)
    voltage_kv: float = Field(default=330.0, gt=0, le=1200)
    line_bays: bool = True
    design_margin: float = Field(default=1.3, ge=1.0, le=5.0)


class PlantUnits(BaseModel):
    """A plant's generating units: how many, and their type."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    units: int = Field(ge=1, le=64)
    type: Literal["thermal", "chp", "hydro", "nuclear"]


@dataclass(frozen=True)
class UnitNetwork:
    """A network rewritten unit by unit, and where each scenario target's units are."""

    network: Network
    groups: dict[str, tuple[str, ...]]  # target id (as in the scenario) -> unit asset ids
    unit_type: dict[str, str]  # unit asset id -> unit type


def _bus_id(network: Network, key: str, source: str) -> int:
    try:
        bus = int(key.split(":", 1)[1])
    except (IndexError, ValueError):
        bus = None
    if not key.startswith("substation:") or bus not in network.bus_index:
        raise InputError(
            f"{source}: grid.substations: {key!r} is not a substation of network "
            f"{network.name!r}; expected substation:<bus number>"
        )
    return bus


def _plant_row(network: Network, key: str, source: str) -> int:
    ids = list(network.generators["gen_id"])
    if key not in ids:
        raise InputError(
            f"{source}: grid.plants: {key!r} is not a plant of network {network.name!r}; "
            f"expected plant:1..{len(ids)}"
        )
    return ids.index(key)


def _split_plant(gens: pd.DataFrame, row: int, spec: PlantUnits) -> pd.DataFrame:
    """Generator ``row`` as ``spec.units`` equal units (the first keeps its row)."""
    k = spec.units
    base = gens.iloc[row].copy()
    gid = base["gen_id"]
    unit = base.copy()
    for col in ("pg_mw", "pmin_mw", "pmax_mw", "cost_c0_usd_per_h"):
        unit[col] = base[col] / k
    unit["cost_c2_usd_per_mw2h"] = base["cost_c2_usd_per_mw2h"] * k
    unit["unit_type"] = spec.type
    rows = []
    for i in range(k):
        u = unit.copy()
        u["gen_id"] = f"{gid}/u{i + 1}"
        rows.append(u)
    gens = gens.copy()
    gens.iloc[row] = rows[0]
    return pd.concat([gens, pd.DataFrame(rows[1:])], ignore_index=True)


def _substation(
    net: Network, bus: int, spec: SubstationUnits, new_bus: int
) -> tuple[Network, tuple[str, ...]]:
    """Move the bus's loads and generators to ``new_bus`` behind ``n`` autotransformers."""
    buses, branches, gens, loads = net.buses, net.branches, net.generators, net.loads
    at_bus = gens["bus"].to_numpy() == bus
    local_load = float(np.clip(loads.loc[loads["bus"] == bus, "p_mw"], 0, None).sum())
    local_gen = float(gens.loc[at_bus & gens["in_service"].to_numpy(), "pmax_mw"].sum())
    n = spec.autotransformers
    rating = max(spec.design_margin * max(local_load, local_gen) / max(n - 1, 1), 1.0)
    row = buses.loc[buses["bus_id"] == bus].iloc[0]
    lv = pd.DataFrame(
        {
            "bus_id": [new_bus],
            "type": [2 if at_bus.any() else 1],
            "pd_mw": [row["pd_mw"]],
            "qd_mw": [row["qd_mw"]],
            "gs_mw": [row["gs_mw"]],
            "base_kv": [row["base_kv"]],
        }
    )
    buses = buses.copy()
    buses.loc[buses["bus_id"] == bus, ["pd_mw", "qd_mw", "gs_mw"]] = 0.0
    touching = (branches["from_bus"] == bus) | (branches["to_bus"] == bus)
    bays = tuple(branches.loc[touching & branches["in_service"], "branch_id"])
    ats = pd.DataFrame(
        {
            "branch_id": [f"substation:{bus}/at{i + 1}" for i in range(n)],
            "from_bus": bus,
            "to_bus": new_bus,
            "r_pu": 0.0,
            "x_pu": _AT_REACTANCE_PU * n,
            "rate_a_mw": rating,
            "tap": 1.0,
            "shift_deg": 0.0,
            "in_service": True,
            "is_transformer": True,
        }
    )
    gens = gens.copy()
    gens.loc[at_bus, "bus"] = new_bus
    loads = loads.copy()
    loads.loc[loads["bus"] == bus, "bus"] = new_bus
    out = replace(
        net,
        buses=pd.concat([buses, lv], ignore_index=True),
        branches=pd.concat([branches, ats], ignore_index=True),
        generators=gens,
        loads=loads,
    )
    return out, tuple(ats["branch_id"]) + (bays if spec.line_bays else ())


def split_critical_loads(network: Network, shares: dict[str, float], source: str) -> Network:
    """Each load as one piece per priority class (``shares`` of its MW; the rest is
    ``other``); people stay on the ``other`` piece."""
    bad = sorted(set(shares) - (set(PRIORITY_CLASSES) - {"other", "nuclear_offsite"}))
    if bad:
        raise InputError(
            f"{source}: grid.critical_shares: unknown class {bad[0]!r}; allowed: "
            + ", ".join(c for c in PRIORITY_CLASSES if c not in ("other", "nuclear_offsite"))
        )
    total = sum(shares.values())
    if any(not 0.0 <= v <= 1.0 for v in shares.values()) or total > 1.0:
        raise InputError(
            f"{source}: grid.critical_shares: expected shares in [0, 1] adding up to at most "
            f"1, got {shares}"
        )
    pieces = []
    for cls, share in [*shares.items(), ("other", 1.0 - total)]:
        part = network.loads.copy()
        part["load_id"] = part["load_id"] + f"/{cls}"
        part["p_mw"] = part["p_mw"] * share
        part["priority_class"] = cls
        part["voll_usd_per_mwh"] = PRIORITY_CLASSES[cls]
        if cls != "other":
            part["population"] = 0.0
        pieces.append(part)
    loads = pd.concat(pieces, ignore_index=True)
    return replace(network, loads=loads[loads["p_mw"] != 0].reset_index(drop=True))


def expand_units(
    network: Network,
    *,
    substations: dict[str, SubstationUnits],
    plants: dict[str, PlantUnits],
    source: str = "scenario",
) -> UnitNetwork:
    """The network with each named substation and plant as a set of units."""
    net = network
    gens = net.generators.copy()
    if "unit_type" not in gens.columns:
        gens["unit_type"] = ""
    groups: dict[str, tuple[str, ...]] = {}
    unit_type: dict[str, str] = {}
    for key, spec in plants.items():
        row = _plant_row(network, key, source)  # splits only append rows: positions hold
        gens = _split_plant(gens, row, spec)
        groups[key] = tuple(f"{key}/u{i + 1}" for i in range(spec.units))
        unit_type.update(dict.fromkeys(groups[key], spec.type))
    net = replace(net, generators=gens)
    next_bus = int(net.buses["bus_id"].max()) + 1
    for key, spec in substations.items():
        bus = _bus_id(network, key, source)
        net, units = _substation(net, bus, spec, next_bus)
        next_bus += 1
        groups[key] = units
        for u in units:
            unit_type.setdefault(u, "autotransformer" if "/at" in u else "bay")
    return UnitNetwork(network=net, groups=groups, unit_type=unit_type)
