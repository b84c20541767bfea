"""The embedded store: a folder of Parquet files keyed by each dump's SHA-256.

Writes are atomic (temporary name, then rename) and a dump counts as loaded
only once its JSON report exists, so an interrupted ingest leaves nothing that
a re-run would trust or duplicate.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cdrnet.errors import WorkspaceError
from cdrnet.loader.normalize import key_hash_of
from cdrnet.loader.quality import DumpReport, resolution_by_subscriber
from cdrnet.model import SESSION_COLUMNS, SESSION_SCHEMA

REJECT_COLUMNS = ["file", "sha256", "part", "line", "reason", "raw"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class DumpWriter:
    """Streams one dump's sessions and rejects to temporary files.

    Parquet encoding runs on a background thread (Arrow releases the GIL while
    encoding), so the ingest loop reads and de-duplicates the next block
    meanwhile; at most two blocks wait in the queue.
    """

    def __init__(self, ws: Workspace, sha: str, name: str) -> None:
        self.ws, self.sha, self.name = ws, sha, name
        self.tmp_parquet = ws.dumps_dir / f".{sha}.parquet.tmp-{os.getpid()}"
        self.tmp_rejects = ws.rejects_dir / f".{sha}.csv.tmp-{os.getpid()}"
        self.writer = pq.ParquetWriter(self.tmp_parquet, SESSION_SCHEMA, compression="zstd")
        self.rejects_fh = open(self.tmp_rejects, "w", encoding="utf-8", newline="")
        pd.DataFrame(columns=REJECT_COLUMNS).to_csv(self.rejects_fh, index=False)
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
            self._queue.put(pa.Table.from_pandas(sessions[SESSION_COLUMNS], schema=SESSION_SCHEMA, preserve_index=False))

    def write_rejects(self, lines: list[int], reasons: list[str], texts: list[str], part: str) -> None:
        frame = pd.DataFrame({"file": self.name, "sha256": self.sha, "part": part, "line": lines, "reason": reasons, "raw": texts})
        frame.to_csv(self.rejects_fh, index=False, header=False)

    def commit(self, report: DumpReport) -> None:
        self._close_parquet()
        self._check()
        self.rejects_fh.close()
        os.replace(self.tmp_parquet, self.ws.dumps_dir / f"{self.sha}.parquet")
        os.replace(self.tmp_rejects, self.ws.rejects_dir / f"{self.sha}.csv")
        atomic_write_bytes(self.ws.dumps_dir / f"{self.sha}.json", json.dumps(report.to_dict(), indent=2).encode())
        self.ws.rebuild_rejects()

    def abort(self) -> None:
        try:
            self._close_parquet()
        finally:
            self.rejects_fh.close()
            for p in (self.tmp_parquet, self.tmp_rejects):
                p.unlink(missing_ok=True)


class Workspace:
    """A case folder: dumps/, rejects/, rejects.csv and derived outputs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def dumps_dir(self) -> Path:
        return self.root / "dumps"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    def create(self) -> Workspace:
        try:
            self.dumps_dir.mkdir(parents=True, exist_ok=True)
            self.rejects_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {self.root}: {exc.strerror}") from exc
        for stale in list(self.dumps_dir.glob(".*.tmp-*")) + list(self.rejects_dir.glob(".*.tmp-*")):
            stale.unlink(missing_ok=True)  # left by an interrupted run; never trusted
        return self

    def has_dump(self, sha: str) -> bool:
        return (self.dumps_dir / f"{sha}.json").exists()

    def begin_dump(self, sha: str, name: str) -> DumpWriter:
        return DumpWriter(self, sha, name)

    def reports(self) -> list[DumpReport]:
        """Reports of all committed dumps, oldest ingest first."""
        if not self.dumps_dir.exists():
            return []
        out = [DumpReport.from_dict(json.loads(p.read_text())) for p in self.dumps_dir.glob("*.json")]
        return sorted(out, key=lambda r: (r.ingested_at, r.name))

    def dump_files(self) -> Iterator[tuple[str, Path]]:
        for rep in self.reports():
            yield rep.sha256, self.dumps_dir / f"{rep.sha256}.parquet"

    def session_key_hashes(self, exclude: str | None = None, msisdns: list[str] | None = None) -> np.ndarray:
        """Key hashes (first 64 bits) of other dumps' sessions (only dumps sharing a subscriber, when given).

        Hashes, not the 32-character keys: 8 bytes a session however large the case.
        """
        wanted = set(msisdns) if msisdns is not None else None
        out = [np.zeros(0, dtype=np.uint64)]
        for rep in self.reports():
            if rep.sha256 == exclude or (wanted is not None and not wanted.intersection(rep.msisdns)):
                continue
            path = self.dumps_dir / f"{rep.sha256}.parquet"
            for batch in pq.ParquetFile(path).iter_batches(batch_size=1 << 20, columns=["session_key"]):
                out.append(key_hash_of(batch.column(0)))
        return np.concatenate(out)

    def sessions(self, columns: list[str] | None = None, dedupe: bool = True) -> pd.DataFrame:
        """All loaded sessions; a session delivered by several dumps appears once."""
        files = [p for _, p in self.dump_files()]
        if not files:
            raise WorkspaceError(f"workspace {self.root} holds no dumps")
        cols = None if columns is None else list(dict.fromkeys(["session_key", *columns]))
        frames = [pq.read_table(p, columns=cols).to_pandas() for p in files]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if dedupe:
            frame = frame.drop_duplicates("session_key", keep="first").reset_index(drop=True)
        return frame

    def resolution_by_subscriber(self) -> dict[str, int]:
        return resolution_by_subscriber(self.reports())

    def rebuild_rejects(self) -> None:
        """Concatenate per-dump reject files into rejects.csv (atomically)."""
        parts = [self.rejects_dir / f"{sha}.csv" for sha, _ in self.dump_files()]
        chunks = [p.read_bytes().split(b"\n", 1)[1] if p.exists() else b"" for p in parts]
        header = (",".join(REJECT_COLUMNS) + "\n").encode()
        atomic_write_bytes(self.root / "rejects.csv", header + b"".join(chunks))
