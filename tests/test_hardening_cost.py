"""The job cost model: memory and time known from a job's size before it starts, checked
the same way by the CLI and the API; inputs that used to exhaust memory or silently
remove the defence are refused with a message naming the field (issue 22, defects 1, 6,
7 and 8)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from barrage.compute.salvo import simulate_salvo
from barrage.errors import InputError
from barrage.salvo import example_scenarios, load_scenario, scenario_from_dict
from barrage.salvo.cost import salvo_cost
from barrage.web import Settings, create_app

BARRAGE = str(Path(sys.executable).with_name("barrage"))


@pytest.fixture(scope="module")
def base() -> dict:
    return load_scenario(example_scenarios()["2024-08-26_combined"]).model_dump()


def scaled(base: dict, *, weapons=1.0, layer_copies=1, asset_copies=1, **top) -> dict:
    """The shipped scenario with its weapons scaled and its layers and assets copied."""
    d = copy.deepcopy(base)
    for g in d["salvo"]["weapons"]:
        g["count"] = int(g["count"] * weapons)
    d["layers"] = [
        {**layer, "name": f"{layer['name']}-{k}"}
        for k in range(layer_copies)
        for layer in base["layers"]
    ]
    d["assets"] = [
        {**a, "name": a["name"] if k == 0 else f"{a['name']}-{k}"}
        for k in range(asset_copies)
        for a in base["assets"]
    ]
    d.update(top)
    return d


@pytest.mark.parametrize(
    ("size", "runs"),
    [
        ({}, 3000),
        ({"weapons": 4.0}, 2048),
        ({"layer_copies": 4, "asset_copies": 10}, 2048),
    ],
)
def test_the_estimate_bounds_the_measured_peak(base, size, runs):
    """The estimate is above the peak the engine allocates, and not vacuous (< 6x)."""
    scn = scenario_from_dict(scaled(base, **size))
    cost = salvo_cost(scn, runs)
    tracemalloc.start()
    simulate_salvo(scn, runs=runs, scheduler="sync")
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert peak_mb <= cost.memory_mb <= 6 * max(peak_mb, 5.0), (peak_mb, cost)


def test_the_cost_grows_with_each_dimension(base):
    one = salvo_cost(scenario_from_dict(scaled(base)), 4096)
    for size, runs in (
        ({"weapons": 4.0}, 4096),
        ({"layer_copies": 4}, 4096),
        ({"asset_copies": 40}, 4096),
        ({}, 40_960),
    ):
        bigger = salvo_cost(scenario_from_dict(scaled(base, **size)), runs)
        assert bigger.memory_mb > one.memory_mb
        assert bigger.seconds >= one.seconds


def test_a_job_over_the_memory_budget_is_refused_before_compiling(base):
    """5,000 weapons x 50,000 runs, 150 layers and 1,000 assets took the server past 6 GB."""
    scn = scenario_from_dict(scaled(base, weapons=21.0, layer_copies=30, asset_copies=200))
    tracemalloc.start()
    with pytest.raises(InputError, match=r"^runs: .* needs about [\d,]+ MB, over the limit"):
        simulate_salvo(scn, runs=50_000, scheduler="sync")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6


def test_a_job_over_the_time_budget_is_refused(base):
    scn = scenario_from_dict(scaled(base))
    with pytest.raises(InputError, match=r"needs about [\d,]+ s, over the limit of 1 s"):
        simulate_salvo(scn, runs=200_000, scheduler="sync", max_seconds=1)


@pytest.mark.parametrize(
    ("slot_min", "ok"),
    [(10, True), (0.5, True), (0.1, False), (0.01, False), (1e-5, False)],
)
def test_slots_too_short_for_one_engagement_are_refused(base, slot_min, ok):
    """slot_min 0.1 and 0.01 used to pass and give 97 and 200 mean leakers instead of 25:
    most slots had no engagement, so weapons arriving in them passed."""
    data = scaled(base, slot_min=slot_min)
    if ok:
        scenario_from_dict(data)
    else:
        with pytest.raises(InputError, match=r"slot_min: .*expected slot_min >= "):
            scenario_from_dict(data)


def test_the_allowed_slot_range_barely_moves_the_answer(base):
    """Within the allowed range the mean leakers move by under 10% (24.3 at 10 min)."""
    from barrage.salvo import simulate

    means = [
        simulate(scenario_from_dict(scaled(base, slot_min=s)), runs=3000, seed=1).leakers.mean()
        for s in (10, 2, 0.5)
    ]
    assert max(means) / min(means) < 1.10, means


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("layers", 0, "channels"), 10**12, "channels: Input should be less than or equal to"),
        (("layers", 0, "channels"), True, "channels: Input should be a valid integer"),
        (("salvo", "weapons", 0, "count"), 10**30, "count: Input should be less than or equal"),
        (("salvo", "weapons", 0, "count"), 1e7, "count: Input should be a valid integer"),
    ],
)
def test_out_of_range_fields_are_refused(base, path, value, expected):
    """channels 1e12 overflowed int32 (the layer fired nothing); a count of 1e30 was a
    traceback; ``true`` was read as 1."""
    data = copy.deepcopy(base)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InputError, match=expected):
        scenario_from_dict(data)


def test_cli_refuses_a_salvo_over_its_memory_budget(base, tmp_path):
    """1e7 weapons in `simulate salvo` went past 6 GB; now one line and exit 2."""
    data = scaled(base)
    data["salvo"]["weapons"] = [
        {"family": "shahed", "count": 1_000_000, "arrival_h": [0, 8]} for _ in range(10)
    ]
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    out = subprocess.run(
        [BARRAGE, "simulate", "salvo", str(path), "--runs", "1000", "--scheduler", "sync"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "over the limit" in lines[0], out.stderr


@pytest.fixture()
def client(record_db: Path, tmp_path: Path):
    db = tmp_path / "web.duckdb"
    shutil.copy(record_db, db)
    with TestClient(create_app(Settings(db=db, warm=False))) as c:
        yield c


def test_api_refuses_a_job_over_its_budget_before_it_starts(client, base):
    """A 98 kB body within every stated limit took the server past 6 GB."""
    spec = scaled(base, weapons=21.0, layer_copies=30, asset_copies=200)
    tracemalloc.start()
    r = client.post("/api/jobs/salvo", json={"scenario_spec": spec, "runs": 50_000})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert r.status_code == 400, r.text
    assert "needs about" in r.json()["detail"] and "over the limit" in r.json()["detail"]
    assert peak < 60e6
    assert client.get("/api/jobs").json() == []


def test_api_refuses_tiny_slots_and_boolean_runs(client, base):
    r = client.post("/api/jobs/salvo", json={"scenario_spec": scaled(base, slot_min=1e-5)})
    assert r.status_code == 400 and "slot_min" in r.json()["detail"]
    r = client.post("/api/jobs/salvo", json={"scenario": "2024-08-26_combined", "runs": True})
    assert r.status_code == 422 and "runs" in r.json()["detail"]


def test_every_simulation_entry_checks_the_cost(base):
    """The library's simulate and the strike execution layer check it too."""
    from barrage.salvo import simulate

    scn = scenario_from_dict(scaled(base, weapons=21.0, layer_copies=30, asset_copies=200))
    with pytest.raises(InputError, match="over the limit of 640 MB"):
        simulate(scn, runs=50_000)


def test_api_refuses_a_job_estimated_over_its_time_budget(record_db, tmp_path):
    db = tmp_path / "t.duckdb"
    shutil.copy(record_db, db)
    settings = Settings(db=db, warm=False, max_job_estimate_s=1)
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/jobs/salvo", json={"scenario": "2024-08-26_combined", "runs": 50_000})
        assert r.status_code == 400 and "s, over the limit of 1 s" in r.json()["detail"], r.text
        assert c.post("/api/jobs/salvo", json={"runs": 100}).status_code == 202
