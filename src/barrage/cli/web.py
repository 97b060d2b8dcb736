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
    from barrage.web.server import serve as serve_app

    serve_app(
        host,
        port,
        db,
        say=stderr_console().print,
        warn=lambda message: stderr_console().print(f"[yellow]{message}[/]"),
    )
