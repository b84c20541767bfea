"""Rejected rows, kept beside every store the same way.

Both stores write a dump's rejects to ``<folder>/<sha256>.csv`` through a
temporary name (renamed only when the dump commits) and rebuild one combined
``rejects.csv`` from the committed dumps, so an analyst finds every refused
line with its file, line and reason in one file whichever store the case uses.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import pandas as pd

from cdrnet.csvsafe import header_line, write_csv
from cdrnet.files import atomic_write_bytes, storage_error

REJECT_COLUMNS = ["file", "sha256", "part", "line", "reason", "raw"]


@functools.cache
def _header() -> str:
    """The reject files' header row, built once: writing it through pandas cost ~40 ms a dump."""
    return header_line(REJECT_COLUMNS)


class RejectsWriter:
    """One dump's rejected rows, streamed to a temporary CSV until the dump commits."""

    def __init__(self, folder: Path, sha: str, name: str) -> None:
        self.folder, self.sha, self.name = folder, sha, name
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, folder) from exc
        self.path = folder / f"{sha}.csv"
        self.tmp = folder / f".{sha}.csv.tmp-{os.getpid()}"
        try:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed on commit/abort
            self._fh.write(_header())
        except OSError as exc:
            self.tmp.unlink(missing_ok=True)
            raise storage_error(exc, self.tmp.parent) from exc

    def write(self, lines: list[int], reasons: list[str], texts: list[str], part: str) -> None:
        frame = pd.DataFrame({"file": self.name, "sha256": self.sha, "part": part, "line": lines,
                              "reason": reasons, "raw": texts})
        try:
            write_csv(frame, self._fh, header=False)
        except OSError as exc:
            raise storage_error(exc, self.tmp.parent) from exc

    def close(self) -> None:
        """Finish the temporary file without publishing it (a worker process stages a dump
        this way; the parent publishes it in input order)."""
        if not self._fh.closed:
            self._fh.close()

    def commit(self) -> None:
        try:
            self.close()
            os.replace(self.tmp, self.path)
        except OSError as exc:
            raise storage_error(exc, self.path) from exc

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # a full disk fails the flush on close; the file goes anyway
            self.close()
        self.tmp.unlink(missing_ok=True)


class RejectsFile:
    """Per-dump reject files in ``folder`` and their concatenation ``combined``."""

    def __init__(self, folder: str | Path, combined: str | Path) -> None:
        self.folder = Path(folder)
        self.combined = Path(combined)

    def begin(self, sha: str, name: str) -> RejectsWriter:
        return RejectsWriter(self.folder, sha, name)

    def publish(self, tmp: Path, sha: str) -> None:
        """Give a finished temporary reject file (see :meth:`RejectsWriter.close`) its final name."""
        os.replace(tmp, self.folder / f"{sha}.csv")

    def clear_stale(self) -> None:
        """Temporary files left by an interrupted run are never trusted."""
        for stale in self.folder.glob(".*.tmp-*"):
            stale.unlink(missing_ok=True)

    def rebuild(self, shas: list[str]) -> None:
        """Concatenate the committed dumps' reject files into ``combined`` (atomically)."""
        parts = [self.folder / f"{sha}.csv" for sha in shas]
        chunks = [p.read_bytes().split(b"\n", 1)[1] if p.exists() else b"" for p in parts]
        header = _header().encode()
        self.combined.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.combined, header + b"".join(chunks))

    def read(self) -> pd.DataFrame:
        """The combined rejects (empty frame with the columns when there are none)."""
        if not self.combined.exists():
            return pd.DataFrame(columns=REJECT_COLUMNS)
        return pd.read_csv(self.combined, dtype=str, keep_default_na=False)
