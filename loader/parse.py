"""Parse one dump into canonical session frames, accounting for every line.

Rows are split by Arrow's CSV reader (single-threaded, so rejected rows keep
their physical row numbers); the line numbers of good rows are the block's
lines minus those. If Arrow cannot parse a block at all (broken quoting), the
block falls back to Python's csv module so no line is lost.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from cdrnet import __version__
from cdrnet.errors import CdrnetError, CorruptInputError, UnknownLayoutError
from cdrnet.loader import native
from cdrnet.loader.dateorder import DateDecision
from cdrnet.loader.dedupe import HashSet
from cdrnet.loader.detect import SCAN_LINES, Detection, detect
from cdrnet.loader.identifiers import normalise_msisdn
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import (
    _STR,
    BlockResult,
    Options,
    decide_dates,
    is_nondata_text,
    normalise_block,
    str_array,
)
from cdrnet.loader.period import to_utc
from cdrnet.loader.quality import Accumulator, DumpReport
from cdrnet.loader.sources import DumpSource
from cdrnet.loader.strays import HOLD_LIMIT, Held, StrayFilter
from cdrnet.loader.strays import REASON as stray_reason
from cdrnet.loader.textblocks import (
    Block,
    ReadBlocks,
    count_lines,
    excerpt,
    iter_blocks,
    read_all_blocks,
    read_overlong,
    sheets_to_csv_streams,
)


@dataclass
class Rejected:
    """Rejected lines of one block, with their raw text for rejects.csv."""

    lines: np.ndarray
    reasons: list[str]
    texts: list[str]


#: Receives a block's sessions and their key hashes; returns the sessions kept
#: and the line numbers dropped as duplicates.
SessionSink = Callable[[pd.DataFrame, np.ndarray], tuple[pd.DataFrame, np.ndarray]]
RejectSink = Callable[[Rejected, str], None]


def _line_starts(data: bytes) -> np.ndarray:
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    return np.concatenate([[0], nl + 1])


def _after_lines(data: bytes, skip: int) -> bytes:
    """``data`` without its first ``skip`` lines (a preamble: a few lines, found without a pass over the block)."""
    pos = 0
    for _ in range(min(skip, 1000)):
        pos = data.find(b"\n", pos) + 1
        if not pos:
            return b""
    if skip > 1000:
        starts = _line_starts(data)
        return data[starts[skip]:] if skip < len(starts) else b""
    return data[pos:]


def _line_text(data: bytes, starts: np.ndarray, k: int) -> str:
    end = starts[k + 1] - 1 if k + 1 < len(starts) else len(data)
    return data[starts[k] : end].decode("utf-8", errors="replace")


def name_lines_pure(data: bytes, names: list[bytes]) -> list[int]:
    """0-based lines of ``data`` holding any of ``names`` with its ASCII letters lower-cased, in order,
    each once: the reference for ``native.name_lines``. After a hit the search goes on from the next
    line, so a name on every row costs a find per row, not per occurrence."""
    low = data.lower()
    hits: list[int] = []
    for name in names:
        at = low.find(name)
        while at >= 0:
            hits.append(at)
            end = low.find(b"\n", at)
            at = low.find(name, end + 1) if end >= 0 else -1
    if not hits:
        return []
    return sorted(set((np.searchsorted(_line_starts(data), hits, side="right") - 1).tolist()))


#: Lines :func:`~cdrnet.loader.detect.detect` reads at most: a header in the first ``SCAN_LINES``,
#: then up to 50 rows under it (``_pad_to_data``); a few more for safety.
HEAD_LINES = SCAN_LINES + 56


def detection_head(data: bytes) -> list[str]:
    """The first lines of a block (of its first MB at most) as text, for the layout detector.

    The same lines ``data[:1 MB].decode().split("\\n")`` gives, but only the :data:`HEAD_LINES` the
    detector reads: decoding and splitting the whole megabyte cost ~1.3 ms a dump (0.5 CPU s on
    400 dumps) for lines never looked at. A newline byte is never inside a UTF-8 sequence, so
    cutting at one decodes the lines before it exactly as the whole megabyte would.
    """
    head = data[: 1 << 20]
    end = -1
    for _ in range(HEAD_LINES):
        end = head.find(b"\n", end + 1)
        if end < 0:
            break
    if end >= 0:
        head = head[: end + 1]
    return head.decode("utf-8", errors="replace").split("\n")


def _split_arrow(data: bytes, det: Detection) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """A block's full rows as Arrow's CSV reader splits them, and the rows it refused (1-based, text).

    An all-ASCII block (``bytes.isascii``, a word-at-a-time pass: ~25 GB/s) is read without Arrow's
    per-cell UTF-8 check (``check_utf8``): every cell of it is ASCII, so valid UTF-8, and the check
    was ~10 % of reading the 400-dump case's blocks. Any other block is checked cell by cell as
    before (an invalid one raises, and the Python splitter reads it).
    """
    bad: list[tuple[int, str]] = []

    def handler(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text))
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=False, column_names=det.columns,
                                       block_size=max(1 << 20, len(data) + 1)),
        parse_options=pacsv.ParseOptions(
            delimiter=det.delimiter, quote_char='"', double_quote=True, newlines_in_values=False,
            ignore_empty_lines=False, invalid_row_handler=handler,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: _SPLIT_TYPE for c in det.columns}, strings_can_be_null=False,
            quoted_strings_can_be_null=False, check_utf8=not data.isascii(),
        ),
    )
    return _frame_of(table), bad


def _arrow_str_dtype() -> pd.api.extensions.ExtensionDtype | None:
    """The dtype the splitter's frames hold text in: the one ``Table.to_pandas`` gives an Arrow string
    column when it is pandas' Arrow-backed ``str`` (pandas 3, or 2.x with ``future.infer_string``),
    else pandas 3's ``str`` itself where this pandas has it (2.3, which pyproject.toml allows: its
    ``to_pandas`` gives Python objects, which no fast path of the normaliser reads; the 400-dump case
    took 2.4x the CPU of pandas 3)."""
    dtype = pa.table({"a": pa.array([""])}).to_pandas().dtypes.iloc[0]
    return dtype if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" else _STR


_STR_DTYPE = _arrow_str_dtype()


def _text_as_str(typ: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    """``to_pandas``' ``types_mapper``: Arrow text as :data:`_STR_DTYPE` (pandas 2's own mapping gives
    Python objects)."""
    return _STR_DTYPE if pa.types.is_string(typ) or pa.types.is_large_string(typ) else None


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table.to_pandas()``, with text in the loader's :data:`_STR_DTYPE` under pandas 2 too."""
    return table.to_pandas(types_mapper=_text_as_str)


#: The type the splitter asks Arrow's CSV reader for: ``large_string`` when the frame's columns
#: store it (pandas' Arrow ``str``), so each column is wrapped as read, without a cast that copied
#: every column's offsets (22 columns a dump, 400 dumps); ``string`` otherwise (``to_pandas``).
_SPLIT_TYPE = pa.large_string() if _STR_DTYPE is not None else pa.string()


def _str_template() -> object | None:
    """An empty array of :data:`_STR_DTYPE` whose ``_from_pyarrow_array`` wraps Arrow strings without
    ``ArrowStringArray.__init__``'s type checks, cast and throw-away ``ArrowDtype`` (~35 us a column);
    None when this pandas has no such method (the constructor is used)."""
    if _STR_DTYPE is None:
        return None
    from pandas.arrays import ArrowStringArray

    if not callable(getattr(ArrowStringArray, "_from_pyarrow_array", None)):
        return None
    template = ArrowStringArray(pa.chunked_array([], type=pa.large_string()), dtype=_STR_DTYPE)
    return template


_STR_TEMPLATE = _str_template()


def _wrap_text(column: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """One ``large_string`` column as a pandas array of :data:`_STR_DTYPE`, sharing its buffers."""
    if _STR_TEMPLATE is not None:
        return _STR_TEMPLATE._from_pyarrow_array(column)  # type: ignore[attr-defined]  # noqa: SLF001
    return str_array(column) if _STR_DTYPE is _STR else pd.arrays.ArrowStringArray(column, dtype=_STR_DTYPE)


def _frame_of(table: pa.Table) -> pd.DataFrame:
    """``table.to_pandas()`` for the splitter's all-text tables, built from its columns directly.

    ``to_pandas`` goes through pandas' general block reconstruction, ~0.25 ms a call more than
    wrapping each column's Arrow strings (as ``large_string``, what it stores) in the same dtype: a
    fixed cost paid once per small dump (0.1 CPU s on the 400-dump case). The splitter reads its
    columns as ``large_string`` already (:data:`_SPLIT_TYPE`), so they are wrapped as they are;
    ``string`` columns are cast first. Any other table (no rows, a pandas whose ``str`` is not
    Arrow's) takes ``to_pandas``.
    """
    types = table.schema.types
    if _STR_DTYPE is None or not table.num_rows or not all(
            pa.types.is_string(t) or pa.types.is_large_string(t) for t in types):
        return to_pandas(table)
    arrays = [_wrap_text(column if pa.types.is_large_string(column.type) else column.cast(pa.large_string()))
              for column in table.columns]
    return pd.DataFrame._from_arrays(arrays, columns=pd.Index(table.column_names), index=pd.RangeIndex(table.num_rows),  # noqa: SLF001
                                     verify_integrity=False)


def _split_python(data: bytes, det: Detection) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    rows, bad = [], []
    lines = data.decode("utf-8", errors="replace").split("\n")
    for k, line in enumerate(lines, start=1):
        if k == len(lines) and not line:  # the empty string after a final newline is not a line
            break
        try:
            fields = next(csv.reader([line], delimiter=det.delimiter), [])
        except csv.Error:
            fields = []
        if len(fields) == len(det.columns):
            rows.append(fields)
        else:
            bad.append((k, line))
    # Arrow text (pandas 3's "string"; pandas 2's, which pyproject.toml allows, is Python storage,
    # whose factorising compares C strings: "" and "\x00" hashed as one value).
    return pd.DataFrame(rows, columns=det.columns, dtype=pd.StringDtype("pyarrow")), bad


def _unterminated_row_note(unterminated: int, last_row: int, part: str) -> str | None:
    """A note when the stream's last line, with no line break after it, loaded as a row.

    A dump cut short in transfer ends mid-line; a cut that falls inside the row's last field
    leaves every field in place (no ``wrong_field_count``), so the row loads with that field
    shortened (an Airtel cell id, a Jio session duration and so its end time). Operators' own
    files may also end without a line break, so the row is kept, and the analyst told to check it.
    """
    if not unterminated or unterminated != last_row:
        return None
    where = f"sheet '{part}' " if part else ""
    return (f"{where}line {unterminated:,}, the last, loaded but no line break follows it: a file cut short "
            f"ends so, and its last field may then be shorter than sent; compare that row with the "
            f"operator's copy")


def split_rows(data: bytes, line_nos: np.ndarray, det: Detection
               ) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """Split a block into full rows (with line numbers) and invalid lines.

    ``line_nos`` holds the file line number of each line of ``data`` (padding lines
    were taken out before, so they need not be consecutive).
    """
    n_lines = len(line_nos)
    if not n_lines:
        return pd.DataFrame({c: pd.Series(dtype=pd.StringDtype("pyarrow")) for c in det.columns}), line_nos, []
    try:
        frame, bad = _split_arrow(data, det)
    except (pa.ArrowInvalid, pa.ArrowException):
        frame, bad = _split_python(data, det)
    if any(num is None or num < 1 for num, _ in bad) or len(frame) + len(bad) != n_lines:
        frame, bad = _split_python(data, det)
    bad_rel = np.array(sorted(num for num, _ in bad), dtype=np.int64)
    mask = np.ones(n_lines, dtype=bool)
    mask[bad_rel - 1] = False
    return frame, line_nos[mask], [(int(line_nos[num - 1]), text) for num, text in bad]


#: Bytes a padding line is made of: blank lines and rows of empty cells (Excel pads a
#: sheet's used range with them, sometimes hundreds of thousands).
_PAD_BYTES = np.zeros(256, dtype=bool)
_PAD_BYTES[list(b" \t,;|\"'\n\x0b\x0c")] = True


def _pad_lines_pure(data: bytes) -> tuple[int, np.ndarray]:
    """(lines of ``data``, 0-based numbers of its padding lines), vectorised: the reference for
    ``native.pad_lines``.

    A padding line is made of padding bytes only (an empty quoted cell starts with two quotes, so a
    line opening a quote without a second one is not); an empty line always is. Ordinary blocks are
    passed over after a look at their line ends.
    """
    if not data:
        return 0, np.zeros(0, dtype=np.int64)
    arr = np.frombuffer(data, dtype=np.uint8)
    starts = _line_starts(data)
    if data.endswith(b"\n"):
        starts = starts[:-1]  # the empty string after a final newline is not a line
    n = len(starts)
    nxt = np.append(starts[1:], len(arr))  # where each line's bytes, its newline included, end
    ends = np.append(starts[1:] - 1, len(arr))  # each line's newline (or the end)
    last = np.maximum(ends - 1, starts)
    second = np.minimum(starts + 1, len(arr) - 1)
    cand = (_PAD_BYTES[arr[starts]] & _PAD_BYTES[arr[last]]
            & ((arr[starts] != ord('"')) | (arr[second] == ord('"')))) | (ends == starts)
    if not cand.any():
        return n, np.zeros(0, dtype=np.int64)
    pad = np.zeros(n, dtype=bool)
    pad[cand] = _solid_bytes(arr, starts, nxt, cand) == 0
    return n, np.flatnonzero(pad)


def _drop_padding(data: bytes, first: int) -> tuple[bytes, np.ndarray, int]:
    """Take out blank and empty-cell lines (non-data) before splitting.

    Returns the remaining bytes, the file line number of each remaining line and how
    many lines were padding: a sheet padded with 500,000 empty rows then costs a
    few numpy passes instead of half a million rows through the normaliser. The padding
    lines come from the kernel (a memchr per line) or :func:`_pad_lines_pure`; an ordinary
    block, which has none, is not copied.
    """
    found = native.pad_lines(data)
    n, pad_at = found if found is not None else _pad_lines_pure(data)
    every = np.arange(first, first + n, dtype=np.int64)
    if not len(pad_at):
        return data, every, 0
    pad = np.zeros(n, dtype=bool)
    pad[pad_at] = True
    return _kept_lines(data, pad, n), every[~pad], len(pad_at)


#: Padding this close to a block's end (a footer's blank lines: every padded block of the 400-dump
#: case has it in its last 4 lines) is cut by finding the few last lines from the end.
_TAIL_LINES = 256


def _line_starts_from(data: bytes, n: int, k: int) -> np.ndarray:
    """Byte starts of lines ``k``..``n``-1 of ``data`` (``n`` lines), found from its end: a few
    ``rfind`` calls for a footer, where :func:`_line_starts` passes over the whole block."""
    bound = len(data) - 1 if data.endswith(b"\n") else len(data)  # the last line's newline, or the end
    start = 0
    for _ in range(n - k):
        start = data.rfind(b"\n", 0, bound) + 1
        bound = max(start - 1, 0)
    return _line_starts(data[start:])[: n - k] + start


def _kept_lines(data: bytes, pad: np.ndarray, n: int) -> bytes:
    """``data`` without its padding lines (``pad``, one flag per line), joined from the runs of kept lines.

    Padding comes in runs (a footer's blank lines, a sheet's empty rows), so the kept bytes are a few
    slices: joining them copies at memcpy speed, where a per-byte mask cost ~2 ms per MB (0.25 CPU s
    on the 400-dump case, most of ``_drop_padding``). Only the starts of lines from the first padding
    line on are looked up (the kept runs begin at line 0 or after a padding line, and end at one),
    from the end when that is within :data:`_TAIL_LINES` of it: the line starts of the whole block
    were ~0.07 CPU s of the 400-dump case's 109 blocks with a footer.
    """
    first_pad = int(np.argmax(pad))
    starts = np.zeros(n, dtype=np.int64)
    if n - first_pad <= _TAIL_LINES:
        starts[first_pad:] = _line_starts_from(data, n, first_pad)
    else:
        starts = _line_starts(data)[:n]
    nxt = np.append(starts[1:], len(data))
    edges = np.flatnonzero(np.diff(np.concatenate([[True], pad, [True]]).astype(np.int8)))
    run_starts, run_ends = edges[0::2], edges[1::2]  # [first, last + 1) of each run of kept lines
    view = memoryview(data)
    return b"".join([view[lo:hi] for lo, hi in zip(starts[run_starts].tolist(), nxt[run_ends - 1].tolist(),
                                                     strict=True)])


def _solid_bytes(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Bytes other than padding in each candidate line ([start, end), never empty: its newline counts).

    Only the candidates' bytes are looked at: a block with one blank line among 100,000 rows no
    longer classifies every byte. When the candidates are much of the block (a sheet padded with
    empty rows), one pass over the whole block is cheaper than gathering their bytes.
    """
    lens = ends[cand] - starts[cand]
    total = int(lens.sum())
    if total * 8 > len(arr):
        return np.add.reduceat(~_PAD_BYTES[arr], starts, dtype=np.int64)[cand]
    offs = np.cumsum(lens) - lens
    idx = np.repeat(starts[cand] - offs, lens) + np.arange(total)
    return np.add.reduceat(~_PAD_BYTES[arr[idx]], offs, dtype=np.int64)


def _blank_nul_lines(data: bytes) -> tuple[bytes, dict[int, tuple[str, str]]]:
    """Overwrite lines containing NUL with spaces; say why each was (0-based line -> reason, text).

    A line of NUL bytes alone is padding and becomes a blank (non-data) line; an
    overlong line's marker (see textblocks) is rejected ``line_too_long`` with its excerpt;
    any other line with a NUL is rejected ``nul_byte``.
    """
    if b"\x00" not in data:
        return data, {}
    arr = np.frombuffer(data, dtype=np.uint8).copy()
    starts = _line_starts(data)
    hit = np.unique(np.searchsorted(starts, np.flatnonzero(arr == 0), side="right") - 1)
    why: dict[int, tuple[str, str]] = {}
    for k in hit.tolist():
        end = starts[k + 1] - 1 if k + 1 < len(starts) else len(arr)
        line = data[starts[k] : end]
        long = read_overlong(line)
        if long is not None:
            why[k] = ("line_too_long", f"{long[1]}... [{long[0]} bytes]")
        elif line.strip(b"\x00 \t\r"):
            why[k] = ("nul_byte", "<line with NUL bytes>")
        # A rejected line becomes one field of SOH (never a row, never padding); NULs alone, blanks.
        arr[starts[k] : end] = 1 if k in why else 32
    return arr.tobytes(), why


@dataclass
class BlockOutput:
    """What one block turned into, before cross-block duplicate checks."""

    sessions: pd.DataFrame
    key_hash: np.ndarray
    rejected: Rejected  # everything but duplicates (only the parent sees all blocks)
    nondata: int
    stats: dict[str, int]
    decision: DateDecision | None = None  # set on the block that decided the dump's date order
    row_hash: np.ndarray | None = None  # per session: hash of its whole raw row (see BlockResult)
    kind: str = "sessions"  # "calls": ``sessions`` holds call events (cdrnet/model.py CALL_SCHEMA)


@dataclass
class PreparedBlock:
    """A block split into rows, its date order decided, waiting for the normaliser.

    Split out of :func:`process_block` so several small dumps' blocks can be normalised
    as one (loader/smallbatch.py) and then finished each as its own.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    det: Detection  # with the date order decided
    decision: DateDecision | None  # set when this block decided it
    nondata: int
    rejected: Rejected  # lines the splitter refused (wrong field count, NUL bytes)
    text_data: bytes  # the block as read (NUL lines blanked): rejected rows' text comes from it
    first: int
    sha: str
    part: str


def prepare_block(data: bytes, first: int, det: Detection, opts: Options, sha: str, part: str,
                  name: str = "") -> PreparedBlock:
    """Split a block into rows and decide its dump's date order (a dump's first block)."""
    data, nul_lines = _blank_nul_lines(data)
    text_data = data
    data, line_nos, padding = _drop_padding(data, first)
    frame, lines, bad = split_rows(data, line_nos, det)
    decision = None
    if det.decision is None:
        decision = decide_dates(frame, det, opts, name or sha[:12])
        det = replace(det, decision=decision)
    nondata = padding
    rej_lines, rej_reasons, rej_texts = [], [], []
    for line_no, text in bad:
        if line_no - first in nul_lines:
            reason, shown = nul_lines[line_no - first]
            rej_lines.append(line_no)
            rej_reasons.append(reason)
            rej_texts.append(shown)
        elif is_nondata_text(text):
            nondata += 1
        else:
            rej_lines.append(line_no)
            rej_reasons.append("wrong_field_count")
            rej_texts.append(excerpt(text))
    assert det.layout is not None
    return PreparedBlock(frame, lines, det, decision, nondata, Rejected(np.array(rej_lines, dtype=np.int64),
                         rej_reasons, rej_texts), text_data, first, sha, part)


def normalise_prepared(prep: PreparedBlock, opts: Options) -> BlockResult:
    """The normaliser of the block's kind (sessions or call events), on one prepared block."""
    assert prep.det.layout is not None
    if prep.det.layout.kind == "calls":
        from cdrnet.loader.calls import normalise_calls_block

        return normalise_calls_block(prep.frame, prep.lines, prep.det, opts, prep.sha, prep.part)
    return normalise_block(prep.frame, prep.lines, prep.det, opts, prep.sha, prep.part)


def complete_block(prep: PreparedBlock, result: BlockResult) -> BlockOutput:
    """A prepared block and its normalised rows as one :class:`BlockOutput` (rejects with their text)."""
    rej = prep.rejected
    rej_lines, rej_reasons, rej_texts = rej.lines.tolist(), list(rej.reasons), list(rej.texts)
    if len(result.rejects):
        starts = _line_starts(prep.text_data)
        for line_no, reason in zip(result.rejects["line"].tolist(), result.rejects["reason"].tolist(), strict=True):
            rej_lines.append(line_no)
            rej_reasons.append(reason)
            rej_texts.append(excerpt(_line_text(prep.text_data, starts, line_no - prep.first)))
    rejected = Rejected(np.array(rej_lines, dtype=np.int64), rej_reasons, rej_texts)
    assert prep.det.layout is not None
    return BlockOutput(result.sessions, result.key_hash, rejected, prep.nondata + int(result.nondata), result.stats,
                       prep.decision, result.row_hash, prep.det.layout.kind)


def process_block(data: bytes, first: int, det: Detection, opts: Options, sha: str, part: str,
                  name: str = "") -> BlockOutput:
    """Split, normalise and classify one block; a pure function, so it runs on a worker thread
    (it shares nothing it changes: the caches it fills are ``functools.lru_cache``, thread-safe).

    A dump's first block (``det.decision`` is None) also decides its date order
    and period, from every date cell of the block, before normalising.
    """
    prep = prepare_block(data, first, det, opts, sha, part, name)
    return complete_block(prep, normalise_prepared(prep, opts))


def _second_layout_rejects(data: bytes, first: int) -> BlockOutput:
    """Lines under a second layout's header: rejected (blank ones are non-data), never read
    under the first layout's column names."""
    n = count_lines(data)
    rows, line_nos, _ = _drop_padding(data, first)
    texts = rows.decode("utf-8", errors="replace").split("\n")[: len(line_nos)]
    rejected = Rejected(line_nos, ["second_layout"] * len(line_nos), [excerpt(t) for t in texts])
    return BlockOutput(pd.DataFrame(), np.zeros(0, dtype=np.uint64), rejected, n - len(line_nos), {})


def _read_sheets(source: DumpSource, fh: BinaryIO) -> list[tuple[str, bytes, list[str]]]:
    """Every sheet of a workbook as CSV text, or a refusal naming the file.

    openpyxl and xlrd raise whatever their parsers meet in a damaged workbook (OSError,
    KeyError, XML syntax errors, ...): every one means "this file cannot be read", so
    all are turned into one typed error and the batch goes on with the next file.
    """
    try:
        return list(sheets_to_csv_streams(source.kind, fh))
    except CdrnetError:
        raise
    except Exception as exc:  # noqa: BLE001 - third-party parsers of hostile bytes raise anything
        kind = {"xlsx": ".xlsx workbook", "xls": ".xls workbook", "html": "HTML table"}[source.kind]
        raise CorruptInputError(f"{source.name}: not a readable {kind} ({type(exc).__name__}: {exc})") from exc


def block_key(sha: str, part: str, first: int, data: bytes) -> tuple:
    """Names one block of one dump read from the look-ahead's kept blocks (``DumpParser.replays``).

    No hash of the bytes: the look-ahead and the dump's own parse iterate the very same
    :class:`~cdrnet.loader.textblocks.ReadBlocks`, so a block's place and length name its text
    (hashing every block cost ~0.4 CPU s on the 400-dump case). A dump read from its file has
    no key: nothing read ahead stands in for it.
    """
    return (sha, part, first, len(data))


class Captured(Exception):  # noqa: N818 - a signal, not an error: the look-ahead stops here
    """Raised by a capturing :class:`DumpParser` at a dump's first block to normalise."""

    def __init__(self, key: tuple, data: bytes, first: int, det: Detection, detection: Detection, part: str,
                 name: str) -> None:
        super().__init__(name)
        self.key, self.data, self.first, self.det, self.detection = key, data, first, det, detection
        self.part, self.name = part, name


def _record_decision(report: DumpReport, d: DateDecision) -> None:
    """Put a dump's date order and stated period on its report (the first sheet's, for workbooks)."""
    if d.period_start_utc is not None and d.period_end_utc is not None and not report.period_source:
        report.period_start_utc = d.period_start_utc.isoformat()
        report.period_end_utc = d.period_end_utc.isoformat()
        report.period_source = "preamble"
    if not report.date_order_source:
        report.date_order, report.date_order_source = d.order, d.source
    elif d.source and (d.order, d.source) != (report.date_order, report.date_order_source):
        report.notes.append(f"another sheet's dates read {d.order} ({d.source}); the first sheet's "
                            f"{report.date_order} is recorded")
    if d.note and d.note not in report.notes:
        report.notes.append(d.note)


class DumpParser:
    """Parse one dump's text stream with a detected layout.

    With a pool (worker threads: ``loader.ingest.parse_pool``), blocks are normalised on its
    threads while this one reads the next blocks and writes finished ones, in input order
    (duplicate checks and line accounting need that order).
    """

    def __init__(self, layouts: list[Layout], opts: Options, on_sessions: SessionSink, on_rejects: RejectSink,
                 pool: Executor | None = None, workers: int = 1, on_calls: SessionSink | None = None) -> None:
        self.layouts = layouts
        self.opts = opts
        self.on_sessions = on_sessions
        #: Receives call events (a voice/SMS CDR or tower dump) as ``on_sessions`` receives sessions.
        self.on_calls = on_calls or on_sessions
        self.on_rejects = on_rejects
        self.pool = pool
        #: Blocks started and not yet written: one per worker thread, so each finds the next block
        #: waiting when it finishes one while this thread writes; each block more in flight held
        #: ~100 MB at 10M rows (docs/benchmarks.md, "One big dump on threads").
        self.in_flight = max(2, workers)
        self._rows_seen = HashSet()  # raw-row hashes of the dump being parsed
        self._strays = StrayFilter()  # rows dated far from the dump's period (per dump)
        self._last_row_line = 0  # the highest line of the stream being parsed that split into a row
        self._msisdn_names: list[bytes] | None = None
        self._headers_seen: dict[str, Detection | None] = {}  # header line text -> its detection
        self._current_header: Detection | None = None
        self._last_reading: Detection | None = None  # the first layout's reading, decision included
        #: Blocks normalised ahead, together with other small dumps' (loader/smallbatch.py), by
        #: :func:`block_key`; a block found here is not normalised again.
        self.precomputed: dict[tuple, BlockOutput] = {}
        #: Lines holding a subscriber column name, of blocks searched ahead (by :func:`block_key`).
        self.name_lines: dict[tuple, list[int]] = {}
        #: Layouts detected ahead (by SHA-256 and part), so a dump is not detected twice.
        self.detections: dict[tuple[str, str], Detection] = {}
        #: Small dumps' blocks as the look-ahead read them (by SHA-256): their own parse reads them
        #: from here, not from the file, and only such a parse takes what was computed ahead.
        self.replays: dict[str, ReadBlocks] = {}
        #: Stop at the first block to normalise, raising :class:`Captured` (smallbatch's look-ahead).
        self.capture = False
        self._detection: Detection | None = None
        self._replaying = False  # the dump's blocks come from ``replays`` (keys: :func:`block_key`)

    def parse(self, source: DumpSource, sha: str, progress: Callable[[int], None] | None = None) -> DumpReport:
        report = DumpReport(name=source.name, sha256=sha, size=source.size, cdrnet_version=__version__, tz=self.opts.tz)
        self._rows_seen = HashSet()
        self._strays = StrayFilter()
        acc = Accumulator(report)
        layout_levels: tuple[str, str | None, bool] = ("flow", None, False)
        self._replaying = False
        if source.kind == "text" and (self.capture or sha in self.replays):
            replay = self.replays.pop(sha, None)
            if replay is None:  # the look-ahead reads a small dump once, for itself and the dump's parse
                with source.opener() as fh:
                    replay = read_all_blocks(fh)
            if self.capture:
                self.replays[sha] = replay
            self._replaying = True
            layout_levels = self._parse_stream(replay, report, acc, "", progress)
            self._release_strays(acc)
            return acc.finish(*layout_levels)
        with source.opener() as fh:
            if source.kind in ("xlsx", "xls", "html"):
                parts = _read_sheets(source, fh)
                if progress and source.size:
                    progress(source.size)
                found = False
                for sheet, data, sheet_notes in parts:
                    report.notes.extend(sheet_notes)
                    before = report.lines_read
                    try:
                        levels = self._parse_stream(iter_blocks(io.BytesIO(data)), report, acc, sheet, None)
                        layout_levels, found = levels, True
                        report.sheets.append(sheet)
                    except UnknownLayoutError:
                        lines = data.count(b"\n")
                        report.lines_read = before + lines
                        report.nondata += lines
                        report.notes.append(f"sheet '{sheet}' has no recognisable header: "
                                            f"its {lines} lines were skipped as non-data")
                if not found:
                    raise UnknownLayoutError(f"{source.name}: no sheet has a recognisable IPDR header")
            else:
                layout_levels = self._parse_stream(iter_blocks(fh), report, acc, "", progress)
        self._release_strays(acc)
        return acc.finish(*layout_levels)

    def _parse_stream(self, blocks: Iterable[Block], report: DumpReport, acc: Accumulator, part: str,
                      progress: Callable[[int], None] | None) -> tuple[str, str | None, bool]:
        """Parse one stream; return the layout's time level, its fallback and whether it maps an event time."""
        pending: deque[tuple[Future | BlockOutput, bytes, int, int]] = deque()
        self._last_row_line = 0

        def finish_oldest() -> None:
            out, data, first, raw_bytes = pending.popleft()
            if isinstance(out, Future):
                out = out.result()  # a block normalised on a worker thread (loader.ingest.parse_pool)
            self._finish_block(out, data, first, acc, part)
            if progress:
                progress(raw_bytes)

        try:
            det = self._read_blocks(blocks, report, part, pending, finish_oldest, progress)
            while pending:
                finish_oldest()
        finally:
            for out, *_ in pending:
                if isinstance(out, Future):
                    out.cancel()
        padding = getattr(blocks, "nul_padding", 0)
        if padding:
            report.notes.append(f"{padding} NUL byte(s) padding the end of the {'sheet' if part else 'file'} "
                                f"were ignored (not a line)")
        cut = _unterminated_row_note(getattr(blocks, "unterminated_line", 0), self._last_row_line, part)
        if cut:
            report.notes.append(cut)
        if det is None:
            raise UnknownLayoutError(f"{report.name}: the file is empty (no header, no rows)")
        if det.layout is None:
            return ("flow", None, False)
        return det.layout.time_level, det.layout.fallback_time_level, "event_time" in det.index

    def _empty_export(self, det: Detection, report: DumpReport) -> None:
        """Record an empty export ("No Records Found") and the subscriber its preamble names:
        requested and without records is itself a fact about the subscriber."""
        report.layout = "empty-export"
        if det.call_preamble:
            report.kind = "calls"
        if det.tower_cell:
            from cdrnet.loader.cells import canonical_cell

            report.tower_cell, report.tower_cell_raw = canonical_cell(det.tower_cell), det.tower_cell
            report.notes.append(f"the operator reported 'No Data Found': nobody at cell {det.tower_cell} "
                                "in the period (an empty tower dump)")
            return
        report.notes.append("the operator reported 'No Records Found': an empty export")
        if det.stated_msisdn:
            msisdn, _ = normalise_msisdn(pd.Series([det.stated_msisdn], dtype="string"), self.opts.country_code)
            if pd.notna(msisdn.iloc[0]) and msisdn.iloc[0]:
                report.no_records_for = [str(msisdn.iloc[0])]

    @staticmethod
    def _record_layout(det: Detection, report: DumpReport) -> None:
        """What the dump's layout declares, on its report (the first sheet's, for workbooks)."""
        assert det.layout is not None
        report.layout = det.layout.name
        report.kind = det.layout.kind
        if det.tower_cell:
            from cdrnet.loader.cells import canonical_cell

            report.tower_cell, report.tower_cell_raw = canonical_cell(det.tower_cell), det.tower_cell
        report.has_destination = det.layout.has_destination
        report.end_scope = det.layout.end_scope
        report.tz = det.layout.timezone or report.tz  # the zone the dump's times are read in
        report.volume_scope = det.layout.volume_scope

    def _read_blocks(self, blocks: Iterable[Block], report: DumpReport, part: str, pending: deque,
                     finish_oldest: Callable[[], None], progress: Callable[[int], None] | None) -> Detection | None:
        """Detect the layout on the first block, then queue every block for normalisation."""
        det: Detection | None = None
        current: Detection | None = None  # the header rows are read under now (None: a second layout's)
        self._headers_seen = {}
        self._last_reading = None
        for block in blocks:
            report.lines_read += block.n_lines
            data, first = block.data, block.first_line
            if det is None:
                det = self.detections.pop((report.sha256, part), None)
                if det is None:
                    det = detect(detection_head(data), self.layouts, report.name)
                self._detection = det
                if det.layout is None:
                    self._empty_export(det, report)
            if det.layout is None:
                self._empty_export_block(det, report, block, progress)
                continue
            if first <= det.header_line:
                if not report.layout:
                    self._record_layout(det, report)
                skip = det.header_line - first + 1
                report.nondata += skip
                data = _after_lines(data, skip)
                first += skip
                current = self._current_header = det
                if not data:
                    if progress:
                        progress(block.raw_bytes)
                    continue
            raw_bytes = block.raw_bytes
            for seg, seg_first, header in self._segments(data, first, report, part):
                if header is not None:
                    current = self._switch(header, det, current, report)
                if not seg:
                    continue
                out, current = self._start(seg, seg_first, current, report, part)
                pending.append((out, seg, seg_first, raw_bytes))
                raw_bytes = 0
                while len(pending) > (self.in_flight if self.pool is not None else 0):
                    finish_oldest()
            if raw_bytes and progress:
                progress(raw_bytes)
        return det

    def _empty_export_block(self, det: Detection, report: DumpReport, block: Block,
                            progress: Callable[[int], None] | None) -> None:
        """An empty export's lines are non-data; it still tells for which period the subscriber was observed."""
        if det.stated is not None and not report.period_source:
            readings = set(det.stated.readings().values())
            if len(readings) == 1:
                lo, hi = readings.pop()
                _record_decision(report, DateDecision("", "", to_utc(lo, self.opts.tz), to_utc(hi, self.opts.tz)))
        report.nondata += block.n_lines
        if progress:
            progress(block.raw_bytes)

    def _start(self, seg: bytes, seg_first: int, current: Detection | None, report: DumpReport,
               part: str) -> tuple[Future | BlockOutput, Detection | None]:
        """Start normalising a run of lines under the current reading (None: a second layout's)."""
        if current is None:
            return _second_layout_rejects(seg, seg_first), None
        if self.pool is None or current.decision is None:
            # The first block decides the date order the others are read in: parse it here.
            key = block_key(report.sha256, part, seg_first, seg) if self._replaying else None
            if self.capture:
                assert key is not None
                assert self._detection is not None
                raise Captured(key, seg, seg_first, current, self._detection, part, report.name)
            ahead = self.precomputed.pop(key, None) if key is not None else None
            out = ahead if ahead is not None else process_block(seg, seg_first, current, self.opts, report.sha256,
                                                                part, report.name)
            if current.decision is None:
                assert out.decision is not None
                current = replace(current, decision=out.decision)
                _record_decision(report, out.decision)
            self._last_reading = current
            return out, current
        self._last_reading = current
        return self.pool.submit(process_block, seg, seg_first, current, self.opts, report.sha256, part,
                                report.name), current

    def _segments(self, data: bytes, first: int, report: DumpReport, part: str = ""
                  ) -> Iterator[tuple[bytes, int, Detection | None]]:
        """Cut a block at header lines that change how rows are read.

        Yields (lines, first line number, the header that precedes them or None). A header
        repeated as it was stays in its segment (the normaliser counts it as non-data);
        one with its columns in another order, or another layout's, starts a new segment
        and is itself counted as non-data.
        """
        key = block_key(report.sha256, part, first, data) if self._replaying else None
        cuts = [(k, d) for k, d in self._header_lines(data, report, key) if d is not None]
        if not cuts:
            yield data, first, None
            return
        starts = _line_starts(data)
        pos, line, header = 0, first, None
        for k, d in cuts:
            d = replace(d, header_line=first + k)
            yield data[pos : starts[k]], line, header
            report.nondata += 1
            nxt = starts[k + 1] if k + 1 < len(starts) else len(data)
            pos, line, header = nxt, first + k + 1, d
        yield data[pos:], line, header

    def _header_lines(self, data: bytes, report: DumpReport, key: tuple | None = None
                      ) -> list[tuple[int, Detection | None]]:
        """Lines of a block that are a header of some layout: (0-based line, its detection).

        Every layout's header names its subscriber column, so only lines holding one of those
        names (a C-speed search) are tried by the detector; the detection is None for the
        header rows are being read under, repeated as it is. ``key`` (:func:`block_key`) finds the
        lines a look-ahead already searched (``name_lines``), so a small dump's block is searched once.
        """
        lines = self.name_lines.pop(key, None) if key is not None else None
        if lines is None:
            lines = self._name_lines(data)
            if self.capture and key is not None:
                self.name_lines[key] = lines
        if not lines:
            return []
        starts = _line_starts(data)
        found: list[tuple[int, Detection | None]] = []
        for k in lines:
            text = _line_text(data, starts, k)
            seen = text.strip()
            if seen not in self._headers_seen:
                try:
                    d = detect([text], self.layouts, report.name)
                    self._headers_seen[seen] = d if d.layout is not None else None
                except UnknownLayoutError:
                    self._headers_seen[seen] = None
            d = self._headers_seen[seen]
            if d is not None:
                found.append((k, d))
        return [(k, None if self._same_reading(d) else d) for k, d in found]

    def _name_lines(self, data: bytes) -> list[int]:
        """0-based lines of a block holding a subscriber column name (any case, ASCII), in order.

        A name holding another (``msisdn_userid`` holds ``msisdn``) finds no line the shorter one
        misses, so only the shortest are searched. The compiled kernel does it in one pass over the
        block (the pure path lowers a copy and searches it once per name: ~40 ms of a 16 MB block).
        """
        if self._msisdn_names is None:
            names = {n.encode() for layout in self.layouts for n in layout.normalised.get("msisdn", ()) if n}
            self._msisdn_names = sorted(n for n in names if not any(o != n and o in n for o in names))
        found = native.name_lines(data, tuple(self._msisdn_names))
        return found if found is not None else name_lines_pure(data, self._msisdn_names)

    def _same_reading(self, header: Detection) -> bool:
        """Whether a header reads rows exactly as the current one does (a plain repeat)."""
        cur = self._current_header
        return cur is not None and header.layout is cur.layout and header.columns == cur.columns

    def _switch(self, header: Detection, first: Detection, current: Detection | None,
                report: DumpReport) -> Detection | None:
        """The reading after a header line that changes it, and a note saying where."""
        line = header.header_line
        assert first.layout is not None and header.layout is not None
        self._current_header = header
        if header.layout is first.layout:
            base = current or self._last_reading or first
            note = ("the header repeats with its columns in another order" if base.columns != header.columns
                    and sorted(base.columns) == sorted(header.columns) else "the header repeats with other columns")
            if current is None:
                note = f"the {first.layout.name} header returns"
            report.notes.append(f"line {line}: {note}; the rows after it are read under it")
            return replace(base, columns=header.columns, index=header.index, alternatives=header.alternatives)
        report.notes.append(f"line {line}: a second layout ({header.layout.name}) begins here, after "
                            f"{first.layout.name} rows; its rows are rejected 'second_layout' (split the file "
                            f"at line {line} and ingest the parts)")
        return None

    def _duplicate_reasons(self, out: BlockOutput, dup_lines: np.ndarray) -> list[str]:
        """Why each dropped line is a duplicate: an identical row seen before ("duplicate_row"),
        or the same session re-sent with another allocation end, cell or detail ("resent_row")."""
        row_hash = out.row_hash if out.row_hash is not None else np.zeros(len(out.sessions), dtype=np.uint64)
        if not len(dup_lines):  # the usual block: only remembered, never compared
            self._rows_seen.add(row_hash)
            return []
        earlier = pd.Series(row_hash).duplicated().to_numpy() | self._rows_seen.contains(row_hash)
        self._rows_seen.add(row_hash)
        by_line = pd.Series(earlier, index=out.sessions["source_line"].to_numpy())
        by_line = by_line[~by_line.index.duplicated()]
        identical = by_line.reindex(np.asarray(dup_lines)).fillna(False).to_numpy(dtype=bool)
        return np.where(identical, "duplicate_row", "resent_row").tolist()

    def _finish_block(self, out: BlockOutput, data: bytes, first: int, acc: Accumulator, part: str) -> None:
        if len(out.sessions) and "source_line" in out.sessions:
            self._last_row_line = max(self._last_row_line, int(out.sessions["source_line"].max()))
        if out.sessions.columns.empty:  # a second layout's lines: rejects only
            if len(out.rejected.lines):
                self.on_rejects(out.rejected, part)
            acc.add(out.sessions, out.rejected.reasons, out.nondata, out.stats)
            return
        starts: list[np.ndarray] = []

        def text_of(line: int) -> str:
            if not starts:
                starts.append(_line_starts(data))
            return _line_text(data, starts[0], line - first)

        out, far = self._screen_strays(out, text_of, acc.report, part)
        self._emit(out, text_of, acc, part, far)

    def _screen_strays(self, out: BlockOutput, text_of: Callable[[int], str], report: DumpReport,
                       part: str) -> tuple[BlockOutput, Rejected]:
        """Split off rows dated far from the dump's period (loader/strays.py): rejected now, or held
        back until the dump's main run of activity is known."""
        strays = self._strays
        if strays.period is None and report.period_source == "preamble":
            strays.period = (pd.Timestamp(report.period_start_utc), pd.Timestamp(report.period_end_utc))
        none = Rejected(np.zeros(0, dtype=np.int64), [], [])
        if not len(out.sessions):
            return out, none
        far, hold = strays.classify(out.sessions["start_utc"])
        row_hash = out.row_hash if out.row_hash is not None else np.zeros(len(out.sessions), dtype=np.uint64)
        if hold.any():
            lines = out.sessions["source_line"].to_numpy()[hold]
            if not strays.hold(Held(out.sessions[hold], out.key_hash[hold], row_hash[hold],
                                    {int(n): text_of(int(n)) for n in lines}, part)):
                hold[:] = False
        if not (far.any() or hold.any()):
            return out, none
        lines = out.sessions["source_line"].to_numpy()[far]
        rejected = Rejected(lines.astype(np.int64), [stray_reason] * len(lines), [text_of(int(n)) for n in lines])
        keep = ~far & ~hold
        return replace(out, sessions=out.sessions[keep], key_hash=out.key_hash[keep], row_hash=row_hash[keep]), rejected

    def _release_strays(self, acc: Accumulator) -> None:
        """The dump has ended: held rows inside its main run are loaded, the others rejected."""
        strays = self._strays
        inside, outside = strays.release()
        for h in inside:
            out = BlockOutput(h.sessions, h.key_hash, Rejected(np.zeros(0, dtype=np.int64), [], []), 0, {},
                              row_hash=h.row_hash, kind=acc.report.kind)
            self._emit(out, h.texts.__getitem__, acc, h.part, Rejected(np.zeros(0, dtype=np.int64), [], []))
        for h in outside:
            lines = h.sessions["source_line"].to_numpy().astype(np.int64)
            rej = Rejected(lines, [stray_reason] * len(lines), [h.texts[int(n)] for n in lines])
            self.on_rejects(rej, h.part)
            acc.add(h.sessions.iloc[:0], rej.reasons, 0, {})
        if not strays.holding:
            acc.report.notes.append(f"more than {HOLD_LIMIT:,} rows lie far from the dump's main run of activity: "
                                    "they were kept (check the dump's dates)")

    def _emit(self, out: BlockOutput, text_of: Callable[[int], str], acc: Accumulator, part: str,
              extra: Rejected) -> None:
        """Hand a block's sessions to the store (after duplicate checks) and account for every line."""
        sink = self.on_calls if out.kind == "calls" else self.on_sessions
        sessions, dup_lines = sink(out.sessions, out.key_hash)
        rej = out.rejected
        if len(extra.lines):
            rej = Rejected(np.concatenate([rej.lines, extra.lines]), rej.reasons + extra.reasons,
                           rej.texts + extra.texts)
        dup_reasons = self._duplicate_reasons(out, dup_lines)
        if len(dup_lines):
            texts = [text_of(int(n)) for n in dup_lines]
            rej = Rejected(np.concatenate([rej.lines, np.asarray(dup_lines, dtype=np.int64)]),
                           rej.reasons + dup_reasons, rej.texts + texts)
        if len(rej.lines):
            self.on_rejects(rej, part)
        acc.add(sessions, rej.reasons, out.nondata, out.stats)
