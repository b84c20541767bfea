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
from collections.abc import Callable
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


@dataclass
class Places:
    """What a place view draws: the case's cells with their positions (``place_cells``), who was seen
    at the placed ones per day (``presence``) and how many cells have a position (``coverage``)."""

    placed: pd.DataFrame
    seen: pd.DataFrame
    coverage: dict[str, int] = field(default_factory=dict)

    def summary(self, tz: str) -> str:
        """One line: days, placed cells, subscribers, the zone."""
        days = sorted(self.seen["day"].unique().tolist()) if len(self.seen) else []
        span = f"{len(days)} day(s) from {days[0]} to {days[-1]} ({tz}); " if days else ""
        cells = int(self.placed[["lat", "lon"]].notna().all(axis=1).sum()) if len(self.placed) else 0
        return (f"{span}{cells} placed cells, {self.seen['msisdn'].nunique() if len(self.seen) else 0} subscribers "
                f"seen at them; times and days in {tz}")

    def empty_reason(self) -> str:
        """Why nothing can be drawn ("" when some cell has a position): said in the page."""
        if not len(self.placed):
            return ("No session or call of this case names a cell, so there is no place to draw "
                    "(the dumps carry no cell ids).")
        if not self.placed[["lat", "lon"]].notna().all(axis=1).any():
            return ("No cell of this case has a position yet: the dumps state none. Import the operator's CGI "
                    "chart or an OpenCelliD / MLS CSV with 'cdrnet cells import FILE', then write the page again.")
        return ""


#: Styles of the place view (plain CSS, no template braces).
PLACE_CSS = """
.cdrnet-places { display: flex; flex-direction: column; flex: 1; min-height: 0; }
.cdrnet-places p.pinfo { margin: 2px 14px; font-size: 12px; color: #333; }
.cdrnet-places p.noplaces { margin: 20px 14px; font-size: 15px; color: #8a1c1c; }
.cdrnet-places .pmain { display: flex; flex: 1; min-height: 0; }
#plot { flex: 1; background: #fbfbf8; cursor: grab; }
#side { width: 380px; overflow: auto; border-left: 1px solid #ccc; padding: 8px; font-size: 12px; }
#side table { border-collapse: collapse; width: 100%; }
#side td, #side th { border-bottom: 1px solid #ddd; padding: 2px 4px; text-align: left; }
#side button.num { border: none; background: none; color: #1f4e9c; text-decoration: underline; cursor: pointer;
  padding: 0; font: inherit; text-align: left; }
.cdrnet-places .legend span { display: inline-block; margin-right: 14px; }
.cdrnet-places .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; }
.grid { stroke: #ddd; stroke-width: 1; }
.gridlabel { fill: #888; font-size: 10px; }
.cell { stroke: #333; stroke-width: 1; opacity: 0.85; cursor: pointer; }
.cell.quiet { opacity: 0.15; }
.cell.suspect { stroke: #d62728; stroke-width: 3; }
.cell.picked { stroke: #ff00ff; stroke-width: 4; opacity: 1; }
.cell.selected { stroke: #000; stroke-width: 3; }
"""

#: The place view's controls and drawing (filled by :func:`place_section`).
PLACE_HTML = """<div class="cdrnet-places" id="places">
<p class="pinfo">{summary}</p>
<p class="pinfo">{coverage}</p>
<p class="pinfo legend"><span><i style="background:{c_op}"></i>{n_op}</span><span><i style="background:{c_chart}"></i>{n_chart}</span><span><i style="background:{c_ocid}"></i>{n_ocid}</span><span>circle size: subscribers seen that day; red ring: a suspect was seen there; magenta ring: the number picked; no base map (offline): the grid is latitude/longitude</span></p>
<p class="pinfo"><label for="day">Day ({tz}): </label><input id="day" type="range" min="0" max="0" value="0" step="1" aria-label="day"> <b id="daylabel"></b>
 &nbsp; <label for="who">Number: </label><input id="who" type="text" placeholder="all subscribers" aria-label="number"> <span id="whoinfo"></span></p>
{empty}<div class="pmain"><svg id="plot" xmlns="http://www.w3.org/2000/svg"></svg><div id="side"><p id="hint">Click a cell to see who was seen there and when (times in {tz}).</p></div></div>
</div>"""

#: ``cdrnetPlaceView(data, cfg)`` draws the view into the elements of PLACE_HTML and returns
#: ``{pick(id), state}``; ``cfg.onNumber(id)`` hears a number clicked in the cell's list (the map
#: selects it in the network). Data is only ever set as text (textContent, attributes of SVG).
PLACE_JS = r"""
function cdrnetPlaceView(D, cfg) {
  var NS = "http://www.w3.org/2000/svg";
  var svg = document.getElementById("plot");
  var day = document.getElementById("day"), dayLabel = document.getElementById("daylabel");
  var who = document.getElementById("who"), whoInfo = document.getElementById("whoinfo");
  var side = document.getElementById("side");
  var labels = D.labels || D.subscribers;
  var suspectIdx = {}, subIdx = {};
  D.subscribers.forEach(function (m, i) { subIdx[m] = i; if (cfg.suspects.indexOf(m) >= 0) suspectIdx[i] = true; });
  day.max = String(D.days.length);
  var W = svg.clientWidth || 800, H = svg.clientHeight || 500, pad = 40;
  var lats = D.cells.map(function (c) { return c.lat; }), lons = D.cells.map(function (c) { return c.lon; });
  var la0 = Math.min.apply(null, lats.concat([90])), la1 = Math.max.apply(null, lats.concat([-90]));
  var lo0 = Math.min.apply(null, lons.concat([180])), lo1 = Math.max.apply(null, lons.concat([-180]));
  if (!D.cells.length) { la0 = la1 = lo0 = lo1 = 0; }
  var mid = (la0 + la1) / 2, k = Math.cos(mid * Math.PI / 180);
  var spanX = Math.max((lo1 - lo0) * k, 0.01), spanY = Math.max(la1 - la0, 0.01);
  var scale = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY);
  function px(lon) { return pad + ((lon - lo0) * k - ((lo1 - lo0) * k - spanX) / 2) * scale + (W - 2 * pad - spanX * scale) / 2; }
  function py(lat) { return H - pad - (lat - la0 + (spanY - (la1 - la0)) / 2) * scale - (H - 2 * pad - spanY * scale) / 2; }
  var view = {x: 0, y: 0, w: W, h: H};
  function setView() { svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h); }
  setView();
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    (parent || svg).appendChild(e); return e;
  }
  if (D.cells.length) {
    // Graticule at a round step, labelled in degrees; a scale bar in km.
    var steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
    var step = steps.filter(function (s) { return Math.max(spanY, spanX / k) / s <= 8; })[0] || 10;
    var g = el("g", {});
    for (var v = Math.floor((la0 - spanY) / step) * step; v <= la1 + spanY; v += step) {
      el("line", {"class": "grid", x1: -W, x2: 2 * W, y1: py(v), y2: py(v)}, g);
      var t = el("text", {"class": "gridlabel", x: 4, y: py(v) - 2}, g); t.textContent = v.toFixed(3) + "\u00b0N";
    }
    for (var u = Math.floor((lo0 - spanX) / step) * step; u <= lo1 + spanX / k; u += step) {
      el("line", {"class": "grid", y1: -H, y2: 2 * H, x1: px(u), x2: px(u)}, g);
      var t2 = el("text", {"class": "gridlabel", x: px(u) + 2, y: H - 4}, g); t2.textContent = u.toFixed(3) + "\u00b0E";
    }
    var kmPerPx = 111.32 / scale, bar = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500].filter(function (b) { return b / kmPerPx >= 60; })[0] || 500;
    el("line", {x1: W - 20 - bar / kmPerPx, x2: W - 20, y1: 20, y2: 20, stroke: "#333", "stroke-width": 3});
    var sb = el("text", {x: W - 20 - bar / kmPerPx, y: 14, "class": "gridlabel"}); sb.textContent = bar + " km";
  }
  var dots = D.cells.map(function (c, i) {
    var d = el("circle", {cx: px(c.lon), cy: py(c.lat), r: 5, fill: cfg.colours[c.source] || "#999", "class": "cell"});
    var tip = el("title", {}, d);
    tip.textContent = c.id + (c.name ? "\n" + c.name : "") + (c.site ? "\n" + c.site : "") + "\nposition: " + (cfg.names[c.source] || c.source);
    d.addEventListener("click", function () { select(i); });
    return d;
  });
  var selected = -1, picked = null;
  function wanted() {
    if (picked !== null) return picked < 0 ? [] : [picked];
    var q = who.value.replace(/\D/g, "");
    return q ? D.subscribers.map(function (m, i) { return m.indexOf(q) >= 0 ? i : -1; }).filter(function (i) { return i >= 0; }) : null;
  }
  function rows(cell) {
    var d = Number(day.value) - 1, subs = wanted(), set = {};
    if (subs) subs.forEach(function (i) { set[i] = true; });
    return D.seen.filter(function (r) {
      return (cell < 0 || r[0] === cell) && (d < 0 || r[2] === d) && (!subs || set[r[1]]);
    });
  }
  function draw() {
    var d = Number(day.value) - 1;
    dayLabel.textContent = d < 0 ? "all days (" + D.days.length + ")" : D.days[d];
    var per = {}, sus = {}, drawn = 0;
    rows(-1).forEach(function (r) { (per[r[0]] = per[r[0]] || {})[r[1]] = true; if (suspectIdx[r[1]]) sus[r[0]] = true; });
    dots.forEach(function (dot, i) {
      var n = per[i] ? Object.keys(per[i]).length : 0;
      dot.setAttribute("r", n ? 5 + 3 * Math.sqrt(n) : 4);
      dot.classList.toggle("quiet", !n);
      dot.classList.toggle("suspect", !!sus[i]);
      dot.classList.toggle("picked", picked !== null && n > 0);
      if (n) drawn += 1;
    });
    var subs = wanted();
    if (picked !== null) {
      whoInfo.textContent = picked < 0 ? "not seen at any placed cell" : "picked: " + labels[picked] + ", at " + drawn + " cell(s)";
    } else {
      whoInfo.textContent = subs ? subs.length + " matching number(s)" : "";
    }
    window.cdrnetPlaces = {cells: D.cells.length, active: drawn, day: d < 0 ? "" : D.days[d],
                           picked: picked !== null && picked >= 0 ? D.subscribers[picked] : "", ready: true};
    if (selected >= 0) select(selected);
  }
  function numberCell(tr, i) {
    var td = tr.insertCell();
    if (!cfg.onNumber) { td.textContent = String(labels[i]); return; }
    var b = document.createElement("button");
    b.className = "num"; b.type = "button"; b.textContent = String(labels[i]);
    b.title = "pick this number here and in the network";
    b.addEventListener("click", function () { pick(D.subscribers[i]); cfg.onNumber(D.subscribers[i]); });
    td.appendChild(b);
  }
  function select(i) {
    selected = i;
    dots.forEach(function (dot, j) { dot.classList.toggle("selected", j === i); });
    var c = D.cells[i];
    side.replaceChildren();
    var h = document.createElement("h3"); h.textContent = c.id; side.appendChild(h);
    [["raw id", c.raw], ["name", c.name], ["site", c.site], ["position", c.lat + ", " + c.lon],
     ["from", (cfg.names[c.source] || c.source) + " (matched by " + c.match + ")"]].forEach(function (p) {
      if (!p[1]) return;
      var line = document.createElement("p"); line.textContent = p[0] + ": " + p[1]; side.appendChild(line);
    });
    var t = document.createElement("table"), head = t.insertRow();
    ["number", "day", "sessions/calls", "first", "last"].forEach(function (x) { var th = document.createElement("th"); th.textContent = x; head.appendChild(th); });
    rows(i).forEach(function (r) {
      var tr = t.insertRow();
      numberCell(tr, r[1]);
      [D.days[r[2]], r[3], r[4], r[5]].forEach(function (x) { tr.insertCell().textContent = String(x); });
    });
    side.appendChild(t);
    var note = document.createElement("p"); note.textContent = "times in " + cfg.zone; side.appendChild(note);
  }
  // Pick one subscriber by id (the network's node id), or none (null): only its cells stay lit.
  function pick(id) {
    picked = id === null || id === undefined ? null : (id in subIdx ? subIdx[id] : -1);
    if (picked !== null) who.value = "";
    draw();
  }
  day.addEventListener("input", draw);
  who.addEventListener("input", function () { picked = null; draw(); });
  var drag = null;
  svg.addEventListener("mousedown", function (e) { drag = {x: e.clientX, y: e.clientY, vx: view.x, vy: view.y}; });
  window.addEventListener("mouseup", function () { drag = null; });
  svg.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var f = view.w / (svg.clientWidth || W);
    view.x = drag.vx - (e.clientX - drag.x) * f; view.y = drag.vy - (e.clientY - drag.y) * f; setView();
  });
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var f = e.deltaY < 0 ? 0.8 : 1.25, r = svg.getBoundingClientRect();
    var mx = view.x + (e.clientX - r.left) / r.width * view.w, my = view.y + (e.clientY - r.top) / r.height * view.h;
    view.w *= f; view.h *= f; view.x = mx - (mx - view.x) * f; view.y = my - (my - view.y) * f; setView();
  }, {passive: false});
  if (cfg.pick !== undefined && cfg.pick !== null) pick(cfg.pick); else draw();
  return {pick: pick};
}
"""


def place_section(places: Places, tz: str, suspects: list[str], label: Callable[[str], str] = str) -> dict[str, str]:
    """The place view as parts of a page: ``css``, ``html`` (controls and drawing, escaped), ``js``
    (the drawing function) and ``data`` / ``config`` (JSON escaped for <script>).

    The place page (``cdrnet cells map``) and the network map (``cdrnet map``, its Places tab)
    both embed these, so the two never differ."""
    data = place_data(places.placed, places.seen)
    data["labels"] = [label(m) for m in data["subscribers"]]
    reason = places.empty_reason()
    html_part = PLACE_HTML.format(
        summary=html.escape(places.summary(tz)),
        coverage=html.escape(coverage_text(places.coverage)) if places.coverage else "",
        tz=html.escape(tz), c_op=SOURCE_COLOURS["operator"], c_chart=SOURCE_COLOURS["chart"],
        c_ocid=SOURCE_COLOURS["opencellid"], n_op=html.escape(SOURCE_NAMES["operator"]),
        n_chart=html.escape(SOURCE_NAMES["chart"]), n_ocid=html.escape(SOURCE_NAMES["opencellid"]),
        empty=f'<p class="noplaces" id="noplaces">{html.escape(reason)}</p>' if reason else "")
    config = {"suspects": suspects, "colours": SOURCE_COLOURS, "names": SOURCE_NAMES, "zone": tz}
    return {"css": PLACE_CSS, "html": html_part, "js": PLACE_JS, "data": script_json(data),
            "config": script_json(config)}


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }}
header {{ padding: 8px 14px; background: #f4f4f4; border-bottom: 1px solid #ccc; }}
header h1 {{ font-size: 18px; margin: 0 0 4px 0; }}
{place_css}
</style></head><body>
<header><h1>{title}</h1></header>
{place_html}
<script>{place_js}
var cdrnetData = {data};
var cdrnetPlaceConfig = {config};
cdrnetPlaceView(cdrnetData, cdrnetPlaceConfig);
</script>
</body></html>
"""


def write_place_map(placed: pd.DataFrame, seen: pd.DataFrame, path: str | Path,
                    opts: PlaceOptions | None = None) -> Path:
    """Write the offline place view; returns its path."""
    opts = opts or PlaceOptions()
    part = place_section(Places(placed, seen, opts.coverage), opts.tz, opts.suspects)
    page = PAGE.format(title=html.escape(opts.title), place_css=part["css"], place_html=part["html"],
                       place_js=part["js"], data=part["data"], config=part["config"])
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(page, encoding="utf-8")
    return p
