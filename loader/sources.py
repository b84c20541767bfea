"""Turn the paths a user names into dumps: files, folders and every delivery format.

Deliveries arrive as ``.zip``, ``.7z``, ``.rar``, ``.gz``, legacy ``.xls``, ``.xlsx``,
and files named ``.xls`` that are really CSV or HTML tables, so a file's kind is
sniffed from its first bytes, never taken from its name. Archives are read in
place, never extracted to disk, and member names that try to escape
(``../x.csv``, absolute paths) are refused. A password-protected or corrupt
member is refused with a line naming it and the rest of the batch goes on;
``__MACOSX/``, ``._*``, ``Thumbs.db`` and ``desktop.ini`` are skipped and said so.

Case folders also hold what is not a dump: a PDF request letter, ``truth.csv``,
``scenario.json``, a README. Found in a folder or an archive, such a file is
"skipped (not a dump)" (see :func:`not_a_dump_reason`), never a refusal that fails
the run; a file the user names on the command line, or one that looks like a dump
(a phone-number or time column) and fits no layout, is still refused.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import io
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cdrnet.errors import ArchiveBombError, InputError

TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ".psv", ".dat", ".ipdr", ".cdr", ""}
#: Names whose content is sniffed (their name says little about what they hold).
SNIFFED_SUFFIXES = TEXT_SUFFIXES | {".xls", ".xlsx", ".htm", ".html", ".zip", ".7z", ".rar", ".gz", ".tgz", ".tar",
                                    ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".lz4", ".z"}
MAX_NESTING = 3
SNIFF_BYTES = 4096
#: Operating-system debris in deliveries: skipped and reported, never parsed.
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
MAGIC = (
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"Rar!\x1a\x07", "rar"),
    (b"\x1f\x8b", "gz"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"), (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\x04\x22\x4d\x18", "lz4"), (b"\x1f\x9d", "compress"),
)
#: Single-stream compressions the standard library reads (the name inside drops the suffix).
STREAMS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    "gz": lambda fh: gzip.GzipFile(fileobj=fh),  # type: ignore[dict-item]
    "bz2": lambda fh: bz2.BZ2File(fh),  # type: ignore[dict-item]
    "xz": lambda fh: lzma.LZMAFile(fh),  # type: ignore[dict-item]
}
#: Compressions recognised but not read: refused by name, never parsed as text.
UNREAD_COMPRESSIONS = {"zstd": "Zstandard (.zst)", "lz4": "LZ4 (.lz4)", "compress": "Unix compress (.Z)"}
#: A member or stream may expand to at most this many times its compressed size (and never
#: less than MIN_EXPANSION_LIMIT bytes): CSV compresses 5-20 times, an archive bomb
#: thousands; past the limit it is refused, so a bomb costs bounded time and memory.
MAX_EXPANSION_RATIO = 200
MIN_EXPANSION_LIMIT = 64 << 20


#: Bytes read at a time while hashing a dump.
HASH_CHUNK = 1 << 20


def _sha256_of(opener: Callable[[], BinaryIO]) -> str:
    """SHA-256 of a stream's bytes, read into one reused buffer.

    Why not ``fh.read(chunk)``: each read allocated a fresh megabyte, which the allocator gave
    back to the system and took again, so hashing the 400-dump case (686 MB) cost ~72,000 page
    faults (0.5 against 0.4 CPU s; with ``--workers 2`` the parent hashes every dump).
    """
    h = hashlib.sha256()
    buf = bytearray(HASH_CHUNK)
    view = memoryview(buf)
    with opener() as fh:
        readinto = getattr(fh, "readinto", None)
        if readinto is None:  # a stream without readinto: chunks as they come
            for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
                h.update(chunk)
            return h.hexdigest()
        while n := readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


@dataclass
class DumpSource:
    """One dump: a readable byte stream with a name an analyst recognises."""

    name: str
    opener: Callable[[], BinaryIO]
    size: int | None
    kind: str  # "text", "xlsx", "xls" (legacy Excel) or "html" (an HTML table saved as .xls)
    _sha: str | None = field(default=None, repr=False)
    #: Named on the command line (not found in a folder or archive): the user meant it as a dump,
    #: so a file no layout fits is refused rather than skipped as "not a dump".
    named: bool = False

    def sha256(self) -> str:
        """SHA-256 of the dump's own bytes (the member's, for archives)."""
        if self._sha is None:
            self._sha = _sha256_of(self.opener)
        return self._sha


@dataclass
class Refused:
    """An input that was not read, and why (printed, never silent)."""

    name: str
    reason: str
    #: What kind of refusal: "" (cannot be read as delivered), "unknown layout" (read, but no
    #: layout fits: distinct from a failure while reading a known one), "skipped" (archive junk),
    #: "not a dump" (a document or table found beside the dumps: skipped, never a failure).
    kind: str = ""
    hint: str = ""  # what the analyst can do about it (unknown layouts: a mapping file)


def _kind(name: str) -> str | None:
    """Whether a name is worth opening (its content decides what it is); None: not a dump."""
    suffix = PurePosixPath(name.lower()).suffix
    return "sniff" if suffix in SNIFFED_SUFFIXES else None


def junk_reason(name: str) -> str | None:
    """Why a member or file is operating-system debris, or None."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    base = parts[-1] if parts else name
    if "__MACOSX" in parts:
        return "macOS metadata folder __MACOSX/"
    if base.startswith("._"):
        return "macOS resource fork ._*"
    if base.lower() in JUNK_NAMES:
        return f"system file {base}"
    return None


def sniff(head: bytes) -> str:
    """What the bytes are: an archive, a workbook, an HTML table, or text."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    if head[257:262] == b"ustar":
        return "tar"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml", b"<meta", b"<head", b"<body")) or (
            text.startswith(b"<") and b"<table" in head.lower()):
        return "html"
    return "text"


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return not p.is_absolute() and ".." not in p.parts and not (p.parts and ":" in p.parts[0])


def member_refusal(name: str, filename: str, encrypted: bool = False) -> Refused | None:
    """Why an archive member is not read (junk, unsafe path, password), or None to read it.

    One rule for every archive format: junk is skipped and said so, a path escaping the
    archive is refused, a password-protected member is refused by name.
    """
    junk = junk_reason(filename)
    if junk:
        return Refused(name, junk, "skipped")
    if not _safe_member(filename):
        return Refused(name, "unsafe member path in archive (refused: path traversal)")
    if encrypted:
        return Refused(name, "password-protected archive member (not read; ask for it without a password)", "password")
    return None


def _from_bytes_opener(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(data)


def _zip_members(label: str, opener: Callable[[], BinaryIO], depth: int) -> Iterator[DumpSource | Refused]:
    try:
        zf = zipfile.ZipFile(opener())
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        yield Refused(label, f"not a valid zip archive ({type(exc).__name__}: {exc})", "corrupt")
        return
    with zf:
        infos = list(enumerate(zf.infolist()))
        seen: dict[str, int] = {}
        for index, info in sorted(infos, key=lambda i: (i[1].filename, i[0])):
            if info.is_dir():
                continue
            name = _member_label(label, info.filename, seen)
            refusal = member_refusal(name, info.filename, encrypted=bool(info.flag_bits & 0x1))
            if refusal is not None:
                yield refusal
                continue
            yield from _expand(name, info.filename, _bounded(_member_opener(opener, index), name, info.compress_size),
                               info.file_size, depth + 1)


def _member_label(label: str, filename: str, seen: dict[str, int]) -> str:
    """``archive!member``; a second member of the same name (zip and tar allow it) gets ``#2``."""
    seen[filename] = seen.get(filename, 0) + 1
    n = seen[filename]
    return f"{label}!{filename}" + (f"#{n}" if n > 1 else "")


def _member_opener(opener: Callable[[], BinaryIO], index: int) -> Callable[[], BinaryIO]:
    """Open a zip member by its position: two members may share a name, and each is read."""
    def open_member() -> BinaryIO:
        zf = zipfile.ZipFile(opener())
        return zf.open(zf.infolist()[index])

    return open_member


def _tar_members(label: str, opener: Callable[[], BinaryIO], depth: int) -> Iterator[DumpSource | Refused]:
    """Members of a .tar (or the .tar inside a .tgz), each by its position."""
    try:
        with tarfile.open(fileobj=opener(), mode="r:") as tf:
            members = list(enumerate(tf.getmembers()))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        yield Refused(label, f"not a readable .tar archive ({type(exc).__name__}: {exc})", "corrupt")
        return
    seen: dict[str, int] = {}
    for index, info in sorted(members, key=lambda i: (i[1].name, i[0])):
        if info.isdir():
            continue
        name = _member_label(label, info.name, seen)
        if not info.isfile():
            yield Refused(name, "not a regular file in the .tar (link or device): not read", "skipped")
            continue
        refusal = member_refusal(name, info.name)
        if refusal is not None:
            yield refusal
            continue

        def open_member(index: int = index) -> BinaryIO:
            tf = tarfile.open(fileobj=opener(), mode="r:")
            fh = tf.extractfile(tf.getmembers()[index])
            assert fh is not None
            return fh  # type: ignore[return-value]

        yield from _expand(name, info.name, open_member, info.size, depth + 1)


class _BoundedReader(io.RawIOBase):
    """A decompressing stream that refuses to expand past a limit (an archive bomb)."""

    def __init__(self, inner: BinaryIO, limit: int, name: str, packed: int) -> None:
        self.inner, self.limit, self.name, self.packed, self.count = inner, limit, name, packed, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        self.count += len(data)
        if self.count > self.limit:
            raise ArchiveBombError(
                f"{self.name}: expands past {self.limit >> 20} MB from {self.packed} compressed bytes (more than "
                f"{MAX_EXPANSION_RATIO} times): refused as a possible archive bomb",
                hint="if it is a genuine dump, decompress it yourself and ingest the result")
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def expansion_limit(packed: int | None) -> int:
    """Bytes a compressed member or stream of ``packed`` bytes may expand to."""
    return max(MIN_EXPANSION_LIMIT, MAX_EXPANSION_RATIO * (packed or 0))


def _bounded(opener: Callable[[], BinaryIO], name: str, packed: int | None) -> Callable[[], BinaryIO]:
    def open_bounded() -> BinaryIO:
        return io.BufferedReader(_BoundedReader(opener(), expansion_limit(packed), name, packed or 0))

    return open_bounded


def _sevenzip_members(label: str, opener: Callable[[], BinaryIO], depth: int) -> Iterator[DumpSource | Refused]:
    """Members of a .7z archive, each extracted into memory when parsed (py7zr)."""
    import py7zr
    from py7zr import exceptions as e7

    try:
        with py7zr.SevenZipFile(opener(), mode="r") as z:
            if z.needs_password():
                yield Refused(label, "password-protected .7z archive (not read; ask for it without a password)",
                              "password")
                return
            infos = [i for i in z.list() if not i.is_directory]
    except (e7.ArchiveError, e7.Bad7zFile, e7.PasswordRequired, EOFError, OSError, ValueError) as exc:
        yield Refused(label, f"not a readable .7z archive ({type(exc).__name__}: {exc})", "corrupt")
        return
    for info in sorted(infos, key=lambda i: i.filename):
        name = f"{label}!{info.filename}"
        refusal = member_refusal(name, info.filename)
        if refusal is not None:
            yield refusal
            continue

        def open_member(member: str = info.filename, size: int = int(info.uncompressed or 0)) -> BinaryIO:
            from py7zr.io import BytesIOFactory

            factory = BytesIOFactory(limit=max(size, 1) + 1)
            with py7zr.SevenZipFile(opener(), mode="r") as z:
                z.extract(targets=[member], factory=factory)
            product = factory.get(member)
            product.seek(0)
            return io.BytesIO(product.read())

        yield from _expand(name, info.filename, open_member, int(info.uncompressed or 0) or None, depth + 1)


def _rar_members(label: str, opener: Callable[[], BinaryIO], depth: int) -> Iterator[DumpSource | Refused]:
    """Members of a .rar archive (rarfile: stored members in Python, compressed ones through an
    extractor program such as unar, which a plain install may lack: then one clear refusal)."""
    import rarfile

    try:
        rf = rarfile.RarFile(opener())
    except rarfile.PasswordRequired:
        yield Refused(label, "password-protected .rar archive (not read; ask for it without a password)", "password")
        return
    except (rarfile.Error, EOFError, OSError) as exc:
        yield Refused(label, f"not a readable .rar archive ({type(exc).__name__}: {exc})", "corrupt")
        return
    tool: str | None = None
    for info in sorted(rf.infolist(), key=lambda i: i.filename):
        if info.is_dir():
            continue
        name = f"{label}!{info.filename}"
        refusal = member_refusal(name, info.filename, encrypted=info.needs_password())
        if refusal is not None:
            yield refusal
            continue
        if info.compress_type != rarfile.RAR_M0:
            if tool is None:
                try:
                    rarfile.tool_setup(force=True)
                    tool = "ok"
                except rarfile.RarCannotExec:
                    tool = ""
            if not tool:
                yield Refused(name, "compressed .rar member but no RAR extractor program is installed "
                                    "(install one: apt-get install unar, or unrar-free / 7zip)", "no extractor")
                continue

        def open_member(member: str = info.filename) -> BinaryIO:
            return io.BytesIO(rarfile.RarFile(opener()).read(member))

        yield from _expand(name, info.filename, open_member, int(info.file_size or 0) or None, depth + 1)


def _is_workbook(opener: Callable[[], BinaryIO]) -> bool:
    """An .xlsx is a zip holding xl/workbook.xml; anything else with the zip magic is an archive."""
    try:
        with zipfile.ZipFile(opener()) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def read_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a member's bytes are corrupt (bad CRC, truncated stream)."""
    import py7zr.exceptions as e7
    import rarfile

    return (OSError, EOFError, zlib.error, zipfile.BadZipFile, e7.ArchiveError, e7.CrcError,
            e7.DecompressionError, e7.PasswordRequired, rarfile.Error, lzma.LZMAError, tarfile.TarError,
            ArchiveBombError)


def check_readable(source: DumpSource) -> Refused | None:
    """Read the source through once (its SHA-256) and say why not when its bytes are corrupt."""
    try:
        source.sha256()
    except ArchiveBombError as exc:
        return Refused(source.name, str(exc).removeprefix(f"{source.name}: "), "bomb", exc.hint)
    except read_errors() as exc:
        return Refused(source.name, f"corrupt or unreadable ({type(exc).__name__}: {exc}); the other files go on",
                       "corrupt")
    return None


def _head(opener: Callable[[], BinaryIO]) -> bytes:
    with opener() as fh:
        return fh.read(SNIFF_BYTES)


def _expand(label: str, name: str, opener: Callable[[], BinaryIO], size: int | None, depth: int,
            explicit: bool = False) -> Iterator[DumpSource | Refused]:
    if depth > MAX_NESTING:
        yield Refused(label, f"archives nested deeper than {MAX_NESTING} levels")
        return
    junk = junk_reason(name)
    if junk:
        yield Refused(label, junk, "skipped")
        return
    if _kind(name) is None and not explicit:
        suffix = PurePosixPath(name.lower()).suffix
        # A spreadsheet we cannot read may be a dump: refused. A PDF, JSON or README is not one: skipped.
        yield Refused(label, f"unsupported file type {suffix or '(no extension)'} (dumps are "
                             ".csv/.txt/.tsv/.xls/.xlsx/.htm(l)/.zip/.7z/.rar/.gz)",
                      "" if suffix in UNREAD_SPREADSHEETS else NOT_A_DUMP)
        return
    try:
        kind = sniff(_head(opener))
        if kind == "zip" and _is_workbook(opener):
            kind = "xlsx"
        if kind in ("zip", "7z", "rar", "tar") and depth > 0:
            # A nested archive is read into memory once (bounded by the expansion limit):
            # seeking inside a member stream is not possible.
            opener = _from_bytes_opener(opener().read())
    except ArchiveBombError as exc:
        yield Refused(label, str(exc).removeprefix(f"{label}: "), "bomb", exc.hint)
        return
    except (*read_errors(), RuntimeError) as exc:
        yield Refused(label, f"cannot be read ({type(exc).__name__}: {exc}); the other files go on", "corrupt")
        return
    if kind in ("zip", "7z", "rar", "tar"):
        members = {"zip": _zip_members, "7z": _sevenzip_members, "rar": _rar_members, "tar": _tar_members}[kind]
        yield from members(label, opener, depth)
        return
    if kind in UNREAD_COMPRESSIONS:
        yield Refused(label, f"compressed with {UNREAD_COMPRESSIONS[kind]}, which cdrnet does not read "
                             "(decompress it, or re-pack it as .zip or .gz)", "unsupported")
        return
    if kind in STREAMS:
        inner = _inner_name(name)
        stream = STREAMS[kind]

        def stream_open(stream=stream) -> BinaryIO:
            return stream(opener())  # type: ignore[return-value]

        yield from _expand(label, inner, _bounded(stream_open, label, size), None, depth + 1, True)
        return
    yield DumpSource(name=label, opener=opener, size=size, kind=kind)


def _inner_name(name: str) -> str:
    """The name inside a compressed stream: ``a.csv.gz`` holds ``a.csv``, ``a.tgz`` a ``.tar``."""
    lower = name.lower()
    for outer, inner in ((".tgz", ".tar"), (".tbz2", ".tar"), (".txz", ".tar")):
        if lower.endswith(outer):
            return name[: -len(outer)] + inner
    for suffix in (".gz", ".bz2", ".xz"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def iter_sources(paths: list[str | Path]) -> Iterator[DumpSource | Refused]:
    """Yield every dump under the given paths (folders recursively, sorted)."""
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            for f in files:
                rel = f.relative_to(p).parts
                junk = junk_reason("/".join(rel))
                if junk:
                    yield Refused(str(f), junk, "skipped")
                    continue
                if any(part.startswith(".") for part in rel):
                    continue  # hidden files and folders (.git, editor backups) are not deliveries
                yield from _expand(str(f), f.name, _file_opener(f), f.stat().st_size, 0)
        else:
            for item in _expand(str(p), p.name, _file_opener(p), p.stat().st_size, 0, explicit=True):
                if isinstance(item, DumpSource) and item.name == str(p):
                    item.named = True  # the file itself (or its .gz content), not an archive member
                yield item


def _file_opener(path: Path) -> Callable[[], BinaryIO]:
    # A partial of open, not a lambda: it pickles, so a plain file can be parsed in a worker process.
    return functools.partial(open, path, "rb")


#: Refused.kind of a file found beside the dumps that is not one (listed, never a failure).
NOT_A_DUMP = "not a dump"
#: Spreadsheet formats not read (yet): a dump may arrive in one, so they are refused, not skipped.
UNREAD_SPREADSHEETS = frozenset({".ods", ".xlsb", ".xlsm", ".numbers", ".mdb", ".accdb", ".dbf"})
#: Refused kinds that are skipped rather than refused: they never fail a run.
SKIPPED_KINDS = frozenset({"skipped", NOT_A_DUMP})
#: Column names every dump has some of: a subscriber number, a time, an address or port.
DUMP_COLUMN = re.compile(
    r"msisdn|imsi|imei|phone|mobile|time|date|port|party|duration|(?:^|[^a-z])(?:ip|ipv4|ipv6|number|no|cell|lac)(?:$|[^a-z])"
    r"|(?:src|dst|dest|source|destination|public|private)_?ip")
MAX_COLUMN_NAME = 40
NOT_A_DUMP_SCAN_BYTES = 64 * 1024
NOT_A_DUMP_SCAN_LINES = 200


def not_a_dump_reason(source: DumpSource) -> str | None:
    """Why a text file that fits no layout is not a dump at all, or None when it may be one.

    A dump has a column naming a phone number or a time in its first lines (after any
    preamble). A table without one (``truth.csv``: a,b,kind) or prose is not a dump, so it
    is skipped; anything that may be one (a dump-like column, binary bytes) stays a refusal
    so an export in an unknown layout is never quietly passed over.
    """
    if source.kind != "text":
        return None
    with source.opener() as fh:
        head = fh.read(NOT_A_DUMP_SCAN_BYTES)
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    if sum(not (c.isprintable() or c.isspace()) for c in text) > len(text) // 100:
        return None
    lines = [line for line in text.splitlines()[:NOT_A_DUMP_SCAN_LINES] if line.strip()]
    if not lines:
        return None
    for line in lines:
        for cell in re.split(r"[,;|\t]", line):
            name = cell.strip().strip('"\'').lower()
            if name and len(name) <= MAX_COLUMN_NAME and DUMP_COLUMN.search(name):
                return None
    first = lines[0].strip()
    if not re.search(r"[,;|\t]", first):
        return "not a table (no delimited header line)"
    shown = first if len(first) <= 60 else first[:57] + "..."
    return f"no phone-number or time column (header '{shown}')"
