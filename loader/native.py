"""The compiled kernel (loader/_native.c) when it was built, else nothing: callers keep their pure path.

Why one module: the C extension is optional (setup.py builds it with ``optional=True``, so an
install without a compiler still succeeds), and every caller must run the same with or without
it. Each function here returns the kernel's answer, or None where the caller's pure path must
decide (no kernel, or a value the kernel does not claim to read exactly as that path does).

``CDRNET_NATIVE=0`` turns the kernel off (to measure or test the pure path);
``CDRNET_REQUIRE_NATIVE=1`` makes a missing kernel an error at import, so a test run (scripts/test)
cannot pass on a build that silently fell back.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np
import pyarrow as pa

from cdrnet.errors import CdrnetError


def _load() -> ModuleType | None:
    if os.environ.get("CDRNET_NATIVE", "1") == "0":
        return None
    try:
        from cdrnet.loader import _native
    except ImportError as exc:
        if os.environ.get("CDRNET_REQUIRE_NATIVE") == "1":
            raise CdrnetError(f"the compiled normaliser (cdrnet.loader._native) is not built: {exc}; "
                              "reinstall with a C compiler and Python's headers (e.g. apt-get install gcc "
                              "python3-dev), or unset CDRNET_REQUIRE_NATIVE to run the pure path") from exc
        return None
    return _native


#: The extension module, or None (pure path).
KERNEL: ModuleType | None = _load()


def _buffers(arr: pa.Array) -> tuple[np.ndarray, object]:
    """A string/binary array's offsets (sliced to the array) and value bytes, zero copy."""
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if large else np.int32)[arr.offset : arr.offset + len(arr) + 1]
    return offsets, bufs[2] if bufs[2] is not None else b""


def _strings(arr: pa.Array) -> bool:
    t = arr.type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)


def hash_strings(arr: pa.Array, hash_key: str) -> np.ndarray | None:
    """``pd.util.hash_array`` of each value's bytes (missing values hash as ""), or None without the kernel."""
    if KERNEL is None or not _strings(arr):
        return None
    out = np.empty(len(arr), dtype=np.uint64)
    if len(arr):
        if arr.null_count:
            arr = arr.fill_null("")
        offsets, data = _buffers(arr)
        KERNEL.hash_strings(offsets, data, hash_key.encode("utf8"), out)
    return out


def plain_ints(arr: pa.Array, low: int, high: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Values and status (0 empty, 1 in range, 2 out of range) of a column whose every non-empty
    value is an optional ``-`` and 1-18 ASCII digits; None for any other column (or without the kernel)."""
    if KERNEL is None or not _strings(arr) or arr.null_count:
        return None
    values = np.zeros(len(arr), dtype=np.int64)
    status = np.zeros(len(arr), dtype=np.uint8)
    if len(arr):
        offsets, data = _buffers(arr)
        if KERNEL.parse_ints(offsets, data, low, high, values, status):
            return None
    return values, status


def mix_into(out: np.ndarray, words: np.ndarray, salt: int) -> bool:
    """``out = mix(out ^ mix(words + salt))`` in place (SplitMix64's finaliser, wrapping arithmetic);
    False without the kernel (nothing done)."""
    if KERNEL is None:
        return False
    KERNEL.mix_into(out, np.ascontiguousarray(words, dtype=np.uint64), salt)
    return True


def count_byte(data: bytes, byte: int) -> int:
    """``data.count(bytes([byte]))``: the kernel's vectorised count, else ``bytes.count`` (its reference).

    Why: CPython counts one byte at a time (~1.7 GB/s here), and every block read is counted for its
    lines; the kernel counts ~10x faster."""
    if KERNEL is None:
        return data.count(bytes((byte,)))
    return int(KERNEL.count_byte(data, byte))


def name_lines(data: bytes, names: tuple[bytes, ...]) -> list[int] | None:
    """0-based lines of ``data`` holding any of ``names`` with data's ASCII letters lower-cased, in
    order, each once (``loader/parse.py``'s ``name_lines_pure``); None without the kernel or for names
    it does not take (empty, over 64, holding a newline or an ASCII capital)."""
    if KERNEL is None or not names or len(names) > 64:
        return None
    if any(not n or b"\n" in n or n != n.lower() for n in names):
        return None
    out = np.empty(256, dtype=np.int64)
    found = KERNEL.name_lines(data, names, out)
    if found > len(out):  # a name on many lines: once more with room for all
        out = np.empty(found, dtype=np.int64)
        found = KERNEL.name_lines(data, names, out)
    return out[:found].tolist()


def pad_lines(data: bytes) -> tuple[int, np.ndarray] | None:
    """(lines of ``data``, 0-based numbers of its padding lines), as ``loader/parse.py``'s
    ``_pad_lines_pure`` finds them; None without the kernel."""
    if KERNEL is None:
        return None
    out = np.empty(64, dtype=np.int64)
    lines, found = KERNEL.pad_lines(data, out)
    if found > len(out):  # a padded sheet: once more with room for all
        out = np.empty(found, dtype=np.int64)
        lines, found = KERNEL.pad_lines(data, out)
    return lines, out[:found]


#: loader/fixedtime.py's field names as the kernel's item codes (8: a literal byte).
_FIELD_CODES = {"day": 0, "month": 1, "year": 2, "year2": 3, "hour": 4, "minute": 5, "second": 6, "mon_name": 7}


def parse_fixed(arr: pa.Array, rows: np.ndarray, items: tuple[tuple[str, int, int], ...], width: int,
                year_start: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(ok, seconds) for each of ``rows`` of a ``large_string`` array read with ``items``
    (``fixedtime.compile_format``), as ``fixedtime.parse_fixed`` reads them; None without the kernel."""
    if KERNEL is None or not pa.types.is_large_string(arr.type):
        return None
    table = np.array([(8, pos, w, ord(name[1])) if name.startswith("=") else (_FIELD_CODES[name], pos, w, 0)
                      for name, pos, w in items], dtype=np.int64)
    ok = np.zeros(len(rows), dtype=bool)
    values = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        offsets, data = _buffers(arr)
        KERNEL.parse_fixed(offsets, data, np.ascontiguousarray(rows, dtype=np.int64), table, width,
                           np.ascontiguousarray(year_start, dtype=np.int64), ok, values)
    return ok, values


def date_fields(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(status, first field, second field, year) of each value of a ``large_string`` array, as
    ``dateorder.date_fields_pure`` reads them from the first 11 bytes; None without the kernel."""
    if KERNEL is None or not pa.types.is_large_string(arr.type):
        return None
    n = len(arr)
    status = np.empty(n, dtype=np.uint8)
    f1, f2, y = (np.empty(n, dtype=np.int64) for _ in range(3))
    if n:
        offsets, data = _buffers(arr)
        KERNEL.date_fields(offsets, data, status, f1, f2, y)
    return status, f1, f2, y


def take_strings(values: pa.Array, indices: np.ndarray) -> pa.Array | None:
    """``values.take(indices)`` of a null-free ``large_string`` array by int32/int64 row codes, as a
    ``large_string`` array; None without the kernel, for other input, or for a code out of range
    (the caller's Arrow take then decides, and raises as it does)."""
    if KERNEL is None or not pa.types.is_large_string(values.type) or values.null_count:
        return None
    if not isinstance(indices, np.ndarray) or indices.dtype not in (np.int32, np.int64):
        return None
    indices = np.ascontiguousarray(indices)
    # Both outputs from Arrow's pool (reused block after block), not fresh malloc'ed pages.
    offsets_buf = pa.allocate_buffer(8 * (len(indices) + 1))
    out_offsets = np.frombuffer(offsets_buf, dtype=np.int64)
    offsets, data = _buffers(values)
    total = KERNEL.take_strings(offsets, data, indices, out_offsets, None)
    if total < 0:
        return None
    data_buf = pa.allocate_buffer(total + 16)
    KERNEL.take_strings(offsets, data, indices, out_offsets, data_buf)
    return pa.Array.from_buffers(pa.large_string(), len(indices), [None, offsets_buf, data_buf.slice(0, total)])


def edge_flags(arr: pa.Array, table: np.ndarray) -> int | None:
    """OR over a ``large_string`` array's values of ``table[first byte] & 1`` and ``table[last byte] & 2``,
    each read off the offsets clipped into the data buffer (``identifiers._may_need_cleaning``'s
    reading); None without the kernel."""
    if KERNEL is None or not pa.types.is_large_string(arr.type):
        return None
    if len(arr) == 0:
        return 0
    offsets, data = _buffers(arr)
    return int(KERNEL.edge_flags(offsets, data, np.ascontiguousarray(table, dtype=np.uint8)))


def row_hash(columns: list[pa.Array | np.ndarray], hash_key: str) -> np.ndarray | None:
    """``hash_pandas_object(frame, index=False, hash_key=hash_key)`` of equal-length text columns (Arrow
    string arrays without missing values, or a column's uint64 hashes already made), one kernel call;
    None without the kernel or for any other column."""
    if KERNEL is None or not columns:
        return None
    n = len(columns[0])
    given: list[tuple[np.ndarray, object] | np.ndarray] = []
    for col in columns:
        if len(col) != n:
            return None
        if isinstance(col, np.ndarray):
            if col.dtype != np.uint64:
                return None
            given.append(np.ascontiguousarray(col))
        elif _strings(col) and not col.null_count:
            given.append(_buffers(col) if len(col) else (np.zeros(1, dtype=np.int64), b""))
        else:
            return None
    out = np.empty(n, dtype=np.uint64)
    KERNEL.row_hash(given, hash_key.encode("utf8"), out)
    return out


def hex_keys(h1: np.ndarray, h2: np.ndarray) -> pa.Buffer | None:
    """32 lower-case hex digits a row (``h1`` then ``h2``, each big-endian) in one buffer from Arrow's
    pool (ASCII); None without the kernel."""
    if KERNEL is None:
        return None
    out = pa.allocate_buffer(32 * len(h1))
    if len(h1):
        KERNEL.hex_keys(np.ascontiguousarray(h1, dtype=np.uint64), np.ascontiguousarray(h2, dtype=np.uint64), out)
    return out


def mix_columns(n: int, columns: list[tuple], seeds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """The session key's two hashes (``normalize._mix_columns``) over typed key columns in one pass:
    ``(0, words1, words2)`` a text column's uint64 word per key, ``(1, seconds)`` int64 times (``NAT``
    -> -1), ``(2, values, ok)`` int64 values (-1 where not ``ok``); None without the kernel."""
    if KERNEL is None:
        return None
    given = []
    for col in columns:
        if col[0] == 0:
            given.append((0, np.ascontiguousarray(col[1], dtype=np.uint64),
                          np.ascontiguousarray(col[2], dtype=np.uint64)))
        elif col[0] == 1:
            given.append((1, np.ascontiguousarray(col[1], dtype=np.int64)))
        else:
            given.append((2, np.ascontiguousarray(col[1], dtype=np.int64),
                          np.ascontiguousarray(col[2], dtype=bool).view(np.uint8)))
    out1, out2 = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
    KERNEL.mix_columns(out1, out2, given, seeds[0], seeds[1])
    return out1, out2


def set_insert(table: np.ndarray, stored: int, hashes: np.ndarray,
               has_zero: bool) -> tuple[np.ndarray, int, bool] | None:
    """Insert ``hashes`` in order into the open-addressing ``table`` (uint64, a power of two of slots,
    ``stored`` of them used, kept at most ~70 % full by the caller; the hash 0 is the ``has_zero``
    flag): each hash's "new?" (the first of equal ones in ``hashes`` is new), the table's new entries
    and the flag; None without the kernel (``loader.dedupe``'s sorted-array path decides)."""
    if KERNEL is None:
        return None
    keep = np.empty(len(hashes), dtype=np.uint8)
    inserted, has_zero = KERNEL.set_insert(table, stored, np.ascontiguousarray(hashes, dtype=np.uint64), keep, has_zero)
    return keep.view(bool), inserted, has_zero
