"""One call per CLI command: read a network, apply outages, answer as a plain dict."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from barrage.grid.dcflow import dc_power_flow
from barrage.grid.network import Network, asset_mask, read_network
from barrage.grid.opf import Damage, damage_from_assets, solve_opf


def _damage(network: Network, outages) -> Damage:
    return damage_from_assets(network, asset_mask(network, list(outages or [])))


def _island_table(network: Network, island, gen_mw, shed_per_load) -> list[dict]:
    """Per island: buses, load, generation, shed (MW), largest island first."""
    gbus = network.positions(network.generators["bus"].to_numpy())
    lbus = network.positions(network.loads["bus"].to_numpy())
    n_isl = int(island.max()) + 1 if len(island) and island.max() >= 0 else 0
    rows = []
    for k in range(n_isl):
        on_load = island[lbus] == k
        rows.append(
            {
                "buses": int((island == k).sum()),
                "load_mw": float(network.loads["p_mw"].to_numpy()[on_load].sum()),
                "generation_mw": float(gen_mw[island[gbus] == k].sum()),
                "load_shed_mw": float(shed_per_load[on_load].sum()),
            }
        )
    rows.sort(key=lambda r: -r["buses"])
    return rows


def opf_report(path: str | Path, outages=(), *, cost_model: str = "quadratic") -> dict:
    """DC OPF with load shedding for the network file, intact or with ``outages``."""
    network = read_network(path)
    damage = _damage(network, outages)
    result = solve_opf(network, damage, cost_model=cost_model)
    shed = np.clip(result.shed_mw, 0.0, None)
    # loads at lost substations are shed but belong to no island
    return {
        "network": network.name,
        "outages": sorted(set(outages or [])),
        "objective_per_h": round(result.objective_usd_per_h, 6),
        "generation_cost_per_h": round(result.generation_cost_usd_per_h, 6),
        "load_mw": round(float(network.loads["p_mw"].sum()), 6),
        "load_shed_mw": round(float(shed.sum()), 6),
        "generation_mw": round(float(result.gen_mw.sum()), 6),
        "islands": _island_table(network, result.island, result.gen_mw, shed),
    }


def flow_report(path: str | Path, outages=()) -> dict:
    """Plain DC power flow with the file's generator set points."""
    network = read_network(path)
    damage = _damage(network, outages)
    br = network.branches
    flow = dc_power_flow(
        network,
        branch_live=br["in_service"].to_numpy() & ~damage.branch_out,
        bus_live=(network.buses["type"].to_numpy() != 4) & ~damage.bus_out,
        gen_live=network.generators["in_service"].to_numpy() & ~damage.gen_out,
    )
    rate = br["rate_a_mw"].to_numpy()
    loading = np.where(np.isfinite(rate), 100.0 * np.abs(flow.p_from_mw) / rate, 0.0)
    lbus = network.positions(network.loads["bus"].to_numpy())
    unserved = ~flow.energised[np.maximum(flow.island[lbus], 0)] | (flow.island[lbus] < 0)
    return {
        "network": network.name,
        "outages": sorted(set(outages or [])),
        "islands": int(len(flow.slack_mw)),
        "slack_mw": [round(float(v), 6) for v in flow.slack_mw],
        "unserved_load_mw": round(float(network.loads["p_mw"].to_numpy()[unserved].sum()), 6),
        "overloaded_branches": [br["branch_id"].iloc[k] for k in np.flatnonzero(loading > 100.0)],
        "branches": [
            {
                "branch": br["branch_id"].iloc[k],
                "from_bus": int(br["from_bus"].iloc[k]),
                "to_bus": int(br["to_bus"].iloc[k]),
                "p_from_mw": round(float(flow.p_from_mw[k]), 6),
                "loading_percent": round(float(loading[k]), 4),
            }
            for k in range(len(br))
        ],
    }
