"""Damage scenarios per second with load shedding on the heavily loaded IEEE 118.

Reference, in the same script: pandapower ``rundcopp`` per scenario on the same network
(elements switched out of service, load shed modelled as dispatchable negative
generators at a VOLL cost, exactly like ours). Both answer "how many MW are shed".

    .venv/bin/python benchmarks/bench_grid.py [--scenarios 2000] [--reference 40]
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from barrage.grid.batch import element_masks, random_damage, shed_load_batch
from barrage.grid.dcflow import islands
from barrage.grid.network import read_matpower

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "grid" / "pglib-opf"
CASE = DATA / "pglib_opf_case118_ieee__api.m"
REFERENCE_VOLL = 1_000.0  # USD/MWh for the agreement check


def pandapower_shed(path: Path, masks: np.ndarray, network) -> tuple[np.ndarray, float]:
    """Load shed per scenario with pandapower rundcopp; returns (shed MW, seconds)."""
    import pandapower as pp
    from pandapower.converter.matpower.from_mpc import from_mpc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = from_mpc(str(path))
    # shed = a controllable load with VOLL cost (pandapower's way to make load optional)
    # (PIPS fails on most damaged cases at VOLL 10,000, so the reference uses
    # REFERENCE_VOLL and the agreement check re-runs ours at the same VOLL)
    base.load["controllable"] = True
    base.load["max_p_mw"] = base.load["p_mw"]
    base.load["min_p_mw"] = 0.0
    for i in base.load.index:
        pp.create_poly_cost(base, i, "load", cp1_eur_per_mw=-REFERENCE_VOLL)
    nb, ng = len(network.buses), len(network.generators)
    lookup_bus = dict(zip(network.buses["bus_id"], base.bus.index, strict=True))
    # branch k of the file -> (table, index) through terminal buses, in file order
    branch_elems = []
    used = {"line": set(), "trafo": set()}
    for fb, tb in zip(network.branches["from_bus"], network.branches["to_bus"], strict=True):
        f, t = lookup_bus[fb], lookup_bus[tb]
        hit = None
        for table, a, b in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
            df = getattr(base, table)
            cand = df.index[((df[a] == f) & (df[b] == t)) | ((df[a] == t) & (df[b] == f))]
            cand = [c for c in cand if c not in used[table]]
            if cand:
                hit = (table, cand[0])
                used[table].add(cand[0])
                break
        branch_elems.append(hit)
    gen_elems = []  # plant k -> ext_grid or gen element
    g_used = set()
    for gb in network.generators["bus"]:
        b = lookup_bus[gb]
        cand = [("gen", i) for i in base.gen.index[base.gen.bus == b] if ("gen", i) not in g_used]
        cand += [
            ("ext_grid", i)
            for i in base.ext_grid.index[base.ext_grid.bus == b]
            if ("ext_grid", i) not in g_used
        ]
        gen_elems.append(cand[0])
        g_used.add(cand[0])
    shed = np.full(len(masks), np.nan)
    start = time.perf_counter()
    for s, mask in enumerate(masks):
        net = copy.deepcopy(base)
        for k in np.flatnonzero(mask[:nb]):
            net.bus.loc[lookup_bus[network.buses["bus_id"].iloc[k]], "in_service"] = False
        for k in np.flatnonzero(mask[nb : nb + ng]):
            table, i = gen_elems[k]
            getattr(net, table).loc[i, "in_service"] = False
        for k in np.flatnonzero(mask[nb + ng :]):
            table, i = branch_elems[k]
            getattr(net, table).loc[i, "in_service"] = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.rundcopp(net)
            served = net.res_load["p_mw"].fillna(0.0).sum()
            shed[s] = base.load["p_mw"].sum() - served
        except Exception:  # pandapower fails on islands without a slack
            shed[s] = np.nan
    return shed, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=2000)
    parser.add_argument("--reference", type=int, default=40, help="scenarios for pandapower")
    parser.add_argument("--max-assets", type=int, default=3)
    args = parser.parse_args()

    network = read_matpower(CASE)
    masks = random_damage(network, args.scenarios, max_assets=args.max_assets, seed=2024)
    shed_load_batch(network, masks[:50])  # warm imports and caches
    start = time.perf_counter()
    result = shed_load_batch(network, masks)
    ours_s = time.perf_counter() - start
    ours_rate = args.scenarios / ours_s

    ref_masks = masks[: args.reference]
    ref_shed, ref_s = pandapower_shed(CASE, ref_masks, network)
    ref_rate = args.reference / ref_s
    loads = network.loads.copy()
    loads["voll_usd_per_mwh"] = REFERENCE_VOLL
    same_voll = shed_load_batch(replace(network, loads=loads), ref_masks).load_shed_mw
    # pandapower de-energises every island without its slack; ours lets such an island
    # run on its own plants (the rule), so compare single-island scenarios only
    bus_out, branch_out, _ = element_masks(network, ref_masks)
    live_br = network.branches["in_service"].to_numpy()
    single = np.array(
        [
            islands(network, live_br & ~bo, ~bu)[0] == 1
            for bu, bo in zip(bus_out, branch_out, strict=True)
        ]
    )
    ok = np.isfinite(ref_shed) & single
    diff = np.abs(ref_shed[ok] - same_voll[ok])
    agree = diff < 1e-3

    print(f"network: {CASE.name} ({len(network.buses)} buses, {len(network.branches)} branches)")
    print(
        f"scenarios: {args.scenarios}, 1..{args.max_assets} assets hit each (lines, "
        "transformers, plants, substations)"
    )
    print(
        f"barrage shed_load_batch: {ours_rate:,.0f} scenarios/s ({ours_s:.2f} s); "
        f"LP needed in {result.solved.mean():.1%}, shed > 0 in "
        f"{(result.load_shed_mw > 1e-6).mean():.1%}, mean shed "
        f"{result.load_shed_mw.mean():.1f} MW"
    )
    print(
        f"pandapower rundcopp per scenario: {ref_rate:,.1f} scenarios/s "
        f"({args.reference} scenarios, {ok.sum()} solved)"
    )
    print(
        f"agreement on load shed at VOLL {REFERENCE_VOLL:,.0f} (1e-3 MW) where pandapower "
        f"solved and no island formed: {agree.sum()}/{ok.sum()}, max difference "
        f"{diff.max():.2e} MW ({(~single).sum()} islanding scenarios left out)"
    )
    print(f"speed-up: {ours_rate / ref_rate:,.0f}x")


if __name__ == "__main__":
    main()
