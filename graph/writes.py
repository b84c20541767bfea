"""Write statements derived from the model declaration (one write path: UNWIND $rows)."""

from __future__ import annotations

from functools import cache, lru_cache

from cdrnet.graph.model import NODES, RELATIONSHIPS, NodeType, RelType

NODE_BY_LABEL = {n.label: n for n in NODES}
REL_BY_TYPE = {r.type: r for r in RELATIONSHIPS}


@cache
def merge_nodes(label: str) -> str:
    """MERGE nodes by their declared key and set the given properties."""
    n: NodeType = NODE_BY_LABEL[label]
    times = "".join(f", n.{t} = datetime({{epochSeconds: r.props.{src}}})" for t, src in n.datetimes)
    return (f"UNWIND $rows AS r MERGE (n:{n.label} {{{n.key}: r.key}}) "
            f"SET n += r.props{times} RETURN count(*) AS rows")


@cache
def merge_rels(rel_type: str) -> str:
    """MERGE relationships between nodes found by their declared keys."""
    r: RelType = REL_BY_TYPE[rel_type]
    s, e = NODE_BY_LABEL[r.start], NODE_BY_LABEL[r.end]
    return (f"UNWIND $rows AS r MATCH (a:{s.label} {{{s.key}: r.start}}) MATCH (b:{e.label} {{{e.key}: r.end}}) "
            f"MERGE (a)-[x:{r.type}]->(b) SET x += r.props RETURN count(*) AS rows")


@lru_cache(maxsize=1)
def load_sessions() -> str:
    """One batch of a dump's sessions with HAD, CONTAINS, OF_APP and AT_CELL, in one pass.

    Properties are set one by one (not ``+= map``) so the planner needs no Eager
    barrier; Subscriber, Application and Cell nodes are merged just before.
    """
    s, sub, dump, app, cell = (NODE_BY_LABEL[x] for x in ("Session", "Subscriber", "Dump", "Application", "Cell"))
    sets = ", ".join([f"s.{p} = r.props.{p}" for p in s.properties]
                     + [f"s.{t} = datetime({{epochSeconds: r.props.{src}}})" for t, src in s.datetimes])
    return "\n".join([
        f"MATCH (d:{dump.label} {{{dump.key}: $sha256}})",
        "UNWIND $rows AS r",
        f"MATCH (sub:{sub.label} {{{sub.key}: r.props.msisdn}})",
        f"MERGE (s:{s.label} {{{s.key}: r.key}})",
        f"SET {sets}",
        f"MERGE (sub)-[:{REL_BY_TYPE['HAD'].type}]->(s)",
        f"MERGE (d)-[:{REL_BY_TYPE['CONTAINS'].type}]->(s)",
        "WITH s, r",
        f"OPTIONAL MATCH (a:{app.label} {{{app.key}: r.props.app}})",
        f"OPTIONAL MATCH (c:{cell.label} {{{cell.key}: r.props.cell_id}})",
        f"FOREACH (x IN CASE WHEN a IS NULL THEN [] ELSE [a] END | MERGE (s)-[:{REL_BY_TYPE['OF_APP'].type}]->(x))",
        f"FOREACH (x IN CASE WHEN c IS NULL THEN [] ELSE [c] END | MERGE (s)-[:{REL_BY_TYPE['AT_CELL'].type}]->(x))",
        "RETURN count(*) AS rows",
    ])
