"""Typed errors raised by the library.

The CLI turns each into one line plus a hint, so every error carries the hint
an analyst needs to fix the problem without reading a traceback.
"""

from __future__ import annotations


class CdrnetError(Exception):
    """Base class: a problem the user can act on."""

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class InputError(CdrnetError):
    """A path or archive cannot be read."""

    hint = "check the path exists and is a CSV/TSV/XLSX file, a folder, a .zip or a .gz"


class ArchiveBombError(InputError):
    """A compressed member expands far beyond any dump's compression (a possible archive bomb)."""

    hint = "if it is a genuine dump, decompress it yourself and ingest the result"


class CorruptInputError(InputError):
    """A delivered file (workbook, archive member) cannot be read: refused by name, the batch goes on."""

    hint = "ask the operator for the file again, or open and re-save it"


class UnknownLayoutError(CdrnetError):
    """No recognisable header was found in a dump."""

    hint = "pass a mapping file with --layout FILE (see docs/layouts.md) or check the file is an IPDR export"


class DateOrderError(CdrnetError):
    """A dump's numeric dates cannot be read day-first or month-first with certainty."""

    hint = ("check a few dates of the dump against its period, then re-run those files alone with --date-order "
            "dmy (day first, 03/04 = 3 April) or --date-order mdy (month first, 03/04 = 4 March): one order forced "
            "on a whole folder misreads the dumps written the other way")


class IngestWorkerError(CdrnetError):
    """A parsing worker process died (usually the machine ran out of memory)."""

    hint = "re-run with --workers 1 (one process, less memory); nothing of this dump was stored"


class LayoutFileError(CdrnetError):
    """A user layout mapping file is invalid."""

    hint = "see docs/layouts.md for the mapping file format"


class SignatureError(CdrnetError):
    """A signature table is invalid."""

    hint = "see docs/signatures.md for the signature table columns"


class WorkspaceError(CdrnetError):
    """The workspace is missing, unreadable or inconsistent."""

    hint = "run 'cdrnet ingest PATH' first, or point --workspace / CDRNET_WORKSPACE at the right folder"


class StorageError(WorkspaceError):
    """The store's folder cannot be written (read-only, disk full): stops the whole run."""

    hint = "free disk space or make the folder writable, then run the command again; nothing half-written was kept"


class WorkspaceBusyError(WorkspaceError):
    """Another cdrnet command is writing to the same workspace."""

    hint = "wait until the other command finishes, then run this one again (nothing was changed)"


class UsageError(CdrnetError):
    """Options that do not make sense together or values out of range."""

    hint = "run the command with --help for its options and examples"


class GraphError(CdrnetError):
    """Neo4j is unreachable, refuses the credentials, or a query failed."""

    hint = "start Neo4j (scripts/neo4j-local start) and check NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD"


class GraphMemoryError(GraphError):
    """Neo4j refused a query the memory it needs (its limit per transaction, from its heap).

    Not retried: the same query on the same data needs the same memory again.
    """

    hint = ("give Neo4j a larger heap (server.memory.heap.max_size; NEO4J_server_memory_heap_max__size in "
            "docker-compose.yml; CDRNET_NEO4J_HEAP for scripts/neo4j-local), of which a transaction may use "
            "70 %, or run the command on a workspace holding the same dumps (without --neo4j)")
