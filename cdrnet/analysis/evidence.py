"""The evidence behind one link: parameters, scores and every supporting session.

Each co-usage event is listed with both sessions' keys, times, destinations and
their source (file name, SHA-256 and line), so an analyst can check the link by
hand against the original exports.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cdrnet.analysis.cousage import LinkParams, link
from cdrnet.analysis.observed import Coverage
from cdrnet.analysis.units import bursts, call_sessions, call_sightings, cell_sessions, messaging_sessions
from cdrnet.clock import DEFAULT_TZ, shown, shown_series
from cdrnet.csvsafe import write_csv
from cdrnet.network import Network
from cdrnet.viz.tables import html_table as table
from cdrnet.viz.tables import printable_page

#: a_start/b_start are wall-clock times in ``zone`` (the case's), for the person checking the
#: exports by hand; a_start_utc/b_start_utc are the same instants in UTC, for machines.
EVENT_COLUMNS = ["evidence", "key", "a", "a_start", "a_start_utc", "a_session_key", "a_file", "a_sha256", "a_line",
                 "b", "b_start", "b_start_utc", "b_session_key", "b_file", "b_sha256", "b_line", "delta_s", "zone"]
#: What the printable page lists per event: people's times only (the zone is in its heading).
PAGE_COLUMNS = [c for c in EVENT_COLUMNS if not c.endswith("_utc") and c != "zone"]


@dataclass
class Evidence:
    a: str
    b: str
    params: LinkParams
    edge: pd.Series | None
    events: pd.DataFrame
    #: Where the score and the link flag come from (the case's current network), for the page.
    network_note: str = ""
    #: Zone of every time shown (the case's zone).
    tz: str = DEFAULT_TZ


def link_status(ev: Evidence) -> tuple[bool, str]:
    """Whether the pair is a link under the run's FDR, and the sentence that says so with q and flag.

    The evidence page is handed over as proof, so it must never call a pair a link when the
    multiple-testing correction (or the minimum-events rule) did not make it one.
    """
    fdr = f"FDR {ev.params.fdr:g}"
    if ev.edge is None:
        return False, f"no co-usage episode, {fdr}"
    if pd.isna(ev.edge["q_value"]):
        return False, f"not among the links of the case's latest link run, {fdr}; its q-value is not kept"
    q = f"q = {float(ev.edge['q_value']):.3g}, {fdr}"
    if bool(ev.edge["link"]):
        return True, f"{q}, link = True"
    if float(ev.edge["q_value"]) <= ev.params.fdr:
        return False, f"{q}, link = False: fewer than {ev.params.min_events} co-usage events"
    return False, f"{q}, link = False"


def evidence_title(ev: Evidence) -> str:
    """"Evidence for the link A -- B" only for a link; otherwise the pair, with why it is not one."""
    is_link, why = link_status(ev)
    if is_link:
        return f"Evidence for the link {ev.a} -- {ev.b}"
    return f"Evidence for the pair {ev.a} -- {ev.b} (not a link: {why})"


def with_network(ev: Evidence, network: Network) -> Evidence:
    """The pair's score, q-value and link flag as the case's network has them.

    A pair's q-value depends on every pair tested in the run (the FDR correction), so a
    pair recomputed alone cannot give it: the network's row does. Neo4j keeps links only;
    a pair that is not one there keeps its recomputed score, with no q-value and no flag.
    """
    row = network.pair(ev.a, ev.b)
    if row is not None:
        ev.edge = row
    elif ev.edge is not None:
        ev.edge = ev.edge.copy()
        ev.edge["link"] = False
        ev.edge["q_value"] = float("nan")  # not scored with the others (links only kept, or left out of the run)
    ev.network_note = network.note
    return ev


def _units(frame: pd.DataFrame, params: LinkParams, channel: str, calls: pd.DataFrame | None,
           periods: pd.DataFrame | None) -> pd.DataFrame:
    if channel == "messaging":
        return bursts(messaging_sessions(frame, params.apps, params.possible_apps), params.gap)
    if channel == "coloc":
        return bursts(cell_sessions(frame, calls, periods), params.gap)
    calls = call_sessions(frame)
    return calls.assign(first_key=calls["session_key"]).reset_index(drop=True)


def build_evidence(frame: pd.DataFrame, a: str, b: str, params: LinkParams, files: dict[str, str],
                   coverage: Coverage | None = None, tz: str = DEFAULT_TZ,
                   calls: pd.DataFrame | None = None) -> Evidence:
    """Recompute the pair's edge with its matches and resolve every session to its source line.

    With the case's ``coverage`` the score is the one ``link`` gives the pair (pair-local null).
    ``calls``: the pair's call events; a co-location their CDRs give traces to the CDR's SHA-256
    and line (the record key is the call's event key, ``/last`` for the sighting at its last cell).
    """
    a, b = sorted((a, b))
    pair = frame[frame["msisdn"].isin([a, b])]
    res = link(pair, params, keep_matches=True, coverage=coverage, calls=calls)
    edge = res.edges.iloc[0] if len(res.edges) else None
    periods = res.coverage.call_periods if res.coverage is not None else None
    seen = call_sightings(calls, periods)
    lookup = pd.concat([pair[["session_key", "start_utc", "dump_sha256", "source_line"]],
                        seen[["session_key", "start_utc", "dump_sha256", "source_line"]]],
                       ignore_index=True).drop_duplicates("session_key").set_index("session_key")
    rows = []
    for channel, m in res.matches.items():
        if m is None or m.empty:
            continue
        units = _units(pair, params, channel, calls, periods)
        ka = units.loc[m["ua"], "first_key"].to_numpy()
        kb = units.loc[m["ub"], "first_key"].to_numpy()
        for key, sa, sb in zip(m["key"], ka, kb, strict=True):
            ra, rb = lookup.loc[sa], lookup.loc[sb]
            rows.append({"evidence": channel, "key": key, "a": a, "a_start_utc": ra["start_utc"], "a_session_key": sa,
                         "a_file": files.get(ra["dump_sha256"], ""), "a_sha256": ra["dump_sha256"],
                         "a_line": int(ra["source_line"]), "b": b, "b_start_utc": rb["start_utc"], "b_session_key": sb,
                         "b_file": files.get(rb["dump_sha256"], ""), "b_sha256": rb["dump_sha256"],
                         "b_line": int(rb["source_line"]),
                         "delta_s": int((rb["start_utc"] - ra["start_utc"]).total_seconds())})
    events = (pd.DataFrame(rows, columns=EVENT_COLUMNS)
              .sort_values(["a_start_utc", "evidence"], kind="stable").reset_index(drop=True))
    for side in ("a", "b"):
        events[f"{side}_start"] = shown_series(events[f"{side}_start_utc"], tz)
        events[f"{side}_start_utc"] = shown_series(events[f"{side}_start_utc"], "UTC", "%Y-%m-%dT%H:%M:%SZ")
    events["zone"] = tz
    return Evidence(a=a, b=b, params=params, edge=edge, events=events, tz=tz)


def evidence_html(ev: Evidence, title: str) -> str:
    """A printable page; every value is escaped. It states whether the pair is a link (q-value, FDR, flag)."""
    e = html.escape
    is_link, why = link_status(ev)
    status = f"{'This pair is a link' if is_link else 'This pair is not a link'} ({why})."

    params = pd.DataFrame(sorted(ev.params.to_dict().items()), columns=["parameter", "value"])
    measures = [(k, ev.edge[k]) for k in ("score", "p_value", "q_value", "link", "messaging_obs", "messaging_exp",
                                          "messaging_tight", "call_obs", "call_exp", "coloc_obs", "coloc_exp",
                                          "services")] if ev.edge is not None else [("score", 0)]
    if ev.edge is not None:
        measures += [(f"first ({ev.tz})", shown(ev.edge["first_utc"], ev.tz)),
                     (f"last ({ev.tz})", shown(ev.edge["last_utc"], ev.tz))]
    score = pd.DataFrame(measures, columns=["measure", "value"])
    events = ev.events[[c for c in PAGE_COLUMNS if c in ev.events]]
    body = f"""<p>{e(status)}</p>
<p>{e(ev.a)} and {e(ev.b)}: {len(ev.events)} supporting co-usage events. Each row names both
sessions' source file, SHA-256 and line so it can be checked against the original export.</p>
<p>{e(ev.network_note)}</p>
<p>All times are in {e(ev.tz)}; the CSV beside this page has them in UTC too.</p>
<h2>Score</h2>{table(score)}<h2>Parameters</h2>{table(params)}
<h2>Supporting sessions (times in {e(ev.tz)})</h2>{table(events)}"""
    return printable_page(title, body)


def write_evidence(ev: Evidence, out_dir: Path, title: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"evidence_{ev.a}_{ev.b}"
    csv = out_dir / f"{stem}.csv"
    write_csv(ev.events, csv)
    page = out_dir / f"{stem}.html"
    page.write_text(evidence_html(ev, title), encoding="utf-8")
    return [csv, page]
