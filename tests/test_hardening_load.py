"""Concurrency: 10 clients on loopback for 10 s while another process ingests and
appends to the forecast log. Zero 5xx, zero failed requests, no row lost or doubled.

The full run (50 clients, 60 s, a real ``barrage update`` in the middle) is
``python benchmarks/load_update.py``; its figures are in docs/reliability.md. This
short run uses ``barrage ingest`` + a log append as the writer (the same writes without
the minute-long assessment refit) and the record endpoints. The load starts once the
server's warm-up refit is over (it holds a read connection, so a writer started during it
waited out its 30 s lock timeout on a loaded machine: issue #20).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from load_update import run  # noqa: E402

PATHS = [
    "/health",
    "/api/summary",
    "/api/nights?limit=50",
    "/api/nights?offset=50&limit=50",
    "/api/nights?weapon_class=ballistic_missile",
]


@pytest.mark.soak
def test_readers_keep_working_while_another_process_writes(shared_data, tmp_path):
    messages = []
    figures = run(
        clients=10, duration=10, writer="ingest", workdir=tmp_path, log=messages.append,
        paths=PATHS,
    )  # fmt: skip
    assert figures["writer_exit_codes"] == [0, 0], messages
    assert figures["server_errors_5xx"] == 0, figures["statuses"]
    assert figures["failed_requests"] == 0, figures["statuses"]
    # served throughout, whatever the machine's speed: every client, before and after
    # the write (no request-count threshold, which a busy machine would miss)
    assert figures["clients_served"] == 10
    assert figures["requests_before_writer"] > 0 and figures["requests_after_writer"] > 0
    after = figures["after"]
    assert after["rows"] == figures["rows_expected_after"] == figures["before"]["rows"] + 10
    assert after["duplicate_keys"] == 0
    assert after["log_entries"] == figures["before"]["log_entries"] + 1
    assert figures["ok"]
