"""DC OPF with load shedding: objectives against pandapower, shed against an
independently written LP (scipy linprog, angle-only formulation on the physically
reduced network)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from barrage.grid.network import assets, read_matpower, with_load_tags
from barrage.grid.opf import Damage, damage_from_assets, solve_opf

CASES = {
    "pglib_opf_case24_ieee_rts.m": None,
    "pglib_opf_case73_ieee_rts.m": None,
    "pglib_opf_case118_ieee.m": None,
    "pglib_opf_case300_ieee.m": None,
    "pglib_opf_case1354_pegase.m": None,
}


@pytest.fixture(scope="module")
def pglib(shared_data):
    return shared_data / "grid" / "pglib-opf"


@pytest.mark.parametrize("case", list(CASES))
def test_quadratic_objective_equals_pandapower_rundcopp(pglib, case):
    """Exact QP (HiGHS) vs pandapower's DC OPF (PIPS interior point) on the undamaged
    PGLib cases: relative 1e-6 (pandapower's own converter perturbs a few case300
    transformer reactances by <0.05 %, worth ~5e-9 relative here)."""
    import pandapower as pp
    from pandapower.converter.matpower.from_mpc import from_mpc

    ours = solve_opf(read_matpower(pglib / case))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = from_mpc(str(pglib / case))
        pp.rundcopp(net)
    assert ours.load_shed_mw == pytest.approx(0.0, abs=1e-6)
    assert ours.objective_usd_per_h == pytest.approx(net.res_cost, rel=1e-6)


def _independent_lp(net, damage, segments):
    """Second formulation: drop dead elements, unknowns (theta, p, d) with
    B theta = p + d - P_d, thermal rows |b (theta_i - theta_j - phi)| <= rate, the
    same secant costs; one angle per connected piece pinned by a zero-cost equality."""
    nb = len(net.buses)
    bus_live = ~damage.bus_out
    br = net.branches[(net.branches["in_service"].to_numpy()) & ~damage.branch_out]
    gen = net.generators[net.generators["in_service"].to_numpy() & ~damage.gen_out]
    loads = net.loads
    pos = net.bus_index
    f = np.array([pos[b] for b in br["from_bus"]], int)
    t = np.array([pos[b] for b in br["to_bus"]], int)
    b = net.base_mva / (br["x_pu"].to_numpy() * br["tap"].to_numpy())
    phi = np.deg2rad(br["shift_deg"].to_numpy())
    nbr, ng, nl = len(br), len(gen), len(loads)
    k = segments
    pmin, pmax = gen["pmin_mw"].to_numpy(), gen["pmax_mw"].to_numpy()
    c2, c1 = gen["cost_c2_usd_per_mw2h"].to_numpy(), gen["cost_c1_usd_per_mwh"].to_numpy()
    c0 = gen["cost_c0_usd_per_h"].to_numpy()
    w = (pmax - pmin) / k
    # variables: theta (nb), segments (ng*k), shed (nl)
    nvar = nb + ng * k + nl
    cost = np.zeros(nvar)
    for s in range(k):
        cost[nb + np.arange(ng) * k + s] = c1 + c2 * (2 * pmin + (2 * s + 1) * w)
    cost[nb + ng * k :] = loads["voll_usd_per_mwh"].to_numpy()
    const = float((c0 + c1 * pmin + c2 * pmin**2).sum())
    # nodal balance: sum_l A b (theta) ... -> injection(theta) = p + d - load
    a_eq = np.zeros((nb, nvar))
    for l_ in range(nbr):
        for x, y_, sgn in ((f[l_], t[l_], 1.0), (t[l_], f[l_], -1.0)):
            a_eq[x, x] += b[l_]
            a_eq[x, y_] -= b[l_]
            _ = sgn
    gbus = np.array([pos[v] for v in gen["bus"]], int)
    for g in range(ng):
        a_eq[gbus[g], nb + g * k : nb + (g + 1) * k] -= 1.0
    lbus = np.array([pos[v] for v in loads["bus"]], int)
    b_eq = np.zeros(nb)
    for g in range(ng):
        b_eq[gbus[g]] += pmin[g]
    for i in range(nl):
        a_eq[lbus[i], nb + ng * k + i] -= 1.0
        b_eq[lbus[i]] -= loads["p_mw"].iloc[i]
    b_eq -= net.buses["gs_mw"].to_numpy()
    # phase shifts: flow = b (theta_f - theta_t - phi) -> constant injections
    for l_ in range(nbr):
        b_eq[f[l_]] += b[l_] * phi[l_]
        b_eq[t[l_]] -= b[l_] * phi[l_]
    a_ub, b_ub = [], []
    rate = br["rate_a_mw"].to_numpy()
    for l_ in range(nbr):
        if np.isfinite(rate[l_]):
            row = np.zeros(nvar)
            row[f[l_]], row[t[l_]] = b[l_], -b[l_]
            a_ub += [row, -row]
            b_ub += [rate[l_] + b[l_] * phi[l_], rate[l_] - b[l_] * phi[l_]]
    bounds = [(None, None)] * nb + [(0, wi) for wi in np.repeat(w, k)]
    dead_load = damage.bus_out[lbus]
    bounds += [(p if dead else 0, p) for p, dead in zip(loads["p_mw"], dead_load, strict=True)]
    # dead buses: pin their angle and drop their balance row (all their load is shed)
    for i in np.flatnonzero(~bus_live):
        bounds[i] = (0, 0)
        a_eq[i] = 0.0
        b_eq[i] = 0.0
    # pin one angle per connected piece (union-find; free angles confuse the solver)
    parent = list(range(nb))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for x, y_ in zip(f, t, strict=True):
        parent[root(x)] = root(y_)
    for r in {root(i) for i in range(nb)}:
        bounds[r] = (0, 0)
    res = linprog(
        cost,
        A_ub=np.array(a_ub),
        b_ub=np.array(b_ub),
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    assert res.status == 0, res.message
    shed = res.x[nb + ng * k :]
    return res.fun + const, shed


@pytest.mark.parametrize("case", ["pglib_opf_case24_ieee_rts.m", "pglib_opf_case118_ieee.m"])
def test_piecewise_lp_matches_independent_formulation_intact(pglib, case):
    net = read_matpower(pglib / case)
    ours = solve_opf(net, cost_model="piecewise", segments=5)
    obj, shed = _independent_lp(net, Damage.none(net), 5)
    assert ours.objective_usd_per_h == pytest.approx(obj, rel=1e-8)
    assert shed.sum() == pytest.approx(0.0, abs=1e-6)
    # the secant over-estimates the quadratic cost, by less than its stated bound
    exact = solve_opf(net).objective_usd_per_h
    g = net.generators
    bound = (g["cost_c2_usd_per_mw2h"] * ((g["pmax_mw"] - g["pmin_mw"]) / 5) ** 2 / 4).sum()
    assert exact - 1e-6 <= ours.objective_usd_per_h <= exact + bound + 1e-6


def test_shed_matches_independent_lp_on_every_single_and_some_double_outages(pglib):
    """Case24 (no priority classes) and case24 with a nuclear load: every single asset
    outage plus 60 random double/triple outages, total shed and objective agree."""
    net = read_matpower(pglib / "pglib_opf_case24_ieee_rts.m")
    # make it tight: 1.25 x load so that outages shed
    loads = net.loads.copy()
    loads["p_mw"] *= 1.25
    from dataclasses import replace

    net = replace(net, loads=loads)
    net = with_load_tags(net, pd.DataFrame({"bus": [9], "priority_class": ["nuclear_offsite"]}))
    n_assets = len(assets(net))
    rng = np.random.default_rng(7)
    masks = list(np.eye(n_assets, dtype=bool))
    for _ in range(60):
        m = np.zeros(n_assets, bool)
        m[rng.choice(n_assets, rng.integers(2, 4), replace=False)] = True
        masks.append(m)
    shed_seen = 0
    for m in masks:
        damage = damage_from_assets(net, m)
        ours = solve_opf(net, damage, cost_model="piecewise", segments=3)
        obj, shed = _independent_lp(net, damage, 3)
        assert ours.load_shed_mw == pytest.approx(shed.sum(), abs=1e-6)
        assert ours.objective_usd_per_h == pytest.approx(obj, rel=1e-7)
        shed_seen += ours.load_shed_mw > 1e-6
    assert shed_seen > 20  # the test really exercises shedding


def test_critical_load_spared_while_possible(pglib):
    """Bus 9's load is the nuclear plant's off-site supply: when its island is short,
    the others are shed first."""
    net = read_matpower(pglib / "pglib_opf_case24_ieee_rts.m")
    base = solve_opf(net)
    tagged = with_load_tags(net, pd.DataFrame({"bus": [9], "priority_class": ["nuclear_offsite"]}))
    # lose the two largest plants' buses' generation: plants at buses 21 and 23
    table = assets(net)
    gens = net.generators
    lost = [f"plant:{k + 1}" for k in np.flatnonzero(gens["bus"].isin([21, 23, 18]))]
    mask = table["asset_id"].isin(lost).to_numpy()
    res = solve_opf(tagged, damage_from_assets(tagged, mask))
    assert base.load_shed_mw == pytest.approx(0, abs=1e-6)
    assert res.load_shed_mw > 100.0
    nine = int(np.flatnonzero(tagged.loads["bus"] == 9)[0])
    assert res.shed_mw[nine] == pytest.approx(0.0, abs=1e-6)


def test_everything_islanded_is_well_defined(pglib):
    """All branches cut: every bus is its own island; each balances with its own plants
    or sheds, never an error."""
    net = read_matpower(pglib / "pglib_opf_case24_ieee_rts.m")
    table = assets(net)
    mask = table["kind"].isin(["line", "transformer"]).to_numpy()
    res = solve_opf(net, damage_from_assets(net, mask))
    assert int(res.island.max()) + 1 == 24
    lbus = net.positions(net.loads["bus"].to_numpy())
    gbus = net.positions(net.generators["bus"].to_numpy())
    cap = np.zeros(24)
    np.add.at(cap, gbus, net.generators["pmax_mw"].to_numpy())
    expected = np.clip(net.loads["p_mw"].to_numpy() - cap[lbus], 0, None).sum()
    assert res.load_shed_mw == pytest.approx(expected, abs=1e-6)
    # and all substations gone: everything shed, nothing generated
    all_subs = table["kind"].eq("substation").to_numpy()
    gone = solve_opf(net, damage_from_assets(net, all_subs))
    assert gone.load_shed_mw == pytest.approx(net.loads["p_mw"].sum())
    assert gone.gen_mw.sum() == pytest.approx(0.0, abs=1e-9)
