"""The HTTP API and the dashboard, one FastAPI app over the library.

Each route parses, makes one library call (through :mod:`barrage.web.queries` or the
job manager), and returns a typed answer; library errors become one clear 4xx/503
message. Reads are cached until the next ingest (see :mod:`barrage.web.store`).
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from barrage import __version__
from barrage.errors import BarrageError, InputError, StoreBusyError
from barrage.record.taxonomy import WEAPON_CLASSES
from barrage.warning.backtest_store import BacktestMissing
from barrage.web import queries
from barrage.web.jobs import (
    FINISHED,
    Job,
    JobManager,
    QueueFull,
    salvo_runner,
    strike_runner,
    strike_simulation,
)
from barrage.web.limits import BodyLimit, HostAllowList
from barrage.web.models import (
    Assessment,
    Backtest,
    ErrorResponse,
    Health,
    Indicators,
    IngestResult,
    JobProgress,
    JobStatus,
    NightsPage,
    SalvoJobRequest,
    ScenarioInfo,
    Scorecard,
    StrikeJobRequest,
    Summary,
)
from barrage.web.settings import Settings
from barrage.web.store import StoreMissing, StoreView
from barrage.web.warm import Warmer

STATIC = Path(__file__).with_name("static")
UNSERVED_ENERGY_NOTE = (
    "unserved energy needs a grid: run a strike job (POST /api/jobs/strike), which puts "
    "a salvo on a test network; the salvo result shows what gets through"
)
#: /docs and /redoc: scripts, styles, images and workers from this server only.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; font-src 'self' data:"
)
#: The parameters of GET /api/assessment without a query: the cache key the server warms.
CURRENT_ASSESSMENT = (None, None)

WeaponClass = enum.Enum("WeaponClass", {c: c for c in WEAPON_CLASSES}, type=str)


TargetQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="A built-in target name or an expression such as 'missiles >= 30'.",
    ),
]
AsOfQuery = Annotated[
    dt.date | None,
    Query(description="Issue date YYYY-MM-DD (12:00 Kyiv); default: the latest."),
]

JobId = Annotated[str, PathParam(min_length=1, max_length=64)]


def _body_type(model: type) -> Any:
    """Set a route's ``body`` type to a model built at run time (annotations are strings
    under ``from __future__ import annotations``, resolved in module globals)."""

    def wrap(func):
        func.__annotations__["body"] = model
        return func

    return wrap


def _err(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad request: the library refused an input (message says which and why).",
        401: "Missing or wrong upload token.",
        403: "Uploads are disabled on this server.",
        404: "No such job, or no stored backtest of this target.",
        409: "The job has already finished.",
        413: "Upload larger than the server's limit.",
        422: "Malformed request: a parameter or field is invalid.",
        429: "Job queue full.",
        501: "Not in this build.",
        503: "Store missing or busy, or a library part missing; see the message.",
    }
    return {c: {"model": ErrorResponse, "description": text[c]} for c in codes}


def _error(status: int, detail: str, headers: dict | None = None, **extra: Any) -> JSONResponse:
    body = ErrorResponse(detail=detail, **extra).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def _json(data: bytes, version: str | None = None) -> Response:
    headers = {"ETag": f'"{version}"'} if version else None
    return Response(content=data, media_type="application/json", headers=headers)


def _ts(t: float | None) -> dt.datetime | None:
    return None if t is None else dt.datetime.fromtimestamp(t, tz=dt.UTC)


def job_status(job: Job) -> JobStatus:
    total = max(job.total, 0)
    return JobStatus(
        id=job.id,
        kind=job.kind,
        state=job.state,
        progress=JobProgress(
            done=job.done,
            total=total,
            fraction=1.0 if job.state == "done" else (job.done / total if total else 0.0),
        ),
        submitted_at=_ts(job.submitted_at),
        started_at=_ts(job.started_at),
        finished_at=_ts(job.finished_at),
        request=job.request,
        result=job.result,
        error=job.error,
        unserved_energy_note=UNSERVED_ENERGY_NOTE if job.kind == "salvo" else None,
    )


class _Computing(Exception):
    """The current assessment is still being computed in the background."""


def _requested_scenario(body, examples: dict, names: list[str], from_spec, load, *, kind: str):
    """A job's scenario: the inline ``scenario_spec`` or a bundled one by name (default
    the first of ``names``), never both."""
    if body.scenario is not None and body.scenario_spec is not None:
        raise InputError("give either scenario (a bundled name) or scenario_spec, not both")
    if body.scenario_spec is not None:
        return from_spec(body.scenario_spec, source="scenario_spec")
    name = body.scenario or names[0]
    if name not in examples:
        raise InputError(
            f"scenario: unknown {kind}scenario {name!r}; expected one of "
            f"{', '.join(names)} (or give scenario_spec)"
        )
    return load(examples[name])


_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])(?:/[^\s'\"/,;()]+)+/([^\s'\"/,;()]+)")


def public_message(message: str) -> str:
    """A library message fit for a stranger: absolute paths cut to their file name (the
    server's folders are nobody's business) and control characters escaped."""
    from barrage.web.limits import shown

    return shown(_ABSOLUTE_PATH.sub(r"\1", message), limit=2000)


def _grid_dir(settings: Settings) -> Path | None:
    """The test-network folder for strike jobs, fixed at start-up: the setting, else
    the shared data folder beside the working directory, the store or the source
    checkout (the bundled strike scenario failed when the server started elsewhere)."""
    from barrage.grid.strike import DEFAULT_GRID_DIR

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
    from fastapi.openapi.utils import get_openapi

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


def _check_weapons(salvo_scenario, limit: int) -> None:
    """Refuse a salvo over the server's weapon limit before anything is allocated."""
    n_weapons = sum(g.count for g in salvo_scenario.salvo.weapons)
    if n_weapons > limit:
        raise InputError(
            f"scenario: {n_weapons:,} weapons, more than this server's limit of {limit:,} per job"
        )


def _check_cost(salvo_scenario, runs: int, settings: Settings) -> None:
    """Refuse a job whose estimated memory or time is over the server's budget, before
    anything is allocated (the same cost model as the CLI's)."""
    from barrage.salvo.cost import salvo_cost

    _check_weapons(salvo_scenario, settings.max_weapons)
    salvo_cost(salvo_scenario, runs).check(
        max_memory_mb=settings.max_job_memory_mb, max_seconds=settings.max_job_estimate_s
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for one store; ``settings`` default to the ``BARRAGE_*`` environment."""
    settings = settings or Settings()
    store = StoreView(settings.db, wait_s=settings.store_wait_s)
    jobs = JobManager(
        max_queue=settings.max_queue, timeout_s=settings.job_timeout_s, keep=settings.keep_jobs
    )
    static: dict[str, bytes] = {}
    grid_dir = _grid_dir(settings)
    # The server's run limit is part of the schema (so clients and fuzzers see it).
    JobRequest = create_model(
        "SalvoJobRequest",
        __base__=SalvoJobRequest,
        __doc__=SalvoJobRequest.__doc__,
        runs=(
            int,
            Field(
                default=min(2000, settings.max_runs),
                ge=1,
                le=settings.max_runs,
                strict=True,
                description="Monte Carlo runs, at most this server's limit.",
            ),
        ),
    )

    StrikeRequest = create_model(
        "StrikeJobRequest",
        __base__=StrikeJobRequest,
        __doc__=StrikeJobRequest.__doc__,
        runs=(
            int,
            Field(
                default=min(256, settings.max_strike_runs),
                ge=1,
                le=settings.max_strike_runs,
                strict=True,
                description="Monte Carlo runs, at most this server's limit.",
            ),
        ),
    )

    def current_assessment(con) -> Assessment:
        return queries.assessment(con, as_of=None, target=None)

    def render_dashboard(con) -> str:
        """The page, with the assessment the warm-up cached (never computed here)."""
        from barrage.web import dashboard

        hit = store.peek("assessment", CURRENT_ASSESSMENT)
        if hit is not None:
            return dashboard.render(con, settings, Assessment.model_validate_json(hit))
        failed = warmer.error("assessment")
        if failed is None:
            raise _Computing()
        return dashboard.render(con, settings, InputError(failed))

    # The slow answers, computed in the background at start-up and after an ingest.
    warmer = Warmer(
        store,
        lambda: [
            ("assessment", CURRENT_ASSESSMENT, current_assessment),
            ("dashboard", (), render_dashboard),
        ],
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import plotly.offline

        # plotly.js from the installed package, so the dashboard works offline.
        static["plotly.min.js"] = plotly.offline.get_plotlyjs().encode()
        if settings.warm:
            warmer.start()  # the assessment takes 10-20 s uncached: compute it now
        yield
        warmer.stop()
        jobs.shutdown()

    # Swagger UI (/docs) and ReDoc (/redoc) from the assets fastapi-offline ships, so the
    # dashboard's API link works with no network (FastAPI's own pages load a CDN).
    app = FastAPIOffline(
        title="barrage",
        version=__version__,
        summary="Early warning and strike simulation for Ukraine's power system (public data).",
        lifespan=lifespan,
    )
    app.state.settings, app.state.store, app.state.jobs = settings, store, jobs

    @app.middleware("http")
    async def _docs_stay_local(request: Request, call_next):
        """The docs pages may load nothing from elsewhere: ReDoc's bundle hard-codes a
        logo on a CDN, which this policy keeps the browser from fetching."""
        response = await call_next(request)
        if request.url.path in ("/docs", "/redoc"):
            response.headers["Content-Security-Policy"] = DOCS_CSP
        return response

    app.state.warmer = warmer
    # Bodies are bounded before they are read (uploads stream under their own limit).
    app.add_middleware(
        BodyLimit, max_bytes=int(settings.max_request_kb * 1024), exempt=("/api/ingest",)
    )
    app.add_middleware(HostAllowList, allowed=tuple(settings.allowed_hosts))
    _declare_bearer_auth(app)

    # --- errors -------------------------------------------------------------------------

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()))
            msg = e.get("msg", "invalid")
            value = e.get("input")
            shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
            if len(shown) > 60:
                shown = shown[:57] + "..."
            parts.append(f"{loc}: {msg} (got {shown})")
            errors.append({"loc": [str(x) for x in e.get("loc", ())], "msg": msg})
        return _error(422, "; ".join(parts) or "invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(BarrageError)
    async def _barrage(request: Request, exc: BarrageError) -> JSONResponse:
        if isinstance(exc, StoreBusyError):
            return _error(503, exc.message, headers={"Retry-After": "5"})
        if isinstance(exc, BacktestMissing):
            return _error(404, exc.message)
        if isinstance(exc, StoreMissing | queries.NotAvailable):
            return _error(503, exc.message)
        if isinstance(exc, QueueFull):
            return _error(429, exc.message, headers={"Retry-After": "10"})
        return _error(400, public_message(exc.message))

    async def cached(name: str, params: Any, compute) -> Response:
        hit = store.peek(name, params)
        if hit is not None:
            return _json(hit, store._version)
        data, version = await run_in_threadpool(store.cached, name, params, compute)
        return _json(data, version)

    # --- reads ----------------------------------------------------------------------------

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        """Liveness and what this server can do; reads at most the store's newest
        ingest row (a stat while the store is unchanged)."""
        version = error = None
        try:
            version = store.fresh_version() or await run_in_threadpool(store.version)
        except BarrageError as exc:
            error = exc.message
        return Health(
            status="ok" if error is None else "degraded",
            version=__version__,
            store=str(settings.db),
            store_version=version,
            store_error=error,
            jobs_active=jobs.active(),
            assessment_available=queries.assessment_available(),
            strike_simulation_available=strike_simulation() is not None,
        )

    @app.get("/api/summary", response_model=Summary, responses=_err(503), tags=["record"])
    async def summary() -> Response:
        """The record at a glance (as `barrage summary --json`)."""
        return await cached("summary", (), queries.summary)

    @app.get("/api/nights", response_model=NightsPage, responses=_err(422, 503), tags=["record"])
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
            return _error(422, f"start {start} is after end {end}")
        cls = weapon_class.value if weapon_class is not None else None
        params = (start, end, cls, offset, limit)
        return await cached(
            "nights",
            params,
            lambda con: queries.nights(
                con, start=start, end=end, weapon_class=cls, offset=offset, limit=limit
            ),
        )

    @app.get(
        "/api/indicators",
        response_model=Indicators,
        responses=_err(400, 422, 503),
        tags=["warning"],
    )
    async def indicators(
        as_of: AsOfQuery = None,
        target: TargetQuery = None,
        days: Annotated[int, Query(ge=1, le=3660, description="History window, days.")] = 365,
    ) -> Response:
        """Every indicator as of a date, with its percentile and its recent history."""
        return await cached(
            "indicators",
            (as_of, target, days),
            lambda con: queries.indicators(con, as_of=as_of, target=target, days=days),
        )

    @app.get(
        "/api/assessment",
        response_model=Assessment,
        responses=_err(400, 422, 503),
        tags=["warning"],
    )
    async def assessment(as_of: AsOfQuery = None, target: TargetQuery = None) -> Response:
        """The warning (as `barrage assess --json`): level, probabilities, drivers. With
        ``as_of``, the assessment as it would have been issued that day."""
        if (as_of, target) == CURRENT_ASSESSMENT:
            return await cached("assessment", CURRENT_ASSESSMENT, current_assessment)
        return await cached(
            "assessment",
            (as_of, target),
            lambda con: queries.assessment(con, as_of=as_of, target=target),
        )

    @app.get(
        "/api/backtest",
        response_model=Backtest,
        responses=_err(400, 404, 422, 503),
        tags=["warning"],
    )
    async def backtest(target: TargetQuery = None) -> Response:
        """The newest stored backtest (`barrage backtest --save` or `barrage run`): scores
        of every model and baseline with intervals, the primary model's forecasts against
        outcomes, and its reliability. 404 when none is stored."""
        return await cached("backtest", (target,), lambda con: queries.backtest(con, target=target))

    @app.get("/api/scorecard", response_model=Scorecard, responses=_err(400, 503), tags=["warning"])
    async def scorecard() -> Response:
        """The live forecast log scored where the outcome is known, beside the backtest
        on the same origins, with a drift flag (as `barrage scorecard --json`)."""
        # Appending a forecast changes the log, not the ingest version: key on its head.
        head = await run_in_threadpool(lambda: _read(queries.log_head))
        return await cached("scorecard", (head,), queries.scorecard)

    def _read(fn):
        with store.read() as con:
            return fn(con)

    # --- jobs -----------------------------------------------------------------------------

    @app.get("/api/scenarios", response_model=list[ScenarioInfo], tags=["simulation"])
    def scenarios() -> list[ScenarioInfo]:
        """The bundled scenarios a job can name (``kind``: salvo or strike)."""
        return _scenarios()

    def _scenarios() -> list[ScenarioInfo]:
        return _salvo_scenarios() + _strike_scenarios()

    def _strike_scenarios() -> list[ScenarioInfo]:
        if strike_simulation() is None:
            return []
        from barrage.grid.strike import example_strike_scenarios, load_strike_scenario

        out = []
        for name, path in example_strike_scenarios().items():
            scn = load_strike_scenario(path)
            out.append(
                ScenarioInfo(
                    name=name,
                    kind="strike",
                    description=scn.salvo.description,
                    weapons=sum(g.count for g in scn.salvo.salvo.weapons),
                    layers=[layer.name for layer in scn.salvo.layers],
                )
            )
        return out

    def _salvo_scenarios() -> list[ScenarioInfo]:
        from barrage.salvo import example_scenarios, load_scenario

        out = []
        for name, path in example_scenarios().items():
            scn = load_scenario(path)
            out.append(
                ScenarioInfo(
                    name=name,
                    description=scn.description,
                    weapons=sum(g.count for g in scn.salvo.weapons),
                    layers=[layer.name for layer in scn.layers],
                )
            )
        return out

    @app.post(
        "/api/jobs/salvo",
        response_model=JobStatus,
        status_code=202,
        responses=_err(400, 422, 429),
        tags=["simulation"],
    )
    @_body_type(JobRequest)
    def submit_salvo(body: SalvoJobRequest) -> JobStatus:
        """Queue a salvo simulation; poll GET /api/jobs/{id} for progress and result."""
        from barrage.salvo import (
            compile_scenario,
            example_scenarios,
            load_scenario,
            scenario_from_dict,
        )

        examples = example_scenarios()
        scn = _requested_scenario(
            body, examples, list(examples), scenario_from_dict, load_scenario, kind=""
        )
        # Cost before compiling: compiling allocates per weapon (10^8 weapons took 2 GB),
        # and a job's arrays grow with weapons x runs x layers x assets x slots.
        _check_cost(scn, body.runs, settings)
        compiled = compile_scenario(scn)
        request = {"scenario": scn.name, "runs": body.runs, "seed": body.seed}
        job = jobs.submit(
            "salvo",
            request,
            salvo_runner(compiled, runs=body.runs, seed=body.seed),
            total=body.runs,
        )
        return job_status(job)

    if strike_simulation() is not None:
        # The hook for the grid's strike simulation (salvo -> damage -> unserved energy):
        # registered only when barrage.grid provides ``simulate_strike``.
        @app.post(
            "/api/jobs/strike",
            response_model=JobStatus,
            status_code=202,
            responses=_err(400, 422, 429),
            tags=["simulation"],
        )
        @_body_type(StrikeRequest)
        def submit_strike(body: StrikeJobRequest) -> JobStatus:
            """Queue a strike simulation (salvo, damage, load shed, restoration); poll GET
            /api/jobs/{id}; the result gives unserved energy (mean, p95, CVaR95)."""
            from barrage.grid.strike import (
                example_strike_scenarios,
                load_strike_scenario,
                strike_from_dict,
            )

            examples = example_strike_scenarios()
            scn = _requested_scenario(
                body,
                examples,
                sorted(examples),
                strike_from_dict,
                load_strike_scenario,
                kind="strike ",
            )
            if body.scenario_spec is not None:
                net = scn.grid.network
                # only the server's network folder: a path would read any file it can
                if not net.startswith("pandapower:") and Path(net).name != net:
                    raise InputError(
                        f"scenario_spec: grid.network {net!r}: expected a file name in the "
                        "server's network folder (no path) or pandapower:<case>"
                    )
            _check_cost(scn.salvo, body.runs, settings)
            # resolve the network now, so a missing one is a 400 here, not a failed job
            from barrage.grid.strike import build_strike_model

            build_strike_model(scn, grid_dir=grid_dir)
            request = {"scenario": scn.name, "runs": body.runs, "seed": body.seed}
            job = jobs.submit(
                "strike",
                request,
                strike_runner(scn, runs=body.runs, seed=body.seed, grid_dir=grid_dir),
                total=body.runs,
            )
            return job_status(job)

    @app.get("/api/jobs", response_model=list[JobStatus], tags=["simulation"])
    def list_jobs() -> list[JobStatus]:
        """Jobs kept on this server, oldest first, ids masked: a job's full id (128
        random bits) is its key, given only to whoever submitted it, and needed to poll
        or cancel it."""
        return [
            job_status(j).model_copy(update={"id": j.id[:6] + "..."})
            for j in list(jobs._jobs.values())
        ]

    @app.get(
        "/api/jobs/{job_id}",
        response_model=JobStatus,
        responses=_err(404, 422),
        tags=["simulation"],
    )
    def get_job(job_id: JobId) -> JobStatus:
        """A job's state, progress (runs done of total) and, when done, its result."""
        job = jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, f"no job {job_id!r} on this server")
        return job_status(job)

    @app.delete(
        "/api/jobs/{job_id}",
        response_model=JobStatus,
        responses=_err(404, 409, 422),
        tags=["simulation"],
    )
    def cancel_job(job_id: JobId) -> JobStatus:
        """Cancel a queued or running job (it stops at its next block of runs)."""
        job = jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, f"no job {job_id!r} on this server")
        if job.state in FINISHED:
            raise StarletteHTTPException(409, f"job {job_id} already {job.state}")
        return job_status(jobs.cancel(job_id) or job)

    # --- the one write ----------------------------------------------------------------------

    @app.post(
        "/api/ingest",
        response_model=IngestResult,
        responses=_err(400, 401, 403, 413, 503),
        tags=["record"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The record CSV (missile_attacks_daily.csv), as the raw body.",
                "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
            },
            "security": [{"bearerAuth": []}],
        },
    )
    async def ingest(request: Request) -> Response:
        """Ingest an uploaded record file into the store (token required; atomic: a
        refused upload changes nothing)."""
        token = settings.upload_token
        if token is None:
            return _error(403, "uploads are disabled: set BARRAGE_UPLOAD_TOKEN on the server")
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if not hmac.compare_digest(
            value.strip().encode() if scheme.lower() == "bearer" else b"",
            token.get_secret_value().encode(),
        ):
            return _error(
                401,
                "missing or wrong upload token (send 'Authorization: Bearer <token>')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        limit = settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, f"upload of {int(declared):,} bytes exceeds the limit of {limit:,}")
        from barrage.record.scratch import scratch_dir, scratch_folder

        # beside the store, swept at the next ingest if the server is killed meanwhile
        with scratch_dir(scratch_folder(settings.db)) as tmp:
            path = tmp / f"upload-{time.strftime('%Y%m%dT%H%M%S')}.csv"
            size = 0
            with path.open("wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return _error(413, f"upload exceeds the limit of {limit:,} bytes")
                    f.write(chunk)
            report = await run_in_threadpool(_ingest_file, path)
        return _json(report.model_dump_json().encode())

    def _ingest_file(path: Path) -> IngestResult:
        from barrage.record import ingest_record

        with store.lock.write():
            try:
                report = ingest_record(path, settings.db, lock_timeout_s=settings.store_wait_s)
            except InputError as exc:
                # name the upload, not the server's temporary file
                raise InputError(exc.message.replace(str(path), "uploaded file")) from None
            finally:
                store.forget_version()
                if settings.warm:
                    warmer.start()  # the new record's assessment, before anyone asks
        d = report.as_dict()
        return IngestResult(
            **{k: d[k] for k in IngestResult.model_fields if k in d},
            store_version=store.version(),
        )

    # --- the dashboard -------------------------------------------------------------------

    from barrage.web import dashboard

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> Response:
        hit = store.peek("dashboard", ())
        if hit is None:
            try:
                hit, _ = await run_in_threadpool(store.cached, "dashboard", (), render_dashboard)
            except _Computing:
                # the assessment is not ready: the page now, its banner says "computing"
                warmer.start()
                try:
                    hit, _ = await run_in_threadpool(
                        store.cached,
                        "dashboard-computing",
                        (),
                        lambda con: dashboard.render(con, settings, None),
                    )
                except BarrageError as exc:
                    return HTMLResponse(dashboard.render_error(exc.message), status_code=503)
            except BarrageError as exc:
                return HTMLResponse(dashboard.render_error(exc.message), status_code=503)
        return HTMLResponse(hit)

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name == "plotly.min.js" and name in static:
            return Response(
                static[name],
                media_type="text/javascript",
                headers={"Cache-Control": "public, max-age=86400"},
            )
        allowed = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
        if name not in allowed:
            raise StarletteHTTPException(404, f"no static file {name!r}")
        return Response((STATIC / name).read_bytes(), media_type=allowed[name])

    return app
