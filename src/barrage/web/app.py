"""The HTTP API and the dashboard, one FastAPI app over the library.

Each route parses, makes one library call (through :mod:`barrage.web.queries` or the
job manager), and returns a typed answer; library errors become one clear 4xx/503
message (:mod:`barrage.web.errors`). Reads are cached until the next ingest (see
:mod:`barrage.web.store`). The routes are in :mod:`barrage.web.routes`: reads, jobs,
ingest and pages, each a router built for one app's context.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import plotly.offline
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from barrage import __version__
from barrage.grid.strike import DEFAULT_GRID_DIR
from barrage.web import errors, queries
from barrage.web.jobs import JobManager
from barrage.web.limits import BodyLimit, HostAllowList
from barrage.web.routes import ingest, jobs, pages, reads
from barrage.web.routes._common import CURRENT_ASSESSMENT, AppContext
from barrage.web.settings import Settings
from barrage.web.store import StoreView
from barrage.web.warm import Warmer

#: /docs and /redoc: scripts, styles, images and workers from this server only.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; font-src 'self' data:"
)


def _grid_dir(settings: Settings) -> Path | None:
    """The test-network folder for strike jobs, fixed at start-up: the setting, else
    the shared data folder beside the working directory, the store or the source
    checkout (the bundled strike scenario failed when the server started elsewhere)."""
    if settings.grid_dir is not None:
        return settings.grid_dir.resolve()
    store_dir = settings.db.resolve().parent
    checkout = Path(__file__).resolve().parents[3]  # src/barrage/web -> the repository
    for base in (Path.cwd(), store_dir, store_dir.parent, checkout):
        candidate = (base / DEFAULT_GRID_DIR).resolve()
        if candidate.is_dir():
            return candidate
    return None


def _declare_bearer_auth(app: FastAPI) -> None:
    """Declare the ``bearerAuth`` scheme that ``/api/ingest`` names (openapi.json
    referenced it without defining it)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearerAuth"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "BARRAGE_UPLOAD_TOKEN",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _context(settings: Settings) -> AppContext:
    """The app's state, with the warm-up of the slow answers (the current assessment and
    the page that shows it), computed in the background at start-up and after an ingest."""
    ctx = AppContext(
        settings=settings,
        store=StoreView(settings.db, wait_s=settings.store_wait_s),
        jobs=JobManager(
            max_queue=settings.max_queue, timeout_s=settings.job_timeout_s, keep=settings.keep_jobs
        ),
        grid_dir=_grid_dir(settings),
    )
    ctx.warmer = Warmer(
        ctx.store,
        lambda: [
            ("assessment", CURRENT_ASSESSMENT, queries.current_assessment),
            ("dashboard", (), lambda con: pages.render_dashboard(ctx, con)),
        ],
    )
    return ctx


def _lifespan(ctx: AppContext):
    """Start-up: plotly.js from the installed package (the dashboard works offline) and
    the warm-up; shut-down: stop the warm-up and cancel the jobs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.static["plotly.min.js"] = plotly.offline.get_plotlyjs().encode()
        if ctx.settings.warm:
            ctx.warmer.start()  # the assessment takes 10-20 s uncached: compute it now
        yield
        ctx.warmer.stop()
        ctx.jobs.shutdown()

    return lifespan


def _docs_stay_local(app: FastAPI) -> None:
    """The docs pages may load nothing from elsewhere: ReDoc's bundle hard-codes a logo
    on a CDN, which this policy keeps the browser from fetching."""

    @app.middleware("http")
    async def csp(request: Request, call_next):
        response = await call_next(request)
        if request.url.path in ("/docs", "/redoc"):
            response.headers["Content-Security-Policy"] = DOCS_CSP
        return response


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for one store; ``settings`` default to the ``BARRAGE_*`` environment."""
    settings = settings or Settings()
    ctx = _context(settings)
    # Swagger UI (/docs) and ReDoc (/redoc) from the assets fastapi-offline ships, so the
    # dashboard's API link works with no network (FastAPI's own pages load a CDN).
    app = FastAPIOffline(
        title="barrage",
        version=__version__,
        summary="Early warning and strike simulation for Ukraine's power system (public data).",
        lifespan=_lifespan(ctx),
    )
    app.state.settings, app.state.store, app.state.jobs = settings, ctx.store, ctx.jobs
    app.state.warmer = ctx.warmer
    _docs_stay_local(app)
    # Bodies are bounded before they are read (uploads stream under their own limit).
    app.add_middleware(
        BodyLimit, max_bytes=int(settings.max_request_kb * 1024), exempt=("/api/ingest",)
    )
    app.add_middleware(HostAllowList, allowed=tuple(settings.allowed_hosts))
    _declare_bearer_auth(app)
    errors.install(app)
    for part in (reads, jobs, ingest, pages):
        app.include_router(part.router(ctx))
    return app
