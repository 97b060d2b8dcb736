"""Shared fixtures: the real public data beside the repo, and a store built from it.

The data folder is ``$BARRAGE_SHARED_DATA`` or ``<repo>/../shared/data``. It is never
committed into the project; when it is missing the suite fails loudly (no skips).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Each heavy file's share of the default run's test time (per mille; ``pytest
#: --junitxml`` summed by file, 2026-12-07, after the design and refit sharing of issue
#: #20; docs/testing.md). The default run hands whole files to the workers (``--dist
#: loadfile``) in collection order (``--no-loadscope-reorder``): heaviest first, so no
#: worker starts a long file when the other is nearly done. Unlisted files weigh 0 and
#: keep their order.
FILE_WEIGHTS = {
    "test_live.py": 109,
    "test_warning_cli.py": 108,
    "test_compute.py": 57,
    "test_record_cli.py": 52,
    "test_backtest_reuse.py": 41,
    "test_campaign.py": 40,
    "test_salvo_realism.py": 38,
    "test_hardening_fuzz.py": 36,
    "test_report_browser.py": 34,
    "test_hardening_web.py": 31,
    "test_warning_newer_record.py": 29,
    "test_grid_planning.py": 28,
    "test_web_data.py": 22,
    "test_stockpile_model.py": 20,
    "test_web_api.py": 19,
    "test_web_e2e.py": 19,
    "test_web_schema.py": 19,
    "test_hardening_soak.py": 19,
    "test_warning_refit_cache.py": 19,
    "test_record_properties.py": 18,
}


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
def record_db(record_csv: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A store holding the real snapshot, built once per session, with its stockpile
    refits in the disk cache beside it (filled by the build itself: an in-process
    assessment served from a kept design fits and writes none), so that a
    ``barrage`` subprocess on a copy (:func:`store`) reads them instead of refitting.
    The cache is keyed by record, statements and code: cached equals computed
    (tests/test_warning_refit_cache.py). Treat as read-only.

    Under pytest-xdist the first worker to need it builds it (ingest, then 10-20 s of
    refits) and leaves a copy in the session's shared folder; the others wait on a lock
    for that copy instead of refitting the same months beside it."""
    db = tmp_path_factory.mktemp("store") / "record.duckdb"
    if worker_id == "master":
        return _build_record_db(record_csv, db)
    shared = tmp_path_factory.getbasetemp().parent / "shared-record-store"
    shared.mkdir(exist_ok=True)
    with (shared / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the builder finishes or dies
        built, done = shared / "record.duckdb", shared / "done"
        if done.is_file():
            _copy_store(built, db)
            _refits(db)  # read from the copied cache: this process holds them too
        else:  # first, or after a builder that died part way
            _build_record_db(record_csv, db)
            _copy_store(db, built)
            done.touch()
    return db


def _build_record_db(record_csv: Path, db: Path) -> Path:
    """Ingest the snapshot into ``db`` and fill its stockpile refit cache."""
    from barrage.record import ingest_record

    ingest_record(record_csv, db)
    return _refits(db)


def _refits(db: Path) -> Path:
    """Every stockpile refit of the store ``db`` (up to the day after its last night),
    computed or read from its disk cache, and so also held in this process (a fresh store
    of the same record in a later test reads them from there)."""
    from barrage.warning.assess import inputs_from_store

    inputs = inputs_from_store(db)
    rec = inputs.record
    inputs.stockpile(rec.first_night, rec.day_index(rec.last_night) + 1)
    return db


def _copy_store(src: Path, dst: Path) -> None:
    """A copy of the store file ``src`` and of its refit cache."""
    from barrage.warning.stock import refit_cache_dir

    shutil.copy(src, dst)
    shutil.copytree(refit_cache_dir(src), refit_cache_dir(dst), dirs_exist_ok=True)


@pytest.fixture()
def store(record_db: Path, tmp_path: Path) -> Path:
    """A writable copy of the snapshot store (:func:`record_db`) and of its refit cache,
    one per test."""
    db = tmp_path / "store.duckdb"
    _copy_store(record_db, db)
    return db


#: A heavy file that needs no snapshot store, sent second: xdist hands the first file to
#: the first worker and the second to the other, so the other runs this while the first
#: builds :func:`record_db`, instead of waiting for that build on its lock.
STORE_FREE_SECOND = "test_hardening_fuzz.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heaviest files first (:data:`FILE_WEIGHTS`), but :data:`STORE_FREE_SECOND`
    second; a file's tests keep their order."""
    heaviest = max(FILE_WEIGHTS.values())

    def weight(item: pytest.Item) -> float:
        name = item.path.name
        return heaviest - 0.5 if name == STORE_FREE_SECOND else FILE_WEIGHTS.get(name, 0)

    items.sort(key=lambda item: -weight(item))


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    """Runtime warnings from numpy (overflow, invalid) fail the test, as in PyPSA."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=RuntimeWarning, module="numpy")
        yield
