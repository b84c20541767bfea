"""Small file helpers shared by the stores and the outputs."""

from __future__ import annotations

import contextlib
import os
import re
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
    """One clear line for a failed write: what could not be written and why (Arrow's errors carry
    the errno only in their text: "... Detail: [errno 28] No space left on device")."""
    where = path if path is not None else exc.filename or "the store's folder"
    code = exc.errno
    if code is None and (m := re.search(r"\[errno (\d+)\]", str(exc))):
        code = int(m.group(1))
    return StorageError(f"cannot write {where}: {os.strerror(code) if code else exc.strerror or exc}")
