"""Request-size limits enforced before a body is read into memory.

FastAPI reads a JSON body whole before validating it, and uvicorn sets no size limit,
so without this a 1 GB POST to a JSON endpoint is held in memory before any check.
This ASGI middleware refuses a request whose declared ``Content-Length`` is over the
limit (413, nothing read) and stops a chunked body as soon as it passes the limit.
The upload endpoint (``/api/ingest``) streams to disk and applies its own, larger limit.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` except on ``exempt`` paths."""

    def __init__(self, app, *, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def _refuse(self, send, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.exempt:
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await self._refuse(
                        send,
                        f"request body of {value.decode(errors='replace')} bytes exceeds the "
                        f"limit of {limit:,} bytes (BARRAGE_MAX_REQUEST_KB)",
                    )
                    return
        received = 0
        state = {"started": False, "refused": False}

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now and tell the app the client went away: it stops reading.
                    if not state["started"]:
                        state["started"] = state["refused"] = True
                        await self._refuse(
                            send,
                            f"request body exceeds the limit of {limit:,} bytes "
                            "(BARRAGE_MAX_REQUEST_KB)",
                        )
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            if state["refused"]:
                return  # the 413 has been sent; drop the app's own answer
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
