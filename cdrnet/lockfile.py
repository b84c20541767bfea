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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cdrnet.errors import WorkspaceBusyError
from cdrnet.files import storage_error

LOCK_NAME = ".cdrnet.lock"
#: How long a refused command waits for the holder to write its name. The holder writes it right
#: after taking the lock, so the wait is spent only while that process is stalled (a loaded
#: 2-core machine can stall one for seconds) or on a holder that never names itself: generous,
#: since it costs nothing otherwise.
HOLDER_WAIT_S = 10.0


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


def _acquire(fh: IO[str]) -> str:
    """Take the lock, or return the holder's name ("" once we hold it).

    A holder takes the lock first and writes its name just after, and clears the name just
    before it lets go; a command refused in either window finds the file empty. It then
    retries for a moment: either the holder names itself, or it has ended and the lock is free.
    """
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        if _try_lock(fh):
            return ""
        fh.seek(0)
        holder = fh.read().strip()
        if holder:
            return holder
        if time.monotonic() >= deadline:
            return "another cdrnet command"
        time.sleep(0.02)


def _clear(fh: IO[str]) -> None:
    """Leave no name behind: a later refusal must not name a command that has ended."""
    try:
        fh.seek(0)
        fh.truncate()
        fh.flush()
    except OSError:
        pass  # closing releases the lock all the same; a stale name would only be cosmetic


@contextmanager
def exclusive(root: Path, command: str) -> Iterator[None]:
    """Hold the workspace's write lock for the block; raise WorkspaceBusyError when another holds it."""
    path = root / LOCK_NAME
    try:
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise storage_error(exc, path) from exc
    try:
        holder = _acquire(fh)
        if holder:
            raise WorkspaceBusyError(f"workspace {root.resolve()} is busy: {holder} is writing to it")
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"'{command}' (process {os.getpid()}, since "
                     f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')})")
            fh.flush()
        except OSError as exc:
            raise storage_error(exc, path) from exc
        try:
            yield
        finally:
            _clear(fh)
    finally:
        fh.close()  # closing releases the lock
