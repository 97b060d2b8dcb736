"""What every router shares: the app's context, the cached JSON answer, query types."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from barrage.web.jobs import JobManager
from barrage.web.models import ErrorResponse
from barrage.web.settings import Settings
from barrage.web.store import StoreView
from barrage.web.warm import Warmer

#: The parameters of GET /api/assessment without a query: the cache key the server warms.
CURRENT_ASSESSMENT = (None, None)

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


@dataclass
class AppContext:
    """One app's state, handed to each router: its settings, store view, jobs, the
    warm-up of slow answers, static files and the strike jobs' network folder."""

    settings: Settings
    store: StoreView
    jobs: JobManager
    grid_dir: Path | None
    warmer: Warmer | None = None  # set once built (it renders pages with this context)
    static: dict[str, bytes] = field(default_factory=dict)

    async def cached(self, name: str, params: Any, compute) -> Response:
        """``compute(con)`` as JSON, from the cache while the store is unchanged."""
        hit = self.store.peek_versioned(name, params)
        if hit is not None:
            return json_answer(*hit)
        data, version = await run_in_threadpool(self.store.cached, name, params, compute)
        return json_answer(data, version)

    def read(self, fn):
        """``fn(con)`` on a short read-only connection."""
        with self.store.read() as con:
            return fn(con)


def json_answer(data: bytes, version: str | None = None) -> Response:
    """Serialised JSON as it is, with the store version as its ETag."""
    headers = {"ETag": f'"{version}"'} if version else None
    return Response(content=data, media_type="application/json", headers=headers)


def error_docs(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route's error codes."""
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
