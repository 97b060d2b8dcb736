"""Simulation jobs: the bundled scenarios, submitting a salvo, strike or campaign job,
polling and cancelling, and a campaign's fan charts. A job runs in the background (one worker thread); its cost is checked
before anything is allocated, and its full id, given only to whoever submitted it, is
the key to poll or cancel it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from barrage.campaign import example_campaigns, load_campaign
from barrage.campaign.scenario import with_overrides
from barrage.errors import InputError
from barrage.grid.strike import (
    build_strike_model,
    example_strike_scenarios,
    load_strike_scenario,
    strike_catalogue,
    strike_from_dict,
)
from barrage.report.campaign import campaign_figures_json
from barrage.salvo import compile_scenario, example_scenarios, load_scenario, scenario_from_dict
from barrage.salvo.cost import salvo_cost
from barrage.salvo.scenario import scenario_catalogue
from barrage.web.jobs import (
    FINISHED,
    Job,
    JobManager,
    campaign_runner,
    salvo_runner,
    strike_runner,
)
from barrage.web.models import (
    CampaignJobRequest,
    JobProgress,
    JobStatus,
    SalvoJobRequest,
    ScenarioInfo,
    StrikeJobRequest,
)
from barrage.web.routes._common import AppContext, JobId, error_docs
from barrage.web.settings import Settings

UNSERVED_ENERGY_NOTE = (
    "unserved energy needs a grid: run a strike job (POST /api/jobs/strike), which puts "
    "a salvo on a test network; the salvo result shows what gets through"
)


def _body_type(model: type) -> Any:
    """Set a route's ``body`` type to a model built at run time (annotations are strings
    under ``from __future__ import annotations``, resolved in module globals)."""

    def wrap(func):
        func.__annotations__["body"] = model
        return func

    return wrap


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
    _check_weapons(salvo_scenario, settings.max_weapons)
    salvo_cost(salvo_scenario, runs).check(
        max_memory_mb=settings.max_job_memory_mb, max_seconds=settings.max_job_estimate_s
    )


def _submit_route(router: APIRouter, path: str, body_model: type):
    """The decorator of a job-submitting route: 202 with the job's status, its errors
    documented, its body the server's request model."""
    post = router.post(
        path,
        response_model=JobStatus,
        status_code=202,
        responses=error_docs(400, 422, 429),
        tags=["simulation"],
    )
    return lambda func: post(_body_type(body_model)(func))


def _request_model(base: type, default_runs: int, max_runs: int) -> type:
    """``base`` with the server's run limit in its schema (so clients and fuzzers see it)."""
    return create_model(
        base.__name__,
        __base__=base,
        __doc__=base.__doc__,
        runs=(
            int,
            Field(
                default=min(default_runs, max_runs),
                ge=1,
                le=max_runs,
                strict=True,
                description="Monte Carlo runs, at most this server's limit.",
            ),
        ),
    )


def scenario_infos() -> list[ScenarioInfo]:
    """The bundled scenarios a job can name: salvo's, then the grid's strike scenarios."""
    return [ScenarioInfo(**d) for d in scenario_catalogue() + strike_catalogue()]


def submit_salvo_job(body: SalvoJobRequest, settings: Settings, jobs: JobManager) -> Job:
    """Check a salvo job's scenario and cost, compile it, and queue it."""
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
    return job


def submit_strike_job(
    body: StrikeJobRequest, settings: Settings, jobs: JobManager, grid_dir: Path | None
) -> Job:
    """Check a strike job's scenario, network and cost, and queue it."""
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
    build_strike_model(scn, grid_dir=grid_dir)
    request = {"scenario": scn.name, "runs": body.runs, "seed": body.seed}
    job = jobs.submit(
        "strike",
        request,
        strike_runner(scn, runs=body.runs, seed=body.seed, grid_dir=grid_dir),
        total=body.runs,
    )
    return job


def submit_campaign_job(
    body: CampaignJobRequest, settings: Settings, jobs: JobManager, grid_dir: Path | None
) -> Job:
    """Check a campaign job's scenario, season and size (runs x days), and queue it."""
    names = sorted(example_campaigns())
    name = body.scenario or names[0]
    if name not in names:
        raise InputError(
            f"scenario: unknown campaign scenario {name!r}; expected one of {', '.join(names)}"
        )
    scn = with_overrides(load_campaign(name), start=body.start, days=body.days)
    run_days, limit = body.runs * scn.days, settings.max_campaign_run_days
    if run_days > limit:
        raise InputError(
            f"runs x days: {body.runs:,} x {scn.days} = {run_days:,} run-days, more than "
            f"this server's limit of {limit:,} per campaign job; ask for fewer runs or days"
        )
    start = scn.start.isoformat()
    request = {"scenario": name, "start": start, "days": scn.days, "runs": body.runs,
               "seed": body.seed}  # fmt: skip
    runner = campaign_runner(
        name, runs=body.runs, seed=body.seed, start=start, days=scn.days, grid_dir=grid_dir
    )
    return jobs.submit("campaign", request, runner, total=body.runs)


def _campaign_routes(router: APIRouter, ctx: AppContext) -> None:
    """A campaign job and its fan charts."""

    CampaignRequest = _request_model(CampaignJobRequest, 40, ctx.settings.max_campaign_run_days)

    @_submit_route(router, "/api/jobs/campaign", CampaignRequest)
    def submit_campaign(body: CampaignJobRequest) -> JobStatus:
        """Queue a small campaign (a season night by night on the stylised system,
        illustrative); poll GET /api/jobs/{id}; the result is the CampaignSummary of
        ``barrage simulate campaign --json`` and GET /api/jobs/{id}/figures its fan charts."""
        return job_status(submit_campaign_job(body, ctx.settings, ctx.jobs, ctx.grid_dir))

    @router.get(
        "/api/jobs/{job_id}/figures",
        response_model=list[dict[str, Any]],
        responses=error_docs(404, 409, 422),
        tags=["simulation"],
    )
    def job_figures(job_id: JobId) -> Response:
        """A finished campaign job's fan charts (hours without power, each tracked
        layer's interceptors, the attacker's stock), as plotly figures: the same figures
        as the report's campaign section."""
        job = ctx.jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, f"no job {job_id!r} on this server")
        if job.kind != "campaign" or job.state != "done":
            raise StarletteHTTPException(
                409, f"job {job_id} is a {job.state} {job.kind} job; fan charts need a "
                "finished campaign job"
            )  # fmt: skip
        return Response(campaign_figures_json(job.result.as_json()), media_type="application/json")


def router(ctx: AppContext) -> APIRouter:
    """The job routes of one app (its run limits are part of the request schemas)."""
    router = APIRouter()
    SalvoRequest = _request_model(SalvoJobRequest, 2000, ctx.settings.max_runs)
    StrikeRequest = _request_model(StrikeJobRequest, 256, ctx.settings.max_strike_runs)

    @router.get("/api/scenarios", response_model=list[ScenarioInfo], tags=["simulation"])
    def scenarios() -> list[ScenarioInfo]:
        """The bundled scenarios a job can name (``kind``: salvo or strike)."""
        return scenario_infos()

    @_submit_route(router, "/api/jobs/salvo", SalvoRequest)
    def submit_salvo(body: SalvoJobRequest) -> JobStatus:
        """Queue a salvo simulation; poll GET /api/jobs/{id} for progress and result."""
        return job_status(submit_salvo_job(body, ctx.settings, ctx.jobs))

    @_submit_route(router, "/api/jobs/strike", StrikeRequest)
    def submit_strike(body: StrikeJobRequest) -> JobStatus:
        """Queue a strike simulation (salvo, damage, load shed, restoration); poll GET
        /api/jobs/{id}; the result gives unserved energy (mean, p95, CVaR95)."""
        return job_status(submit_strike_job(body, ctx.settings, ctx.jobs, ctx.grid_dir))

    _campaign_routes(router, ctx)

    @router.get("/api/jobs", response_model=list[JobStatus], tags=["simulation"])
    def list_jobs() -> list[JobStatus]:
        """Jobs kept on this server, oldest first, ids masked: a job's full id (128
        random bits) is its key, given only to whoever submitted it, and needed to poll
        or cancel it."""
        return [job_status(j).model_copy(update={"id": j.id[:6] + "..."}) for j in ctx.jobs.kept()]

    @router.get(
        "/api/jobs/{job_id}",
        response_model=JobStatus,
        responses=error_docs(404, 422),
        tags=["simulation"],
    )
    def get_job(job_id: JobId) -> JobStatus:
        """A job's state, progress (runs done of total) and, when done, its result."""
        job = ctx.jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, f"no job {job_id!r} on this server")
        return job_status(job)

    @router.delete(
        "/api/jobs/{job_id}",
        response_model=JobStatus,
        responses=error_docs(404, 409, 422),
        tags=["simulation"],
    )
    def cancel_job(job_id: JobId) -> JobStatus:
        """Cancel a queued or running job (it stops at its next block of runs)."""
        job = ctx.jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, f"no job {job_id!r} on this server")
        if job.state in FINISHED:
            raise StarletteHTTPException(409, f"job {job_id} already {job.state}")
        return job_status(ctx.jobs.cancel(job_id) or job)

    return router
