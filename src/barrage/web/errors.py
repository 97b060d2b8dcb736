"""Library errors to HTTP answers: one table, read at the web boundary.

Each library error type maps to a status code and, where trying again later can help,
a Retry-After; any other :class:`~barrage.errors.BarrageError` is the caller's input
(400), its message cut of server paths. The first matching row wins, so a subclass
goes above its base.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from barrage.errors import BarrageError, StoreBusyError, shown
from barrage.warning.backtest_store import BacktestMissing
from barrage.web.jobs import QueueFull
from barrage.web.models import ErrorResponse
from barrage.web.queries import NotAvailable
from barrage.web.store import StoreMissing

#: (error type, status, Retry-After seconds or None); else 400 with the public message.
STATUS: tuple[tuple[type[BarrageError], int, int | None], ...] = (
    (StoreBusyError, 503, 5),
    (BacktestMissing, 404, None),
    (StoreMissing, 503, None),
    (NotAvailable, 503, None),
    (QueueFull, 429, 10),
)

_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])(?:/[^\s'\"/,;()]+)+/([^\s'\"/,;()]+)")


def public_message(message: str) -> str:
    """A library message fit for a stranger: absolute paths cut to their file name (the
    server's folders are nobody's business) and control characters escaped."""
    return shown(_ABSOLUTE_PATH.sub(r"\1", message), limit=2000)


def error_response(
    status: int, detail: str, headers: dict | None = None, **extra: Any
) -> JSONResponse:
    """The one shape of every error answer (:class:`ErrorResponse`)."""
    body = ErrorResponse(detail=detail, **extra).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def library_error(exc: BarrageError) -> JSONResponse:
    """The answer to a library error, by :data:`STATUS`."""
    for kind, status, retry_after_s in STATUS:
        if isinstance(exc, kind):
            headers = None if retry_after_s is None else {"Retry-After": str(retry_after_s)}
            return error_response(status, exc.message, headers=headers)
    return error_response(400, public_message(exc.message))


def _json_problem(error: dict) -> str:
    """A body that is not JSON: where the parser stopped, why, and what was expected."""
    loc = error.get("loc", ())
    at = f" at character {loc[1]}" if len(loc) > 1 else ""
    why = (error.get("ctx") or {}).get("error", "")
    return (
        f"body: not valid JSON{at}"
        + (f" ({shown(str(why), limit=80)})" if why else "")
        + ("; expected a JSON object")
    )


def validation_error(exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad field, what was wrong, and (shortened) what was given."""
    errors = []
    parts = []
    for e in exc.errors():
        if e.get("type") == "json_invalid":  # was "body.0: JSON decode error (got dict)"
            parts.append(_json_problem(e))
            errors.append({"loc": ["body"], "msg": parts[-1]})
            continue
        loc = ".".join(str(x) for x in e.get("loc", ()))
        msg = e.get("msg", "invalid")
        value = e.get("input")
        given = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if len(given) > 60:
            given = given[:57] + "..."
        parts.append(f"{loc}: {msg} (got {given})")
        errors.append({"loc": [str(x) for x in e.get("loc", ())], "msg": msg})
    return error_response(422, "; ".join(parts) or "invalid request", errors=errors)


def install(app: FastAPI) -> None:
    """Answer validation, HTTP and library errors in the one :class:`ErrorResponse` shape."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(BarrageError)
    async def _barrage(request: Request, exc: BarrageError) -> JSONResponse:
        return library_error(exc)
