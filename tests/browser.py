"""The benchmark's headless Chromium (bench/browser.py) with the tests' rule for a missing browser."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bench.browser import CHROMIUM, DRIVER, browser_installed, console_errors, network_requests
from bench.browser import browser as _browser

__all__ = ["CHROMIUM", "DRIVER", "browser", "console_errors", "network_requests", "require_browser"]


def require_browser() -> None:
    """Skip outside CI when Chromium is missing; in CI a missing browser is a failure."""
    if browser_installed():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium/chromedriver are required in CI (scripts/test installs them)")
    pytest.skip("Debian chromium + chromium-driver not installed (scripts/test installs them)")


@contextmanager
def browser() -> Iterator[object]:
    require_browser()
    with _browser() as driver:
        yield driver


def wait_places(driver, timeout: float = 30.0) -> None:
    """Wait until the offline place view says it has drawn (maps and `cells map` share it)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if driver.execute_script("return window.cdrnetPlaces && window.cdrnetPlaces.ready"):
            return
        time.sleep(0.1)
    raise AssertionError("place view never drawn")
