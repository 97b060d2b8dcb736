"""Launches per stock family: combined rows split by same-month single launches, conserved."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from barrage.record import load_night_totals
from barrage.stockpile import STOCK_FAMILIES, family_launches, massive_night_dates
from barrage.stockpile.model import interp_weights


def _nt(rows):
    return pd.DataFrame(rows, columns=["night", "weapon_class", "family", "launched"]).assign(
        night=lambda d: pd.to_datetime(d["night"])
    )


def test_combined_row_split_in_proportion_to_single_launches_that_month():
    nt = _nt([
        ("2024-03-01", "cruise_missile", "kh101", 30.0),
        ("2024-03-05", "cruise_missile", "kalibr", 10.0),
        ("2024-03-09", "cruise_missile", "kh101+kalibr", 40.0),
        ("2024-04-02", "cruise_missile", "kalibr", 10.0),  # another month: no weight in March
    ])  # fmt: skip
    wide = family_launches(nt)
    assert wide.loc["2024-03-09", "kh101"] == 30.0
    assert wide.loc["2024-03-09", "kalibr"] == 10.0
    assert wide[["kh101", "kalibr"]].to_numpy().sum() == 30 + 10 + 40 + 10


def test_equal_split_without_single_launches_and_parts_outside_stocks_dropped():
    nt = _nt([
        ("2024-05-01", "cruise_missile", "kh101+kalibr", 10.0),
        ("2024-05-01", "ballistic_missile", "s300_or_s400", 30.0),
        ("2024-05-01", "ballistic_missile", "iskander_m", 10.0),
        ("2024-05-02", "ballistic_missile", "s300_or_s400+iskander_m", 20.0),
    ])  # fmt: skip
    wide = family_launches(nt)
    assert wide.loc["2024-05-01", "kh101"] == 5.0
    assert wide.loc["2024-05-01", "kalibr"] == 5.0
    # S-300/400 is not a stock family: its 3/4 share is dropped, Iskander-M keeps 1/4
    assert wide.loc["2024-05-02", "iskander_m_kn23"] == 5.0
    assert list(wide.columns) == list(STOCK_FAMILIES)
    assert (wide["decoys"] == 0).all()


def test_real_record_split_conserves_every_count(record_db: Path):
    nt = load_night_totals(record_db)
    wide = family_launches(nt)
    included = {rf for parts in STOCK_FAMILIES.values() for rf in parts}
    parts_in = nt["family"].map(lambda f: [p in included for p in f.split("+")])
    all_in = nt.loc[parts_in.map(all), "launched"].sum()
    any_in = nt.loc[parts_in.map(any), "launched"].sum()
    # rows wholly inside stocks are kept whole; mixed rows (S-300 + Iskander-M, Shahed +
    # Lancet) give only their stock parts' share: never more than the row
    assert all_in < wide.to_numpy().sum() < any_in
    years = wide.groupby(wide.index.year).sum()
    assert years.loc[2024, "kinzhal"] == 81.0  # 79 alone + the Kinzhal share of one group
    # single-family rows are untouched: Shahed + unknown UAV by night
    drones = nt[nt["family"].isin(["shahed", "unknown_uav"])].groupby("night")["launched"].sum()
    assert wide["attack_drones"].max() == drones.max() == 817.0
    assert len(massive_night_dates(nt)) == 57


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-50, 500), min_size=1, max_size=30))
def test_interpolation_weights_are_a_partition_of_unity(days):
    knots = np.array([0.0, 91.0, 182.0, 273.0])
    w = interp_weights(np.array(days), knots)
    assert np.allclose(w.sum(axis=1), 1.0)
    assert (w >= 0).all()


def test_stockpile_imports_only_record_below_it():
    pkg = Path(__file__).resolve().parents[1] / "src" / "barrage" / "stockpile"
    allowed = {
        "barrage.stockpile",
        "barrage.record",
        "barrage.errors",
        "barrage.files",
        "barrage.budget",
        "barrage",
    }
    for path in pkg.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("barrage")
            ):
                root = ".".join(node.module.split(".")[:2])
                assert root in allowed, f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert not a.name.startswith("barrage.") or a.name.split(".")[1] in (
                        "stockpile", "record", "errors", "files", "budget",
                    ), f"{path.name} imports {a.name}"  # fmt: skip
