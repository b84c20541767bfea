"""The case at a glance: who is in it, what each operator sent, how good the data is, what links were found.

One :class:`CaseSummary` feeds the screen (:func:`summary_text`), the printable page
(``cdrnet.viz.summary_page``) and the Excel workbook (``cdrnet.viz.workbook``), so the
three never disagree. Tables hold raw values (UTC timestamps, integers);
:func:`people_tables` turns them into what a person reads (the case's zone, 1,234).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd

from cdrnet.analysis.display import count
from cdrnet.analysis.network import summary_line
from cdrnet.labels import NO_LABELS, Labels
from cdrnet.loader.quality import DumpReport
from cdrnet.network import Network

#: Links listed as "the strongest" on screen and on the page (the workbook lists them all).
TOP_LINKS = 10
NO_OPERATOR = "not stated"


@cache
def _operators() -> dict[str, str]:
    from cdrnet.loader.layouts import builtin_layouts

    return {lay.name: lay.operator for lay in builtin_layouts()}


def operator_of(layout: str) -> str:
    """The operator a layout comes from (built-in layouts say; the DoT wording and mapping files may not)."""
    return _operators().get(layout) or NO_OPERATOR


@dataclass
class CaseSummary:
    """Everything ``cdrnet summary`` shows, as raw tables."""

    case: str
    store: str
    tz: str
    generated_utc: pd.Timestamp
    subscribers: pd.DataFrame
    operators: pd.DataFrame
    dumps: pd.DataFrame
    empty_exports: pd.DataFrame
    quality: pd.DataFrame
    sessions: int
    first_utc: pd.Timestamp | None
    last_utc: pd.Timestamp | None
    network: Network
    links: pd.DataFrame
    labels: Labels
    #: The one network (``Case.contact_network``: a, b, kind = inferred | direct | both, score, q_value,
    #: calls, sms, seconds) when the case holds call records; None when it holds none.
    contacts: pd.DataFrame | None = None

    @property
    def link_count(self) -> int:
        return len(self.links)

    def links_line(self) -> str:
        """What the network holds, in one sentence (says plainly when there is no link)."""
        p = self.network.params
        e = self.network.edges
        pairs = (f"{count(len(e))} pair(s) with any co-usage; " if self.network.all_pairs
                 else "Neo4j keeps links only; ")
        if not self.link_count:
            # Neo4j keeps links only: no edge there means no link, not that no pair has any co-usage.
            why = ("no pair has any co-usage evidence" if e.empty and self.network.all_pairs
                   else f"no pair co-uses beyond chance at FDR {p.fdr:g}")
            return f"no links: {why} ({pairs.rstrip('; ')})"
        return f"{pairs}{count(self.link_count)} link(s) at FDR {p.fdr:g}"


def _ts(text: str) -> pd.Timestamp | pd.NaT:
    return pd.Timestamp(text).tz_convert("UTC") if text else pd.NaT


def dumps_table(reports: list[DumpReport]) -> pd.DataFrame:
    """One row per loaded dump: file, layout, operator, subscribers, requested period (UTC), counts, quality."""
    rows = [{"file": r.name, "sha256": r.sha256, "layout": r.layout, "operator": operator_of(r.layout),
             "subscribers": ", ".join(r.msisdns or r.no_records_for),
             "period_start_utc": _ts(r.period_start_utc), "period_end_utc": _ts(r.period_end_utc),
             "period_source": r.period_source, "lines_read": r.lines_read, "loaded": r.loaded,
             "rejected": r.rejected_total, "non_data": r.nondata, "outside_period": r.rows_outside_period,
             "app_identified_pct": round(100.0 * r.app_identified / r.with_destination, 1) if r.with_destination
             else None,
             "resolution_s": r.resolution_s, "time_level": r.time_level, "dump_tz": r.tz,
             "no_records": bool(r.no_records_for) or r.loaded == 0}
            for r in reports]
    cols = ["file", "sha256", "layout", "operator", "subscribers", "period_start_utc", "period_end_utc",
            "period_source", "lines_read", "loaded", "rejected", "non_data", "outside_period", "app_identified_pct",
            "resolution_s", "time_level", "dump_tz", "no_records"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("period_start_utc", "period_end_utc"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out


def quality_table(reports: list[DumpReport]) -> pd.DataFrame:
    """The case's data quality, one measure a row (the per-dump detail is ``dumps -v``)."""
    rejected: dict[str, int] = {}
    for r in reports:
        for reason, n in r.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + n
    with_dest = sum(r.with_destination for r in reports)
    named = sum(r.app_identified for r in reports)
    rows = [("lines read", sum(r.lines_read for r in reports)),
            ("sessions loaded", sum(r.loaded for r in reports)),
            ("rows rejected (see rejects.csv)", sum(rejected.values())),
            *((f"  rejected: {k}", v) for k, v in sorted(rejected.items())),
            ("non-data lines (preambles, footers, blank)", sum(r.nondata for r in reports)),
            ("rows delivered again by another dump", sum(r.duplicates_of_other_dumps for r in reports)),
            ("rows outside the dump's stated period", sum(r.rows_outside_period for r in reports)),
            ("IMEIs lost to Excel (scientific notation)", sum(r.imei_precision_lost for r in reports)),
            ("IMSIs lost to Excel (scientific notation)", sum(r.imsi_precision_lost for r in reports)),
            ("sessions with a destination", with_dest),
            ("  of which application identified", named),
            ("dumps with times coarser than a minute", sum(1 for r in reports if r.resolution_s > 60)),
            ("dumps with no requested period stated", sum(1 for r in reports if r.period_source == "rows"))]
    out = pd.DataFrame(rows, columns=["measure", "value"])
    out["percent"] = None
    if with_dest:
        out.loc[out["measure"] == "  of which application identified", "percent"] = round(100.0 * named / with_dest, 1)
    return out


def subscribers_table(sessions: pd.DataFrame, dumps: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Per subscriber: label, operators and layouts, dumps, sessions, first and last seen (UTC)."""
    g = sessions.groupby("msisdn")["start_utc"]
    per = pd.DataFrame({"sessions": g.size(), "first_utc": g.min(), "last_utc": g.max()})
    d = dumps.assign(msisdn=dumps["subscribers"].str.split(", ")).explode("msisdn")
    d = d[d["msisdn"].fillna("") != ""]
    by = d.groupby("msisdn").agg(operators=("operator", lambda s: ", ".join(sorted(set(s)))),
                                 layouts=("layout", lambda s: ", ".join(sorted(set(s)))), dumps=("file", "size"))
    out = by.join(per, how="outer").reset_index(names="msisdn")
    out["sessions"] = out["sessions"].fillna(0).astype(int)
    out["dumps"] = out["dumps"].fillna(0).astype(int)
    out[["operators", "layouts"]] = out[["operators", "layouts"]].fillna("")
    out.insert(1, "label", labels.column(out["msisdn"]))
    return out[["msisdn", "label", "operators", "layouts", "dumps", "sessions", "first_utc", "last_utc"]]


def operators_table(dumps: pd.DataFrame) -> pd.DataFrame:
    """Per operator and layout: dumps, subscribers, sessions loaded."""
    subs = dumps.assign(msisdn=dumps["subscribers"].str.split(", ")).explode("msisdn")
    n_subs = subs[subs["msisdn"].fillna("") != ""].groupby(["operator", "layout"])["msisdn"].nunique()
    out = dumps.groupby(["operator", "layout"]).agg(dumps=("file", "size"), sessions=("loaded", "sum"))
    out["subscribers"] = n_subs.reindex(out.index).fillna(0).astype(int)
    return out.reset_index()[["operator", "layout", "dumps", "subscribers", "sessions"]]


def links_table(network: Network, labels: Labels) -> pd.DataFrame:
    """The network's links, strongest first, with the labels of both ends."""
    links = network.links.reset_index(drop=True)
    out = links.copy()
    out.insert(1, "a_label", labels.column(links["a"]) if len(links) else pd.Series(dtype=str))
    out.insert(3, "b_label", labels.column(links["b"]) if len(links) else pd.Series(dtype=str))
    return out


def with_direct(links: pd.DataFrame, contacts: pd.DataFrame | None) -> pd.DataFrame:
    """Links with what the call records say of each pair: kind (inferred | both), calls, SMS, call
    seconds (0 where none; the columns are absent when the case holds no call records)."""
    if contacts is None:
        return links
    lo, hi = links[["a", "b"]].min(axis=1), links[["a", "b"]].max(axis=1)
    both = contacts[contacts["kind"] == "both"].set_index(["a", "b"])[["calls", "sms", "seconds"]]
    key = pd.MultiIndex.from_arrays([lo.astype(str), hi.astype(str)]) if len(links) else pd.MultiIndex.from_arrays(
        [[], []])
    found = both.reindex(key) if len(both) else pd.DataFrame(index=key, columns=["calls", "sms", "seconds"])
    out = links.copy()
    out["kind"] = ["both" if ok else "inferred" for ok in found["calls"].notna()]
    for c in ("calls", "sms", "seconds"):
        out[f"direct_{c}"] = pd.to_numeric(found[c], errors="coerce").fillna(0).astype("int64").to_numpy()
    return out


def build_summary(case: str, store: str, tz: str, reports: list[DumpReport], sessions: pd.DataFrame,
                  network: Network, labels: Labels = NO_LABELS, contacts: pd.DataFrame | None = None) -> CaseSummary:
    """The case at a glance from its dump reports, its sessions (msisdn, start_utc) and its network;
    ``contacts`` is the one network of inferred links and direct contacts (``Case.contact_network``)
    when the case holds call records."""
    dumps = dumps_table(reports)
    return CaseSummary(
        case=case, store=store, tz=tz, generated_utc=pd.Timestamp.now(tz="UTC"),
        subscribers=subscribers_table(sessions, dumps, labels), operators=operators_table(dumps), dumps=dumps,
        empty_exports=dumps[dumps["no_records"]][["file", "layout", "operator", "subscribers", "period_start_utc",
                                                  "period_end_utc"]].reset_index(drop=True),
        quality=quality_table(reports), sessions=len(sessions),
        first_utc=sessions["start_utc"].min() if len(sessions) else None,
        last_utc=sessions["start_utc"].max() if len(sessions) else None,
        network=network, links=with_direct(links_table(network, labels), contacts), labels=labels, contacts=contacts)


# -- for people -------------------------------------------------------------------------------

def local(ts: pd.Series | pd.Timestamp | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> pd.Series | str:
    """Times in the case's zone as text ("" where none)."""
    if isinstance(ts, pd.Series):
        return pd.to_datetime(ts, utc=True).dt.tz_convert(tz).dt.strftime(fmt).fillna("")
    return "" if ts is None or pd.isna(ts) else pd.Timestamp(ts).tz_convert(tz).strftime(fmt)


def period_text(start: pd.Series, end: pd.Series, source: pd.Series, tz: str) -> pd.Series:
    """A dump's requested period in the case's zone, saying where it came from."""
    how = source.map({"preamble": "stated", "rows": "rows' span: none stated"}).fillna("")
    text = local(start, tz) + " .. " + local(end, tz, "%Y-%m-%d %H:%M:%S")
    return (text + " (" + how + ")").where(start.notna(), "")


def people_tables(s: CaseSummary) -> dict[str, pd.DataFrame]:
    """The summary's tables as a person reads them: times in the case's zone, counts with separators."""
    from cdrnet.analysis.display import counts

    sub = s.subscribers
    subs = sub.assign(sessions=counts(sub["sessions"]), **{"first seen": local(sub["first_utc"], s.tz),
                                                           "last seen": local(sub["last_utc"], s.tz)})
    subs = subs[["msisdn", "label", "operators", "layouts", "dumps", "sessions", "first seen", "last seen"]]
    if not len(s.labels.names):
        subs = subs.drop(columns="label")
    d = s.dumps
    dumps = pd.DataFrame({"file": d["file"], "layout": d["layout"], "operator": d["operator"],
                          "subscribers": d["subscribers"],
                          "requested period": period_text(d["period_start_utc"], d["period_end_utc"],
                                                          d["period_source"], s.tz),
                          "loaded": counts(d["loaded"]), "rejected": counts(d["rejected"]),
                          "non-data": counts(d["non_data"])})
    empty = s.empty_exports
    empty = pd.DataFrame({"file": empty["file"], "layout": empty["layout"], "subscribers": empty["subscribers"],
                          "requested period": local(empty["period_start_utc"], s.tz) + " .. "
                          + local(empty["period_end_utc"], s.tz)})
    q = s.quality
    quality = pd.DataFrame({"measure": q["measure"], "value": counts(q["value"])
                            + q["percent"].map(lambda v: f" ({v:g} %)" if pd.notna(v) else "")})
    ops = s.operators.assign(sessions=counts(s.operators["sessions"]))
    out = {"subscribers": subs, "operators and layouts": ops, "dumps": dumps, "exports with no records": empty,
           "data quality": quality, "strongest links": strongest(s.links.head(TOP_LINKS), s.tz)}
    if s.contacts is not None:
        out["direct contacts"] = direct_table(s)
    return out


#: What a pair's kind reads as in the summary's tables.
KIND_TEXT = {"both": "BOTH: link + calls/SMS", "inferred": "inferred link only", "direct": "direct contact only"}
DIRECT_HEADINGS = ["kind", "a", "b", "calls", "SMS", "call time (s)", "link score"]


def direct_title(s: CaseSummary) -> str:
    """The Direct contacts table's title: how many pairs are both, how many direct only, what is shown."""
    from cdrnet.analysis.network import counts as kinds

    c = kinds(s.contacts) if s.contacts is not None else {"both": 0, "direct": 0}
    return (f"direct contacts: calls and texts among the case's subscribers ({count(c['both'])} also inferred "
            f"links, {count(c['direct'])} direct only; the first {TOP_LINKS} of each)")


def direct_table(s: CaseSummary) -> pd.DataFrame:
    """Direct contacts (calls, SMS) among the case's subscribers as a person reads them: pairs that are
    also inferred links first and marked, then the most frequent direct-only pairs (top TOP_LINKS of each)."""
    net = s.contacts if s.contacts is not None else pd.DataFrame(columns=["a", "b", "kind"])
    net = net[net["kind"] != "inferred"]
    order = net.assign(_n=net["calls"] + net["sms"]).sort_values(["kind", "_n"], ascending=[True, False],
                                                                 kind="stable") if len(net) else net
    top = pd.concat([order[order["kind"] == "both"].head(TOP_LINKS), order[order["kind"] == "direct"].head(TOP_LINKS)])
    if top.empty:
        return pd.DataFrame(columns=DIRECT_HEADINGS)

    def who(num: pd.Series) -> pd.Series:
        lab = s.labels.column(num)
        return num.astype(str) + (" (" + lab + ")").where(lab != "", "")

    from cdrnet.analysis.display import counts

    return pd.DataFrame({"kind": top["kind"].map(KIND_TEXT), "a": who(top["a"]), "b": who(top["b"]),
                         "calls": counts(top["calls"]), "SMS": counts(top["sms"]),
                         "call time (s)": counts(top["seconds"]),
                         "link score": top["score"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")})[DIRECT_HEADINGS]


LINK_HEADINGS = ["a", "b", "score", "q", "messaging (expected)", "call signatures", "co-location", "services",
                 "first", "last"]


def strongest(top: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Links as a person reads them: labels beside numbers, scores rounded, times in the case's zone."""
    if top.empty:
        return pd.DataFrame(columns=LINK_HEADINGS)

    def who(num: pd.Series, lab: pd.Series) -> pd.Series:
        return num + (" (" + lab + ")").where(lab != "", "")

    out = pd.DataFrame({"a": who(top["a"], top["a_label"]), "b": who(top["b"], top["b_label"]),
                         "score": top["score"].map(lambda v: f"{v:.1f}"),
                         "q": top["q_value"].map(lambda v: f"{v:.2g}"),
                         "messaging (expected)": top["messaging_obs"].astype(int).astype(str) + " ("
                         + top["messaging_exp"].map(lambda v: f"{v:.1f}") + ")",
                         "call signatures": top["call_obs"].astype(int).astype(str),
                         "co-location": top["coloc_obs"].astype(int).astype(str),
                         "services": top["services"].fillna("").astype(str),
                         "first": local(top["first_utc"], tz), "last": local(top["last_utc"], tz)})[LINK_HEADINGS]
    if "kind" in top:
        # Call records in the case: each link says whether the pair also called or texted.
        out.insert(0, "direct contact", [f"BOTH: {c} call(s), {m} SMS" if k == "both" else "none"
                                         for k, c, m in zip(top["kind"], top["direct_calls"], top["direct_sms"],
                                                            strict=True)])
    return out


def header_lines(s: CaseSummary) -> list[str]:
    """The lines above the tables: case, store, zone, sessions, network."""
    span = (f"; {local(s.first_utc, s.tz)} .. {local(s.last_utc, s.tz)}" if s.first_utc is not None else "")
    return [f"case {s.case} ({s.store}); times in {s.tz}",
            f"{count(len(s.subscribers))} subscriber(s), {count(len(s.dumps))} dump(s), "
            f"{count(s.sessions)} session(s){span}",
            s.network.note, s.links_line(), *([summary_line(s.contacts)] if s.contacts is not None else [])]


def summary_text(s: CaseSummary) -> str:
    """The summary on screen."""
    t = people_tables(s)
    out = header_lines(s)
    for name, table in t.items():
        if name in ("strongest links", "direct contacts") and not len(table):
            continue
        title = f"{name} (top {min(TOP_LINKS, s.link_count)} of {s.link_count})" if name == "strongest links" else name
        title = direct_title(s) if name == "direct contacts" else title
        out += ["", title.capitalize(), table.to_string(index=False) if len(table) else "(none)"]
    return "\n".join(out) + "\n"
