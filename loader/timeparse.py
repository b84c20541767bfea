"""Vectorised date/time parsing with per-layout formats and time zones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.loader.fixedtime import compile_format, large_strings, may_match, parse_fixed, value_lengths

#: NaT as the int64 under a datetime64 array.
NAT = np.iinfo(np.int64).min


def _parse_format(sub: pd.Series, fmt: str) -> pd.Series:
    """Arrow's C++ strptime for speed, made strict where Arrow is lenient.

    Arrow rolls impossible values over instead of failing (31/02 becomes 2 March,
    second 60 the next minute) and accepts a short ``%Y`` as year 24. Every such
    result lands on day 1-3, second 0 or a year before 1000, so only those rows
    (about a tenth), and those Arrow refused, are re-checked by formatting them back; a mismatch goes to
    pandas' strict parser, so 31/02 is rejected and 7/4/2023 still parses.
    """
    arr = pa.array(sub.array, type=pa.large_string(), from_pandas=True)  # the column's own Arrow buffers
    parsed = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    suspect = pc.or_(pc.or_(pc.less_equal(pc.day(parsed), 3), pc.equal(pc.second(parsed), 0)),
                     pc.less(pc.year(parsed), 1000))
    # Rows Arrow refused are retried too: pandas accepts a few spellings it does not.
    suspect = pc.fill_null(suspect, pc.not_equal(arr, ""))
    idx = pc.indices_nonzero(suspect)
    out = pd.Series(parsed.to_numpy(zero_copy_only=False), index=sub.index).astype("datetime64[s]")
    if len(idx):
        texts = pc.take(arr, idx)
        same = pc.fill_null(pc.equal(pc.strftime(pc.take(parsed, idx), format=fmt), texts), False)
        differs = idx.to_numpy()[~same.to_numpy(zero_copy_only=False)]
        if len(differs):
            rows = sub.index[differs]
            out[rows] = pd.to_datetime(sub[rows], format=fmt, errors="coerce").astype("datetime64[s]")
    return out


def parse_iso(text: pd.Series) -> pd.Series:
    """ISO 8601 texts as naive times: a value with an offset is read as its UTC time, one without
    as written. Both kinds may share a column (hostile or hand-edited input): pandas refuses a mix
    ("Mixed timezones detected") unless told ``utc=True``, which reads a naive value as written
    and converts one with an offset, so one call gives the same result as each kind alone."""
    return pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)


def parse_local(text: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Parse naive local times trying each format in turn on what is still unparsed.

    The formats arrive already rendered in the dump's decided day/month order
    (``dateorder.formats_for_order``), so ``03/04/2023`` is never guessed. Each format first
    reads the well-formed fixed-width values from the column's buffer (``fixedtime``); only
    the rest goes through strptime, less the values that lack one of the format's separators
    (a month-first ``07/13/2023 00:01`` tried against ``%d-%b-%Y``). The result of a row is
    the same either way.
    """
    out = parse_local_array(large_strings(text), formats)
    return pd.Series(out.view("datetime64[s]"), index=text.index)


def parse_local_array(arr: pa.Array, formats: tuple[str, ...]) -> np.ndarray:
    """:func:`parse_local` of a null-free ``large_string`` array, as int64 seconds (``NAT`` where
    unread): the normaliser keeps times as integers until its frame is built."""
    out = np.full(len(arr), NAT, dtype=np.int64)
    todo = value_lengths(arr) > 0
    if not todo.any():  # an empty column (a field the layout lacks): nothing to read
        return out
    for fmt in formats:
        rows = np.flatnonzero(todo)
        if not len(rows):
            break
        if fmt == "ISO8601":
            parsed = parse_iso(_text_series(arr, rows))
        else:
            items = compile_format(fmt)
            if items is not None:
                fast, values = parse_fixed(arr, rows, items)
                if len(fast) == len(rows):  # the usual column: every value read, nothing left
                    out[rows] = values
                    todo[:] = False
                    continue
                out[fast] = values
                todo[fast] = False
                rows = may_match(arr, np.flatnonzero(todo), items)
                if not len(rows):
                    continue
            parsed = _parse_format(_text_series(arr, rows), fmt)
        values = parsed.astype("datetime64[s]").to_numpy(dtype="datetime64[s]").view(np.int64)
        hit = values != NAT
        out[rows[hit]] = values[hit]
        todo[rows[hit]] = False
    return out


def _text_series(arr: pa.Array, rows: np.ndarray) -> pd.Series:
    """The values at ``rows`` as a string Series, for the general (pandas) parsers."""
    return pd.Series(pd.arrays.ArrowStringArray(arr.take(pa.array(rows))))


def to_utc(local: pd.Series, tz: str) -> pd.Series:
    """Attach the zone and convert to UTC (naive times are in the dump's zone).

    With a daylight-saving zone two kinds of local time need a rule, and neither may become an
    empty time (a row kept with no start once made co-location count for every pair): a time in
    the spring gap does not exist and is moved forward by the gap (``shift_forward``); a time in
    the autumn overlap happens twice and is read as its first occurrence (daylight time).
    """
    first = np.ones(len(local), dtype=bool)
    return local.dt.tz_localize(tz, ambiguous=first, nonexistent="shift_forward").dt.tz_convert("UTC")


def combine(date: pd.Series, time: pd.Series) -> pd.Series:
    """Join separate date and time columns into one parseable text ("" where either is empty).

    One Arrow kernel pass instead of pandas' three string operations and a ``where``: this
    runs four times on every block of a layout with split date and time columns.
    """
    d = pc.fill_null(pa.array(date.array, type=pa.large_string()), "")
    t = pc.fill_null(pa.array(time.array, type=pa.large_string()), "")
    return pd.Series(pd.arrays.ArrowStringArray(combine_arrays(d, t)), index=date.index)


def combine_arrays(d: pa.Array, t: pa.Array) -> pa.Array:
    """:func:`combine` of two null-free ``large_string`` arrays. A field the layout lacks is an
    empty column, and then so is the result (no kernel runs)."""
    if not len(d) or _all_empty(d):
        return d
    if _all_empty(t):
        return t
    both = pc.and_(pc.not_equal(d, ""), pc.not_equal(t, ""))
    joined = pc.binary_join_element_wise(d, t, pa.scalar(" ", pa.large_string()))
    return pc.if_else(both, joined, pa.scalar("", pa.large_string()))


def _all_empty(arr: pa.Array) -> bool:
    """Whether every value of a null-free ``large_string`` array is "" (read off its offsets)."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    return bool(offsets[arr.offset + len(arr)] == offsets[arr.offset])
