"""The place view: a case's cells drawn at their latitude/longitude with the subscribers seen there.

One self-contained HTML page that opens on an air-gapped machine: no tile server, no library,
no request of any kind (a Content-Security-Policy forbids them). Cells are drawn on a plain
equirectangular plot with a graticule and a scale bar, coloured by where their position came
from; a day slider shows one day at a time (in the case's zone, which the page names), and a
click on a cell lists who was there, on which day, from when to when. Every label is data, so
it is set as text (``textContent``), never as markup, and the JSON is escaped for <script>.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cdrnet.analysis.places import coverage_text
from cdrnet.viz.assets import script_json

SOURCE_COLOURS = {"operator": "#1f77b4", "chart": "#2ca02c", "opencellid": "#ff7f0e"}
SOURCE_NAMES = {"operator": "operator's own columns", "chart": "CGI chart", "opencellid": "OpenCelliD / MLS"}


@dataclass
class PlaceOptions:
    """What the page is titled, which zone its times are in, whom to highlight."""

    title: str = "cdrnet places"
    tz: str = "Asia/Kolkata"
    suspects: list[str] = field(default_factory=list)
    coverage: dict[str, int] = field(default_factory=dict)


def place_data(placed: pd.DataFrame, seen: pd.DataFrame) -> dict:
    """The page's data: placed cells, days, subscribers and compact presence rows
    ``[cell, subscriber, day, records, first, last]`` (indexes into the lists)."""
    cells = placed.dropna(subset=["lat", "lon"]).reset_index(drop=True)
    index = {c: i for i, c in enumerate(cells["cell_id"])}
    days = sorted(seen["day"].unique().tolist()) if len(seen) else []
    subs = sorted(seen["msisdn"].unique().tolist()) if len(seen) else []
    day_i = {d: i for i, d in enumerate(days)}
    sub_i = {m: i for i, m in enumerate(subs)}
    rows = pd.DataFrame({"c": seen["cell_id"].map(index), "s": seen["msisdn"].map(sub_i), "d": seen["day"].map(day_i),
                         "n": seen["records"], "f": seen["first"], "l": seen["last"]}).dropna(subset=["c"])
    return {
        "cells": [{"id": r.cell_id, "raw": r.cell_raw or "", "name": r.cell_name or "",
                   "site": "" if pd.isna(r.site_name) else str(r.site_name), "lat": round(float(r.lat), 6),
                   "lon": round(float(r.lon), 6), "source": str(r.source), "match": str(r.matched_by)}
                  for r in cells.itertuples(index=False)],
        "days": days, "subscribers": subs,
        "seen": rows.astype({"c": int, "s": int, "d": int, "n": int, "f": str, "l": str}).to_numpy(dtype=object).tolist(),
    }


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 0; }}
header {{ padding: 8px 14px; background: #f4f4f4; border-bottom: 1px solid #ccc; }}
header h1 {{ font-size: 18px; margin: 0 0 4px 0; }}
header p {{ margin: 2px 0; font-size: 12px; color: #333; }}
main {{ display: flex; height: calc(100vh - 150px); }}
#plot {{ flex: 1; background: #fbfbf8; cursor: grab; }}
#side {{ width: 380px; overflow: auto; border-left: 1px solid #ccc; padding: 8px; font-size: 12px; }}
#side table {{ border-collapse: collapse; width: 100%; }}
#side td, #side th {{ border-bottom: 1px solid #ddd; padding: 2px 4px; text-align: left; }}
.legend span {{ display: inline-block; margin-right: 14px; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; }}
.grid {{ stroke: #ddd; stroke-width: 1; }}
.gridlabel {{ fill: #888; font-size: 10px; }}
.cell {{ stroke: #333; stroke-width: 1; opacity: 0.85; cursor: pointer; }}
.cell.quiet {{ opacity: 0.15; }}
.cell.suspect {{ stroke: #d62728; stroke-width: 3; }}
.cell.selected {{ stroke: #000; stroke-width: 3; }}
</style></head><body>
<header>
<h1>{title}</h1>
<p>{summary}</p>
<p>{coverage}</p>
<p class="legend"><span><i style="background:{c_op}"></i>{n_op}</span><span><i style="background:{c_chart}"></i>{n_chart}</span><span><i style="background:{c_ocid}"></i>{n_ocid}</span><span>circle size: subscribers seen that day; red ring: a suspect was seen there; no base map (offline): the grid is latitude/longitude</span></p>
<p><label for="day">Day ({tz}): </label><input id="day" type="range" min="0" max="0" value="0" step="1" aria-label="day"> <b id="daylabel"></b>
 &nbsp; <label for="who">Number: </label><input id="who" type="text" placeholder="all subscribers" aria-label="number"> <span id="whoinfo"></span></p>
</header>
<main><svg id="plot" xmlns="http://www.w3.org/2000/svg"></svg><div id="side"><p id="hint">Click a cell to see who was seen there and when (times in {tz}).</p></div></main>
<script>
var cdrnetData = {data};
var cdrnetSuspects = {suspects};
var cdrnetColours = {colours};
var cdrnetSourceNames = {source_names};
var cdrnetZone = {zone};
(function () {{
  var NS = "http://www.w3.org/2000/svg";
  var D = cdrnetData, svg = document.getElementById("plot");
  var day = document.getElementById("day"), dayLabel = document.getElementById("daylabel");
  var who = document.getElementById("who"), whoInfo = document.getElementById("whoinfo");
  var side = document.getElementById("side");
  var suspectIdx = {{}};
  D.subscribers.forEach(function (m, i) {{ if (cdrnetSuspects.indexOf(m) >= 0) suspectIdx[i] = true; }});
  day.max = String(D.days.length);
  var W = svg.clientWidth || 800, H = svg.clientHeight || 500, pad = 40;
  var lats = D.cells.map(function (c) {{ return c.lat; }}), lons = D.cells.map(function (c) {{ return c.lon; }});
  var la0 = Math.min.apply(null, lats.concat([90])), la1 = Math.max.apply(null, lats.concat([-90]));
  var lo0 = Math.min.apply(null, lons.concat([180])), lo1 = Math.max.apply(null, lons.concat([-180]));
  if (!D.cells.length) {{ la0 = la1 = lo0 = lo1 = 0; }}
  var mid = (la0 + la1) / 2, k = Math.cos(mid * Math.PI / 180);
  var spanX = Math.max((lo1 - lo0) * k, 0.01), spanY = Math.max(la1 - la0, 0.01);
  var scale = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY);
  function px(lon) {{ return pad + ((lon - lo0) * k - ((lo1 - lo0) * k - spanX) / 2) * scale + (W - 2 * pad - spanX * scale) / 2; }}
  function py(lat) {{ return H - pad - (lat - la0 + (spanY - (la1 - la0)) / 2) * scale - (H - 2 * pad - spanY * scale) / 2; }}
  var view = {{x: 0, y: 0, w: W, h: H}};
  function setView() {{ svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h); }}
  setView();
  function el(name, attrs, parent) {{
    var e = document.createElementNS(NS, name);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    (parent || svg).appendChild(e); return e;
  }}
  // Graticule at a round step, labelled in degrees; a scale bar in km.
  var steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
  var step = steps.filter(function (s) {{ return Math.max(spanY, spanX / k) / s <= 8; }})[0] || 10;
  var g = el("g", {{}});
  for (var v = Math.floor((la0 - spanY) / step) * step; v <= la1 + spanY; v += step) {{
    el("line", {{"class": "grid", x1: -W, x2: 2 * W, y1: py(v), y2: py(v)}}, g);
    var t = el("text", {{"class": "gridlabel", x: 4, y: py(v) - 2}}, g); t.textContent = v.toFixed(3) + "\\u00b0N";
  }}
  for (var u = Math.floor((lo0 - spanX) / step) * step; u <= lo1 + spanX / k; u += step) {{
    el("line", {{"class": "grid", y1: -H, y2: 2 * H, x1: px(u), x2: px(u)}}, g);
    var t2 = el("text", {{"class": "gridlabel", x: px(u) + 2, y: H - 4}}, g); t2.textContent = u.toFixed(3) + "\\u00b0E";
  }}
  var kmPerPx = 111.32 / scale, bar = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500].filter(function (b) {{ return b / kmPerPx >= 60; }})[0] || 500;
  el("line", {{x1: W - 20 - bar / kmPerPx, x2: W - 20, y1: 20, y2: 20, stroke: "#333", "stroke-width": 3}});
  var sb = el("text", {{x: W - 20 - bar / kmPerPx, y: 14, "class": "gridlabel"}}); sb.textContent = bar + " km";
  var dots = D.cells.map(function (c, i) {{
    var d = el("circle", {{cx: px(c.lon), cy: py(c.lat), r: 5, fill: cdrnetColours[c.source] || "#999", "class": "cell"}});
    var tip = el("title", {{}}, d);
    tip.textContent = c.id + (c.name ? "\\n" + c.name : "") + (c.site ? "\\n" + c.site : "") + "\\nposition: " + (cdrnetSourceNames[c.source] || c.source);
    d.addEventListener("click", function () {{ select(i); }});
    return d;
  }});
  var selected = -1;
  function wanted() {{
    var q = who.value.replace(/\\D/g, "");
    return q ? D.subscribers.map(function (m, i) {{ return m.indexOf(q) >= 0 ? i : -1; }}).filter(function (i) {{ return i >= 0; }}) : null;
  }}
  function rows(cell) {{
    var d = Number(day.value) - 1, subs = wanted(), set = {{}};
    if (subs) subs.forEach(function (i) {{ set[i] = true; }});
    return D.seen.filter(function (r) {{
      return (cell < 0 || r[0] === cell) && (d < 0 || r[2] === d) && (!subs || set[r[1]]);
    }});
  }}
  function draw() {{
    var d = Number(day.value) - 1;
    dayLabel.textContent = d < 0 ? "all days (" + D.days.length + ")" : D.days[d];
    var per = {{}}, sus = {{}}, drawn = 0;
    rows(-1).forEach(function (r) {{ (per[r[0]] = per[r[0]] || {{}})[r[1]] = true; if (suspectIdx[r[1]]) sus[r[0]] = true; }});
    dots.forEach(function (dot, i) {{
      var n = per[i] ? Object.keys(per[i]).length : 0;
      dot.setAttribute("r", n ? 5 + 3 * Math.sqrt(n) : 4);
      dot.classList.toggle("quiet", !n);
      dot.classList.toggle("suspect", !!sus[i]);
      if (n) drawn += 1;
    }});
    var subs = wanted();
    whoInfo.textContent = subs ? subs.length + " matching number(s)" : "";
    window.cdrnetPlaces = {{cells: D.cells.length, active: drawn, day: d < 0 ? "" : D.days[d], ready: true}};
    if (selected >= 0) select(selected);
  }}
  function select(i) {{
    selected = i;
    dots.forEach(function (dot, j) {{ dot.classList.toggle("selected", j === i); }});
    var c = D.cells[i];
    side.replaceChildren();
    var h = document.createElement("h3"); h.textContent = c.id; side.appendChild(h);
    [["raw id", c.raw], ["name", c.name], ["site", c.site], ["position", c.lat + ", " + c.lon],
     ["from", (cdrnetSourceNames[c.source] || c.source) + " (matched by " + c.match + ")"]].forEach(function (p) {{
      if (!p[1]) return;
      var line = document.createElement("p"); line.textContent = p[0] + ": " + p[1]; side.appendChild(line);
    }});
    var t = document.createElement("table"), head = t.insertRow();
    ["number", "day", "sessions/calls", "first", "last"].forEach(function (x) {{ var th = document.createElement("th"); th.textContent = x; head.appendChild(th); }});
    rows(i).forEach(function (r) {{
      var tr = t.insertRow();
      [D.subscribers[r[1]], D.days[r[2]], r[3], r[4], r[5]].forEach(function (x) {{ tr.insertCell().textContent = String(x); }});
    }});
    side.appendChild(t);
    var note = document.createElement("p"); note.textContent = "times in " + cdrnetZone; side.appendChild(note);
  }}
  day.addEventListener("input", draw);
  who.addEventListener("input", draw);
  var drag = null;
  svg.addEventListener("mousedown", function (e) {{ drag = {{x: e.clientX, y: e.clientY, vx: view.x, vy: view.y}}; }});
  window.addEventListener("mouseup", function () {{ drag = null; }});
  svg.addEventListener("mousemove", function (e) {{
    if (!drag) return;
    var f = view.w / (svg.clientWidth || W);
    view.x = drag.vx - (e.clientX - drag.x) * f; view.y = drag.vy - (e.clientY - drag.y) * f; setView();
  }});
  svg.addEventListener("wheel", function (e) {{
    e.preventDefault();
    var f = e.deltaY < 0 ? 0.8 : 1.25, r = svg.getBoundingClientRect();
    var mx = view.x + (e.clientX - r.left) / r.width * view.w, my = view.y + (e.clientY - r.top) / r.height * view.h;
    view.w *= f; view.h *= f; view.x = mx - (mx - view.x) * f; view.y = my - (my - view.y) * f; setView();
  }}, {{passive: false}});
  draw();
}})();
</script>
</body></html>
"""


def write_place_map(placed: pd.DataFrame, seen: pd.DataFrame, path: str | Path,
                    opts: PlaceOptions | None = None) -> Path:
    """Write the offline place view; returns its path."""
    opts = opts or PlaceOptions()
    data = place_data(placed, seen)
    span = (f"{len(data['days'])} day(s) from {data['days'][0]} to {data['days'][-1]} ({opts.tz}); "
            if data["days"] else "")
    summary = (f"{span}{len(data['cells'])} placed cells, {len(data['subscribers'])} subscribers seen at them; "
               f"times and days in {opts.tz}")
    counts = opts.coverage or {}
    page = PAGE.format(
        title=html.escape(opts.title), summary=html.escape(summary),
        coverage=html.escape(coverage_text(counts)) if counts else "",
        tz=html.escape(opts.tz), zone=script_json(opts.tz),
        data=script_json(data), suspects=script_json(opts.suspects), colours=script_json(SOURCE_COLOURS),
        source_names=script_json(SOURCE_NAMES), c_op=SOURCE_COLOURS["operator"], c_chart=SOURCE_COLOURS["chart"],
        c_ocid=SOURCE_COLOURS["opencellid"], n_op=html.escape(SOURCE_NAMES["operator"]),
        n_chart=html.escape(SOURCE_NAMES["chart"]), n_ocid=html.escape(SOURCE_NAMES["opencellid"]))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(page, encoding="utf-8")
    return p
