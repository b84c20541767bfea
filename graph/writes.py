"""Write statements derived from the model declaration (one write path: UNWIND $rows)."""

from __future__ import annotations

from functools import cache, lru_cache

from cdrnet.graph.model import CASE, NODES, RELATIONSHIPS, NodeType, RelType

NODE_BY_LABEL = {n.label: n for n in NODES}
REL_BY_TYPE = {r.type: r for r in RELATIONSHIPS}


def _pattern(n: NodeType, var: str, key_expr: str) -> str:
    """``(var:Label {case: $case, key: expr})``: case data is always matched inside one case."""
    scope = f"{CASE}: ${CASE}, " if n.per_case else ""
    return f"({var}:{n.label} {{{scope}{n.key}: {key_expr}}})"


@cache
def merge_nodes(label: str) -> str:
    """MERGE nodes of one case by their declared key and set the given properties ($case, $rows)."""
    n: NodeType = NODE_BY_LABEL[label]
    times = "".join(f", n.{t} = datetime({{epochSeconds: r.props.{src}}})" for t, src in n.datetimes)
    return (f"UNWIND $rows AS r MERGE {_pattern(n, 'n', 'r.key')} "
            f"SET n += r.props{times} RETURN count(*) AS rows")


@cache
def merge_rels(rel_type: str) -> str:
    """MERGE relationships between nodes of one case found by their declared keys ($case, $rows)."""
    r: RelType = REL_BY_TYPE[rel_type]
    s, e = NODE_BY_LABEL[r.start], NODE_BY_LABEL[r.end]
    times = "".join(f", x.{t} = datetime({{epochSeconds: r.props.{src}, timezone: r.tz}})" for t, src in r.datetimes)
    return (f"UNWIND $rows AS r MATCH {_pattern(s, 'a', 'r.start')} MATCH {_pattern(e, 'b', 'r.end')} "
            f"MERGE (a)-[x:{r.type}]->(b) SET x += r.props, x.{CASE} = ${CASE}{times} RETURN count(*) AS rows")


def _set_each(n: NodeType, var: str) -> str:
    """``var.p = r.props.p, …`` for every declared property, then the DATETIMEs from epoch seconds."""
    return ", ".join([f"{var}.{p} = r.props.{p}" for p in n.properties]
                     + [f"{var}.{t} = datetime({{epochSeconds: r.props.{src}}})" for t, src in n.datetimes])


#: Prefix of the per-property column parameters of ``load_sessions`` (``$p_msisdn``, ...), so a
#: property's name never meets the statement's other parameters (``$case``, ``$subs``, ...).
COLUMN = "p_"

#: The property naming the dump whose copy of a Session or Call the node holds. Two dumps can
#: deliver one session (an operator's re-send) with other details (a cell, an end, a volume); the
#: first dump in ingest order keeps its copy, as in the workspace (``Workspace.sessions`` keeps a
#: key's first row): later dumps only add their CONTAINS (RECORDED). A dump read again
#: (``--replace``) keeps its place, so it rewrites the copies it owns. A node of a dump whose load
#: did not finish (``$unfinished``: it died half-way, so the workspace holds nothing of it) is
#: taken over by the dump writing it now, as that dump commits first; the statement returns the
#: keys it took (``taken``), whose former links graph/store.py drops (``taken_sessions.cypher``).
OWNER = "dump_sha256"


def _column_values(n: NodeType) -> list[tuple[str, str]]:
    """(property, value at row ``i``) for every declared property and DATETIME of ``n``, from the
    columns ``$p_<property>``: one list per property, one value per row."""
    return ([(p, f"${COLUMN}{p}[i]") for p in n.properties]
            + [(t, f"datetime({{epochSeconds: ${COLUMN}{src}[i]}})") for t, src in n.datetimes])


def _lookup(n: NodeType, param: str) -> str:
    """A batch's distinct keys ``$param`` looked up once: ``param`` becomes the list of their nodes,
    each wrapped (``[x]``, null when absent) at its key's position, for ``param[pos][0]``."""
    return (f"CALL () {{ UNWIND range(0, size(${param}) - 1) AS i "
            f"OPTIONAL MATCH {_pattern(n, 'x', f'${param}[i]')} "
            f"WITH i, x ORDER BY i RETURN collect([x]) AS {param} }}")


def _link_if(var: str, pattern: str, when: str = "true") -> str:
    """MERGE ``pattern`` (naming ``x``) when ``var`` is a node and ``when`` holds; else nothing."""
    return f"FOREACH (x IN CASE WHEN {var} IS NULL OR NOT {when} THEN [] ELSE [{var}] END | MERGE {pattern})"


@cache
def load_sessions(fresh: bool = False) -> str:
    """One batch of a dump's sessions with HAD, CONTAINS, OF_APP and AT_CELL, in one pass.

    The batch travels as columns, not rows: ``$key`` and one list per property (``$p_msisdn``,
    ``$p_start_s``, ...; graph/store.py ``session_columns``), read at row ``i``. A list of
    10,000 maps of 30 entries made the client pack and the server decode every property name
    10,000 times (measured side by side in docs/benchmarks.md, "Bolt writer: columns").

    The batch's Subscriber, Application and Cell nodes (merged just before, in the same
    transaction) are looked up once per batch, not once per row: ``$subs``, ``$apps`` and
    ``$cells`` list the batch's distinct keys and each row names its own by position
    (``$sub_at``, ``$app_at``, ``$cell_at``; null for none). Each lookup list is built in key
    order (ORDER BY the position), so a position always finds its node.

    ``fresh``: the writer has checked that no session of the batch can be in the database yet
    (graph/store.py ``GraphDumpWriter``), so the sessions and their relationships are CREATEd
    (no key lookup, no MERGE lock), each node with all its properties in the CREATE (a null is
    not stored, as ``SET x = null`` stores nothing); a session there after all fails the
    uniqueness constraint and the batch is written again by MERGE. The MERGE path sets the
    properties one by one (not ``+= map``), and only on the sessions this dump owns (:data:`OWNER`):
    a session another dump delivered first keeps that dump's copy, application and cell, and gets
    this dump's CONTAINS.
    """
    s, sub, dump, app, cell = (NODE_BY_LABEL[x] for x in ("Session", "Subscriber", "Dump", "Application", "Cell"))
    verb = "CREATE" if fresh else "MERGE"

    values = _column_values(s)
    if fresh:
        inline = ", ".join(f"{p}: {v}" for p, v in values)
        node = [f"CREATE (s:{s.label} {{{CASE}: ${CASE}, {s.key}: $key[i], {inline}}})",
                "WITH d, i, sub, a, c, s, false AS taken, true AS own"]
    else:
        node = [f"MERGE {_pattern(s, 's', '$key[i]')}", f"ON CREATE SET s.{OWNER} = $sha256",
                f"WITH d, i, sub, a, c, s, s.{OWNER} IN $unfinished AS taken",
                f"WITH d, i, sub, a, c, s, taken, taken OR s.{OWNER} = $sha256 AS own",
                "FOREACH (x IN CASE WHEN own THEN [s] ELSE [] END |\n  SET "
                + ", ".join(f"x.{p} = {v}" for p, v in values) + ")"]
    return "\n".join([
        f"MATCH {_pattern(dump, 'd', '$sha256')}",
        _lookup(sub, "subs"),
        _lookup(app, "apps"),
        _lookup(cell, "cells"),
        "UNWIND range(0, size($key) - 1) AS i",
        "WITH d, i, subs[$sub_at[i]][0] AS sub, apps[$app_at[i]][0] AS a, cells[$cell_at[i]][0] AS c",
        *node,
        f"{verb} (sub)-[:{REL_BY_TYPE['HAD'].type}]->(s)",
        f"{verb} (d)-[:{REL_BY_TYPE['CONTAINS'].type}]->(s)",
        f"FOREACH (x IN CASE WHEN a IS NULL OR NOT own THEN [] ELSE [a] END | "
        f"{verb} (s)-[:{REL_BY_TYPE['OF_APP'].type}]->(x))",
        f"FOREACH (x IN CASE WHEN c IS NULL OR NOT own THEN [] ELSE [c] END | "
        f"{verb} (s)-[:{REL_BY_TYPE['AT_CELL'].type}]->(x))",
        "RETURN count(*) AS rows, collect(CASE WHEN taken THEN $key[i] END) AS taken",
    ])


@cache
def load_calls() -> str:
    """One batch of a dump's call events with PLACED, TO, RECORDED, FIRST_CELL and LAST_CELL, in one pass.

    Both parties' Subscriber nodes and the Cell nodes of the first and last cells are merged just
    before (the other party becomes a Subscriber too, marked outside the case after the dump
    commits). As ``load_sessions``: the batch travels as columns (``$key``, ``$p_<property>``;
    graph/store.py ``call_batch``), and the parties and cells are looked up once per batch
    (``$subs``, ``$cells``), each row naming its own by position (``$caller_at``, ``$callee_at``,
    ``$first_at``, ``$last_at``; null for none, as a tower dump's location update has no other party).
    """
    c, sub, dump, cell = (NODE_BY_LABEL[x] for x in ("Call", "Subscriber", "Dump", "Cell"))
    sets = ", ".join(f"y.{p} = {v}" for p, v in _column_values(c))
    return "\n".join([
        f"MATCH {_pattern(dump, 'd', '$sha256')}",
        _lookup(sub, "subs"),
        _lookup(cell, "cells"),
        "UNWIND range(0, size($key) - 1) AS i",
        "WITH d, i, subs[$caller_at[i]][0] AS a, subs[$callee_at[i]][0] AS b, "
        "cells[$first_at[i]][0] AS f, cells[$last_at[i]][0] AS l",
        f"MERGE {_pattern(c, 'c', '$key[i]')}",
        f"ON CREATE SET c.{OWNER} = $sha256",
        f"WITH d, i, a, b, f, l, c, c.{OWNER} IN $unfinished AS taken",
        f"WITH d, i, a, b, f, l, c, taken, taken OR c.{OWNER} = $sha256 AS own",
        f"FOREACH (y IN CASE WHEN own THEN [c] ELSE [] END |\n  SET {sets})",
        f"MERGE (d)-[:{REL_BY_TYPE['RECORDED'].type}]->(c)",
        _link_if("a", f"(x)-[:{REL_BY_TYPE['PLACED'].type}]->(c)", "own"),
        _link_if("b", f"(c)-[:{REL_BY_TYPE['TO'].type}]->(x)", "own"),
        _link_if("f", f"(c)-[:{REL_BY_TYPE['FIRST_CELL'].type}]->(x)", "own"),
        _link_if("l", f"(c)-[:{REL_BY_TYPE['LAST_CELL'].type}]->(x)", "own"),
        "RETURN count(*) AS rows, collect(CASE WHEN taken THEN $key[i] END) AS taken",
    ])


@cache
def read_rels(rel_type: str) -> str:
    """Read one case's relationships of a type with their declared properties ($case).

    Returns ``a`` and ``b`` (the start and end nodes' keys) and each property by name.
    """
    r: RelType = REL_BY_TYPE[rel_type]
    s, e = NODE_BY_LABEL[r.start], NODE_BY_LABEL[r.end]
    props = ", ".join(f"x.{p} AS {p}" for p in r.properties)
    return (f"MATCH (a:{s.label} {{{CASE}: ${CASE}}})-[x:{r.type} {{{CASE}: ${CASE}}}]->"
            f"(b:{e.label} {{{CASE}: ${CASE}}}) RETURN a.{s.key} AS a, b.{e.key} AS b, {props}")


@lru_cache(maxsize=1)
def usage_summaries() -> str:
    """Recompute what subscribers ($msisdns of $case) used, from their sessions (idempotent).

    One block per relationship declared with ``summarises`` (devices, SIMs, applications: first
    and last use, session count), then the subscriber's own summary (first/last seen, sessions,
    applications), so Browser users read activity without a session scan.
    """
    sub = NODE_BY_LABEL["Subscriber"]
    blocks = []
    for r in RELATIONSHIPS:
        if not r.summarises:
            continue
        end = NODE_BY_LABEL[r.end]
        computed = "".join(f"\n  SET e.{p} = {expr}" for p, expr in end.computed)
        blocks.append("\n".join([
            "CALL (s) {",
            "  MATCH (s)-[:HAD]->(x:Session)",
            f"  WHERE coalesce(x.{r.summarises}, '') <> ''",
            f"  WITH x.{r.summarises} AS k, min(x.start) AS first, max(x.start) AS last, count(*) AS n",
            f"  MERGE {_pattern(end, 'e', 'k')}{computed}",
            f"  MERGE (s)-[u:{r.type}]->(e)",
            f"  SET u.first = first, u.last = last, u.sessions = n, u.{CASE} = ${CASE}",
            f"  RETURN count(*) AS {r.type.lower()}",
            "}",
        ]))
    blocks.append("\n".join([
        "CALL (s) {",
        "  MATCH (s)-[:HAD]->(x:Session)",
        # Sorted, so the list is the same however the sessions were loaded (Bolt or bulk import).
        "  WITH x ORDER BY x.app",
        "  WITH min(x.start) AS first, max(x.start) AS last, count(x) AS n,",
        "       [a IN collect(DISTINCT x.app) WHERE a <> ''] AS apps",
        "  SET s.first_seen = first, s.last_seen = last, s.sessions = n, s.applications = apps",
        "  RETURN count(*) AS summaries",
        "}",
    ]))
    names = [r.type.lower() for r in RELATIONSHIPS if r.summarises]
    return "\n".join([f"MATCH (s:{sub.label} {{{CASE}: ${CASE}}})", f"WHERE s.{sub.key} IN $msisdns", *blocks,
                      "RETURN " + ", ".join(f"sum({n}) AS {n}" for n in names)])
