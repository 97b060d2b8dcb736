"""Where saturation happens: the leak-rate curve of a scenario by salvo size.

The record shows no saturation by size (docs/salvo.md): big nights are planned-for
nights. In the engine saturation is the result of channels, tracks, reloads and time, so
it binds only when arrivals bunch: :func:`leak_rate_curve` scales a scenario's salvo of
one family (keeping its waves' shares, timing and corridors) and reports the share of
the *real* weapons launched that get through, for the scenario as given and with each
wave spread over the whole night (same counts, same corridors). The gap between the two
is what the waves do.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from pydantic import ValidationError

from barrage.errors import InputError
from barrage.salvo.compile import compile_scenario
from barrage.salvo.cost import DEFAULT_MAX_MEMORY_MB, salvo_cost
from barrage.salvo.engine import simulate
from barrage.salvo.scenario import Scenario, load_families


def _split(total: int, weights: list[int]) -> list[int]:
    """``total`` in parts proportional to ``weights`` (largest remainder, sums exactly)."""
    w = np.asarray(weights, dtype=float)
    if w.sum() == 0:
        w = np.ones_like(w)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return out.tolist()


def scale_salvo(scenario: Scenario, family: str, size: int, *, spread: bool = False) -> Scenario:
    """The scenario with ``size`` weapons of ``family``, shared over its groups and waves
    as in the scenario; with ``spread`` every wave of that family arrives over the whole
    night instead of its burst."""
    data = scenario.model_dump()
    groups = [g for g in data["salvo"]["weapons"] if g["family"] == family]
    if not groups:
        raise InputError(
            f"family: the scenario has no {family!r} group; "
            f"allowed: {', '.join(sorted({g['family'] for g in data['salvo']['weapons']}))}"
        )
    for g, n in zip(groups, _split(size, [g["count"] for g in groups]), strict=True):
        g["count"] = n
        if g["waves"]:
            for w, k in zip(g["waves"], _split(n, [w["count"] for w in g["waves"]]), strict=True):
                w["count"] = k
                if spread:
                    w["arrival_h"] = (0.0, scenario.night_h)
        elif spread:
            g["arrival_h"] = (0.0, scenario.night_h)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InputError(
            f"sizes: {size:,} {family} weapons do not make a valid salvo "
            f"({'.'.join(map(str, problem['loc']))}: {problem['msg']})"
        ) from None


def _checked_request(scenario: Scenario, sizes: list[int], family: str, runs: int) -> None:
    """Sizes positive and distinct, the family in the scenario, and the largest size's
    memory within the budget: all before the first simulation (``--runs 10**12`` ran
    past a minute, a repeated size or an unknown family was a traceback at the end)."""
    if not sizes or min(sizes) < 1:
        raise InputError(f"sizes: expected positive salvo sizes, got {sizes}")
    if len(set(sizes)) < len(sizes):
        twice = min(s for s, n in Counter(sizes).items() if n > 1)
        raise InputError(f"sizes: expected distinct salvo sizes, got {twice:,} more than once")
    if runs < 1:
        raise InputError(f"runs: expected a positive number of runs, got {runs}")
    largest = scale_salvo(scenario, family, max(sizes))
    # leak_rate_curve runs the engine at its default chunk: one block a pass
    salvo_cost(largest, runs, blocks_per_pass=1).check(max_memory_mb=DEFAULT_MAX_MEMORY_MB)


def leak_rate_curve(
    scenario: Scenario,
    sizes: list[int],
    *,
    family: str = "shahed",
    runs: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Leak rate of ``family``'s class by salvo size, with the waves and spread out.

    ``leak_rate`` = mean leakers of the class / real (non-decoy) weapons of the class
    launched; ``p05``/``p95`` are quantiles of the per-run rate. Each size and profile
    has its own seed from ``SeedSequence(seed)``.
    """
    _checked_request(scenario, sizes, family, runs)
    cls = load_families()[family].weapon_class
    seeds = np.random.SeedSequence(seed).spawn(2 * len(sizes))
    rows = []
    for i, size in enumerate(sizes):
        for j, profile in enumerate(("waves", "spread")):
            cs = compile_scenario(scale_salvo(scenario, family, size, spread=profile == "spread"))
            r = simulate(cs, runs=runs, seed=int(seeds[2 * i + j].generate_state(1)[0]))
            c = r.classes.index(cls)
            of_class = cs.family_class[cs.weapon_family] == cs.classes.index(cls)
            real = int(np.sum(of_class & ~cs.is_decoy[cs.weapon_family]))
            rate = r.leakers_by_class[:, c] / max(real, 1)
            rows.append(
                {
                    "size": size,
                    "profile": profile,
                    "real_weapons": real,
                    "leakers": float(r.leakers_by_class[:, c].mean()),
                    "leak_rate": float(rate.mean()),
                    "p05": float(np.quantile(rate, 0.05)),
                    "p95": float(np.quantile(rate, 0.95)),
                }
            )
    return pd.DataFrame(rows)


def saturation_onset(curve: pd.DataFrame, *, rise: float = 0.05) -> dict[str, float | None]:
    """Per profile: the smallest size whose leak rate is ``rise`` above the smallest
    size's (None if it never rises that far)."""
    out: dict[str, float | None] = {}
    for profile, c in curve.sort_values("size").groupby("profile", sort=False):
        base = c["leak_rate"].iloc[0]
        above = c[c["leak_rate"] > base + rise]
        out[profile] = float(above["size"].iloc[0]) if len(above) else None
    return out


def curve_figure(curve: pd.DataFrame, title: str):
    """Plotly figure of the leak-rate curve: waves and spread, with 90% run bands."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for profile, color in (("waves", "#b45309"), ("spread", "#1d4ed8")):
        c = curve[curve["profile"] == profile].sort_values("size")
        fig.add_scatter(x=c["size"], y=c["p95"], mode="lines", line={"width": 0}, showlegend=False)
        fig.add_scatter(
            x=c["size"],
            y=c["p05"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            opacity=0.2,
            showlegend=False,
        )
        fig.add_scatter(
            x=c["size"], y=c["leak_rate"], mode="lines+markers", name=profile, line={"color": color}
        )
    fig.update_layout(
        title=title,
        xaxis_title="drones launched (decoys included)",
        yaxis_title="share of real drones that get through",
        yaxis_range=[0, 1],
    )
    return fig
