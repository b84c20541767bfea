"""Two test runs on one Neo4j: the second fails at once, naming the first (tests/neo4j_fixtures.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

import tests.neo4j_fixtures as fixtures
from tests.neo4j_fixtures import _HELD, hold_server, lock_path


def _hold_elsewhere(uri: str) -> subprocess.Popen:
    """Another test run (a process) holding ``uri``, until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tests.neo4j_fixtures import hold_server; "
         f"hold_server({uri!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return holder


def test_a_second_run_on_the_same_server_fails_naming_the_first() -> None:
    uri = f"bolt://127.0.0.1:1/{uuid.uuid4().hex}"  # a server of its own: no real run is disturbed
    holder = _hold_elsewhere(uri)
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


def test_no_server_still_skips_while_another_run_holds_the_uri(monkeypatch) -> None:
    """With no Neo4j at the URI there is nothing to guard: a second run skips the Neo4j tests as one
    run alone does (found by review: the lock was taken before connecting, so two plain ``pytest``
    runs on a machine without Neo4j failed each other's Neo4j tests, naming a server that is not there)."""
    uri = "bolt://127.0.0.1:1"  # nothing listens on port 1
    monkeypatch.setattr(fixtures, "URI", uri)
    monkeypatch.delenv("CI", raising=False)
    holder = _hold_elsewhere(uri)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(pytest.skip.Exception, match="no local Neo4j at bolt://127.0.0.1:1"):
            fixtures.connect_or_skip()
        assert uri not in _HELD
    finally:
        holder.communicate("")


def test_a_lock_file_this_run_cannot_open_fails_with_one_line(tmp_path, monkeypatch) -> None:
    """Another user's run made the lock file (shared temp folder): one clear failure, no traceback."""
    from tests import neo4j_fixtures

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setattr(neo4j_fixtures, "lock_path", lambda _uri: blocked / "lock")  # opening it fails
    with pytest.raises(pytest.fail.Exception) as failed:
        hold_server("bolt://127.0.0.1:1/other-user")
    message = str(failed.value)
    assert message.startswith("cannot take the Neo4j at bolt://127.0.0.1:1/other-user for this test run: ")
    assert "CDRNET_TEST_NEO4J_BOLT_PORT" in message
