"""The dashboard in headless Chromium: it renders offline, its banner says what
``barrage assess --json`` says, the simulation form runs a job and shows the result, and
the campaign panel draws a campaign's fan charts with no request leaving the machine.

Needs Debian's ``chromium`` and ``chromium-driver`` (installed by .ci/system-packages).
Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from _chromium import (
    LOOPBACK_ONLY,
    PERFORMANCE_LOG,
    PLOTS_JS,
    chromium,
    left_machine,
    sent_requests,
)
from _webserver import live_server
from barrage.web import Settings, create_app

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "web"
EXAMPLE = "2024-08-26_combined"


@pytest.fixture(scope="module")
def server(record_db: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("e2e") / "store.duckdb"
    shutil.copy(record_db, db)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BARRAGE_GRID_DIR", str(shared_data / "grid" / "pglib-opf"))
        with live_server(create_app(Settings(db=db))) as url:
            yield url, db


@pytest.fixture(scope="module")
def browser():
    with chromium(
        "--window-size=1366,900",
        LOOPBACK_ONLY,
        page_load_timeout_s=30,
        capabilities=PERFORMANCE_LOG,
    ) as driver:
        yield driver


def wait(driver, timeout_s: float, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(condition)


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_dashboard_renders_offline_with_plots_and_attribution(server, browser):
    from barrage import ATTRIBUTION

    url, _ = server
    browser.get(url + "/")
    wait(
        browser,
        20,
        lambda d: d.execute_script(
            "return typeof Plotly !== 'undefined' && "
            "document.querySelector('#timeline-plot .main-svg') !== null"
        ),
    )
    assert browser.execute_script(
        "return Array.from(document.scripts).every(s => !s.src || s.src.startsWith(arguments[0]))",
        url,
    ), "a script is loaded from outside the server"
    assert browser.find_element("id", "attribution").text == ATTRIBUTION
    assert browser.find_element("id", "indicator-plot").is_displayed()
    shot(browser, "dashboard-desktop")


def test_banner_matches_barrage_assess(server, browser):
    from barrage.cli import app
    from barrage.web import queries

    url, db = server
    assert queries.assessment_available()  # this build has the warning layer
    # wait for the server's warm-up (this request waits on its computation, however long
    # the refit takes here), so that the page's own wait below is only a reload
    assert httpx.get(url + "/api/assessment", timeout=None).status_code == 200
    browser.get(url + "/")
    # while the server warms the assessment the banner says "computing" and the page
    # reloads itself when it is ready
    banner = wait(
        browser,
        90,
        lambda d: (
            d.find_element("id", "warning-banner").get_attribute("data-available") != "computing"
            and d.find_element("id", "warning-banner")
        ),
    )
    assert banner.get_attribute("data-available") == "true"
    res = CliRunner().invoke(app, ["assess", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    expected = json.loads(res.stdout)
    assert browser.find_element("id", "warning-level").text.lower() == expected["level"].lower()
    for k, p in expected["p"].items():
        cell = browser.find_element("id", f"p-{k}")
        assert float(cell.get_attribute("data-p")) == pytest.approx(p, abs=1e-12)
        assert cell.text == f"{p * 100:.0f}%"
    shot(browser, "banner")


def test_simulation_form_runs_a_job_and_shows_leakers(server, browser):
    from selenium.webdriver.support.ui import Select

    from barrage.salvo import example_scenarios, load_scenario, simulate

    url, _ = server
    browser.get(url + "/")
    Select(browser.find_element("id", "sim-scenario")).select_by_value(EXAMPLE)
    runs = browser.find_element("id", "sim-runs")
    runs.clear()
    runs.send_keys("2048")
    seed = browser.find_element("id", "sim-seed")
    seed.clear()
    seed.send_keys("5")
    browser.find_element("id", "sim-submit").click()
    leakers = wait(
        browser,
        60,
        lambda d: (
            d.find_elements("id", "sim-leakers")
            or (
                d.find_element("id", "sim-status").get_attribute("data-state")
                in ("failed", "refused", "timed_out")
                and pytest.fail(d.find_element("id", "sim-status").text)
            )
        ),
    )[0]
    expected = simulate(load_scenario(example_scenarios()[EXAMPLE]), runs=2048, seed=5).summary()
    assert float(leakers.get_attribute("data-mean")) == pytest.approx(expected["leakers"]["mean"])
    assert "Unserved energy" in browser.find_element("id", "sim-unserved").text
    assert browser.find_element("id", "sim-status").get_attribute("data-state") == "done"
    shot(browser, "simulation-result")


def test_strike_job_shows_unserved_energy(server, browser):
    from selenium.webdriver.support.ui import Select

    url, _ = server
    browser.get(url + "/")
    Select(browser.find_element("id", "sim-kind")).select_by_value("strike")
    assert browser.find_element("id", "sim-scenario").get_attribute("value") == "strike_case24"
    runs = browser.find_element("id", "sim-runs")
    runs.clear()
    runs.send_keys("32")
    browser.find_element("id", "sim-submit").click()
    unserved = wait(
        browser,
        60,
        lambda d: (
            d.find_elements("css selector", "#sim-unserved[data-mean]")
            or (
                d.find_element("id", "sim-status").get_attribute("data-state")
                in ("failed", "refused", "timed_out")
                and pytest.fail(d.find_element("id", "sim-status").text)
            )
        ),
    )[0]
    job = httpx.get(url + "/api/jobs", timeout=10).json()[-1]
    assert job["kind"] == "strike" and job["request"]["runs"] == 32
    ue = job["result"]["unserved_energy_mwh"]
    assert float(unserved.get_attribute("data-mean")) == pytest.approx(ue["mean"])
    assert float(unserved.get_attribute("data-cvar95")) == pytest.approx(ue["cvar95"])
    assert "MWh" in unserved.text and "CVaR95" in unserved.text
    shot(browser, "strike-result")


def _failed(d, status_id: str):
    """Fail at once when a job the page runs is refused or fails (no waiting it out)."""
    state = d.find_element("id", status_id).get_attribute("data-state")
    if state in ("failed", "refused", "timed_out", "cancelled"):
        pytest.fail(d.find_element("id", status_id).text)
    return False


def _fill(browser, values: dict[str, str]) -> None:
    for field, value in values.items():
        box = browser.find_element("id", field)
        box.clear()
        box.send_keys(value)


def _status(driver) -> str | None:
    return driver.find_element("id", "camp-status").get_attribute("data-state")


def test_campaign_panel_draws_fan_charts_offline(server, browser):
    """A small campaign from the page: one fan chart per series (hours without power,
    each tracked layer, the attacker's stock), each with axis titles and a legend, the
    median drawn from the job's own summary, and no request leaving the machine."""
    url, _ = server
    sent_requests(browser)  # drop anything logged before
    browser.get(url + "/")
    # too big for this server (100 x 150 run-days): the server's refusal is shown whole
    _fill(browser, {"camp-runs": "100", "camp-days": "150"})
    browser.find_element("id", "camp-submit").click()
    wait(browser, 30, lambda d: _status(d) == "refused" or _failed(d, "camp-status"))
    status = browser.find_element("id", "camp-status").text
    assert status.startswith("refused: runs x days: 100 x 150 = 15,000 run-days"), status
    assert browser.find_element("id", "camp-submit").is_enabled()
    _fill(browser, {"camp-runs": "3", "camp-days": "6", "camp-seed": "2"})
    browser.find_element("id", "camp-submit").click()
    wait(
        browser,
        90,  # a hang guard: 3 runs x 6 days take seconds
        lambda d: (
            _status(d) == "done"
            and d.execute_script(
                "const p = document.querySelectorAll('#camp-figures .js-plotly-plot');"
                "return p.length > 0 && Array.from(p).every(gd => gd.querySelector('.main-svg'))"
            )
            or _failed(d, "camp-status")
        ),
    )
    job = httpx.get(url + "/api/jobs", timeout=10).json()[-1]
    assert job["kind"] == "campaign" and job["request"]["runs"] == 3
    result = job["result"]
    plots = browser.execute_script(PLOTS_JS, "#campaign")
    assert len(plots) == 2 + len(result["interceptors"]) >= 3
    for p in plots:
        assert p["drawn"] and not p["untitled"], p
        assert p["legend"] and len(p["legend"]) >= p["shown"], p
    assert {"median", "mean", "90% of runs (p05-p95)"} <= set(plots[0]["legend"])
    assert any(t.startswith("CVaR95") for t in plots[0]["legend"])
    median = browser.execute_script(
        "return document.getElementById('camp-fan-0').data.find(t => t.name === 'median').y"
    )
    assert median == pytest.approx(result["hours_without_power_per_day"]["by_day"]["p50"])
    sent = sent_requests(browser)
    assert url + "/api/jobs/campaign" in sent
    assert any(u.endswith("/figures") for u in sent), sent
    assert not left_machine(sent), left_machine(sent)
    browser.execute_script("document.getElementById('camp-figures').scrollIntoView()")
    shot(browser, "campaign-fan-charts")


def test_forecast_history_says_how_to_get_a_backtest(server, browser):
    url, _ = server
    browser.get(url + "/")
    note = wait(browser, 20, lambda d: d.find_element("id", "history-unavailable"))
    assert "barrage backtest --db" in note.text


def test_dashboard_fits_a_phone(server, browser):
    url, _ = server
    browser.set_window_size(390, 844)
    try:
        browser.get(url + "/")
        wait(browser, 20, lambda d: d.find_elements("css selector", "#timeline-plot .main-svg"))
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 1, f"page is {overflow}px wider than the phone screen"
        shot(browser, "dashboard-phone")
    finally:
        browser.set_window_size(1366, 900)
