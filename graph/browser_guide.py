"""The Neo4j Browser guide, style and Favorites zip, generated from the analyst queries.

The guide is built from the queries' own headers (graph/analyst.py), so what an
analyst clicks in Browser is exactly what ``cdrnet query`` runs. Parameters are
set with ``:param NAME => VALUE`` (evaluated by Cypher: 25 stays an integer;
Browser's ``:params {limit: 25}`` sends 25.0, which LIMIT refuses).

``python -m cdrnet.graph.browser_guide OUT_DIR [BASE_URL]`` writes
cdrnet-guide.html, cdrnet-style.grass and cdrnet-queries.zip; scripts/neo4j-local
serves them to its Browser. The committed cypher/browser-guide.html is this
output with the placeholder base URL (a test keeps it in sync).
"""

from __future__ import annotations

import html
import sys
import zipfile
from importlib import resources
from pathlib import Path

from cdrnet.graph.analyst import query_doc

#: Stands for the guide server's address in the committed guide (scripts/neo4j-local fills it in).
BASE = "__CDRNET_GUIDE_BASE__"
#: Order of the guide's slides: from "which case" to the evidence behind one link.
ORDER = ("cases", "network", "strongest_links", "one_network", "one_network_pairs", "mark_suspect", "suspect_network",
         "common_contacts", "link_sessions", "timeline", "call_contacts", "contact_chain", "call_evidence", "places",
         "cell_visitors", "shared_equipment", "clear_suspects")


def _pre(code: str) -> str:
    return f'<pre class="pre-scrollable code runnable">{html.escape(code)}</pre>'


def _slide(title: str, body: str) -> str:
    return (f'    <slide class="row-fluid">\n      <div class="col-sm-12">\n        <h3>{html.escape(title)}</h3>\n'
            f'{body}\n      </div>\n    </slide>')


def guide_html(base: str = BASE) -> str:
    """The guide: connect and style, then one slide per query (what it answers, parameters, query)."""
    slides = [_slide("cdrnet: who talks to whom", "\n".join([
        "<p>cdrnet loaded operators' IPDR dumps into this database and scored every pair of subscribers. "
        "Only pairs judged <b>linked</b> became <code>CO_USED</code> relationships; every pair's score "
        "stays in <code>edges.csv</code>.</p>",
        "<p>Call records (voice/SMS CDRs, tower dumps), when loaded, add direct contacts: <code>CALLED</code> "
        "relationships (blue, thinner, captioned <code>calls · sms</code>) beside the inferred <code>CO_USED</code> "
        "links (red, thick); a pair that is both shows both lines, and the <i>One network as a table</i> slide "
        "marks it <code>both</code>. Each <code>Call</code> points to the <code>Cell</code> of its first and last "
        "cell (<code>FIRST_CELL</code>, <code>LAST_CELL</code>), as a session does with <code>AT_CELL</code>.</p>",
        "<p>Click a grey block to copy it into the editor above, then press Ctrl+Enter (or the run button). "
        "First load the cdrnet style: subscribers captioned with their full number, suspects in red, "
        "links captioned with their strength and evidence.</p>",
        _pre(f":style {base}/cdrnet-style.grass"),
        "<p>Line captions read <code>strong · msg 125/38 · call 10 · cell 258</code>: 125 messaging episodes "
        "where chance predicts 38, 10 call signatures, 258 co-located episodes. Bands: strong (score at least "
        "20, p &le; 1e-20), medium (at least 8), weak. Browser draws an arrowhead on every relationship; a "
        "link has no direction (stored from the lower to the higher number).</p>",
        f'<p>The queries of this guide for your Favorites (star icon, then "Import"): '
        f'<a href="{base}/cdrnet-queries.zip" target="_blank">cdrnet-queries.zip</a>.</p>',
    ]))]
    for name in ORDER:
        doc = query_doc(name)
        params = [f":param {p.name} => {p.literal}" for p in doc.params]
        body = [f"<p>{html.escape(doc.description)}</p>"]
        if params:
            body.append("<p>Parameters (edit the example values; numbers stay integers):</p>")
            body.extend(_pre(p) for p in params)
        body.append(f"<p>Query <code>{name}</code> (also <code>cdrnet query {name}</code>):</p>")
        body.append(_pre(doc.text))
        slides.append(_slide(doc.title, "\n".join(body)))
    return ('<article class="guide">\n  <carousel class="deck container-fluid">\n' + "\n".join(slides)
            + "\n  </carousel>\n</article>\n")


def favorites_zip(path: Path) -> Path:
    """The analyst queries as .cypher files; Browser names each favorite by its first line (the title)."""
    folder = resources.files("cdrnet.cypher") / "queries"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ORDER:
            z.writestr(f"cdrnet/{name}.cypher", (folder / f"{name}.cypher").read_text(encoding="utf-8"))
    return path


def style_text() -> str:
    return (resources.files("cdrnet.cypher") / "browser-style.grass").read_text(encoding="utf-8")


def write_all(out: Path, base: str = BASE) -> list[Path]:
    """Write the guide, the style and the Favorites zip into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "cdrnet-guide.html").write_text(guide_html(base), encoding="utf-8")
    (out / "cdrnet-style.grass").write_text(style_text(), encoding="utf-8")
    return [out / "cdrnet-guide.html", out / "cdrnet-style.grass", favorites_zip(out / "cdrnet-queries.zip")]


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else BASE):
        print(p)
