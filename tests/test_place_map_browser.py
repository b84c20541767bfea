"""The place view in a real headless Chromium: drawn, offline, days in the case zone, hostile labels inert."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from cdrnet.analysis.places import case_cells, coverage, place_cells, presence, sightings
from cdrnet.loader.cellsites import SITE_COLUMNS
from cdrnet.viz.placemap import PlaceOptions, write_place_map
from tests.browser import browser, console_errors, network_requests, wait_places
from tests.helpers import frame, sess

HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
A, B, C = "919800000001", "919800000002", "919800000003"


def sites(rows: list[tuple[str, float, float, str, str]]) -> pd.DataFrame:
    """Imported positions: (cell_id, lat, lon, source, site name)."""
    f = pd.DataFrame({c: pd.Series(dtype="string") for c in SITE_COLUMNS})
    body = pd.DataFrame({"cell_id": [r[0] for r in rows], "cell_raw": [r[0] for r in rows],
                         "lat": [r[1] for r in rows], "lon": [r[2] for r in rows], "source": [r[3] for r in rows],
                         "site_name": [r[4] for r in rows], "status": "In-service", "list_sha256": "ab" * 32,
                         "source_line": range(2, 2 + len(rows))})
    return pd.concat([f, body], ignore_index=True)


def test_place_view_offline_days_in_case_zone_and_safe(tmp_path):
    # 20:00 UTC on 1 March is 01:30 on 2 March in Kolkata: the page's days are the case zone's.
    f = frame([sess(A, "2024-03-01 20:00:00", cell="404-70-166-1"), sess(B, "2024-03-01 20:05:00", cell="404-70-166-1"),
               sess(A, "2024-03-02 10:00:00", cell="404-70-166-2"), sess(C, "2024-03-02 11:00:00", cell="404-70-166-3"),
               sess(C, "2024-03-02 12:00:00", cell="404-70-166-4")])
    f["cell_raw"], f["cell_name"], f["lat"], f["lon"] = f["cell_id"], "", np.nan, np.nan
    f.loc[0, "cell_name"] = HOSTILE
    f.loc[0, ["lat", "lon"]] = [23.02, 72.57]  # the operator's own position for cell 1
    listed = sites([("404-70-166-1", 10.0, 10.0, "chart", "ignored: the operator's position wins"),
                    ("404-70-166-2", 23.05, 72.60, "chart", HOSTILE), ("404-70-166-3", 23.10, 72.65, "opencellid", "")])
    f = sightings(f)
    placed = place_cells(case_cells(f), listed)
    assert placed.set_index("cell_id")["source"].fillna("none").to_dict() == {
        "404-70-166-1": "operator", "404-70-166-2": "chart", "404-70-166-3": "opencellid", "404-70-166-4": "none"}
    seen = presence(f, placed.dropna(subset=["lat"])["cell_id"], "Asia/Kolkata")
    assert seen[["cell_id", "msisdn", "day", "first"]].values.tolist() == [
        ["404-70-166-1", A, "2024-03-02", "01:30:00"], ["404-70-166-1", B, "2024-03-02", "01:35:00"],
        ["404-70-166-2", A, "2024-03-02", "15:30:00"], ["404-70-166-3", C, "2024-03-02", "16:30:00"]]
    path = write_place_map(placed, seen, tmp_path / "places.html",
                           PlaceOptions(title=HOSTILE, tz="Asia/Kolkata", suspects=[C], coverage=coverage(placed)))
    page = path.read_text()
    assert "<script>window.__xss" not in page and "&lt;script&gt;" in page
    assert "3 placed cells, 3 subscribers seen at them; times and days in Asia/Kolkata" in page
    assert "4 cells in the case, 3 with a position" in page
    with browser() as d:
        d.get(path.as_uri())
        wait_places(d)
        assert d.execute_script("return document.querySelectorAll('circle.cell').length") == 3
        assert d.execute_script("return window.cdrnetPlaces.active") == 3
        assert d.execute_script("return document.querySelectorAll('circle.cell.suspect').length") == 1
        assert HOSTILE in d.find_element("tag name", "h1").text
        # The day slider: one day (the only one), then a number filter.
        d.execute_script("var s = document.getElementById('day'); s.value = '1'; s.dispatchEvent(new Event('input'));")
        assert d.find_element("id", "daylabel").text == "2024-03-02"
        d.find_element("id", "who").send_keys("0002")
        assert d.execute_script("return window.cdrnetPlaces.active") == 1
        # A click on the cell of the hostile name lists who was there; the name stays text.
        d.execute_script("document.querySelectorAll('circle.cell')[0].dispatchEvent(new MouseEvent('click'))")
        side = d.find_element("id", "side").text
        assert B in side and "01:35:00" in side and "times in Asia/Kolkata" in side and A not in side
        d.execute_script("document.querySelectorAll('circle.cell')[1].dispatchEvent(new MouseEvent('click'))")
        assert HOSTILE in d.find_element("id", "side").text
        assert d.execute_script("return window.__xss === undefined")
        assert d.execute_script("return document.querySelectorAll('#side img, #side script, header img').length") == 0
        shot = tmp_path / "places.png"
        d.save_screenshot(str(shot))
        assert network_requests(d) == []
        assert console_errors(d) == []
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.std() > 5


def test_place_view_with_no_placed_cell_still_opens(tmp_path):
    f = frame([sess(A, "2024-03-01 10:00:00", cell="404-70-166-9")])
    f["cell_raw"], f["cell_name"], f["lat"], f["lon"] = f["cell_id"], "", np.nan, np.nan
    f = sightings(f)
    placed = place_cells(case_cells(f), sites([]))
    seen = presence(f, placed.dropna(subset=["lat"])["cell_id"], "UTC")
    path = write_place_map(placed, seen, tmp_path / "none.html", PlaceOptions(tz="UTC", coverage=coverage(placed)))
    assert "1 cells in the case, 0 with a position" in path.read_text()
    with browser() as d:
        d.get(path.as_uri())
        wait_places(d)
        assert d.execute_script("return window.cdrnetPlaces.cells") == 0
        assert network_requests(d) == [] and console_errors(d) == []
