"""Connecting to Neo4j: credentials from the environment, errors turned into one clear line."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from neo4j import READ_ACCESS, Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    ClientError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from cdrnet.cypher import query
from cdrnet.errors import GraphError, GraphMemoryError

T = TypeVar("T")
RETRIES = 5
#: The code of a transaction that would pass Neo4j's memory limit (``dbms.memory.transaction.total.max``,
#: 70 % of the heap unless set). It is a TransientError, which the driver's managed transactions retry
#: for 30 s, though the same query on the same data needs the same memory again: it is never retried.
MEMORY_REFUSED = "Neo.TransientError.General.MemoryPoolOutOfMemoryError"


def setting_bytes(text: str) -> int:
    """A Neo4j memory setting's value as SHOW SETTINGS prints it ('1.40GiB', '716.80MiB', '0B') in bytes."""
    m = re.fullmatch(r"([0-9.]+)\s*([KMGT]i)?B", text.strip())
    if not m:
        raise ValueError(f"not a Neo4j memory size: {text!r}")
    return int(float(m.group(1)) * 1024 ** " KMGT".index((m.group(2) or " ")[0]))


def transaction_memory_limit(driver: Driver, database: str | None = None) -> int:
    """Bytes Neo4j lets all transactions hold (``dbms.memory.transaction.total.max``), 0 for no limit
    or when the server does not say (an older server, or a user without SHOW SETTINGS)."""
    try:
        records, _, _ = driver.execute_query(
            "SHOW SETTINGS YIELD name, value WHERE name = 'dbms.memory.transaction.total.max' RETURN value",
            database_=database, routing_="r")
        return setting_bytes(records[0]["value"]) if records else 0
    except (Neo4jError, ValueError):
        return 0


def refuse_memory(exc: TransientError, what: str) -> None:
    """Raise :class:`GraphMemoryError` for Neo4j's memory limit (any other transient error returns)."""
    if exc.code == MEMORY_REFUSED:
        raise GraphMemoryError(f"Neo4j refused the memory {what} needs: {exc.message}") from exc


def _retried(attempt: Callable[[], T], what: str, retry: tuple[type[Exception], ...],
             failed: Callable[[Exception], GraphError]) -> T:
    """``attempt()`` again with backoff (0.5 s, doubling) while it raises one of ``retry``, at most
    :data:`RETRIES` times; then ``failed(exc)``. A refusal of memory is never retried. Other errors
    pass through to the caller, which words them."""
    delay = 0.5
    for n in range(RETRIES):
        try:
            return attempt()
        except retry as exc:
            if isinstance(exc, TransientError):
                refuse_memory(exc, what)
            if n == RETRIES - 1:
                raise failed(exc) from exc
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def connect(uri: str, user: str | None = None, password: str | None = None) -> Driver:
    """Open a driver and check it answers; the password comes from NEO4J_PASSWORD, never argv."""
    user = user or os.environ.get("NEO4J_USERNAME", "neo4j")
    password = password if password is not None else os.environ.get("NEO4J_PASSWORD")
    if password is None:
        raise GraphError("no Neo4j password: set NEO4J_PASSWORD (cdrnet never takes it on the command line)")
    try:
        driver = GraphDatabase.driver(uri, auth=(user, password), connection_timeout=10, max_transaction_retry_time=30,
                                      notifications_min_severity="OFF")
    except ValueError as exc:
        raise GraphError(f"bad Neo4j URI '{uri}': {exc}", "use bolt://HOST:7687 or neo4j://HOST:7687") from exc
    try:
        driver.verify_connectivity()
    except AuthError as exc:
        driver.close()
        raise GraphError(f"Neo4j at {uri} refused the credentials for user '{user}'",
                         "check NEO4J_USERNAME and NEO4J_PASSWORD") from exc
    except (ServiceUnavailable, OSError) as exc:
        driver.close()
        raise GraphError(f"cannot reach Neo4j at {uri}") from exc
    except Neo4jError as exc:
        driver.close()
        raise GraphError(f"Neo4j at {uri} failed: {exc.message}") from exc
    return driver


def run_write(driver: Driver, work: Callable[[ManagedTransaction], T], database: str | None = None) -> T:
    """A write transaction, retried with backoff on transient errors and lost connections."""

    def attempt() -> T:
        with driver.session(database=database) as s:
            return s.execute_write(work)

    try:
        return _retried(attempt, "a write", (TransientError, ServiceUnavailable, SessionExpired),
                        lambda exc: GraphError(f"Neo4j write failed after {RETRIES} attempts: {exc}",
                                               "run the same command again: loads are idempotent"))
    except ClientError as exc:
        raise GraphError(f"Neo4j rejected a query: {exc.message}") from exc


def read(driver: Driver, name: str, params: dict[str, Any], database: str | None = None) -> list[dict]:
    """Run a checked read query from cypher/ and return its records as dicts."""
    text, p = query(name, params)
    return read_text(driver, text, p, database, name)


def read_text(driver: Driver, text: str, p: dict[str, Any], database: str | None = None,
              name: str = "generated query", plain: bool = False) -> list[dict]:
    """Run a read statement generated from the model (graph/model.py) and return its records as dicts.

    ``plain``: the statement returns only plain values (numbers, strings, lists of them), so the
    records are taken as they come: ``Record.data()`` walks every element of every list to convert
    nodes and relationships, which on the co-usage query's columns (millions of list elements)
    cost the client more CPU than the whole embedded engine.
    """
    def attempt() -> list:
        # An auto-commit read, retried by _retried rather than by the driver (``execute_query``),
        # which would retry a refusal of memory for 30 s (:data:`MEMORY_REFUSED`).
        with driver.session(database=database, default_access_mode=READ_ACCESS) as s:
            return list(s.run(text, p))

    try:
        records = _retried(attempt, f"{name}.cypher", (TransientError,),
                           lambda exc: GraphError(f"{name}.cypher failed after {RETRIES} attempts: {exc.message}"))
    except (ServiceUnavailable, SessionExpired) as exc:
        raise GraphError(f"lost the connection to Neo4j: {exc}") from exc
    except ClientError as exc:
        raise GraphError(f"{name}.cypher failed: {exc.message}") from exc
    return [dict(r) for r in records] if plain else [r.data() for r in records]


def write(driver: Driver, name: str, params: dict[str, Any], database: str | None = None) -> list[dict]:
    """Run a checked write query from cypher/ in a retried transaction."""
    text, p = query(name, params)

    def work(tx: ManagedTransaction) -> list[dict]:
        return [r.data() for r in tx.run(text, p)]

    return run_write(driver, work, database)


def run_auto(driver: Driver, name: str, params: dict[str, Any], database: str | None = None) -> list[dict]:
    """Queries with CALL { } IN TRANSACTIONS need an auto-commit transaction."""
    text, p = query(name, params)

    def attempt() -> list[dict]:
        with driver.session(database=database) as s:
            return [r.data() for r in s.run(text, p)]

    try:
        return _retried(attempt, f"{name}.cypher", (TransientError, ServiceUnavailable, SessionExpired),
                        lambda exc: GraphError(f"{name}.cypher failed after {RETRIES} attempts: {exc}"))
    except ClientError as exc:
        raise GraphError(f"{name}.cypher failed: {exc.message}") from exc
