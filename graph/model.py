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


@dataclass(frozen=True)
class RelType:
    """A relationship type between two declared labels."""

    type: str
    start: str
    end: str
    properties: tuple[str, ...] = field(default=())


SUBSCRIBER = NodeType("Subscriber", "msisdn")
# The graph keeps what analysis and evidence need; transport details (private/public
# IPs and ports, APN, RAT) stay in the dump and the workspace.
SESSION = NodeType(
    "Session", "session_key",
    ("msisdn", "start_s", "end_s", "app", "app_vendor", "app_category", "service", "dest_ip", "dest_port",
     "proto", "uplink", "downlink", "cell_id", "imei", "imsi", "dump_sha256", "source_line", "layout"),
    indexes=(("start_s",), ("service", "start_s"), ("dump_sha256",), ("msisdn",)),
    datetimes=(("start", "start_s"), ("end", "end_s")),
)
APPLICATION = NodeType("Application", "name", ("vendor", "category"))
DEVICE = NodeType("Device", "imei", ("imei14",))
SIM = NodeType("Sim", "imsi")
CELL = NodeType("Cell", "cell_id")
# The requested period (ISO UTC text, end inclusive) bounds the time the dump's subscribers were
# observed; end/volume scope say what a row's end and volumes describe (see docs/layouts.md).
DUMP = NodeType("Dump", "sha256", ("file_name", "layout", "rows", "loaded", "rejected", "nondata", "loaded_at",
                                   "complete", "resolution_s", "time_level", "cdrnet_version",
                                   "period_start_utc", "period_end_utc", "period_source", "rows_outside_period",
                                   "period_start", "period_end", "date_order", "date_order_source", "end_scope",
                                   "volume_scope"))
EPISODE = NodeType("Episode", "episode_id", ("run", "channel", "msisdn", "key", "t", "t_end", "up", "down", "dur_known"),
                   indexes=(("run", "channel", "key", "t"),))

NODES: tuple[NodeType, ...] = (SUBSCRIBER, SESSION, APPLICATION, DEVICE, SIM, CELL, DUMP, EPISODE)

RELATIONSHIPS: tuple[RelType, ...] = (
    RelType("HAD", "Subscriber", "Session"),
    RelType("OF_APP", "Session", "Application"),
    RelType("AT_CELL", "Session", "Cell"),
    RelType("USED_DEVICE", "Subscriber", "Device", ("first", "last", "sessions")),
    RelType("USED_SIM", "Subscriber", "Sim", ("first", "last", "sessions")),
    RelType("CONTAINS", "Dump", "Session"),
    RelType("CO_USED", "Subscriber", "Subscriber",
            ("score", "p_value", "q_value", "link", "messaging_obs", "messaging_exp", "messaging_tight",
             "call_obs", "call_exp", "coloc_obs", "coloc_exp", "services", "first", "last", "window_s", "mode",
             "burst_gap_s", "tight_window_s", "call_window_s", "fdr", "run")),
)


def schema_statements() -> list[str]:
    """Uniqueness constraints and range indexes, derived from the declarations."""
    out = []
    for n in NODES:
        out.append(f"CREATE CONSTRAINT {n.label.lower()}_{n.key} IF NOT EXISTS "
                   f"FOR (n:{n.label}) REQUIRE n.{n.key} IS UNIQUE")
        for props in n.indexes:
            name = f"{n.label.lower()}_{'_'.join(props)}"
            cols = ", ".join(f"n.{p}" for p in props)
            out.append(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{n.label}) ON ({cols})")
    out.append("CREATE INDEX co_used_score IF NOT EXISTS FOR ()-[r:CO_USED]-() ON (r.score)")
    return out
