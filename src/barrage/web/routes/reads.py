"""Reads: health, the record, indicators, the assessment, the backtest and scorecard.

Each parses, makes one library call through :mod:`barrage.web.queries`, and answers
from the cache while the store is unchanged (see :mod:`barrage.web.store`).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from barrage import __version__
from barrage.errors import BarrageError
from barrage.record.taxonomy import WEAPON_CLASSES
from barrage.web import queries
from barrage.web.errors import error_response
from barrage.web.models import (
    Assessment,
    Backtest,
    Health,
    Indicators,
    NightsPage,
    Scorecard,
    Summary,
)
from barrage.web.routes._common import (
    CURRENT_ASSESSMENT,
    AppContext,
    AsOfQuery,
    TargetQuery,
    error_docs,
)

WeaponClass = enum.Enum("WeaponClass", {c: c for c in WEAPON_CLASSES}, type=str)


def _record_routes(ctx: AppContext) -> APIRouter:
    """Health and the record: summary and nights."""
    router = APIRouter()

    @router.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        """Liveness and what this server can do; reads at most the store's newest
        ingest row (a stat while the store is unchanged)."""
        version = error = None
        try:
            version = ctx.store.fresh_version() or await run_in_threadpool(ctx.store.version)
        except BarrageError as exc:
            error = exc.message
        return Health(
            status="ok" if error is None else "degraded",
            version=__version__,
            store=str(ctx.settings.db),
            store_version=version,
            store_error=error,
            jobs_active=ctx.jobs.active(),
            assessment_available=queries.assessment_available(),
            strike_simulation_available=True,  # barrage.compute.strike, imported plainly
        )

    @router.get("/api/summary", response_model=Summary, responses=error_docs(503), tags=["record"])
    async def summary() -> Response:
        """The record at a glance (as `barrage summary --json`)."""
        return await ctx.cached("summary", (), queries.summary)

    @router.get(
        "/api/nights", response_model=NightsPage, responses=error_docs(422, 503), tags=["record"]
    )
    async def nights(
        start: Annotated[dt.date | None, Query(description="First night, YYYY-MM-DD.")] = None,
        end: Annotated[dt.date | None, Query(description="Last night, YYYY-MM-DD.")] = None,
        weapon_class: Annotated[
            WeaponClass | None, Query(description="Only nights with launches of this class.")
        ] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        """Attack nights, newest last, paged; launched and destroyed by weapon class."""
        if start is not None and end is not None and start > end:
            return error_response(422, f"start {start} is after end {end}")
        cls = weapon_class.value if weapon_class is not None else None
        params = (start, end, cls, offset, limit)
        return await ctx.cached(
            "nights",
            params,
            lambda con: queries.nights(
                con, start=start, end=end, weapon_class=cls, offset=offset, limit=limit
            ),
        )

    return router


def _warning_routes(ctx: AppContext) -> APIRouter:
    """The warning: indicators, the assessment, the stored backtest and the scorecard."""
    router = APIRouter()

    @router.get(
        "/api/indicators",
        response_model=Indicators,
        responses=error_docs(400, 422, 503),
        tags=["warning"],
    )
    async def indicators(
        as_of: AsOfQuery = None,
        target: TargetQuery = None,
        days: Annotated[int, Query(ge=1, le=3660, description="History window, days.")] = 365,
    ) -> Response:
        """Every indicator as of a date, with its percentile and its recent history."""
        return await ctx.cached(
            "indicators",
            (as_of, target, days),
            lambda con: queries.indicators(con, as_of=as_of, target=target, days=days),
        )

    @router.get(
        "/api/assessment",
        response_model=Assessment,
        responses=error_docs(400, 422, 503),
        tags=["warning"],
    )
    async def assessment(as_of: AsOfQuery = None, target: TargetQuery = None) -> Response:
        """The warning (as `barrage assess --json`): level, probabilities, drivers. With
        ``as_of``, the assessment as it would have been issued that day."""
        if (as_of, target) == CURRENT_ASSESSMENT:
            return await ctx.cached("assessment", CURRENT_ASSESSMENT, queries.current_assessment)
        return await ctx.cached(
            "assessment",
            (as_of, target),
            lambda con: queries.assessment(con, as_of=as_of, target=target),
        )

    @router.get(
        "/api/backtest",
        response_model=Backtest,
        responses=error_docs(400, 404, 422, 503),
        tags=["warning"],
    )
    async def backtest(target: TargetQuery = None) -> Response:
        """The newest stored backtest (`barrage backtest --save` or `barrage run`): scores
        of every model and baseline with intervals, the primary model's forecasts against
        outcomes, and its reliability. 404 when none is stored."""
        return await ctx.cached(
            "backtest", (target,), lambda con: queries.backtest(con, target=target)
        )

    @router.get(
        "/api/scorecard", response_model=Scorecard, responses=error_docs(400, 503), tags=["warning"]
    )
    async def scorecard() -> Response:
        """The live forecast log scored where the outcome is known, beside the backtest
        on the same origins, with a drift flag (as `barrage scorecard --json`)."""
        # Appending a forecast changes the log, not the ingest version: key on its head.
        head = await run_in_threadpool(lambda: ctx.read(queries.log_head))
        return await ctx.cached("scorecard", (head,), queries.scorecard)

    return router


def router(ctx: AppContext) -> APIRouter:
    """The read routes of one app."""
    router = APIRouter()
    router.include_router(_record_routes(ctx))
    router.include_router(_warning_routes(ctx))
    return router
