"""``barrage serve`` as one call: settings, a free port, the app, and uvicorn on it.

The server start stays in the library so the command only parses and renders; what the
server says before it starts (what it binds, whether uploads are on) goes to the
caller's ``say`` and ``warn``, never to stdout.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from barrage.errors import InputError, StoreBusyError
from barrage.record.store import connect
from barrage.web.app import create_app
from barrage.web.limits import header_timeout_protocol
from barrage.web.settings import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _say_nothing(_message: str) -> None:
    """The default ``say`` and ``warn``."""


def check_port_free(host: str, port: int) -> None:
    """Bind and release ``host:port`` once, so a busy port is one clear line (exit 2)
    instead of a "serving on" line followed by uvicorn's traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"host: cannot resolve {host!r} ({exc.strerror})") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            raise InputError(
                f"port: {port} on {host} is not free ({exc.strerror}); choose another port"
            ) from None


def check_store(db: Path) -> None:
    """An existing ``db`` must open as a DuckDB store: a text file or a folder was served,
    every answer a 400 or 503. A missing one is fine (503 until an upload makes it) and
    so is a busy one (a writer holds it)."""
    if not Path(db).exists():
        return
    try:
        connect(db, read_only=True, lock_timeout_s=0.0).close()
    except StoreBusyError:
        return
    except InputError as exc:
        raise InputError(f"db: {exc.message}") from None


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    db: str | Path | None = None,
    *,
    say: Callable[[str], None] = _say_nothing,
    warn: Callable[[str], None] = _say_nothing,
) -> None:
    """Serve the dashboard and the API on ``host:port`` until stopped (settings from the
    environment, :class:`Settings`; ``db`` overrides the store). A busy port fails
    before anything is said; ``host`` is added to the allowed Host names."""
    import uvicorn  # the server only: `import barrage.web` (the tests' app) needs none

    settings = Settings() if db is None else Settings(db=db)
    check_port_free(host, port)
    check_store(settings.db)
    if host not in settings.allowed_hosts:
        settings = settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, host]})
    if host not in LOOPBACK:
        warn(f"binding {host}: the API is reachable beyond this machine")
    if settings.upload_token is None:
        say("uploads disabled (set BARRAGE_UPLOAD_TOKEN to enable)")
    say(f"serving {settings.db} on http://{host}:{port}/")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=settings.keep_alive_s,
        http=header_timeout_protocol(settings.header_timeout_s),
    )
