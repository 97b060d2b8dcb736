"""Helpers shared by the CLI modules: JSON output, clean errors, paths."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from barrage import ATTRIBUTION
from barrage.errors import BarrageError

# The click that typer runs on (its own vendored copy in newer releases, click before):
# its exceptions, and the current command's context.
_click_errors = importlib.import_module(typer.BadParameter.__module__)
_click_context = importlib.import_module(
    typer.BadParameter.__module__.rpartition(".")[0] + ".globals"
).get_current_context

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


def print_credit() -> None:
    """The data credit, under every text output that shows results (JSON stays data)."""
    stdout_console().print(f"[dim]{ATTRIBUTION}[/]")


def flag_message(message: str, ctx: Any) -> str:
    """A library message as the user typed it: a leading parameter name (``as_of: ...``)
    becomes the command's flag (``--as-of: ...``), so every error names what to change."""
    head, sep, rest = message.partition(":")
    if not sep or ctx is None:
        return message
    for param in ctx.command.params:
        if param.name == head.strip() and param.param_type_name == "option":
            return f"{max(param.opts, key=len)}:{rest}"
    return message


def clean_errors(func: F) -> F:
    """Turn a BarrageError into one line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BarrageError as exc:
            message = flag_message(exc.message, _click_context(silent=True))
            sys.stderr.write(f"error: {message}\n")
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def usage_message(exc: Any) -> str:
    """A usage error on one line, in the same ``error: FLAG: what`` form as library
    errors, with the command whose ``--help`` explains it."""
    if isinstance(exc, _click_errors.BadParameter) and not isinstance(
        exc, _click_errors.MissingParameter
    ):
        param = exc.param
        if param is not None:
            name = (
                max(param.opts, key=len)
                if param.param_type_name == "option"
                else param.human_readable_name
            )
            text = f"{name}: {exc.message}"
        else:
            text = exc.format_message()
    else:
        text = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        text += f" (see `{ctx.command_path} --help`)"
    return " ".join(text.split())


class OneLineErrors(TyperGroup):
    """The root group: usage errors print one line (no boxes), like library errors."""

    def main(self, *args: Any, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **extra)
        try:
            rv = super().main(*args, standalone_mode=False, **extra)
        except _click_errors.NoArgsIsHelpError as exc:
            exc.show()  # `barrage simulate` alone: its help, not an error
            sys.exit(exc.exit_code)
        except _click_errors.ClickException as exc:
            sys.stderr.write(f"error: {usage_message(exc)}\n")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("aborted\n")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def print_version(value: bool) -> None:
    """``barrage --version``: the package version, then exit."""
    if value:
        from barrage import __version__

        sys.stdout.write(f"barrage {__version__}\n")
        raise typer.Exit()


def stderr_progress(description: str):
    """A progress bar on stderr for a library call's ``progress`` activity."""
    from barrage.compute import progress_bar

    return progress_bar(description, console=stderr_console())


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
