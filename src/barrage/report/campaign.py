"""Fan charts of a campaign summary (``barrage simulate campaign --html``): one HTML file.

Reads only the JSON summary (:func:`barrage.campaign.summarise_campaign`), so a saved
``--json`` output can be drawn again. plotly.js is embedded once; the file opens offline.
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path

from barrage import ATTRIBUTION


def fan_figure(dates: list[str], fan: dict, *, title: str, y_title: str):
    """A 90% band (p05-p95), the median and the mean of a per-day series."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=dates, y=fan["p95"], line={"width": 0}, name="p95", showlegend=False)
    fig.add_scatter(
        x=dates, y=fan["p05"], fill="tonexty", line={"width": 0}, name="90% of runs (p05-p95)",
        fillcolor="rgba(31,119,180,0.25)",
    )  # fmt: skip
    fig.add_scatter(x=dates, y=fan["p50"], name="median", line={"color": "rgb(31,119,180)"})
    fig.add_scatter(x=dates, y=fan["mean"], name="mean", line={"dash": "dot", "color": "black"})
    if "cvar95" in fan:
        worst = "highest" if fan.get("cvar95_tail", "high") == "high" else "lowest"
        fig.add_scatter(
            x=dates, y=fan["cvar95"], name=f"CVaR95 (mean of the {worst} 5%)",
            line={"dash": "dash", "color": "rgb(214,39,40)"},
        )  # fmt: skip
    fig.update_layout(title=title, height=360, xaxis_title="date", yaxis_title=y_title)
    return fig


_PACKAGE_COLOURS = ("rgb(31,119,180)", "rgb(255,127,14)", "rgb(44,160,44)", "rgb(148,103,189)")


def packages_figure(dates: list[str], fans: dict[str, dict], *, title: str, y_title: str):
    """Several campaigns' per-day series on one chart (a defence package each): the
    median solid and CVaR95 dashed in the package's colour (bands would hide each other)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    colours = itertools.cycle(_PACKAGE_COLOURS)  # more packages than colours: reuse
    for (name, fan), colour in zip(fans.items(), colours, strict=False):
        fig.add_scatter(x=dates, y=fan["p50"], name=f"{name}: median", line={"color": colour})
        fig.add_scatter(
            x=dates, y=fan["cvar95"], name=f"{name}: CVaR95",
            line={"color": colour, "dash": "dash", "width": 1},
        )  # fmt: skip
    fig.update_layout(title=title, height=400, xaxis_title="date", yaxis_title=y_title)
    return fig


def campaign_figures(summary: dict) -> list:
    """Hours without power, each tracked layer's interceptors, the attacker's stock."""
    d = summary["dates"]
    figs = [
        fan_figure(
            d, summary["hours_without_power_per_day"]["by_day"],
            title="Hours without power per day, average customer", y_title="hours per day",
        )
    ]  # fmt: skip
    for name, layer in summary["interceptors"].items():
        figs.append(
            fan_figure(d, layer["stock"], title=f"Interceptors: {name}", y_title="in stock")
        )
    figs.append(
        fan_figure(
            d, summary["attacker_stock"], title="Attacker stock", y_title="weapons of the mix"
        )
    )
    return figs


def campaign_figures_json(summary: dict) -> str:
    """:func:`campaign_figures` as one JSON list of plotly figures (``data``, ``layout``),
    for a page that draws them with ``Plotly.newPlot`` (the dashboard)."""
    import plotly.io

    figures = [plotly.io.to_json(f, validate=False) for f in campaign_figures(summary)]
    return "[" + ",".join(figures) + "]"


def campaign_section_html(summary: dict | None) -> str:
    """The report's campaign section: the fan charts of a saved ``simulate campaign
    --json`` summary (plotly.js is already on the report's page); empty without one."""
    if not summary:
        return ""
    head = html.escape(f"{summary['name']}: {summary['runs']} runs from {summary['start']}, "
                       f"{summary['days']} days")  # fmt: skip
    divs = "".join(
        f.to_html(full_html=False, include_plotlyjs=False) for f in campaign_figures(summary)
    )
    return (
        f"<h2>A campaign over the season (illustrative)</h2><p>{head}. Bands: 5th to 95th "
        "percentile of runs, day by day; CVaR95: the worst 5% of runs that day "
        "(docs/campaign.md).</p>" + divs
    )


def write_campaign_report(summary: dict, path: str | Path) -> Path:
    """Write the fan charts of ``summary`` to ``path`` (one self-contained HTML file)."""
    from plotly.offline import get_plotlyjs

    path = Path(path)
    divs = "\n".join(
        f.to_html(full_html=False, include_plotlyjs=False) for f in campaign_figures(summary)
    )
    head = html.escape(f"{summary['name']}: {summary['runs']} runs from {summary['start']}, "
                       f"{summary['days']} days")  # fmt: skip
    body = (
        f"<h1>{head}</h1><p><b>Illustrative</b>: a stylised system and stated assumptions "
        "(docs/campaign.md). Bands: 5th to 95th percentile of runs, day by day.</p>"
        f"{divs}<p><small>{html.escape(ATTRIBUTION)}</small></p>"
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>barrage campaign</title>"
        f"<script>{get_plotlyjs()}</script></head><body>{body}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
