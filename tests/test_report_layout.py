"""The report reads top-down for an analyst: the answer first, every axis titled with its
unit, every mark in a legend, missiles visible beside drones, the reliability chart of
the primary and the baselines only with the count of each bin, long tables folded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barrage.indicators.features import INDICATORS
from barrage.report.html import PANEL_INDICATORS, _fold, _indicators, _reliability, _timeline
from barrage.warning.models import BASELINES, PRIMARY_MODEL


def _axis_titles(fig) -> dict[str, str]:
    layout = fig.to_plotly_json()["layout"]
    return {
        k: (v.get("title") or {}).get("text", "")
        for k, v in layout.items()
        if k.startswith(("xaxis", "yaxis"))
    }


def _synthetic_forecasts(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=n, freq="D")
    y = rng.random(n) < 0.2
    rows = []
    for model in dict.fromkeys((*BASELINES, PRIMARY_MODEL, "gbm", "hawkes", "ensemble")):
        p = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.1, n), 0, 1)
        rows.append(pd.DataFrame({"as_of": days, "model": model, "horizon_days": 7,
                                  "p": p, "outcome": y.astype(float)}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_reliability_shows_primary_and_baselines_with_bin_counts():
    fc = _synthetic_forecasts()
    fig = _reliability(fc, 7)
    names = [t.name for t in fig.data if t.name != "perfect"]
    assert names[0] == f"{PRIMARY_MODEL} (primary)"
    shown = {n.split(" ")[0] for n in names}
    assert shown == {PRIMARY_MODEL, *BASELINES}  # gbm, hawkes, ensemble left to the tables
    for t in fig.data[1:]:
        counts = [int(c) for c in t.text]
        assert sum(counts) == 400 and "text" in t.mode
    titles = _axis_titles(fig)
    assert titles["xaxis"] and titles["yaxis"]


def test_timeline_puts_missiles_on_their_own_axis():
    days = pd.date_range("2025-01-01", periods=60, freq="D")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "attack_drone": rng.integers(50, 700, 60),
            "cruise_missile": rng.integers(0, 40, 60),
            "ballistic_missile": rng.integers(0, 10, 60),
        },
        index=days,
    )
    frame["missiles"] = frame["cruise_missile"] + frame["ballistic_missile"]
    ev = frame["missiles"].to_numpy() > 30
    fig = _timeline(frame, ev)
    axis = {t.name: t.yaxis for t in fig.data if t.type == "bar"}
    assert axis["attack drones"] != axis["cruise missiles"] == axis["ballistic missiles"]
    titles = _axis_titles(fig)
    assert titles["yaxis"] == "attack drones per night"
    assert titles["yaxis2"] == "missiles per night"
    assert "date" in titles["xaxis2"]
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert "target night (massive strike)" in legend


def test_indicator_panels_say_what_they_measure_in_which_unit():
    days = pd.date_range("2025-01-01", periods=30, freq="D")
    ind = pd.DataFrame({c: np.arange(30.0) for c in PANEL_INDICATORS}, index=days)
    fig = _indicators(ind)
    panel_titles = [a.text for a in fig.layout.annotations]
    assert panel_titles == [INDICATORS[c].meaning for c in PANEL_INDICATORS]
    assert not any(c in panel_titles for c in PANEL_INDICATORS)  # no code names
    titles = _axis_titles(fig)
    y = [titles[k] for k in sorted(titles) if k.startswith("yaxis")]
    assert sorted(y) == sorted(INDICATORS[c].unit for c in PANEL_INDICATORS)


def test_stockpile_chart_marks_are_one_labelled_trace(record_db):
    from barrage.record import load_night_totals
    from barrage.stockpile import load_statements
    from barrage.stockpile.families import family_launches, massive_night_dates
    from barrage.stockpile.figures import stock_figure
    from barrage.stockpile.model import StockpileModel

    nt = load_night_totals(record_db)
    model = StockpileModel(seed=0).fit(
        family_launches(nt),
        load_statements(),
        as_of=pd.Timestamp("2025-10-01"),
        massive_nights=massive_night_dates(nt),
        families=["kh101"],
    )
    fig = stock_figure(model, "kh101")
    assert not fig.layout.shapes  # no unlabelled lines
    marks = [t for t in fig.data if t.name and "massive strike night" in t.name]
    assert len(marks) == 1 and marks[0].showlegend is not False
    credit = fig.layout.annotations[0]
    assert credit.yshift <= -50 and fig.layout.margin.b >= 90  # below the axis title


@pytest.mark.parametrize("rows", [130])
def test_long_tables_fold(rows):
    body = "<table>" + "<tr><td>x</td></tr>" * rows + "</table>"
    folded = _fold("Scores table", body)
    assert folded.startswith("<details><summary>Scores table</summary>")
    assert folded.endswith("</details>")
