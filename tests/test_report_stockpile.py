"""The report shows stock over time with intervals (issue 4), from statements made before
the assessment only."""

from __future__ import annotations

import pandas as pd

from barrage.record import load_night_totals
from barrage.report.html import REPORT_STOCK_FAMILIES, _stockpile_html
from barrage.stockpile.families import FAMILY_LABELS


def test_stockpile_section_plots_every_main_family(record_db):
    nt = load_night_totals(record_db)
    html = _stockpile_html(nt, pd.Timestamp("2025-10-01"))
    assert html.startswith("<h2>Stockpiles</h2>")
    assert html.count("plotly-graph-div") == len(REPORT_STOCK_FAMILIES)
    for family in REPORT_STOCK_FAMILIES:
        label = FAMILY_LABELS.get(family, family).replace("/", "\\u002f")  # JSON-escaped
        assert f"{label}: stock as of 2025-10-01" in html
