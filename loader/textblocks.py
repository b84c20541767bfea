"""Stream a dump as UTF-8 blocks of whole lines, whatever its encoding.

Operators and Excel produce UTF-8 (with or without BOM), UTF-16 and cp1252;
everything downstream sees UTF-8 bytes and physical line numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import BinaryIO

import numpy as np

from cdrnet.loader.native import count_byte

#: Bytes of a dump's first block: the block its date order is decided on (docs/layouts.md).
BLOCK_SIZE = 16 << 20


def later_block_size() -> int:
    """Bytes of a dump's blocks after its first: half of :data:`BLOCK_SIZE`.

    Why: what a block costs in memory (its text, Arrow's columns of it, the normalised frame, the
    tables queued for the Parquet writer) is taken fresh from the kernel, page by page, until the
    run's peak: half the block, ~120 MB less peak and ~27k fewer page faults on a 1M-row file for
    the same CPU in the rest (docs/benchmarks.md, "The kernel's share of one big file"). The first
    block keeps the full size: the dump's date order is decided on it, as before.
    """
    return BLOCK_SIZE // 2


@dataclass
class Block:
    """Whole lines of UTF-8 text; ``first_line`` is the 1-based number of the first."""

    data: bytes
    first_line: int
    n_lines: int
    raw_bytes: int  # bytes of the original stream consumed (for progress)


def sniff_encoding(head: bytes) -> str:
    """Pick an encoding from a BOM, NUL patterns, or a strict UTF-8 trial."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4:
        odd_nuls = head[1::2].count(0)
        even_nuls = head[0::2].count(0)
        if odd_nuls > len(head) // 4 and even_nuls <= len(head) // 50:
            return "utf-16-le"
        if even_nuls > len(head) // 4 and odd_nuls <= len(head) // 50:
            return "utf-16-be"
    try:
        # Not final: a multi-byte character cut by the sample end is fine.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def count_lines(data: bytes) -> int:
    """Physical lines in a block (a last line without newline counts)."""
    if not data:
        return 0
    return newlines(data) + (0 if data.endswith(b"\n") else 1)


def newlines(data: bytes) -> int:
    """``data.count(b"\\n")``, by the kernel when it is built (every block read is counted)."""
    return count_byte(data, 10)


#: A character UTF-8 decodes from several bytes (the replacement character U+FFFD excepted).
_MULTIBYTE = re.compile("[^\x00-\x7f\ufffd]")


def _cp1252_not_utf8(chunk: bytes) -> bool:
    """Whether the first non-ASCII bytes of a stream sniffed as UTF-8 are cp1252 (or Latin-1) text.

    The encoding is sniffed from the first 64 kB; a Windows export whose first rows are ASCII
    and whose later ones name a place in cp1252 (``Délhi``) was read as UTF-8 with every such
    letter replaced by U+FFFD, silently: a cell known by its name only then had another key.
    A chunk that is not valid UTF-8 and holds no multi-byte UTF-8 character at all is cp1252;
    one that holds some is UTF-8 with a damaged byte, replaced as before.
    """
    try:
        codecs.getincrementaldecoder("utf-8")().decode(chunk, final=False)
        return False
    except UnicodeDecodeError:
        return _MULTIBYTE.search(chunk.decode("utf-8", errors="replace")) is None


def _to_utf8(chunk: bytes, decoder: codecs.IncrementalDecoder) -> bytes:
    # Undecodable bytes become U+FFFD: the row is kept (and usually rejected
    # later for its content) rather than silently dropped.
    return decoder.decode(chunk, final=False).encode("utf-8")


#: A line longer than this is no row of any dump (rows are a few hundred bytes): it is cut
#: short while reading, so an endless line without newline (a bomb, a binary blob) never
#: holds more than a block and this much in memory, and is rejected ``line_too_long``.
MAX_LINE_BYTES = 1 << 20
#: How much of a rejected line rejects.csv keeps (characters): enough to recognise it.
EXCERPT_CHARS = 200
#: Stands in a block for an overlong line (the block format, whole lines of bytes, stays the
#: same for the worker processes): ``MARK length NUL excerpt``. A real row holding NUL
#: bytes is rejected anyway, so the marker can never pass for one.
OVERLONG_MARK = b"\x00cdrnet-line-too-long\x00"


def excerpt(text: str) -> str:
    """A rejected line as rejects.csv keeps it: whole when short, else its start and its length."""
    if len(text) <= EXCERPT_CHARS:
        return text
    return f"{text[:EXCERPT_CHARS]}... [{len(text.encode('utf-8', errors='replace'))} bytes]"


def overlong_marker(length: int, head: bytes) -> bytes:
    """The line that stands for an overlong one: its length and a bounded excerpt."""
    shown = head[: EXCERPT_CHARS * 4].replace(b"\x00", b"").replace(b"\n", b" ")
    shown = shown.decode("utf-8", errors="ignore")[:EXCERPT_CHARS].encode("utf-8")
    return OVERLONG_MARK + str(length).encode() + b"\x00" + shown


def read_overlong(line: bytes) -> tuple[int, str] | None:
    """(length, excerpt) when a block line is an overlong line's marker, else None."""
    if not line.startswith(OVERLONG_MARK):
        return None
    length, _, shown = line[len(OVERLONG_MARK):].partition(b"\x00")
    return int(length or 0), shown.decode("utf-8", errors="replace")


def _may_hold_long_line(body: bytes) -> bool:
    """Whether a line of ``body`` may exceed MAX_LINE_BYTES, from a newline search per half-bound window.

    A line longer than the bound covers a whole aligned window of half its size, so when every
    such window holds a newline (the search stops at the first, a few hundred bytes in) no line
    is too long, and the block's line ends need not be listed at all.
    """
    half = MAX_LINE_BYTES // 2
    return any(body.find(b"\n", a, a + half) < 0 for a in range(0, len(body) - half + 1, half))


def _cap_long_lines(body: bytes) -> bytes:
    """Replace lines longer than MAX_LINE_BYTES inside a block by their markers."""
    if len(body) <= MAX_LINE_BYTES or not _may_hold_long_line(body):
        return body
    nl = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10)
    starts = np.concatenate([[0], nl + 1])[: len(nl) + (0 if body.endswith(b"\n") else 1)]
    ends = np.concatenate([nl, [len(body)]])[: len(starts)]
    long = np.flatnonzero(ends - starts > MAX_LINE_BYTES)
    if not len(long):
        return body
    parts, pos = [], 0
    for k in long.tolist():
        s, e = int(starts[k]), int(ends[k])
        parts += [body[pos:s], overlong_marker(e - s, body[s : s + EXCERPT_CHARS * 4])]
        pos = e
    parts.append(body[pos:])
    return b"".join(parts)


class BlockReader:
    """Iterate a byte stream as UTF-8 blocks of whole lines, in bounded memory.

    Every line ending counts: ``\\n``, ``\\r\\n`` and a lone ``\\r`` (old Mac exports), mixed
    freely, end a line, so a line number means what an editor shows. A UTF-8 BOM is
    dropped. NUL bytes padding the end of the file (a copy cut short, a pre-allocated
    file) are not a line: they are dropped and counted in ``nul_padding``. A line longer
    than :data:`MAX_LINE_BYTES` is replaced by a marker (:func:`overlong_marker`) while it
    is read, so memory stays within a block plus that bound whatever the input. A last line
    with no line break after it is numbered in ``unterminated_line``: a copy cut short ends so,
    and a cut inside a row's last field leaves a row that still splits into every field.
    """

    def __init__(self, stream: BinaryIO, block_size: int | None = None) -> None:
        self.stream = stream
        self.block_size = block_size or BLOCK_SIZE
        self.later_size = block_size or later_block_size()
        self.nul_padding = 0  # bytes of NUL padding dropped at the end of the stream
        self.overlong = 0  # lines cut short for their length
        self.unterminated_line = 0  # the last line's number when no line break follows it, else 0
        self._blocks: Iterator[Block] | None = None

    def _chunks(self) -> Iterator[tuple[bytes, int]]:
        """Decoded UTF-8 text with every line ending turned into ``\\n``, and raw bytes consumed."""
        raw = self.stream.read(self.block_size)
        encoding = sniff_encoding(raw[:65536])
        if encoding == "utf-8-sig":
            raw, encoding = raw[len(codecs.BOM_UTF8):], "utf-8"
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        # UTF-8 passes through untouched (blocks are cut at newlines, so no character is
        # split): Arrow validates it, and a block with a bad byte falls back to the
        # Python splitter, which decodes with replacement characters like this decoder.
        passthrough = encoding == "utf-8"
        ascii_so_far = passthrough  # nothing but ASCII read yet: cp1252 reads it the same
        held_cr = b""  # a chunk's last \r waits: the next chunk may start with its \n
        while raw:
            if ascii_so_far and not raw.isascii():
                ascii_so_far = False
                if _cp1252_not_utf8(raw):
                    passthrough, decoder = False, codecs.getincrementaldecoder("cp1252")(errors="replace")
            text = held_cr + (raw if passthrough else _to_utf8(raw, decoder))
            consumed = len(raw)
            raw = self.stream.read(self.later_size)
            held_cr = b""
            if raw and text.endswith(b"\r"):
                text, held_cr = text[:-1], b"\r"
            yield _one_line_ending(text), consumed
        tail = held_cr + (b"" if passthrough else decoder.decode(b"", final=True).encode("utf-8"))
        if tail:
            yield _one_line_ending(tail), 0

    def __iter__(self) -> BlockReader:
        return self

    def __next__(self) -> Block:
        if self._blocks is None:
            self._blocks = self._read()
        return next(self._blocks)

    def _read(self) -> Iterator[Block]:
        line, carry, consumed = 1, b"", 0
        long_len, long_head, long_nul = 0, b"", True  # the overlong line being skipped, if any
        for text, n_raw in self._chunks():
            consumed += n_raw
            if long_len:
                nl = text.find(b"\n")
                part = text if nl < 0 else text[:nl]
                long_len += len(part)
                long_nul = long_nul and not part.strip(b"\x00")
                if nl < 0:
                    continue
                text = overlong_marker(long_len, long_head) + text[nl:]
                long_len = 0
            body, carry = _whole_lines(carry, text)
            if len(carry) > MAX_LINE_BYTES:
                long_len, long_head, long_nul = len(carry), carry[: EXCERPT_CHARS * 4], not carry.strip(b"\x00")
                carry = b""
            if body:
                capped = _cap_long_lines(body)
                if b"\x00" in capped:  # a marker starts with NUL: most blocks hold none
                    self.overlong += capped.count(OVERLONG_MARK)
                n = newlines(capped)
                yield Block(capped, line, n, consumed)
                line, consumed = line + n, 0
        if long_len:
            if long_nul:
                self.nul_padding += long_len
            else:
                carry = overlong_marker(long_len, long_head)
        kept = carry if carry.startswith(OVERLONG_MARK) else carry.rstrip(b"\x00")
        self.nul_padding += len(carry) - len(kept)
        if kept:
            self.overlong += kept.count(OVERLONG_MARK)
            n = count_lines(kept)
            if not kept.endswith(b"\n"):
                self.unterminated_line = line + n - 1
            yield Block(kept, line, n, consumed)


def _whole_lines(carry: bytes, text: bytes) -> tuple[bytes, bytes]:
    """(the whole lines of ``carry + text``, the unfinished last line), copying the block once at most.

    ``carry + text`` then two slices copied every 16 MB block twice; the lines are joined from a view
    instead, and a chunk that ends a line with nothing carried is passed on as it is.
    """
    cut = text.rfind(b"\n")
    if cut < 0:
        return b"", carry + text
    if not carry and cut == len(text) - 1:
        return text, b""
    return b"".join((carry, memoryview(text)[: cut + 1])), text[cut + 1 :]


def _one_line_ending(text: bytes) -> bytes:
    if b"\r" not in text:
        return text
    return text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


@dataclass
class ReadBlocks:
    """A whole stream's blocks, read once and iterated as often as needed, with the reader's counts.

    A small dump read ahead (loader/smallbatch.py) is iterated by the look-ahead and again by its
    own parse; keeping its blocks (at most a few MB) spares reading, line-counting and line-ending
    the file a second time, and both parses see the very same text.
    """

    blocks: list[Block]
    nul_padding: int = 0
    overlong: int = 0
    unterminated_line: int = 0

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)


def read_all_blocks(stream: BinaryIO, block_size: int | None = None) -> ReadBlocks:
    """Every block of ``stream`` (see :class:`BlockReader`), kept: for small streams only."""
    reader = iter_blocks(stream, block_size)
    blocks = list(reader)
    return ReadBlocks(blocks, reader.nul_padding, reader.overlong, reader.unterminated_line)


def iter_blocks(stream: BinaryIO, block_size: int | None = None) -> BlockReader:
    """Yield UTF-8 blocks cut at line ends (see :class:`BlockReader`)."""
    return BlockReader(stream, block_size)


#: A sheet's CSV text with what the analyst should know about how its cells were read.
Sheet = tuple[str, bytes, list[str]]
MERGE_REF = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _merged_ranges(wb: object, ws: object) -> list[tuple[int, int, int, int]]:
    """(first row, first col, last row, last col) of every merged range of a read-only sheet.

    Read-only mode (the only one that streams a million-row sheet) does not expose merged
    cells, so they are read from the sheet's XML, where they follow the rows.
    """
    from openpyxl.utils import column_index_from_string

    try:
        xml = wb._archive.read(ws._worksheet_path)  # type: ignore[attr-defined]
    except (AttributeError, KeyError):
        return []
    return [(int(r1), column_index_from_string(c1.decode()), int(r2), column_index_from_string(c2.decode()))
            for c1, r1, c2, r2 in MERGE_REF.findall(xml)]


def _column_kinds(values: list[object]) -> dict[int, str]:
    """For a header-like row (3+ text cells): columns whose name says date, time or both."""
    texts = [v.lower() if isinstance(v, str) else "" for v in values]
    if sum(bool(t) for t in texts) < 3:
        return {}
    kinds = {}
    for k, t in enumerate(texts):
        date, time = "date" in t, "time" in t
        if date or time:
            kinds[k] = "datetime" if date and time else "date" if date else "time"
    return kinds


def xlsx_to_csv_streams(stream: BinaryIO) -> Iterator[Sheet]:
    """Render each worksheet as CSV text (one row per line) for the text pipeline, as Excel shows it.

    - Date cells are written as the cell's format shows them (a date-only format gives the
      date, a time-only format the time), year-first, so a date cell beside a time column
      combines into one time and never sways the day-first/month-first decision.
    - A plain number in a column named for a date or time is an Excel serial (45033 is
      17 April 2023, 0.5 is 12:00:00) and is read as one, with a note.
    - A merged range shows its value in every cell it covers.
    - Formulas give their cached value (what Excel shows); hidden sheets are read and noted.
    - Numbers Excel already turned into floats show their damage (``3.5E+15``).
    """
    from openpyxl import load_workbook
    from openpyxl.utils.datetime import from_excel

    wb = load_workbook(io.BytesIO(stream.read()), read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            notes: list[str] = []
            if getattr(ws, "sheet_state", "visible") != "visible":
                notes.append(f"sheet '{ws.title}' is hidden in Excel; it was read like the others")
            merged = _merged_ranges(wb, ws)
            merged_values: dict[tuple[int, int, int, int], object] = {}
            kinds: dict[int, str] = {}
            serials = 0
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            for r, row in enumerate(ws.iter_rows(), start=1):
                values: list[object] = []
                for c, cell in enumerate(row, start=1):
                    value = getattr(cell, "value", None)
                    if merged:
                        for rng in merged:
                            if rng[0] <= r <= rng[2] and rng[1] <= c <= rng[3]:
                                if (r, c) == (rng[0], rng[1]):
                                    merged_values[rng] = value
                                elif value is None:
                                    value = merged_values.get(rng)
                                break
                    kind = kinds.get(c - 1)
                    if kind and isinstance(value, int | float) and not isinstance(value, bool):
                        as_date = _serial(value, kind, wb.epoch, from_excel)
                        if as_date is not None:
                            value, serials = as_date, serials + 1
                    values.append(value)
                kinds = _column_kinds(values) or kinds
                writer.writerow(["" if v is None else _cell_text(v, fmt_of(row, k)) for k, v in enumerate(values)])
            if serials:
                notes.append(f"sheet '{ws.title}': {serials} plain number(s) in date/time columns read as Excel "
                             f"serial dates/times")
            data = buf.getvalue().encode("utf-8")
            if data.strip(b",\n"):
                yield ws.title, data, notes
    finally:
        wb.close()


def fmt_of(row: tuple, k: int) -> str:
    """The number format of a row's k-th cell (General when it has none)."""
    return (getattr(row[k], "number_format", "General") or "General") if k < len(row) else "General"


def _serial(value: float, kind: str, epoch: object, from_excel: object) -> object | None:
    """An Excel serial number in a date/time column as a date, time or datetime; None if out of range."""
    import datetime as dt

    if kind == "time" and 0 <= value < 1:
        seconds = round(value * 86400)
        return dt.time(seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)
    if 1 <= value < 2958466:
        when = from_excel(value, epoch)  # type: ignore[operator]
        if isinstance(when, dt.datetime):
            when = when.replace(microsecond=0) + dt.timedelta(seconds=round(when.microsecond / 1e6))
            return when.date() if kind == "date" and when.time() == dt.time(0) else when
    return None


def _cell_text(value: object, number_format: str = "General") -> str:
    import datetime as dt

    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6G}" if abs(value) >= 1e15 else repr(value)
    # Real date cells are written year-first: unambiguous, so they never sway the
    # day-first/month-first decision that text cells of the same dump need. The cell's
    # format decides what Excel shows: a date-only format hides the time part.
    if isinstance(value, dt.datetime):
        fmt = re.sub(r'"[^"]*"|\[[^]]*\]', "", number_format.lower())
        shows_date, shows_time = any(ch in fmt for ch in "yd"), any(ch in fmt for ch in "hs")
        if shows_date and not shows_time or not shows_time and value.time() == dt.time(0):
            return value.strftime("%Y-%m-%d")
        if shows_time and not shows_date:
            return value.strftime("%H:%M:%S")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    return str(value)


def xls_to_csv_streams(stream: BinaryIO) -> Iterator[Sheet]:
    """Render each sheet of a legacy .xls workbook (BIFF, read by xlrd) as CSV text.

    Date cells become year-first text, as for .xlsx, so they never sway the
    day-first/month-first decision; numbers are written as Excel stored them.
    """
    import xlrd

    book = xlrd.open_workbook(file_contents=stream.read(), on_demand=True)  # errors: see parse._read_sheets
    try:
        for sheet in book.sheets():
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            for r in range(sheet.nrows):
                row = []
                for c in range(sheet.ncols):
                    cell = sheet.cell(r, c)
                    if cell.ctype == xlrd.XL_CELL_DATE:
                        value: object = xlrd.xldate_as_datetime(cell.value, book.datemode)
                    elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                        value = ""
                    else:
                        value = cell.value
                    row.append("" if value == "" else _cell_text(value))
                writer.writerow(row)
            data = buf.getvalue().encode("utf-8")
            if data.strip(b",\n"):
                yield sheet.name, data, []
    finally:
        book.release_resources()


class _TableParser(HTMLParser):
    """Collect the rows of every <table> in an HTML page (what "Save as .xls" web exports are)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.tables:
            self.tables[-1].append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_to_csv_streams(stream: BinaryIO) -> Iterator[Sheet]:
    """Render each HTML table as CSV text: one table is one "sheet" (``table1``, ``table2`` …)."""
    raw = stream.read()
    enc = sniff_encoding(raw[:65536])
    parser = _TableParser()
    parser.feed(raw.decode(enc if enc != "utf-8-sig" else "utf-8-sig", errors="replace"))
    parser.close()
    for k, rows in enumerate(parser.tables, start=1):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows(rows)
        data = buf.getvalue().encode("utf-8")
        if data.strip(b",\n"):
            yield f"table{k}", data, []


def sheets_to_csv_streams(kind: str, stream: BinaryIO) -> Iterator[Sheet]:
    """The sheets (or tables) of a workbook-like source as CSV text, by its sniffed kind."""
    reader = {"xlsx": xlsx_to_csv_streams, "xls": xls_to_csv_streams, "html": html_to_csv_streams}[kind]
    return reader(stream)
