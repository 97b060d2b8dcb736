"""The one write: an uploaded record file ingested into the store (token required;
atomic: a refused upload changes nothing)."""

from __future__ import annotations

import hmac
import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from barrage.errors import InputError
from barrage.record import ingest_record
from barrage.record.scratch import scratch_dir, scratch_folder
from barrage.web.errors import error_response
from barrage.web.models import IngestResult
from barrage.web.routes._common import AppContext, error_docs, json_answer


def router(ctx: AppContext) -> APIRouter:
    """The ingest route of one app."""
    router = APIRouter()

    @router.post(
        "/api/ingest",
        response_model=IngestResult,
        responses=error_docs(400, 401, 403, 413, 503),
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
        token = ctx.settings.upload_token
        if token is None:
            return error_response(
                403, "uploads are disabled: set BARRAGE_UPLOAD_TOKEN on the server"
            )
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if not hmac.compare_digest(
            value.strip().encode() if scheme.lower() == "bearer" else b"",
            token.get_secret_value().encode(),
        ):
            return error_response(
                401,
                "missing or wrong upload token (send 'Authorization: Bearer <token>')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        limit = ctx.settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return error_response(
                413, f"upload of {int(declared):,} bytes exceeds the limit of {limit:,}"
            )
        # beside the store, swept at the next ingest if the server is killed meanwhile
        with scratch_dir(scratch_folder(ctx.settings.db)) as tmp:
            path = tmp / f"upload-{time.strftime('%Y%m%dT%H%M%S')}.csv"
            size = 0
            with path.open("wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return error_response(413, f"upload exceeds the limit of {limit:,} bytes")
                    f.write(chunk)
            report = await run_in_threadpool(_ingest_file, path)
        return json_answer(report.model_dump_json().encode())

    def _ingest_file(path: Path) -> IngestResult:
        with ctx.store.lock.write():
            try:
                report = ingest_record(
                    path, ctx.settings.db, lock_timeout_s=ctx.settings.store_wait_s
                )
            except InputError as exc:
                # name the upload, not the server's temporary file
                raise InputError(exc.message.replace(str(path), "uploaded file")) from None
            finally:
                ctx.store.forget_version()
                if ctx.settings.warm:
                    ctx.warmer.start()  # the new record's assessment, before anyone asks
        d = report.as_dict()
        return IngestResult(
            **{k: d[k] for k in IngestResult.model_fields if k in d},
            store_version=ctx.store.version(),
        )

    return router
