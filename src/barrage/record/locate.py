"""Where the attack record is: ``--record``, else ``$BARRAGE_RECORD``, else ``./data``."""

from __future__ import annotations

import os
from pathlib import Path

from barrage.errors import InputError

RECORD_FILENAME = "missile_attacks_daily.csv"
KAGGLE_URL = "https://www.kaggle.com/datasets/piterfm/massive-missile-attacks-on-ukraine"


def locate_record(
    record: str | os.PathLike[str] | None = None, *, given_as: str = "--record"
) -> Path:
    """Return the record CSV path, or raise a message that says how to get one.

    ``record`` (or ``$BARRAGE_RECORD``) may name the CSV itself or a folder holding
    ``missile_attacks_daily.csv``; ``given_as`` is how the caller's user named it (the
    message says where the path came from).
    """
    candidates: list[tuple[str, Path]] = []
    if record is not None:
        candidates.append((given_as, Path(record)))
    elif os.environ.get("BARRAGE_RECORD"):
        candidates.append(("$BARRAGE_RECORD", Path(os.environ["BARRAGE_RECORD"])))
    else:
        candidates.append(("./data", Path("data")))
    origin, path = candidates[0]
    if path.is_dir():
        path = path / RECORD_FILENAME
    if path.is_file():
        return path
    raise InputError(
        f"no attack record at {path} (from {origin}). Download {RECORD_FILENAME} from "
        f"{KAGGLE_URL} and point barrage at it with --record PATH or BARRAGE_RECORD=PATH "
        "(a file or the folder holding it), or put it in ./data/."
    )


def scenario_file(scenario: str | os.PathLike[str], examples: dict[str, Path]) -> Path:
    """The file, or a shipped example named by its stem (every scenario command and the
    library calls behind them take both)."""
    scenario = Path(scenario)
    if scenario.exists():
        return scenario
    if str(scenario) in examples:
        return examples[str(scenario)]
    raise InputError(
        f"{scenario}: cannot read scenario file (no such file, and not a shipped example: "
        f"{', '.join(sorted(examples))})"
    )
