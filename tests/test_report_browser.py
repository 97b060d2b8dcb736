"""The HTML report and the API docs in headless Chromium with no network: each section,
every axis title and every legend is drawn, and no request leaves the machine.

Chromium resolves no host but the loopback (``--host-resolver-rules``), and the test
reads every request the page made from the DevTools performance log. Needs Debian's
``chromium`` and ``chromium-driver`` (.ci/system-packages). Screenshots go to
test-artifacts/report/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from _chromium import (
    LOOPBACK_ONLY,
    PERFORMANCE_LOG,
    PLOTS_JS,
    chromium,
    left_machine,
    sent_requests,
)
from _webserver import live_server

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "report"
#: The report's sections, top-down.
SECTIONS = (
    "answer",
    "drivers",
    "record",
    "backtest",
    "against-baselines",
    "scores",
    "stockpiles",
    "live",
    "data",
)
#: A short backtest (three months, one horizon): the report's layout, not its numbers.
SHORT = {"start": "2025-05-01", "end": "2025-07-31", "horizons": (7,)}


@pytest.fixture(scope="module")
def browser():
    with chromium(
        "--allow-file-access-from-files",
        LOOPBACK_ONLY,  # no network: every name but the loopback fails to resolve
        "--window-size=1280,1000",
        page_load_timeout_s=60,
        capabilities=PERFORMANCE_LOG,
    ) as driver:
        yield driver


def _wait(driver, timeout_s: float, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(condition)


def _full_page_shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 100, 16000))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.set_window_size(1280, 1000)


@pytest.fixture(scope="module")
def report(record_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from barrage.report import write_report
    from barrage.warning.assess import inputs_from_store
    from barrage.warning.evaluate import default_plan, run

    folder = tmp_path_factory.mktemp("report")
    db = folder / "store.duckdb"
    shutil.copy(record_db, db)
    inputs = inputs_from_store(db)
    bt = run(inputs, default_plan(inputs.record, **SHORT))
    return write_report(inputs, folder / "report.html", backtest=bt, n_boot=20)


def test_report_draws_every_section_axis_and_legend_offline(report, browser):
    sent_requests(browser)  # drop anything logged before
    browser.get(report.as_uri())
    _wait(
        browser,
        60,
        lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".every(gd => gd.querySelector('.main-svg'))"
            " && document.querySelectorAll('.js-plotly-plot').length > 0"
        ),
    )
    ids = browser.execute_script(
        "return Array.from(document.querySelectorAll('section')).map(s => s.id)"
    )
    assert [s for s in ids if s in SECTIONS] == list(SECTIONS), ids  # all, in reading order
    assert ids[0] == "answer"
    plots = browser.execute_script(PLOTS_JS, "body")
    by_id = {p["id"]: p for p in plots}
    for pid in ("timeline-plot", "indicator-plot", "forecast-plot", "reliability-plot"):
        assert pid in by_id, list(by_id)
    assert sum(p.startswith("stock-") for p in by_id) >= 1
    for p in plots:
        assert p["drawn"], p["id"]
        assert not p["untitled"], f"{p['id']}: axes without a title {p['untitled']}"
        if p["id"] == "indicator-plot":
            # one line a panel: the panel's title is its legend
            assert p["panels"] == p["traces"], p
        else:
            assert p["legend"] and len(p["legend"]) >= p["shown"], p
    # missiles are drawn (their own row) and the reliability bins say their counts
    assert any("missiles" in t for t in by_id["timeline-plot"]["legend"])
    assert (
        browser.execute_script(
            "return document.querySelectorAll('#reliability-plot .textpoint').length"
        )
        > 0
    )
    # the long tables are folded
    assert browser.execute_script("return document.querySelectorAll('details').length") >= 3
    assert not browser.find_element("id", "scores-table").is_displayed()
    _full_page_shot(browser, "report")
    sent = sent_requests(browser)
    assert report.as_uri() in sent
    assert not left_machine(sent), left_machine(sent)


@pytest.fixture(scope="module")
def server(record_db: Path, tmp_path_factory: pytest.TempPathFactory):
    from barrage.web import Settings, create_app

    db = tmp_path_factory.mktemp("docs") / "store.duckdb"
    shutil.copy(record_db, db)
    with live_server(create_app(Settings(db=db, warm=False))) as url:
        yield url


@pytest.mark.parametrize(
    "page, ready",
    [
        ("/docs", "return document.querySelectorAll('.swagger-ui .opblock').length"),
        ("/redoc", "return document.querySelectorAll('[data-section-id]').length"),
    ],
)
def test_api_docs_render_offline(server, browser, page, ready):
    sent_requests(browser)
    browser.get(server + page)
    n = _wait(browser, 60, lambda d: d.execute_script(ready))
    assert n >= 5  # the operations are listed, so the bundled script ran
    assert "barrage" in browser.page_source
    _full_page_shot(browser, page.strip("/"))
    sent = sent_requests(browser)
    assert server + page in sent
    assert any(u.startswith(server + "/static-offline-docs/") for u in sent), sent
    assert not left_machine(sent), left_machine(sent)
