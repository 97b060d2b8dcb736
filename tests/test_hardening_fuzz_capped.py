"""Fuzzing under a memory cap (issue 22): the scenario YAML through to the simulation, the
MATPOWER parser, and the web job bodies. Each target runs under ``resource.setrlimit``
(RLIMIT_AS, the process's size now + a cap), so an input that blows up memory fails the
test with MemoryError instead of taking the machine. ``BARRAGE_FUZZ_EXAMPLES`` (default
40) examples per target.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fuzz import check_matpower, json_values, matpower_text, memory_cap, mutated, yaml_bytes
from barrage.errors import InputError
from barrage.salvo import example_scenarios

EXAMPLES = int(os.environ.get("BARRAGE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a loaded machine: the memory cap, not time, is the check
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CAP_MB = 1024
"""Address space an example may add (the job budget is 640 MB of arrays)."""
SALVO_TEXT = example_scenarios()["2024-08-26_combined"].read_text("utf-8")
SALVO = yaml.safe_load(SALVO_TEXT)


def _case_text() -> str:
    from barrage.grid.strike import DEFAULT_GRID_DIR

    root = Path(__file__).resolve().parents[1]
    return (root / DEFAULT_GRID_DIR / "pglib_opf_case24_ieee_rts.m").read_text("utf-8")


CASE_TEXT = _case_text()


def _simulate_or_refuse(path: Path) -> str:
    """Load, cost and run a scenario file as `barrage simulate salvo` does."""
    from barrage.compute.salvo import simulate_salvo
    from barrage.salvo import load_scenario

    try:
        scn = load_scenario(path)
        simulate_salvo(scn, runs=256, scheduler="sync")
    except InputError:
        return "refused"
    return "ran"


def test_the_cap_turns_a_blow_up_into_a_memory_error():
    import numpy as np

    with memory_cap(64), pytest.raises(MemoryError):
        np.ones(10**9)


@FUZZ
@given(data=yaml_bytes(SALVO_TEXT), counts=st.sampled_from([1, 10, 10**3, 10**6]))
def test_scenario_yaml_simulates_or_is_refused_under_the_cap(tmp_path_factory, data, counts):
    tmp = tmp_path_factory.mktemp("yaml")
    text = data.replace(b"count: 109", f"count: {counts}".encode())
    path = tmp / "fuzz.yaml"
    path.write_bytes(text)
    with memory_cap(CAP_MB):
        assert _simulate_or_refuse(path) in ("ran", "refused")


@FUZZ
@given(data=mutated(SALVO))
def test_scenario_dict_simulates_or_is_refused_under_the_cap(tmp_path_factory, data):
    from barrage.compute.salvo import simulate_salvo
    from barrage.salvo import scenario_from_dict

    with memory_cap(CAP_MB):
        try:
            simulate_salvo(scenario_from_dict(data), runs=256, scheduler="sync")
        except InputError:
            pass


@FUZZ
@given(text=matpower_text(CASE_TEXT))
def test_matpower_parser_under_the_cap(text):
    with memory_cap(CAP_MB):
        check_matpower(text)


@pytest.fixture(scope="module")
def job_client(record_db: Path, tmp_path_factory):
    from barrage.web import Settings, create_app

    db = tmp_path_factory.mktemp("fuzzweb") / "web.duckdb"
    shutil.copy(record_db, db)
    with TestClient(
        create_app(Settings(db=db, warm=False, max_queue=64, job_timeout_s=20)),
        raise_server_exceptions=False,
    ) as c:
        yield c


job_bodies = st.fixed_dictionaries(
    {},
    optional={
        "scenario": st.sampled_from([*example_scenarios(), "nope", ""]),
        "scenario_spec": mutated(SALVO) | json_values,
        "runs": st.integers(-5, 60_000) | json_values,
        "seed": st.integers(-1, 2**64) | json_values,
        "extra": json_values,
    },
)


@FUZZ
@given(body=job_bodies)
def test_web_job_bodies_are_answered_under_the_cap(job_client, body):
    """Any body: 202 (then cancelled), 400, 422 or 429; never 500; under the cap."""
    with memory_cap(CAP_MB):
        raw = json.dumps(body, allow_nan=True)  # NaN and Infinity too, as a client may send
        r = job_client.post(
            "/api/jobs/salvo", content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code in (202, 400, 422, 429), (r.status_code, r.text[:300])
        if r.status_code == 202:
            job_client.delete(f"/api/jobs/{r.json()['id']}")
