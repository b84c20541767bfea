"""Headless Debian Chromium driven by selenium, with the network cut off and requests recorded.

The map benchmark opens its page here; the browser tests use the same driver (tests/browser.py
adds pytest's skip-or-fail rule). selenium is a test extra: on a plain install ``browser()``
raises ``BrowserMissing`` and the benchmark reports the stage as skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


class BrowserMissing(RuntimeError):
    """Chromium, chromedriver or selenium is not installed."""


def browser_installed() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(DRIVER)


@contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium whose every http(s)/ws request is blocked (and logged)."""
    if not browser_installed():
        raise BrowserMissing("Debian chromium + chromium-driver not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserMissing("selenium is not installed (pip install selenium)") from exc

    profile = tempfile.mkdtemp(prefix="cdrnet-chrome-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
                 "--window-size=1400,900", "--allow-file-access-from-files"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def network_requests(driver) -> list[str]:  # noqa: ANN001 - a selenium WebDriver
    """Every URL the page asked for (from Chrome's performance log), except the page itself."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] in ("Network.requestWillBeSent", "Network.loadingFailed"):
            url = msg["params"].get("request", {}).get("url", "")
            # chrome:// and devtools:// are the browser talking to itself (its new-tab page), not the map.
            if url and not url.startswith(("file://", "data:", "about:", "blob:", "chrome://", "chrome-untrusted://",
                                           "devtools://")):
                urls.append(url)
    return urls


def console_errors(driver) -> list[str]:  # noqa: ANN001 - a selenium WebDriver
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
