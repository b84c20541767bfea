"""A real Neo4j for integration tests (started by scripts/neo4j-local; never mocked)."""

from __future__ import annotations

import os

import pytest

URI = os.environ.get("CDRNET_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
PASSWORD = os.environ.get("NEO4J_PASSWORD", "cdrnet-dev-password")


def connect_or_skip():
    from cdrnet.errors import GraphError
    from cdrnet.graph.connection import connect

    try:
        return connect(URI, "neo4j", PASSWORD)
    except GraphError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Neo4j must run in CI (scripts/test starts it): {exc}")
        pytest.skip(f"no local Neo4j at {URI} ({exc}); start it with scripts/neo4j-local start")


def wipe(driver) -> None:
    """Empty the scratch database; refuses (test fails) if it holds data the tests did not create."""
    from cdrnet.errors import GraphError
    from cdrnet.graph.scratch import wipe as scratch_wipe

    try:
        scratch_wipe(driver)
    except GraphError as exc:
        pytest.fail(f"{exc} ({exc.hint})" if getattr(exc, "hint", "") else str(exc))


def counts(driver) -> dict[str, int]:
    out = {}
    for label in ("Subscriber", "Session", "Application", "Device", "Sim", "Cell", "Dump", "Episode"):
        out[label] = driver.execute_query(f"MATCH (n:{label}) RETURN count(n) AS c").records[0]["c"]
    for rel in ("HAD", "OF_APP", "AT_CELL", "USED_DEVICE", "USED_SIM", "CONTAINS", "CO_USED"):
        out[rel] = driver.execute_query(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS c").records[0]["c"]
    return out
