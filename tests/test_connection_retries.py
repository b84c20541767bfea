"""Retries of Neo4j statements (graph/connection.py ``_retried``), without a server.

What docs/reliability.md promises: transient errors and lost connections are retried with backoff
(5 attempts, then one clear error); a refusal of memory is never retried. The refusal by a real
server is tested in tests/test_neo4j.py.
"""

from __future__ import annotations

import pytest
from neo4j.exceptions import ClientError, ServiceUnavailable, TransientError

import cdrnet.graph.connection as conn
from cdrnet.errors import GraphError, GraphMemoryError


class Deadlock(TransientError):
    code = "Neo.TransientError.Transaction.DeadlockDetected"
    message = "deadlock"


class NoMemory(TransientError):
    code = conn.MEMORY_REFUSED
    message = "The allocation of an extra 2.6 MiB would use more than the limit 716.8 MiB."


def _flaky(errors: list[Exception]):  # noqa: ANN202 - an attempt that fails with each error in turn
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"

    return attempt, calls


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    got: list[float] = []
    monkeypatch.setattr(conn.time, "sleep", got.append)
    return got


def _failed(exc: Exception) -> GraphError:
    return GraphError(f"gave up: {exc}")


def test_transient_errors_and_lost_connections_are_retried_with_backoff(slept):
    attempt, calls = _flaky([Deadlock("deadlock"), ServiceUnavailable("gone"), Deadlock("deadlock")])
    assert conn._retried(attempt, "q", (TransientError, ServiceUnavailable), _failed) == "done"
    assert len(calls) == 4 and slept == [0.5, 1.0, 2.0]


def test_after_the_last_attempt_one_clear_error(slept):
    attempt, calls = _flaky([Deadlock("deadlock") for _ in range(conn.RETRIES)])
    with pytest.raises(GraphError, match="^gave up: "):
        conn._retried(attempt, "q", (TransientError,), _failed)
    assert len(calls) == conn.RETRIES and len(slept) == conn.RETRIES - 1


def test_a_refusal_of_memory_is_never_retried(slept):
    attempt, calls = _flaky([NoMemory("no memory"), Deadlock("deadlock")])
    with pytest.raises(GraphMemoryError, match=r"^Neo4j refused the memory q\.cypher needs: The allocation"):
        conn._retried(attempt, "q.cypher", (TransientError,), _failed)
    assert len(calls) == 1 and slept == []


def test_errors_not_named_pass_through_to_the_caller(slept):
    attempt, calls = _flaky([ClientError("bad syntax")])
    with pytest.raises(ClientError):
        conn._retried(attempt, "q", (TransientError,), _failed)
    attempt, calls = _flaky([ServiceUnavailable("gone")])  # a read words a lost connection itself
    with pytest.raises(ServiceUnavailable):
        conn._retried(attempt, "q", (TransientError,), _failed)
    assert len(calls) == 1 and slept == []


def test_memory_settings_read_as_bytes():
    assert conn.setting_bytes("1.40GiB") == int(1.40 * 2**30)
    assert conn.setting_bytes("716.80MiB") == int(716.8 * 2**20) and conn.setting_bytes("0B") == 0
    with pytest.raises(ValueError):
        conn.setting_bytes("lots")
