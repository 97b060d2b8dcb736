"""Hypothesis: whatever the rows hold, ingest neither crashes nor loses one."""

from __future__ import annotations

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _recordgen import row, write_record
from barrage.record import ingest_record

times = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["", " ", "2025-02-30", "2023-05-16 3:30", "24:00", "2025-09-30T20:30"]),
    st.text(max_size=20),
)
counts = st.one_of(
    st.integers(-5, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "NaN", "1e3", "five", "1,5"]),
    st.text(max_size=8),
)
models = st.one_of(
    st.sampled_from(["Shahed-136/131", "Kalibr", "X-101/X-555 and Kalibr", "Unknown UAV", ""]),
    st.text(max_size=30),
)
rows = st.lists(
    st.builds(
        row,
        times,
        times,
        models,
        counts,
        counts,
        source=st.sampled_from(["kpszsu/posts/a", "PvKPivden/posts/b", ""]),
    ),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows)
def test_rows_read_equals_stored_plus_quarantined(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = write_record(tmp / "f.csv", rows)
    db = tmp / "f.duckdb"
    report = ingest_record(path, db)
    assert report.rows_read == len(rows)
    assert (
        report.rows_read
        == report.rows_added + report.rows_updated + report.rows_unchanged + report.rows_quarantined
    )
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM attacks").fetchone()[0]
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        bad_class = con.execute(
            "SELECT count(*) FROM attacks WHERE launched < 0 OR destroyed > launched "
            "OR time_end < time_start OR night IS NULL"
        ).fetchone()[0]
    assert stored + quarantined == len(rows)
    assert bad_class == 0
    again = ingest_record(path, db)
    assert again.rows_added == 0 and again.rows_updated == 0
