"""Turn the paths a user names into dumps: files, folders, .zip and .gz archives.

Archives are read in place, never extracted, and member names that try to
escape (``../x.csv``, absolute paths) are refused.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cdrnet.errors import InputError

TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ".psv", ".dat", ".ipdr", ".cdr", ""}
MAX_NESTING = 3


@dataclass
class DumpSource:
    """One dump: a readable byte stream with a name an analyst recognises."""

    name: str
    opener: Callable[[], BinaryIO]
    size: int | None
    kind: str  # "text" or "xlsx"
    _sha: str | None = field(default=None, repr=False)

    def sha256(self) -> str:
        """SHA-256 of the dump's own bytes (the member's, for archives)."""
        if self._sha is None:
            h = hashlib.sha256()
            with self.opener() as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            self._sha = h.hexdigest()
        return self._sha


@dataclass
class Refused:
    """An input that was not read, and why (printed, never silent)."""

    name: str
    reason: str


def _kind(name: str) -> str | None:
    suffix = PurePosixPath(name.lower()).suffix
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return None


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return not p.is_absolute() and ".." not in p.parts and not (p.parts and ":" in p.parts[0])


def _from_bytes_opener(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(data)


def _zip_members(label: str, opener: Callable[[], BinaryIO], depth: int) -> Iterator[DumpSource | Refused]:
    try:
        zf = zipfile.ZipFile(opener())
    except zipfile.BadZipFile:
        yield Refused(label, "not a valid zip archive")
        return
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            name = f"{label}!{info.filename}"
            if not _safe_member(info.filename):
                yield Refused(name, "unsafe member path in archive (refused: path traversal)")
                continue
            if info.flag_bits & 0x1:
                yield Refused(name, "encrypted archive member")
                continue
            yield from _expand(name, info.filename, _member_opener(zf.filename, opener, info.filename), info.file_size, depth + 1)


def _member_opener(_zip_name: str | None, opener: Callable[[], BinaryIO], member: str) -> Callable[[], BinaryIO]:
    def open_member() -> BinaryIO:
        zf = zipfile.ZipFile(opener())
        return zf.open(member)

    return open_member


def _expand(label: str, name: str, opener: Callable[[], BinaryIO], size: int | None, depth: int,
            explicit: bool = False) -> Iterator[DumpSource | Refused]:
    lower = name.lower()
    if depth > MAX_NESTING:
        yield Refused(label, f"archives nested deeper than {MAX_NESTING} levels")
        return
    if lower.endswith(".zip"):
        if depth > 0:
            data = opener().read()
            yield from _zip_members(label, _from_bytes_opener(data), depth)
        else:
            yield from _zip_members(label, opener, depth)
        return
    if lower.endswith(".gz"):
        inner = name[:-3]

        def gz_open() -> BinaryIO:
            return gzip.GzipFile(fileobj=opener())  # type: ignore[return-value]

        yield from _expand(label, inner, gz_open, None, depth + 1, explicit)
        return
    kind = _kind(name)
    if kind is None:
        if not explicit:
            yield Refused(label, "unsupported file type (expected .csv/.txt/.tsv/.xlsx/.zip/.gz)")
            return
        kind = "text"
    yield DumpSource(name=label, opener=opener, size=size, kind=kind)


def iter_sources(paths: list[str | Path]) -> Iterator[DumpSource | Refused]:
    """Yield every dump under the given paths (folders recursively, sorted)."""
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts))
            for f in files:
                yield from _expand(str(f), f.name, _file_opener(f), f.stat().st_size, 0)
        else:
            yield from _expand(str(p), p.name, _file_opener(p), p.stat().st_size, 0, explicit=True)


def _file_opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")
