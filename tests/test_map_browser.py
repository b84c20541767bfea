"""The HTML map in a real headless Chromium: offline, counted, safe, and looked at."""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pandas as pd
from PIL import Image

from cdrnet.viz.netmap import MapOptions, build_graph, export_graph, write_map
from tests.browser import browser, console_errors, network_requests, wait_places
from tests.helpers import frame, sess

HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def edges_for(pairs: list[tuple[str, str, float]], link: bool = True) -> pd.DataFrame:
    n = len(pairs)
    return pd.DataFrame({
        "a": [p[0] for p in pairs], "b": [p[1] for p in pairs], "score": [p[2] for p in pairs], "link": link,
        "messaging_obs": 5, "messaging_exp": 1.0, "call_obs": 0, "coloc_obs": 0, "messaging_p": 1e-5,
        "call_p": 1.0, "coloc_p": 0.5, "services": ["Meta=5"] * n, "first_utc": "2024-01-01", "last_utc": "2024-01-02",
    })


def wait_ready(driver, timeout: float = 120.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if driver.execute_script("return window.cdrnetStats && window.cdrnetStats.ready"):
            return time.perf_counter() - t0
        time.sleep(0.2)
    raise AssertionError("map never finished drawing")


def test_small_map_offline_counts_and_safe(tmp_path):
    A, B, C, D = "919800000001", "919800000002", "919800000003", "919800000004"
    sessions = frame([sess(A, "2024-01-01 10:00:00"), sess(B, "2024-01-01 10:00:00"), sess(C, "2024-01-01 10:00:00"),
                      sess(D, "2024-01-01 10:00:00")])
    sessions.loc[0, "app"] = HOSTILE
    sessions.loc[1, "imei"] = HOSTILE
    edges = edges_for([(A, B, 9.0), (B, C, 4.0), (C, D, 1.0)])
    edges.loc[2, "link"] = False
    edges.loc[0, "services"] = HOSTILE
    path = write_map(edges, sessions, tmp_path / "map.html",
                     MapOptions(title=HOSTILE, suspects=[A], hops=2, params_text=HOSTILE))
    html = path.read_text()
    assert "<script>window.__xss" not in html and "&lt;script&gt;" in html
    with browser() as d:
        d.get(path.as_uri())
        wait_ready(d)
        stats = d.execute_script("return [network.body.data.nodes.length, network.body.data.edges.length]")
        assert stats == [3, 2]
        assert d.execute_script("return window.__xss === undefined")
        assert d.execute_script("return document.querySelectorAll('header img, header script, body > img').length") == 0
        assert HOSTILE in d.find_element("tag name", "h1").text
        d.find_element("id", "q").send_keys("0002")
        d.find_element("css selector", "#search button").click()
        assert d.find_element("id", "found").text == "1 found"
        assert d.execute_script("return network.getSelectedNodes()") == [B]
        shot = tmp_path / "map.png"
        d.save_screenshot(str(shot))
        assert network_requests(d) == []
        assert console_errors(d) == []
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.std() > 5


def test_large_map_5000_nodes_precomputed_layout(tmp_path):
    rng = np.random.default_rng(1)
    g = nx.powerlaw_cluster_graph(5000, 4, 0.1, seed=1)
    pairs = [(f"91980{u:07d}", f"91980{v:07d}", float(rng.uniform(3, 30))) for u, v in list(g.edges())[:20000]]
    edges = edges_for(pairs)
    nodes = sorted({p[0] for p in pairs} | {p[1] for p in pairs})
    sessions = frame([sess(n, "2024-01-01 10:00:00") for n in nodes])
    t0 = time.perf_counter()
    path = write_map(edges, sessions, tmp_path / "big.html", MapOptions())
    write_s = time.perf_counter() - t0
    with browser() as d:
        t0 = time.perf_counter()
        d.get(path.as_uri())
        ready = wait_ready(d)
        load_s = time.perf_counter() - t0
        assert d.execute_script("return network.body.data.nodes.length") == len(nodes)
        assert d.execute_script("return network.body.data.edges.length") == len(pairs)
        assert d.execute_script("return network.physics.options.enabled") is False
        assert network_requests(d) == []
    print(f"5000-node map: write {write_s:.1f}s, open+draw {load_s:.1f}s (ready after {ready:.1f}s)")


def test_exports(tmp_path):
    A, B = "919800000001", "919800000002"
    sessions = frame([sess(A, "2024-01-01 10:00:00"), sess(B, "2024-01-01 10:00:00")])
    edges = edges_for([(A, B, 9.0)])
    for fmt in ("graphml", "gexf", "json"):
        p = export_graph(edges, sessions, tmp_path / f"g.{fmt}", fmt)
        assert p.stat().st_size > 100
    assert nx.read_graphml(tmp_path / "g.graphml").number_of_edges() == 1
    g = build_graph(edges, sessions, MapOptions(suspects=["919800000009"]))
    assert "919800000009" in g  # a suspect without links is still drawn


def test_request_detector_sees_a_network_request(tmp_path):
    """The offline check must be able to fail: a page with a remote image is caught."""
    page = tmp_path / "leak.html"
    page.write_text('<html><body><img src="http://198.51.100.7/x.png"></body></html>')
    with browser() as d:
        d.get(page.as_uri())
        time.sleep(0.5)
        assert any("198.51.100.7" in u for u in network_requests(d))


def _places_case(with_positions: bool = True):
    """Three subscribers at three cells (A at two of them), the first cell with a hostile name."""
    from cdrnet.analysis.places import case_cells, coverage, place_cells, presence, sightings
    from cdrnet.loader.cellsites import SITE_COLUMNS
    from cdrnet.viz.placemap import Places

    A, B, C = "919800000001", "919800000002", "919800000003"
    f = frame([sess(A, "2024-03-01 20:00:00", cell="404-70-166-1"),
               sess(B, "2024-03-01 20:05:00", cell="404-70-166-1"),
               sess(A, "2024-03-02 10:00:00", cell="404-70-166-2"),
               sess(C, "2024-03-02 11:00:00", cell="404-70-166-3")])
    f["cell_raw"], f["cell_name"], f["lat"], f["lon"] = f["cell_id"], "", np.nan, np.nan
    f.loc[0, "cell_name"] = HOSTILE
    if with_positions:
        f.loc[[0, 1], ["lat", "lon"]] = [23.02, 72.57]
        f.loc[2, ["lat", "lon"]] = [23.05, 72.60]
        f.loc[3, ["lat", "lon"]] = [23.10, 72.65]
    seen = sightings(f)
    placed = place_cells(case_cells(seen), pd.DataFrame({c: pd.Series(dtype="string") for c in SITE_COLUMNS}))
    return f, Places(placed, presence(seen, placed.dropna(subset=["lat"])["cell_id"], "Asia/Kolkata"),
                     coverage(placed))


def test_map_carries_the_place_view_offline_and_picks_follow(tmp_path):
    A, B, C = "919800000001", "919800000002", "919800000003"
    sessions, places = _places_case()
    edges = edges_for([(A, B, 9.0), (B, C, 4.0)])
    label = {A: f"{A} ({HOSTILE})"}.get
    path = write_map(edges, sessions, tmp_path / "map.html",
                     MapOptions(title="case", suspects=[C], hops=2, tz="Asia/Kolkata", places=places,
                                label=lambda n: label(n) or n))
    page = path.read_text()
    assert "<script>window.__xss" not in page
    assert "places: 3 placed cells, 3 of the drawn subscribers seen at them (Places tab)" in page
    with browser() as d:
        d.get(path.as_uri())
        wait_ready(d)
        assert d.execute_script("return window.cdrnetPlaces === undefined")  # drawn when the tab opens
        assert d.find_element("id", "places").is_displayed() is False
        d.find_element("id", "tab-places").click()
        wait_places(d)
        assert d.find_element("id", "map").is_displayed() is False and d.find_element("id", "plot").is_displayed()
        assert d.execute_script("return document.querySelectorAll('#places circle.cell').length") == 3
        assert d.execute_script("return window.cdrnetPlaces.active") == 3
        assert d.execute_script("return document.querySelectorAll('circle.cell.suspect').length") == 1  # C's cell
        assert "Day (Asia/Kolkata)" in d.find_element("id", "places").text
        # Picked in the network (Find), picked in the places: only A's two cells stay lit.
        d.find_element("id", "tab-network").click()
        d.find_element("id", "q").send_keys("0001")
        d.find_element("css selector", "#search button").click()
        d.find_element("id", "tab-places").click()
        assert d.execute_script("return window.cdrnetPlaces.picked") == A
        assert d.execute_script("return document.querySelectorAll('circle.cell.picked').length") == 2
        assert HOSTILE in d.find_element("id", "whoinfo").text  # the label, as text
        # Picked in the places (a number in a cell's list), selected in the network.
        d.execute_script("document.querySelectorAll('circle.cell')[0].dispatchEvent(new MouseEvent('click'))")
        side = d.find_element("id", "side")
        assert HOSTILE in side.text and "20:05" not in side.text  # the cell's hostile name; A only (picked)
        d.execute_script("window.cdrnetPlacePick(null)")
        d.execute_script("document.querySelectorAll('circle.cell')[0].dispatchEvent(new MouseEvent('click'))")
        buttons = d.find_elements("css selector", "#side button.num")
        assert [b.text for b in buttons] == [f"{A} ({HOSTILE})", B]
        buttons[1].click()
        assert d.execute_script("return network.getSelectedNodes()") == [B]
        assert d.execute_script("return window.cdrnetPlaces.picked") == B
        d.find_element("id", "tab-network").click()
        assert d.find_element("id", "map").is_displayed()
        assert d.execute_script("return window.__xss === undefined")
        assert d.execute_script("return document.querySelectorAll('#side img, #side script, #places img').length") == 0
        d.find_element("id", "tab-places").click()
        shot = tmp_path / "places-tab.png"
        d.save_screenshot(str(shot))
        assert network_requests(d) == []
        assert console_errors(d) == []
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.std() > 5


def test_map_says_when_no_cell_has_a_position(tmp_path):
    A, B = "919800000001", "919800000002"
    sessions, places = _places_case(with_positions=False)
    path = write_map(edges_for([(A, B, 9.0)]), sessions, tmp_path / "map.html", MapOptions(places=places))
    page = path.read_text()
    assert "places: no cell has a position (the Places tab says why)" in page and "Places (no positions)" in page
    with browser() as d:
        d.get(path.as_uri())
        wait_ready(d)
        d.find_element("id", "tab-places").click()
        wait_places(d)
        assert d.execute_script("return window.cdrnetPlaces.cells") == 0
        assert "No cell of this case has a position yet" in d.find_element("id", "noplaces").text
        assert "cdrnet cells import FILE" in d.find_element("id", "noplaces").text
        assert network_requests(d) == [] and console_errors(d) == []
