"""Interactive people-network maps (vis-network, as shipped by pyvis) that work offline.

Small graphs get live physics; large ones (thousands of nodes) get a layout
computed here and physics off, so a 5,000-node map opens in seconds. Every
label and tooltip is data, so it is set as text (vis-network renders string
tooltips with innerText) and every JSON blob is escaped for <script>.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from cdrnet.clock import DEFAULT_TZ, shown
from cdrnet.viz.assets import script_json, vis_css, vis_js
from cdrnet.viz.placemap import Places, place_section

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f",
           "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8"]
EVIDENCE_COLOURS = {"messaging": "#1f77b4", "call": "#d62728", "coloc": "#2ca02c"}
EVIDENCE_NAMES = {"messaging": "messaging co-usage", "call": "call signature", "coloc": "co-location"}
#: Direct contacts (calls, SMS from the call records) are drawn dashed in this colour; a pair that is
#: both an inferred link and a direct contact gets its solid link and a dashed curve labelled "both".
DIRECT_COLOUR = "#555555"
DIRECT_DASHES = [8, 6]


@dataclass
class MapOptions:
    """What to draw and how it is labelled."""

    title: str = "cdrnet people network"
    suspects: list[str] = field(default_factory=list)
    hops: int = 1
    min_score: float | None = None
    physics_limit: int = 800
    params_text: str = ""
    label: Callable[[str], str] = str
    #: Direct contacts to draw beside the inferred links (a, b, calls, sms, seconds; one row per pair),
    #: or None to draw inferred links only.
    contacts: pd.DataFrame | None = None
    #: Zone of every time the page or export shows (the case's zone); the edges carry UTC.
    tz: str = DEFAULT_TZ
    #: The place view drawn in the page's Places tab (the case's cells and who was seen there), or
    #: None for a network-only page. Only the drawn subscribers are listed at the cells.
    places: Places | None = None


def select_edges(edges: pd.DataFrame, opts: MapOptions) -> pd.DataFrame:
    """Links (or pairs above --min-score), restricted to the suspects' ego network."""
    if opts.min_score is not None:
        sel = edges[edges["score"] >= opts.min_score]
    else:
        sel = edges[edges["link"].astype(bool)]
    if opts.suspects:
        g = nx.from_pandas_edgelist(sel, "a", "b")
        keep: set[str] = set()
        for s in opts.suspects:
            if s in g:
                keep |= set(nx.ego_graph(g, s, radius=opts.hops).nodes)
            else:
                keep.add(s)
        sel = sel[sel["a"].isin(keep) & sel["b"].isin(keep)]
    return sel


def select_network(edges: pd.DataFrame, opts: MapOptions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Links as ``select_edges`` picks them and the direct contacts, both restricted to the suspects'
    ego network in the union of the two (a go-between may be a contact of one and a link of the other)."""
    contacts = opts.contacts if opts.contacts is not None else pd.DataFrame(columns=["a", "b", "calls", "sms",
                                                                                     "seconds"])
    if not len(contacts) or not opts.suspects:
        return select_edges(edges, opts), contacts
    from dataclasses import replace

    sel = select_edges(edges, replace(opts, suspects=[]))
    g = nx.from_pandas_edgelist(pd.concat([sel[["a", "b"]], contacts[["a", "b"]]]), "a", "b")
    keep: set[str] = set()
    for s in opts.suspects:
        keep |= set(nx.ego_graph(g, s, radius=opts.hops).nodes) if s in g else {s}
    return (sel[sel["a"].isin(keep) & sel["b"].isin(keep)],
            contacts[contacts["a"].isin(keep) & contacts["b"].isin(keep)])


def _strongest(e: pd.DataFrame) -> np.ndarray:
    ps = np.stack([e.get(f"{c}_p", pd.Series(1.0, index=e.index)).fillna(1.0).to_numpy(float) for c in EVIDENCE_COLOURS], 1)
    return np.array(list(EVIDENCE_COLOURS))[ps.argmin(1)]


def node_facts(frame: pd.DataFrame, nodes: list[str]) -> pd.DataFrame:
    """Session count, top applications and devices per subscriber (for tooltips)."""
    f = frame[frame["msisdn"].isin(nodes)]
    sessions = f.groupby("msisdn").size()
    apps = f[f["app"].fillna("") != ""].groupby(["msisdn", "app"]).size().rename("n").reset_index()
    apps = apps.sort_values(["msisdn", "n"], ascending=[True, False]).groupby("msisdn").head(3)
    top = apps.assign(t=apps["app"] + " (" + apps["n"].astype(str) + ")").groupby("msisdn")["t"].agg(", ".join)
    dev = f[f["imei"].fillna("") != ""].groupby("msisdn")["imei"].agg(lambda s: ", ".join(sorted(s.unique())[:3]))
    return pd.DataFrame({"sessions": sessions, "apps": top, "devices": dev}).reindex(nodes)


def _layout(g: nx.Graph, communities: list[set[str]]) -> dict[str, tuple[float, float]]:
    """Fast layout for big graphs: communities placed by a small spring layout, members on circles."""
    order = sorted(range(len(communities)), key=lambda i: -len(communities[i]))
    cg = nx.Graph()
    member = {n: i for i, c in enumerate(communities) for n in c}
    cg.add_nodes_from(range(len(communities)))
    for a, b in g.edges():
        ca, cb = member[a], member[b]
        if ca != cb:
            cg.add_edge(ca, cb, weight=cg.get_edge_data(ca, cb, {"weight": 0})["weight"] + 1)
    centres = nx.spring_layout(cg, seed=1, k=2.0 / math.sqrt(max(len(communities), 1))) if len(communities) > 1 else {0: np.zeros(2)}
    pos: dict[str, tuple[float, float]] = {}
    scale = 60.0 * math.sqrt(g.number_of_nodes())
    for i in order:
        members = sorted(communities[i])
        r = 18.0 * math.sqrt(len(members))
        cx, cy = centres[i] * scale
        ang = np.linspace(0, 2 * math.pi, len(members), endpoint=False)
        rad = r * np.sqrt((np.arange(len(members)) + 1) / len(members))
        for n, a, rr in zip(members, ang * 7.0, rad, strict=True):
            pos[n] = (float(cx + rr * math.cos(a)), float(cy + rr * math.sin(a)))
    return pos


def build_graph(edges: pd.DataFrame, frame: pd.DataFrame, opts: MapOptions) -> nx.Graph:
    """The drawn graph with every attribute the map and the exports need."""
    sel, contacts = select_network(edges, opts)
    g = nx.Graph()
    nodes = sorted(set(sel["a"]).union(sel["b"]).union(contacts["a"]).union(contacts["b"]).union(opts.suspects))
    facts = node_facts(frame, nodes)
    for n in nodes:
        r = facts.loc[n]
        g.add_node(n, label=opts.label(n), sessions=int(r["sessions"]) if pd.notna(r["sessions"]) else 0,
                   apps=str(r["apps"]) if pd.notna(r["apps"]) else "", devices=str(r["devices"]) if pd.notna(r["devices"]) else "",
                   suspect=n in opts.suspects)
    strongest = _strongest(sel) if len(sel) else np.array([])
    for row, kind in zip(sel.itertuples(index=False), strongest, strict=True):
        g.add_edge(row.a, row.b, weight=float(row.score), score=float(row.score), evidence=str(kind),
                   messaging_obs=int(row.messaging_obs), messaging_exp=float(row.messaging_exp),
                   call_obs=int(row.call_obs), coloc_obs=int(row.coloc_obs), services=str(row.services),
                   first=shown(row.first_utc, opts.tz), last=shown(row.last_utc, opts.tz), kind="inferred")
    for row in contacts.itertuples(index=False):
        facts = {"calls": int(row.calls), "sms": int(row.sms), "call_seconds": int(row.seconds)}
        if g.has_edge(row.a, row.b):
            g.edges[row.a, row.b].update(kind="both", **facts)
        else:
            # A direct contact weighs in the layout and communities like a weak link.
            g.add_edge(row.a, row.b, weight=0.5, score=0.0, evidence="direct", kind="direct", **facts)
    communities = list(nx.community.louvain_communities(g, weight="weight", seed=1)) if g.number_of_edges() else [{n} for n in g]
    for i, c in enumerate(sorted(communities, key=lambda c: (-len(c), min(c)))):
        for n in c:
            g.nodes[n]["community"] = i
    g.graph["communities"] = communities
    g.graph["zone"] = opts.tz  # first/last and the page's times are in this zone
    return g


def _vis_data(g: nx.Graph, opts: MapOptions) -> tuple[list[dict], list[dict], bool]:
    wdeg = dict(g.degree(weight="weight"))
    top = max(wdeg.values(), default=1.0) or 1.0
    big = g.number_of_nodes() > opts.physics_limit
    pos = _layout(g, g.graph["communities"]) if big else {}
    nodes = []
    for n, d in g.nodes(data=True):
        tip = (f"{opts.label(n)}\nsessions: {d['sessions']}\ntop applications: {d['apps'] or '-'}\n"
               f"devices: {d['devices'] or '-'}\ncommunity: {d['community'] + 1}"
               + ("\nSUSPECT" if d["suspect"] else ""))
        node = {"id": n, "label": d["label"], "title": tip, "value": 1 + 20 * wdeg.get(n, 0) / top,
                "color": PALETTE[d["community"] % len(PALETTE)], "shape": "star" if d["suspect"] else "dot",
                "borderWidth": 3 if d["suspect"] else 1}
        if big:
            node["x"], node["y"] = pos[n]
        nodes.append(node)
    smax = max((d["score"] for _, _, d in g.edges(data=True)), default=1.0) or 1.0
    edges = []
    for a, b, d in g.edges(data=True):
        if d["kind"] != "inferred":
            edges.append(_direct_edge(a, b, d, opts))
        if d["kind"] == "direct":
            continue
        tip = (f"{opts.label(a)} -- {opts.label(b)}\nscore {d['score']:.2f} (strongest: {EVIDENCE_NAMES[d['evidence']]})\n"
               f"messaging episodes {d['messaging_obs']} (expected by chance {d['messaging_exp']:.1f})\n"
               f"call signatures {d['call_obs']}, co-location {d['coloc_obs']}\nservices {d['services'] or '-'}\n"
               f"first {d['first']}\nlast {d['last']} ({opts.tz})")
        if d["kind"] == "both":
            tip = "BOTH: inferred link and direct contact\n" + tip
        edges.append({"from": a, "to": b, "title": tip, "width": 1 + 7 * d["score"] / smax,
                      "color": EVIDENCE_COLOURS[d["evidence"]], "kind": d["kind"]})
    return nodes, edges, big


def _direct_edge(a: str, b: str, d: dict, opts: MapOptions) -> dict:
    """A direct contact drawn dashed; beside an inferred link it curves away and says "both"."""
    both = d["kind"] == "both"
    tip = (("BOTH: inferred link and direct contact\n" if both else "direct contact (call records)\n")
           + f"{opts.label(a)} -- {opts.label(b)}\ncalls {d['calls']}, SMS {d['sms']}, "
           f"call time {d['call_seconds']} s")
    edge = {"from": a, "to": b, "title": tip, "dashes": DIRECT_DASHES, "color": DIRECT_COLOUR,
            "width": 1 + math.log1p(d["calls"] + d["sms"]), "kind": "direct_of_both" if both else "direct"}
    if both:
        edge.update(label="both", smooth={"enabled": True, "type": "curvedCW", "roundness": 0.25},
                    font={"size": 11, "color": DIRECT_COLOUR, "strokeWidth": 3})
    return edge


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:">
<title>{title}</title>
<style>{vis_css}
body {{ font-family: sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }}
header {{ padding: 8px 14px; background: #f4f4f4; border-bottom: 1px solid #ccc; }}
header h1 {{ font-size: 18px; margin: 0 0 4px 0; }}
header p {{ margin: 2px 0; font-size: 12px; color: #333; }}
#map {{ width: 100%; flex: 1; min-height: 0; }}
.legend span {{ display: inline-block; margin-right: 14px; font-size: 12px; }}
.legend i {{ display: inline-block; width: 22px; height: 4px; margin-right: 4px; vertical-align: middle; }}
.legend i.dashed {{ height: 0; background: none; border-top: 3px dashed {c_direct}; }}
div.vis-tooltip {{ white-space: pre-line; font-size: 12px; }}
#search {{ float: right; }}
#tabs {{ margin-top: 4px; }}
#tabs button {{ font-size: 13px; padding: 3px 12px; border: 1px solid #999; background: #e8e8e8; cursor: pointer; }}
#tabs button.on {{ background: #fff; border-bottom-color: #fff; font-weight: bold; }}
{place_css}
</style></head><body>
<header>
<form id="search" onsubmit="return cdrnetFind();"><input id="q" type="text" placeholder="find a number" aria-label="find a number"> <button type="submit">Find</button> <span id="found"></span></form>
<h1>{title}</h1>
<p>{summary}</p>
<p>{params}</p>
<p class="legend" id="netlegend"><span>inferred link (solid): </span><span><i style="background:{c_msg}"></i>messaging co-usage</span><span><i style="background:{c_call}"></i>call signature</span><span><i style="background:{c_coloc}"></i>co-location</span>{direct_legend}<span>node size: weighted degree; colour: community; star: suspect; edge width: score</span></p>
{tabs}
</header>
<div id="map"></div>
{place_html}
<script>{vis_js}</script>
<script>
var cdrnetNodes = new vis.DataSet({nodes});
var cdrnetEdges = new vis.DataSet({edges});
var cdrnetOptions = {options};
var network = new vis.Network(document.getElementById("map"), {{nodes: cdrnetNodes, edges: cdrnetEdges}}, cdrnetOptions);
window.cdrnetStats = {{nodes: cdrnetNodes.length, edges: cdrnetEdges.length, ready: false}};
network.once("afterDrawing", function () {{ window.cdrnetStats.ready = true; }});
function cdrnetFind() {{
  var q = document.getElementById("q").value.trim();
  var hits = cdrnetNodes.get({{filter: function (n) {{ return q && String(n.label).indexOf(q) >= 0; }}}});
  document.getElementById("found").textContent = hits.length ? hits.length + " found" : "not found";
  if (hits.length) {{ network.selectNodes([hits[0].id]); network.focus(hits[0].id, {{scale: 1.2}}); cdrnetPicked(hits[0].id); }}
  return false;
}}
function cdrnetPicked(id) {{ if (window.cdrnetPlacePick) window.cdrnetPlacePick(id); }}
network.on("selectNode", function (p) {{ cdrnetPicked(p.nodes[0]); }});
network.on("deselectNode", function (p) {{ if (!p.nodes.length) cdrnetPicked(null); }});
</script>
{place_script}
</body></html>
"""

#: The Places tab: the place view (viz/placemap.py) drawn the first time the tab opens (it needs its
#: size), then kept. A subscriber picked in one view is picked in the other.
PLACE_SCRIPT = r"""<script>{place_js}
var cdrnetPlaceData = {data};
var cdrnetPlaceConfig = {config};
(function () {{
  var view = null, pending = null;
  var mapDiv = document.getElementById("map"), places = document.getElementById("places");
  var tabNet = document.getElementById("tab-network"), tabPlaces = document.getElementById("tab-places");
  var legend = document.getElementById("netlegend");
  window.cdrnetPlacePick = function (id) {{ pending = id; if (view) view.pick(id); }};
  cdrnetPlaceConfig.onNumber = function (id) {{
    pending = id;
    if (cdrnetNodes.get(id)) network.selectNodes([id]); else network.unselectAll();
  }};
  window.cdrnetShow = function (which) {{
    var net = which === "network";
    mapDiv.style.display = net ? "" : "none";
    legend.style.display = net ? "" : "none";
    places.style.display = net ? "none" : "flex";
    tabNet.classList.toggle("on", net); tabPlaces.classList.toggle("on", !net);
    tabNet.setAttribute("aria-selected", String(net)); tabPlaces.setAttribute("aria-selected", String(!net));
    if (net) {{
      network.redraw();
      var sel = network.getSelectedNodes();
      if (sel.length) network.focus(sel[0], {{scale: 1.2}});
    }} else if (!view) {{
      cdrnetPlaceConfig.pick = pending;
      view = cdrnetPlaceView(cdrnetPlaceData, cdrnetPlaceConfig);
    }}
  }};
  tabNet.addEventListener("click", function () {{ window.cdrnetShow("network"); }});
  tabPlaces.addEventListener("click", function () {{ window.cdrnetShow("places"); }});
  places.style.display = "none";
}})();
</script>"""


def write_map(edges: pd.DataFrame, frame: pd.DataFrame, path: str | Path, opts: MapOptions | None = None) -> Path:
    """Write the offline HTML map; returns its path."""
    opts = opts or MapOptions()
    g = build_graph(edges, frame, opts)
    nodes, vedges, big = _vis_data(g, opts)
    options = {
        "nodes": {"scaling": {"min": 6, "max": 40}, "font": {"size": 12}},
        "edges": {"smooth": False, "color": {"inherit": False}},
        "interaction": {"hover": True, "tooltipDelay": 120, "hideEdgesOnDrag": big},
        "physics": {"enabled": not big, "solver": "forceAtlas2Based", "stabilization": {"iterations": 150}},
        "layout": {"improvedLayout": not big},
    }
    span = ""
    if len(frame):
        fmt = "%Y-%m-%d %H:%M"
        span = (f"data from {shown(frame['start_utc'].min(), opts.tz, fmt)} to "
                f"{shown(frame['start_utc'].max(), opts.tz, fmt)} {opts.tz}; ")
    kinds = pd.Series([d["kind"] for _, _, d in g.edges(data=True)], dtype=object).value_counts()
    links, direct, both = (int(kinds.get(k, 0)) for k in ("inferred", "direct", "both"))
    drawn = (f"{links + both} inferred links, {direct + both} direct contacts ({both} both)"
             if opts.contacts is not None else f"{g.number_of_edges()} links")
    summary = (f"{span}{g.number_of_nodes()} subscribers, {drawn}, "
               f"{len(g.graph['communities'])} communities" + ("; layout precomputed (large graph)" if big else ""))
    direct_legend = ('<span><i class="dashed"></i>direct contact (calls/SMS, dashed)</span>'
                     '<span>both: solid link + dashed curve labelled "both"</span>' if opts.contacts is not None else "")
    place = _place_parts(g, opts)
    if place:
        summary += "; " + place["line"]
    page = PAGE.format(title=html.escape(opts.title), vis_css=vis_css(), vis_js=vis_js(), nodes=script_json(nodes),
                       edges=script_json(vedges), options=script_json(options), summary=html.escape(summary),
                       params=html.escape(opts.params_text), c_msg=EVIDENCE_COLOURS["messaging"],
                       c_call=EVIDENCE_COLOURS["call"], c_coloc=EVIDENCE_COLOURS["coloc"], c_direct=DIRECT_COLOUR,
                       direct_legend=direct_legend, tabs=place.get("tabs", ""), place_css=place.get("css", ""),
                       place_html=place.get("html", ""), place_script=place.get("script", ""))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(page, encoding="utf-8")
    return p


def _place_parts(g: nx.Graph, opts: MapOptions) -> dict[str, str]:
    """The Places tab's pieces (none without ``opts.places``): the place view of the drawn subscribers."""
    if opts.places is None:
        return {}
    seen = opts.places.seen
    places = Places(opts.places.placed, seen[seen["msisdn"].isin(set(g.nodes))], opts.places.coverage)
    part = place_section(places, opts.tz, list(opts.suspects), opts.label)
    reason = places.empty_reason()
    cells = int(places.placed[["lat", "lon"]].notna().all(axis=1).sum()) if len(places.placed) else 0
    tab = f"Places ({cells} placed cells)" if not reason else "Places (no positions)"
    tabs = ('<nav id="tabs" role="tablist"><button type="button" id="tab-network" role="tab" class="on" '
            'aria-selected="true">Network</button> <button type="button" id="tab-places" role="tab" '
            f'aria-selected="false">{html.escape(tab)}</button></nav>')
    script = PLACE_SCRIPT.format(place_js=part["js"], data=part["data"], config=part["config"])
    line = (f"places: {cells} placed cells, {places.seen['msisdn'].nunique()} of the drawn subscribers seen at them "
            "(Places tab)" if not reason else "places: no cell has a position (the Places tab says why)")
    return {"tabs": tabs, "css": part["css"], "html": part["html"], "script": script, "line": line}


def export_graph(edges: pd.DataFrame, frame: pd.DataFrame, path: str | Path, fmt: str, opts: MapOptions | None = None) -> Path:
    """GraphML / GEXF / node-link JSON for Gephi and other tools."""
    import json

    g = build_graph(edges, frame, opts or MapOptions())
    del g.graph["communities"]
    p = Path(path)
    if fmt == "graphml":
        nx.write_graphml(g, p)
    elif fmt == "gexf":
        nx.write_gexf(g, p)
    elif fmt == "json":
        p.write_text(json.dumps(nx.node_link_data(g, edges="links"), indent=1), encoding="utf-8")
    else:
        raise ValueError(fmt)
    return p
