"""The prior table: every sourced statement kept with its citation, user overrides, errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from barrage.errors import InputError
from barrage.stockpile import STOCK_FAMILIES, load_statements, packaged_statements
from barrage.stockpile.statements import Statement

HEADER = "statement_id,family,metric,kind,coverage,low,high,stated_on,refers_from,refers_to,use\n"


def test_every_shared_statement_is_in_the_package_with_its_citation(shared_data: Path):
    rows = list(csv.DictReader((shared_data / "production" / "production_estimates.csv").open()))
    packaged = packaged_statements()
    cited = {(s.weapon_as_reported, s.date_as_reported, s.key_phrase) for s in packaged}
    missing = [
        r for r in rows if (r["weapon"], r["date_as_reported"], r["key_phrase"]) not in cited
    ]
    assert missing == []
    for s in packaged:
        assert s.source_publisher and s.who_said and (s.source_url or s.source_title)


def test_used_statements_map_to_stock_families_and_are_stated_after_what_they_describe():
    for s in load_statements():
        if s.use:
            assert s.family in STOCK_FAMILIES
        assert (s.refers_from or s.refers_to) <= s.refers_to
        # a statement cannot describe a time after it was made, except a plan
        if s.kind != "plan" and s.metric == "stockpile":
            assert s.refers_to <= s.stated_on


def test_the_record_has_no_decoy_launches_but_decoy_statements_exist():
    fams = {s.family for s in load_statements() if s.use}
    assert "decoys" in fams
    assert STOCK_FAMILIES["decoys"] == ()


def test_user_file_adds_and_overrides(tmp_path: Path):
    f = tmp_path / "mine.csv"
    f.write_text(
        HEADER + "kh101-2023-04-csis,kh101,monthly_production,estimate,family,50,60,2023-04-14,"
        "2023-03-01,2023-04-14,yes\n"
        + "my-kalibr-stock,kalibr,stockpile,estimate,family,100,150,2024-05-01,,2024-05-01,yes\n"
    )
    base = {s.statement_id: s for s in load_statements()}
    mine = {s.statement_id: s for s in load_statements(f)}
    assert len(mine) == len(base) + 1
    assert base["kh101-2023-04-csis"].low == 30.0
    assert mine["kh101-2023-04-csis"].low == 50.0
    assert mine["my-kalibr-stock"].refers_from is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,kh101,monthly_production,estimate,family,60,50,2023-04-14,2023-03-01,2023-04-14,yes",
         "line 2 (statement 'x'): Value error, need 0 <= low <= high, got low=60.0"),
        ("x,kh101,monthly_rate,estimate,family,5,6,2023-04-14,2023-03-01,2023-04-14,yes",
         "line 2 (statement 'x'): metric"),
        ("x,kh101,stockpile,estimate,family,5,6,2023-13-14,,2023-04-14,yes",
         "line 2 (statement 'x'): stated_on"),
        ("x,drones,stockpile,estimate,family,5,6,2023-04-14,,2023-04-14,yes",
         "statement 'x': family 'drones' is not one of attack_drones"),
        ("x,kh101,stockpile,upper_bound,part,5,6,2023-04-14,,2023-04-14,yes",
         "coverage part"),
    ],
)  # fmt: skip
def test_bad_user_rows_name_line_and_field(tmp_path: Path, row: str, message: str):
    f = tmp_path / "bad.csv"
    f.write_text(HEADER + row + "\n")
    with pytest.raises(InputError) as err:
        load_statements(f)
    assert message in err.value.message
    assert str(f) in err.value.message or "statement 'x'" in err.value.message


def test_missing_file_and_missing_columns(tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        load_statements(tmp_path / "nope.csv")
    f = tmp_path / "cols.csv"
    f.write_text("statement_id,family\nx,kh101\n")
    with pytest.raises(InputError, match="missing column"):
        load_statements(f)


def test_statement_model_rejects_negative_sd_extra():
    with pytest.raises(ValueError, match="sd_extra"):
        Statement(statement_id="x", family="kh101", metric="stockpile", kind="estimate",
                  low=1, high=2, stated_on="2024-01-01", refers_to="2024-01-01", sd_extra=-1)  # fmt: skip
