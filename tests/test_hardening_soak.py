"""A short hostile-job soak (issue 22, defect 1): random bodies within the API's stated
limits, one at a time to one loopback server; every job finishes or is refused, the
server stays under 1 GB and gives back what the jobs took. The long run (200 jobs) is
benchmarks/soak_jobs.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from _soak import soak

JOBS = 12
SERVER_CAP_MB = 1024
GROWTH_CAP_MB = 300


def test_random_jobs_within_the_limits_stay_under_1_gb(record_db: Path, tmp_path: Path):
    db = tmp_path / "soak.duckdb"
    shutil.copy(record_db, db)
    result = soak(db, JOBS, seed=22, job_timeout_s=30)
    s = result.summary()
    assert s["jobs"] == JOBS and s["server_errors"] == 0, s
    assert "unfinished" not in s["outcomes"], result.jobs
    assert s["server_peak_rss_mb"] < SERVER_CAP_MB, s
    assert s["rss_growth_mb"] < GROWTH_CAP_MB, s
    assert any(j["status"] == 400 for j in result.jobs), s  # the corners are refused
    assert any(j["outcome"] == "done" for j in result.jobs), s  # and the rest run
