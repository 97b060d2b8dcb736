"""Helpers shared by the CLI modules: JSON output, clean errors, paths."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from barrage.errors import BarrageError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = Path("barrage.duckdb")


def _json_default(obj: Any) -> Any:
    """Serialise numpy scalars, dates and paths that the library hands back."""
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def emit_json(payload: Any) -> None:
    """Write one JSON object to stdout, nothing else."""
    sys.stdout.write(json.dumps(payload, default=_json_default, allow_nan=False) + "\n")
    sys.stdout.flush()


def stderr_console():
    """A rich console on stderr, so that stdout stays clean for --json."""
    from rich.console import Console

    return Console(stderr=True)


def stdout_console():
    from rich.console import Console

    return Console()


def clean_errors(func: F) -> F:
    """Turn a BarrageError into one line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BarrageError as exc:
            sys.stderr.write(f"error: {exc.message}\n")
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


ToOption = Annotated[
    Path, typer.Option("--to", help="Folder to write missile_attacks_daily.csv into.")
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="Download URL (else $BARRAGE_RECORD_URL, else Kaggle's public endpoint)."
    ),
]
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB store file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
