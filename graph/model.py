"""The graph model, declared once: labels, keys, properties, relationships, indexes.

Constraints, indexes and MERGE keys are derived from these declarations, so a
label or property name in Cypher never comes from user input.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeType:
    """A node label with its unique key and the properties the loader sets."""

    label: str
    key: str
    properties: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    #: Neo4j DATETIME properties computed from epoch-second properties (for Browser users).
    datetimes: tuple[tuple[str, str], ...] = ()
    #: Whether nodes belong to one case (key and indexes lead with ``case``).
    per_case: bool = True
    #: Properties computed from the key when a usage summary creates the node (Cypher over ``k``).
    computed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RelType:
    """A relationship type between two declared labels."""

    type: str
    start: str
    end: str
    properties: tuple[str, ...] = field(default=())
    #: DATETIME properties computed from epoch-second properties, shown in the zone each row names.
    datetimes: tuple[tuple[str, str], ...] = ()
    #: A usage summary: the Session property whose values are the end nodes' keys. The relationship
    #: is recomputed from the subscriber's sessions after each dump with first/last use and counts.
    summarises: str = ""


# Subscribers carry a summary (first/last seen as DATETIME, session count, applications used)
# recomputed after each dump (graph.writes.usage_summaries), so Browser users can read a number's
# activity without expanding its sessions. ``Suspect`` is an extra label analysts set
# (queries/mark_suspect.cypher) so the style sheet can mark the suspect.
# ``outside_case`` is true for numbers no dump of the case was requested for: the other parties of
# call records and the numbers tower dumps saw (set after every dump, cypher/subscribers_outside.cypher).
SUBSCRIBER = NodeType("Subscriber", "msisdn", ("first_seen", "last_seen", "sessions", "applications",
                                               "outside_case"))
SUSPECT_LABEL = "Suspect"
# Volumes: where a layout repeats its record's totals on each flow row (Airtel), sessions of one
# record share ``record_key``; sum volumes once per record_key (see docs/layouts.md).
#: Session properties computed by the writer from canonical columns (name -> what it is made of):
#: epoch seconds from the UTC timestamps, and the messaging service (vendor, else application).
SESSION_COMPUTED: dict[str, str] = {"start_s": "start_utc", "end_s": "end_utc", "service": "app_vendor|app"}
# The graph keeps what analysis and evidence need, plus the public (NAT) address and port:
# app providers' IP logs name a public ip:port, so an analyst matches them against sessions.
# Private addresses, APN and RAT stay in the dump and the workspace.
SESSION = NodeType(
    "Session", "session_key",
    ("msisdn", "start_s", "end_s", "app", "app_vendor", "app_category", "service", "dest_ip", "dest_port",
     "proto", "uplink", "downlink", "cell_id", "cell_raw", "cell_name", "lat", "lon", "record_key", "imei",
     "imsi", "public_ip", "public_port", "dump_sha256", "source_line", "layout"),
    # One index besides the key: (case, msisdn, start_s) bounds queries/link_sessions.cypher to two
    # people's sessions in a window (it also serves a seek on (case, msisdn), its prefix). Every other
    # read reaches sessions from their Subscriber, Dump or Cell, or reads a whole case; the indexes
    # no query used are retired (RETIRED_INDEXES): each cost every load an index entry per session
    # (docs/architecture.md, "Indexes").
    indexes=(("msisdn", "start_s"),),
    datetimes=(("start", "start_s"), ("end", "end_s")),
)
APPLICATION = NodeType("Application", "name", ("vendor", "category"))
#: Call events (voice calls and SMS of CDRs and tower dumps), one node per input row, for evidence:
#: (caller)-[:PLACED]->(:Call)-[:TO]->(callee), (:Dump)-[:RECORDED]->(:Call). Columns as
#: cdrnet/model.py CALL_SCHEMA; times as epoch seconds (start_s, end_s) and DATETIME (start, end).
CALL_COMPUTED: dict[str, str] = {"start_s": "start_utc", "end_s": "end_utc"}
CALL = NodeType(
    "Call", "event_key",
    ("msisdn", "b_party", "caller", "callee", "direction", "type", "call_type", "start_s", "end_s", "duration_s",
     "start_local", "tz", "first_cell", "first_cell_raw", "first_cell_name", "first_lat", "first_lon", "last_cell",
     "last_cell_raw", "last_cell_name", "last_lat", "last_lon", "imei", "imei14", "imsi", "roaming", "dump_sha256",
     "source_part", "source_line", "layout"),
    indexes=(("dump_sha256",), ("caller",), ("callee",), ("msisdn", "start_s")),
    datetimes=(("start", "start_s"), ("end", "end_s")),
)
# imei14 (the first 14 digits: TAC + serial) joins the same handset written as a 15-digit IMEI
# (check digit) and as a 16-digit IMEISV (software version).
DEVICE = NodeType("Device", "imei", ("imei14",), indexes=(("imei14",),), computed=(("imei14", "left(k, 14)"),))
SIM = NodeType("Sim", "imsi")
# A cell's canonical key (MCC-MNC-LAC-CI, or MCC-MNC-ECI for an LTE id without TAC: see
# loader/cells.py) joins every form operators write; the raw text and name are kept as the first
# dump gave them. Positions (WGS84 lat/lon and a POINT ``location`` for Browser's distance
# queries) come from the dump's own columns, else an imported CGI chart, else an imported
# OpenCelliD/MLS list: ``position_source`` says which (operator | chart | opencellid),
# ``position_match`` how the listed cell was found (key | family | digits; dump for the operator's),
# ``position_list``/``position_line`` the list's SHA-256 and line (cdrnet/analysis/places.py).
CELL = NodeType("Cell", "cell_id", ("cell_raw", "name", "lat", "lon", "location", "position_source",
                                    "position_match", "position_list", "position_line", "site_name"))
# An imported cell-site list (CGI chart or OpenCelliD/MLS export) with its row accounting. The list
# itself stays in the case folder (WORKSPACE/cells/): it is reference data, mostly of other cells.
CELL_LIST = NodeType("CellList", "sha256", ("file_name", "kind", "lines_read", "loaded", "rejected", "nondata",
                                            "cells", "imported_at"))
# The requested period (ISO UTC text, end inclusive) bounds the time the dump's subscribers were
# observed; end/volume scope say what a row's end and volumes describe (see docs/layouts.md). ``kind`` is
# "sessions" or "calls"; a tower dump names its cell (docs/calls-and-towers.md).
DUMP = NodeType("Dump", "sha256", ("file_name", "layout", "rows", "loaded", "rejected", "nondata", "loaded_at",
                                   "complete", "resolution_s", "time_level", "cdrnet_version",
                                   "period_start_utc", "period_end_utc", "period_source", "rows_outside_period",
                                   "period_start", "period_end", "date_order", "date_order_source", "end_scope",
                                   "volume_scope", "tz", "kind", "tower_cell", "tower_cell_raw", "tower_numbers"))
# One link run's parameters, kept apart from the evidence on its CO_USED relationships
# (an analyst inspecting a link reads evidence; the parameters are the same for every link).
LINK_RUN = NodeType("LinkRun", "run", ("at", "window_s", "mode", "burst_gap_s", "tight_window_s", "call_window_s",
                                       "call_duration_tol", "calls", "colocation", "score_colocation", "apps",
                                       "since", "until", "fdr", "min_score", "min_events", "possible_apps",
                                       "links", "subscribers"))
# A subscriber's co-usage units, stored by the first link run in Neo4j after a load
# (cypher/units_build.cypher) and read by later runs instead of its sessions: per channel, parallel
# lists sorted by key and start (m_*: messaging, c_*: cells, k_*: call relays with volumes; *_d
# index ``dumps``), ``sessions`` read and the definitions they were built for: the messaging
# categories ``cats`` and the call units' ``call_ports``, ``call_protos``, ``call_categories``.
# A first load by the offline importer writes them too (graph/bulk_units.py).
# Deleted by every load and forget (cypher/units_clear.cypher), which also gives the case's node with
# msisdn '' a new ``generation``: units carry the one their run read before building, and only the
# current one is read (a build straddling a load's commit). Not drawn in Browser's style.
UNITS = NodeType("CoUsageUnits", "msisdn", ("generation", "sessions", "cats", "usable", "dumps", "m_key", "m_t",
                                            "m_te", "m_d", "c_key", "c_t", "c_te", "k_key", "k_t", "k_te", "k_d",
                                            "k_up", "k_down", "call_ports", "call_protos", "call_categories"))
NODES: tuple[NodeType, ...] = (SUBSCRIBER, SESSION, APPLICATION, DEVICE, SIM, CELL, CELL_LIST, DUMP, LINK_RUN, CALL,
                               UNITS)
#: Schema of the temporary Episode nodes older versions wrote during a link run (link runs now
#: read episodes as query rows): dropped wherever a killed run left it behind.
LEGACY_SCHEMA: tuple[str, ...] = ("DROP CONSTRAINT episode_episode_id IF EXISTS",
                                  "DROP INDEX episode_run_channel_key_t IF EXISTS")

#: Indexes of earlier versions that no query uses any more (the Session ones cost the bulk import about
#: 2 CPU s per million sessions each, the Bolt writer an index entry per session each): dropped from
#: databases that have them, so both load paths leave one schema.
RETIRED_INDEXES: tuple[str, ...] = ("session_case_start_s", "session_case_start", "session_case_service_start_s",
                                    "session_case_dump_sha256", "session_case_msisdn")

#: The edges.csv columns a CO_USED relationship keeps (what Browser and ``map`` on Neo4j show).
CO_USED_EDGE_COLUMNS: tuple[str, ...] = (
    "score", "p_value", "q_value", "link", "common_days", "messaging_obs", "messaging_exp", "messaging_tight",
    "call_obs", "call_exp", "coloc_obs", "coloc_exp", "services", "window_s", "mode", "burst_gap_s",
    "call_window_s", "fdr", "time_resolution_s", "coarse_time")
#: Run parameters among them: stored once on the run's LinkRun node, not on every link.
CO_USED_RUN_PARAMS: tuple[str, ...] = ("window_s", "mode", "burst_gap_s", "call_window_s", "fdr")
#: Evidence: what each CO_USED relationship itself carries.
CO_USED_EVIDENCE: tuple[str, ...] = tuple(c for c in CO_USED_EDGE_COLUMNS if c not in CO_USED_RUN_PARAMS)
#: Set by the writer, not copied from the edge: first/last co-usage as epoch seconds and the run id.
CO_USED_RUN: tuple[str, ...] = ("first_s", "last_s", "run")

#: The direct-contact aggregate a CALLED relationship carries (caller -> callee, over distinct calls:
#: cdrnet/analysis/contacts.py), the same columns as contacts.csv.
CALLED_PROPERTIES: tuple[str, ...] = ("calls", "sms", "seconds", "first_s", "last_s")

RELATIONSHIPS: tuple[RelType, ...] = (
    RelType("HAD", "Subscriber", "Session"),
    RelType("OF_APP", "Session", "Application"),
    RelType("AT_CELL", "Session", "Cell"),
    RelType("USED_DEVICE", "Subscriber", "Device", ("first", "last", "sessions"), summarises="imei"),
    RelType("USED_SIM", "Subscriber", "Sim", ("first", "last", "sessions"), summarises="imsi"),
    RelType("CONTAINS", "Dump", "Session"),
    # Which subscriber a dump was requested for (an operator's dump answers a request per number).
    RelType("OF_SUBSCRIBER", "Dump", "Subscriber"),
    # Summary of a subscriber's sessions per application, so "who uses what" needs no session scan.
    RelType("USED_APP", "Subscriber", "Application", ("first", "last", "sessions"), summarises="app"),
    # Where a subscriber was seen (the place view in Browser): first/last session at the cell and how many.
    RelType("SEEN_AT", "Subscriber", "Cell", ("first", "last", "sessions"), summarises="cell_id"),
    # Only links (pairs the run judged linked) become CO_USED: Browser draws every relationship
    # between the nodes it shows. ``evidence`` is the caption (e.g. "msg 125/38 · call 10 · cell 258",
    # observed/expected), ``strength`` a band of the score (the style sheet cannot scale a line by a
    # property). The direction means nothing (a < b); queries match both ways. The run's
    # parameters live on its LinkRun node.
    RelType("CO_USED", "Subscriber", "Subscriber",
            (*CO_USED_EVIDENCE, "strength", "evidence", *CO_USED_RUN),
            datetimes=(("first", "first_s"), ("last", "last_s"))),
    # Call records: who called or texted whom, row by row (evidence) and aggregated (the network).
    RelType("PLACED", "Subscriber", "Call"),
    RelType("TO", "Call", "Subscriber"),
    RelType("RECORDED", "Dump", "Call"),
    # Where a call was made: the cell the record names when it started and when it ended (the
    # subscriber of the dump, ``msisdn``, was there), like a session's AT_CELL, so Browser users
    # reach calls from a Cell and cells from calls. Both point to one cell when it did not change.
    RelType("FIRST_CELL", "Call", "Cell"),
    RelType("LAST_CELL", "Call", "Cell"),
    RelType("CALLED", "Subscriber", "Subscriber", CALLED_PROPERTIES,
            datetimes=(("first", "first_s"), ("last", "last_s"))),
)


#: The property every node and relationship of a case carries: Neo4j Community has one
#: database, so several cases live side by side in it, kept apart by this property.
CASE = "case"


def node_key(n: NodeType) -> tuple[str, ...]:
    """The properties that identify a node: (case, key) for case data."""
    return (CASE, n.key) if n.per_case else (n.key,)


def schema_statements() -> list[str]:
    """Uniqueness constraints and range indexes, derived from the declarations.

    Constraints and indexes of case data lead with ``case``; the single-property
    ones of databases loaded before cases existed are dropped first (they would
    forbid the same number in two cases).
    """
    out = []
    for n in NODES:
        if n.per_case:
            out.append(f"DROP CONSTRAINT {n.label.lower()}_{n.key} IF EXISTS")
            out.extend(f"DROP INDEX {n.label.lower()}_{'_'.join(props)} IF EXISTS" for props in n.indexes)
        key = node_key(n)
        name = f"{n.label.lower()}_{'_'.join(key)}"
        cols = ", ".join(f"n.{p}" for p in key)
        out.append(f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{n.label}) REQUIRE ({cols}) IS UNIQUE")
        for props in n.indexes:
            full = (CASE, *props) if n.per_case else props
            name = f"{n.label.lower()}_{'_'.join(full)}"
            cols = ", ".join(f"n.{p}" for p in full)
            out.append(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{n.label}) ON ({cols})")
    out.append("CREATE INDEX co_used_case_score IF NOT EXISTS FOR ()-[r:CO_USED]-() ON (r.case, r.score)")
    out.append("CREATE INDEX called_case IF NOT EXISTS FOR ()-[r:CALLED]-() ON (r.case)")
    out.append("DROP INDEX co_used_score IF EXISTS")
    out.extend(LEGACY_SCHEMA)
    out.extend(f"DROP INDEX {name} IF EXISTS" for name in RETIRED_INDEXES)
    return out


def session_return(var: str = "x") -> str:
    """The RETURN list that reads sessions back: key plus every declared property but the derived service."""
    props = [SESSION.key, *(p for p in SESSION.properties if p != "service")]
    return "RETURN " + ", ".join(f"{var}.{p} AS {p}" for p in props)


def call_read() -> str:
    """Call events of one case in [$since, $until) with one of $numbers as a party, of $dumps (None: no bound)."""
    props = [CALL.key, *CALL.properties]
    return "\n".join([
        "MATCH (x:Call {case: $case})",
        "WHERE ($since IS NULL OR x.start_s >= $since)",
        "  AND ($until IS NULL OR x.start_s < $until)",
        "  AND ($numbers IS NULL OR x.caller IN $numbers OR x.callee IN $numbers)",
        "  AND ($dumps IS NULL OR x.dump_sha256 IN $dumps)",
        "RETURN " + ", ".join(f"x.{p} AS {p}" for p in props),
    ])


def session_read() -> str:
    """Sessions of one case in [$since, $until) of $msisdns (each None for no bound)."""
    return "\n".join([
        "MATCH (x:Session {case: $case})",
        "WHERE ($since IS NULL OR x.start_s >= $since)",
        "  AND ($until IS NULL OR x.start_s < $until)",
        "  AND ($msisdns IS NULL OR x.msisdn IN $msisdns)",
        session_return("x"),
    ])
