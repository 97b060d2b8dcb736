"""A stylised national system: a public test topology scaled to public aggregate figures.

ILLUSTRATIVE. The topology is a PGLib-OPF test case (no real geography, no real sites);
only its totals are moved to a country's public aggregates:

* loads are scaled so that they add up to ``peak_demand_mw`` (at the reference
  temperature of the scenario's winter), and every branch rating by the same factor, so
  the network's loading pattern is the test case's;
* the generators of each type (``grid.plants``: thermal, chp, hydro, nuclear; any other
  generator with Pmax > 0 counts as ``default_type``) are scaled so that each type adds up
  to ``capacity_mw[type]``; costs become flat per type (``cost_usd_per_mwh``), which only
  orders the dispatch (nuclear and hydro first, imports last);
* an import of at most ``import_limit_mw`` enters at ``import_bus`` (a generator that is
  never a target).

The figures behind the shipped scenario are cited in docs/grid.md.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from barrage.errors import InputError
from barrage.grid.network import Network

#: Flat marginal cost by type (USD/MWh), an ASSUMPTION that only sets the merit order.
DEFAULT_COST_USD_PER_MWH = {
    "nuclear": 10.0,
    "hydro": 5.0,
    "thermal": 60.0,
    "chp": 70.0,
    "import": 150.0,
}


class Stylise(BaseModel):
    """The ``grid.stylise`` section: the public aggregates a test case is scaled to."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    peak_demand_mw: float = Field(gt=0, le=1e6)
    capacity_mw: dict[str, float] = Field(min_length=1)
    default_type: str = "thermal"
    import_limit_mw: float = Field(default=0.0, ge=0, le=1e6)
    import_bus: int | None = None
    cost_usd_per_mwh: dict[str, float] = Field(default_factory=dict)


def _types(network: Network, plants: dict, spec: Stylise, source: str) -> np.ndarray:
    gens = network.generators
    types = np.where(gens["pmax_mw"].to_numpy() > 0, spec.default_type, "").astype(object)
    ids = list(gens["gen_id"])
    for key, p in plants.items():
        if key in ids:
            types[ids.index(key)] = p.type
    for t, mw in spec.capacity_mw.items():
        if mw < 0:
            raise InputError(f"{source}: grid.stylise.capacity_mw.{t}: expected MW >= 0, got {mw}")
        if not (types == t).any():
            raise InputError(
                f"{source}: grid.stylise.capacity_mw.{t}: no plant of type {t!r} in the network; "
                "set the types in grid.plants"
            )
    missing = sorted({t for t in types if t} - set(spec.capacity_mw))
    if missing:
        raise InputError(
            f"{source}: grid.stylise.capacity_mw: no capacity for type {missing[0]!r}; "
            "give every type's total MW"
        )
    return types


def stylise(network: Network, spec: Stylise, plants: dict, *, source: str = "scenario") -> Network:
    """The network scaled to ``spec``'s aggregates (see the module notes)."""
    types = _types(network, plants, spec, source)
    factor = spec.peak_demand_mw / network.total_load_mw
    loads = network.loads.copy()
    loads["p_mw"] = loads["p_mw"] * factor
    loads["population"] = loads["population"] * factor
    buses = network.buses.copy()
    buses[["pd_mw", "qd_mw"]] = buses[["pd_mw", "qd_mw"]] * factor
    branches = network.branches.copy()
    branches["rate_a_mw"] = branches["rate_a_mw"] * factor
    gens = network.generators.copy()
    costs = {**DEFAULT_COST_USD_PER_MWH, **spec.cost_usd_per_mwh}
    for t, total in spec.capacity_mw.items():
        rows = types == t
        scale = total / gens.loc[rows, "pmax_mw"].sum()
        gens.loc[rows, ["pmax_mw", "pmin_mw", "pg_mw"]] *= scale
        gens.loc[rows, "pmin_mw"] = 0.0
        gens.loc[rows, ["cost_c2_usd_per_mw2h", "cost_c0_usd_per_h"]] = 0.0
        gens.loc[rows, "cost_c1_usd_per_mwh"] = costs.get(t, costs["thermal"])
    gens["unit_type"] = np.where(types == "", "", types)
    if spec.import_limit_mw > 0:
        gens = pd.concat([gens, _import_row(network, spec, costs, source)], ignore_index=True)
    return replace(network, loads=loads, buses=buses, branches=branches, generators=gens)


def _import_row(network: Network, spec: Stylise, costs: dict, source: str) -> pd.DataFrame:
    if spec.import_bus is None or spec.import_bus not in network.bus_index:
        raise InputError(
            f"{source}: grid.stylise.import_bus: expected a bus number of network "
            f"{network.name!r} for the import, got {spec.import_bus}"
        )
    return pd.DataFrame(
        {
            "gen_id": ["import:1"],
            "bus": [spec.import_bus],
            "pg_mw": [0.0],
            "pmin_mw": [0.0],
            "pmax_mw": [spec.import_limit_mw],
            "in_service": [True],
            "cost_c2_usd_per_mw2h": [0.0],
            "cost_c1_usd_per_mwh": [costs["import"]],
            "cost_c0_usd_per_h": [0.0],
            "unit_type": ["import"],
        }
    )
