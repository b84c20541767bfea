"""The embedded store: a folder of Parquet files keyed by each dump's SHA-256.

Writes are atomic (temporary name, then rename) and a dump counts as loaded
only once its JSON report exists, so an interrupted ingest leaves nothing that
a re-run would trust or duplicate.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cdrnet import __version__
from cdrnet.errors import StorageError, UsageError, WorkspaceError
from cdrnet.files import atomic_write_bytes, storage_error
from cdrnet.loader.normalize import key_hash_of
from cdrnet.loader.quality import DumpReport, resolution_by_subscriber
from cdrnet.model import SESSION_COLUMNS, SESSION_SCHEMA
from cdrnet.rejects import REJECT_COLUMNS, RejectsFile
from cdrnet.store import StoredLinkRun

if TYPE_CHECKING:
    from cdrnet.analysis.cousage import LinkParams, LinkResult
    from cdrnet.analysis.observed import Coverage

__all__ = ["REJECT_COLUMNS", "DumpWriter", "Workspace", "atomic_write_bytes"]

#: The workspace's on-disk format (dumps/<sha>.parquet + .json, rejects/, rejects.csv). Bump it
#: when a change makes older cdrnet versions misread the folder; a different one is refused.
WORKSPACE_FORMAT = 1
FORMAT_FILE = "workspace.json"


class DumpWriter:
    """Streams one dump's sessions and rejects to temporary files.

    Parquet encoding runs on a background thread (Arrow releases the GIL while
    encoding), so the ingest loop reads and de-duplicates the next block
    meanwhile; at most two blocks wait in the queue.
    """

    def __init__(self, ws: Workspace, sha: str, name: str) -> None:
        self.ws, self.sha, self.name = ws, sha, name
        self.tmp_parquet = ws.dumps_dir / f".{sha}.parquet.tmp-{os.getpid()}"
        try:
            self.writer = pq.ParquetWriter(self.tmp_parquet, SESSION_SCHEMA, compression="zstd")
        except OSError as exc:
            self.tmp_parquet.unlink(missing_ok=True)
            raise storage_error(exc, self.tmp_parquet.parent) from exc
        try:
            self.rejects = ws.rejects.begin(sha, name)
        except BaseException:
            self.writer.close()
            self.tmp_parquet.unlink(missing_ok=True)
            raise
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="cdrnet-parquet-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.writer.write_table(table)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the ingest thread
                    self._error = exc

    def _check(self) -> None:
        if isinstance(self._error, OSError):
            raise storage_error(self._error, self.tmp_parquet.parent) from self._error
        if self._error is not None:
            raise WorkspaceError(f"writing {self.tmp_parquet.name} failed: {self._error}") from self._error

    def _close_parquet(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.writer.close()

    def write_sessions(self, sessions: pd.DataFrame) -> None:
        self._check()
        if len(sessions):
            self._queue.put(pa.Table.from_pandas(sessions[SESSION_COLUMNS], schema=SESSION_SCHEMA,
                                                 preserve_index=False))

    def write_rejects(self, lines: list[int], reasons: list[str], texts: list[str], part: str) -> None:
        self.rejects.write(lines, reasons, texts, part)

    def commit(self, report: DumpReport) -> None:
        self._close_parquet()
        self._check()
        self.rejects.commit()
        try:
            os.replace(self.tmp_parquet, self.ws.dumps_dir / f"{self.sha}.parquet")
        except OSError as exc:
            raise storage_error(exc, self.ws.dumps_dir / f"{self.sha}.parquet") from exc
        atomic_write_bytes(self.ws.dumps_dir / f"{self.sha}.json", json.dumps(report.to_dict(), indent=2).encode())
        self.ws.rebuild_rejects()

    def abort(self) -> None:
        try:
            with contextlib.suppress(OSError):  # a full disk fails the close too; the file goes anyway
                self._close_parquet()
        finally:
            self.rejects.abort()
            self.tmp_parquet.unlink(missing_ok=True)


class Workspace:
    """A case folder: dumps/, rejects/, rejects.csv and derived outputs (a :class:`~cdrnet.store.SessionStore`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.outputs = self.root
        self.rejects = RejectsFile(self.root / "rejects", self.root / "rejects.csv")
        self._format_ok = False

    def describe(self) -> str:
        return f"workspace {self.root.resolve()}"

    @property
    def dumps_dir(self) -> Path:
        return self.root / "dumps"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    def create(self) -> Workspace:
        """Folders and the format record; an existing workspace of another format is refused."""
        self.check_format()
        try:
            self.dumps_dir.mkdir(parents=True, exist_ok=True)
            self.rejects_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create workspace {self.root}: {exc.strerror}") from exc
        if not self.format_file.exists():
            record = {"format": WORKSPACE_FORMAT, "created_by": f"cdrnet {__version__}"}
            atomic_write_bytes(self.format_file, json.dumps(record, indent=2).encode())
        return self

    @property
    def format_file(self) -> Path:
        return self.root / FORMAT_FILE

    def check_format(self) -> None:
        """Refuse a workspace written in another format (a folder without the record is format 1,
        the layout before it was recorded, and gets the record on its next write)."""
        if self._format_ok or not self.format_file.exists():
            return
        try:
            record = json.loads(self.format_file.read_text(encoding="utf-8"))
            found = record["format"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"workspace {self.root}: {FORMAT_FILE} is damaged ({exc})",
                                 f"restore it: it holds {{\"format\": {WORKSPACE_FORMAT}}} for this cdrnet") from exc
        if found != WORKSPACE_FORMAT:
            raise WorkspaceError(
                f"workspace {self.root} has format {found} ({record.get('created_by', 'unknown version')}); "
                f"this cdrnet {__version__} reads format {WORKSPACE_FORMAT}",
                "use the cdrnet version that wrote it, or ingest the original files into a new workspace")
        self._format_ok = True

    @contextmanager
    def writing(self, command: str = "ingest") -> Iterator[None]:
        """The workspace's write lock (see cdrnet/lockfile.py); temporaries of interrupted runs are
        swept only while holding it, so a concurrent run's files are never touched."""
        from cdrnet.lockfile import exclusive

        self.create()
        with exclusive(self.root, command):
            for stale in self.dumps_dir.glob(".*.tmp-*"):
                stale.unlink(missing_ok=True)  # left by an interrupted run; never trusted
            self.rejects.clear_stale()
            yield

    def has_dump(self, sha: str) -> bool:
        """Loaded completely: a readable report and its sessions file (a damaged or half-deleted
        dump is not loaded, so ingesting the file again repairs it)."""
        try:
            json.loads((self.dumps_dir / f"{sha}.json").read_text(encoding="utf-8"))
            pq.read_metadata(self.dumps_dir / f"{sha}.parquet")  # the footer: a truncated file has none
        except (OSError, ValueError, pa.ArrowInvalid):
            return False
        return True

    def forget_dump(self, sha: str) -> None:
        """Nothing to drop first: the new load's files replace the old ones when it commits (until then
        the old rows stay, so a failed re-read loses nothing)."""

    def report(self, sha: str) -> DumpReport | None:
        """One loaded dump's report, or None."""
        return self._read_report(self.dumps_dir / f"{sha}.json") if self.has_dump(sha) else None

    def _read_report(self, path: Path) -> DumpReport:
        try:
            return DumpReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise WorkspaceError(f"workspace {self.root}: the report {path.name} is damaged ({exc})",
                                 f"ingest the original file again to repair it (its SHA-256 is {path.stem}), "
                                 f"or delete dumps/{path.stem}.* to drop it") from exc

    def begin_dump(self, sha: str, name: str) -> DumpWriter:
        if not self.dumps_dir.exists():
            self.create()
        return DumpWriter(self, sha, name)

    def reports(self, exclude: str | None = None) -> list[DumpReport]:
        """Reports of all committed dumps, oldest ingest first (``exclude``: one not to read)."""
        self.check_format()
        if not self.dumps_dir.exists():
            return []
        out = [self._read_report(p) for p in self.dumps_dir.glob("*.json") if p.stem != exclude]
        return sorted(out, key=lambda r: (r.ingested_at, r.name))

    def dump_files(self, exclude: str | None = None) -> Iterator[tuple[str, Path]]:
        """Each committed dump's sessions file; a missing one is named with the way to repair it."""
        for rep in self.reports(exclude):
            path = self.dumps_dir / f"{rep.sha256}.parquet"
            if not path.exists():
                raise WorkspaceError(f"workspace {self.root}: the sessions of {rep.name} are missing "
                                     f"({path.name} does not exist)",
                                     f"ingest {rep.name} again to repair it (cdrnet ingest FILE)")
            yield rep.sha256, path

    def _read_parquet(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowInvalid) as exc:
            raise self._damaged(path, exc) from exc

    def _damaged(self, path: Path, exc: Exception) -> WorkspaceError:
        if not path.exists():
            return WorkspaceError(f"workspace {self.root}: the sessions file {path.name} is missing",
                                  f"ingest the original file again to repair it (its SHA-256 is {path.stem})")
        return WorkspaceError(f"workspace {self.root}: the sessions file {path.name} is damaged ({exc})",
                              f"ingest the original file again to repair it (its SHA-256 is {path.stem})")

    def session_key_hashes(self, exclude: str | None = None, msisdns: list[str] | None = None) -> np.ndarray:
        """Key hashes (first 64 bits) of other dumps' sessions (only dumps sharing a subscriber, when given).

        Hashes, not the 32-character keys: 8 bytes a session however large the case.
        """
        wanted = set(msisdns) if msisdns is not None else None
        out = [np.zeros(0, dtype=np.uint64)]
        for rep in self.reports(exclude):
            if wanted is not None and not wanted.intersection(rep.msisdns):
                continue
            path = self.dumps_dir / f"{rep.sha256}.parquet"
            try:
                for batch in pq.ParquetFile(path).iter_batches(batch_size=1 << 20, columns=["session_key"]):
                    out.append(key_hash_of(batch.column(0)))
            except (OSError, pa.ArrowInvalid) as exc:
                raise self._damaged(path, exc) from exc
        return np.concatenate(out)

    def sessions(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                 msisdns: list[str] | None = None, *, columns: list[str] | None = None,
                 dedupe: bool = True) -> pd.DataFrame:
        """Loaded sessions starting in [since, until) of the given subscribers; a session delivered
        by several dumps appears once (unless ``dedupe`` is False)."""
        files = [p for _, p in self.dump_files()]
        if not files:
            raise WorkspaceError(f"workspace {self.root} holds no dumps", "run 'cdrnet ingest PATH' first")
        cols = None if columns is None else list(dict.fromkeys(["session_key", *columns]))
        if cols is not None and (since is not None or until is not None):
            cols = list(dict.fromkeys([*cols, "start_utc"]))
        if cols is not None and msisdns is not None:
            cols = list(dict.fromkeys([*cols, "msisdn"]))
        frames = [self._read_parquet(p, cols).to_pandas() for p in files]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if dedupe:
            frame = frame.drop_duplicates("session_key", keep="first")
        keep = pd.Series(True, index=frame.index)
        if since is not None:
            keep &= frame["start_utc"] >= since
        if until is not None:
            keep &= frame["start_utc"] < until
        if msisdns is not None:
            keep &= frame["msisdn"].isin(set(msisdns))
        return frame[keep].reset_index(drop=True)

    def resolution_by_subscriber(self) -> dict[str, int]:
        return resolution_by_subscriber(self.reports())

    def coverage(self) -> Coverage:
        from cdrnet.analysis.observed import Coverage

        return Coverage.from_reports(self.reports())

    def link(self, params: LinkParams, msisdns: list[str] | None = None) -> LinkResult:
        """Score pairs in pandas over the loaded sessions."""
        from cdrnet.analysis.cousage import link

        frame = self.sessions(params.since, params.until, msisdns)
        if frame.empty:
            raise WorkspaceError("no sessions match the selection", "check --since/--until/--subscribers")
        return link(frame, params, coverage=self.coverage())

    @property
    def link_run_dir(self) -> Path:
        """Where the latest link run is kept (machine files: UTC times), apart from the edges.csv handed over."""
        return self.root / "link-run"

    def write_links(self, result: LinkResult) -> str | None:
        """Keep the run's every scored pair and its parameters as the case's current network.

        edges.csv may be written elsewhere (``--out``) or pseudonymised; this copy is the
        case's own, so ``map``, ``summary``, ``report`` and ``evidence`` draw what ``link`` found.
        """
        import io

        try:
            self.link_run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, self.link_run_dir) from exc
        buf = io.BytesIO()
        result.edges.to_parquet(buf, index=False)
        atomic_write_bytes(self.link_run_dir / "edges.parquet", buf.getvalue())
        meta = {"params": result.params.to_dict(), "at": pd.Timestamp.now(tz="UTC").isoformat(),
                "subscribers": result.subscribers, "sessions": result.sessions}
        atomic_write_bytes(self.link_run_dir / "run.json", json.dumps(meta, indent=2).encode())
        return None

    def last_link_run(self) -> StoredLinkRun | None:
        """The latest ``link`` run kept by :meth:`write_links`, or None before any."""
        meta_path, edges_path = self.link_run_dir / "run.json", self.link_run_dir / "edges.parquet"
        if not (meta_path.exists() and edges_path.exists()):
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        edges = pd.read_parquet(edges_path)
        return StoredLinkRun(edges, meta["params"], pd.Timestamp(meta["at"]), all_pairs=True)

    def query(self, name: str, _params: dict) -> list[dict]:
        """Analyst queries are Cypher: the workspace explains where to run them."""
        raise UsageError(f"the analyst query {name.rsplit('/', 1)[-1]} runs on Neo4j",
                         "pass --neo4j URI (or set NEO4J_URI)")

    def close(self) -> None:
        """Nothing to release (files are opened per call)."""

    def rebuild_rejects(self) -> None:
        """Concatenate per-dump reject files into rejects.csv (atomically)."""
        self.rejects.rebuild([sha for sha, _ in self.dump_files()])
