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

from barrage.errors import shown

Scope = dict[str, Any]


async def send_json_error(send, status: int, detail: str, *, close: bool = False) -> None:
    """Answer at the ASGI level (before the app runs) with ``{"detail": ...}``;
    ``close`` asks the client to drop the connection (its body is not read)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` except on ``exempt`` paths."""

    def __init__(self, app, *, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def _refuse(self, send, detail: str) -> None:
        await send_json_error(send, 413, detail, close=True)

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
                        f"request body of {shown(value)} bytes exceeds the "
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


def _host_name(value: str) -> str:
    """The host of a ``Host`` header without its port (``[::1]:8000`` -> ``::1``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostAllowList:
    """Answer 400 to a request whose ``Host`` is not on the list: a page on another site
    that rebinds its DNS name to 127.0.0.1 sends its own name and is refused."""

    def __init__(self, app, *, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = {_host_name(h) for h in allowed}

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers", ())).get(b"host", b"").decode("latin-1")
        if _host_name(host) in self.allowed:
            await self.app(scope, receive, send)
            return
        detail = f"host {shown(host)!r} is not served here (BARRAGE_ALLOWED_HOSTS)"
        await send_json_error(send, 400, detail)


def header_timeout_protocol(timeout_s: float):
    """uvicorn's h11 protocol with a deadline on reading a request's headers.

    uvicorn closes idle keep-alive connections but waits for ever on a request whose
    headers arrive slowly (connections sending a byte every few seconds stayed open past
    100 s). The deadline runs from a connection's first byte (or its opening) to the end
    of the headers; a connection still short of them is closed.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11(H11Protocol):
        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer = None
            self._served = 0
            self._arm()

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(timeout_s, self._check_headers)

        def data_received(self, data: bytes) -> None:
            self._arm()
            super().data_received(data)

        def on_response_complete(self) -> None:
            self._served += 1
            super().on_response_complete()

        def _check_headers(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0] or not self._served:
                self.transport.close()

        def connection_lost(self, exc) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

    return HeaderTimeoutH11
