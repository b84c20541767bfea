"""A scratch database for tests and benchmarks: wiped only when they own it.

Integration tests and benchmarks need an empty graph, but a test run pointed at
an analyst's server must never delete their cases. A database is *owned* once a
``CdrnetScratch`` marker node is in it; the marker is only ever created in an
empty database. Anything else holding data is refused unless the user says
``CDRNET_TEST_NEO4J_WIPE=1`` (documented in the README).
"""

from __future__ import annotations

import os

from neo4j import Driver

from cdrnet.errors import GraphError

MARKER = "CdrnetScratch"
WIPE_ENV = "CDRNET_TEST_NEO4J_WIPE"


def claim(driver: Driver) -> None:
    """Make sure this database is ours to wipe, or raise GraphError saying why not."""
    with driver.session() as s:
        owned = s.run(f"MATCH (m:{MARKER}) RETURN count(m) AS c").single()["c"]
        if not owned:
            foreign = s.run(f"MATCH (n) WHERE NOT n:{MARKER} RETURN count(n) > 0 AS any").single()["any"]
            if foreign and os.environ.get(WIPE_ENV) != "1":
                raise GraphError("the Neo4j database holds data that tests and benchmarks did not create; "
                                 "refusing to wipe it",
                                 f"point CDRNET_TEST_NEO4J_URI at a scratch server (scripts/test starts one), or set "
                                 f"{WIPE_ENV}=1 to allow deleting everything in it")
        s.run(f"MERGE (:{MARKER} {{id: 1}})").consume()


def wipe(driver: Driver) -> None:
    """Delete everything but the marker in a database :func:`claim` has made ours."""
    claim(driver)
    with driver.session() as s:
        # Relationships first: DETACH DELETE of a dense node (a Dump with a million
        # CONTAINS) in one transaction exceeds Neo4j's transaction memory limit.
        s.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS").consume()
        s.run(f"MATCH (n) WHERE NOT n:{MARKER} CALL (n) {{ DELETE n }} IN TRANSACTIONS OF 50000 ROWS").consume()
