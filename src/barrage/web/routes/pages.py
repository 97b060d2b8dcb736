"""The dashboard page and its static files.

The page carries the current assessment, which the warm-up computes in the background
(10-20 s uncached); until it is ready the page says "computing" rather than keep the
visitor waiting.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from barrage.errors import BarrageError, InputError
from barrage.web import dashboard
from barrage.web.models import Assessment
from barrage.web.routes._common import CURRENT_ASSESSMENT, AppContext

STATIC = Path(__file__).resolve().parents[1] / "static"


class Computing(Exception):
    """The current assessment is still being computed in the background."""


def render_dashboard(ctx: AppContext, con) -> str:
    """The page, with the assessment the warm-up cached (never computed here)."""
    hit = ctx.store.peek("assessment", CURRENT_ASSESSMENT)
    if hit is not None:
        return dashboard.render(con, ctx.settings, Assessment.model_validate_json(hit))
    failed = ctx.warmer.error("assessment")
    if failed is None:
        raise Computing()
    return dashboard.render(con, ctx.settings, InputError(failed))


def router(ctx: AppContext) -> APIRouter:
    """The page routes of one app."""
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> Response:
        hit = ctx.store.peek("dashboard", ())
        if hit is None:
            try:
                hit, _ = await run_in_threadpool(
                    ctx.store.cached, "dashboard", (), lambda con: render_dashboard(ctx, con)
                )
            except Computing:
                # the assessment is not ready: the page now, its banner says "computing"
                ctx.warmer.start()
                try:
                    hit, _ = await run_in_threadpool(
                        ctx.store.cached,
                        "dashboard-computing",
                        (),
                        lambda con: dashboard.render(con, ctx.settings, None),
                    )
                except BarrageError as exc:
                    return HTMLResponse(dashboard.render_error(exc.message), status_code=503)
            except BarrageError as exc:
                return HTMLResponse(dashboard.render_error(exc.message), status_code=503)
        return HTMLResponse(hit)

    @router.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name == "plotly.min.js" and name in ctx.static:
            return Response(
                ctx.static[name],
                media_type="text/javascript",
                headers={"Cache-Control": "public, max-age=86400"},
            )
        allowed = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
        if name not in allowed:
            raise StarletteHTTPException(404, f"no static file {name!r}")
        return Response((STATIC / name).read_bytes(), media_type=allowed[name])

    return router
