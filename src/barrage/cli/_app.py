"""The root ``barrage`` Typer app, apart from the package so the command modules that
register on it import it without importing the package that imports them (no circle)."""

from __future__ import annotations

from typing import Annotated

import typer

from barrage.cli import _common

app = typer.Typer(
    name="barrage",
    help=(
        "Early warning and impact simulation for massive drone and missile strikes on "
        "Ukraine's power system, from public data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_common.OneLineErrors,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_common.print_version,
        ),
    ] = False,
) -> None:
    """Early warning and impact simulation for massive drone and missile strikes on
    Ukraine's power system, from public data."""
