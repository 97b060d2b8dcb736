"""Salvo simulation: what gets through a layered air defence on a massive strike night.

The Python API takes the same scenario object as the CLI::

    from barrage.salvo import load_scenario, simulate
    result = simulate(load_scenario("scenario.yaml"), runs=10_000, seed=0)
    result.summary()["leakers"]
"""

from barrage.salvo.compile import compile_scenario
from barrage.salvo.engine import simulate
from barrage.salvo.result import SalvoResult, summarise
from barrage.salvo.scenario import (
    Scenario,
    example_scenarios,
    load_families,
    load_scenario,
    scenario_from_dict,
)

__all__ = [
    "SalvoResult",
    "Scenario",
    "compile_scenario",
    "example_scenarios",
    "load_families",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
    "summarise",
]
