"""The live forecast log is append-only: any rewrite or deletion is detected and refused."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from barrage.warning.forecast_log import ForecastLogError, append_forecast, read_log, verify_log


def _assessment(as_of: str, p7: float) -> dict:
    return {
        "as_of": as_of,
        "target": "massive_missile",
        "p": {"1": p7 / 3, "3": p7 / 2, "7": p7},
        "level": "ELEVATED",
        "drivers": [],
    }


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "log.duckdb"))
    yield c
    c.close()


def test_append_and_read(con):
    for i, day in enumerate(["2025-09-01", "2025-09-02", "2025-09-03"]):
        entry = append_forecast(
            con,
            _assessment(day, 0.3 + 0.1 * i),
            model_version="v1",
            record_sha256="ab" * 32,
            issued_at=datetime(2025, 9, 1 + i, 10),
        )
        assert entry.seq == i + 1
    log = read_log(con)
    assert len(log) == 9 and verify_log(con) == 3
    assert log.loc[(log.seq == 3) & (log.horizon_days == 7), "p"].item() == pytest.approx(0.5)


@pytest.mark.parametrize(
    "tamper",
    [
        'UPDATE forecast_log SET p_json = \'{"1": 0.9, "3": 0.9, "7": 0.9}\' WHERE seq = 1',
        "UPDATE forecast_log SET issued_at = issued_at - INTERVAL 1 DAY WHERE seq = 2",
        "DELETE FROM forecast_log WHERE seq = 1",
        "DELETE FROM forecast_log WHERE seq = 2",
    ],
)
def test_the_log_refuses_an_edit(con, tamper):
    for day in ["2025-09-01", "2025-09-02", "2025-09-03"]:
        append_forecast(con, _assessment(day, 0.4), model_version="v1", record_sha256="cd" * 32)
    con.execute(tamper)
    with pytest.raises(ForecastLogError):
        read_log(con)
    with pytest.raises(ForecastLogError):
        append_forecast(
            con, _assessment("2025-09-04", 0.4), model_version="v1", record_sha256="cd" * 32
        )
    assert con.execute("SELECT max(seq) FROM forecast_log").fetchone()[0] <= 3


def test_empty_store_has_an_empty_log(con):
    assert verify_log(con) == 0
    assert read_log(con).empty
