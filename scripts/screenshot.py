"""Screenshot an HTML page cdrnet wrote (a map, the summary page) with headless Chromium (README images).

``python scripts/screenshot.py PAGE.html OUT.png [places]``: with ``places`` the map's Places tab
is opened first (the place view inside the map).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser import browser  # noqa: E402


def main(html: str, png: str, tab: str = "") -> None:
    with browser() as d:
        d.get(Path(html).resolve().as_uri())
        is_map = d.execute_script("return !!document.getElementById('map')")
        for _ in range(100):
            if d.execute_script("return document.readyState === 'complete'" if not is_map
                                else "return window.cdrnetStats && window.cdrnetStats.ready"):
                break
            time.sleep(0.2)
        if is_map:
            time.sleep(4)  # let the physics settle
        if tab:
            d.find_element("id", f"tab-{tab}").click()
            for _ in range(100):
                if d.execute_script("return window.cdrnetPlaces && window.cdrnetPlaces.ready"):
                    break
                time.sleep(0.2)
        d.save_screenshot(png)
    print(png)


if __name__ == "__main__":
    main(*sys.argv[1:4])
