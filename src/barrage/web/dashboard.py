"""The dashboard page: server-rendered HTML, plotly figures, no CDN.

Every number on the page comes from the same query functions as the API
(:mod:`barrage.web.queries`); this module only lays them out.
"""

from __future__ import annotations

import html
from typing import Any

from barrage import ATTRIBUTION, __version__
from barrage.campaign import example_campaigns
from barrage.campaign.scenario import MAX_SEASON_DAYS
from barrage.errors import BarrageError
from barrage.grid.strike import example_strike_scenarios
from barrage.record import MASSIVE_MISSILES, massive_nights, nightly_by_class
from barrage.salvo import example_scenarios
from barrage.web import queries
from barrage.web.models import Assessment
from barrage.web.settings import Settings

LEVEL_CLASS = {"low": "low", "elevated": "elevated", "high": "high", "severe": "severe"}
INDICATOR_PANELS = (
    "tempo_missiles_30d",
    "tempo_attack_drone_30d",
    "days_since_event_d",
    "accumulation_missiles",
    "intercept_rate_missiles_30d",
    "probing_recon_energy_7d",
)
_PLOT_CONFIG = {"responsive": True, "displaylogo": False}


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fig_html(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_PLOT_CONFIG)


def _layout(fig, title: str, height: int = 320) -> None:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        legend={"orientation": "h", "y": -0.15},
        template="plotly_white",
        autosize=True,
    )


def banner(assessment: Assessment | BarrageError | None) -> str:
    """The warning at a glance: level, probabilities, the top drivers in sentences.

    ``assessment``: the current one (as GET /api/assessment), the error that stopped it,
    or None while the server is still computing it (the page then waits for it)."""
    a = assessment
    if a is None:
        return (
            '<section id="warning-banner" class="banner computing" data-available="computing">'
            "<h2>Warning</h2><p id='warning-computing'>Computing the current assessment "
            "(the models are refitted on the newest record; this takes a few seconds "
            "after a start or an ingest)… the page reloads when it is ready.</p></section>"
        )
    if isinstance(a, BarrageError):
        exc = a
        return (
            '<section id="warning-banner" class="banner unavailable" data-available="false">'
            f'<h2>Warning</h2><p id="warning-unavailable">Assessment unavailable: {e(exc.message)}'
            "</p></section>"
        )
    level = str(a.level)
    target = a.target.get("expression") or a.target.get("name", "")
    probs = "".join(
        f'<div class="prob"><span class="k">within {e(k)} day{"s" if k != "1" else ""}</span>'
        f'<span class="v" id="p-{e(k)}" data-p="{v!r}">{v * 100:.0f}%</span></div>'
        for k, v in sorted(a.p.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
    )
    drivers = "".join(f"<li>{e(d.sentence)}</li>" for d in a.drivers[:3])
    return (
        f'<section id="warning-banner" class="banner level-{e(LEVEL_CLASS.get(level.lower(), "other"))}" '
        f'data-available="true"><div class="level-box"><span class="k">warning level</span>'
        f'<span id="warning-level">{e(level)}</span>'
        f'<span class="asof">as of {e(a.as_of)}, target {e(target)}</span>'
        f'<span id="warning-skill" class="skill">{e(a.skill.statement)}</span></div>'
        f'<div class="probs">{probs}</div>'
        f'<div class="drivers"><h3>Why</h3><ul id="warning-drivers">{drivers}</ul></div>'
        "</section>"
    )


def timeline(con) -> str:
    """Missiles and attack drones per night, massive-strike nights marked."""
    import plotly.graph_objects as go

    wide = nightly_by_class(con, "launched", full_calendar=True)
    massive = [n for n in massive_nights(con)]
    fig = go.Figure()
    for column, name, width, colour in (
        ("attack_drone", "attack drones", 1, "#8c8c8c"),
        ("missiles", "missiles", 1.2, "#1f4e99"),
    ):
        fig.add_trace(
            go.Scatter(
                x=wide.index,
                y=wide[column],
                name=name,
                mode="lines",
                line={"width": width, "color": colour},
            )
        )
    if massive:
        import pandas as pd

        idx = pd.to_datetime(massive)
        fig.add_trace(
            go.Scatter(
                x=idx,
                y=wide.loc[idx, "missiles"],
                mode="markers",
                name=f"massive (>= {MASSIVE_MISSILES} missiles)",
                marker={"color": "#c0392b", "size": 7, "symbol": "triangle-up"},
            )
        )
    _layout(fig, "Launches per night", height=340)
    fig.update_xaxes(rangeslider={"visible": False})
    return (
        '<section id="timeline"><h2>Launches</h2>'
        f'<p class="note">{len(massive)} massive nights marked.</p>'
        f"{_fig_html(fig, 'timeline-plot')}</section>"
    )


def indicator_panels(con) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ind = queries.indicators(con, as_of=None, target=None, days=365)
    by_name = {i.name: i for i in ind.indicators}
    shown = [by_name[n] for n in INDICATOR_PANELS if n in by_name]
    fig = make_subplots(
        rows=3,
        cols=2,
        subplot_titles=[f"{i.name} ({i.unit})" for i in shown],
        vertical_spacing=0.12,
    )
    for k, i in enumerate(shown):
        fig.add_trace(
            go.Scatter(
                x=[h[0] for h in i.history],
                y=[h[1] for h in i.history],
                mode="lines",
                name=i.name,
                showlegend=False,
                line={"width": 1.2},
            ),
            row=k // 2 + 1,
            col=k % 2 + 1,
        )
    _layout(fig, f"Indicators, last {ind.days} days (as of {ind.as_of})", height=620)
    fig.update_annotations(font_size=11)
    rows = "".join(
        f"<tr><td>{e(i.name)}</td><td class='num'>"
        f"{'' if i.value is None else f'{i.value:,.3g}'}</td><td>{e(i.unit)}</td>"
        f"<td class='num'>{'' if i.percentile is None else f'{i.percentile:.0f}'}</td>"
        f"<td>{e(i.meaning)}</td></tr>"
        for i in ind.indicators
    )
    return (
        '<section id="indicators"><h2>Indicators</h2>'
        f"<p class='note'>Target: {e(ind.target_expression)}; percentile of the current value "
        "against its own history.</p>"
        f"{_fig_html(fig, 'indicator-plot')}"
        "<details><summary>All indicators</summary><div class='scroll'><table>"
        "<tr><th>indicator</th><th>value</th><th>unit</th><th>pct</th><th>meaning</th></tr>"
        f"{rows}</table></div></details></section>"
    )


def forecast_history(con) -> str:
    """Forecasts against what happened, and their reliability, from the stored backtest
    (``barrage backtest --save`` or ``barrage run``; the server never runs one)."""
    try:
        bt = queries.backtest(con, target=None)
    except BarrageError as exc:
        return (
            '<section id="history" data-available="false"><h2>Forecasts against outcomes</h2>'
            f"<p class='note' id='history-unavailable'>No backtest to show: {e(exc.message)}"
            "</p></section>"
        )
    parts = [
        f'<section id="history" data-available="true" data-run="{bt.run_id}">'
        "<h2>Forecasts against outcomes</h2>"
        f"<p class='note'>Backtest run {bt.run_id} ({e(bt.created_at)}, {e(bt.model_version)}),"
        f" origins {e(bt.start)} to {e(bt.end)}, target {e(bt.target_expression)}; model "
        f"{e(bt.primary_model)}, refitted weekly on what was known at each origin.</p>"
    ]
    if bt.verdict:
        parts.append(f"<p class='note' id='verdict'>{e(bt.verdict['sentence'])}</p>")
    parts.append(_fig_html(_history_figure(bt), "history-plot"))
    parts.append(_fig_html(_reliability_figure(bt), "reliability-plot"))
    parts.append(_history_scores_html(bt.scores))
    parts.append("</section>")
    return "".join(parts)


def _history_figure(bt) -> Any:
    """The forecast probability at each horizon (the longest shown, the others in the
    legend) with the target nights marked."""
    import plotly.graph_objects as go

    k_main = max(bt.horizons)
    fig = go.Figure()
    for k in sorted(bt.horizons):
        pts = [h for h in bt.history if h.horizon_days == k]
        fig.add_trace(
            go.Scatter(
                x=[h.as_of for h in pts],
                y=[h.p for h in pts],
                name=f"P(target night within {k} d)",
                mode="lines",
                line={"width": 1.4 if k == k_main else 0.8},
                visible=True if k == k_main else "legendonly",
            )
        )
    nights = [n for n in bt.event_nights if bt.start <= n <= bt.end]
    fig.add_trace(
        go.Scatter(
            x=nights,
            y=[1.02] * len(nights),
            mode="markers",
            name="target night",
            marker={"color": "#c0392b", "size": 8, "symbol": "line-ns-open"},
        )
    )
    _layout(fig, f"Forecast probability ({bt.primary_model}) and target nights")
    fig.update_yaxes(range=[0, 1.06], title="probability")
    return fig


def _reliability_figure(bt) -> Any:
    """Observed frequency against forecast probability, one line per horizon."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "#999"}
        )
    )
    for k, rel in sorted(bt.reliability.items(), key=lambda kv: int(kv[0])):
        fig.add_trace(
            go.Scatter(
                x=rel.forecast,
                y=rel.observed,
                mode="markers+lines",
                name=f"{k} d",
                text=[f"n={c}" for c in rel.count],
            )
        )
    _layout(fig, f"Reliability ({bt.primary_model})")
    fig.update_xaxes(title="forecast probability", range=[0, 1])
    fig.update_yaxes(title="observed frequency", range=[0, 1])
    return fig


def _history_scores_html(scores: list[dict]) -> str:
    """Every model's scores over all origins, with 90% intervals (folded; empty when
    there are none)."""

    def f(v: Any, fmt: str = ".3f") -> str:
        return "-" if v is None else format(v, fmt)

    rows = [
        f"<tr><td class='num'>{s['horizon_days']}</td><td>{e(s['model'])}</td>"
        f"<td class='num'>{f(s.get('brier'), '.4f')} ({f(s.get('brier_lo'), '.4f')}-"
        f"{f(s.get('brier_hi'), '.4f')})</td>"
        f"<td class='num'>{f(s.get('brier_skill'), '+.3f')} ({f(s.get('brier_skill_lo'), '+.3f')}"
        f", {f(s.get('brier_skill_hi'), '+.3f')})</td>"
        f"<td class='num'>{f(s.get('log_score'))}</td><td class='num'>{f(s.get('roc_auc'))}</td>"
        f"<td class='num'>{f(s.get('ece'))}</td></tr>"
        for s in scores
        if s.get("period") == "all"
    ]
    if not rows:
        return ""
    return (
        "<details><summary>Scores of every model (all origins, 90% intervals)</summary>"
        "<div class='scroll'><table id='scores'><tr><th>horizon</th><th>model</th>"
        "<th>Brier</th><th>skill vs climatology</th><th>log</th><th>AUC</th><th>ECE</th>"
        f"</tr>{''.join(rows)}</table></div></details>"
    )


def scorecard_panel(con) -> str:
    """The live track: logged forecasts scored beside the backtest, drift flagged."""
    try:
        sc = queries.scorecard(con)
    except BarrageError as exc:
        return (
            '<section id="scorecard"><h2>Live track</h2>'
            f"<p class='note' id='scorecard-unavailable'>Scorecard unavailable: {e(exc.message)}"
            "</p></section>"
        )

    def f(v: Any, fmt: str = ".3f") -> str:
        return "-" if v is None else format(v, fmt)

    rows = []
    for r in sc.rows:
        live, bt = r.get("live") or {}, r.get("backtest") or {}
        drift = {None: "-", True: "DRIFT", False: "ok"}[r.get("drift")]
        rows.append(
            f"<tr><td>{e(r['target'])}</td><td class='num'>{r['horizon_days']}</td>"
            f"<td class='num'>{r['closed']}/{r['forecasts']}</td>"
            f"<td class='num'>{f(live.get('brier'), '.4f')}</td>"
            f"<td class='num'>{f(bt.get('brier'), '.4f')} ({f(bt.get('brier_lo'), '.4f')}"
            f"-{f(bt.get('brier_hi'), '.4f')})</td>"
            f"<td class='num'>{f(live.get('log_score'))}</td>"
            f"<td class='num'>{f(live.get('hit_rate'), '.2f')}</td>"
            f"<td class='num'>{f(live.get('false_alarm_ratio'), '.2f')}</td>"
            f"<td class='drift-{e(drift.lower())}' title='{e(r.get('drift_note', ''))}'>"
            f"{e(drift)}</td></tr>"
        )
    body = (
        "<table id='scorecard-table'><tr><th>target</th><th class='num'>horizon (d)</th>"
        "<th class='num'>closed/all</th><th class='num'>live Brier</th>"
        "<th class='num'>backtest Brier (90%)</th><th class='num'>log</th>"
        "<th class='num'>hit</th><th class='num'>FAR</th>"
        f"<th>drift</th></tr>{''.join(rows)}</table>"
        if rows
        else "<p class='note' id='scorecard-empty'>No forecast logged yet: run "
        "<code>barrage update</code> daily (see docs/live.md).</p>"
    )
    return (
        f'<section id="scorecard" data-drift="{str(sc.drift).lower()}"><h2>Live track</h2>'
        f"<p class='note'>{sc.log_entries} forecasts logged "
        f"({e(', '.join(sc.model_versions) or 'none')}); outcomes known to "
        f"{e(sc.last_known_day or '-')}. Drift: {e(sc.drift_rule)}.</p>{body}</section>"
    )


def simulation_form(settings: Settings) -> str:
    """Run a salvo (what gets through) or a strike (what the grid loses) as a job."""
    options = [("salvo", n) for n in example_scenarios()]
    options += [("strike", n) for n in sorted(example_strike_scenarios())]
    kinds = [k for k in ("salvo", "strike") if any(o[0] == k for o in options)]
    kind_options = "".join(f"<option value='{k}'>{k}</option>" for k in kinds)
    scenario_options = "".join(
        f"<option value='{e(n)}' data-kind='{k}'{' hidden disabled' if k != 'salvo' else ''}>"
        f"{e(n)}</option>"
        for k, n in options
    )
    return (
        '<section id="simulation"><h2>What if: simulate a salvo or a strike</h2>'
        "<p class='note'>A salvo job gives the leakers (weapons through the defence); a "
        "strike job puts the salvo on a test grid (PGLib-OPF) and gives the unserved "
        "energy while it is repaired. Illustrative: the shipped scenarios' defence layers "
        "and grid sites are stated assumptions on public test networks, not an order of "
        "battle or a target list.</p>"
        '<form id="sim-form" autocomplete="off">'
        f"<label>Kind <select name='kind' id='sim-kind'>{kind_options}</select></label>"
        f"<label>Scenario <select name='scenario' id='sim-scenario'>{scenario_options}"
        "</select></label>"
        f"<label>Runs <input type='number' name='runs' id='sim-runs' value='2000' min='1' "
        f"max='{settings.max_runs}' step='1' data-max-salvo='{settings.max_runs}' "
        f"data-max-strike='{settings.max_strike_runs}'></label>"
        "<label>Seed <input type='number' name='seed' id='sim-seed' value='0' min='0'></label>"
        "<button type='submit' id='sim-submit'>Run</button>"
        "<button type='button' id='sim-cancel' disabled>Cancel</button></form>"
        "<div id='sim-status' class='note' aria-live='polite'></div>"
        "<progress id='sim-progress' max='1' value='0' hidden></progress>"
        "<div id='sim-result'></div>"
        "</section>"
    )


def campaign_panel(settings: Settings) -> str:
    """Run a small campaign as a job and draw its fan charts (drawn in the browser from
    GET /api/jobs/{id}/figures: the report's own figures)."""
    options = "".join(
        f"<option value='{e(n)}'>{e(n)}</option>" for n in sorted(example_campaigns())
    )
    limit = settings.max_campaign_run_days
    return (
        '<section id="campaign"><h2>A winter campaign: fan charts (illustrative)</h2>'
        "<p class='note'>Strike after strike over a season on the stylised national system: "
        "hours without power for an average customer, each tracked air-defence layer's "
        "interceptors and the attacker's stock, day by day (band: 5th to 95th percentile of "
        "runs; median, mean and CVaR95, the mean of the worst 5%). Stated assumptions, no "
        f"real inventories (docs/campaign.md). At most {limit:,} runs x days per job.</p>"
        '<form id="camp-form" autocomplete="off">'
        f"<label>Scenario <select name='scenario' id='camp-scenario'>{options}</select></label>"
        "<label>Runs <input type='number' name='runs' id='camp-runs' value='40' min='1' "
        f"max='{limit}' step='1'></label>"
        "<label>Days <input type='number' name='days' id='camp-days' value='150' min='1' "
        f"max='{MAX_SEASON_DAYS}' step='1'></label>"
        "<label>Seed <input type='number' name='seed' id='camp-seed' value='0' min='0'></label>"
        "<button type='submit' id='camp-submit'>Run</button></form>"
        "<div id='camp-status' class='note' aria-live='polite'></div>"
        "<progress id='camp-progress' max='1' value='0' hidden></progress>"
        "<div id='camp-figures'></div></section>"
    )


def render(con, settings: Settings, assessment: Assessment | BarrageError | None) -> str:
    """The page; ``assessment`` as for :func:`banner` (the app computes and caches it)."""
    sections = [
        banner(assessment),
        timeline(con),
        indicator_panels(con),
        forecast_history(con),
        scorecard_panel(con),
        simulation_form(settings),
        campaign_panel(settings),
    ]
    return _page("".join(sections))


def render_error(message: str) -> str:
    return _page(
        f"<section class='banner unavailable'><h2>Store unavailable</h2>"
        f"<p id='store-error'>{e(message)}</p></section>"
    )


def _page(body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>barrage: strike warning</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/plotly.min.js"></script>
</head><body>
<header><h1>barrage</h1><span class="sub">massive-strike warning and what-if simulation for
Ukraine's power system, from public data</span>
<nav><a href="/docs">API</a> <a href="/redoc">ReDoc</a> <a href="/openapi.json">OpenAPI</a> <a href="/health">health</a></nav>
</header>
<main>{body}</main>
<footer><p id="attribution">{e(ATTRIBUTION)}</p><p>barrage {e(__version__)}</p></footer>
<script src="/static/dashboard.js"></script>
</body></html>"""
