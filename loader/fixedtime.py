"""Fixed-width date/time texts read straight from Arrow's string buffer (the common case, fast).

Operator exports write every time in one zero-padded layout (``17/07/2023 00:05:32``), so a
column is a byte matrix: one row per value, one column per character. Reading the fields
with integer arithmetic on that matrix costs a few numpy passes, where ``strptime`` costs a
C call per value plus the strictness re-check (``timeparse._parse_format``).

Only values this module can prove well-formed are taken: exactly the format's width, a
digit in every digit position, each separator in its place, month 1-12, day within the
month (leap years included), hour 0-23, minute and second 0-59, a four-digit year from
1000. Anything else -- ``7/4/2023``, ``31/02/2023``, second 60, a padded or foreign value --
is left to the general path, which decides as it always has; so the result of a row never
depends on which path read it (tests/test_fixedtime.py checks this on generated texts).
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.loader import native

#: Width and meaning of each directive the fast path reads; any other directive disables it.
_FIELDS = {"%d": ("day", 2), "%m": ("month", 2), "%Y": ("year", 4), "%y": ("year2", 2),
           "%H": ("hour", 2), "%M": ("minute", 2), "%S": ("second", 2), "%b": ("mon_name", 3)}
_TOKEN = re.compile(r"%.|[^%]")
#: Three-letter month names as 24-bit keys of their lower-cased bytes (%b, C locale).
_MONTH_KEYS = np.array([(ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in
                        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")],
                       dtype=np.int32)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0], dtype=np.int32)


@functools.lru_cache(maxsize=64)
def compile_format(fmt: str) -> tuple[tuple[str, int, int], ...] | None:
    """The format as (field or literal, byte position, width) items, or None if it is not fixed-width.

    A format qualifies when it names a day, a month and a year and uses only the directives
    above with single-byte literals between them (``%d-%b-%Y %H:%M``); ``%p``, ``%z``, ``%f``
    and the like vary in width or meaning, so such formats always take the general path.
    """
    items: list[tuple[str, int, int]] = []
    pos = 0
    for tok in _TOKEN.findall(fmt):
        if tok.startswith("%"):
            if tok not in _FIELDS:
                return None
            name, width = _FIELDS[tok]
            items.append((name, pos, width))
            pos += width
        else:
            if not tok.isascii() or not tok.isprintable() or tok.isdigit() or tok.isalpha():
                return None
            items.append(("=" + tok, pos, 1))
            pos += 1
    names = [name for name, _, _ in items]
    if len(set(names) & {"year", "year2"}) != 1 or "day" not in names or not {"month", "mon_name"} & set(names):
        return None
    if len(set(n for n in names if not n.startswith("="))) != len([n for n in names if not n.startswith("=")]):
        return None  # a field written twice: the general path decides which one wins
    return tuple(items)


def _width(items: tuple[tuple[str, int, int], ...]) -> int:
    _, pos, width = items[-1]
    return pos + width


def large_strings(text: pd.Series | pa.Array) -> pa.Array:
    """A text column as one null-free ``large_string`` array ("" where missing).

    An Arrow-backed column keeps its own buffers (no Python string per value); an Arrow array is
    taken as it is.
    """
    if isinstance(text, pa.Array):
        arr = text if text.type == pa.large_string() else text.cast(pa.large_string())
        return pc.fill_null(arr, "") if arr.null_count else arr
    arr = pc.fill_null(pa.array(text.array, type=pa.large_string(), from_pandas=True), "")
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Value offsets (one more than values) and the data bytes of a ``large_string`` array."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return offsets, (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8))


def value_lengths(arr: pa.Array) -> np.ndarray:
    """Byte length of each value of a ``large_string`` array."""
    return np.diff(_buffers(arr)[0])


def byte_matrix(arr: pa.Array, rows: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows among ``rows`` whose value is exactly ``width`` bytes, and those values as a matrix.

    ``arr`` is a null-free ``large_string`` array; the matrix is a view of its buffer when
    every value has that width (the usual column), a gather of the bytes otherwise.
    """
    offsets, data = _buffers(arr)
    lengths = np.diff(offsets)
    if len(rows) == len(arr) and len(rows) and np.all(lengths == width):
        return rows, data[offsets[0] : offsets[-1]].reshape(len(rows), width)
    rows = rows[lengths[rows] == width]
    return rows, data[offsets[rows][:, None] + np.arange(width)]


def leading_bytes(arr: pa.Array, width: int) -> np.ndarray:
    """The first ``width`` bytes of every value as a (width, n) matrix, 0 past a value's end."""
    offsets, data = _buffers(arr)
    lengths = np.diff(offsets)
    n = len(lengths)
    if n and np.all(lengths == lengths[0]) and lengths[0] >= width:
        return np.ascontiguousarray(data[offsets[0] : offsets[-1]].reshape(n, -1)[:, :width].T)
    pos = np.arange(width)[:, None]
    index = np.minimum(offsets[:-1][None, :] + pos, max(len(data) - 1, 0))
    out = data[index] if len(data) else np.zeros((width, n), dtype=np.uint8)
    out[pos >= lengths[None, :]] = 0
    return out


def may_match(arr: pa.Array, rows: np.ndarray, items: tuple[tuple[str, int, int], ...]) -> np.ndarray:
    """The rows among ``rows`` that hold every separator of the format (as many times as it does).

    A value without them cannot parse by any path: strptime and pandas both match a literal
    only by itself, and none of the directives ``compile_format`` allows consumes one (spaces
    are left out: strptime lets a format's space match none).
    """
    need: dict[str, int] = {}
    for name, _, _ in items:
        if name.startswith("=") and not name[1].isspace():
            need[name[1]] = need.get(name[1], 0) + 1
    if not need or not len(rows):
        return rows
    taken = arr.take(pa.array(rows))
    keep = np.ones(len(rows), dtype=bool)
    for char, count in need.items():
        keep &= pc.count_substring(taken, char).to_numpy(zero_copy_only=False) >= count
    return rows[keep]


_YEARS = np.arange(10000, dtype=np.int64)
#: Per year 0-9999: 1 for a leap year, and the days from 1970-01-01 to its 1 January (numpy's
#: proleptic Gregorian calendar, as Arrow's and pandas' timestamps).
_LEAP = (((_YEARS % 4 == 0) & (_YEARS % 100 != 0)) | (_YEARS % 400 == 0)).astype(np.intp)
_YEAR_START = (_YEARS - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
#: Per (leap, month 0-13): days in the month (0 for the impossible months 0 and 13) and before it.
_MONTH_DAYS = np.stack([_DAYS_IN_MONTH, _DAYS_IN_MONTH + (np.arange(14) == 2)]).astype(np.int64)
_MONTH_START = np.concatenate([np.zeros((2, 1), dtype=np.int64), np.cumsum(_MONTH_DAYS, axis=1)[:, :-1]], axis=1)


def parse_fixed(arr: pa.Array, rows: np.ndarray,
                items: tuple[tuple[str, int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since the epoch (naive local) of the well-formed values among ``rows``.

    Returns the row positions read and their values; every other row of ``rows`` is for the
    general path. ``items`` come from :func:`compile_format`. The compiled kernel reads each value
    in one pass where it is built (:func:`parse_fixed_pure` is its reference).
    """
    fast = native.parse_fixed(arr, rows, items, _width(items), _YEAR_START)
    if fast is not None:
        ok, values = fast
        return (rows, values) if ok.all() else (rows[ok], values[ok])
    return parse_fixed_pure(arr, rows, items)


def parse_fixed_pure(arr: pa.Array, rows: np.ndarray,
                     items: tuple[tuple[str, int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_fixed` by numpy passes over the values' byte matrix: the path without the kernel."""
    rows, mat = byte_matrix(arr, rows, _width(items))
    if not len(rows):
        return rows, np.zeros(0, dtype=np.int64)
    # One row per character position: numpy is fast along long contiguous rows, slow across a
    # (n, 19) matrix's short ones, and the transpose costs less than what it saves.
    byte = np.ascontiguousarray(mat.T)
    digit = byte - np.uint8(ord("0"))  # wraps below "0": ``<= 9`` checks both ends
    numbers = [pos + k for name, pos, width in items if not name.startswith("=") and name != "mon_name"
               for k in range(width)]
    ok = (digit[numbers] <= 9).all(axis=0)
    literal_pos = [pos for name, pos, _ in items if name.startswith("=")]
    if literal_pos:
        literal = np.array([ord(name[1]) for name, _, _ in items if name.startswith("=")], dtype=np.uint8)
        ok &= (byte[literal_pos] == literal[:, None]).all(axis=0)
    field: dict[str, np.ndarray] = {}
    for name, pos, width in items:
        if name == "mon_name":  # %b matches the name in any letter case, as strptime does
            lower = byte[pos : pos + 3].astype(np.int32) | 0x20
            key = lower[0] << 16 | lower[1] << 8 | lower[2]
            month = np.zeros(len(rows), dtype=np.int32)
            for i, k in enumerate(_MONTH_KEYS):
                month[key == k] = i + 1
            ok &= month > 0
            field["month"] = month
        elif not name.startswith("="):
            value = digit[pos].astype(np.int32)
            for k in range(pos + 1, pos + width):
                value = value * 10 + digit[k]
            field[name] = value
    if "year2" in field:  # the C library's and pandas' %y pivot: 69-99 are 19xx, 00-68 are 20xx
        field["year"] = np.where(field["year2"] >= 69, 1900, 2000) + field["year2"]
    # Table look-ups instead of integer division (numpy has no fast vector divide).
    year = np.minimum(field["year"], 9999)
    month = np.minimum(field["month"], 13)
    day = field["day"]
    zero = np.zeros(len(rows), dtype=np.int32)
    hour, minute, second = (field.get(k, zero) for k in ("hour", "minute", "second"))
    leap = _LEAP[year]
    ok &= (year >= 1000) & (day >= 1) & (day <= _MONTH_DAYS[leap, month])
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    if not ok.all():
        rows, year, month, day, hour, minute, second, leap = (
            a[ok] for a in (rows, year, month, day, hour, minute, second, leap))
    days = _YEAR_START[year] + _MONTH_START[leap, month] + (day - 1)
    return rows, days * 86400 + (hour * 3600 + minute * 60 + second)
