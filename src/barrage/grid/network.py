"""A power network as plain tables: buses, branches, generators, loads (units in names).

One model for every source: MATPOWER case files (PGLib-OPF, parsed here) and pandapower
networks (through pandapower's own ``to_ppc``) both end as the same four tables, so the
flow, OPF and batch code never sees where a network came from.

Assets a weapon can hit (:func:`assets`):

* ``substation:<bus_id>`` — a bus and everything on it: its transformers and lines are cut,
  its generators and loads lose supply;
* ``plant:<n>`` — generator number ``n`` (1-based, file order);
* ``branch:<n>`` — line or transformer number ``n`` (1-based, file order).

Loads carry a priority class (:data:`PRIORITY_CLASSES`) with its own value of lost load,
a region and the population served.  Documented default: every load is class ``other``,
region ``""`` and serves ``PEOPLE_PER_MW`` people per MW of demand (population
proportional to load).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from barrage.errors import InputError

#: Value of lost load in USD/MWh per priority class; shedding spares the costly ones first.
PRIORITY_CLASSES: dict[str, float] = {
    "nuclear_offsite": 1_000_000.0,  # off-site supply of a nuclear plant (cooling, safety)
    "hospital": 100_000.0,
    "water_heating": 50_000.0,  # water supply, sewage, district heating
    "communications": 50_000.0,  # mobile and fixed networks, data centres
    "other": 10_000.0,
}
#: Default population served per MW of demand (Ukraine before 2022: ~41 M people on ~15 GW
#: average demand, about 2,700 people per MW).
PEOPLE_PER_MW = 2_700.0


@dataclass(frozen=True, eq=False)
class Network:
    """A DC-flow view of a power network.

    ``buses``: bus_id, type (1 PQ, 2 PV, 3 reference, 4 isolated), pd_mw, qd_mw, gs_mw,
    base_kv. ``branches``: branch_id, from_bus, to_bus, r_pu, x_pu, rate_a_mw (inf when
    unlimited), tap (1.0 for lines), shift_deg, in_service, is_transformer.
    ``generators``: gen_id, bus, pg_mw, pmin_mw, pmax_mw, in_service, cost_c2_usd_per_mw2h,
    cost_c1_usd_per_mwh, cost_c0_usd_per_h. ``loads``: load_id, bus, p_mw, priority_class,
    voll_usd_per_mwh, region, population.
    """

    name: str
    base_mva: float
    buses: pd.DataFrame
    branches: pd.DataFrame
    generators: pd.DataFrame
    loads: pd.DataFrame

    @cached_property
    def bus_index(self) -> dict[int, int]:
        """bus_id -> position in ``buses``."""
        return {int(b): i for i, b in enumerate(self.buses["bus_id"].to_numpy())}

    @cached_property
    def reference_bus(self) -> int:
        """Position of the reference (slack) bus: type 3, else the largest generator's bus."""
        ref = np.flatnonzero(self.buses["type"].to_numpy() == 3)
        if len(ref):
            return int(ref[0])
        if len(self.generators):
            g = int(np.argmax(self.generators["pmax_mw"].to_numpy()))
            return self.bus_index[int(self.generators["bus"].iloc[g])]
        return 0

    def positions(self, bus_ids) -> np.ndarray:
        """Positions of bus ids in ``buses`` (vectorised lookup)."""
        ids = self.buses["bus_id"].to_numpy()
        order = np.argsort(ids)
        pos = np.searchsorted(ids, np.asarray(bus_ids), sorter=order)
        return order[np.clip(pos, 0, len(ids) - 1)]

    @property
    def total_load_mw(self) -> float:
        return float(np.clip(self.loads["p_mw"].to_numpy(), 0, None).sum())


# ---------------------------------------------------------------------------------------
# MATPOWER files
# ---------------------------------------------------------------------------------------

_BASEMVA_RE = re.compile(r"mpc\.baseMVA\s*=\s*([-+0-9.eE]+)\s*;")


_OPEN_RE = re.compile(r"mpc\.(\w+)\s*=\s*[\[{]")
_CLOSE_RE = re.compile(r"[\]}]\s*;")


def _matrices(clean: str):
    """``(name, body)`` of each ``mpc.name = [ body ];`` in one left-to-right pass.

    Each search starts where the last matrix ended, so the parse is linear in the text
    (a lazy ``.*?`` per opening rescanned the rest of the file for every unclosed ``[``:
    40,000 ``mpc.a = [`` lines took 111 s).
    """
    pos = 0
    while (m := _OPEN_RE.search(clean, pos)) is not None:
        close = _CLOSE_RE.search(clean, m.end())
        if close is None:
            return
        yield m.group(1), clean[m.end() : close.start()]
        pos = close.end()


def parse_matpower(text: str, *, source: str = "<text>") -> dict[str, object]:
    """Parse the MATPOWER case format into ``{"baseMVA": float, "bus": array, ...}``.

    Only numeric matrices (bus, gen, branch, gencost, ...) and ``baseMVA`` are read;
    ``%`` comments are dropped; rows end at ``;`` or a line break.
    """
    lines = [ln.split("%", 1)[0] for ln in text.splitlines()]
    clean = "\n".join(lines)
    m = _BASEMVA_RE.search(clean)
    if m is None:
        raise InputError(f"{source}: no 'mpc.baseMVA = <number>;' found (not a MATPOWER case?)")
    out: dict[str, object] = {"baseMVA": float(m.group(1))}
    for name, body in _matrices(clean):
        rows = [r.strip() for r in re.split(r"[;\n]", body)]
        rows = [r for r in rows if r]
        try:
            values = [[float(v) for v in re.split(r"[\s,]+", r)] for r in rows]
        except ValueError:
            if name in ("bus", "gen", "branch", "gencost"):
                raise InputError(f"{source}: mpc.{name} holds a non-numeric value") from None
            continue  # text matrices such as mpc.bus_name are not needed
        if not values:  # an empty matrix ("mpc.x = [ ];"): no rows, no columns
            out[name] = np.zeros((0, 0))
            continue
        widths = {len(r) for r in values}
        if len(widths) > 1:
            raise InputError(
                f"{source}: mpc.{name} rows have different numbers of columns {sorted(widths)}"
            )
        out[name] = np.array(values, dtype=float).reshape(len(values), -1)
    for name, min_cols in (("bus", 13), ("gen", 10), ("branch", 11)):
        if name not in out:
            raise InputError(f"{source}: no mpc.{name} matrix found")
        arr = out[name]
        if arr.shape[0] == 0 or arr.shape[1] < min_cols:
            raise InputError(
                f"{source}: mpc.{name} needs at least {min_cols} columns and one row, "
                f"got shape {arr.shape}"
            )
    return out


MAX_NETWORK_BYTES = 64 * 2**20
"""Larger network files are refused before reading: parsing holds several copies of the
numbers (the shared PGLib cases are up to 1.5 MB; PGLib's largest tens of MB)."""


def check_network_file(path: Path) -> None:
    """A regular file within :data:`MAX_NETWORK_BYTES` (a 300 MB JSON was read whole and
    handed to pandapower; a folder was 'not found')."""
    if not path.exists():
        raise InputError(f"{path}: network file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (expected a network file)")
    size = path.stat().st_size
    if size > MAX_NETWORK_BYTES:
        raise InputError(
            f"{path}: network file of {size:,} bytes is larger than the limit of "
            f"{MAX_NETWORK_BYTES:,}"
        )


def read_matpower(path: str | Path) -> Network:
    """Read a MATPOWER ``.m`` case file (e.g. a PGLib-OPF case) into a :class:`Network`."""
    path = Path(path)
    check_network_file(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read network file ({exc.strerror})") from None
    case = parse_matpower(text, source=str(path))
    return from_arrays(
        name=path.stem,
        base_mva=case["baseMVA"],
        bus=case["bus"],
        gen=case["gen"],
        branch=case["branch"],
        gencost=case.get("gencost"),
        source=str(path),
    )


def from_arrays(
    *,
    name: str,
    base_mva: float,
    bus: np.ndarray,
    gen: np.ndarray,
    branch: np.ndarray,
    gencost: np.ndarray | None = None,
    source: str = "<arrays>",
) -> Network:
    """Build a :class:`Network` from MATPOWER-layout matrices (columns as in MATPOWER)."""
    if not np.isfinite(base_mva) or base_mva <= 0:
        raise InputError(f"{source}: baseMVA must be a positive number, got {base_mva}")
    bus = np.asarray(bus, float)
    gen = np.asarray(gen, float)
    branch = np.asarray(branch, float)
    _check_numbers(source, {"mpc.bus": bus, "mpc.gen": gen, "mpc.branch": branch})
    bus_ids = bus[:, 0].astype(np.int64)
    _check_topology(source, bus_ids, gen, branch)
    buses = pd.DataFrame(
        {
            "bus_id": bus_ids,
            "type": bus[:, 1].astype(np.int64),
            "pd_mw": bus[:, 2],
            "qd_mw": bus[:, 3],
            "gs_mw": bus[:, 4],
            "base_kv": bus[:, 9],
        }
    )
    has_load = buses["pd_mw"].to_numpy() != 0
    loads = pd.DataFrame(
        {
            "load_id": [f"load:{b}" for b in bus_ids[has_load]],
            "bus": bus_ids[has_load],
            "p_mw": buses["pd_mw"].to_numpy()[has_load],
        }
    )
    return Network(
        name=name,
        base_mva=float(base_mva),
        buses=buses,
        branches=_branches_table(branch, bus_ids, buses["base_kv"].to_numpy()),
        generators=_generators_table(gen, _poly_costs(gencost, len(gen), source), source),
        loads=_default_load_tags(loads),
    )


MAX_MAGNITUDE = 1e9
"""Largest magnitude of a number read (MW, MVAr, kV, p.u.): a real case's largest is a
'no limit' rating of 99,999; -1e300 MW of load left the OPF solver an empty model."""

#: The MATPOWER columns read (0-based, with their MATPOWER names); ``True`` marks a
#: bus number, which must be whole.
USED_COLUMNS = {
    "mpc.bus": {0: ("BUS_I", True), 1: ("BUS_TYPE", True), 2: ("PD", False),
                3: ("QD", False), 4: ("GS", False), 9: ("BASE_KV", False)},
    "mpc.gen": {0: ("GEN_BUS", True), 1: ("PG", False), 7: ("GEN_STATUS", False),
                8: ("PMAX", False), 9: ("PMIN", False)},
    "mpc.branch": {0: ("F_BUS", True), 1: ("T_BUS", True), 2: ("BR_R", False),
                   3: ("BR_X", False), 5: ("RATE_A", False), 8: ("TAP", False),
                   9: ("SHIFT", False), 10: ("BR_STATUS", False)},
}  # fmt: skip


def _check_numbers(source: str, matrices: dict[str, np.ndarray]) -> None:
    """Every column read is finite, and bus numbers are whole: a NaN load made the OPF
    report an empty model, an infinite Pmax made it run for ever, a bus 1.5 was bus 1."""
    for label, arr in matrices.items():
        for col, (name, whole) in USED_COLUMNS[label].items():
            v = arr[:, col]
            bad = ~(np.abs(v) <= MAX_MAGNITUDE) | ((v != np.round(v)) if whole else False)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                what = (
                    "a whole bus number" if whole else f"a finite number within ±{MAX_MAGNITUDE:g}"
                )
                raise InputError(
                    f"{source}: {label} row {k + 1}, column {col + 1} ({name}): expected "
                    f"{what}, got {v[k]:g}"
                )


def _check_topology(source: str, bus_ids: np.ndarray, gen: np.ndarray, branch: np.ndarray) -> None:
    """Unique bus numbers, every branch end and generator on a known bus, every branch
    with a finite nonzero reactance."""
    if len(np.unique(bus_ids)) != len(bus_ids):
        raise InputError(f"{source}: bus numbers in mpc.bus are not unique")
    known = set(bus_ids.tolist())
    for label, ids in (
        ("mpc.branch from-bus", branch[:, 0]),
        ("mpc.branch to-bus", branch[:, 1]),
        ("mpc.gen bus", gen[:, 0]),
    ):
        bad = sorted({int(v) for v in ids} - known)
        if bad:
            raise InputError(f"{source}: {label} {bad[0]} is not in mpc.bus")
    x = branch[:, 3]
    if np.any(x == 0) or not np.all(np.isfinite(x)):
        k = int(np.flatnonzero((x == 0) | ~np.isfinite(x))[0])
        raise InputError(f"{source}: branch {k + 1} has reactance x = {x[k]} (must be nonzero)")


def _branches_table(branch: np.ndarray, bus_ids: np.ndarray, base_kv: np.ndarray) -> pd.DataFrame:
    """The branch table: ids, ends, impedance, rating (none: infinite), taps; a branch
    is a transformer when it has a tap, a phase shift or ends at two voltages."""
    tap_raw = branch[:, 8]
    shift = branch[:, 9]
    rate = branch[:, 5]
    from_kv = base_kv[_pos(bus_ids, branch[:, 0])]
    to_kv = base_kv[_pos(bus_ids, branch[:, 1])]
    return pd.DataFrame(
        {
            "branch_id": [f"branch:{k + 1}" for k in range(len(branch))],
            "from_bus": branch[:, 0].astype(np.int64),
            "to_bus": branch[:, 1].astype(np.int64),
            "r_pu": branch[:, 2],
            "x_pu": branch[:, 3],
            "rate_a_mw": np.where(rate > 0, rate, np.inf),
            "tap": np.where(tap_raw == 0, 1.0, tap_raw),
            "shift_deg": shift,
            "in_service": branch[:, 10] > 0,
            "is_transformer": (tap_raw != 0) | (shift != 0) | (from_kv != to_kv),
        }
    )


def _poly_costs(
    gencost: np.ndarray | None, ng: int, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quadratic cost coefficients (c2, c1, c0) per generator from ``mpc.gencost``
    (polynomial model 2 up to quadratic only; zero without a table)."""
    c2 = np.zeros(ng)
    c1 = np.zeros(ng)
    c0 = np.zeros(ng)
    if gencost is not None and len(gencost):
        gencost = np.asarray(gencost, float)
        if len(gencost) < ng:
            raise InputError(f"{source}: mpc.gencost has {len(gencost)} rows for {ng} generators")
        for k in range(ng):  # tiny table, read once
            model, ncost = int(gencost[k, 0]), int(gencost[k, 3])
            if model != 2:
                raise InputError(
                    f"{source}: gencost row {k + 1} uses model {model}; only polynomial "
                    "costs (model 2) are supported"
                )
            if ncost > 3 or ncost < 1:
                raise InputError(
                    f"{source}: gencost row {k + 1} has NCOST={ncost}; only polynomials up "
                    "to quadratic are supported"
                )
            coeffs = gencost[k, 4 : 4 + ncost][::-1]  # c0, c1, c2 ...
            c0[k] = coeffs[0]
            if ncost > 1:
                c1[k] = coeffs[1]
            if ncost > 2:
                c2[k] = coeffs[2]
    bad = ~np.isfinite(np.stack([c2, c1, c0])).all(axis=0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"{source}: mpc.gencost row {k + 1}: expected finite cost coefficients")
    if np.any(c2 < 0):
        raise InputError(f"{source}: a generator has a concave cost (c2 < 0)")
    return c2, c1, c0


def _generators_table(
    gen: np.ndarray, costs: tuple[np.ndarray, np.ndarray, np.ndarray], source: str
) -> pd.DataFrame:
    """The generator table with its costs; refuses a generator with Pmin > Pmax."""
    c2, c1, c0 = costs
    generators = pd.DataFrame(
        {
            "gen_id": [f"plant:{k + 1}" for k in range(len(gen))],
            "bus": gen[:, 0].astype(np.int64),
            "pg_mw": gen[:, 1],
            "pmin_mw": gen[:, 9],
            "pmax_mw": gen[:, 8],
            "in_service": gen[:, 7] > 0,
            "cost_c2_usd_per_mw2h": c2,
            "cost_c1_usd_per_mwh": c1,
            "cost_c0_usd_per_h": c0,
        }
    )
    bad = generators["pmin_mw"] > generators["pmax_mw"] + 1e-9
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{source}: generator {k + 1} has Pmin > Pmax")
    return generators


def _pos(bus_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    order = np.argsort(bus_ids)
    return order[np.searchsorted(bus_ids, ids.astype(np.int64), sorter=order)]


def _default_load_tags(loads: pd.DataFrame) -> pd.DataFrame:
    loads = loads.copy()
    loads["priority_class"] = "other"
    loads["voll_usd_per_mwh"] = PRIORITY_CLASSES["other"]
    loads["region"] = ""
    loads["population"] = np.clip(loads["p_mw"].to_numpy(), 0, None) * PEOPLE_PER_MW
    return loads


def from_pandapower(net, *, name: str | None = None) -> Network:
    """Convert a pandapower network (e.g. ``pandapower.networks.case118()``).

    Goes through pandapower's internal PYPOWER case, so transformers, impedances and
    phase shifters are modelled exactly as pandapower's own DC power flow sees them.
    Costs come from ``poly_cost`` when present (otherwise zero).
    """
    import warnings

    from pandapower.converter.pypower.to_ppc import to_ppc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ppc = to_ppc(net, init="flat", calculate_voltage_angles=True)
    bus, gen, branch = ppc["bus"], ppc["gen"], ppc["branch"]
    gencost = _gencost_from_poly(net, ppc)
    return from_arrays(
        name=name or str(getattr(net, "name", "") or "pandapower"),
        base_mva=float(ppc["baseMVA"]),
        bus=np.real(bus[:, :13]),
        gen=np.real(gen[:, :21]),
        branch=np.real(branch[:, :13]),
        gencost=gencost,
        source=f"pandapower network {name or ''}".strip(),
    )


def _gencost_from_poly(net, ppc) -> np.ndarray:
    """MATPOWER gencost rows for the ppc's generators, from pandapower's poly_cost."""
    out = np.zeros((len(ppc["gen"]), 7))
    out[:, 0] = 2
    out[:, 3] = 3
    lookups = getattr(net, "_pd2ppc_lookups", {})
    for row in getattr(net, "poly_cost", pd.DataFrame()).itertuples():
        table = lookups.get(row.et)
        if table is None or row.element >= len(table) or table[row.element] < 0:
            continue
        out[int(table[row.element]), 4:7] = (
            row.cp2_eur_per_mw2,
            row.cp1_eur_per_mw,
            row.cp0_eur,
        )
    return out


def read_network(path: str | Path) -> Network:
    """Read a network file by its suffix: MATPOWER ``.m`` or pandapower ``.json``.

    ``pandapower:<name>`` loads one of pandapower's bundled cases, e.g.
    ``pandapower:case118``.
    """
    text = str(path)
    if text.startswith("pandapower:"):
        import inspect
        import warnings

        import pandapower.networks as pn

        case = text.split(":", 1)[1]
        # only the bundled case builders: a name such as "__class__" was looked up and called
        maker = getattr(pn, case, None) if re.fullmatch(r"case\w+", case) else None
        if maker is None or not inspect.isfunction(maker):
            raise InputError(f"{text}: pandapower has no bundled network named {case!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return from_pandapower(maker(), name=case)
    path = Path(path)
    if path.suffix.lower() == ".m":
        return read_matpower(path)
    if path.suffix.lower() == ".json":
        check_network_file(path)
        import pandapower as pp

        try:
            net = pp.from_json(str(path))
        except Exception as exc:  # pandapower raises many types on bad JSON
            raise InputError(f"{path}: not a pandapower network JSON ({exc})") from None
        return from_pandapower(net, name=path.stem)
    raise InputError(
        f"{path}: unknown network format {path.suffix!r}; expected a MATPOWER .m file, "
        "a pandapower .json file or pandapower:<case>"
    )


# ---------------------------------------------------------------------------------------
# Assets and tags
# ---------------------------------------------------------------------------------------


def assets(network: Network) -> pd.DataFrame:
    """Every asset a weapon can hit: asset_id, kind, bus (where it stands), capacity_mw.

    Order: substations (file bus order), plants, branches. ``capacity_mw`` is the load
    at a substation, Pmax of a plant, thermal rating of a branch.
    """
    b, g, br = network.buses, network.generators, network.branches
    return pd.DataFrame(
        {
            "asset_id": [f"substation:{i}" for i in b["bus_id"]]
            + list(g["gen_id"])
            + list(br["branch_id"]),
            "kind": ["substation"] * len(b)
            + ["plant"] * len(g)
            + np.where(br["is_transformer"], "transformer", "line").tolist(),
            "bus": np.concatenate([b["bus_id"], g["bus"], br["from_bus"]]).astype(np.int64),
            "capacity_mw": np.concatenate([b["pd_mw"], g["pmax_mw"], br["rate_a_mw"]]),
        }
    )


def asset_mask(network: Network, asset_ids) -> np.ndarray:
    """Boolean vector over :func:`assets` rows that are named in ``asset_ids``.

    Raises InputError naming the first id that is not an asset of the network.
    """
    table = assets(network)
    index = {a: i for i, a in enumerate(table["asset_id"])}
    mask = np.zeros(len(table), dtype=bool)
    for a in asset_ids:
        key = str(a).strip()
        if key not in index:
            raise InputError(
                f"outage {key!r} is not an asset of network {network.name!r}; expected "
                f"substation:<bus number>, plant:1..{len(network.generators)} or "
                f"branch:1..{len(network.branches)}"
            )
        mask[index[key]] = True
    return mask


def with_load_tags(
    network: Network,
    tags: pd.DataFrame,
) -> Network:
    """Return a copy whose loads carry the given tags.

    ``tags`` has a ``bus`` or ``load_id`` column and any of ``priority_class``,
    ``region``, ``population``; ``voll_usd_per_mwh`` follows the class unless given.
    """
    loads = network.loads.copy()
    key = "load_id" if "load_id" in tags.columns else "bus"
    if key not in tags.columns:
        raise InputError("load tags need a 'load_id' or 'bus' column")
    known = set(loads[key])
    unknown = [v for v in tags[key] if v not in known]
    if unknown:
        raise InputError(f"load tags: {key} {unknown[0]!r} has no load in {network.name!r}")
    if "priority_class" in tags.columns:
        bad = sorted(set(tags["priority_class"]) - set(PRIORITY_CLASSES))
        if bad:
            raise InputError(
                f"load tags: priority_class {bad[0]!r} is not one of {sorted(PRIORITY_CLASSES)}"
            )
    tagged = tags.set_index(key)
    rows = loads[key].isin(tagged.index).to_numpy()
    for col in ("priority_class", "region", "population", "voll_usd_per_mwh"):
        if col in tagged.columns:
            loads.loc[rows, col] = tagged.loc[loads.loc[rows, key], col].to_numpy()
    if "priority_class" in tagged.columns and "voll_usd_per_mwh" not in tagged.columns:
        loads.loc[rows, "voll_usd_per_mwh"] = loads.loc[rows, "priority_class"].map(
            PRIORITY_CLASSES
        )
    return replace(network, loads=loads)
