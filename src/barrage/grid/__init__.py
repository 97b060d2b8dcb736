"""What a strike does to the power system: networks, DC flow, OPF with load shedding.

Public test networks only (PGLib-OPF, pandapower's bundled cases).
"""

from barrage.grid.batch import ShedResult, critical_loss_probability, shed_load_batch
from barrage.grid.network import (
    PRIORITY_CLASSES,
    Network,
    asset_mask,
    assets,
    from_pandapower,
    read_matpower,
    read_network,
    with_load_tags,
)
from barrage.grid.opf import Damage, damage_from_assets, solve_opf
from barrage.grid.planning import plan_defence
from barrage.grid.strike import (
    StrikeResult,
    StrikeScenario,
    load_strike_scenario,
    simulate_strike,
)

__all__ = [
    "PRIORITY_CLASSES",
    "Damage",
    "Network",
    "ShedResult",
    "asset_mask",
    "assets",
    "critical_loss_probability",
    "damage_from_assets",
    "from_pandapower",
    "read_matpower",
    "read_network",
    "shed_load_batch",
    "plan_defence",
    "solve_opf",
    "simulate_strike",
    "load_strike_scenario",
    "StrikeResult",
    "StrikeScenario",
    "with_load_tags",
]
