"""DC power flow: susceptance matrices, islands, PTDF/LODF and a plain DC flow.

Conventions follow MATPOWER/PYPOWER (and so pandapower's ``rundcpp``): a branch with
reactance ``x`` (p.u.), off-nominal ratio ``tap`` and phase shift ``phi`` carries

    P_ft = base_mva * (theta_f - theta_t - phi) / (x * tap)

and a bus balances ``sum P_gen - P_load - G_shunt = sum of branch flows leaving``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from barrage.errors import InputError
from barrage.grid.network import Network


def branch_terminals(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``buses``) of each branch's from- and to-bus."""
    br = network.branches
    return network.positions(br["from_bus"].to_numpy()), network.positions(br["to_bus"].to_numpy())


def branch_susceptance_pu(network: Network) -> np.ndarray:
    """Series susceptance 1/(x*tap) of every branch in p.u. (outages not applied)."""
    br = network.branches
    return 1.0 / (br["x_pu"].to_numpy() * br["tap"].to_numpy())


def incidence(network: Network) -> sp.csr_matrix:
    """Branch-bus incidence A (n_branch x n_bus): +1 at the from-bus, -1 at the to-bus."""
    f, t = branch_terminals(network)
    nbr, nb = len(f), len(network.buses)
    rows = np.concatenate([np.arange(nbr), np.arange(nbr)])
    return sp.csr_matrix(
        (np.concatenate([np.ones(nbr), -np.ones(nbr)]), (rows, np.concatenate([f, t]))),
        shape=(nbr, nb),
    )


def bus_injection_mw(network: Network, gen_mw: np.ndarray | None = None) -> np.ndarray:
    """Net injection per bus: generation - load - shunt conductance (MW)."""
    nb = len(network.buses)
    g = network.generators
    if gen_mw is None:
        gen_mw = np.where(g["in_service"], g["pg_mw"], 0.0)
    p = np.zeros(nb)
    np.add.at(p, network.positions(g["bus"].to_numpy()), gen_mw)
    np.add.at(p, network.positions(network.loads["bus"].to_numpy()), -network.loads["p_mw"])
    return p - network.buses["gs_mw"].to_numpy()


def islands(
    network: Network, branch_live: np.ndarray, bus_live: np.ndarray
) -> tuple[int, np.ndarray]:
    """Connected components of live buses through live branches.

    Returns (number of islands, label per bus); dead buses get label -1.
    """
    f, t = branch_terminals(network)
    nb = len(network.buses)
    live = branch_live & bus_live[f] & bus_live[t]
    graph = sp.coo_matrix((np.ones(live.sum()), (f[live], t[live])), shape=(nb, nb))
    _, labels = connected_components(graph, directed=False)
    labels = np.where(bus_live, labels, -1)
    uniq, labels_live = np.unique(labels[bus_live], return_inverse=True)
    out = np.full(nb, -1)
    out[bus_live] = labels_live
    return len(uniq), out


def island_references(network: Network, labels: np.ndarray, gen_live: np.ndarray) -> np.ndarray:
    """One reference bus per island: the network's slack if inside, else the bus of the
    live generator with the largest Pmax, else the island's first bus (no generation)."""
    n_isl = int(labels.max()) + 1 if len(labels) else 0
    refs = np.full(n_isl, -1)
    gbus = network.positions(network.generators["bus"].to_numpy())
    pmax = np.where(gen_live, network.generators["pmax_mw"].to_numpy(), -np.inf)
    for k in np.argsort(pmax):  # ascending, so the largest is written last
        if gen_live[k] and labels[gbus[k]] >= 0:
            refs[labels[gbus[k]]] = gbus[k]
    slack = network.reference_bus
    if labels[slack] >= 0:
        refs[labels[slack]] = slack
    for isl in np.flatnonzero(refs < 0):
        refs[isl] = int(np.flatnonzero(labels == isl)[0])
    return refs


@dataclass(frozen=True)
class DcFlow:
    """Result of :func:`dc_power_flow`."""

    theta_rad: np.ndarray  # per bus (0 for dead buses)
    p_from_mw: np.ndarray  # per branch (0 when out)
    island: np.ndarray  # island label per bus, -1 when dead
    reference_bus: np.ndarray  # bus position of each island's reference
    slack_mw: np.ndarray  # per island: what its reference bus had to absorb
    energised: np.ndarray  # per island: has a live generator


def dc_power_flow(
    network: Network,
    *,
    gen_mw: np.ndarray | None = None,
    branch_live: np.ndarray | None = None,
    bus_live: np.ndarray | None = None,
    gen_live: np.ndarray | None = None,
) -> DcFlow:
    """Plain DC power flow with the generators' set points (``pg_mw`` unless ``gen_mw``).

    Each island's reference bus absorbs its mismatch (the slack). An island without a
    live generator is not energised: its angles and flows are zero.
    """
    nb = len(network.buses)
    g = network.generators
    branch_live = network.branches["in_service"].to_numpy() if branch_live is None else branch_live
    bus_live = (network.buses["type"].to_numpy() != 4) if bus_live is None else bus_live
    gen_live = g["in_service"].to_numpy() if gen_live is None else gen_live
    gbus = network.positions(g["bus"].to_numpy())
    gen_live = gen_live & bus_live[gbus]
    f, t = branch_terminals(network)
    live = branch_live & bus_live[f] & bus_live[t]
    n_isl, labels = islands(network, live, bus_live)
    refs = island_references(network, labels, gen_live)
    energised = np.zeros(n_isl, dtype=bool)
    energised[labels[gbus[gen_live]]] = True

    pg = np.where(gen_live, g["pg_mw"].to_numpy() if gen_mw is None else gen_mw, 0.0)
    p_inj = bus_injection_mw(network, pg) / network.base_mva
    p_inj[~bus_live] = 0.0
    b = np.where(live, branch_susceptance_pu(network), 0.0)
    shift = np.deg2rad(network.branches["shift_deg"].to_numpy())
    A = incidence(network)
    Bbus = (A.T @ sp.diags(b) @ A).tocsc()
    p_shift = A.T @ (b * shift)  # injection equivalent of phase shifters
    rhs = p_inj + p_shift
    solve_mask = (labels >= 0) & energised[np.maximum(labels, 0)]
    solve_mask[refs] = False
    idx = np.flatnonzero(solve_mask)
    theta = np.zeros(nb)
    if len(idx):
        try:
            theta[idx] = splu(Bbus[idx][:, idx].tocsc()).solve(rhs[idx])
        except RuntimeError as exc:  # singular: should not happen after island handling
            raise InputError(f"network {network.name!r}: DC flow matrix is singular") from exc
    p_from = network.base_mva * b * (A @ theta - shift)
    p_from[~live] = 0.0
    # slack: what each energised island's reference must absorb
    mismatch = (Bbus @ theta - p_shift - p_inj) * network.base_mva
    slack = np.zeros(n_isl)
    np.add.at(slack, labels[labels >= 0], mismatch[labels >= 0])
    slack[~energised] = 0.0
    return DcFlow(theta, p_from, labels, refs, slack, energised)


def ptdf(network: Network, *, branch_live: np.ndarray | None = None) -> np.ndarray:
    """Power transfer distribution factors (n_branch x n_bus), reference column zero.

    Flow on branch l for balanced injections p (MW): ``PTDF @ p``. Requires one island.
    """
    nb = len(network.buses)
    branch_live = network.branches["in_service"].to_numpy() if branch_live is None else branch_live
    b = np.where(branch_live, branch_susceptance_pu(network), 0.0)
    A = incidence(network)
    Bbus = (A.T @ sp.diags(b) @ A).tocsc()
    ref = network.reference_bus
    keep = np.setdiff1d(np.arange(nb), [ref])
    try:
        lu = splu(Bbus[keep][:, keep].tocsc())
    except RuntimeError:
        raise InputError(f"network {network.name!r} is not connected: PTDF undefined") from None
    # PTDF[:, keep] = diag(b) A[:, keep] Bred^-1  ->  transpose: Bred^-1 (A[:, keep]^T diag b)
    rhs = (A[:, keep].T @ sp.diags(b)).toarray()
    sol = lu.solve(rhs)
    if not np.all(np.isfinite(sol)):
        raise InputError(f"network {network.name!r} is not connected: PTDF undefined")
    out = np.zeros((len(b), nb))
    out[:, keep] = sol.T
    return out


def lodf_base(network: Network, ptdf_matrix: np.ndarray) -> np.ndarray:
    """H = PTDF @ A^T: flow on l per unit flow forced through branch k (n_branch^2).

    The outage of branch set O changes flows by ``H[:, O] (I - H[O, O])^-1 f[O]``;
    single-branch LODF is ``H[:, k] / (1 - H[k, k])``.
    """
    A = incidence(network)
    return np.asarray((A @ ptdf_matrix.T).T)
