"""DC optimal power flow with load shedding, solved by HiGHS.

Angle formulation, one recipe of small ``define_*`` builders (PyPSA style). Variables,
in this column order: bus angles ``theta`` (rad), branch flows ``f`` (MW), generator
outputs ``p`` (MW), cost segments ``s`` (MW, piecewise-linear mode only), load shed
``d`` (MW) per load, spilled generation ``u`` (MW) per bus.

Quadratic costs: ``cost_model="quadratic"`` passes the exact convex QP to HiGHS (used
for single OPFs and the comparison with pandapower); ``"piecewise"`` replaces each
quadratic by ``segments`` secant segments between Pmin and Pmax, an LP that HiGHS
warm-starts across damage scenarios (used by :mod:`barrage.grid.batch`). The secant
over-estimates a generator's cost by at most ``c2 * ((Pmax - Pmin) / segments)**2 / 4``.

Damage enters only through bounds (an outaged branch's flow is fixed to 0 and its flow
equation freed; a lost plant's output is fixed to 0; a lost substation's loads are shed),
so one model serves every scenario. Islands need no special handling: each balances on
its own or sheds, and spill lets an island whose generators cannot go below Pmin trip
them instead of being infeasible.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from barrage.errors import BarrageError, InputError
from barrage.grid.dcflow import branch_susceptance_pu, branch_terminals, islands
from barrage.grid.network import PRIORITY_CLASSES, Network

#: USD/MWh charged for generation that is produced and thrown away (an island's plants
#: forced above their Pmin); as costly as shedding ordinary load.
SPILL_PENALTY_USD_PER_MWH = PRIORITY_CLASSES["other"]


@dataclass(frozen=True)
class Damage:
    """What is out: boolean masks over buses, branches and generators (True = lost)."""

    bus_out: np.ndarray
    branch_out: np.ndarray
    gen_out: np.ndarray

    @classmethod
    def none(cls, network: Network) -> Damage:
        return cls(
            np.zeros(len(network.buses), bool),
            np.zeros(len(network.branches), bool),
            np.zeros(len(network.generators), bool),
        )


def damage_from_assets(network: Network, asset_mask: np.ndarray) -> Damage:
    """Element masks for an asset mask over :func:`barrage.grid.network.assets` rows.

    A lost substation takes its bus, every branch touching it and its generators with it.
    """
    nb, ng = len(network.buses), len(network.generators)
    asset_mask = np.asarray(asset_mask, bool)
    bus_out = asset_mask[:nb].copy()
    gen_out = asset_mask[nb : nb + ng].copy()
    branch_out = asset_mask[nb + ng :].copy()
    f, t = branch_terminals(network)
    branch_out |= bus_out[f] | bus_out[t]
    gen_out |= bus_out[network.positions(network.generators["bus"].to_numpy())]
    return Damage(bus_out, branch_out, gen_out)


@dataclass
class OpfModel:
    """A built OPF: the LP/QP arrays and where each variable block starts."""

    network: Network
    cost_model: str
    segments: int
    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    matrix: sp.csc_matrix
    offset: float
    hessian_diag: np.ndarray | None
    blocks: dict[str, slice] = field(default_factory=dict)
    rows: dict[str, slice] = field(default_factory=dict)


def _add_block(model_cols: list, blocks: dict, name: str, n: int) -> slice:
    start = sum(c for c in model_cols)
    model_cols.append(n)
    blocks[name] = slice(start, start + n)
    return blocks[name]


def define_angles(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Bus angles theta (rad): free, except the reference bus fixed at 0."""
    nb = len(network.buses)
    lo, up = np.full(nb, -np.inf), np.full(nb, np.inf)
    lo[network.reference_bus] = up[network.reference_bus] = 0.0
    return lo, up


def define_flow_equations(network: Network) -> tuple[sp.coo_matrix, sp.coo_matrix, np.ndarray]:
    """Flow definition per branch l = (i, j):

        f_l - base * b_l * (theta_i - theta_j) = - base * b_l * phi_l,   b_l = 1/(x_l tap_l)

    Returns the coefficient blocks on (theta, f) and the right-hand side.
    """
    nbr, nb = len(network.branches), len(network.buses)
    f, t = branch_terminals(network)
    b = network.base_mva * branch_susceptance_pu(network)
    rows = np.arange(nbr)
    on_theta = sp.coo_matrix(
        (np.concatenate([-b, b]), (np.concatenate([rows, rows]), np.concatenate([f, t]))),
        shape=(nbr, nb),
    )
    on_flow = sp.identity(nbr, format="coo")
    rhs = -b * np.deg2rad(network.branches["shift_deg"].to_numpy())
    return on_theta, on_flow, rhs


def define_flow_limits(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Thermal limits -rate_a <= f_l <= rate_a (MW); out-of-service branches carry 0."""
    rate = network.branches["rate_a_mw"].to_numpy()
    live = network.branches["in_service"].to_numpy()
    return np.where(live, -rate, 0.0), np.where(live, rate, 0.0)


def define_nodal_balance(network: Network):
    """Power balance at bus n (MW):

        sum_{g at n} p_g + sum_{k at n} d_k - u_n - sum_{l from n} f_l + sum_{l to n} f_l
            = sum_{k at n} P_k + Gs_n

    Returns coefficient blocks on (f, p, d, u) and the right-hand side.
    """
    nb = len(network.buses)
    f, t = branch_terminals(network)
    nbr = len(f)
    on_flow = sp.coo_matrix(
        (
            np.concatenate([-np.ones(nbr), np.ones(nbr)]),
            (np.concatenate([f, t]), np.concatenate([np.arange(nbr), np.arange(nbr)])),
        ),
        shape=(nb, nbr),
    )
    gbus = network.positions(network.generators["bus"].to_numpy())
    ng = len(gbus)
    on_gen = sp.coo_matrix((np.ones(ng), (gbus, np.arange(ng))), shape=(nb, ng))
    lbus = network.positions(network.loads["bus"].to_numpy())
    nl = len(lbus)
    on_shed = sp.coo_matrix((np.ones(nl), (lbus, np.arange(nl))), shape=(nb, nl))
    rhs = network.buses["gs_mw"].to_numpy().copy()
    np.add.at(rhs, lbus, network.loads["p_mw"].to_numpy())
    spill_bus = spill_buses(network)
    on_spill = sp.coo_matrix(
        (-np.ones(len(spill_bus)), (spill_bus, np.arange(len(spill_bus)))),
        shape=(nb, len(spill_bus)),
    )
    return on_flow, on_gen, on_shed, on_spill, rhs


def spill_buses(network: Network) -> np.ndarray:
    """Buses that may need spill: a plant with Pmin > 0 or a negative fixed demand there
    (elsewhere an island can always balance by backing plants down to 0)."""
    g = network.generators
    need = np.zeros(len(network.buses), dtype=bool)
    need[network.positions(g["bus"].to_numpy()[g["pmin_mw"].to_numpy() > 0])] = True
    need[network.positions(network.loads["bus"].to_numpy()[network.loads["p_mw"] < 0])] = True
    need |= network.buses["gs_mw"].to_numpy() < 0
    return np.flatnonzero(need)


def define_generator_limits(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Pmin <= p_g <= Pmax for plants in service, p_g = 0 otherwise."""
    g = network.generators
    live = g["in_service"].to_numpy()
    return (
        np.where(live, g["pmin_mw"].to_numpy(), 0.0),
        np.where(live, g["pmax_mw"].to_numpy(), 0.0),
    )


def define_piecewise_cost(network: Network, segments: int):
    """Secant segments of C(p) = c2 p^2 + c1 p + c0 between Pmin and Pmax:

        p_g = Pmin_g + sum_k s_gk,   0 <= s_gk <= w_g = (Pmax_g - Pmin_g)/K,
        cost_gk = c1 + c2 (2 Pmin_g + (2k + 1) w_g)  (rising, so the LP fills in order)

    Returns (segment upper bounds, segment costs, constant cost C(Pmin) per generator).
    """
    g = network.generators
    c2 = g["cost_c2_usd_per_mw2h"].to_numpy()
    c1 = g["cost_c1_usd_per_mwh"].to_numpy()
    c0 = g["cost_c0_usd_per_h"].to_numpy()
    pmin, pmax = g["pmin_mw"].to_numpy(), g["pmax_mw"].to_numpy()
    w = np.maximum(pmax - pmin, 0.0) / segments
    k = np.arange(segments)
    seg_cost = c1[:, None] + c2[:, None] * (2 * pmin[:, None] + (2 * k[None, :] + 1) * w[:, None])
    seg_upper = np.repeat(w[:, None], segments, axis=1)
    return seg_upper.ravel(), seg_cost.ravel(), c0 + c1 * pmin + c2 * pmin**2


def define_columns(network: Network, nseg: int) -> tuple[dict[str, slice], list[int]]:
    """The column blocks, in order: bus angles, branch flows, generation, cost segments
    (``nseg``, piecewise only), shed load per load, spill per spill bus."""
    sizes: list[int] = []
    blocks: dict[str, slice] = {}
    _add_block(sizes, blocks, "theta", len(network.buses))
    _add_block(sizes, blocks, "flow", len(network.branches))
    _add_block(sizes, blocks, "gen", len(network.generators))
    _add_block(sizes, blocks, "segment", nseg)
    _add_block(sizes, blocks, "shed", len(network.loads))
    _add_block(sizes, blocks, "spill", len(spill_buses(network)))
    return blocks, sizes


def define_column_bounds(
    network: Network, blocks: dict[str, slice], ncol: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds and linear cost of every column but the cost segments:
    shed load between 0 and the load at VoLL, spill unbounded at the spill penalty."""
    th, fl, pg, sh, sp_ = (blocks[k] for k in ("theta", "flow", "gen", "shed", "spill"))
    lo, up, cost = np.zeros(ncol), np.zeros(ncol), np.zeros(ncol)
    lo[th], up[th] = define_angles(network)
    lo[fl], up[fl] = define_flow_limits(network)
    lo[pg], up[pg] = define_generator_limits(network)
    lo[sh], up[sh] = 0.0, np.clip(network.loads["p_mw"].to_numpy(), 0.0, None)
    lo[sp_], up[sp_] = 0.0, np.inf
    cost[sh] = network.loads["voll_usd_per_mwh"].to_numpy()
    cost[sp_] = SPILL_PENALTY_USD_PER_MWH
    return lo, up, cost


def define_piecewise_link(network: Network, segments: int) -> tuple[list, np.ndarray]:
    """The rows tying each generator's output to its cost segments,
    ``p_g - sum_s seg_{g,s} = Pmin_g``: the block row (None where sized later) and its
    right-hand side."""
    ng, nb, nbr, nl = (
        len(network.generators), len(network.buses), len(network.branches), len(network.loads)
    )  # fmt: skip
    z = sp.coo_matrix
    link_gen = sp.identity(ng, format="coo")
    link_seg = -sp.kron(sp.identity(ng), np.ones((1, segments)), format="coo")
    row = [z((ng, nb)), z((ng, nbr)), link_gen, link_seg, z((ng, nl)), None]
    return row, network.generators["pmin_mw"].to_numpy()


def _fill_empty_blocks(blocks_rows: list[list], widths: list[int]) -> None:
    """Size each None block of a block row to the row's height and its column's width."""
    for r in blocks_rows:
        nrow = next(b.shape[0] for b in r if b is not None)
        for j, sz in enumerate(widths):
            if r[j] is None:
                r[j] = sp.coo_matrix((nrow, sz))


def build_opf(network: Network, *, cost_model: str = "quadratic", segments: int = 8) -> OpfModel:
    """Assemble the DC OPF with load shedding for the intact network (damage via bounds)."""
    if cost_model not in ("quadratic", "piecewise"):
        raise InputError(f"cost_model must be 'quadratic' or 'piecewise', got {cost_model!r}")
    if segments < 1:
        raise InputError(f"segments must be >= 1, got {segments}")
    nb, nbr = len(network.buses), len(network.branches)
    ng = len(network.generators)
    nseg = ng * segments if cost_model == "piecewise" else 0
    blocks, sizes = define_columns(network, nseg)
    lo, up, cost = define_column_bounds(network, blocks, sum(sizes))
    g = network.generators
    theta_blk, flow_blk, flow_rhs = define_flow_equations(network)
    bal_flow, bal_gen, bal_shed, bal_spill, bal_rhs = define_nodal_balance(network)
    z = sp.coo_matrix
    blocks_rows = [
        [theta_blk, flow_blk, None, z((nbr, nseg)), None, None],
        [z((nb, nb)), bal_flow, bal_gen, z((nb, nseg)), bal_shed, bal_spill],
    ]
    row_lo = [flow_rhs, bal_rhs]
    row_up = [flow_rhs, bal_rhs]
    rows = {"flow": slice(0, nbr), "balance": slice(nbr, nbr + nb)}
    hessian = None
    if cost_model == "piecewise":
        sg = blocks["segment"]
        seg_up, seg_cost, const = define_piecewise_cost(network, segments)
        lo[sg], up[sg], cost[sg] = 0.0, seg_up, seg_cost
        link_row, pmin = define_piecewise_link(network, segments)
        blocks_rows.append(link_row)
        row_lo.append(pmin)
        row_up.append(pmin)
        rows["link"] = slice(nbr + nb, nbr + nb + ng)
        offset = float(np.where(g["in_service"], const, 0.0).sum())
    else:
        cost[blocks["gen"]] = g["cost_c1_usd_per_mwh"].to_numpy()
        hessian = 2.0 * g["cost_c2_usd_per_mw2h"].to_numpy()
        offset = float(np.where(g["in_service"], g["cost_c0_usd_per_h"], 0.0).sum())
    # columns of the last block row that are None must be sized: fill explicitly
    _fill_empty_blocks(blocks_rows, sizes)
    model = OpfModel(
        network=network,
        cost_model=cost_model,
        segments=segments,
        col_cost=cost,
        col_lower=lo,
        col_upper=up,
        row_lower=np.concatenate(row_lo),
        row_upper=np.concatenate(row_up),
        matrix=sp.bmat(blocks_rows, format="csc"),
        offset=offset,
        hessian_diag=hessian,
        blocks=blocks,
        rows=rows,
    )
    # branches out of service in the file: free their flow equations
    out = ~network.branches["in_service"].to_numpy()
    model.row_lower[rows["flow"]][out] = -np.inf
    model.row_upper[rows["flow"]][out] = np.inf
    return model


def damaged_bounds(model: OpfModel, damage: Damage):
    """Column and row bounds of ``model`` with ``damage`` applied (copies)."""
    net = model.network
    b, r = model.blocks, model.rows
    lo, up = model.col_lower.copy(), model.col_upper.copy()
    rlo, rup = model.row_lower.copy(), model.row_upper.copy()
    fl = np.arange(b["flow"].start, b["flow"].stop)[damage.branch_out]
    lo[fl] = up[fl] = 0.0
    fr = np.arange(r["flow"].start, r["flow"].stop)[damage.branch_out]
    rlo[fr], rup[fr] = -np.inf, np.inf
    gi = np.flatnonzero(damage.gen_out)
    lo[b["gen"].start + gi] = up[b["gen"].start + gi] = 0.0
    if "link" in r:
        rlo[r["link"].start + gi], rup[r["link"].start + gi] = -np.inf, np.inf
        seg = b["segment"].start + gi[:, None] * model.segments + np.arange(model.segments)
        lo[seg.ravel()] = up[seg.ravel()] = 0.0
    th = b["theta"].start + island_anchor_buses(net, damage)
    lo[th] = up[th] = 0.0
    lbus = net.positions(net.loads["bus"].to_numpy())
    dead_loads = np.flatnonzero(damage.bus_out[lbus])
    sh = b["shed"].start + dead_loads
    lo[sh] = up[sh]  # a lost substation's loads are shed in full
    return lo, up, rlo, rup


def island_anchor_buses(network: Network, damage: Damage) -> np.ndarray:
    """Buses whose angle is fixed at 0 under ``damage``: one per island (the network's
    reference bus where it survives, else the island's first bus) and every dead bus, so
    that no angle is left free (a free angle stalls HiGHS's QP solver)."""
    live_br = network.branches["in_service"].to_numpy() & ~damage.branch_out
    live_bus = ~damage.bus_out
    n_isl, labels = islands(network, live_br, live_bus)
    _, first = np.unique(labels, return_index=True)
    anchors = first[np.unique(labels) >= 0]
    ref = network.reference_bus
    if labels[ref] >= 0:
        anchors = np.where(labels[anchors] == labels[ref], ref, anchors)
    return np.concatenate([anchors, np.flatnonzero(~live_bus)])


def _offset(model: OpfModel, damage: Damage) -> float:
    g = model.network.generators
    live = g["in_service"].to_numpy() & ~damage.gen_out
    if model.cost_model == "piecewise":
        _, _, const = define_piecewise_cost(model.network, model.segments)
        return float(const[live].sum())
    return float(g["cost_c0_usd_per_h"].to_numpy()[live].sum())


def _new_highs():
    """A silent HiGHS instance. Its constructor prints a banner on the C-level stdout,
    which would break ``--json`` output, so stdout is pointed at /dev/null meanwhile."""
    import os
    import sys

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    return h


def make_solver(model: OpfModel):
    """A silent highspy.Highs holding ``model`` (LP, or QP with the diagonal Hessian)."""
    import highspy

    h = _new_highs()
    A = model.matrix
    ncol, nrow = A.shape[1], A.shape[0]
    inf = highspy.kHighsInf
    clip = lambda v: np.clip(v, -inf, inf)  # noqa: E731
    h.passModel(
        ncol,
        nrow,
        A.nnz,
        1,  # column-wise
        1,  # minimise
        0.0,
        model.col_cost,
        clip(model.col_lower),
        clip(model.col_upper),
        clip(model.row_lower),
        clip(model.row_upper),
        A.indptr.astype(np.int32),
        A.indices.astype(np.int32),
        A.data.astype(float),
        np.zeros(ncol, dtype=np.int32),
    )
    if model.hessian_diag is not None and np.any(model.hessian_diag > 0):
        gcols = np.arange(model.blocks["gen"].start, model.blocks["gen"].stop)
        diag = np.zeros(ncol)
        diag[gcols] = model.hessian_diag
        nz = np.flatnonzero(diag)
        start = np.zeros(ncol + 1, dtype=np.int32)
        start[nz + 1] = 1
        start = np.cumsum(start).astype(np.int32)
        h.passHessian(ncol, len(nz), 1, start, nz.astype(np.int32), diag[nz])
    return h


@dataclass(frozen=True)
class OpfResult:
    """Solution of one DC OPF with load shedding."""

    status: str  # "optimal", or "piecewise" when the exact QP fell back to the LP
    objective_usd_per_h: float  # generation cost + VOLL x shed + spill penalty
    generation_cost_usd_per_h: float
    gen_mw: np.ndarray
    flow_mw: np.ndarray
    theta_rad: np.ndarray
    shed_mw: np.ndarray  # per load
    spill_mw: np.ndarray  # per bus in opf.spill_buses(network)
    island: np.ndarray  # per bus, -1 when dead

    @property
    def load_shed_mw(self) -> float:
        return float(self.shed_mw.sum())


def solve_opf(
    network: Network,
    damage: Damage | None = None,
    *,
    cost_model: str = "quadratic",
    segments: int = 16,
) -> OpfResult:
    """DC OPF with load shedding for ``network`` under ``damage`` (intact when None).

    ``"piecewise"``: one LP. ``"quadratic"``: the LP first fixes how much of each load is
    shed (the value of lost load dwarfs generation costs, so the secant costs do not move
    it), then the exact QP re-dispatches with the shed fixed. HiGHS's QP solver was seen
    to cycle when shed variables with costs 1e4-1e6 USD/MWh are free; with them fixed it
    solves like an intact case. If the QP still fails, the LP answer is returned with
    ``status="piecewise"``.
    """
    damage = damage or Damage.none(network)
    lp = _solve(build_opf(network, cost_model="piecewise", segments=segments), damage)
    if cost_model == "piecewise":
        return lp
    if cost_model != "quadratic":
        raise InputError(f"cost_model must be 'quadratic' or 'piecewise', got {cost_model!r}")
    model = build_opf(network, cost_model="quadratic")
    sh = model.blocks["shed"]
    model.col_lower[sh] = model.col_upper[sh] = np.minimum(
        np.clip(lp.shed_mw, 0.0, None), model.col_upper[sh]
    )
    try:
        return _solve(model, damage, time_limit_s=10.0)
    except BarrageError:
        return replace(lp, status="piecewise")


def _solve(model: OpfModel, damage: Damage, *, time_limit_s: float | None = None) -> OpfResult:
    h = make_solver(model)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", time_limit_s)
    lo, up, rlo, rup = damaged_bounds(model, damage)
    inf = 1e30
    ncol, nrow = len(lo), len(rlo)
    h.changeColsBounds(
        ncol, np.arange(ncol, dtype=np.int32), np.clip(lo, -inf, inf), np.clip(up, -inf, inf)
    )
    h.changeRowsBounds(
        nrow, np.arange(nrow, dtype=np.int32), np.clip(rlo, -inf, inf), np.clip(rup, -inf, inf)
    )
    h.run()
    return _read_result(h, model, damage)


def _read_result(h, model: OpfModel, damage: Damage) -> OpfResult:
    import highspy

    status = h.getModelStatus()
    net = model.network
    live_br = net.branches["in_service"].to_numpy() & ~damage.branch_out
    _, labels = islands(net, live_br, ~damage.bus_out & (net.buses["type"].to_numpy() != 4))
    if status != highspy.HighsModelStatus.kOptimal:
        text = h.modelStatusToString(status)
        raise BarrageError(f"DC OPF on network {net.name!r} did not solve: HiGHS reports {text!r}")
    x = np.asarray(h.getSolution().col_value)
    b = model.blocks
    shed, spill = x[b["shed"]], x[b["spill"]]
    objective = float(h.getInfo().objective_function_value) + _offset(model, damage)
    penalty = float(shed @ model.col_cost[b["shed"]] + spill.sum() * SPILL_PENALTY_USD_PER_MWH)
    return OpfResult(
        status="optimal",
        objective_usd_per_h=objective,
        generation_cost_usd_per_h=objective - penalty,
        gen_mw=x[b["gen"]],
        flow_mw=x[b["flow"]],
        theta_rad=x[b["theta"]],
        shed_mw=shed,
        spill_mw=spill,
        island=labels,
    )
