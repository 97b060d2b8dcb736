"""``barrage serve``: the dashboard and the HTTP API from one process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from barrage.cli._app import app
from barrage.cli._common import clean_errors, stderr_console


@app.command()
@clean_errors
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8000,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="DuckDB store (else $BARRAGE_DB, else ./barrage.duckdb)."),
    ] = None,
) -> None:
    """Serve the dashboard at / and the API under /api (OpenAPI at /openapi.json).

    Limits and the upload token come from BARRAGE_UPLOAD_TOKEN, BARRAGE_MAX_UPLOAD_MB,
    BARRAGE_MAX_RUNS, BARRAGE_MAX_QUEUE and BARRAGE_JOB_TIMEOUT_S; a job's estimated cost
    from BARRAGE_MAX_JOB_MEMORY_MB and BARRAGE_MAX_JOB_ESTIMATE_S; the idle-connection
    keep-alive from BARRAGE_KEEP_ALIVE_S (75 s), the header deadline from
    BARRAGE_HEADER_TIMEOUT_S (10 s); Host names served from BARRAGE_ALLOWED_HOSTS.
    """
    import uvicorn

    from barrage.web import Settings, create_app
    from barrage.web.limits import header_timeout_protocol

    settings = Settings() if db is None else Settings(db=db)
    _check_port_free(host, port)  # before saying anything: a busy port fails here
    if host not in settings.allowed_hosts:
        settings = settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, host]})
    if host not in ("127.0.0.1", "localhost", "::1"):
        stderr_console().print(
            f"[yellow]binding {host}: the API is reachable beyond this machine[/]"
        )
    if settings.upload_token is None:
        stderr_console().print("uploads disabled (set BARRAGE_UPLOAD_TOKEN to enable)")
    stderr_console().print(f"serving {settings.db} on http://{host}:{port}/")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=settings.keep_alive_s,
        http=header_timeout_protocol(settings.header_timeout_s),
    )


def _check_port_free(host: str, port: int) -> None:
    """Bind and release ``host:port`` once, so a busy port is one clear line (exit 2)
    instead of a "serving on" line followed by uvicorn's traceback."""
    import socket

    from barrage.errors import InputError

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
                f"port: {port} on {host} is not free ({exc.strerror}); choose another --port"
            ) from None
