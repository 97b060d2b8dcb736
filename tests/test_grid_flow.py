"""DC power flow, PTDF and LODF against pandapower's rundcpp and against re-solving."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from barrage.grid.dcflow import dc_power_flow, lodf_base, ptdf
from barrage.grid.network import from_pandapower, read_matpower


@pytest.fixture(scope="module")
def pglib(shared_data):
    return shared_data / "grid" / "pglib-opf"


def _pandapower_case(path):
    import pandapower as pp
    from pandapower.converter.matpower.from_mpc import from_mpc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = from_mpc(str(path))
        pp.rundcpp(net)
    return net


@pytest.mark.parametrize("case", ["pglib_opf_case118_ieee.m", "pglib_opf_case300_ieee.m"])
def test_flows_equal_pandapower_rundcpp(pglib, case):
    """Same network as pandapower sees it (its converted lines, trafos, impedances and
    the case300 phase shifter): branch flows to 1e-6 MW, angles to 1e-9 rad."""
    net = _pandapower_case(pglib / case)
    ours = from_pandapower(net, name=case)
    flow = dc_power_flow(ours)
    lookup = net._pd2ppc_lookups["branch"]
    compared = 0
    for table, res, col in [
        ("line", "res_line", "p_from_mw"),
        ("trafo", "res_trafo", "p_hv_mw"),
        ("impedance", "res_impedance", "p_from_mw"),
    ]:
        if table in lookup:
            a, b = lookup[table]
            np.testing.assert_allclose(
                flow.p_from_mw[a:b], getattr(net, res)[col].to_numpy(), rtol=0, atol=1e-6
            )
            compared += b - a
    assert compared == len(ours.branches)
    pp_bus = net._pd2ppc_lookups["bus"][net.bus.index]
    va = np.deg2rad(net.res_bus["va_degree"].to_numpy())
    np.testing.assert_allclose(
        flow.theta_rad[pp_bus], va - va[0] + flow.theta_rad[pp_bus[0]], atol=1e-9
    )
    slack = net.res_ext_grid["p_mw"].sum() + net.res_gen["p_mw"].sum()
    assert slack == pytest.approx(ours.generators["pg_mw"].sum() + flow.slack_mw.sum(), abs=1e-6)
    if case == "pglib_opf_case300_ieee.m":
        assert (ours.branches["shift_deg"] != 0).sum() == 1


def test_own_parser_matches_pandapower_on_118(pglib):
    """Our MATPOWER reader on case118 (no phase shifters, exact trafo ratios) gives the
    same flows as pandapower's converted network, matched by terminal buses."""
    net = _pandapower_case(pglib / "pglib_opf_case118_ieee.m")
    ours = read_matpower(pglib / "pglib_opf_case118_ieee.m")
    flow = dc_power_flow(ours)
    theirs = from_pandapower(net)
    ref = dc_power_flow(theirs)
    np.testing.assert_allclose(np.sort(flow.p_from_mw), np.sort(ref.p_from_mw), atol=1e-6)


def test_phase_shift_moves_flow(pglib):
    """Removing the only phase shift of case300 changes flows; restoring it restores them."""
    net = read_matpower(pglib / "pglib_opf_case300_ieee.m")
    with_shift = dc_power_flow(net).p_from_mw
    br = net.branches.copy()
    br["shift_deg"] = 0.0
    from dataclasses import replace

    without = dc_power_flow(replace(net, branches=br)).p_from_mw
    k = int(np.flatnonzero(net.branches["shift_deg"] != 0)[0])
    assert abs(with_shift[k] - without[k]) > 1.0


def test_ptdf_and_lodf_match_resolving(pglib):
    net = read_matpower(pglib / "pglib_opf_case118_ieee.m")
    base = dc_power_flow(net)
    m = ptdf(net)
    h = lodf_base(net, m)
    rng = np.random.default_rng(3)
    # PTDF: a 50 MW transfer between two buses
    i, j = rng.choice(len(net.buses), 2, replace=False)
    gen = net.generators.copy()
    loads = net.loads.copy()
    loads.loc[len(loads)] = loads.iloc[0]
    loads.loc[len(loads) - 1, ["bus", "p_mw"]] = [net.buses["bus_id"].iloc[j], 50.0]
    loads.loc[len(loads)] = loads.iloc[0]
    loads.loc[len(loads) - 1, ["bus", "p_mw"]] = [net.buses["bus_id"].iloc[i], -50.0]
    from dataclasses import replace

    moved = dc_power_flow(replace(net, loads=loads, generators=gen)).p_from_mw
    np.testing.assert_allclose(moved - base.p_from_mw, 50.0 * (m[:, i] - m[:, j]), atol=1e-8)
    # multi-outage LODF update equals a DC flow re-solved without the branches
    for outage in ([5], [5, 40], [3, 60, 100]):
        o = np.array(outage)
        f = base.p_from_mw
        y = np.linalg.solve(np.eye(len(o)) - h[np.ix_(o, o)], f[o])
        predicted = f + h[:, o] @ y
        predicted[o] = 0.0
        live = np.ones(len(net.branches), bool)
        live[o] = False
        resolved = dc_power_flow(net, branch_live=live)
        assert len(resolved.slack_mw) == 1
        np.testing.assert_allclose(predicted, resolved.p_from_mw, atol=1e-7)


def test_islands_each_get_a_slack(pglib):
    net = read_matpower(pglib / "pglib_opf_case24_ieee_rts.m")
    live = np.ones(len(net.branches), bool)
    # bus 7 hangs on branch 11 (7-8) only: cutting it islands bus 7 with its plants
    live[10] = False
    flow = dc_power_flow(net, branch_live=live)
    assert len(flow.slack_mw) == 2
    island7 = flow.island[net.bus_index[7]]
    g7 = net.generators[net.generators["bus"] == 7]["pg_mw"].sum()
    assert flow.slack_mw[island7] == pytest.approx(125.0 - g7)
    assert flow.energised.all()
