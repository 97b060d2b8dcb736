"""Schemathesis against the live OpenAPI schema: no 5xx and no response outside the
schema, on every operation including the upload and the jobs (bounded: a few examples
per operation, ~60 s in all)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from _webserver import live_server
from barrage.web import Settings, create_app

TOKEN = "fuzz-token"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_url(record_db: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("fuzz") / "store.duckdb"
    shutil.copy(record_db, db)
    app = create_app(
        Settings(
            db=db,
            upload_token=TOKEN,
            max_runs=2048,
            max_strike_runs=64,
            max_campaign_run_days=60,  # a positive example stays a second's job
            warm=False,  # the first GET /api/assessment computes it, as without warm-up
            max_queue=2,
            job_timeout_s=2,
            max_upload_mb=1,
        )
    )
    with live_server(app) as url:
        yield url


def _operations(url: str) -> dict[str, object]:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return {
        f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in schema.get_all_operations())
    }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(live_url, mode):
    """Every operation, valid and invalid inputs: typed answers, never a 5xx (the warning
    endpoints included: this build has the warning layer, so no 503 is excused)."""
    from barrage.web import queries

    assert queries.assessment_available() and queries.backtest_available()
    operations = _operations(live_url)
    assert {
        "GET /api/nights",
        "POST /api/ingest",
        "POST /api/jobs/salvo",
        "DELETE /api/jobs/{job_id}",
        "GET /api/assessment",
        "GET /api/backtest",
        "POST /api/jobs/strike",
    } <= set(operations)
    failures: dict[str, str] = {}
    for name, op in operations.items():

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            # a fresh assessment refits the models (seconds): one valid example is enough
            max_examples=1
            if name == "GET /api/assessment" and mode == GenerationMode.POSITIVE
            else 8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            headers = {"Authorization": f"Bearer {TOKEN}"} if case.path == "/api/ingest" else None
            case.call_and_validate(checks=CHECKS, headers=headers, timeout=30)

        try:
            run()
        except Unsatisfiable:
            # no invalid input exists for an operation without parameters (or a raw body)
            assert mode == GenerationMode.NEGATIVE, name
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures[name] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
