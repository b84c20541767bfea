"""The HTML map in a real headless Chromium: offline, counted, safe, and looked at."""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pandas as pd
from PIL import Image

from cdrnet.viz.netmap import MapOptions, build_graph, export_graph, write_map
from tests.browser import browser, console_errors, network_requests
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
