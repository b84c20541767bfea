"""The store interface: where a case's sessions live, declared once for every backend.

The commands and the Python API (:class:`cdrnet.Case`) speak only to a
:class:`SessionStore`; the Parquet workspace (:class:`cdrnet.workspace.Workspace`)
and Neo4j (:class:`cdrnet.graph.store.GraphStore`) implement it. Adding a backend
means implementing this protocol, not editing the commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import numpy as np
    import pandas as pd

    from cdrnet.analysis.cousage import LinkParams, LinkResult
    from cdrnet.analysis.observed import Coverage
    from cdrnet.loader.cellsites import CellList, CellListReport
    from cdrnet.loader.quality import DumpReport
    from cdrnet.rejects import RejectsFile
    from cdrnet.workspace import StagedDump


@dataclass
class StoredLinkRun:
    """A link run as a store keeps it, so every output draws the network ``link`` computed.

    ``edges`` has the edges.csv columns with ``first_utc``/``last_utc`` as UTC timestamps;
    ``all_pairs`` says whether it holds every scored pair (the workspace) or only the links
    (Neo4j keeps links as CO_USED relationships and nothing else).
    """

    edges: pd.DataFrame
    params: dict[str, Any]
    at: pd.Timestamp | None
    all_pairs: bool


class DumpWriter(Protocol):
    """One dump being loaded: sessions and rejects stream in; nothing counts before ``commit``."""

    def write_sessions(self, sessions: pd.DataFrame) -> None: ...

    def write_calls(self, events: pd.DataFrame) -> None:
        """Call events of a voice/SMS CDR or tower dump (cdrnet/model.py CALL_SCHEMA)."""
        ...

    def write_rejects(self, lines: list[int], reasons: list[str], texts: list[str], part: str) -> None: ...

    def commit(self, report: DumpReport, key_hashes: np.ndarray | None = None) -> None:
        """Make the dump part of the store. ``key_hashes``: its sessions' key hashes (sorted), which a
        store may keep for the overlap checks of the dumps committed after it."""
        ...

    def abort(self) -> None: ...


@runtime_checkable
class SessionStore(Protocol):
    """What every backend offers the loader, the analysis and the outputs."""

    #: Per-dump rejected rows and the combined rejects.csv.
    rejects: RejectsFile
    #: Folder where derived outputs (edges.csv, maps, profiles) are written by default.
    outputs: Path
    #: Whether cell positions are written into the store (``write_places``) after each import or load.
    stores_places: bool

    def describe(self) -> str:
        """One line naming the store, e.g. ``workspace /cases/case42``."""
        ...

    def create(self) -> SessionStore:
        """Make the store ready to load into (folders, schema); returns itself."""
        ...

    def has_dump(self, sha: str) -> bool: ...

    def first_ingested(self, sha: str) -> str:
        """When a dump was first ingested ('' if it never was), even while it is not (completely)
        loaded: a dump read again (``--replace``, an interrupted load, a damaged file) keeps its
        place in the ingest order, which decides whose copy of a re-sent session is kept."""
        ...

    def report(self, sha: str) -> DumpReport | None:
        """One completely loaded dump's report, or None."""
        ...

    def writing(self, command: str) -> AbstractContextManager[None]:
        """Held while a command loads dumps: one writer at a time where the store needs it."""
        ...

    def forget_dump(self, sha: str) -> None:
        """Before a dump is read again (``ingest --replace``): drop what only it delivered, so
        the new load replaces its rows and its accounting."""
        ...

    def begin_dump(self, sha: str, name: str) -> DumpWriter: ...

    def ingest_batch(self) -> AbstractContextManager[None]:
        """Dumps committed inside it write workspace-wide files (the combined rejects.csv) once,
        at its end: per dump that work grows with the dumps loaded (quadratic on big cases)."""
        ...

    def session_key_hashes(self, exclude: str | None = None, msisdns: list[str] | None = None,
                           before: DumpReport | None = None) -> np.ndarray:
        """Key hashes of other dumps' sessions (of ``msisdns``' dumps; of dumps ingested before
        ``before`` only, when given: those whose copy a session of ``before`` is the re-delivery of)."""
        ...

    def recount_after_reread(self, report: DumpReport) -> None:
        """After a dump was read again: how many of each later dump's sessions were delivered before,
        counted again (its keys may have changed, say with another ``--tz``)."""
        ...

    def reports(self) -> list[DumpReport]:
        """Every completely loaded dump's report (periods, resolution, data quality)."""
        ...

    def incomplete_dumps(self) -> list[str]:
        """File names of dumps the store holds part of but does not count as loaded."""
        ...

    def sessions(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                 msisdns: list[str] | None = None, *, columns: list[str] | None = None) -> pd.DataFrame:
        """Canonical sessions (deduplicated across dumps) with the workspace's columns and dtypes."""
        ...

    def coverage(self) -> Coverage:
        """When each subscriber was observed and what each dump's times mean."""
        ...

    def calls(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
              numbers: list[str] | None = None, dumps: list[str] | None = None) -> pd.DataFrame:
        """Call events (CALL_SCHEMA columns) with one of ``numbers`` as either party, of ``dumps`` (SHA-256s)."""
        ...

    def called(self) -> pd.DataFrame:
        """Direct contacts, caller -> callee: a, b, calls, sms, seconds, first_utc, last_utc (distinct calls)."""
        ...

    def resolution_by_subscriber(self) -> dict[str, int]: ...

    def link(self, params: LinkParams, msisdns: list[str] | None = None) -> LinkResult:
        """Score pairs with the case's own coverage (where the sessions are: pandas or Cypher)."""
        ...

    def write_links(self, result: LinkResult) -> str | None:
        """Keep a link run (edges and parameters) as the case's current network, where the store's users
        look for it; a line saying where, or None."""
        ...

    def last_link_run(self) -> StoredLinkRun | None:
        """The case's latest link run as the store keeps it (edges and parameters), or None before any."""
        ...

    def cell_lists(self) -> list[CellListReport]:
        """Every imported cell-site list (CGI chart, OpenCelliD/MLS export), oldest first."""
        ...

    def has_cell_list(self, sha: str) -> bool: ...

    def import_cell_list(self, cell_list: CellList) -> None:
        """Keep a parsed cell-site list (positions, rejects, report) with the case."""
        ...

    def cell_sites(self) -> pd.DataFrame:
        """Every imported position (cdrnet.loader.cellsites.SITE_COLUMNS)."""
        ...

    def write_places(self, placed: pd.DataFrame) -> str | None:
        """Keep the case cells' positions where the store's users look for them; a line saying where, or None."""
        ...

    def query(self, name: str, params: dict) -> list[dict]:
        """Run a documented analyst query (cypher/queries/NAME.cypher); only a graph store can."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class StagingStore(Protocol):
    """A store whose dumps can be parsed in other processes (the workspace; not Neo4j, whose
    writes go through this process's driver): a worker writes a dump to temporary files
    with a writer from :meth:`stager`, and this process publishes it in input order."""

    def stager(self) -> StagingStore:
        """A picklable handle a worker process opens dump writers with (``begin_dump``)."""
        ...

    def begin_dump(self, sha: str, name: str) -> DumpWriter: ...

    def publish(self, staged: StagedDump, report: DumpReport, key_hashes: np.ndarray | None = None) -> None:
        """Make a staged dump part of the store (the report last: it counts the dump as loaded);
        ``key_hashes`` as for :meth:`DumpWriter.commit`."""
        ...

    def discard(self, staged: StagedDump) -> None: ...


def default_case(workspace: str | Path) -> str:
    """A case's name when none is given: the workspace folder's name."""
    return Path(workspace).resolve().name


def graph_rejects_dir(workspace: str | Path) -> Path:
    """Where a Neo4j case keeps its rejected rows: beside its outputs, apart from the workspace's own."""
    return Path(workspace) / "neo4j-rejects"


def open_store(workspace: str | Path = "cdrnet-workspace", neo4j: str | None = None, case: str | None = None,
               user: str | None = None, password: str | None = None, database: str | None = None,
               create: bool = True) -> SessionStore:
    """The workspace folder, or with ``neo4j`` a case in that Neo4j (outputs still go to ``workspace``).

    The password comes from the argument or NEO4J_PASSWORD, never a command line.
    """
    if neo4j:
        from cdrnet.graph.connection import connect
        from cdrnet.graph.store import GraphStore

        driver = connect(neo4j, user, password)
        store = GraphStore(driver, graph_rejects_dir(workspace), database, case=case or default_case(workspace),
                           uri=neo4j, outputs=Path(workspace))
        try:
            store.create_schema()
        except BaseException:
            driver.close()
            raise
        return store
    from cdrnet.workspace import Workspace

    ws = Workspace(workspace)
    return ws.create() if create else ws
