"""Shared fixtures: the real public data beside the repo, and a store built from it.

The data folder is ``$BARRAGE_SHARED_DATA`` or ``<repo>/../shared/data``. It is never
committed into the project; when it is missing the suite fails loudly (no skips).
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("BARRAGE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared reference data folder (fails the test if it is missing)."""
    path = _shared_data_dir()
    if not (path / "attack-record" / "missile_attacks_daily.csv").is_file():
        pytest.fail(
            f"shared reference data not found at {path} (expected "
            "attack-record/missile_attacks_daily.csv); set BARRAGE_SHARED_DATA",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def record_csv(shared_data: Path) -> Path:
    return shared_data / "attack-record" / "missile_attacks_daily.csv"


@pytest.fixture(scope="session")
def record_db(record_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the real snapshot, built once per session. Treat as read-only."""
    from barrage.record import ingest_record

    db = tmp_path_factory.mktemp("store") / "record.duckdb"
    ingest_record(record_csv, db)
    return db


@pytest.fixture()
def store(record_db: Path, tmp_path: Path) -> Path:
    """A writable copy of the snapshot store (:func:`record_db`), one per test."""
    db = tmp_path / "store.duckdb"
    shutil.copy(record_db, db)
    return db


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    """Runtime warnings from numpy (overflow, invalid) fail the test, as in PyPSA."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=RuntimeWarning, module="numpy")
        yield
