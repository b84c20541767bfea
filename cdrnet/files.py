"""Small file helpers shared by the stores and the outputs."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cdrnet.errors import StorageError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half.

    A write that fails (read-only folder, full disk) leaves no temporary file behind and
    raises :class:`StorageError` naming the file, never a bare ``OSError``.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise storage_error(exc, path) from exc


def storage_error(exc: OSError, path: Path | str | None = None) -> StorageError:
    """One clear line for a failed write: what could not be written and why."""
    where = path if path is not None else exc.filename
    return StorageError(f"cannot write {where}: {exc.strerror or exc}")
