"""A real Neo4j for integration tests (started by scripts/neo4j-local; never mocked)."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from pathlib import Path
from typing import IO

import pytest

URI = os.environ.get("CDRNET_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
PASSWORD = os.environ.get("NEO4J_PASSWORD", "cdrnet-dev-password")


def lock_path(uri: str) -> Path:
    """The lock file a test run holds while it uses the server at ``uri`` (one per server)."""
    return Path(tempfile.gettempdir()) / f"cdrnet-test-neo4j-{re.sub(r'[^A-Za-z0-9]+', '_', uri)}.lock"


_HELD: dict[str, IO[str]] = {}  # the servers this test run holds, until the process ends


def hold_server(uri: str) -> IO[str]:
    """Take the server for this test run (once per process), or fail at once naming who holds it.

    Every Neo4j test empties the scratch database first, so two test runs on one server (two
    terminals, a helper's clone) empty each other's graphs mid-test and fail in ways that point
    nowhere. The lock is released when the run ends, also when it is killed.
    """
    if uri in _HELD:
        return _HELD[uri]
    path = lock_path(uri)
    try:
        fh = open(path, "a+")  # noqa: SIM115 - held for the whole test run
    except OSError as exc:  # another user's run made it (temp folders are shared)
        pytest.fail(f"cannot take the Neo4j at {uri} for this test run: {path}: {exc.strerror}; another "
                    "user's test run may hold it: give this run its own server (CDRNET_TEST_NEO4J_HOME, "
                    "CDRNET_TEST_NEO4J_BOLT_PORT and CDRNET_TEST_NEO4J_HTTP_PORT)")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        pytest.fail(f"another test run ({holder}) is using the Neo4j at {uri}: wait for it, or give this run "
                    "its own server (CDRNET_TEST_NEO4J_HOME, CDRNET_TEST_NEO4J_BOLT_PORT and "
                    "CDRNET_TEST_NEO4J_HTTP_PORT, then . scripts/test-neo4j-env; scripts/neo4j-local start)")
    fh.seek(0)
    fh.truncate()
    fh.write(f"process {os.getpid()}")
    fh.flush()
    _HELD[uri] = fh
    return fh


def connect_or_skip():
    from cdrnet.errors import GraphError
    from cdrnet.graph.connection import connect

    try:
        driver = connect(URI, "neo4j", PASSWORD)
    except GraphError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Neo4j must run in CI (scripts/test starts it): {exc}")
        pytest.skip(f"no local Neo4j at {URI} ({exc}); start it with scripts/neo4j-local start")
    # Held once the server answers (connecting reads nothing, writes nothing): without a server there
    # is nothing to guard, and a run beside another one skips as it would alone.
    try:
        hold_server(URI)
    except BaseException:
        driver.close()
        raise
    return driver


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
