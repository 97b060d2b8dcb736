"""The report shows stock over time with intervals (issue 4), from statements made before
the assessment only."""

from __future__ import annotations

import pandas as pd
import pytest

from barrage.record import load_night_totals
from barrage.report.html import REPORT_STOCK_FAMILIES, _stockpile_html
from barrage.stockpile.families import FAMILY_LABELS


@pytest.fixture(scope="module")
def section(record_db) -> str:
    """The report's stockpile section of the snapshot as of 2025-10-01 (one stockpile fit,
    seconds, read by both tests)."""
    return _stockpile_html(load_night_totals(record_db), pd.Timestamp("2025-10-01"))


def test_stockpile_section_plots_every_main_family(section):
    html = section
    assert html.startswith("<h2>Stockpiles</h2>")
    assert html.count("plotly-graph-div") == len(REPORT_STOCK_FAMILIES)
    for family in REPORT_STOCK_FAMILIES:
        label = FAMILY_LABELS.get(family, family).replace("/", "\\u002f")  # JSON-escaped
        assert f"{label}: stock as of 2025-10-01" in html


def test_stockpile_section_says_whether_each_stock_grew(section):
    """Issue 16: per family and for all missiles, growing / flat / falling over the last
    90 days with the probability of growth."""
    import re

    html = section
    for family in ("attack_drones", "kh101", "iskander_m_kn23", "all_missiles"):
        assert re.search(
            rf"<tr><td>{family}</td><td>(growing|flat|falling)</td><td>[01]\.\d\d</td>", html
        ), family
    assert not re.search(r"(?<![\d,.])-0(?![\d.,])", html.split("plotly-graph-div")[0])


def test_stockpile_section_credits_every_statement_it_read(section):
    """Every public statement the fit read is listed with who said it, the publisher and
    the link; none stated on or after the as-of date is among them."""
    import re

    from barrage.stockpile.statements import load_statements

    sources = section.split("id='stockpile-sources'")[1]
    listed = re.findall(r"<tr><td>\w+</td><td>(\d{4}-\d\d-\d\d)</td>", sources)
    assert listed and all(day < "2025-10-01" for day in listed)
    assert f"Sources: the {len(listed)} public statements the stock estimate read" in section
    kirby = next(s for s in load_statements() if s.statement_id == "shahed-2023-05-kirby")
    assert f"<a href='{kirby.source_url}'>{kirby.source_publisher}</a>" in sources
    assert kirby.who_said in sources
