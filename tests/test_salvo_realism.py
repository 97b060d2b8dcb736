"""Salvo realism (issue 19): new mechanisms, their validation, and unchanged defaults."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from barrage.salvo import example_scenarios, load_scenario, simulate
from barrage.salvo.blocks import OUTPUTS

FROZEN = {
    "2024-08-26_combined": "3bbd652e33ce6f75226aa39d4f6cf95ef45125bb6cad8027054ff24d71410fa3",
    "2025-07-09_combined": "cb9319edea8d9cf01713750d038e3762138af8ebe95d11317c068e71b0a47562",
}
"""sha256 of every per-run output (3,000 runs, seed 7) before the new mechanisms."""


def digest(result) -> str:
    h = hashlib.sha256()
    for name in OUTPUTS:
        h.update(np.ascontiguousarray(getattr(result, name), dtype=np.int64).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_new_fields_at_defaults_keep_results_bit_identical(name):
    result = simulate(load_scenario(example_scenarios()[name]), runs=3000, seed=7)
    assert digest(result) == FROZEN[name]


# --- 1. decoys apart from EW -----------------------------------------------------------


def drone_nights(rows):
    import pandas as pd

    df = pd.DataFrame(rows, columns=["night", "launched", "destroyed", "lost", "shaheds"])
    df["night"] = pd.to_datetime(df["night"])
    return df


def test_decoy_share_and_ew_are_separate_parameters():
    from barrage.salvo.decoys import calibrate_decoys

    nights = drone_nights(
        [
            # Shahed count given: decoys = launched - shaheds; lost beyond them is EW
            ("2025-07-14", 200, 110, 90, 120.0),  # 80 decoys, 10 real lost to EW
            ("2025-07-15", 100, 50, 40, 60.0),  # 40 decoys, no EW
            ("2025-09-07", 100, 80, 0, 60.0),  # no lost reported: no EW reading
            ("2025-08-01", 300, 200, 100, np.nan),  # no Shahed count: not used
        ]
    )
    row = calibrate_decoys(nights).set_index("period").loc["2025H2"]
    assert row["nights_with_shahed_count"] == 3
    # decoys 80 + 40 + 40 of 400: Beta(1 + 160, 1 + 240)
    assert row["decoy_share"] == pytest.approx(161 / 402)
    assert row["decoy_p05"] < row["decoy_share"] < row["decoy_p95"]
    # EW on real drones: 10 of 180 Shaheds on the nights reporting lost
    assert row["ew_real_share"] == pytest.approx(11 / 182)
    assert row["nights_with_lost_and_shahed_count"] == 2


def test_separation_reports_the_identity_and_the_ridge():
    from barrage.salvo.decoys import separation

    nights = drone_nights(
        [
            ("2025-07-14", 200, 110, 80, 120.0),
            ("2025-05-01", 100, 50, 40, np.nan),
        ]
    )
    out = separation(nights)
    assert out["lost_minus_decoys"] == [0.0]
    assert out["nights_with_lost_only"] == 1
    # lost share 0.4: a decoy share of 0.3 leaves 1/7 of real drones to EW, 0.4 none
    implied = out["implied_ew_real_by_decoy_share"]
    assert implied[0.3] == pytest.approx((0.4 - 0.3) / 0.7, abs=1e-3)
    assert implied[0.4] == 0.0


def test_statements_are_cited_and_checked_against_the_record():
    from barrage.salvo.decoys import DECOY_STATEMENTS, check_statements

    assert all(s.url.startswith("https://") and s.who and s.phrase for s in DECOY_STATEMENTS)
    nights = drone_nights([("2025-07-08", 728, 296, 415, np.nan)])
    out = check_statements(nights)
    first = out.iloc[0]
    assert first["stated_decoy_share"] == pytest.approx(0.584, abs=1e-3)
    assert first["record_lost_share"] == pytest.approx(415 / 728)


@pytest.mark.parametrize("share", [1.0, 1.5, -0.1])
def test_decoy_share_outside_0_1_is_refused(share):
    from barrage.errors import InputError
    from barrage.salvo.scenario import scenario_from_dict

    with pytest.raises(InputError, match=r"salvo\.decoy_share: "):
        scenario_from_dict(
            {
                "salvo": {"decoy_share": share, "weapons": [{"family": "shahed", "count": 5}]},
                "assets": [{"name": "a"}],
            }
        )
