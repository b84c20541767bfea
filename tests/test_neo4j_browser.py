"""Neo4j Browser as an analyst uses it, in headless Chromium against the real local server.

scripts/neo4j-local serves cdrnet's guide and style and makes Browser open them after
connecting; this test connects, checks the guide is there, sets parameters with the guide's
integer-safe ``:param`` blocks, runs the network query from the guide and checks what is drawn.
With CDRNET_SCREENSHOTS=DIR it saves the README's screenshots there.
"""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest

from cdrnet.analysis.cousage import LinkParams
from cdrnet.graph.cousage import link_neo4j
from cdrnet.graph.store import GraphStore
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from tests.browser import CHROMIUM, DRIVER, require_browser
from tests.conftest import SIM_ORDER, ingest
from tests.neo4j_fixtures import PASSWORD, URI, connect_or_skip, wipe

pytestmark = pytest.mark.neo4j
CASE = "browser-demo"
HTTP = int(os.environ.get("CDRNET_NEO4J_HTTP_PORT", "7475"))
GUIDE = int(os.environ.get("CDRNET_NEO4J_GUIDE_PORT", str(HTTP + 2)))
SHOTS = os.environ.get("CDRNET_SCREENSHOTS")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    driver = connect_or_skip()
    wipe(driver)
    root = tmp_path_factory.mktemp("browser-case")
    simulate(build_scenario("easy", subscribers=20, days=5, seed=3), root)
    graph = GraphStore(driver, root / "rejects", case=CASE)
    graph.create_schema()
    ingest(graph, root / "dumps", date_order=SIM_ORDER)
    edges = link_neo4j(driver, LinkParams(), case=CASE).edges
    links = edges[edges["link"]]
    suspect = links.iloc[0]["a"]
    driver.execute_query("MATCH (s:Subscriber {case: $case, msisdn: $m}) SET s:Suspect", case=CASE, m=suspect)
    yield driver, links, suspect
    driver.close()


def test_guide_style_and_zip_are_served():
    guide = urllib.request.urlopen(f"http://127.0.0.1:{GUIDE}/cdrnet-guide.html", timeout=10)
    assert guide.headers["Access-Control-Allow-Origin"] == f"http://127.0.0.1:{HTTP}"
    text = guide.read().decode()
    assert f"http://127.0.0.1:{GUIDE}/cdrnet-style.grass" in text and "__CDRNET_GUIDE_BASE__" not in text
    assert ":param limit =&gt; 300" in text  # integer-safe form (":params {limit: 25}" sends 25.0)
    style = urllib.request.urlopen(f"http://127.0.0.1:{GUIDE}/cdrnet-style.grass", timeout=10).read().decode()
    assert 'caption: "{strength} · {evidence}"' in style and "node.Suspect" in style
    import io
    import zipfile

    z = zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(f"http://127.0.0.1:{GUIDE}/cdrnet-queries.zip").read()))
    assert "cdrnet/suspect_network.cypher" in z.namelist()
    assert z.read("cdrnet/suspect_network.cypher").decode().splitlines()[0] == "// Suspect network"


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_browser()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1400,1000",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    # Only this machine: Browser's own internet assets (fonts, feedback widget) are cut off.
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["https://*", "wss://*"]})
    return d


def _wait(fn, timeout: float = 60.0, what: str = "timed out"):
    """Poll ``fn`` until it returns something true. Browser re-renders as it goes, so an element
    found a moment ago may be gone: that counts as not there yet."""
    from selenium.common.exceptions import StaleElementReferenceException

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            out = fn()
        except StaleElementReferenceException:
            out = None
        if out:
            return out
        time.sleep(0.2)
    raise AssertionError(what)


def _click(d, css: str) -> None:
    """Click an element once it exists, by script: Browser's animations and toasts may lie over
    it for a moment ("element click intercepted"), which a user would simply wait out."""
    from selenium.webdriver.common.by import By

    el = _wait(lambda: d.find_elements(By.CSS_SELECTOR, css))[0]
    d.execute_script("arguments[0].click();", el)


def _editor_text(d) -> str:
    """What the editor shows (Monaco draws spaces as no-break spaces)."""
    text = d.execute_script("const e = document.querySelector('[data-testid=activeEditor] .view-lines');"
                            "return e ? e.innerText : '';")
    return text.replace("\xa0", " ")


def _top_frame(d):
    """The newest result frame (Browser puts it first in the stream), or None."""
    from selenium.webdriver.common.by import By

    frames = d.find_elements(By.CSS_SELECTOR, "[data-testid=frame]")
    return frames[0] if frames else None


def _execute(d, command: str) -> str:
    """Run what the editor holds (``command``) and wait for its frame, instead of a fixed pause a
    loaded machine can outlast; a ``:param`` frame also until it says the parameter is set.
    Returns the new frame's text."""
    from selenium.webdriver.common.by import By

    first_line = command.strip().splitlines()[0].strip()
    _wait(lambda: first_line in _editor_text(d), what=f"the editor never showed {first_line!r}")
    before = _top_frame(d)
    _click(d, "[data-testid=editor-Run]")

    def finished() -> str | None:
        frame = _top_frame(d)
        if frame is None or frame == before:
            return None
        shown = frame.find_elements(By.CSS_SELECTOR, "[data-testid=frameCommand]")
        if not shown or first_line not in shown[0].text:
            return None
        if first_line.startswith(":param "):
            status = frame.find_elements(By.CSS_SELECTOR, "[data-testid=frameStatusbar]")
            if not status or "Successfully set" not in status[0].text:
                return None
        return frame.text or None

    return _wait(finished, what=f"no finished frame for {first_line!r}")


def _run(d, code_part: str) -> None:
    """Click the guide's runnable block containing ``code_part`` (it goes to the editor) and run it."""

    code = _wait(lambda: d.execute_script("""
        const pre = Array.from(document.querySelectorAll('pre.runnable'))
            .find(p => p.offsetParent !== null && p.textContent.includes(arguments[0]));
        if (!pre) return null;
        pre.click();
        return pre.textContent;""", code_part))
    _execute(d, code)


def _slide_number(d) -> str:
    """The guide's "N / M" (its current slide), "" before the guide is drawn."""
    return d.execute_script("const c = document.querySelector('[data-testid=carousel]');"
                            "const m = c && c.innerText.match(/\\d+ \\/ \\d+/); return m ? m[0] : '';")


def _slide(d, title: str) -> None:
    """Step through the guide to the slide titled ``title``, one slide per click: each click waits
    until the slide has turned, so no click lands before the last one took effect."""
    for _ in range(15):
        if title in _headings(d):
            return
        at = _slide_number(d)
        _click(d, "[data-testid=nextSlide]")
        _wait(lambda at=at: _slide_number(d) not in ("", at), what=f"the guide stayed at slide {at}")
    raise AssertionError(f"no guide slide '{title}'")


def test_browser_opens_the_guide_and_draws_a_query_from_it(loaded):
    from selenium.webdriver.common.by import By

    driver, links, suspect = loaded
    d = _browser()
    try:
        d.get(f"http://127.0.0.1:{HTTP}/browser/?connectURL=bolt://neo4j@127.0.0.1:{URI.rsplit(':', 1)[1]}")
        _wait(lambda: d.find_elements(By.CSS_SELECTOR, "input[type=password]"))[0].send_keys(PASSWORD)
        _click(d, "button[data-testid=connect]")
        _wait(lambda: "cdrnet: who talks to whom" in _headings(d))
        if SHOTS:
            d.save_screenshot(str(Path(SHOTS) / "neo4j-guide.png"))
        _slide(d, "Case network")
        # The guide's case is an example: an analyst edits it; the test types its own.
        _set_param(d, f":param case => '{CASE}'")
        _run(d, ":param min_score => 0")
        _run(d, ":param limit => 300")
        params = _set_param(d, ":params")
        assert f'"case": "{CASE}"' in params and '"limit": 300' in params and "300.0" not in params
        _run(d, "MATCH p = (a:Subscriber {case: $case})-[r:CO_USED]->(b:Subscriber)")
        drawn = _wait(lambda: _drawn(d), 60)
        nodes, rels, captions = drawn
        want_nodes = set(links["a"]) | set(links["b"])
        assert nodes == len(want_nodes) and rels == len(links)
        # Browser shortens long captions to the line's length (ending "…"); each starts with its band.
        assert any("msg" in c for c in captions), captions
        bands = ("strong · ", "medium · ", "weak · ")
        assert all(any(c.startswith(b) or b.startswith(c.rstrip("…")) for b in bands) for c in captions), captions
        errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"
                  and "127.0.0.1" in e["message"] and "7687" not in e["message"]
                  and "ERR_EMPTY_RESPONSE" not in e["message"]]
        assert errors == []
        if SHOTS:
            time.sleep(3)
            d.save_screenshot(str(Path(SHOTS) / "neo4j-network.png"))
            _slide(d, "Suspect network")
            _set_param(d, f":param msisdn => '{suspect}'")
            _run(d, ":param hops => 2")
            _run(d, "MATCH (s:Subscriber {case: $case, msisdn: $msisdn})")
            _wait(lambda: _drawn(d), 60)
            time.sleep(3)
            d.save_screenshot(str(Path(SHOTS) / "neo4j-suspect.png"))
    except Exception:
        if SHOTS:
            d.save_screenshot(str(Path(SHOTS) / "failure.png"))
        raise
    finally:
        d.quit()


def _headings(d) -> list[str]:
    """Visible h3 headings (the guide's current slide title among them)."""
    return d.execute_script("return Array.from(document.querySelectorAll('h3'))"
                            ".filter(h => h.offsetParent !== null).map(h => h.textContent.trim())")


def _set_param(d, command: str) -> str:
    """Type a command into the editor and run it; returns the text of the frame it produced."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    editor = _wait(lambda: d.find_elements(By.CSS_SELECTOR, "[data-testid=activeEditor] textarea"))[0]
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys(command)
    _wait(lambda: _editor_text(d).strip() == command, what=f"the editor never held {command!r}")
    return _execute(d, command)


def _drawn(d):
    """Nodes and relationships drawn in the newest result frame, with the relationship captions."""
    return d.execute_script("""
        // The newest frame is first in the document.
        const svg = Array.from(document.querySelectorAll('svg')).find(s => s.querySelector('g.node'));
        if (!svg) return null;
        const nodes = svg.querySelectorAll('g.node').length, rels = svg.querySelectorAll('g.relationship');
        if (!nodes) return null;
        return [nodes, rels.length, Array.from(rels).map(r => (r.querySelector('text') || {}).textContent || '')];
    """)
