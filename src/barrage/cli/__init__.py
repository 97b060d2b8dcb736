"""The ``barrage`` command: a thin shell over the library.

Each command parses its options, makes one library call, renders the result (a rich
table, or one JSON object on stdout with ``--json``) and turns a
:class:`barrage.errors.BarrageError` into one line on stderr and its exit code.
Heavy libraries (pandas, duckdb, scipy, pandapower) are imported inside the commands so
that ``barrage --help`` stays fast.
"""

from __future__ import annotations

from barrage.cli import _common
from barrage.cli._app import app

# Each part registers its commands on `app` (or a sub-app) in its own module, in the
# order `barrage --help` lists them: the main job and the record first.
# ruff: noqa: I001
from barrage.cli import record as _record  # noqa: E402,F401
from barrage.cli import warning as _warning  # noqa: E402,F401
from barrage.cli import live as _live  # noqa: E402,F401
from barrage.cli import stockpile as _stockpile  # noqa: E402,F401
from barrage.cli import simulate as _simulate  # noqa: E402,F401
from barrage.cli import strike as _strike  # noqa: E402,F401
from barrage.cli import grid as _grid  # noqa: E402,F401
from barrage.cli import web as _web  # noqa: E402,F401
from barrage.cli import campaign as _campaign  # noqa: E402,F401

_ = _common


def main() -> None:
    """Console-script entry point."""
    app()
