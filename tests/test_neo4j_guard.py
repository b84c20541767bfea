"""Two test runs on one Neo4j: the second fails at once, naming the first (tests/neo4j_fixtures.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from tests.neo4j_fixtures import _HELD, hold_server, lock_path


def test_a_second_run_on_the_same_server_fails_naming_the_first() -> None:
    uri = f"bolt://127.0.0.1:1/{uuid.uuid4().hex}"  # a server of its own: no real run is disturbed
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tests.neo4j_fixtures import hold_server; "
         f"hold_server({uri!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(pytest.fail.Exception) as failed:
            hold_server(uri)
        message = str(failed.value)
        assert message.startswith(f"another test run (process {holder.pid}) is using the Neo4j at {uri}: ")
        assert "CDRNET_TEST_NEO4J_BOLT_PORT" in message
    finally:
        holder.communicate("")  # the holder ends: its lock goes with it
    try:
        assert hold_server(uri) is hold_server(uri)  # free now; taken once per process
    finally:
        _HELD.pop(uri).close()
        lock_path(uri).unlink()
