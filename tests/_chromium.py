"""Headless Chromium through selenium for the browser tests (dashboard, report)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

#: Flags every browser test starts Chromium with: headless, no sandbox inside the
#: container, and none of Chromium's own background traffic.
BASE_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def chromium(*flags: str, page_load_timeout_s: float, capabilities: dict | None = None) -> Iterator:
    """A Chromium driver with :data:`BASE_FLAGS` plus ``flags`` and a throw-away profile,
    quit and its profile removed on exit. Fails (never skips) when Chromium is missing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            f"{CHROMIUM} / {CHROMEDRIVER} missing: run .ci/system-packages "
            "(apt-get install chromium chromium-driver)",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="barrage-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*BASE_FLAGS, *flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(page_load_timeout_s)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


#: Chromium resolves no host but the loopback: a request meant for the network fails.
LOOPBACK_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
#: The capability that records every request in the DevTools performance log.
PERFORMANCE_LOG = {"goog:loggingPrefs": {"performance": "ALL"}}


def sent_requests(driver) -> list[str]:
    """Every URL the page sent since the last call (DevTools performance log, which the
    driver needs :data:`PERFORMANCE_LOG` for); a request the page's content security
    policy blocked never left and is left out."""
    import json

    sent, blocked = {}, set()
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif msg["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [u for r, u in sent.items() if r not in blocked]


def left_machine(urls: list[str]) -> list[str]:
    """The requests that would go over a network (Chromium's own chrome:// pages, file:
    and data: URLs stay inside)."""
    from urllib.parse import urlsplit

    return [
        u
        for u in urls
        if urlsplit(u).scheme in ("http", "https", "ws", "wss", "ftp")
        and urlsplit(u).hostname not in ("127.0.0.1", "localhost", "::1")
    ]


#: For each plot under the CSS selector ``arguments[0]``: the titles of its axes and the
#: names in its legend, as drawn.
PLOTS_JS = """
return Array.from(document.querySelectorAll(arguments[0] + ' .js-plotly-plot')).map(gd => {
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
