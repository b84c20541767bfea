"""Row and value hashes equal to pandas' ``hash_pandas_object``, computed from Arrow buffers.

Why this module: the hashes the loader stores (session keys, raw-row hashes that recognise a
re-sent row across dumps, record keys) were defined with pandas' hashing and live on in users'
workspaces, so they must never change; but pandas turns every distinct string into a Python
``str`` and UTF-8-encodes it again before hashing it, and factorises text twice per hash key.
Here text columns are factorised once in Arrow's C++ (``dictionary_encode``), the distinct
values are handed to pandas' SipHash as ``bytes`` viewed straight from Arrow's buffer (the same
bytes the ``str`` would encode to, so the same hash), the per-cell hashes are gathered by code,
and pandas' ``combine_hash_arrays`` arithmetic is redone in place in numpy. Anything that is
not an Arrow string column goes through pandas itself, so every input still hashes as before.
tests/test_hashing.py keeps pandas' functions as the reference on generated frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.loader import native

#: pandas' default ``hash_key`` (pandas.core.util.hashing._default_hash_key).
DEFAULT_HASH_KEY = "0123456789123456"
#: What pandas gives a missing value of an Arrow-backed column.
NULL_HASH = np.uint64(np.iinfo(np.uint64).max)
#: Below this share of distinct values in a sample, a text column is factorised before
#: hashing; above it, every cell is hashed (factorising a column of unique values only adds a
#: pass). Either way gives the same hashes: this is a speed choice, not a result.
_FACTORISE_BELOW = 0.5
_SAMPLE = 512


def _binary(arr: pa.Array) -> pa.Array:
    """The same buffers seen as bytes (zero copy), so ``to_numpy`` yields ``bytes``, not ``str``."""
    return arr.cast(pa.large_binary() if pa.types.is_large_string(arr.type) else pa.binary())


def _siphash_native(values: pa.Array, hash_keys: Sequence[str]) -> list[np.ndarray] | None:
    """:func:`_siphash` by the compiled kernel, straight from Arrow's buffers (None without it)."""
    out = []
    for key in hash_keys:
        h = native.hash_strings(values, key)
        if h is None:
            return None
        out.append(h)
    return out


def _siphash(values: pa.Array, hash_keys: Sequence[str]) -> list[np.ndarray]:
    """pandas' per-value hash (SipHash-2-4 of the UTF-8 bytes, then its 64-bit mix), one array a key.

    pandas (the reference) needs a ``bytes`` object per value; the kernel reads the buffers.
    """
    fast = _siphash_native(values, hash_keys)
    if fast is not None:
        return fast
    objects = _binary(values).to_numpy(zero_copy_only=False)
    return [pd.util.hash_array(objects, hash_key=key, categorize=False) for key in hash_keys]


def _all_empty(chunk: pa.Array) -> bool:
    """Whether every value is "" or missing, read off the offsets (no pass over the values)."""
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(chunk.buffers()[1], dtype=width)
    return bool(offsets[chunk.offset + len(chunk)] == offsets[chunk.offset])


def _pure_chunk_hashes(chunk: pa.Array, hash_keys: Sequence[str]) -> list[np.ndarray]:
    """The pure path's hashes of a chunk (nulls still to be set): by distinct value when they repeat."""
    n, nulls = len(chunk), chunk.null_count
    sample = chunk.slice(0, _SAMPLE)
    if n > _SAMPLE and pc.count_distinct(sample).as_py() < _FACTORISE_BELOW * len(sample):
        encoded = pc.dictionary_encode(chunk)
        codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False) if nulls else \
            encoded.indices.to_numpy(zero_copy_only=False)
        distinct = _siphash(encoded.dictionary, hash_keys)
        return [h.take(codes) if len(h) else np.zeros(n, dtype=np.uint64) for h in distinct]
    return _siphash(chunk.fill_null("") if nulls else chunk, hash_keys)


def _chunk_hashes(chunk: pa.Array, hash_keys: Sequence[str]) -> list[np.ndarray]:
    """Hashes of one Arrow string chunk; nulls get pandas' missing-value hash."""
    n = len(chunk)
    if n == 0:
        return [np.zeros(0, dtype=np.uint64) for _ in hash_keys]
    nulls = chunk.null_count
    # The kernel hashes every cell from the buffers: cheaper than factorising first.
    out = _siphash_native(chunk, hash_keys)
    if out is None:
        if _all_empty(chunk):  # a column the layout has but the operator left blank: one hash for all
            return [np.where(chunk.is_null().to_numpy(zero_copy_only=False), NULL_HASH, h[0]) if nulls
                    else np.full(n, h[0], dtype=np.uint64) for h in _siphash(pa.array([""]), hash_keys)]
        out = _pure_chunk_hashes(chunk, hash_keys)
    if nulls:
        missing = chunk.is_null().to_numpy(zero_copy_only=False)
        for h in out:
            h[missing] = NULL_HASH
    return out


def arrow_backing(values: pd.Series | pd.api.extensions.ExtensionArray) -> pa.ChunkedArray | None:
    """The Arrow string array behind a pandas column, or None when it has none."""
    arr = values.array if isinstance(values, pd.Series) else values
    if isinstance(arr, pd.arrays.ArrowStringArray):
        data = arr._pa_array  # the public route (pa.array(arr)) copies when chunks must be combined
        if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
            return data
    return None


def text_hashes(values: pa.Array | pa.ChunkedArray, hash_keys: Sequence[str] = (DEFAULT_HASH_KEY,)
                ) -> list[np.ndarray]:
    """``pd.util.hash_array`` of an Arrow-backed string column, for each hash key, in one pass.

    Equal to pandas for every value (empty strings, nulls, any Unicode): the SipHash input is
    the value's UTF-8 bytes either way.
    """
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = [_chunk_hashes(c, hash_keys) for c in chunks if len(c)]
    if not parts:
        return [np.zeros(0, dtype=np.uint64) for _ in hash_keys]
    if len(parts) == 1:
        return parts[0]
    return [np.concatenate([p[k] for p in parts]) for k in range(len(hash_keys))]


def column_hashes(values: pd.Series, hash_keys: Sequence[str] = (DEFAULT_HASH_KEY,)) -> list[np.ndarray]:
    """``pd.util.hash_array(values.array, hash_key=k)`` for each key: Arrow text fast, the rest by pandas."""
    text = arrow_backing(values)
    if text is not None:
        return text_hashes(text, hash_keys)
    data = values._values  # what hash_pandas_object hashes (an ndarray for numpy dtypes, else the array)
    if isinstance(data, np.ndarray) and data.dtype.kind in "biufcmM":
        h = pd.util.hash_array(data)  # numbers and times hash without the key: once serves every key
        return [h] + [h.copy() for _ in hash_keys[1:]]
    return [np.asarray(pd.util.hash_array(data, hash_key=k), dtype=np.uint64) for k in hash_keys]


class RowHash:
    """pandas' ``combine_hash_arrays`` (CPython's tuple hash), fed one column at a time, in place.

    ``hash_pandas_object(frame, index=False)`` is this over the frame's column hashes; keeping
    the arithmetic here lets a caller hash each column once for several keys.
    """

    def __init__(self, n: int, columns: int) -> None:
        self.out = np.full(n, 0x345678, dtype=np.uint64)
        self.mult = np.uint64(1000003)
        self.columns = columns
        self.fed = 0

    def add(self, h: np.ndarray) -> None:
        inverse = self.columns - self.fed
        np.bitwise_xor(self.out, h, out=self.out)
        np.multiply(self.out, self.mult, out=self.out)
        self.mult = np.uint64((int(self.mult) + 82520 + 2 * inverse) & 0xFFFFFFFFFFFFFFFF)
        self.fed += 1

    def result(self) -> np.ndarray:
        assert self.fed == self.columns, "fed the wrong number of columns"
        return self.out + np.uint64(97531)


def frame_hashes(frame: pd.DataFrame, hash_keys: Sequence[str] = (DEFAULT_HASH_KEY,)) -> list[np.ndarray]:
    """``hash_pandas_object(frame, index=False, hash_key=k).to_numpy()`` for each key."""
    rows = [RowHash(len(frame), frame.shape[1]) for _ in hash_keys]
    for i in range(frame.shape[1]):
        for row, h in zip(rows, column_hashes(frame.iloc[:, i], hash_keys), strict=True):
            row.add(h)
    return [row.result() for row in rows]


def text_row_hashes(columns: Sequence[pa.Array], hash_key: str = DEFAULT_HASH_KEY, rows: int | None = None
                    ) -> np.ndarray:
    """``hash_pandas_object(DataFrame(columns), index=False, hash_key=hash_key)`` of equal-length Arrow
    text columns: one kernel call that hashes each column and folds it into the row hash (no hash
    array per column, no numpy passes to fold it); a column with missing values is hashed first
    (pandas gives those their own hash). ``rows``: the row count when there may be no column.
    Without the kernel: :func:`text_row_hashes_pure`."""
    given: list[pa.Array | np.ndarray] = [text_hashes(c, (hash_key,))[0] if c.null_count else c for c in columns]
    fast = native.row_hash(given, hash_key) if columns else None
    return fast if fast is not None else text_row_hashes_pure(columns, hash_key, rows)


def text_row_hashes_pure(columns: Sequence[pa.Array], hash_key: str = DEFAULT_HASH_KEY, rows: int | None = None
                         ) -> np.ndarray:
    """:func:`text_row_hashes` column by column through :class:`RowHash` (the kernel's reference)."""
    n = len(columns[0]) if columns else (rows or 0)
    row = RowHash(n, len(columns))
    for c in columns:
        row.add(text_hashes(c, (hash_key,))[0])
    return row.result()
