"""Stream a dump as UTF-8 blocks of whole lines, whatever its encoding.

Operators and Excel produce UTF-8 (with or without BOM), UTF-16 and cp1252;
everything downstream sees UTF-8 bytes and physical line numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import BinaryIO

BLOCK_SIZE = 16 << 20


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
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _to_utf8(chunk: bytes, decoder: codecs.IncrementalDecoder) -> bytes:
    # Undecodable bytes become U+FFFD: the row is kept (and usually rejected
    # later for its content) rather than silently dropped.
    return decoder.decode(chunk, final=False).encode("utf-8")


def iter_blocks(stream: BinaryIO, block_size: int | None = None) -> Iterator[Block]:
    """Yield UTF-8 blocks cut at line ends; carries partial lines between reads."""
    block_size = block_size or BLOCK_SIZE
    raw = stream.read(block_size)
    encoding = sniff_encoding(raw[:65536])
    if encoding == "utf-8-sig":
        raw, encoding = raw[len(codecs.BOM_UTF8):], "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    # UTF-8 passes through untouched (blocks are cut at newlines, so no character is
    # split): Arrow validates it, and a block with a bad byte falls back to the
    # Python splitter, which decodes with replacement characters like this decoder.
    passthrough = encoding == "utf-8"
    line, carry, consumed = 1, b"", 0
    while raw:
        text = carry + (raw if passthrough else _to_utf8(raw, decoder))
        consumed += len(raw)
        raw = stream.read(block_size)
        cut = text.rfind(b"\n")
        if cut < 0:
            carry = text
            continue
        body, carry = text[: cut + 1], text[cut + 1 :]
        if b"\r" in body:
            body = body.replace(b"\r\n", b"\n")
        n = count_lines(body)
        yield Block(body, line, n, consumed)
        line, consumed = line + n, 0
    tail = carry if passthrough else carry + decoder.decode(b"", final=True).encode("utf-8")
    tail = tail.replace(b"\r\n", b"\n").rstrip(b"\r")
    if tail:
        yield Block(tail, line, count_lines(tail), consumed)


def xlsx_to_csv_streams(stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """Render each worksheet as CSV text (one row per line) for the text pipeline.

    Cells are written as text exactly as Excel stores them, so numbers that
    Excel already turned into floats show their damage (``3.5E+15``).
    """
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(stream.read()), read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            for row in ws.iter_rows(values_only=True):
                writer.writerow(["" if v is None else _cell_text(v) for v in row])
            data = buf.getvalue().encode("utf-8")
            if data.strip(b",\n"):
                yield ws.title, data
    finally:
        wb.close()


def _cell_text(value: object) -> str:
    import datetime as dt

    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6G}" if abs(value) >= 1e15 else repr(value)
    # Real date cells are written year-first: unambiguous, so they never sway the
    # day-first/month-first decision that text cells of the same dump need.
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    return str(value)


def xls_to_csv_streams(stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """Render each sheet of a legacy .xls workbook (BIFF, read by xlrd) as CSV text.

    Date cells become year-first text, as for .xlsx, so they never sway the
    day-first/month-first decision; numbers are written as Excel stored them.
    """
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=stream.read(), on_demand=True)
    except xlrd.XLRDError as exc:
        from cdrnet.errors import InputError

        raise InputError(f"not a readable .xls workbook: {exc}") from exc
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
                yield sheet.name, data
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


def html_to_csv_streams(stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
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
            yield f"table{k}", data


def sheets_to_csv_streams(kind: str, stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """The sheets (or tables) of a workbook-like source as CSV text, by its sniffed kind."""
    reader = {"xlsx": xlsx_to_csv_streams, "xls": xls_to_csv_streams, "html": html_to_csv_streams}[kind]
    return reader(stream)
