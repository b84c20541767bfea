"""One writer at a time per workspace: an OS file lock with a clear "workspace busy" message.

Two ``ingest`` runs on one workspace used to race: the second one's start-up swept the
"stale" temporary files of the first, whose dump then failed to commit. The lock is held
by the operating system (``flock`` / ``msvcrt.locking``), so a killed command releases it
at once and no stale lock ever blocks a case. Readers (``link``, ``map``, …) take no lock:
they only see committed dumps, and their outputs are written atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cdrnet.errors import WorkspaceBusyError
from cdrnet.files import storage_error

LOCK_NAME = ".cdrnet.lock"


def _try_lock(fh: IO[str]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - the tests run on Linux
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def exclusive(root: Path, command: str) -> Iterator[None]:
    """Hold the workspace's write lock for the block; raise WorkspaceBusyError when another holds it."""
    path = root / LOCK_NAME
    try:
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise storage_error(exc, path) from exc
    try:
        if not _try_lock(fh):
            fh.seek(0)
            holder = fh.read().strip() or "another cdrnet command"
            raise WorkspaceBusyError(f"workspace {root.resolve()} is busy: {holder} is writing to it")
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"'{command}' (process {os.getpid()}, since "
                     f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')})")
            fh.flush()
        except OSError as exc:
            raise storage_error(exc, path) from exc
        yield
    finally:
        fh.close()  # closing releases the lock
