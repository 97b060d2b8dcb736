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
         "line 3 (statement 'x'): low: 60.0 is above high 50.0: expected low <= high"),
        ("x,kh101,monthly_production,estimate,family,about 5,6,2023-04-14,2023-03-01,2023-04-14,yes",
         "line 3 (statement 'x'): low: Input should be a valid number"),
        ("x,kh101,monthly_rate,estimate,family,5,6,2023-04-14,2023-03-01,2023-04-14,yes",
         "line 3 (statement 'x'): metric"),
        ("x,kh101,stockpile,estimate,family,5,6,2023-13-14,,2023-04-14,yes",
         "line 3 (statement 'x'): stated_on"),
        ("x,kh101,stockpile,estimate,family,5,6,2023-04-14,,2021-04-14,yes",
         "line 3 (statement 'x'): refers_to: 2021-04-14 is outside the record's era: expected "
         "a date from 2022-02-24"),
        ("x,drones,stockpile,estimate,family,5,6,2023-04-14,,2023-04-14,yes",
         "line 3 (statement 'x'): family: 'drones' is not one of attack_drones"),
        ("x,kh101,stockpile,upper_bound,part,5,6,2023-04-14,,2023-04-14,yes",
         "line 3 (statement 'x'): coverage: a ceiling on part of a family bounds nothing"),
        # NaN passed every check (exit 0); NaN or inf in high was a scipy traceback
        ("x,kh101,stockpile,estimate,family,nan,6,2023-04-14,,2023-04-14,yes",
         "line 3 (statement 'x'): low: Input should be a finite number (got 'nan')"),
        ("x,kh101,stockpile,estimate,family,5,inf,2023-04-14,,2023-04-14,yes",
         "line 3 (statement 'x'): high: Input should be a finite number (got 'inf')"),
        # the same id twice: the second silently replaced the first
        ("ok,kalibr,stockpile,estimate,family,100,150,2024-05-01,,2024-05-01,yes",
         "line 3 (statement 'ok'): statement_id: 'ok' is given 2 times: expected each id once"),
    ],
)  # fmt: skip
def test_bad_user_rows_name_line_and_field(tmp_path: Path, row: str, message: str):
    f = tmp_path / "bad.csv"
    good = "ok,kalibr,stockpile,estimate,family,100,150,2024-05-01,,2024-05-01,yes\n"
    f.write_text(HEADER + good + row + "\n")
    with pytest.raises(InputError) as err:
        load_statements(f)
    assert message in err.value.message
    assert err.value.message.startswith(f"{f} line 3 (statement ")
    assert "\n" not in err.value.message


def test_a_bad_row_loads_nothing_and_the_fit_refuses_a_period_before_the_record(
    tmp_path: Path,
):
    """Nothing half-loaded: the good row before the bad one is not returned either; a
    statement wholly before the record's first night names its row and field at fit time
    (it used to be dropped silently)."""
    import pandas as pd

    from barrage.stockpile import StockpileModel

    f = tmp_path / "mixed.csv"
    f.write_text(
        HEADER
        + "ok,kalibr,stockpile,estimate,family,100,150,2024-05-01,,2024-05-01,yes\n"
        + "bad,kalibr,stockpile,estimate,family,1x,150,2024-05-01,,2024-05-01,yes\n"
    )
    result = None
    with pytest.raises(InputError):
        result = load_statements(f)
    assert result is None
    early = tmp_path / "early.csv"
    early.write_text(
        HEADER + "early,kalibr,stockpile,estimate,family,100,150,2022-06-01,,2022-05-01,yes\n"
    )
    days = pd.date_range("2022-09-27", "2023-03-01", freq="D")
    launches = pd.DataFrame(1.0, index=days, columns=list(STOCK_FAMILIES))
    with pytest.raises(InputError) as err:
        StockpileModel(n_samples=100).fit(
            launches, load_statements(early), as_of="2023-03-01", families=["kalibr"]
        )
    assert err.value.message.startswith(
        f"{early} line 2 (statement 'early'): refers_to: 2022-05-01 is before the record's "
        "first night 2022-09-27"
    )


def test_a_file_that_is_not_utf8_or_too_large_is_one_line(tmp_path: Path, monkeypatch):
    """Binary junk was a UnicodeDecodeError traceback; the size was not bounded."""
    import barrage.stockpile.statements as statements

    f = tmp_path / "bad.csv"
    f.write_bytes(HEADER.encode() + b"\xd0\x00junk\n")
    with pytest.raises(InputError, match=r"bad.csv: not UTF-8 text \(byte 0xd0 at line 2\)$"):
        load_statements(f)
    f.write_text(HEADER + "#" * 2048)
    monkeypatch.setattr(statements, "MAX_STATEMENTS_BYTES", 1024)
    with pytest.raises(InputError, match=r"larger than the limit of 1,024$"):
        load_statements(f)


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
