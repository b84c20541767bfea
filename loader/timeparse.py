"""Vectorised date/time parsing with per-layout formats and time zones."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import struct
import zoneinfo
from collections.abc import Callable
from importlib import resources

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
            parsed_rows = pd.to_datetime(sub[rows], format=fmt, errors="coerce")
            out[rows] = _far_years(sub[rows], parsed_rows, lambda t: dt.datetime.strptime(t, fmt))
    return out


#: pandas 2 (which pyproject.toml allows) parses text to nanoseconds only, so a time before 1677-09-21
#: or after 2262-04-11 became NaT where pandas 3, and the fixed-width path, read it.
_TEXT_IN_NANOSECONDS = int(pd.__version__.split(".")[0]) < 3
#: A four-digit year nanoseconds cannot hold (the range's edge years included).
_FAR_YEAR = r"(?:^|\D)(?:0\d{3}|1[0-5]\d\d|16[0-6]\d|167[0-7]|226[2-9]|22[7-9]\d|2[3-9]\d\d|[3-9]\d{3})(?:\D|$)"


def _far_years(text: pd.Series, parsed: pd.Series, read: Callable[[str], dt.datetime]) -> pd.Series:
    """``parsed`` (pandas' reading of ``text``) in seconds; on pandas 2, its NaT rows whose text holds
    a year outside nanoseconds' range are read by ``read`` (Python's parser, which pandas' follows),
    as pandas 3 reads them: only such rows (none in a dump of this era) go through Python."""
    out = parsed.astype("datetime64[s]")
    if not _TEXT_IN_NANOSECONDS or not len(text):
        return out
    redo = np.flatnonzero((out.isna() & text.str.contains(_FAR_YEAR, regex=True).fillna(False)).to_numpy(bool))
    for k in redo:  # rare rows (hostile or mistyped years), pandas 2 only
        try:
            when = read(text.iloc[k])
            if when.tzinfo is not None:
                when = when.astimezone(dt.UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            continue
        out.iloc[k] = np.datetime64(when, "s")
    return out


#: A UTC offset (``Z``, ``+05:30``, ``-0100``, ``+05``) after an ISO 8601 clock time, at the end of
#: the text: the only place pandas' ISO parser reads one.
_ISO_OFFSET = r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d*)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$"


def _iso_as_utc(text: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
    return _far_years(text, parsed, dt.datetime.fromisoformat) if _TEXT_IN_NANOSECONDS else parsed


def parse_iso(text: pd.Series) -> pd.Series:
    """ISO 8601 texts as naive times: a value with an offset is read as its UTC time, one without
    as written. Both kinds may share a column (hostile or hand-edited input): pandas refuses a mix
    ("Mixed timezones detected") unless told ``utc=True``, which reads a naive value as written
    and converts one with an offset. pandas 2 (which pyproject.toml allows) carries the last
    offset over to the naive values after it in that call (``10:11:12`` after a ``+05:30`` value
    became ``04:41:12``), so a column holding both kinds is read in two calls, one per kind."""
    aware = text.str.contains(_ISO_OFFSET, regex=True).fillna(False).to_numpy(dtype=bool)
    if aware.all() or not aware.any():
        return _iso_as_utc(text)
    with_offset, naive = _iso_as_utc(text[aware]).to_numpy(), _iso_as_utc(text[~aware]).to_numpy()
    out = np.full(len(text), np.datetime64("NaT"), dtype=np.promote_types(with_offset.dtype, naive.dtype))
    out[aware], out[~aware] = with_offset, naive
    return pd.Series(out, index=text.index)


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


#: ``tz_convert("UTC")``'s dtype for a seconds column.
UTC_SECONDS = pd.array(np.zeros(0, dtype="datetime64[s]")).tz_localize("UTC").dtype
#: A POSIX TZ string without a daylight-saving part (``IST-5:30``, ``<+04>-4``): the zone's offset
#: after its last listed transition never changes.
_STEADY_FOOTER = re.compile(rb"^(?:<[^>]*>|[A-Za-z]{3,})[+-]?\d{1,3}(?::\d{1,2}){0,2}$")
#: A local time is within a day of its UTC time (offsets are under 26 hours), so a zone transition
#: that can touch a local range lies within this margin of it.
_MARGIN = 2 * 86400


def local_to_utc_seconds(local: np.ndarray, tz: str) -> pd.api.extensions.ExtensionArray:
    """:func:`to_utc` of int64 local seconds (``NAT`` for none) as a ``datetime64[s, UTC]`` array.

    Why: pandas' ``tz_localize`` costs ~10 ns a value (ambiguity and gap checks against every
    transition) and ran on every time of every block. When the zone has no transition within two
    days of the values' range (always for a zone without daylight saving, such as Asia/Kolkata,
    after its last change), every value is unambiguous and exists, so the result is one
    subtraction of the one offset; otherwise, or when the zone's data cannot be read, pandas does
    it. tests/test_fixedtime.py compares the two on zones with daylight saving, at their edges.
    """
    timed = local != NAT
    filled = int(np.count_nonzero(timed))
    every = filled == len(local)
    offset = None
    if filled:
        lo = int(local.min() if every else np.min(local, where=timed, initial=np.iinfo(np.int64).max))
        offset = steady_offset(tz, lo, int(local.max()))
    elif len(local):
        offset = 0
    if offset is None:
        first = np.ones(len(local), dtype=bool)
        return (pd.array(local.view("datetime64[s]")).tz_localize(tz, ambiguous=first, nonexistent="shift_forward")
                .tz_convert("UTC"))
    utc = local - offset
    if not every:
        np.putmask(utc, ~timed, NAT)
    return pd.array(utc.view("datetime64[s]"), dtype=UTC_SECONDS)


def steady_offset(tz: str, lo: int, hi: int) -> int | None:
    """The zone's one UTC offset (seconds) for local times ``lo``..``hi`` (epoch seconds read as
    local), or None when a transition may fall within two days of that range, or the zone's data
    cannot be read as zoneinfo reads it, or pandas converts with other zone data than zoneinfo's."""
    if not pandas_uses_zoneinfo(tz):
        return None
    table = _zone_table(tz)
    if table is None or lo < -(2**62) or hi > 2**62:
        return None
    trans, offsets, steady = table
    k = int(np.searchsorted(trans, lo - _MARGIN, side="right"))  # transitions at or before the range
    if int(np.searchsorted(trans, hi + _MARGIN, side="right")) != k:
        return None
    if k == len(trans) and not steady:
        return None  # past the listed transitions, a daylight-saving rule decides
    return _checked(tz, int(offsets[k]), lo, hi)


@functools.lru_cache(maxsize=64)
def pandas_uses_zoneinfo(tz: str) -> bool:
    """Does pandas convert ``tz`` with zoneinfo (the system's zone files, read here too)?

    pandas 3 does; pandas 2 (which the package allows) converts a zone name with pytz and pytz's
    own copy of the zone database, whose rules can differ from the system's (19 zones differed
    here for late 2026, e.g. America/Vancouver one hour): the subtraction must then not be used,
    or one dump's blocks would get times from two databases.
    """
    try:
        zone = _pandas_zone(tz)
    except Exception:  # noqa: BLE001 - pandas' own path then raises its error for the zone
        return False
    return isinstance(zone, zoneinfo.ZoneInfo)


def _pandas_zone(tz: str) -> object:
    """The zone object pandas attaches for ``tz``."""
    return pd.Timestamp(0).tz_localize(tz).tzinfo


@functools.lru_cache(maxsize=256)
def _checked(tz: str, offset: int, lo: int, hi: int) -> int | None:
    """``offset`` if zoneinfo (pandas' source of zones) gives it at both ends of the range: the
    table read here then is the one pandas converts with."""
    try:
        zone = zoneinfo.ZoneInfo(tz)
        ends = [dt.datetime(1970, 1, 1) + dt.timedelta(seconds=t) for t in (lo, hi)]
        seen = {zone.utcoffset(t) for t in ends}
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OverflowError, OSError):
        return None
    return offset if seen == {dt.timedelta(seconds=offset)} else None


@functools.lru_cache(maxsize=64)
def _zone_table(tz: str) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(transition times in UTC seconds, the offset in force before the first and after each one,
    whether the TZ string that rules after the last one has no daylight saving) from the zone's
    TZif file (RFC 8536), found where zoneinfo finds it; None when it cannot be read so."""
    data = _tzif_bytes(tz)
    if data is None or len(data) < 44 or data[:4] != b"TZif" or data[4:5] not in (b"2", b"3", b"4"):
        return None
    try:
        isut, isstd, leap, timecnt, typecnt, charcnt = struct.unpack(">6l", data[20:44])
        at = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut  # past the 32-bit data
        if data[at : at + 4] != b"TZif":
            return None
        isut, isstd, leap, timecnt, typecnt, charcnt = struct.unpack(">6l", data[at + 20 : at + 44])
        at += 44
        if leap or not typecnt:
            return None  # leap-second ("right/") zones: not what pandas counts
        trans = np.frombuffer(data, dtype=">i8", count=timecnt, offset=at).astype(np.int64)
        kinds = np.frombuffer(data, dtype=np.uint8, count=timecnt, offset=at + 8 * timecnt)
        at += 9 * timecnt
        utoff = np.array([struct.unpack(">l", data[at + 6 * i : at + 6 * i + 4])[0] for i in range(typecnt)],
                         dtype=np.int64)
        at += typecnt * 6 + charcnt + isstd + isut
        footer = data[at:].strip(b"\n")
    except (struct.error, ValueError):
        return None
    if (len(trans) and (np.diff(trans) <= 0).any()) or (kinds >= typecnt).any():
        return None
    offsets = np.concatenate([utoff[:1], utoff[kinds]])  # type 0 rules before the first transition
    return trans, offsets, bool(_STEADY_FOOTER.match(footer))


def _tzif_bytes(tz: str) -> bytes | None:
    """The zone's TZif file as ``zoneinfo.ZoneInfo`` looks it up: each TZPATH entry, then tzdata."""
    if not tz or tz.startswith(("/", ".")) or ".." in tz.split("/") or "\0" in tz:
        return None
    for root in zoneinfo.TZPATH:
        path = os.path.join(root, tz)
        if os.path.isfile(path):
            try:
                with open(path, "rb") as fh:
                    return fh.read()
            except OSError:
                return None
    try:
        *package, name = ("tzdata.zoneinfo/" + tz).split("/")
        return resources.files(".".join(package)).joinpath(name).read_bytes()
    except (ImportError, OSError, ValueError):
        return None


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
