"""Network tables: the MATPOWER parser, pandapower import, assets, tags and bad files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barrage.errors import InputError
from barrage.grid.network import (
    PEOPLE_PER_MW,
    PRIORITY_CLASSES,
    asset_mask,
    assets,
    parse_matpower,
    read_matpower,
    read_network,
    with_load_tags,
)


@pytest.fixture(scope="module")
def pglib(shared_data):
    return shared_data / "grid" / "pglib-opf"


def _case_text(bus, gen, branch, gencost, base=100.0) -> str:
    def mat(name, rows):
        body = "\n".join("\t" + "\t".join(repr(float(v)) for v in r) + ";" for r in rows)
        return f"%% {name} data\nmpc.{name} = [\n{body}\n];\n"

    return (
        "function mpc = test\nmpc.version = '2';\n"
        f"mpc.baseMVA = {base};  % base\n"
        + mat("bus", bus)
        + mat("gen", gen)
        + mat("gencost", gencost)
        + mat("branch", branch)
    )


def test_pglib_case24_tables(pglib):
    net = read_matpower(pglib / "pglib_opf_case24_ieee_rts.m")
    assert (len(net.buses), len(net.branches), len(net.generators)) == (24, 38, 33)
    assert net.base_mva == 100.0
    assert net.loads["p_mw"].sum() == pytest.approx(2850.0)
    assert net.branches["rate_a_mw"].iloc[0] == 175.0
    assert net.reference_bus == int(np.flatnonzero(net.buses["bus_id"] == 13)[0])
    # first gencost row of the RTS: 2 0 0 3 0 130 400.6849 -> c2=0, c1=130, c0=400.6849
    g0 = net.generators.iloc[0]
    assert (g0["cost_c1_usd_per_mwh"], g0["cost_c0_usd_per_h"]) == pytest.approx((130.0, 400.6849))
    assert set(net.loads["priority_class"]) == {"other"}
    assert net.loads["population"].iloc[0] == pytest.approx(108.0 * PEOPLE_PER_MW)


@settings(max_examples=40, deadline=None)
@given(
    pd_mw=st.lists(st.floats(-50, 500, allow_nan=False), min_size=3, max_size=3),
    x=st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3),
    c=st.tuples(st.floats(0, 1), st.floats(0, 100), st.floats(0, 1000)),
)
def test_parser_round_trip(pd_mw, x, c):
    bus = [
        [i + 1, 3 if i == 0 else 1, pd_mw[i], 0, 0, 0, 1, 1, 0, 230, 1, 1.1, 0.9] for i in range(3)
    ]
    gen = [[1, 10, 0, 0, 0, 1, 100, 1, 500, 0]]
    branch = [
        [1, 2, 0, x[0], 0, 100, 0, 0, 0, 0, 1],
        [2, 3, 0, x[1], 0, 0, 0, 0, 0.98, 5, 1],
        [1, 3, 0, x[2], 0, 50, 0, 0, 0, 0, 0],
    ]
    gencost = [[2, 0, 0, 3, c[0], c[1], c[2]]]
    case = parse_matpower(_case_text(bus, gen, branch, gencost))
    np.testing.assert_array_equal(case["bus"], np.array(bus, float))
    np.testing.assert_array_equal(case["branch"], np.array(branch, float))
    np.testing.assert_array_equal(case["gencost"], np.array(gencost, float))


def test_branch_fields(tmp_path):
    bus = [[i + 1, 3 if i == 0 else 1, 10, 0, 0, 0, 1, 1, 0, 230, 1, 1.1, 0.9] for i in range(3)]
    gen = [[1, 10, 0, 0, 0, 1, 100, 1, 500, 0]]
    branch = [[1, 2, 0, 0.1, 0, 100, 0, 0, 0, 0, 1], [2, 3, 0, 0.2, 0, 0, 0, 0, 0.98, 5, 1]]
    path = tmp_path / "tiny.m"
    path.write_text(_case_text(bus, gen, branch, [[2, 0, 0, 3, 0.01, 20, 5]]))
    net = read_matpower(path)
    br = net.branches
    assert br["rate_a_mw"].tolist() == [100.0, np.inf]  # rateA 0 = unlimited
    assert br["tap"].tolist() == [1.0, 0.98]
    assert br["is_transformer"].tolist() == [False, True]
    assert net.generators["cost_c2_usd_per_mw2h"].iloc[0] == 0.01


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("hello", "no 'mpc.baseMVA"),
        ("mpc.baseMVA = 100;\nmpc.gen = [1 2 3];", "no mpc.bus"),
        ("mpc.baseMVA = 100;\nmpc.bus = [1 3 0];\n", "mpc.bus needs at least 13 columns"),
        ("mpc.baseMVA = -5;\n", "no mpc.bus"),
        # empty matrices used to raise numpy's reshape error (a traceback, exit 1)
        ("mpc.baseMVA = 100;\nmpc.a = [\n];\nmpc.bus = [ ];\n", "mpc.bus needs at least 13"),
    ],
)
def test_bad_text_names_file(tmp_path, text, fragment):
    path = tmp_path / "bad.m"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_matpower(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_bad_references_and_formats(tmp_path):
    bus = [[1, 3, 10, 0, 0, 0, 1, 1, 0, 230, 1, 1.1, 0.9]]
    gen = [[1, 10, 0, 0, 0, 1, 100, 1, 500, 0]]
    path = tmp_path / "dangling.m"
    path.write_text(
        _case_text(bus, gen, [[1, 7, 0, 0.1, 0, 100, 0, 0, 0, 0, 1]], [[2, 0, 0, 2, 1, 0]])
    )
    with pytest.raises(InputError, match="to-bus 7 is not in mpc.bus"):
        read_matpower(path)
    with pytest.raises(InputError, match="network file not found"):
        read_network(tmp_path / "missing.m")
    with pytest.raises(InputError, match="unknown network format '.csv'"):
        read_network(tmp_path / "x.csv")
    with pytest.raises(InputError, match="no bundled network named 'case999'"):
        read_network("pandapower:case999")


_BUS = [
    [1, 3, 10, 0, 0, 0, 1, 1, 0, 230, 1, 1.1, 0.9],
    [2, 1, 20, 0, 0, 0, 1, 1, 0, 230, 1, 1.1, 0.9],
]
_GEN = [[1, 10, 0, 0, 0, 1, 100, 1, 500, 0]]
_BRANCH = [[1, 2, 0, 0.1, 0, 100, 0, 0, 0, 0, 1]]
_COST = [[2, 0, 0, 3, 0.01, 20, 0]]


@pytest.mark.parametrize(
    ("matrix", "row", "col", "value", "fragment"),
    [
        ("bus", 1, 2, float("nan"), "mpc.bus row 2, column 3 (PD): expected a finite number"),
        ("bus", 0, 2, -1e300, "mpc.bus row 1, column 3 (PD): expected a finite number"),
        ("gen", 0, 8, float("inf"), "mpc.gen row 1, column 9 (PMAX): expected a finite"),
        ("bus", 1, 0, 2.5, "mpc.bus row 2, column 1 (BUS_I): expected a whole bus number"),
        ("branch", 0, 1, float("nan"), "mpc.branch row 1, column 2 (T_BUS): expected a whole"),
        ("branch", 0, 5, float("-inf"), "mpc.branch row 1, column 6 (RATE_A)"),
        ("gencost", 0, 5, float("inf"), "mpc.gencost row 1: expected finite cost coefficients"),
    ],
    ids=[
        "nan-load",
        "huge-load",
        "inf-pmax",
        "fractional-bus",
        "nan-to-bus",
        "inf-rate",
        "inf-cost",
    ],
)
def test_non_finite_numbers_are_named_by_matrix_row_and_column(
    tmp_path, matrix, row, col, value, fragment
):
    """A NaN load gave the OPF an 'Empty' model, an infinite Pmax ran for ever, bus 2.5
    became bus 2: each is now refused naming the file, matrix, row and column."""
    tables = {"bus": _BUS, "gen": _GEN, "branch": _BRANCH, "gencost": _COST}
    tables = {k: [list(r) for r in v] for k, v in tables.items()}
    tables[matrix][row][col] = value
    path = tmp_path / "case.m"
    path.write_text(_case_text(tables["bus"], tables["gen"], tables["branch"], tables["gencost"]))
    with pytest.raises(InputError, match=re.escape(f"{path}: {fragment}")):
        read_matpower(path)


def test_the_case_of_the_non_finite_tests_reads():
    """The base case of the test above is valid: each failure there is its one edit."""
    from barrage.grid.network import from_arrays

    net = from_arrays(
        name="ok", base_mva=100, bus=np.array(_BUS, float), gen=np.array(_GEN, float),
        branch=np.array(_BRANCH, float), gencost=np.array(_COST, float),
    )  # fmt: skip
    assert len(net.buses) == 2 and net.generators["pmax_mw"].iloc[0] == 500


@pytest.mark.parametrize("suffix", [".m", ".json"])
def test_network_files_are_bounded_before_reading(tmp_path, monkeypatch, pglib, suffix):
    """A 300 MB JSON was read whole and handed to pandapower; a folder was 'not found'."""
    import barrage.grid.network as network

    folder = tmp_path / f"case{suffix}"
    folder.mkdir()
    with pytest.raises(InputError, match=r"case\.\w+: not a regular file \(expected a network"):
        read_network(folder)
    path = tmp_path / f"big{suffix}"
    path.write_bytes((pglib / "pglib_opf_case24_ieee_rts.m").read_bytes())
    monkeypatch.setattr(network, "MAX_NETWORK_BYTES", 1024)
    with pytest.raises(InputError, match=r"bytes is larger than the limit of 1,024$"):
        read_network(path)


def test_pandapower_bundled_case():
    net = read_network("pandapower:case30")
    assert len(net.buses) == 30 and len(net.branches) == 41
    assert net.generators["cost_c1_usd_per_mwh"].gt(0).any()


def test_assets_and_masks(pglib):
    net = read_matpower(pglib / "pglib_opf_case24_ieee_rts.m")
    table = assets(net)
    assert len(table) == 24 + 33 + 38
    assert table["kind"].value_counts().to_dict() == {
        "line": 33,
        "plant": 33,
        "substation": 24,
        "transformer": 5,
    }
    mask = asset_mask(net, ["substation:13", "branch:2"])
    assert table["asset_id"][mask].tolist() == ["substation:13", "branch:2"]
    with pytest.raises(InputError, match="'substation:99' is not an asset"):
        asset_mask(net, ["substation:99"])


def test_load_tags(pglib):
    net = read_matpower(pglib / "pglib_opf_case24_ieee_rts.m")
    tags = pd.DataFrame(
        {
            "bus": [1, 2],
            "priority_class": ["nuclear_offsite", "hospital"],
            "region": ["north", "south"],
        }
    )
    tagged = with_load_tags(net, tags)
    row = tagged.loads.set_index("bus")
    assert row.at[1, "voll_usd_per_mwh"] == PRIORITY_CLASSES["nuclear_offsite"]
    assert row.at[2, "region"] == "south"
    assert row.at[3, "priority_class"] == "other"
    assert set(net.loads["priority_class"]) == {"other"}  # original untouched
    with pytest.raises(InputError, match="priority_class 'school'"):
        with_load_tags(net, pd.DataFrame({"bus": [1], "priority_class": ["school"]}))
    with pytest.raises(InputError, match="bus 11 has no load"):
        with_load_tags(net, pd.DataFrame({"bus": [11], "region": ["x"]}))


def test_empty_extra_matrices_are_read_as_empty(pglib):
    """Many empty ``mpc.a = [ ];`` blocks beside a real case: the case still parses."""
    text = (pglib / "pglib_opf_case24_ieee_rts.m").read_text()
    padded = text.replace("mpc.bus = [", "mpc.a = [\n];\n" * 1000 + "mpc.bus = [", 1)
    case = parse_matpower(padded, source="padded.m")
    assert case["a"].shape == (0, 0)
    assert np.array_equal(case["bus"], parse_matpower(text)["bus"])
