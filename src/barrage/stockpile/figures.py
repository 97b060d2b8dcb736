"""Plotly figures of the stock over time with its 50% and 90% intervals, for the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from barrage.errors import InputError
from barrage.stockpile.families import FAMILY_LABELS

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from barrage.stockpile.model import StockpileModel


def stock_figure(
    model: StockpileModel, family: str, *, what: str = "stock", massive: bool = True
) -> go.Figure:
    """Median and 50%/90% bands of ``what`` ("stock", "production", "built") for a family.

    Massive nights (the anchors of "built since") are marked when ``massive``.
    """
    import numpy as np
    import plotly.graph_objects as go

    from barrage import ATTRIBUTION

    if family not in model.posteriors_:
        raise InputError(
            f"family {family!r} was not fitted: choose from {', '.join(model.posteriors_)}"
        )
    post = model.posteriors_[family]
    arrays = {"stock": post.stock_q, "production": post.production_q, "built": post.built_q}
    if what not in arrays:
        raise InputError(f"what: expected stock, production or built, got {what!r}")
    q = arrays[what]
    if q is None:
        raise InputError(f"{family}: no {what} estimate (the record has no launches of it)")
    units = {"stock": "units", "production": "units/month", "built": "units since last massive"}
    x = post.days
    fig = go.Figure()
    for lo, hi, name, alpha in ((0, 4, "90% interval", 0.18), (1, 3, "50% interval", 0.35)):
        fig.add_trace(
            go.Scatter(
                x=x, y=q[:, hi], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=q[:, lo],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=f"rgba(31,119,180,{alpha})",
                name=name,
            )
        )
    fig.add_trace(
        go.Scatter(x=x, y=q[:, 2], mode="lines", line={"color": "rgb(31,119,180)"}, name="median")
    )
    if massive:
        # one labelled trace (not a shape per night: add_vline is slow and has no legend)
        lm = np.unique(post.last_massive[~np.isnat(post.last_massive)]).astype(str)
        top = float(np.nanmax(q[:, 4])) if np.isfinite(q[:, 4]).any() else 1.0
        fig.add_trace(
            go.Scatter(
                x=np.repeat(lm, 3),
                y=np.tile([0.0, top, np.nan], len(lm)),
                mode="lines",
                line={"width": 0.7, "color": "rgba(200,0,0,0.45)"},
                name="massive strike night ('built since' restarts)",
                hoverinfo="x",
            )
        )
    fig.update_layout(
        title=f"{FAMILY_LABELS.get(family, family)}: {what} as of {post.as_of.date()}",
        xaxis_title="date",
        yaxis_title=units[what],
        template="plotly_white",
        # the credit below the x-axis title, pixels apart (a paper fraction overlapped it)
        margin={"b": 100},
        annotations=[{"text": ATTRIBUTION, "xref": "paper", "yref": "paper", "x": 0, "y": 0,
                      "yanchor": "top", "yshift": -58, "xanchor": "left", "showarrow": False,
                      "font": {"size": 9}}],
    )  # fmt: skip
    return fig
