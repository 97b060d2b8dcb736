"""Load shed for thousands of damage scenarios at once.

Two stages:

1. **Screen** (numpy, all scenarios of a chunk at once). Start from the intact optimal
   dispatch; give a lost plant's output to the surviving plants in proportion to their
   headroom; compute the new flows with the intact PTDF, then remove the outaged branches
   with the multi-outage LODF update ``f' = f + H[:, O] (I - H[O, O])^-1 f[O]`` (one
   batched k x k solve per scenario, the PTDF factorisation shared by all). If no plant
   limit and no thermal limit is violated and nothing is islanded, that dispatch serves
   all load, so the optimal shed is 0 (value of lost load far above any generation cost).
2. **Solve** the DC OPF with load shedding (piecewise-linear LP, :mod:`barrage.grid.opf`)
   only for the rest: one HiGHS model whose bounds are changed per scenario and changed
   back, so dual simplex restarts from the previous basis (warm start).

A lost substation always goes to stage 2 (its loads are shed, its bus islanded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from barrage.errors import InputError
from barrage.grid.dcflow import branch_terminals, lodf_base, ptdf
from barrage.grid.network import PRIORITY_CLASSES, Network, assets
from barrage.grid.opf import (
    Damage,
    OpfModel,
    build_opf,
    island_anchor_buses,
    make_solver,
    solve_opf,
)

_CHUNK = 2048
_INF = 1e30


@dataclass(frozen=True)
class ShedResult:
    """Per-scenario load shed (scenarios along axis 0)."""

    load_shed_mw: np.ndarray  # (n_scenarios,)
    shed_by_load_mw: np.ndarray  # (n_scenarios, n_loads), loads in network.loads order
    solved: np.ndarray  # (n_scenarios,) True where the LP was needed
    load_ids: tuple[str, ...]
    priority_class: tuple[str, ...]
    gen_mw: np.ndarray | None = None  # (n_scenarios, n_generators) dispatch, MW

    def shed_by_class_mw(self) -> dict[str, np.ndarray]:
        """Shed per priority class, each an (n_scenarios,) array."""
        cls = np.asarray(self.priority_class)
        return {c: row_sum(self.shed_by_load_mw[:, cls == c]) for c in PRIORITY_CLASSES}


def row_sum(x: np.ndarray) -> np.ndarray:
    """Each row's sum, added in order along the row, the same however many rows are
    summed together.

    Not ``x.sum(axis=1)``: numpy sums one row pairwise but the rows of a wider batch (or of
    a Fortran-ordered array) one element after another, so a row's total could change in
    the last bit with the rows solved beside it (a campaign priced in pieces on a cluster
    differed from one priced here, found by a property test). ``np.add.accumulate`` along
    the row always adds in order.
    """
    if x.shape[1] == 0:
        return np.zeros(len(x))
    return np.add.accumulate(x, axis=1)[:, -1]


def critical_loss_probability(result: ShedResult, *, tolerance_mw: float = 1e-6) -> dict:
    """Probability over scenarios that any load of each class loses supply, and that any
    critical (non-``other``) load does."""
    cls = np.asarray(result.priority_class)
    lost = result.shed_by_load_mw > tolerance_mw
    out = {c: float(lost[:, cls == c].any(axis=1).mean()) for c in PRIORITY_CLASSES}
    out["any_critical"] = float(lost[:, cls != "other"].any(axis=1).mean())
    return out


def element_masks(network: Network, outage_masks: np.ndarray):
    """(bus_out, branch_out, gen_out) boolean matrices from asset masks (scenarios x assets)."""
    nb, ng = len(network.buses), len(network.generators)
    f, t = branch_terminals(network)
    gbus = network.positions(network.generators["bus"].to_numpy())
    bus_out = outage_masks[:, :nb]
    gen_out = outage_masks[:, nb : nb + ng] | bus_out[:, gbus]
    branch_out = outage_masks[:, nb + ng :] | bus_out[:, f] | bus_out[:, t]
    branch_out = branch_out & network.branches["in_service"].to_numpy()[None, :]
    return bus_out, branch_out, gen_out


def _check_masks(network: Network, outage_masks) -> np.ndarray:
    masks = np.asarray(outage_masks)
    n_assets = len(network.buses) + len(network.generators) + len(network.branches)
    if masks.ndim != 2 or masks.shape[1] != n_assets:
        raise InputError(
            f"outage_masks must be (n_scenarios, {n_assets}) over the assets of network "
            f"{network.name!r} (see barrage.grid.network.assets), got shape {masks.shape}"
        )
    if masks.dtype != bool:
        if not np.isin(masks, (0, 1)).all():
            raise InputError("outage_masks must be boolean (True = asset destroyed)")
        masks = masks.astype(bool)
    return masks


class _Screen:
    """Everything the vectorised screen reuses across chunks (PTDF, H, base dispatch)."""

    def __init__(self, network: Network, pg0: np.ndarray, f0: np.ndarray):
        self.network = network
        self.ptdf = ptdf(network)
        self.h = lodf_base(network, self.ptdf)
        g = network.generators
        self.pg0 = pg0
        self.f0 = f0
        live = g["in_service"].to_numpy()
        self.headroom = np.where(live, g["pmax_mw"].to_numpy() - pg0, 0.0)
        self.gbus = network.positions(g["bus"].to_numpy())
        self.rate = network.branches["rate_a_mw"].to_numpy()
        # PTDF columns at generator buses: flow change per MW moved at each plant
        self.ptdf_gen = self.ptdf[:, self.gbus]

    def passes(self, bus_out, branch_out, gen_out) -> tuple[np.ndarray, np.ndarray]:
        """(ok, dispatch): True where the redistributed dispatch (MW per generator, also
        returned) stays feasible after the outages."""
        s = len(bus_out)
        ok = ~bus_out.any(axis=1)
        lost = gen_out @ self.pg0
        room = np.where(gen_out, 0.0, self.headroom[None, :])
        total_room = room.sum(axis=1)
        ok &= lost <= total_room + 1e-9
        share = np.divide(lost, total_room, out=np.zeros(s), where=total_room > 0)
        delta_pg = room * share[:, None] - np.where(gen_out, self.pg0[None, :], 0.0)
        flows = self.f0[None, :] + delta_pg @ self.ptdf_gen.T
        counts = branch_out.sum(axis=1)
        kmax = int(counts.max()) if s else 0
        if kmax:
            order = np.argsort(~branch_out, axis=1, kind="stable")[:, :kmax]
            valid = np.arange(kmax)[None, :] < counts[:, None]
            hoo = self.h[order[:, :, None], order[:, None, :]]
            vv = valid[:, :, None] & valid[:, None, :]
            m = np.eye(kmax)[None] - np.where(vv, hoo, 0.0)
            rhs = np.where(valid, np.take_along_axis(flows, order, axis=1), 0.0)
            # islanding makes I - H[O, O] singular: send those to the LP
            diag_ok = np.abs(np.linalg.det(m)) > 1e-9
            m[~diag_ok] = np.eye(kmax)
            y = np.linalg.solve(m, rhs[:, :, None])[:, :, 0]
            y = np.where(valid, y, 0.0)
            flows = flows + np.einsum("lsk,sk->sl", self.h[:, order], y)
            ok &= diag_ok
        flows = np.where(branch_out, 0.0, flows)
        ok &= (np.abs(flows) <= self.rate[None, :] * (1 + 1e-9) + 1e-6).all(axis=1)
        return ok, self.pg0[None, :] + delta_pg


class _Solver:
    """One HiGHS model whose bounds follow each scenario's damage (warm-started).

    Only the bounds a scenario touches are changed, and changed back after the solve, so
    dual simplex starts from the previous optimal basis.
    """

    def __init__(self, model: OpfModel):
        self.model = model
        self.intact_basis = None  # set by shed_load_batch after the intact solve
        net = model.network
        self.h = make_solver(model)
        self.h.setOptionValue("presolve", "off")
        self.h.setOptionValue("simplex_strategy", 1)  # dual simplex: bounds change
        b, r = model.blocks, model.rows
        self.lo = np.clip(model.col_lower, -_INF, _INF)
        self.up = np.clip(model.col_upper, -_INF, _INF)
        self.rlo = np.clip(model.row_lower, -_INF, _INF)
        self.rup = np.clip(model.row_upper, -_INF, _INF)
        self.theta_col = np.arange(b["theta"].start, b["theta"].stop, dtype=np.int32)
        self.flow_col = np.arange(b["flow"].start, b["flow"].stop, dtype=np.int32)
        self.flow_row = np.arange(r["flow"].start, r["flow"].stop, dtype=np.int32)
        self.gen_col = np.arange(b["gen"].start, b["gen"].stop, dtype=np.int32)
        ng, k = len(self.gen_col), model.segments
        if "link" in r:
            self.link_row = np.arange(r["link"].start, r["link"].stop, dtype=np.int32)
            self.seg_col = (b["segment"].start + np.arange(ng * k, dtype=np.int32)).reshape(ng, k)
        else:
            self.link_row = np.zeros(0, np.int32)
            self.seg_col = np.zeros((ng, 0), np.int32)
        self.shed = model.blocks["shed"]
        self.shed_col = np.arange(self.shed.start, self.shed.stop, dtype=np.int32)
        self.load_bus = net.positions(net.loads["bus"].to_numpy())
        self.cold_restarts = 0
        # LP (dual simplex) copes with the free angles of an island without a reference;
        # anchoring them costs a connected-components call per scenario, so it is off
        self.anchor = False
        self.none = np.zeros(0, dtype=np.int64)

    def solve(self, damage: Damage, scenario: int) -> tuple[np.ndarray, np.ndarray]:
        """(shed MW per load, dispatch MW per generator) of one scenario."""
        import highspy

        br = np.flatnonzero(damage.branch_out)
        gi = np.flatnonzero(damage.gen_out)
        dead = np.flatnonzero(damage.bus_out[self.load_bus])
        anchors = island_anchor_buses(self.model.network, damage) if self.anchor else self.none
        zero_cols = np.concatenate(
            [
                self.theta_col[anchors],
                self.flow_col[br],
                self.gen_col[gi],
                self.seg_col[gi].ravel(),
            ]
        )
        shed_cols = self.shed_col[dead]
        cols = np.concatenate([zero_cols, shed_cols])
        lo = np.concatenate([np.zeros(len(zero_cols)), self.up[shed_cols]])
        up = np.concatenate([np.zeros(len(zero_cols)), self.up[shed_cols]])
        rows = (
            np.concatenate([self.flow_row[br], self.link_row[gi]])
            if len(self.link_row)
            else (self.flow_row[br])
        )
        h = self.h
        if self.intact_basis is not None:
            # every solve from the same start: the optimum picked among ties (the split of
            # shed between loads) depends on the scenario only, not on the ones before it
            h.clearSolver()
            h.setBasis(self.intact_basis)
        if len(cols):
            h.changeColsBounds(len(cols), cols, lo, up)
        if len(rows):
            free = np.full(len(rows), _INF)
            h.changeRowsBounds(len(rows), rows, -free, free)
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            # a warm start can stall on a degenerate basis: retry from scratch once
            h.clearSolver()
            h.run()
            status = h.getModelStatus()
            self.cold_restarts += 1
        if status != highspy.HighsModelStatus.kOptimal:
            # last resort: a fresh model with presolve (never seen to fail)
            fresh = solve_opf(
                self.model.network, damage, cost_model="piecewise", segments=self.model.segments
            )
            if len(cols):
                h.changeColsBounds(len(cols), cols, self.lo[cols], self.up[cols])
            if len(rows):
                h.changeRowsBounds(len(rows), rows, self.rlo[rows], self.rup[rows])
            h.clearSolver()
            return np.clip(fresh.shed_mw, 0.0, None), np.asarray(fresh.gen_mw, dtype=float)
        col = np.asarray(h.getSolution().col_value)
        x, gen = col[self.shed], col[self.gen_col]
        if len(cols):
            h.changeColsBounds(len(cols), cols, self.lo[cols], self.up[cols])
        if len(rows):
            h.changeRowsBounds(len(rows), rows, self.rlo[rows], self.rup[rows])
        return np.clip(x, 0.0, None), gen


def shed_load_batch(
    network: Network,
    outage_masks,
    *,
    segments: int = 2,
    screen: bool = True,
    progress=None,
    warm_start: str = "previous",
) -> ShedResult:
    """Optimal load shed (MW) for each damage scenario.

    ``outage_masks``: boolean (n_scenarios, n_assets) over the rows of
    :func:`barrage.grid.network.assets` (True = destroyed). ``segments``: secants per
    quadratic cost (load shed barely depends on it; see :mod:`barrage.grid.opf`).
    ``screen=False`` solves every scenario (reference for tests). ``progress``: optional
    callable(n_done) for a progress bar. ``warm_start``: ``"previous"`` starts each LP from
    the previous scenario's basis (fastest); ``"intact"`` from the intact network's, about
    1.4x slower, but a scenario's shed per load is then the same whatever else is in the
    batch (where the LP has several optima, the split between loads otherwise depends on
    the order the scenarios are solved in; the total does not).
    """
    if warm_start not in ("previous", "intact"):
        raise InputError(f"warm_start: expected 'previous' or 'intact', got {warm_start!r}")
    masks = _check_masks(network, outage_masks)
    n_scen, nl = len(masks), len(network.loads)
    model = build_opf(network, cost_model="piecewise", segments=segments)
    solver = _Solver(model)
    solver.h.run()
    if warm_start == "intact":
        solver.intact_basis = solver.h.getBasis()
    base = np.asarray(solver.h.getSolution().col_value)
    base_shed = np.clip(base[model.blocks["shed"]], 0.0, None)
    shed = np.zeros((n_scen, nl))
    gen = np.tile(base[model.blocks["gen"]], (n_scen, 1))
    solved = np.zeros(n_scen, dtype=bool)
    screener = None
    if screen and base_shed.sum() < 1e-6:
        try:
            screener = _Screen(network, base[model.blocks["gen"]], base[model.blocks["flow"]])
        except InputError:  # intact network not connected: no PTDF, solve everything
            screener = None
    for start in range(0, n_scen, _CHUNK):
        stop = min(start + _CHUNK, n_scen)
        bus_out, branch_out, gen_out = element_masks(network, masks[start:stop])
        if screener is not None:
            ok, dispatch = screener.passes(bus_out, branch_out, gen_out)
            need = ~ok
            gen[start:stop][ok] = dispatch[ok]
        else:
            need = np.ones(stop - start, dtype=bool)
        todo = np.flatnonzero(need)
        # similar scenarios in a row make the warm start closer: sort by damaged assets
        packed = np.packbits(masks[start:stop][todo], axis=1)
        todo = todo[np.lexsort(packed.T[::-1])] if len(todo) else todo
        for i in todo:  # one LP per scenario that failed the screen
            damage = Damage(bus_out[i], branch_out[i], gen_out[i])
            shed[start + i], gen[start + i] = solver.solve(damage, start + i)
        solved[start:stop] = need
        if progress is not None:
            progress(stop)
    return ShedResult(
        load_shed_mw=row_sum(shed),
        shed_by_load_mw=shed,
        solved=solved,
        load_ids=tuple(network.loads["load_id"]),
        priority_class=tuple(network.loads["priority_class"]),
        gen_mw=gen,
    )


def random_damage(
    network: Network,
    n_scenarios: int,
    *,
    max_assets: int = 3,
    kinds: tuple[str, ...] = ("line", "transformer", "plant", "substation"),
    seed: int | np.random.SeedSequence = 0,
) -> np.ndarray:
    """Random outage masks: each scenario hits 1..max_assets distinct assets of ``kinds``.

    For benchmarks and tests; real scenarios come from the salvo simulator.
    """
    table = assets(network)
    pool = np.flatnonzero(table["kind"].isin(kinds).to_numpy())
    if len(pool) == 0:
        raise InputError(f"network {network.name!r} has no assets of kinds {kinds}")
    rng = np.random.default_rng(seed)
    k = rng.integers(1, max_assets + 1, size=n_scenarios)
    # distinct picks per scenario: ranks of random keys, vectorised
    keys = rng.random((n_scenarios, len(pool)))
    ranks = np.argsort(keys, axis=1)[:, :max_assets]
    picked = np.where(np.arange(max_assets)[None, :] < k[:, None], pool[ranks], -1)
    masks = np.zeros((n_scenarios, len(table)), dtype=bool)
    rows = np.repeat(np.arange(n_scenarios), max_assets)
    cols = picked.ravel()
    masks[rows[cols >= 0], cols[cols >= 0]] = True
    return masks
