"""One HTML file: timeline, indicators, backtest forecasts, reliability, scores, credit.

plotly.js is embedded once (``plotly.offline.get_plotlyjs()``) so the file opens offline.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from barrage import ATTRIBUTION
from barrage.indicators import Hooks, event_flags, indicator_frame
from barrage.indicators.features import INDICATORS
from barrage.report.campaign import campaign_section_html
from barrage.salvo import example_scenarios, load_scenario
from barrage.salvo.saturation import curve_figure, leak_rate_curve, saturation_onset
from barrage.stockpile import STOCK_ESTIMABLE, load_statements
from barrage.stockpile.checks import stock_trend
from barrage.stockpile.families import family_launches, massive_night_dates
from barrage.stockpile.figures import stock_figure
from barrage.stockpile.model import StockpileModel
from barrage.warning.assess import assess
from barrage.warning.evaluate import REFERENCE_MODEL, launch_scores, periods, score_table
from barrage.warning.models import BASELINES, PRIMARY_MODEL
from barrage.warning.registration import REGISTRATION
from barrage.warning.scores import reliability_table
from barrage.warning.verdict import verdict

PANEL_INDICATORS = (
    "days_since_event_d",
    "tempo_missiles_30d",
    "tempo_attack_drone_30d",
    "accumulation_missiles",
    "intercept_rate_missiles_30d",
    "salvo_size_last",
)


def _div(fig, div_id: str | None = None) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)


def _section(section_id: str, title: str, body: str) -> str:
    return f"<section id='{section_id}'><h2>{html.escape(title)}</h2>{body}</section>"


def _fold(summary: str, body: str) -> str:
    """A long table folded: its title shows, a click opens it."""
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def _timeline(frame: pd.DataFrame, ev: np.ndarray):
    """Launches per night: attack drones above, missiles below on their own axis (stacked
    on one axis, tens of missiles vanish under hundreds of drones)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    rows = (
        ("attack_drone", "attack drones", 1),
        ("cruise_missile", "cruise missiles", 2),
        ("ballistic_missile", "ballistic missiles", 2),
    )
    for col, name, row in rows:
        fig.add_bar(x=frame.index, y=frame[col], name=name, row=row, col=1)
    for row, col in ((1, "attack_drone"), (2, "missiles")):
        fig.add_scatter(
            x=frame.index[ev],
            y=frame[col].to_numpy()[ev],
            mode="markers",
            marker={"symbol": "triangle-down", "size": 8, "color": "red"},
            name="target night (massive strike)",
            legendgroup="target",
            showlegend=row == 1,
            row=row,
            col=1,
        )
    fig.update_layout(barmode="stack", title="Launches per night by class", height=520)
    fig.update_yaxes(title_text="attack drones per night", row=1, col=1)
    fig.update_yaxes(title_text="missiles per night", row=2, col=1)
    fig.update_xaxes(title_text="night (date)", row=2, col=1)
    return fig


def _indicators(ind: pd.DataFrame):
    """One panel an indicator, titled with what it means, its unit on the y axis."""
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=len(PANEL_INDICATORS),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[INDICATORS[c].meaning for c in PANEL_INDICATORS],
        vertical_spacing=0.045,
    )
    for i, c in enumerate(PANEL_INDICATORS, start=1):
        fig.add_scatter(x=ind.index, y=ind[c], name=c, row=i, col=1, showlegend=False)
        fig.update_yaxes(title_text=INDICATORS[c].unit, row=i, col=1)
    fig.update_xaxes(title_text="forecast date", row=len(PANEL_INDICATORS), col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(
        height=190 * len(PANEL_INDICATORS),
        title="Indicators (as of each date; one line a panel, titled with its meaning)",
    )
    return fig


def _forecast(fc: pd.DataFrame, horizon: int):
    import plotly.graph_objects as go

    g = fc[fc["horizon_days"] == horizon]
    fig = go.Figure()
    # the primary (the assessment's probability) drawn bold; the others one click away
    shown = (PRIMARY_MODEL, REFERENCE_MODEL)
    models = [m for m in shown if m in set(g["model"])]
    models += [m for m in dict.fromkeys(g["model"]) if m not in shown]
    for model in models:
        s = g[g["model"] == model]
        primary = model == PRIMARY_MODEL
        fig.add_scatter(
            x=s["as_of"],
            y=s["p"],
            name=f"{model} (primary)" if primary else model,
            mode="lines",
            line={"width": 2.2 if primary else 1.0},
            visible=True if model in shown else "legendonly",
        )
    s = g[g["model"] == "climatology"].dropna(subset=["outcome"])
    hit = s[s["outcome"] == 1]
    fig.add_scatter(
        x=hit["as_of"],
        y=np.full(len(hit), 1.02),
        mode="markers",
        name="event followed",
        marker={"symbol": "line-ns-open", "size": 8, "color": "red"},
    )
    fig.update_layout(
        title=f"Backtest: {horizon}-day probability against what happened",
        xaxis_title="forecast date (origin)",
        yaxis={"range": [0, 1.05], "title": f"probability of a target night within {horizon} d"},
        height=380,
    )
    return fig


def _reliability(fc: pd.DataFrame, horizon: int):
    """Reliability of the primary and the naive baselines only (the other models are in
    the tables), each bin labelled with its count of origins: a bin of 9 is noise."""
    import plotly.graph_objects as go

    g = fc[(fc["horizon_days"] == horizon)].dropna(subset=["outcome"])
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="perfect"
    )
    for model in (PRIMARY_MODEL, *[b for b in BASELINES if b != PRIMARY_MODEL]):
        s = g[g["model"] == model]
        if s.empty:
            continue
        rt = reliability_table(s["p"].to_numpy(), s["outcome"].to_numpy())
        primary = model == PRIMARY_MODEL
        fig.add_scatter(
            x=rt["forecast"],
            y=rt["observed"],
            mode="lines+markers+text",
            name=f"{model} (primary)" if primary else f"{model} (baseline)",
            text=[f"{c}" for c in rt["count"]],
            textposition="top center",
            textfont={"size": 9},
            line={"width": 2.5 if primary else 1.0},
            hovertemplate="forecast %{x:.2f}, observed %{y:.2f}, %{text} origins",
        )
    fig.update_layout(
        title=f"Reliability, {horizon}-day horizon (labels: origins in each bin)",
        xaxis_title="forecast probability (bin mean)",
        yaxis_title="observed frequency of a target night",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1.05],
        height=440,
    )
    return fig


def _num(v, spec: str, missing: str = "-") -> str:
    """A table cell: ``missing`` where a score is undefined (no warning issued, one class)."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return missing
    return format(v, spec)


def _score_html(scores: pd.DataFrame) -> str:
    keep = scores[scores["period"].isin(["all", "last_24m", "last_12m"])]
    head = (
        "<tr><th>horizon</th><th>period</th><th>model</th><th>Brier</th>"
        "<th>skill vs climatology (90% CI)</th><th>log</th><th>AUC</th><th>AP</th>"
        "<th>ECE</th><th>hit rate</th><th>FAR</th><th>mean lead (d)</th></tr>"
    )
    body = []
    for r in keep.itertuples():
        body.append(
            f"<tr><td>{r.horizon_days}</td><td>{r.period}</td><td>{html.escape(r.model)}</td>"
            f"<td>{r.brier:.4f}</td><td>{r.brier_skill:+.3f} ({r.brier_skill_lo:+.3f}, "
            f"{r.brier_skill_hi:+.3f})</td><td>{r.log_score:.3f}</td><td>{_num(r.roc_auc, '.3f')}"
            f"</td><td>{_num(r.average_precision, '.3f')}</td><td>{r.ece:.3f}</td>"
            f"<td>{_num(r.warn_hit_rate, '.2f')}</td><td>{_num(r.warn_false_alarm_ratio, '.2f')}"
            f"</td><td>{_num(r.warn_mean_lead_time_d, '.1f')}</td></tr>"
        )
    return f"<table id='scores-table'>{head}{''.join(body)}</table>"


def _period_html(scores: pd.DataFrame) -> str:
    """Brier by period (2022-23 winter, each year, heating or not), one table a horizon:
    where in time a model gains or loses against the baselines."""
    parts = []
    for k, g in scores.groupby("horizon_days"):
        wide = g.pivot(index="model", columns="period", values="brier")
        order = list(periods(pd.DatetimeIndex([]), pd.Timestamp(0)))  # reading order
        cols = [c for c in order if c in wide.columns]
        wide = wide.reindex(index=list(dict.fromkeys(g["model"])), columns=cols)
        best = wide.min(axis=0)
        head = "<tr><th>model</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        rows = []
        for model, r in wide.iterrows():
            cells = "".join(
                f"<td><b>{v:.4f}</b></td>" if v == best[c] else f"<td>{_num(v, '.4f')}</td>"
                for c, v in r.items()
            )
            rows.append(f"<tr><td>{html.escape(model)}</td>{cells}</tr>")
        n = g.drop_duplicates("period").set_index("period")["origins"].reindex(cols)
        counts = "".join(f"<td>{int(v)}</td>" for v in n)
        parts.append(
            f"<h3>{k}-day horizon: Brier by period (lowest in bold)</h3>"
            f"<table class='periods'>{head}</tr>{''.join(rows)}"
            f"<tr><td><i>origins</i></td>{counts}</tr></table>"
        )
    return "".join(parts)


def _launch_html(scores: pd.DataFrame) -> str:
    """Launch-count forecasts over the registered window: mean pinball loss at 10/50/90%
    (every model has one, the quantile-only baselines too) with the share of outcomes
    inside the 10-90% interval (aim about 0.80); the registered model of each group in
    bold, so a reader sees it beside the naive recent-window quantiles."""
    if scores.empty:
        return ""
    keep = scores[scores["period"] == "registered_last_12m"]
    if keep.empty:
        return ""
    wide = keep.pivot_table(
        index=["group", "horizon_days"], columns="model", values=["pinball_mean", "coverage_80"]
    )
    models = list(wide["pinball_mean"].columns)
    head = "<tr><th>group</th><th>horizon (d)</th>" + "".join(
        f"<th>{html.escape(m)}</th>" for m in models
    )
    rows = []
    for (g, k), r in wide.iterrows():
        registered = REGISTRATION.launch_primaries.get(g)
        cells = []
        for m in models:
            text = f"{_num(r['pinball_mean', m], '.2f')} ({_num(r['coverage_80', m], '.2f')})"
            cells.append(f"<td><b>{text}</b></td>" if m == registered else f"<td>{text}</td>")
        rows.append(f"<tr><td>{html.escape(g)}</td><td>{k}</td>{''.join(cells)}</tr>")
    return (
        "<h3>Launch forecasts, registered window: mean pinball loss in weapons (lower is"
        " better), 10-90% coverage in brackets (aim about 0.80); registered model in bold</h3>"
        f"<table id='launch-scores'>{head}</tr>{''.join(rows)}</table>"
    )


def _verdict_html(v: dict) -> str:
    """The protocol's verdict: the primary model against every baseline, paired
    intervals, and the best non-baseline model of each window marked as chosen on it."""

    body = []
    for c in v["cells"]:
        window = " .. ".join(d or "" for d in c.get("window") or [])
        lead = (
            f"<td>{c['horizon_days']}</td><td>{html.escape(c['period'])}<br>"
            f"{html.escape(window)}</td>"
        )
        if c["status"] != "scored":
            body.append(f"<tr>{lead}<td colspan='5'>{html.escape(c['status'])}</td></tr>")
            continue
        for key in ("primary", "best_challenger"):
            m = c[key]
            if m is None:
                continue
            versus = "<br>".join(
                f"{html.escape(x['baseline'])}: {x['brier_diff']:+.4f} "
                f"({x['brier_diff_lo']:+.4f}, {x['brier_diff_hi']:+.4f})"
                for x in m["versus"]
            )
            role = (
                "best non-baseline, chosen on this window" if m["chosen_on_period"] else "primary"
            )
            beats = "yes" if m["beats_every_baseline"] else "no"
            body.append(
                f"<tr>{lead}<td>{html.escape(m['model'])} ({role})</td><td>{m['brier']:.4f}</td>"
                f"<td>{versus}</td><td>{_num(m['brier_skill'], '+.3f', 'n/a')}, AUC "
                f"{_num(m['roc_auc'], '.2f', 'n/a')}</td><td>{beats}</td></tr>"
            )
    head = (
        "<tr><th>horizon (d)</th><th>window (origins)</th><th>model</th><th>Brier</th>"
        "<th>Brier minus baseline (paired 90% CI; below 0 is better)</th>"
        "<th>skill vs climatology</th><th>beats every baseline</th></tr>"
    )
    return (
        "<h2 id='verdict'>Verdict against the naive baselines</h2>"
        f"<p class='verdict'>{html.escape(v['sentence'])}</p>"
        f"<table>{head}{''.join(body)}</table>"
    )


def _scorecard_html(sc: dict | None) -> str:
    """The live track beside the backtest (``barrage scorecard``), if anything is logged."""
    if not sc or not sc.get("rows"):
        return (
            "<h2>Live track</h2><p>No live forecast logged yet (run <code>barrage update</code> "
            "daily).</p>"
        )

    body = []
    for r in sc["rows"]:
        live, bt = r.get("live") or {}, r.get("backtest") or {}
        drift = {None: "-", True: "DRIFT", False: "ok"}[r.get("drift")]
        body.append(
            f"<tr><td>{html.escape(r['target'])}</td><td>{r['horizon_days']}</td>"
            f"<td>{r['closed']}/{r['forecasts']}</td><td>{_num(live.get('brier'), '.4f')}</td>"
            f"<td>{_num(bt.get('brier'), '.4f')} ({_num(bt.get('brier_lo'), '.4f')}-"
            f"{_num(bt.get('brier_hi'), '.4f')})</td><td>{_num(live.get('log_score'), '.3f')}"
            f"</td><td>{_num(live.get('hit_rate'), '.2f')}</td>"
            f"<td>{_num(live.get('false_alarm_ratio'), '.2f')}</td>"
            f"<td title='{html.escape(r.get('drift_note', ''))}'>{drift}</td></tr>"
        )
    return (
        "<h2 id='live-track'>Live track: logged forecasts against the backtest</h2>"
        f"<p>{sc['log_entries']} forecasts logged ({html.escape(', '.join(sc['model_versions']))});"
        f" outcomes known to {sc.get('last_known_day')}. Drift: {html.escape(sc['drift_rule'])}.</p>"
        "<table><tr><th>target</th><th>horizon</th><th>closed/all</th><th>live Brier</th>"
        "<th>backtest Brier (90% CI)</th><th>log</th><th>hit rate</th><th>FAR</th><th>drift</th>"
        f"</tr>{''.join(body)}</table>"
    )


#: Families whose stock the report plots (the ones massive strikes are made of).
REPORT_STOCK_FAMILIES = ("attack_drones", "kh101", "kalibr", "iskander_m_kn23")


def _stockpile_html(night_totals: pd.DataFrame, as_of: pd.Timestamp, *, seed: int = 0) -> str:
    """Stock over time with 50%/90% bands for the main families (barrage.stockpile), and
    whether each stock (and all missiles) grew over the last 90 days, in words."""
    launches = family_launches(night_totals)
    statements = load_statements()
    model = StockpileModel(seed=seed).fit(
        launches,
        statements,  # the fit keeps only statements made before as_of
        as_of=as_of,
        massive_nights=massive_night_dates(night_totals),
        families=list(STOCK_ESTIMABLE),
    )
    families = [f for f in REPORT_STOCK_FAMILIES if f in model.posteriors_]

    def units(v: float) -> str:
        return f"{round(v) + 0:,}"  # never "-0"

    rows = "".join(
        f"<tr><td>{html.escape(f)}</td><td>{t['trend']}</td><td>{t['p_growth']:.2f}</td>"
        f"<td>{units(t['change']['p50'])} [{units(t['change']['p05'])}, "
        f"{units(t['change']['p95'])}]</td></tr>"
        for f, t in stock_trend(model).items()
    )
    figs = "".join(
        _div(stock_figure(model, f), f"stock-{f}-plot") for f in families if f in model.posteriors_
    )
    return (
        "<h2>Stockpiles</h2><p>Estimated stock (median, 50% and 90% intervals) from the "
        "sourced production statements made before the assessment and the launches in the "
        "record (docs/stockpile.md).</p>"
        "<p>Is the stock growing? Change over the 90 days before the assessment (units, "
        "median [90% interval]) and the probability it grew: growing if P(growth) >= 0.8, "
        "falling if <= 0.2, else flat; all_missiles sums the six missile families.</p>"
        "<table><tr><th>family</th><th>stock over 90 days</th><th>P(growth)</th>"
        f"<th>change (units)</th></tr>{rows}</table>"
        + figs
        + _statement_sources_html(model, statements)
    )


def _statement_sources_html(model, statements) -> str:
    """The public statements the stockpile fit read, each credited: who said it, where,
    when, the phrase, and the link (folded; docs/stockpile.md discusses each)."""
    used = {i for p in model.posteriors_.values() for i in p.statements_used}
    rows = "".join(
        f"<tr><td>{html.escape(st.family)}</td><td>{st.stated_on}</td>"
        f"<td>{html.escape(st.who_said)}</td><td><a href='{html.escape(st.source_url)}'>"
        f"{html.escape(st.source_publisher)}</a></td><td>{html.escape(st.key_phrase)}</td></tr>"
        for st in sorted(statements, key=lambda st: (st.family, st.stated_on))
        if st.statement_id in used
    )
    table = (
        "<table id='stockpile-sources'><tr><th>family</th><th>stated on</th><th>who said it"
        f"</th><th>published by</th><th>what was said</th></tr>{rows}</table>"
    )
    return _fold(f"Sources: the {len(used)} public statements the stock estimate read", table)


def _salvo_html(*, runs: int = 1000, seed: int = 0) -> str:
    """Leak rate by salvo size on the stylised waves scenario (barrage.salvo.saturation)."""
    scn = load_scenario(example_scenarios()["stylised_waves"])
    curve = leak_rate_curve(scn, [100, 200, 300, 400, 600, 800, 1000, 1400], runs=runs, seed=seed)
    onset = {k: "never" if v is None else f"{v:.0f}" for k, v in saturation_onset(curve).items()}
    return (
        "<h2>Salvo saturation (stylised, illustrative defence)</h2><p>Share of real drones "
        "that get through by salvo size, with the scenario's three 30-minute waves and with "
        "the same drones spread over the night (docs/salvo.md). The rate is 0.05 above the "
        f"smallest salvo's from {onset['waves']} drones with waves, "
        f"{onset['spread']} spread out.</p>" + _div(curve_figure(curve, scn.name))
    )


def _impact_html(impact: dict | None) -> str:
    """What a strike like the last one would do (stylised system, illustrative)."""
    if not impact:
        return ""
    head = "<h2>What a strike like the last one would do</h2>"
    if "skipped" in impact:
        return head + f"<p>skipped: {html.escape(impact['skipped'])}</p>"
    rows = [
        ("shortfall at the winter peak (GW)", impact["shed_gw"]),
        ("share of demand (%)", impact["shed_percent_of_demand"]),
        ("hours without power a day, average customer", impact["hours_without_power_per_day"]),
        ("generating capacity lost (GW)", impact["generation_lost_gw"]),
        ("nuclear output curtailed by grid damage (MW)", impact["nuclear_curtailed_mw"]),
        *(
            (f"days until {q} of the lost capacity is back", v)
            for q, v in impact["days_to_restore_capacity"].items()
        ),
    ]
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_num(v['median'], ',.3g')}</td>"
        f"<td>{_num(v['p05'], ',.3g')} - {_num(v['p95'], ',.3g')}</td></tr>"
        for k, v in rows
    )
    return (
        head
        + f"<p>Night of {html.escape(impact['night'])}, replayed on the stylised system.</p>"
        + f"<table><tr><th>output</th><th>median</th><th>90% interval</th></tr>{body}</table>"
        + f"<p>illustrative: rests on {html.escape(impact['illustrative'])}</p>"
    )


def _scores_and_verdict(backtest, summary: dict | None, n_boot: int) -> tuple[pd.DataFrame, dict]:
    """The backtest's score table and verdict: the stored ones when ``summary`` is given
    (no second bootstrap), else computed."""
    if summary is not None:
        return pd.DataFrame(summary["scores"]).fillna(np.nan), summary["verdict"]
    return score_table(backtest, n_boot=n_boot), verdict(backtest)


def _answer_html(a: dict, target, the_verdict: dict) -> str:
    """The answer: target, level and probabilities, skill, warnings, how far to trust."""
    warn = "".join(f"<p class='warn'>warning: {html.escape(w)}</p>" for w in a["warnings"])
    probs = ", ".join(f"{k} days: {v:.0%}" for k, v in a["p"].items())
    return (
        f"<p class='answer'>Target <b>{html.escape(target.name)}</b>: "
        f"<code>{html.escape(target.expression)}</code>. Assessment as of {a['issued_at']}: "
        f"<b id='level'>{a['level']}</b> ({probs}).</p>"
        f"<p id='skill'>Skill: {html.escape(a['skill']['statement'])}</p>{warn}"
        f"<p><b>How far to trust it:</b> {html.escape(the_verdict['sentence'])}</p>"
    )


def _drivers_html(a: dict) -> str:
    """The primary model's 7-day log-odds, term by term."""
    drivers = "".join(f"<li>{html.escape(d['sentence'])}</li>" for d in a["drivers"])
    driver_intro = (
        f"<p>The {html.escape(a['model'])} model's own 7-day log-odds, term by term "
        f"(base {a['attribution']['base_log_odds']:+.2f} plus the terms = "
        f"{a['attribution']['log_odds']:+.2f}, p = {a['attribution']['p']:.0%}).</p>"
    )
    return f"{driver_intro}<ul>{drivers}</ul>"


def _scores_html(scores: pd.DataFrame, backtest) -> str:
    """The folded score tables: every score, Brier by period, launch forecasts."""
    n_scores = (
        int(scores["period"].isin(["all", "last_24m", "last_12m"]).sum()) if len(scores) else 0
    )
    return (
        _fold(
            f"Scores table ({n_scores} rows: every model, horizon and window)",
            _score_html(scores),
        )
        + _fold("Brier by period, each horizon", _period_html(scores))
        + _fold(
            "Launch forecasts: pinball loss and coverage", _launch_html(launch_scores(backtest))
        )
    )


_HEAD = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>barrage report</title>"
    "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
    ".warn{color:#b45309;font-weight:bold}.answer{font-size:1.15em}"
    "details{margin:.6em 0}summary{cursor:pointer;font-weight:bold}</style>"
)


def write_report(
    inputs,
    out: str | os.PathLike[str],
    *,
    backtest,
    assessment: dict | None = None,
    n_boot: int = 100,
    scorecard: dict | None = None,
    impact: dict | None = None,
    summary: dict | None = None,
    campaign: dict | None = None,
) -> Path:
    """Write the report to ``out`` and return its path.

    ``summary``: the stored :func:`barrage.warning.evaluate.score_summary` of
    ``backtest`` (as ``barrage backtest --json``); its scores and verdict are used as
    they are, so a report on an unchanged store does not bootstrap them again.
    ``campaign``: a saved ``simulate campaign --json`` summary, drawn as fan charts."""
    from plotly.offline import get_plotlyjs

    rec, target = inputs.record, inputs.target
    panel = rec.panel(rec.last_known_day)
    frame = panel.frame()
    ev = event_flags(panel, target)
    ind = indicator_frame(
        panel, target, hooks=Hooks(weather=inputs.weather, production=inputs.production)
    )
    a = assessment if assessment is not None else assess(inputs)
    fc = backtest.forecasts
    scores, the_verdict = _scores_and_verdict(backtest, summary, n_boot)
    horizons = sorted(fc["horizon_days"].unique())
    k_main = 7 if 7 in horizons else horizons[-1]
    parts = [
        _HEAD,
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        "<h1>barrage: massive-strike warning</h1>",
        _section("answer", "The answer", _answer_html(a, target, the_verdict)),
        _section("drivers", "Drivers", _drivers_html(a)),
        _section(
            "record",
            "The record and the indicators",
            _div(_timeline(frame, ev), "timeline-plot") + _div(_indicators(ind), "indicator-plot"),
        ),
        _section(
            "backtest",
            "Backtest: the primary model and the naive baselines",
            _div(_forecast(fc, k_main), "forecast-plot")
            + _div(_reliability(fc, k_main), "reliability-plot"),
        ),
        f"<section id='against-baselines'>{_verdict_html(the_verdict)}</section>",
        _section(
            "scores",
            "Scores against baselines (rolling origin, weekly refits)",
            _scores_html(scores, backtest),
        ),
        "<section id='stockpiles'>"
        + _stockpile_html(rec.night_totals(rec.last_known_day), pd.Timestamp(rec.last_known_day))
        + "</section>",
        f"<section id='salvo'>{_salvo_html()}</section>",
        f"<section id='live'>{_scorecard_html(scorecard)}</section>",
        f"<section id='impact'>{_impact_html(impact)}</section>",
        f"<section id='campaign'>{campaign_section_html(campaign)}</section>",
        f"<section id='data'><h2>Data</h2><p>{html.escape(ATTRIBUTION)}</p></section>"
        "</body></html>",
    ]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return path
