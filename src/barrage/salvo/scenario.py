"""Salvo scenarios: the YAML schema, its validation, and the weapon-family table.

A scenario says what is launched (counts by family, arrival windows, decoy share), what
is defended (assets with a value weight), how it is defended (ordered layers with
channels, stock, doctrine and kill probabilities), what electronic warfare removes, and
how the attacker spreads the salvo over the assets. Every validation error names the
field path and the allowed values, and surfaces as :class:`barrage.errors.InputError`.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from barrage.errors import InputError
from barrage.files import decode_utf8, read_bounded

LayerType = Literal[
    "mobile_fire_group", "gun", "shorad", "mrad", "long_range", "interceptor_drone", "helicopter"
]
Doctrine = Literal["salvo", "shoot_look_shoot"]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]

MAX_GROUP_WEAPONS = 1_000_000
"""Most weapons in one group: three orders above the largest night published (about
800 drones and missiles); the job's cost is then bounded by :mod:`barrage.salvo.cost`."""
MAX_CHANNELS = 10_000_000
"""Most fire channels of one layer (1e7 is "unlimited" in the closed-form tests); larger
values overflowed the engine's 32-bit slot capacities, so the layer fired nothing."""
MAX_SLOTS = 100_000
"""Most slots in a night (the slot arrays are per layer and slot)."""


@dataclass(frozen=True)
class Family:
    """One row of ``families.csv``: a weapon family, its class and unit cost."""

    family: str
    weapon_class: str
    is_decoy: bool
    unit_cost_usd: float
    cost_source: str


@functools.cache
def load_families() -> dict[str, Family]:
    """The weapon-family table shipped with the package, keyed by family name."""
    text = resources.files("barrage.salvo").joinpath("families.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return {
        r["family"]: Family(
            family=r["family"],
            weapon_class=r["weapon_class"],
            is_decoy=r["is_decoy"].strip().lower() == "true",
            unit_cost_usd=float(r["unit_cost_usd"]),
            cost_source=r["cost_source"],
        )
        for r in rows
    }


def weapon_classes() -> list[str]:
    """Weapon classes known to the family table, in a fixed (sorted) order."""
    return sorted({f.weapon_class for f in load_families().values()})


def _allowed(values: list[str]) -> str:
    return ", ".join(sorted(values))


class BetaPrior(BaseModel):
    """A probability that varies from run to run as Beta(alpha, beta)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)


ProbabilitySpec = Probability | BetaPrior


def _check_prob_keys(value: dict[str, Any]) -> dict[str, Any]:
    known = set(load_families()) | set(weapon_classes())
    for key in value:
        if key not in known:
            raise ValueError(
                f"unknown weapon class or family {key!r}; allowed: {_allowed(list(known))}"
            )
    return value


class Wave(BaseModel):
    """A burst of a weapon group: ``count`` weapons arriving uniformly within
    ``arrival_h``, through ``corridor`` (a direction; ``None``: any)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    count: int = Field(ge=0)
    arrival_h: tuple[float, float]
    corridor: str | None = Field(default=None, min_length=1)

    @field_validator("arrival_h")
    @classmethod
    def _ordered_window(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _check_window(value)


def _check_window(value: tuple[float, float]) -> tuple[float, float]:
    start, end = value
    if not 0 <= start <= end:
        raise ValueError(f"expected [start, end] hours with 0 <= start <= end, got {value}")
    return value


class WeaponGroup(BaseModel):
    """``count`` weapons of one family arriving uniformly within ``arrival_h``, or in
    ``waves`` (bursts with their own timing and corridor) that sum to ``count``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    family: str
    count: int = Field(ge=0, le=MAX_GROUP_WEAPONS, strict=True)
    arrival_h: tuple[float, float] = (0.0, 8.0)
    corridor: str | None = Field(default=None, min_length=1)
    waves: list[Wave] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _waves_sum_to_count(self) -> WeaponGroup:
        """Waves sum to the group's count; the group's window becomes their span."""
        if self.waves is None:
            return self
        total = sum(w.count for w in self.waves)
        if total != self.count:
            raise ValueError(
                f"waves: wave counts sum to {total}; expected the group's count {self.count}"
            )
        self.arrival_h = (
            min(w.arrival_h[0] for w in self.waves),
            max(w.arrival_h[1] for w in self.waves),
        )
        return self

    def bursts(self) -> list[tuple[int, tuple[float, float], str | None]]:
        """``(count, arrival_h, corridor)`` of each burst: the waves, or the group."""
        if self.waves is None:
            return [(self.count, self.arrival_h, self.corridor)]
        return [(w.count, w.arrival_h, w.corridor or self.corridor) for w in self.waves]

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str) -> str:
        families = load_families()
        if value not in families:
            raise ValueError(f"unknown weapon family {value!r}; allowed: {_allowed(families)}")
        return value

    @field_validator("arrival_h")
    @classmethod
    def _ordered_window(cls, value: tuple[float, float]) -> tuple[float, float]:
        start, end = value
        if not 0 <= start <= end:
            raise ValueError(f"expected [start, end] hours with 0 <= start <= end, got {value}")
        return value


class Salvo(BaseModel):
    """The strike: weapon groups and the share of attack drones that are decoys."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    weapons: list[WeaponGroup] = Field(min_length=1)
    decoy_share: Annotated[float, Field(ge=0.0)] | BetaPrior = 0.0

    @field_validator("decoy_share")
    @classmethod
    def _decoy_share_below_one(cls, value: float | BetaPrior) -> float | BetaPrior:
        """A number in [0, 1), or ``{alpha, beta}``: a share drawn per run (a Beta's
        draws are below 1 almost surely)."""
        if isinstance(value, float | int) and value >= 1.0:
            # a salvo of decoys only threatens nothing: a typo, not a scenario
            raise ValueError(f"expected a share in [0, 1), got {value}")
        return value


class Asset(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(min_length=1)
    value_weight: float = Field(default=1.0, ge=0)
    region: str = ""


class Layer(BaseModel):
    """One defence layer, engaging in scenario order (outermost first)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(min_length=1)
    type: LayerType
    engages: list[str] = Field(min_length=1)
    channels: int = Field(ge=0, le=MAX_CHANNELS, strict=True)
    engagement_time_min: float = Field(gt=0)
    stock: int | None = Field(default=None, ge=0, le=2**31 - 1, strict=True)
    shots_per_target: int = Field(default=1, ge=1, le=8)
    doctrine: Doctrine = "salvo"
    kill_probability: dict[str, ProbabilitySpec]
    interceptor_cost_usd: float = Field(default=0.0, ge=0)
    covers: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    corridors: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    tracks: int | None = Field(default=None, ge=0)
    reload_min: float = Field(default=0.0, ge=0)
    rounds_per_load: int = Field(default=1, ge=1)

    def engagements_per_slot(self, slot_min: float) -> float:
        """Sustained engagements a slot allows: ``min(channels, tracks)`` channels, each
        taking ``engagement_time_min`` plus its share of a reload (``reload_min`` every
        ``rounds_per_load`` engagements)."""
        channels = self.channels if self.tracks is None else min(self.channels, self.tracks)
        if self.reload_min == 0:
            return channels * slot_min / self.engagement_time_min
        return (
            channels
            * slot_min
            / (self.engagement_time_min + self.reload_min / self.rounds_per_load)
        )

    @field_validator("engages")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        classes = weapon_classes()
        for item in value:
            if item not in classes:
                raise ValueError(f"unknown weapon class {item!r}; allowed: {_allowed(classes)}")
        return value

    @field_validator("kill_probability")
    @classmethod
    def _kill_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_prob_keys(value)


VISUAL_LAYERS = ("mobile_fire_group", "helicopter")
"""Layer types that find their targets by eye, searchlight or sound: weather affects them."""


class Weather(BaseModel):
    """The night's weather, shifting the kill probability of the visual layers on the
    logit scale by ``logit_per_100pct_cloud * cloud / 100 + logit_per_10kmh_wind * wind /
    10``. Defaults: fitted on the record's nights before 2025-04-01
    (:func:`barrage.salvo.weather.fit_weather_effect`; docs/salvo.md)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    cloud_pct: float = Field(ge=0, le=100)
    wind_kmh: float = Field(ge=0, le=200)
    logit_per_100pct_cloud: float = -0.359
    logit_per_10kmh_wind: float = -0.025

    def logit_shift(self) -> float:
        return (
            self.logit_per_100pct_cloud * self.cloud_pct / 100
            + self.logit_per_10kmh_wind * self.wind_kmh / 10
        )


class Aim(BaseModel):
    """How the attacker spreads the salvo over the assets."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    mode: Literal["value_weighted", "uniform", "weights"] = "value_weighted"
    weights: dict[str, float] = Field(default_factory=dict)


class Scenario(BaseModel):
    """A full salvo scenario; build it from YAML with :func:`load_scenario`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = "salvo"
    description: str = ""
    night_h: float = Field(default=12.0, gt=0, le=48)
    slot_min: float = Field(default=10.0, gt=0)
    salvo: Salvo
    assets: list[Asset] = Field(min_length=1)
    layers: list[Layer] = Field(default_factory=list)
    ew_loss: dict[str, ProbabilitySpec] = Field(default_factory=dict)
    debris_probability: dict[str, Probability] = Field(default_factory=dict)
    aim: Aim = Field(default_factory=Aim)
    weather: Weather | None = None

    @field_validator("ew_loss", "debris_probability")
    @classmethod
    def _prob_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_prob_keys(value)

    @model_validator(mode="after")
    def _corridors_covered(self) -> Scenario:
        """Every named corridor is covered by a layer; a layer names only used ones; waves
        end within the night."""
        for i, g in enumerate(self.salvo.weapons):
            for j, w in enumerate(g.waves or []):
                if w.arrival_h[1] > self.night_h:
                    raise ValueError(
                        f"salvo.weapons[{i}].waves[{j}]: arrival_h {list(w.arrival_h)} ends "
                        f"after night_h={self.night_h}"
                    )
        used = sorted({c for g in self.salvo.weapons for _, _, c in g.bursts() if c is not None})
        for i, layer in enumerate(self.layers):
            for name in layer.corridors:
                if name != "all" and name not in used:
                    raise ValueError(
                        f"layers[{i}].corridors: undefined corridor {name!r}; "
                        f"allowed: {_allowed(used + ['all'])}"
                    )
        if self.layers:
            covered = {c for layer in self.layers for c in layer.corridors}
            for name in used:
                if name not in covered and "all" not in covered:
                    raise ValueError(
                        f"salvo.weapons: corridor {name!r} is covered by no layer; "
                        "add it to a layer's corridors (or 'all')"
                    )
        return self

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        names = [a.name for a in self.assets]
        if len(set(names)) != len(names):
            raise ValueError(f"assets: asset names must be unique, got {names}")
        allowed = _allowed(names + ["all"])
        for i, layer in enumerate(self.layers):
            for asset in layer.covers:
                if asset != "all" and asset not in names:
                    raise ValueError(
                        f"layers[{i}].covers: undefined asset {asset!r}; allowed: {allowed}"
                    )
        for asset in self.aim.weights:
            if asset not in names:
                raise ValueError(f"aim.weights: undefined asset {asset!r}; allowed: {allowed}")
        for group in self.salvo.weapons:
            if group.arrival_h[1] > self.night_h:
                raise ValueError(
                    f"salvo.weapons: arrival_h {list(group.arrival_h)} ends after "
                    f"night_h={self.night_h}"
                )
        if self.aim.mode == "weights" and not any(w > 0 for w in self.aim.weights.values()):
            raise ValueError("aim.weights: mode 'weights' needs at least one positive weight")
        self._check_slots()
        return self

    def _check_slots(self) -> None:
        """Each firing layer must have at least one engagement per slot.

        A weapon is engaged only in the slot it arrives in; with shorter slots most slots
        get no engagement, and weapons arriving in them pass although the channels are
        idle (found by probing: slot_min 10, 0.5, 0.1, 0.01 gave 24.6, 25.8, 97 and 200
        mean leakers on the shipped scenario).
        """
        slots = math.ceil(self.night_h * 60.0 / self.slot_min)
        if slots > MAX_SLOTS:
            raise ValueError(
                f"slot_min: {self.slot_min:g} cuts the night into {slots:,} slots, more than "
                f"{MAX_SLOTS:,}; expected slot_min >= {self.night_h * 60.0 / MAX_SLOTS:.4g}"
            )
        slot_len = self.night_h * 60.0 / slots
        for i, layer in enumerate(self.layers):
            if layer.channels and layer.channels * slot_len < layer.engagement_time_min:
                need = layer.engagement_time_min / layer.channels
                raise ValueError(
                    f"slot_min: {self.slot_min:g} min gives layers[{i}] ({layer.name}) less "
                    f"than one engagement per slot ({layer.channels} channels x "
                    f"{slot_len:.4g} min / {layer.engagement_time_min:g} min); expected "
                    f"slot_min >= {need:.4g}"
                )


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("float", "BetaPrior", "constrained-float"):
            continue  # union branch labels, not user fields
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One readable message per error: ``source: field.path: what was wrong (got X)``."""
    lines = []
    seen: set[str] = set()
    errors = exc.errors()
    # a value failing both branches of ``float | BetaPrior``: keep the float branch's reason
    float_locs = {_format_loc(e["loc"]) for e in errors if "BetaPrior" not in map(str, e["loc"])}
    for err in errors:
        loc = _format_loc(err["loc"])
        if "BetaPrior" in map(str, err["loc"]) and loc in float_locs:
            continue
        if (
            err["type"] in ("model_type", "dict_type")
            and loc in float_locs
            and len([e for e in errors if _format_loc(e["loc"]) == loc]) > 1
        ):
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] not in ("value_error",) and "input" in err:
            got = err["input"]
            if not isinstance(got, dict | list):
                msg += f" (got {got!r})"
        line = f"{loc}: {msg}" if loc else msg
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return f"{source}: " + "; ".join(lines)


def scenario_from_dict(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate a parsed mapping into a :class:`Scenario`, raising InputError."""
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, source)) from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply to be a scenario") from None


#: Larger scenario files are refused before parsing (a real one is a few kB).
MAX_SCENARIO_BYTES = 1024 * 1024


def _yaml_problem(exc: Exception) -> str:
    """A YAML error on one line: where (line, column) and what, without the parser's
    multi-line excerpt of the text."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return " ".join(f"{where}{problem}".split())


@functools.cache
def _unique_key_loader() -> type:
    """A SafeLoader that refuses a key given twice in one mapping: plain YAML keeps the
    last and drops the first without a word (a second ``layers:`` lost the first)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is None or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def read_scenario_yaml(path: str | Path) -> Any:
    """A scenario file's YAML, parsed safely (no tags that build Python objects).

    Every failure is an InputError naming the file: unreadable, too large, not UTF-8,
    not YAML, or nested too deep to parse (found by fuzzing: ``[[[[...`` overflowed the
    parser's recursion).
    """
    import yaml

    path = Path(path)
    text = decode_utf8(path, read_bounded(path, MAX_SCENARIO_BYTES, "scenario file"), bom=False)
    try:
        return yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({_yaml_problem(exc)})") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply to be a scenario") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    return scenario_from_dict(read_scenario_yaml(path), source=str(path))


def example_scenarios() -> dict[str, Path]:
    """The example scenarios shipped with the package, by stem."""
    root = resources.files("barrage.salvo").joinpath("scenarios")
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def scenario_catalogue() -> list[dict]:
    """The shipped scenarios at a glance (name, description, weapons, layers), in the
    order of :func:`example_scenarios`: what a client may ask a job to run."""
    out = []
    for name, path in example_scenarios().items():
        scn = load_scenario(path)
        out.append(
            {
                "name": name,
                "description": scn.description,
                "weapons": sum(g.count for g in scn.salvo.weapons),
                "layers": [layer.name for layer in scn.layers],
            }
        )
    return out
