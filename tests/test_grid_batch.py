"""Batch load shed: the numpy screen never changes an answer, critical-load reporting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barrage.errors import InputError
from barrage.grid.batch import critical_loss_probability, random_damage, shed_load_batch
from barrage.grid.network import assets, read_matpower, with_load_tags
from barrage.grid.opf import damage_from_assets, solve_opf


@pytest.fixture(scope="module")
def case118_api(shared_data):
    return read_matpower(shared_data / "grid" / "pglib-opf" / "pglib_opf_case118_ieee__api.m")


@pytest.fixture(scope="module")
def case118(shared_data):
    return read_matpower(shared_data / "grid" / "pglib-opf" / "pglib_opf_case118_ieee.m")


@pytest.mark.parametrize("kinds", [("line", "transformer"), ("line", "plant", "substation")])
def test_screen_agrees_with_solving_everything(case118, kinds):
    masks = random_damage(case118, 300, max_assets=3, kinds=kinds, seed=11)
    screened = shed_load_batch(case118, masks)
    full = shed_load_batch(case118, masks, screen=False)
    assert full.solved.all()
    assert 0 < screened.solved.sum() < len(masks)  # the screen skips some, not all
    np.testing.assert_allclose(screened.load_shed_mw, full.load_shed_mw, atol=1e-6)


def test_batch_matches_single_opf(case118_api):
    masks = random_damage(case118_api, 40, max_assets=3, seed=5)
    batch = shed_load_batch(case118_api, masks)
    single = [
        solve_opf(
            case118_api, damage_from_assets(case118_api, m), cost_model="piecewise", segments=2
        ).load_shed_mw
        for m in masks
    ]
    np.testing.assert_allclose(batch.load_shed_mw, single, atol=1e-6)
    assert (batch.load_shed_mw > 1e-6).sum() > 10


def test_critical_loss_probability(case118_api):
    nuc_bus, hosp_bus = (int(b) for b in case118_api.loads["bus"].iloc[[10, 30]])
    tagged = with_load_tags(
        case118_api,
        pd.DataFrame(
            {"bus": [nuc_bus, hosp_bus], "priority_class": ["nuclear_offsite", "hospital"]}
        ),
    )
    table = assets(tagged)
    nuc_bus = int(
        tagged.loads.loc[tagged.loads["priority_class"] == "nuclear_offsite", "bus"].iloc[0]
    )
    masks = np.zeros((4, len(table)), bool)
    masks[1, table["asset_id"].eq(f"substation:{nuc_bus}").to_numpy()] = True
    masks[2:, :] = random_damage(tagged, 2, max_assets=2, kinds=("line",), seed=1)
    res = shed_load_batch(tagged, masks)
    prob = critical_loss_probability(res)
    assert prob["nuclear_offsite"] >= 0.25  # scenario 1 destroys its substation
    assert res.shed_by_class_mw()["nuclear_offsite"][0] == 0.0
    assert res.load_shed_mw[0] == pytest.approx(0.0, abs=1e-6)
    # against single OPF solves, scenario by scenario: which critical loads lose supply
    lost = np.array(
        [
            solve_opf(
                tagged, damage_from_assets(tagged, m), cost_model="piecewise", segments=2
            ).shed_mw
            > 1e-6
            for m in masks
        ]
    )
    cls = tagged.loads["priority_class"].to_numpy()
    assert prob["nuclear_offsite"] == lost[:, cls == "nuclear_offsite"].any(axis=1).mean()
    assert prob["hospital"] == lost[:, cls == "hospital"].any(axis=1).mean()
    assert prob["any_critical"] == lost[:, cls != "other"].any(axis=1).mean()
    assert prob["any_critical"] >= prob["nuclear_offsite"]


def test_bad_masks(case118):
    with pytest.raises(InputError, match=r"outage_masks must be \(n_scenarios, "):
        shed_load_batch(case118, np.zeros((3, 5), bool))
    with pytest.raises(InputError, match="must be boolean"):
        shed_load_batch(case118, np.full((1, len(assets(case118))), 2))


def test_all_destroyed_sheds_everything(case118):
    masks = np.ones((2, len(assets(case118))), bool)
    masks[1, : len(case118.buses)] = False  # keep substations, lose all plants and branches
    res = shed_load_batch(case118, masks)
    assert res.load_shed_mw == pytest.approx([case118.total_load_mw] * 2)
