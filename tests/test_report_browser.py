"""The HTML report and the API docs in headless Chromium with no network: each section,
every axis title and every legend is drawn, and no request leaves the machine.

Chromium resolves no host but the loopback (``--host-resolver-rules``), and the test
reads every request the page made from the DevTools performance log. Needs Debian's
``chromium`` and ``chromium-driver`` (.ci/system-packages). Screenshots go to
test-artifacts/report/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from _chromium import chromium
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
        # no network: every name but the loopback fails to resolve
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        "--window-size=1280,1000",
        page_load_timeout_s=60,
        capabilities={"goog:loggingPrefs": {"performance": "ALL"}},
    ) as driver:
        yield driver


def _requests(driver) -> list[str]:
    """Every URL the page sent since the last call (DevTools performance log); a
    request the page's content security policy blocked never left and is left out."""
    sent, blocked = {}, set()
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif msg["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [u for r, u in sent.items() if r not in blocked]


def _left_machine(urls: list[str]) -> list[str]:
    """The requests that would go over a network (Chromium's own chrome:// pages, file:
    and data: URLs stay inside)."""
    from urllib.parse import urlsplit

    return [
        u
        for u in urls
        if urlsplit(u).scheme in ("http", "https", "ws", "wss", "ftp")
        and urlsplit(u).hostname not in ("127.0.0.1", "localhost", "::1")
    ]


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


#: For each plot: the titles of its axes and the names in its legend, as drawn.
PLOTS_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const L = gd._fullLayout;
  const axes = Object.keys(L).filter(k => /^[xy]axis\\d*$/.test(k));
  return {
    id: gd.id,
    drawn: gd.querySelector('.main-svg') !== null,
    untitled: axes.filter(k => !(L[k].title && L[k].title.text)),
    legend: Array.from(gd.querySelectorAll('.legend .traces .legendtext')).map(e => e.textContent),
    shown: gd._fullData.filter(t => t.showlegend !== false && t.visible !== false).length,
    panels: (L.annotations || []).filter(a => a.text && a.yref === 'paper').length,
    traces: gd._fullData.length,
  };
});
"""


def test_report_draws_every_section_axis_and_legend_offline(report, browser):
    _requests(browser)  # drop anything logged before
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
    plots = browser.execute_script(PLOTS_JS)
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
    sent = _requests(browser)
    assert report.as_uri() in sent
    assert not _left_machine(sent), _left_machine(sent)


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
    _requests(browser)
    browser.get(server + page)
    n = _wait(browser, 60, lambda d: d.execute_script(ready))
    assert n >= 5  # the operations are listed, so the bundled script ran
    assert "barrage" in browser.page_source
    _full_page_shot(browser, page.strip("/"))
    sent = _requests(browser)
    assert server + page in sent
    assert any(u.startswith(server + "/static-offline-docs/") for u in sent), sent
    assert not _left_machine(sent), _left_machine(sent)
