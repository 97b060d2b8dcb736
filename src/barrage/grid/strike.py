"""A strike, end to end: salvo -> hits on grid assets -> load shed -> restoration.

One Monte Carlo with one sample axis (runs) from the first weapon to the last repair:

1. :func:`barrage.salvo.simulate` gives the leakers per run, by weapon class and by
   salvo asset (a *site*).
2. Each site maps to grid assets (``substation:<bus>``, ``plant:<n>``, ``branch:<n>``),
   each a set of units where the scenario says so (:mod:`barrage.grid.units`:
   autotransformers and line bays, generating units). A site's leakers are spread over
   its units by a multinomial draw (uniform over the site's assets, then over each
   asset's units), and a unit struck ``h_c`` times by class ``c`` survives with
   ``prod_c (1 - p[c, kind]) ** h_c``: repeated hits accumulate, and units out from an
   earlier strike (``grid.prior_damage``) stay out.
3. :mod:`barrage.grid.restoration` repairs the damage day by day (crews, spare
   transformers, lead times) and prices each day's damaged set with
   :func:`barrage.grid.shed_load_batch` under the day's winter demand.

The salvo result reports leakers by class and by asset, not their cross-table; when the
cross-table is absent the class mix of a site's leakers is drawn from the run's leakers
(multivariate hypergeometric with both margins fixed), i.e. class and site are taken as
independent within a run. A ``leakers_by_asset_class`` (runs, assets, classes) field on
the salvo result, when present, is used as is.

Test networks only (PGLib-OPF, pandapower cases); never a real-world target list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from barrage.errors import InputError
from barrage.grid.network import PRIORITY_CLASSES, Network, assets, read_network
from barrage.grid.restoration import (
    ASSET_KINDS,
    Mobile,
    RepairSpec,
    Restoration,
    RestorationSettings,
    ShedCache,
    Winter,
    default_repair,
    simulate_restoration,
)
from barrage.grid.stylised import Stylise, stylise
from barrage.grid.units import (
    DAMAGE_KIND,
    PlantUnits,
    SubstationUnits,
    expand_units,
    split_critical_loads,
)
from barrage.salvo.engine import simulate
from barrage.salvo.result import SalvoResult
from barrage.salvo.scenario import (
    Layer,
    Scenario,
    format_validation_error,
    read_scenario_yaml,
    scenario_from_dict,
    weapon_classes,
)

Probability = float
AssetKind = Literal["substation", "plant", "line", "transformer"]
UnitType = Literal[
    "substation",
    "plant",
    "line",
    "transformer",
    "autotransformer",
    "bay",
    "thermal",
    "chp",
    "hydro",
]
SparePool = Literal["transformer", "autotransformer"]

DEFAULT_GRID_DIR = Path("..") / "shared" / "data" / "grid" / "pglib-opf"
"""Where network files named in a scenario are looked for last (relative to the working
directory), after ``--grid-dir`` and ``$BARRAGE_GRID_DIR``."""

#: P(one leaker that strikes a grid asset destroys it), by weapon class and asset kind.
#: ASSUMPTIONS for illustration (no public per-weapon damage statistics): a drone's
#: ~50 kg warhead disables transformers and switchgear more often than a turbine hall or
#: a line; missiles carry several hundred kg.
DEFAULT_DAMAGE_PROBABILITY: dict[str, dict[str, float]] = {
    "attack_drone": {"substation": 0.35, "transformer": 0.35, "plant": 0.2, "line": 0.1},
    "cruise_missile": {"substation": 0.6, "transformer": 0.6, "plant": 0.45, "line": 0.3},
    "ballistic_missile": {"substation": 0.7, "transformer": 0.7, "plant": 0.55, "line": 0.3},
    "mixed_missile": {"substation": 0.6, "transformer": 0.6, "plant": 0.45, "line": 0.3},
}


class GridSection(BaseModel):
    """The ``grid:`` section of a strike scenario."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    network: str = Field(min_length=1)
    targets: dict[str, list[str]] = Field(min_length=1)
    damage_probability: dict[str, dict[AssetKind, float]] = Field(default_factory=dict)
    repair: dict[UnitType, RepairSpec] = Field(default_factory=dict)
    transformer_lead_time: RepairSpec = Field(
        default_factory=lambda: RepairSpec(median_days=210.0, sigma=0.25)
    )
    crews: int = Field(default=4, ge=0, le=10_000)
    spare_transformers: int = Field(default=2, ge=0, le=10_000)
    spares: dict[SparePool, int] = Field(default_factory=dict)
    horizon_days: int = Field(default=365, ge=1, le=3650)
    winter: Winter = Field(default_factory=Winter)
    substations: dict[str, SubstationUnits] = Field(default_factory=dict)
    plants: dict[str, PlantUnits] = Field(default_factory=dict)
    critical_shares: dict[str, float] = Field(default_factory=dict)
    prior_damage: dict[str, int] = Field(default_factory=dict)
    protection: dict[str, float] = Field(default_factory=dict)
    mobile_substations: int = Field(default=0, ge=0, le=1000)
    mobile_generation_mw: float = Field(default=0.0, ge=0, le=1e6)
    mobile_deploy_days: int = Field(default=3, ge=0, le=365)
    stylise: Stylise | None = None
    repair_priority: Literal["shed", "capacity"] = "shed"

    @model_validator(mode="after")
    def _check(self) -> GridSection:
        classes = weapon_classes()
        for cls, table in self.damage_probability.items():
            if cls not in classes:
                raise ValueError(
                    f"damage_probability: unknown weapon class {cls!r}; allowed: "
                    + ", ".join(classes)
                )
            for kind, p in table.items():
                if not 0.0 <= p <= 1.0:
                    raise ValueError(
                        f"damage_probability.{cls}.{kind}: expected a probability in [0, 1], "
                        f"got {p}"
                    )
        for site, ids in self.targets.items():
            if not ids:
                raise ValueError(f"targets.{site}: map the site to at least one grid asset")
        for key, factor in self.protection.items():
            if not 0.0 <= factor <= 1.0:
                raise ValueError(
                    f"protection.{key}: expected a factor on the damage probability in "
                    f"[0, 1], got {factor}"
                )
        for pool, n in self.spares.items():
            if n < 0:
                raise ValueError(f"spares.{pool}: expected a count >= 0, got {n}")
        for key, n in self.prior_damage.items():
            if n < 0:
                raise ValueError(f"prior_damage.{key}: expected units out >= 0, got {n}")
        return self


class Candidate(BaseModel):
    """A unit the defender may add: an air-defence placement, passive protection of some
    targets (their damage probability times ``factor``), spares (of ``unit_type``, else
    every pool), crews, mobile substations or mobile generation (``mw`` per unit)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(min_length=1)
    kind: Literal[
        "air_defence",
        "passive_protection",
        "spare_transformers",
        "crews",
        "mobile_substations",
        "mobile_generation",
    ]
    cost: float = Field(default=1.0, gt=0)
    max_units: int = Field(default=1, ge=1, le=20)
    units: int = Field(default=1, ge=1, le=1000)  # spares, crews or mobile units per unit
    layer: Layer | None = None
    covers: list[str] = Field(default_factory=list)  # targets of passive protection
    factor: float = Field(default=1.0, ge=0.0, le=1.0)  # on the damage probability
    unit_type: SparePool | None = None  # which spare pool (spare_transformers)
    mw: float = Field(default=0.0, ge=0.0, le=1e5)  # per unit of mobile generation

    @model_validator(mode="after")
    def _kind_fields(self) -> Candidate:
        if self.kind == "passive_protection" and not self.covers:
            raise ValueError(f"candidate {self.name!r}: passive_protection needs 'covers'")
        if self.kind == "mobile_generation" and self.mw <= 0:
            raise ValueError(f"candidate {self.name!r}: mobile_generation needs 'mw' > 0")
        return self

    @model_validator(mode="after")
    def _layer_iff_air_defence(self) -> Candidate:
        if self.kind == "air_defence" and self.layer is None:
            raise ValueError(f"candidate {self.name!r}: kind air_defence needs a 'layer'")
        if self.kind != "air_defence" and self.layer is not None:
            raise ValueError(f"candidate {self.name!r}: only air_defence takes a 'layer'")
        if self.kind == "air_defence" and self.max_units != 1:
            raise ValueError(f"candidate {self.name!r}: an air_defence placement has max_units 1")
        return self


class Planning(BaseModel):
    """The ``planning:`` section: what the defender may add, and the budget."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    budget: float = Field(default=2.0, ge=0)
    cost_unit: str = Field(default="cost unit", min_length=1, max_length=20)
    candidates: list[Candidate] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Planning:
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names):
            raise ValueError(f"candidates: names must be unique, got {names}")
        return self


@dataclass(frozen=True)
class StrikeScenario:
    """A salvo scenario plus its grid section (and optionally a planning section)."""

    salvo: Scenario
    grid: GridSection
    planning: Planning | None = None
    source: str = "scenario"
    base_dir: Path | None = None

    @property
    def name(self) -> str:
        return self.salvo.name


def _validate(model, data: Any, source: str, prefix: str):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msg = format_validation_error(exc, source)
        head, _, rest = msg.partition(": ")
        parts = [f"{prefix}.{p}" if not p.startswith(prefix) else p for p in rest.split("; ")]
        raise InputError(f"{head}: " + "; ".join(parts)) from None
    except RecursionError:
        raise InputError(f"{source}: {prefix} nested too deeply to be a scenario") from None


def strike_from_dict(
    data: Any, *, source: str = "scenario", base_dir: Path | None = None
) -> StrikeScenario:
    """Validate a parsed mapping (salvo fields + ``grid:`` + optional ``planning:``)."""
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    data = dict(data)
    if "grid" not in data:
        raise InputError(
            f"{source}: a strike scenario needs a 'grid:' section (network, targets); "
            "see docs/grid.md"
        )
    grid_raw = data.pop("grid")
    planning_raw = data.pop("planning", None)
    salvo = scenario_from_dict(data, source=source)
    grid = _validate(GridSection, grid_raw, source, "grid")
    planning = (
        _validate(Planning, planning_raw, source, "planning") if planning_raw is not None else None
    )
    sites = [a.name for a in salvo.assets]
    for site in sites:
        if site not in grid.targets:
            raise InputError(
                f"{source}: grid.targets: salvo asset {site!r} is not mapped to grid assets; "
                "add e.g. '{site}: [substation:<bus>]'".replace("{site}", site)
            )
    for site in grid.targets:
        if site not in sites:
            raise InputError(
                f"{source}: grid.targets: {site!r} is not a salvo asset; allowed: "
                + ", ".join(sites)
            )
    if planning is not None:
        targets = {str(t).strip() for ids in grid.targets.values() for t in ids}
        for i, cand in enumerate(planning.candidates):
            for t in cand.covers:
                if t not in targets:
                    raise InputError(
                        f"{source}: planning.candidates[{i}].covers: {t!r} is not a target of "
                        "grid.targets"
                    )
            if cand.layer is None:
                continue
            for asset in cand.layer.covers:
                if asset != "all" and asset not in sites:
                    raise InputError(
                        f"{source}: planning.candidates[{i}].layer.covers: undefined asset "
                        f"{asset!r}; allowed: " + ", ".join(sites + ["all"])
                    )
    return StrikeScenario(salvo, grid, planning, source, base_dir)


def load_strike_scenario(path: str | Path) -> StrikeScenario:
    """Read and validate a strike scenario YAML file."""
    path = Path(path)
    data = read_scenario_yaml(path)  # safe, size-bounded, every failure an InputError
    return strike_from_dict(data, source=str(path), base_dir=path.parent)


def example_strike_scenarios() -> dict[str, Path]:
    """Strike scenarios shipped with the package (test networks only), by stem."""
    from importlib import resources

    root = resources.files("barrage.grid").joinpath("scenarios")
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def strike_catalogue() -> list[dict]:
    """The shipped strike scenarios at a glance (name, kind, description, weapons,
    layers), in the order of :func:`example_strike_scenarios`."""
    out = []
    for name, path in example_strike_scenarios().items():
        scn = load_strike_scenario(path)
        out.append(
            {
                "name": name,
                "kind": "strike",
                "description": scn.salvo.description,
                "weapons": sum(g.count for g in scn.salvo.salvo.weapons),
                "layers": [layer.name for layer in scn.salvo.layers],
            }
        )
    return out


def resolve_grid_dir(grid_dir: str | Path | None) -> Path:
    """``grid_dir`` if given, else ``$BARRAGE_GRID_DIR``, else ``../shared/data/grid/pglib-opf``."""
    if grid_dir is not None:
        return Path(grid_dir)
    env = os.environ.get("BARRAGE_GRID_DIR")
    return Path(env) if env else DEFAULT_GRID_DIR


def resolve_network(scenario: StrikeScenario, grid_dir: str | Path | None = None) -> Network:
    """Read the scenario's network: ``pandapower:<case>``, an absolute path, or a file
    name looked up beside the scenario and then in the grid folder."""
    name = scenario.grid.network
    if name.startswith("pandapower:"):
        return read_network(name)
    path = Path(name).expanduser()
    tried = []
    if path.is_absolute():
        tried.append(path)
    else:
        if scenario.base_dir is not None:
            tried.append(scenario.base_dir / path)
        tried.append(resolve_grid_dir(grid_dir) / path)
    for candidate in tried:
        if candidate.is_file():
            return read_network(candidate)
    raise InputError(
        f"{scenario.source}: grid.network {name!r} not found (looked in "
        + ", ".join(str(t) for t in tried)
        + "); pass --grid-dir or set BARRAGE_GRID_DIR to the folder of PGLib-OPF cases"
    )


@dataclass(frozen=True)
class StrikeModel:
    """A strike scenario bound to its network: the arrays the Monte Carlo uses.

    The M targets are units (:mod:`barrage.grid.units`): an autotransformer or bay of a
    substation given as units, a generating unit, or a whole asset where no units are
    given."""

    scenario: StrikeScenario
    network: Network
    target_ids: tuple[str, ...]  # distinct unit assets behind grid.targets (M)
    target_rows: np.ndarray  # (M,) rows of assets(network)
    target_kinds: np.ndarray  # (M,) unit type (repair, crews, spares)
    capacity_mw: np.ndarray  # (M,)
    site_share: np.ndarray  # (A, M): P(a leaker on site a strikes unit m)
    protection: np.ndarray = None  # (M,) factor on the damage probability
    prior_out: np.ndarray = None  # (M,) bool, units already out when the strike starts
    groups: dict = field(default=None, repr=False)  # target id -> unit ids
    cache: ShedCache = field(repr=False, compare=False, default=None)

    def damage_table(self, classes: list[str]) -> np.ndarray:
        """(C, M) destruction probability per leaker striking a unit, by the salvo's weapon
        classes, times the unit's passive-protection factor."""
        user = self.scenario.grid.damage_probability
        kinds = [DAMAGE_KIND.get(k, k) for k in self.target_kinds]
        out = np.zeros((len(classes), len(self.target_ids)))
        for i, cls in enumerate(classes):
            table = {**DEFAULT_DAMAGE_PROBABILITY.get(cls, {}), **user.get(cls, {})}
            out[i] = [table.get(k, 0.0) for k in kinds]
        return out * self.protection[None, :]


def _unit_network(scenario: StrikeScenario, net: Network):
    """The network as the scenario describes it: stylised, unit by unit, critical shares."""
    g = scenario.grid
    if g.stylise is not None:
        net = stylise(net, g.stylise, g.plants, source=scenario.source)
    expanded = expand_units(net, substations=g.substations, plants=g.plants, source=scenario.source)
    network = expanded.network
    if g.critical_shares:
        network = split_critical_loads(network, g.critical_shares, scenario.source)
    return expanded, network


def _target_units(scenario: StrikeScenario, expanded, index: dict, net: Network) -> dict:
    """Target id -> its unit asset ids, for every id named in grid.targets."""
    groups: dict[str, tuple[str, ...]] = {}
    for site in [a.name for a in scenario.salvo.assets]:
        for j, raw in enumerate(scenario.grid.targets[site]):
            key = str(raw).strip()
            if key in expanded.groups:
                groups[key] = expanded.groups[key]
            elif key in index:
                groups[key] = (key,)
            else:
                raise InputError(
                    f"{scenario.source}: grid.targets.{site}[{j}]: {key!r} is not an asset of "
                    f"network {net.name!r}; expected substation:<bus number>, "
                    f"plant:1..{len(net.generators)} or branch:1..{len(net.branches)}"
                )
            if any(expanded.unit_type.get(u) == "nuclear" for u in groups[key]):
                raise InputError(
                    f"{scenario.source}: grid.targets.{site}[{j}]: {key!r} is a nuclear plant; "
                    "nuclear plants are not targets here (their output is curtailed through "
                    "damage to the substations they feed)"
                )
    return groups


def _units_of(scenario: StrikeScenario, groups: dict, field_name: str, key: str) -> tuple:
    """The units of a target named in ``grid.<field_name>``, or a clean error."""
    if key not in groups:
        raise InputError(
            f"{scenario.source}: grid.{field_name}.{key}: not a target of grid.targets; "
            "allowed: " + ", ".join(groups)
        )
    return groups[key]


def _protection(scenario: StrikeScenario, groups: dict, ids: list[str]) -> np.ndarray:
    """(M,) factor on each unit's damage probability (``grid.protection``, else 1)."""
    out = np.ones(len(ids))
    for key, factor in scenario.grid.protection.items():
        out[[ids.index(u) for u in _units_of(scenario, groups, "protection", key)]] = factor
    return out


def _prior_out(scenario: StrikeScenario, groups: dict, ids: list[str]) -> np.ndarray:
    """(M,) True for the units already out (``grid.prior_damage``: the first n units)."""
    out = np.zeros(len(ids), dtype=bool)
    for key, n in scenario.grid.prior_damage.items():
        units = _units_of(scenario, groups, "prior_damage", key)
        if n > len(units):
            raise InputError(
                f"{scenario.source}: grid.prior_damage.{key}: {n} units out, but the site "
                f"has {len(units)} units"
            )
        out[[ids.index(u) for u in units[:n]]] = True
    return out


def build_strike_model(
    scenario: StrikeScenario, *, grid_dir: str | Path | None = None, network: Network | None = None
) -> StrikeModel:
    """Resolve the network, rewrite it unit by unit and check every mapped asset exists."""
    net0 = network if network is not None else resolve_network(scenario, grid_dir)
    expanded, net = _unit_network(scenario, net0)
    table = assets(net)
    index = {a: i for i, a in enumerate(table["asset_id"])}
    groups = _target_units(scenario, expanded, index, net0)
    ids = list(dict.fromkeys(u for units in groups.values() for u in units))
    sites = [a.name for a in scenario.salvo.assets]
    share = np.zeros((len(sites), len(ids)))
    for a, site in enumerate(sites):
        mapped = list(dict.fromkeys(str(x).strip() for x in scenario.grid.targets[site]))
        for key in mapped:
            for u in groups[key]:
                share[a, ids.index(u)] += 1.0 / len(mapped) / len(groups[key])
    rows = np.array([index[k] for k in ids], dtype=np.int64)
    kinds = table["kind"].to_numpy()[rows].astype(str)
    kinds = np.array([expanded.unit_type.get(u, k) for u, k in zip(ids, kinds, strict=True)])
    return StrikeModel(
        scenario=scenario,
        network=net,
        target_ids=tuple(ids),
        target_rows=rows,
        target_kinds=kinds,
        capacity_mw=np.nan_to_num(table["capacity_mw"].to_numpy()[rows].astype(float), posinf=0.0),
        site_share=share,
        protection=_protection(scenario, groups, ids),
        prior_out=_prior_out(scenario, groups, ids),
        groups=groups,
        cache=ShedCache(net),
    )


def _grid_rng(seed: int, runs: int, stream: int, first_block: int = 0) -> list[np.random.Generator]:
    """Generators for the grid's draws, one per block of 1024 runs, apart from the salvo's
    (entropy ``[seed, stream]``), so a run's numbers do not depend on the total runs.
    ``first_block``: the runs are blocks ``first_block, ...`` of a longer simulation
    (``spawn_key=(b,)`` is child ``b`` of ``spawn``), as in :mod:`barrage.compute.strike`."""
    n_blocks = max(1, -(-runs // 1024))
    entropy = [seed, 0x67726964, stream]
    return [
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(b,))))
        for b in range(first_block, first_block + n_blocks)
    ]


def _blocked(gens, runs: int, draw) -> np.ndarray:
    parts = [draw(g, min(1024, runs - 1024 * b)) for b, g in enumerate(gens)]
    return np.concatenate(parts)


def leakers_by_site_class(salvo: SalvoResult, seed: int, first_block: int = 0) -> np.ndarray:
    """(runs, assets, classes) leaker counts; see the module notes on the class mix."""
    joint = getattr(salvo, "leakers_by_asset_class", None)
    if joint is not None:
        return np.asarray(joint, dtype=np.int64)
    by_class = np.asarray(salvo.leakers_by_class, dtype=np.int64)
    by_site = np.asarray(salvo.leakers_by_asset, dtype=np.int64)
    runs, n_c = by_class.shape
    n_a = by_site.shape[1]
    out = np.zeros((runs, n_a, n_c), dtype=np.int64)
    gens = _grid_rng(seed, runs, 1, first_block)
    starts = [1024 * b for b in range(len(gens))]
    for g, s in zip(gens, starts, strict=True):
        sl = slice(s, min(s + 1024, runs))
        pool = by_class[sl].copy()
        for a in range(n_a - 1):  # small loops over sites and classes, vectorised over runs
            left = by_site[sl, a].copy()
            pool_left = pool.sum(axis=1)
            for c in range(n_c - 1):
                good = pool[:, c]
                x = g.hypergeometric(good, pool_left - good, np.minimum(left, pool_left))
                out[sl, a, c] = x
                left -= x
                pool_left -= good
                pool[:, c] -= x
            out[sl, a, n_c - 1] = left
            pool[:, n_c - 1] -= left
        out[sl, n_a - 1] = pool
    return out


def draw_damage(
    model: StrikeModel, salvo: SalvoResult, seed: int, first_block: int = 0
) -> np.ndarray:
    """(runs, M) True where a unit is out after the strike.

    Each leaker on site ``a`` strikes one of the site's units (``site_share[a]``, a
    multinomial over the units) and a unit struck ``h_c`` times by class ``c`` survives
    with ``prod_c (1 - p[c, m]) ** h_c``: repeated hits on one site accumulate, and the
    units already out (``grid.prior_damage``) stay out."""
    joint = leakers_by_site_class(salvo, seed, first_block)
    log_keep = np.log1p(-np.clip(model.damage_table(salvo.classes), 0.0, 1.0 - 1e-12))
    m = len(model.target_ids)
    out = np.zeros((salvo.runs, m), dtype=bool)
    for b, g in enumerate(_grid_rng(seed, salvo.runs, 2, first_block)):
        sl = slice(1024 * b, min(1024 * (b + 1), salvo.runs))
        log_survive = np.zeros((sl.stop - sl.start, m))
        for a, share in enumerate(model.site_share):
            units = np.flatnonzero(share > 0)
            pvals = share[units] / share[units].sum()
            for c in range(joint.shape[2]):
                hits = g.multinomial(joint[sl, a, c], pvals)
                log_survive[:, units] += hits * log_keep[c, units][None, :]
        out[sl] = g.random(log_survive.shape) < -np.expm1(log_survive)
    return out | model.prior_out[None, :]


def summarise_tail(values: np.ndarray) -> dict[str, float]:
    """Mean, 5/50/95% quantiles and CVaR95 (mean of the worst 5% of runs)."""
    v = np.asarray(values, dtype=float)
    p05, p50, p95 = np.quantile(v, [0.05, 0.5, 0.95])
    k = max(1, int(np.ceil(0.05 * len(v))))
    worst = np.sort(v)[-k:]
    return {
        "mean": float(v.mean()),
        "p05": float(p05),
        "p50": float(p50),
        "p95": float(p95),
        "cvar95": float(worst.mean()),
    }


GENERATING_TYPES = ("plant", "thermal", "chp", "hydro")
RESTORE_SHARES = (0.5, 0.9, 1.0)


@dataclass(frozen=True, eq=False)
class StrikeContext:
    """What the outputs are held against: demand, the units hit, the assumptions."""

    demand_mw: float  # the network's load at the reference temperature
    unit_types: tuple[str, ...]  # (M,)
    capacity_mw: np.ndarray  # (M,)
    illustrative: tuple[str, ...]


def strike_context(model: StrikeModel) -> StrikeContext:
    """The context of a bound model, with the assumptions its numbers rest on."""
    g = model.scenario.grid
    notes = [
        "damage probability per leaker by weapon class (assumed, grid.damage_probability)",
        "repair medians and lead times (assumed, anchored on public statements; docs/grid.md)",
        "class and site of leakers independent within a run",
    ]
    if g.stylise is not None:
        notes.append(
            "stylised system: a PGLib test topology scaled to public aggregates; "
            "plant types, units per site and the split of capacity are assumed"
        )
    if g.substations:
        notes.append("substations built N-1 with a design margin (assumed)")
    if not g.winter.temperature_c:
        notes.append("demand held at the network's load every day (no temperature profile)")
    if g.critical_shares:
        notes.append("critical-load shares of each load (assumed)")
    return StrikeContext(
        demand_mw=model.network.total_load_mw,
        unit_types=tuple(model.target_kinds),
        capacity_mw=model.capacity_mw,
        illustrative=tuple(notes),
    )


def days_to_restore(shed_mw: np.ndarray, share: float, tol_mw: float = 1e-6) -> np.ndarray:
    """Per run, the first day from the worst day on when at least ``share`` of the worst
    day's shed is back (``share=1``: no strike shed left); the horizon if never."""
    runs, days = shed_mw.shape
    peak = shed_mw.max(axis=1)
    worst = shed_mw.argmax(axis=1)
    target = (1.0 - share) * peak + tol_mw
    ok = (np.arange(days)[None, :] >= worst[:, None]) & (shed_mw <= target[:, None])
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), days)
    return np.where(peak <= tol_mw, 0, first)


def in_context(result: StrikeResult) -> dict:
    """The outputs in units a reader can hold against public figures: GW and % of demand,
    hours without power per day for an average customer, days to restore 50/90/100 %,
    generating capacity lost, nuclear output curtailed by grid damage."""
    ctx, r = result.context, result.restoration
    demand = ctx.demand_mw * r.demand_factor  # (days,)
    days = len(demand)
    gen = np.isin(np.array(ctx.unit_types), GENERATING_TYPES)
    off_h = 24.0 * r.customers_off_share
    week = min(7, days)
    return {
        "demand_mw": ctx.demand_mw,
        "peak_shed_gw": summarise_tail(r.peak_shed_mw / 1e3),
        "peak_shed_percent_of_demand": summarise_tail(
            100.0 * (r.shed_mw / demand[None, :]).max(axis=1)
        ),
        "unserved_energy_gwh": summarise_tail(r.unserved_energy_mwh / 1e3),
        "unserved_energy_percent_of_demand": summarise_tail(
            100.0 * r.unserved_energy_mwh / (24.0 * demand.sum())
        ),
        "hours_without_power_per_day": {
            "first_day": summarise_tail(off_h[:, 0]),
            "first_week": summarise_tail(off_h[:, :week].mean(axis=1)),
            "horizon": summarise_tail(off_h.mean(axis=1)),
        },
        "days_to_restore": {
            f"{int(100 * q)}%": summarise_tail(days_to_restore(r.shed_mw, q))
            for q in RESTORE_SHARES
        },
        "not_restored_within_horizon": float((days_to_restore(r.shed_mw, 1.0) >= days).mean()),
        "horizon_days": days,
        "generation_lost_gw": summarise_tail(
            (result.damaged[:, gen] * ctx.capacity_mw[gen][None, :]).sum(axis=1) / 1e3
        ),
        "nuclear_curtailed_by_grid_damage_mw": {
            "first_day": summarise_tail(r.nuclear_curtailed_mw[:, 0]),
            "energy_mwh": summarise_tail(24.0 * r.nuclear_curtailed_mw.sum(axis=1)),
        },
        "shed_hours_by_class": {
            c: summarise_tail(r.shed_hours_by_class[:, i]) for i, c in enumerate(PRIORITY_CLASSES)
        },
        "illustrative": list(ctx.illustrative),
    }


@dataclass(frozen=True)
class StrikeResult:
    """Per-run outcomes of a strike (one sample axis: runs) and the salvo behind them."""

    runs: int
    seed: int
    network: str
    target_ids: tuple[str, ...]
    salvo: SalvoResult = field(repr=False)
    damaged: np.ndarray = field(repr=False)  # (runs, M) bool
    restoration: Restoration = field(repr=False)
    context: StrikeContext | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        model: StrikeModel,
        runs: int,
        seed: int,
        salvo: SalvoResult,
        damaged: np.ndarray,
        restoration: Restoration,
    ) -> StrikeResult:
        """The result of ``runs`` on ``model``: its network, targets and context (the one
        way :func:`run_strike` and the chunked run put their parts together)."""
        return cls(
            runs=runs,
            seed=seed,
            network=model.network.name,
            target_ids=model.target_ids,
            salvo=salvo,
            damaged=damaged,
            restoration=restoration,
            context=strike_context(model),
        )

    @property
    def unserved_energy_mwh(self) -> np.ndarray:
        return self.restoration.unserved_energy_mwh

    def summary(self) -> dict:
        """JSON-ready distributions (mean, p05, p50, p95, CVaR95) of every output."""
        r = self.restoration
        n = self.runs
        ue = r.unserved_energy_mwh
        salvo = self.salvo.summary()
        return {
            "runs": n,
            "seed": self.seed,
            "network": self.network,
            "unserved_energy_mwh": summarise_tail(ue),
            "unserved_energy_mwh_standard_error": float(ue.std(ddof=1) / np.sqrt(n))
            if n > 1
            else 0.0,
            "unserved_energy_by_class_mwh": {
                c: summarise_tail(r.unserved_energy_by_class_mwh[:, i])
                for i, c in enumerate(PRIORITY_CLASSES)
            },
            "customer_hours": summarise_tail(r.customer_hours),
            "cold_customer_hours": summarise_tail(r.cold_customer_hours),
            "harm_weighted_customer_hours": summarise_tail(r.harm_weighted_customer_hours),
            "peak_shed_mw": summarise_tail(r.peak_shed_mw),
            "shed_hours": summarise_tail(r.shed_hours),
            "restoration_days": summarise_tail(r.restoration_days),
            "restored_within_horizon": float(r.restored_within_horizon.mean()),
            "assets_destroyed": summarise_tail(self.damaged.sum(axis=1)),
            "destroyed_probability_by_asset": {
                a: float(self.damaged[:, i].mean()) for i, a in enumerate(self.target_ids)
            },
            "mean_shed_mw_by_day": [round(float(v), 3) for v in r.shed_mw.mean(axis=0)],
            "leakers": salvo["leakers"],
            "leakers_by_class": salvo["leakers_by_class"],
            "leakers_by_asset": salvo["leakers_by_asset"],
            **({"in_context": in_context(self)} if self.context is not None else {}),
        }


def grid_draws(
    model: StrikeModel, salvo: SalvoResult, seed: int, first_block: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The grid's random part of each run: (damaged (runs, M), repair z (runs, 2, M)).
    ``first_block``: the salvo's runs are blocks ``first_block, ...`` of a longer run."""
    damaged = draw_damage(model, salvo, seed, first_block)
    gens = _grid_rng(seed, salvo.runs, 3, first_block)
    m = len(model.target_ids)
    work_z = _blocked(gens, salvo.runs, lambda gen, n: gen.standard_normal((n, 2, m)))
    return damaged, work_z


Stats = dict[str, Any]
"""A distribution over runs: mean, p05, p50, p95 and cvar95 (the mean of the worst 5%)."""
Number = float | int | None


class StrikeSummary(BaseModel):
    """A strike Monte Carlo's summary (:meth:`StrikeResult.summary`), declared once:
    ``barrage simulate strike --json`` prints its dump and a strike job's result is one.
    Fields in the order the summary writes them, so the dump is the same JSON byte for
    byte; ``in_context`` (national figures on a stylised system) only where the scenario
    gives them, and absent from the dump otherwise."""

    model_config = ConfigDict(extra="allow")
    runs: int
    seed: int
    network: str
    unserved_energy_mwh: Stats
    unserved_energy_mwh_standard_error: Number = Field(
        description="Monte Carlo standard error of the mean unserved energy (MWh)."
    )
    unserved_energy_by_class_mwh: dict[str, Stats]
    customer_hours: Stats
    cold_customer_hours: Stats = Field(description="Customer-hours on days below 0 C.")
    harm_weighted_customer_hours: Stats
    peak_shed_mw: Stats
    shed_hours: Stats
    restoration_days: Stats
    restored_within_horizon: Number = Field(description="Share of runs fully restored.")
    assets_destroyed: Stats
    destroyed_probability_by_asset: dict[str, Number]
    mean_shed_mw_by_day: list[Number]
    leakers: Stats
    leakers_by_class: dict[str, Stats]
    leakers_by_asset: dict[str, Stats]
    in_context: dict[str, Any] | None = Field(
        None, description="In national units, where the scenario is a stylised system."
    )

    def as_json(self) -> dict[str, Any]:
        """As ``barrage simulate strike --json`` prints it (the summary, key for key)."""
        return self.model_dump(exclude_unset=True)


@dataclass(frozen=True)
class PlanExtras:
    """What a protection plan adds to the scenario's restoration: spare units (per pool,
    or one number for every pool), crews, mobile substations and mobile generation (MW)."""

    spares: int | dict[str, int] = 0
    crews: int = 0
    mobile_substations: int = 0
    mobile_mw: float = 0.0


NO_EXTRAS = PlanExtras()


def restoration_settings(model: StrikeModel, extras: PlanExtras = NO_EXTRAS) -> RestorationSettings:
    """The restoration's settings from the scenario, with a plan's ``extras``."""
    g = model.scenario.grid
    pools = {"transformer": g.spare_transformers, "autotransformer": g.spare_transformers}
    pools.update(g.spares)
    spares = extras.spares
    extra = spares if isinstance(spares, dict) else dict.fromkeys(pools, spares)
    return RestorationSettings(
        target_rows=model.target_rows,
        target_kinds=model.target_kinds,
        capacity_mw=model.capacity_mw,
        repair={**default_repair(), **g.repair},
        lead_time=g.transformer_lead_time,
        crews=g.crews + extras.crews,
        spares={k: v + extra.get(k, 0) for k, v in pools.items()},
        horizon_days=g.horizon_days,
        winter=g.winter,
        mobile=Mobile(
            substations=g.mobile_substations + extras.mobile_substations,
            generation_mw=g.mobile_generation_mw + extras.mobile_mw,
            deploy_days=g.mobile_deploy_days,
        ),
        priority_rule=g.repair_priority,
    )


def run_strike(
    model: StrikeModel,
    *,
    runs: int,
    seed: int,
    salvo_scenario: Scenario | None = None,
    extras: PlanExtras = NO_EXTRAS,
) -> StrikeResult:
    """The Monte Carlo for a bound model; planning varies the salvo's layers, spares and
    crews (``extras``) while keeping the seed (common random numbers)."""
    sc = model.scenario
    salvo = simulate(salvo_scenario or sc.salvo, runs=runs, seed=seed)
    damaged, work_z = grid_draws(model, salvo, seed)
    restoration = simulate_restoration(
        model.network,
        model.cache,
        damaged=damaged,
        z_work=work_z[:, 0],
        z_lead=work_z[:, 1],
        settings=restoration_settings(model, extras),
    )
    return StrikeResult.of(model, runs, seed, salvo, damaged, restoration)


def checked_strike_request(scenario, runs: int, seed: int) -> StrikeScenario:
    """The scenario as a :class:`StrikeScenario` (from a YAML path or a mapping), with
    ``runs`` and ``seed`` checked: one gate for every entry point of the strike."""
    if isinstance(scenario, str | Path):
        scenario = load_strike_scenario(scenario)
    elif isinstance(scenario, dict):
        scenario = strike_from_dict(scenario)
    if not isinstance(runs, int) or runs < 1:
        raise InputError(f"runs: expected a positive number of runs, got {runs}")
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed}")
    return scenario


def simulate_strike(
    scenario: StrikeScenario | str | Path | dict,
    runs: int = 1000,
    seed: int = 0,
    *,
    grid_dir: str | Path | None = None,
    network: Network | None = None,
) -> StrikeResult:
    """Salvo -> hits -> load shed -> restoration, as one Monte Carlo over ``runs``.

    ``scenario``: a :class:`StrikeScenario`, a YAML path or a parsed mapping.
    ``grid_dir``: folder of network files (default ``$BARRAGE_GRID_DIR`` or
    ``../shared/data/grid/pglib-opf``). ``network`` overrides the file named in the
    scenario. The result's ``summary()`` gives unserved energy (mean, p05, p50, p95,
    CVaR95), customer-hours, cold exposure, peak and duration of shedding and leakers.
    """
    scenario = checked_strike_request(scenario, runs, seed)
    model = build_strike_model(scenario, grid_dir=grid_dir, network=network)
    return run_strike(model, runs=runs, seed=seed)


__all__ = [
    "ASSET_KINDS",
    "Candidate",
    "GridSection",
    "Planning",
    "StrikeModel",
    "StrikeResult",
    "StrikeScenario",
    "build_strike_model",
    "example_strike_scenarios",
    "load_strike_scenario",
    "simulate_strike",
    "strike_from_dict",
    "summarise_tail",
]
