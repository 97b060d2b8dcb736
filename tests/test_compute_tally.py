"""The salvo summary reduced on the workers (barrage.compute.tally) is the summary of the
joined runs, bit for bit; and a Dask worker running a salvo chunk imports no more than
the salvo needs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barrage.compute import summarise_salvo
from barrage.compute.tally import Counts, SalvoTally
from barrage.salvo import example_scenarios, load_scenario, simulate
from barrage.salvo.compile import compile_scenario
from barrage.salvo.cost import DEFAULT_MAX_MEMORY_MB, salvo_cost
from barrage.salvo.engine import simulate_blocks
from barrage.salvo.result import summarise

NIGHTS = ("2024-08-26_combined", "2025-07-09_combined")


@settings(deadline=None, max_examples=200)  # no per-example clock: the machine is shared
@given(
    values=st.lists(st.integers(0, 60), min_size=1, max_size=400),
    offset=st.integers(0, 10_000),
)
def test_counts_summary_is_numpys_mean_and_quantiles(values, offset):
    x = np.array(values, dtype=np.int64) + offset
    assert Counts.of(x).summary() == summarise(x)


@settings(deadline=None)
@given(
    a=st.lists(st.integers(0, 50), min_size=1, max_size=100),
    b=st.lists(st.integers(20, 90), min_size=1, max_size=100),
)
def test_adding_counts_is_counting_both(a, b):
    x, y = np.array(a), np.array(b)
    both = Counts.of(x) + Counts.of(y)
    assert both.summary() == summarise(np.concatenate([x, y]))
    assert int(both.runs_at.sum()) == len(a) + len(b)


@pytest.mark.parametrize("night", NIGHTS)
@pytest.mark.parametrize(("runs", "chunk_runs"), [(1, None), (3000, 1024), (5000, None)])
def test_reduced_summary_is_the_joined_runs_summary(night, runs, chunk_runs):
    scn = load_scenario(example_scenarios()[night])
    joined = simulate(scn, runs=runs, seed=5).summary()
    reduced = summarise_salvo(scn, runs=runs, seed=5, scheduler="sync", chunk_runs=chunk_runs)
    assert json.dumps(reduced) == json.dumps(joined)  # same keys, order and floats


def test_tallies_merge_in_any_grouping():
    cs = compile_scenario(load_scenario(example_scenarios()[NIGHTS[0]]))
    cost = np.array([layer.interceptor_cost_usd for layer in cs.layers])
    blocks = [simulate_blocks(cs, seed=2, runs=4096, start=b, stop=b + 1) for b in range(4)]
    one_by_one = SalvoTally.merge([SalvoTally.of(o, cost) for o in blocks])
    pairs = [
        SalvoTally.merge([SalvoTally.of(blocks[i], cost), SalvoTally.of(blocks[i + 1], cost)])
        for i in (0, 2)
    ]
    regrouped = SalvoTally.merge(pairs)
    assert one_by_one.runs == regrouped.runs == 4096
    for name, cols in one_by_one.counts.items():
        for c, d in zip(cols, regrouped.counts[name], strict=True):
            assert c.lo == d.lo and np.array_equal(c.runs_at, d.runs_at), name
    assert np.array_equal(one_by_one.defender_cost_usd, regrouped.defender_cost_usd)


def test_reduced_job_fits_the_memory_budget_that_the_joined_one_exceeds():
    """2 million runs of the July 2025 night: refused when every run's outputs are joined
    in one process, within budget when the workers reduce them."""
    scn = load_scenario(example_scenarios()["2025-07-09_combined"])
    joined = salvo_cost(scn, 2_000_000, workers=2)
    reduced = salvo_cost(scn, 2_000_000, workers=2, reduced_chunk_runs=32 * 1024)
    assert joined.memory_mb > DEFAULT_MAX_MEMORY_MB > reduced.memory_mb
    assert reduced.seconds == joined.seconds


def test_a_worker_running_salvo_chunks_does_not_import_the_backtest_stack():
    """A fresh cluster's workers import ``barrage.compute.executor`` (the task wrapper)
    and ``barrage.compute.salvo``: with the package importing everything, that pulled in
    scipy, scikit-learn and the warning part, seconds before the first chunk ran."""
    code = (
        "import sys, barrage.compute.executor, barrage.compute.salvo; "
        "print(sorted(m for m in ('scipy', 'sklearn', 'barrage.warning', 'barrage.grid') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_of_the_package_resolves():
    import barrage.compute as compute

    for name in compute.__all__:
        assert getattr(compute, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_name"):
        compute.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    ("asked", "runs", "idle", "runs_on", "warns"),
    [
        ("auto", 131_072, 2.0, "sync", None),  # measured 0.98x with 2 cores free
        ("auto", 262_144, 2.0, "local", None),  # measured 1.28x
        ("auto", 1_000_000, 0.0, "sync", None),  # measured 0.89x on busy cores
        ("auto", 2_000_000, 0.0, "local", None),  # measured 0.99-1.24x on busy cores
        ("local", 1_024, 2.0, "local", "1,024 runs of this scenario"),
        ("local", 1_000_000, 0.5, "local", "the cores are busy"),
        ("local", 1_000_000, 2.0, "local", None),
        ("sync", 2_000_000, 2.0, "sync", None),
        ("tcp://10.0.0.5:8786", 1_024, 0.0, "tcp://10.0.0.5:8786", None),
    ],
)
def test_a_command_runs_a_local_cluster_only_when_it_pays(asked, runs, idle, runs_on, warns):
    from barrage.compute.salvo import command_scheduler

    scn = load_scenario(example_scenarios()["2025-07-09_combined"])
    got, reason = command_scheduler(scn, runs, asked, idle=idle)
    assert got == runs_on
    assert (reason is None) if warns is None else (warns in reason)


def test_idle_cores_follow_the_load_average(monkeypatch):
    from barrage.compute import salvo

    monkeypatch.setattr(salvo.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(salvo.os, "getloadavg", lambda: (5.6, 4.0, 3.0))
    assert salvo.idle_cores() == 0.0
    monkeypatch.setattr(salvo.os, "getloadavg", lambda: (0.25, 1.0, 1.0))
    assert salvo.idle_cores() == 1.75
