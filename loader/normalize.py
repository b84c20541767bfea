"""Turn one block of raw string columns into canonical sessions, rejects and non-data.

Every step works on whole columns; the only per-value Python work is on
distinct IP addresses (see ipaddr.py).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.loader import native
from cdrnet.loader.cells import cell_array, normalise_cells, stated_positions, states_no_position
from cdrnet.loader.dateorder import (
    ORDERS,
    DateDecision,
    decide,
    formats_for_order,
    header_order,
    sensitive_formats,
)
from cdrnet.loader.detect import Detection
from cdrnet.loader.fixedtime import large_strings, value_lengths
from cdrnet.loader.hashing import (
    RowHash,
    arrow_backing,
    column_hashes,
    frame_hashes,
    text_hashes,
    text_row_hashes,
)
from cdrnet.loader.identifiers import (
    _digits_only,
    _edges,
    _normalise_msisdn,
    _plain_msisdn,
    arrow_text,
    clean_array,
    clean_text,
    equipment_odd,
    imei14,
    imei14_array,
    int_arrays,
    normalise_equipment,
    normalise_msisdn,
    take_text,
    to_int,
)
from cdrnet.loader.ipaddr import ip_arrays, normalise_ips
from cdrnet.loader.layouts import Layout, normalise_header
from cdrnet.loader.signatures import Rule, classify_arrays, classify_columns
from cdrnet.loader.timeparse import (
    NAT,
    UTC_SECONDS,
    combine,
    combine_arrays,
    local_to_utc_seconds,
    parse_local,
    parse_local_array,
    to_utc,
)
from cdrnet.model import SESSION_COLUMNS, SESSION_KEY_COLUMNS

FOOTER = re.compile(
    r"^\W*(this is (a )?system generated|note\s*:|no (records?|data) found|end of (the )?report|cdr count\b|"
    r"page \d+|report generated|generated (on|by)|printed (on|by)|total records?|-{3,}|={3,}|\*{3,})",
    re.IGNORECASE,
)
DATE_ONLY = re.compile(r"^\W*(date\W*)?\d{1,4}[-/.]\w{1,3}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?\W*$", re.IGNORECASE)
PROTO_NUMBERS = {"6": "tcp", "17": "udp", "tcp": "tcp", "udp": "udp"}
ONE_DAY = pd.Timedelta(days=1)
#: Block statistics counting optional values blanked as out of range or unreadable, per field.
BLANKED_PREFIX = "blanked_"
_T = TypeVar("_T")  # a column as one path holds it: pandas Series or Arrow array
_P = TypeVar("_P")  # a parsed time column: datetime Series or int64 seconds


@dataclass
class Options:
    """Per-ingest settings shared by every block of every dump."""

    tz: str = "Asia/Kolkata"
    country_code: str = "91"
    rules: list[Rule] = field(default_factory=list)
    #: "auto" decides day-first/month-first per dump (see dateorder.py); "dmy"/"mdy" force it.
    date_order: str = "auto"


#: Canonical fields holding a date (alone or with a time); the first group are starts.
START_DATE_FIELDS = ("event_time", "start", "start_date", "alloc_start_date")
END_DATE_FIELDS = ("end", "end_date", "alloc_end_date")


def decide_dates(raw: pd.DataFrame, det: Detection, opts: Options, name: str) -> DateDecision:
    """Date order and requested period from the first block's date cells (every one of them)."""
    layout = det.layout
    assert layout is not None
    present = [f for f in (*START_DATE_FIELDS, *END_DATE_FIELDS) if f in det.index and det.index[f] < raw.shape[1]]
    arrays = raw_arrays_at(raw, sorted({det.index[f] for f in present})) if present else None
    if arrays is not None:  # the columns' Arrow text cleaned, without a Series per column
        cells: dict = {f: clean_array(arrays[det.index[f]]) for f in present}
    else:
        cells = {f: clean_text(raw.iloc[:, det.index[f]]) for f in present}
    starts = [cells[f] for f in present if f in START_DATE_FIELDS]
    return decide(name, list(cells.values()), starts, det.stated, layout.datetime_formats, opts.date_order,
                  layout.timezone or opts.tz, header_order(list(layout.fields.values())))


def _order_rejects(texts: list[pd.Series], parsed: list[pd.Series], formats: tuple[str, ...],
                   order: str) -> tuple[pd.Series, str]:
    """Rows with a date that does not read in the dump's order but reads in the other one.

    Only rows that failed to parse are re-tried, so the common case costs nothing.
    """
    hit = pd.Series(False, index=texts[0].index)
    others = [o for o in ORDERS if o != order]
    alt_formats = tuple(f for o in others for f in sensitive_formats(formats, o))
    if not alt_formats:
        return hit, ""
    for text, value in zip(texts, parsed, strict=True):
        failed = np.isnat(value.to_numpy(dtype="datetime64[s]"))
        failed &= value_lengths(large_strings(text)) > 0
        if failed.any():
            alt = parse_local(text[failed], alt_formats)
            hit[alt[alt.notna()].index] = True
    return hit, "date_order_conflict" if order in ORDERS else "date_order_undecided"


@dataclass
class BlockResult:
    """Canonical sessions plus what happened to every other line of the block."""

    sessions: pd.DataFrame
    rejects: pd.DataFrame  # columns: line, reason
    #: With ``groups`` (several dumps normalised as one block): one count per group, as arrays.
    nondata: int | np.ndarray
    stats: dict[str, int] | dict[str, np.ndarray]
    key_hash: np.ndarray  # first 64 bits of each session key, for duplicate checks
    #: 64-bit hash of each session's whole raw row (serial number aside): tells an identical
    #: repeated row from an operator re-send of the same session with changed details.
    row_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))


def is_nondata_text(text: str) -> bool:
    """Blank, padding, footer or stamp lines that carry no session."""
    core = text.strip().strip(",;|\t").strip()
    if not core:
        return True
    if not re.sub(r'["\s,;|\t]', "", text):
        return True
    return bool(FOOTER.match(core) or DATE_ONLY.match(core))


def _hex_keys(h1: np.ndarray, h2: np.ndarray) -> pd.Series:
    """32 hex digits per row, built as one Arrow buffer (no per-row Python strings); the digits by
    the kernel in one pass where it is built (else :func:`_hex_digits_pure`)."""
    text = native.hex_keys(h1, h2)
    if text is None:
        text = pa.py_buffer(_hex_digits_pure(h1, h2))
    offsets = np.arange(0, 32 * (len(h1) + 1), 32, dtype=np.int64)
    arr = pa.Array.from_buffers(pa.large_string(), len(h1), [None, pa.py_buffer(offsets), text])
    return pd.Series(pd.arrays.ArrowStringArray(arr))


def _hex_digits_pure(h1: np.ndarray, h2: np.ndarray) -> bytes:
    """Each row's two hashes as 32 hex digits, big-endian, concatenated (the kernel's reference)."""
    both = np.stack([h1, h2], axis=1).astype(">u8")
    return both.tobytes().hex().encode("ascii")


def key_hash_of(keys: np.ndarray | pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The first 64 bits of session keys (the duplicate-check hash), read back from their hex text."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.uint64)
    digits = _key_bytes(keys)[:, :16]
    lut = np.zeros(256, dtype=np.uint8)
    lut[ord("0") : ord("9") + 1] = np.arange(10, dtype=np.uint8)
    lut[ord("a") : ord("f") + 1] = np.arange(10, 16, dtype=np.uint8)
    nibbles = lut[digits]
    packed = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])
    return packed.view(">u8").ravel().astype(np.uint64)


def _key_bytes(keys: np.ndarray | pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Session keys as an (n, 32) byte matrix; straight from Arrow's buffer when possible."""
    arr = keys
    if isinstance(arr, pd.Series):
        arr = pa.array(arr.array) if isinstance(arr.array, pd.arrays.ArrowStringArray) else arr.to_numpy(dtype=object)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if isinstance(arr, pa.Array):
        if arr.null_count == 0:
            arr = arr.cast(pa.large_string())
            offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
            if np.all(np.diff(offsets) == 32):
                return np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 32)
        arr = arr.to_numpy(zero_copy_only=False)
    return np.asarray(arr, dtype="S32").view(np.uint8).reshape(-1, 32)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit reaches every output bit (in place: ``x`` is overwritten)."""
    t = np.empty_like(x)
    np.bitwise_xor(x, np.right_shift(x, np.uint64(30), out=t), out=x)
    np.multiply(x, np.uint64(0xBF58476D1CE4E5B9), out=x)
    np.bitwise_xor(x, np.right_shift(x, np.uint64(27), out=t), out=x)
    np.multiply(x, np.uint64(0x94D049BB133111EB), out=x)
    return np.bitwise_xor(x, np.right_shift(x, np.uint64(31), out=t), out=x)


_HASH_KEYS = ((0x9E3779B97F4A7C15, "cdrnet-session-1"), (0xD1B54A32D192ED03, "cdrnet-session-2"))


def _column_words(col: pd.Series) -> list[np.ndarray]:
    """One 64-bit word per value and hash key: integers as themselves, text through its distinct values.

    Text columns repeat heavily (a subscriber, a server, a cell), so hashing the
    distinct values and gathering is far cheaper than hashing every row; Arrow text is
    factorised once in C++ for both keys (loader/hashing.py), missing text hashes as "".
    """
    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
        arr = col.to_numpy(dtype="datetime64[s]")
        v = arr.astype(np.int64)
        v[np.isnat(arr)] = -1
        return [v.view(np.uint64)] * len(_HASH_KEYS)
    if pd.api.types.is_integer_dtype(col.dtype):
        return [col.fillna(-1).to_numpy(dtype=np.int64).view(np.uint64)] * len(_HASH_KEYS)
    text = arrow_backing(col)
    if text is not None:
        return text_hashes(text.fill_null("") if text.null_count else text, [k for _, k in _HASH_KEYS])
    # Arrow text to factorise (pandas 2's "string", Python storage, compares C strings: "" == "\x00").
    codes, uniques = pd.factorize(col.astype(pd.StringDtype("pyarrow")).fillna(""), use_na_sentinel=False)
    values = np.asarray(uniques, dtype=object)
    return [pd.util.hash_array(values, hash_key=hash_key)[codes] for _, hash_key in _HASH_KEYS]


def session_hashes(frame: pd.DataFrame, columns: list[str] = SESSION_KEY_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of the identifying columns (a 128-bit key).

    Times and numbers are hashed as integers (missing = -1), text as text, so the
    same row always gives the same key without formatting anything; the column
    position is mixed in, so swapping two values changes the key. Call events pass
    their own key columns (cdrnet/model.py CALL_KEY_COLUMNS).
    """
    out = [np.full(len(frame), seed, dtype=np.uint64) for seed, _ in _HASH_KEYS]
    for i, c in enumerate(columns):
        for k, ((seed, _), words) in enumerate(zip(_HASH_KEYS, _column_words(frame[c]), strict=True)):
            salt = ((i + 1) * seed) & 0xFFFFFFFFFFFFFFFF
            if not native.mix_into(out[k], words, salt):  # the kernel does these steps in one pass
                np.bitwise_xor(out[k], _mix(words + np.uint64(salt)), out=out[k])
                _mix(out[k])
    return out[0], out[1]


def record_keys(layout: Layout, msisdn: pd.Series, charging_id: pd.Series, end_utc: pd.Series) -> pd.Series:
    """The record a row's volumes belong to, where the layout repeats a record's totals per flow.

    Airtel writes the partial PDP record's Uplink_Vol/Downlink_Vol on every flow row of the
    record (same Charging_ID, same record close time), so volumes must be counted once per
    (subscriber, Charging_ID, close time). Empty where each row is its own record (flow-scope
    volumes, or no charging id on the row): counting the row's volumes is then right.
    """
    empty = pd.Series("", index=msisdn.index, dtype="string")
    if layout.volume_scope != "record" or "charging_id" not in layout.fields:
        return empty
    parts = pd.DataFrame({"m": msisdn.fillna(""), "c": charging_id,
                          "e": end_utc.astype("int64")})
    # = pd.util.hash_pandas_object(parts, index=False, hash_key=...) per key, each column factorised once
    h1, h2 = frame_hashes(parts, ("cdrnet-record-01", "cdrnet-record-02"))
    keys = _hex_keys(h1, h2).set_axis(msisdn.index)
    return keys.where(charging_id != "", "").astype("string")


def column_reader(raw: pd.DataFrame, det: Detection) -> Callable[[str], pd.Series]:
    """A canonical field's cleaned text column (empty strings where the layout lacks it), cached."""
    cleaned: dict[str, pd.Series] = {}

    def col(name: str) -> pd.Series:
        if name not in cleaned:
            positions = [p for p in (det.alternatives.get(name) or
                                     ([det.index[name]] if name in det.index else [])) if p < raw.shape[1]]
            value = None
            for pos in positions:
                # Several columns for one field (Destination_IP4, Destination_IP6): the first non-empty wins.
                text = clean_text(raw.iloc[:, pos])
                value = text if value is None else value.where(value != "", text)
            if value is None:  # one shared empty column for every field the layout lacks
                value = cleaned.setdefault("", pd.Series("", index=raw.index, dtype="string"))
            cleaned[name] = value
        return cleaned[name]

    return col


def nondata_rows(raw: pd.DataFrame, det: Detection, col: Callable[[str], pd.Series]) -> pd.Series:
    """Blank or padded lines, footers and a repeated header among a block's rows.

    Candidates: no subscriber, or none of the other required fields (padded footers).
    """
    layout = det.layout
    assert layout is not None
    msisdn_raw = arrow_text(col("msisdn"))
    cand = _is_empty(msisdn_raw)
    others = [f for f in layout.required if f != "msisdn" and f in det.index]
    if others:
        cand |= np.logical_and.reduce([_is_empty(arrow_text(col(f))) for f in others])
    nondata = np.zeros(len(raw), dtype=bool)
    if cand.any():
        joined = raw[cand].fillna("").astype(str).agg(" ".join, axis=1)
        nondata[cand] = joined.map(is_nondata_text).astype(bool).to_numpy()
    header_name = normalise_header(det.columns[det.index["msisdn"]])
    header = pc.equal(pc.utf8_trim_whitespace(pc.utf8_lower(msisdn_raw)), header_name)
    return pd.Series(nondata | pc.fill_null(header, False).to_numpy(zero_copy_only=False), index=raw.index)


def _is_empty(arr: pa.Array) -> np.ndarray:
    """True where a text cell is empty (missing counts as not empty, as ``== ""`` has it)."""
    return pc.fill_null(pc.equal(arr, ""), False).to_numpy(zero_copy_only=False)


def raw_row_hash(raw: pd.DataFrame, keep: np.ndarray, det: Detection) -> np.ndarray:
    """64-bit hash of each kept row's raw cells as split (serial number aside): an identical
    re-sent line hashes identically, a re-send with changed details does not."""
    serial = det.index.get("serial")
    if not keep.any():
        return np.zeros(0, dtype=np.uint64)
    # = pd.util.hash_pandas_object(raw[keep] without the serial, index=False) (loader/hashing.py).
    # Each row's hash depends on its own cells only, so the whole block is hashed column by
    # column and the kept rows taken from the result: no copy of the block's columns (a
    # pandas take of every column, then a drop) just to hash them.
    positions = [i for i in range(raw.shape[1]) if i != serial]
    row = RowHash(len(raw), len(positions))
    for i in positions:
        row.add(column_hashes(raw.iloc[:, i])[0])
    out = row.result()
    return out if keep.all() else out[keep]


def _seconds(text: pd.Series | pa.Array) -> np.ndarray:
    """A duration column as float seconds, NaN where empty or unreadable.

    Whole numbers (the usual export) take one Arrow cast; anything else (``12.5``, ``1e3``,
    a stray word) goes through ``pd.to_numeric``, which decides what reads as a number.
    """
    arr = arrow_text(text)
    plain = native.plain_ints(arr, -(2**63), 2**63 - 1)
    if plain is not None:  # every value empty or a plain integer: one pass of the kernel
        values, status = plain
        return np.where(status == 0, np.nan, values.astype(float))
    data = arr.buffers()[2] if len(arr) else None
    # Arrow's cast also reads ``0x1F``: only signs and digits take the cast.
    if not arr.null_count and (data is None or _INTEGER_BYTES[np.frombuffer(data, dtype=np.uint8)].all()):
        try:
            values = pc.cast(pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.large_string()), arr), pa.int64())
            return values.to_numpy(zero_copy_only=False).astype(float)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if not isinstance(text, pd.Series):
        text = pd.Series(pd.arrays.ArrowStringArray(arr))
    return pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


_INTEGER_BYTES = np.zeros(256, dtype=bool)
_INTEGER_BYTES[list(b"0123456789+-")] = True


def _protocols(text: pd.Series) -> pd.Series:
    """``tcp``/``udp`` from a protocol column (names or IANA numbers); "" for anything else."""
    arr = pc.utf8_lower(arrow_text(text))
    keys = pa.array(list(PROTO_NUMBERS), pa.large_string())
    names = pa.array([*PROTO_NUMBERS.values(), ""], pa.large_string())
    at = pc.fill_null(pc.index_in(arr, keys), len(PROTO_NUMBERS))
    return pd.Series(pd.arrays.ArrowStringArray(names.take(at)), index=text.index)


def _mark(reason: pd.Series, rows: pd.Series | np.ndarray, why: str) -> None:
    """Give ``why`` to the rows without a reason yet; no write when no row needs it (the usual)."""
    hit = np.asarray(rows, dtype=bool) & reason.isna().to_numpy()
    if hit.any():
        reason[hit] = why


def _counter(groups: np.ndarray | None) -> Callable[[pd.Series], int | np.ndarray]:
    """How a row mask is counted: one number, or one per group (see :func:`normalise_block`)."""
    if groups is None:
        return lambda mask: int(mask.sum())
    n = int(groups.max()) + 1 if len(groups) else 0
    return lambda mask: np.bincount(groups[np.asarray(mask, dtype=bool)], minlength=n)


def normalise_block(raw: pd.DataFrame, lines: np.ndarray, det: Detection, opts: Options,
                    dump_sha: str, source_part: str, groups: np.ndarray | None = None) -> BlockResult:
    """Normalise one block. ``lines`` holds each row's physical line number.

    ``groups`` (a small int per row) lets several small dumps read the same way be normalised
    as one block (loader/smallbatch.py): every step is per row, and the per-block fixed cost
    is what a per-subscriber dump mostly costs. The counts (``stats``, ``nondata``) then come
    back per group, as arrays.

    The columns go through the steps as Arrow and numpy arrays (:func:`_normalise_arrays`); a
    block that path does not claim (see there) takes :func:`normalise_block_general`, the
    pandas Series path, which gives the same result (tests/test_normalise_arrays.py).
    """
    fast = _normalise_arrays(raw, lines, det, opts, dump_sha, source_part, groups)
    return fast if fast is not None else normalise_block_general(raw, lines, det, opts, dump_sha, source_part,
                                                                  groups)


def _time_columns(col: Callable[[str], _T], det: Detection, fmts: tuple[str, ...],
                  combine_fn: Callable[[_T, _T], _T], parse_fn: Callable[[_T, tuple[str, ...]], _P],
                  ) -> tuple[tuple[_T, _T, _T, _T, _T], tuple[_P, _P, _P, _P, _P]]:
    """The five time texts a layout can give (event; start and end, whole or as date + time; the
    allocation's start and end) and each parsed with ``fmts``: one helper for both paths, which
    differ only in the column type (``combine``/``parse_local`` on Series,
    ``combine_arrays``/``parse_local_array`` on Arrow arrays), so they cannot pick differently.

    Returns ``(event, start, end, alloc_start, alloc_end)`` as texts, then parsed, in that order.
    """
    event = col("event_time")
    start = col("start") if "start" in det.index else combine_fn(col("start_date"), col("start_time"))
    end = col("end") if "end" in det.index else combine_fn(col("end_date"), col("end_time"))
    alloc_start = combine_fn(col("alloc_start_date"), col("alloc_start_time"))
    alloc_end = combine_fn(col("alloc_end_date"), col("alloc_end_time"))
    return ((event, start, end, alloc_start, alloc_end),
            (parse_fn(event, fmts), parse_fn(start, fmts), parse_fn(end, fmts), parse_fn(alloc_start, fmts),
             parse_fn(alloc_end, fmts)))


def _duration_us(seconds: np.ndarray) -> np.ndarray:
    """Durations in seconds (NaN: none) as microsecond timedeltas.

    Why not ``pd.to_timedelta(seconds, unit="s")``: pandas picks the unit from the values, and a
    fractional one (12.5 s) makes it nanoseconds; adding that to a start read as year 3600 (a
    hostile or garbled time that parses) then overflows and failed the whole dump. Microseconds
    hold 12.5 s exactly and every year a time can be written with.
    """
    us = np.where(np.isnan(seconds), np.iinfo(np.int64).min, np.round(seconds * 1e6)).astype(np.int64)
    return us.view("m8[us]")  # an array, not a Series: added by position, whatever the block's index


def _fill_times(times: pd.Series, fill: pd.Series) -> pd.Series:
    """``times.fillna(fill)`` with the time unit chosen explicitly, as pandas 3 chooses it.

    pandas 3 keeps ``times``' unit when the fill's values fit it (an end of whole seconds) and
    takes the finer unit when they do not (an end 12.5 s after a start), with a warning that
    pandas 4 will raise instead: a dump would then fail. The same result, cast before filling.
    Only the fill values that fill a gap decide the unit: an end already given keeps the column's
    unit even when the start plus a fractional duration would not fit it (as the array path does).
    """
    if times.dtype == fill.dtype:
        return times.fillna(fill)
    coarse = fill.astype(times.dtype)
    used = times.isna() & fill.notna()
    if bool((coarse[used] == fill[used]).all()):
        return times.fillna(coarse)
    return times.astype(fill.dtype).fillna(fill)


def normalise_block_general(raw: pd.DataFrame, lines: np.ndarray, det: Detection, opts: Options,
                            dump_sha: str, source_part: str, groups: np.ndarray | None = None) -> BlockResult:
    """:func:`normalise_block` by pandas Series, step by step: the general path, and the reference
    the array path is tested against."""
    layout = det.layout
    assert layout is not None
    stats: dict = {}
    count = _counter(groups)
    col = column_reader(raw, det)
    msisdn_raw = col("msisdn")
    nondata = nondata_rows(raw, det, col)

    msisdn, r_msisdn = normalise_msisdn(msisdn_raw, opts.country_code)
    reason = pd.Series(r_msisdn.array, index=raw.index, dtype="string", copy=True)  # first reason: the subscriber

    tz = layout.timezone or opts.tz
    decision = det.decision or DateDecision()
    fmts = formats_for_order(layout.datetime_formats, decision.order)
    texts, parsed = _time_columns(col, det, fmts, combine, parse_local)
    event_text, start_text, end_text, alloc_start_text, alloc_end_text = texts
    event, start, local_end, alloc_start, alloc_end = parsed
    use_event = event.notna()
    stats["event_time_rows"] = count(use_event)
    local_start = event.where(use_event, start).fillna(alloc_start)
    local_text = event_text.where(use_event, start_text.where(start_text != "", alloc_start_text))
    wrong_order, why = _order_rejects([event_text, start_text, end_text, alloc_start_text, alloc_end_text],
                                      [event, start, local_end, alloc_start, alloc_end],
                                      layout.datetime_formats, decision.order)
    if why:
        _mark(reason, wrong_order, why)
    _mark(reason, local_start.isna(), "invalid_time")

    duration = _seconds(col("duration"))
    duration = np.where((duration >= 0) & (duration < 7 * 86400), duration, np.nan)
    by_duration = local_start + _duration_us(duration)
    local_end = _fill_times(local_end, by_duration.where(use_event | alloc_start.isna()))
    local_end = _fill_times(_fill_times(local_end, alloc_end.where(~use_event)), local_start)
    backwards = local_end < local_start
    same_day = local_end.dt.normalize() == local_start.dt.normalize()
    roll = backwards & same_day
    local_end = local_end.where(~roll, local_end + ONE_DAY)
    stats["end_rolled_over"] = count(roll & reason.isna())
    _mark(reason, backwards & ~roll, "end_before_start")

    dest_port, bad_port = to_int(col("dest_port"), 0, 65535)
    _mark(reason, bad_port, "invalid_port")
    dest_ip, bad_ip, ver, hi, lo = normalise_ips(col("dest_ip"))
    _mark(reason, bad_ip, "invalid_ip")
    # Optional numbers out of range or unreadable (a port 70000, a volume -5) are blanked, not
    # fatal to the row, and counted per field in the quality summary (never silently).
    src_port, bad_src_port = to_int(col("src_port"), 0, 65535)
    public_port, bad_public_port = to_int(col("public_port"), 0, 65535)
    uplink, bad_uplink = to_int(col("uplink"), 0, 2**62)
    downlink, bad_downlink = to_int(col("downlink"), 0, 2**62)
    proto = _protocols(col("proto"))

    imei, lost_imei = normalise_equipment(col("imei"))
    imsi, lost_imsi = normalise_equipment(col("imsi"))
    reason = reason.where(~nondata, pd.NA)
    keep = reason.isna() & ~nondata
    stats["imei_precision_lost"] = count(lost_imei & keep)
    stats["imsi_precision_lost"] = count(lost_imsi & keep)
    for name, bad in (("src_port", bad_src_port), ("public_port", bad_public_port), ("uplink", bad_uplink),
                      ("downlink", bad_downlink)):
        stats[BLANKED_PREFIX + name] = count(bad & keep)

    start_utc = to_utc(local_start, tz)
    end_utc = to_utc(local_end, tz)
    cell_raw = col("cell_id")
    lat, lon = stated_positions(col("lat"), col("lon"), col("lat_lon"), col("cell_name"))
    columns = {
        "msisdn": msisdn, "imsi": imsi, "imei": imei, "imei14": imei14(imei),
        "start_utc": start_utc, "end_utc": end_utc,
        "start_local": local_text,
        "alloc_start_utc": to_utc(alloc_start, tz), "alloc_end_utc": to_utc(alloc_end, tz),
        "src_ip": col("src_ip"), "src_port": src_port, "public_ip": col("public_ip"),
        "public_port": public_port, "dest_ip": dest_ip, "dest_port": dest_port, "proto": proto,
        "cell_id": normalise_cells(cell_raw, layout.cell_format == "hex_eci"), "cell_raw": cell_raw,
        "cell_name": col("cell_name"), "lat": lat, "lon": lon,
        "uplink": uplink, "downlink": downlink, "rat": col("rat"),
        "apn": col("apn"), "record_key": record_keys(layout, msisdn, col("charging_id"), end_utc),
    }
    if layout.has_destination:
        columns.update(classify_columns(ver, hi, lo, dest_port, proto, start_utc, opts.rules))
    else:
        empty = pd.Series("", index=raw.index, dtype="string")
        columns.update({c: empty for c in ("app", "app_vendor", "app_category", "app_confidence")})
    # One frame from the columns' arrays (every one is on raw's index): no alignment, no
    # concat, no column inserts; the constants are broadcast as the constructor does them.
    frame = pd.DataFrame({**{name: c.array for name, c in columns.items()}, "tz": tz, "dump_sha256": dump_sha,
                          "source_part": source_part, "source_line": lines.astype(np.int64),
                          "layout": layout.name}, index=raw.index)

    keep_rows = keep.to_numpy()
    sessions = frame if keep_rows.all() else frame[keep_rows]
    h1, h2 = session_hashes(sessions)
    sessions = sessions.assign(session_key=_hex_keys(h1, h2).set_axis(sessions.index))
    rej_mask = (~keep & ~nondata).to_numpy()
    rejects = pd.DataFrame({"line": lines[rej_mask], "reason": reason[rej_mask].astype(str).to_numpy()})
    row_hash = raw_row_hash(raw, keep.to_numpy(), det)
    return BlockResult(_text_as_pandas_3(sessions[SESSION_COLUMNS]), rejects, count(nondata), stats, h1, row_hash)


#: pandas 2 (which pyproject.toml allows) holds a broadcast string as Python objects and ``"string"``
#: in Python storage, where pandas 3 (and the array path, under either) holds both in Arrow.
_PANDAS_2_TEXT = not isinstance(pd.Series(["x"]).dtype, pd.StringDtype)


def _text_as_pandas_3(frame: pd.DataFrame) -> pd.DataFrame:
    """The general path's sessions with text in pandas 3's dtypes under pandas 2 too, so a block's
    frame has one set of dtypes whichever path and pandas made it."""
    if not _PANDAS_2_TEXT:
        return frame
    cast = {name: _STR if pd.api.types.is_object_dtype(dtype) else pd.StringDtype("pyarrow")
            for name, dtype in frame.dtypes.items()
            if pd.api.types.is_object_dtype(dtype) or (isinstance(dtype, pd.StringDtype) and dtype.storage == "python")}
    return frame.astype(cast) if cast else frame


# --- The array path -------------------------------------------------------------------------------
# Every step on Arrow/numpy arrays: a block paid ~24 ms of fixed cost in ~100 pandas calls
# (a Series built per cleaned column, ``where``/``fillna`` per time step, a reason Series marked
# in place, a frame then filtered), which is most of what a small dump costs.

def _empty_text(n: int) -> pa.Array:
    """``n`` empty strings (offsets only, no data)."""
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(np.zeros(n + 1, dtype=np.int64)),
                                                        pa.py_buffer(b"")])


def raw_arrays(raw: pd.DataFrame) -> list[pa.Array] | None:
    """Each raw column's Arrow text (nulls as they are), without a Series per column; None when a
    column is not Arrow-backed text (the general path then reads it)."""
    out = []
    for values in raw._iter_column_arrays():  # noqa: SLF001
        arr = _raw_array(values)
        if arr is None:
            return None
        out.append(arr)
    return out


def raw_arrays_at(raw: pd.DataFrame, positions: list[int]) -> dict[int, pa.Array] | None:
    """:func:`raw_arrays` of the columns at ``positions`` only (by position): :func:`decide_dates`
    reads a layout's 2-4 date columns, where reading all ~22 cost ~0.4 ms a dump."""
    picked = {}
    for k in positions:
        arr = _raw_array(raw._get_column_array(k))  # noqa: SLF001 - no Series per column
        if arr is None:
            return None
        picked[k] = arr
    return picked


def _raw_array(values: object) -> pa.Array | None:
    """One raw column's Arrow text as one ``large_string`` array, or None when it is not Arrow text."""
    text = arrow_backing(values)
    if text is None:
        return None
    arr = text.combine_chunks() if text.num_chunks != 1 else text.chunk(0)
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def array_reader(arrays: list[pa.Array], det: Detection, n: int) -> Callable[[str], pa.Array]:
    """:func:`column_reader` on raw Arrow arrays: a field's cleaned text as a null-free array, cached."""
    cleaned: dict[str, pa.Array] = {}
    by_position: dict[int, pa.Array] = {}

    def col(name: str) -> pa.Array:
        if name not in cleaned:
            positions = [p for p in (det.alternatives.get(name) or
                                     ([det.index[name]] if name in det.index else [])) if p < len(arrays)]
            value = None
            for pos in positions:
                if pos not in by_position:
                    by_position[pos] = clean_array(arrays[pos])
                text = by_position[pos]
                # Several columns for one field (Destination_IP4, Destination_IP6): the first non-empty wins.
                value = text if value is None else pc.if_else(pc.equal(value, ""), text, value)
            if value is None:  # one shared empty column for every field the layout lacks
                value = cleaned.setdefault("", _empty_text(n))
            cleaned[name] = value
        return cleaned[name]

    return col


class _Reasons:
    """Each row's first reject reason as a small code (0: none yet): marking a reason is a numpy
    mask, where a pandas string Series cost an ``isna`` and a write per step."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int16)
        self.names: list[str] = [""]

    def mark(self, rows: np.ndarray, why: str) -> None:
        """Give ``why`` to the rows without a reason yet (as :func:`_mark`)."""
        hit = rows & (self.code == 0)
        if hit.any():
            if why not in self.names:
                self.names.append(why)
            self.code[hit] = self.names.index(why)

    def take(self, reasons: pd.Series) -> None:
        """The subscriber's reasons (a string Series, NA where none) as the first ones."""
        codes, names = pd.factorize(reasons, use_na_sentinel=True)
        for k, why in enumerate(names):
            self.mark(codes == k, str(why))

    def texts(self, rows: np.ndarray) -> np.ndarray:
        """The reasons of ``rows`` (every one has one) as Python strings."""
        return np.array(self.names, dtype=object)[self.code[rows]]


def _filled_mask(arr: pa.Array) -> np.ndarray:
    return value_lengths(arr) > 0


def _choose(mask: np.ndarray, a: pa.Array, b: pa.Array) -> pa.Array:
    """``a`` where ``mask``, else ``b`` (null-free text), without a kernel when one side wins everywhere."""
    if mask.all():
        return a
    if not mask.any():
        return b
    return pc.if_else(pa.array(mask), a, b)


def _local_end(local_start: np.ndarray, local_end: np.ndarray, duration: np.ndarray, use_event: np.ndarray,
               alloc_start: np.ndarray, alloc_end: np.ndarray) -> np.ndarray | None:
    """The local end time as the general path fills it (int64 seconds, ``NAT`` for none), or None when
    a fractional duration would fill one (pandas then turns the column into sub-second times)."""
    has_start = local_start != NAT
    by = ~np.isnan(duration) & has_start & (use_event | (alloc_start == NAT))
    fill = by & (local_end == NAT)
    if fill.any():
        d = duration[fill]
        if not (d == np.floor(d)).all():
            return None
        local_end = local_end.copy()
        local_end[fill] = local_start[fill] + d.astype(np.int64)
    else:
        local_end = local_end.copy()
    gap = (local_end == NAT) & ~use_event
    local_end[gap] = alloc_end[gap]
    gap = local_end == NAT
    local_end[gap] = local_start[gap]
    return local_end


def _utc(local: list[np.ndarray], tz: str) -> list[pd.api.extensions.ExtensionArray]:
    """:func:`to_utc` of several columns of local seconds in one call (each value is converted on its
    own, so one call over all gives each column's result): by one subtraction when no zone transition
    is near the values (:func:`~cdrnet.loader.timeparse.local_to_utc_seconds`), else by pandas.

    A column without any time (the allocation's start and end in most layouts: ~40 % of the values
    on the 400-dump case) is not converted: NaT stays NaT, so it is built as NaT directly."""
    timed = [bool((part != NAT).any()) for part in local]
    parts = [part for part, has in zip(local, timed, strict=True) if has]
    utc = local_to_utc_seconds(np.concatenate(parts), tz) if parts else None
    out, at = [], 0
    for part, has in zip(local, timed, strict=True):
        if has:
            assert utc is not None
            out.append(utc[at : at + len(part)])
            at += len(part)
        else:
            out.append(pd.array(np.full(len(part), NAT).view("datetime64[s]"), dtype=_UTC_SECONDS))
    return out


#: The dtype ``tz_convert("UTC")`` gives a seconds column (for columns built without converting).
_UTC_SECONDS = UTC_SECONDS


def _seconds_of(utc: pd.api.extensions.ExtensionArray) -> np.ndarray:
    """UTC seconds of a tz-aware seconds array (``NAT`` where none)."""
    return np.asarray(utc.asi8, dtype=np.int64)


def _time_words(seconds: np.ndarray) -> np.ndarray:
    v = seconds.copy()
    v[seconds == NAT] = -1
    return v.view(np.uint64)


def _int_words(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return np.where(ok, values, -1).astype(np.int64).view(np.uint64)


def _mix_columns(n: int, words: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`session_hashes`' mixing over each key column's words (one array per hash key)."""
    out = [np.full(n, seed, dtype=np.uint64) for seed, _ in _HASH_KEYS]
    for i, col_words in enumerate(words):
        for k, ((seed, _), w) in enumerate(zip(_HASH_KEYS, col_words, strict=True)):
            salt = ((i + 1) * seed) & 0xFFFFFFFFFFFFFFFF
            if not native.mix_into(out[k], w, salt):
                np.bitwise_xor(out[k], _mix(w + np.uint64(salt)), out=out[k])
                _mix(out[k])
    return out[0], out[1]


def _session_key(n: int, columns: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """The two session-key hashes of typed key columns: ``(0, text)``, ``(1, seconds)`` (``NAT`` for
    none) or ``(2, values, ok)``, in SESSION_KEY_COLUMNS' order. The kernel mixes every column in one
    pass over the rows (the words made on the fly); :func:`_mix_columns` of the words is its reference."""
    typed = [(0, *_text_words(c[1])) if c[0] == 0 else c for c in columns]
    fast = native.mix_columns(n, typed, (_HASH_KEYS[0][0], _HASH_KEYS[1][0]))
    if fast is not None:
        return fast
    return _mix_columns(n, [[c[1], c[2]] if c[0] == 0 else [_time_words(c[1])] * 2 if c[0] == 1
                            else [_int_words(c[1], c[2])] * 2 for c in typed])


def _text_words(arr: pa.Array) -> list[np.ndarray]:
    return text_hashes(arr.fill_null("") if arr.null_count else arr, [k for _, k in _HASH_KEYS])


def _record_key_array(layout: Layout, msisdn: pa.Array, charging_id: pa.Array, end_s: np.ndarray) -> pa.Array:
    """:func:`record_keys` on arrays (msisdn and charging id null-free, end times as int64 UTC seconds)."""
    n = len(msisdn)
    if layout.volume_scope != "record" or "charging_id" not in layout.fields:
        return _empty_text(n)
    keys = ("cdrnet-record-01", "cdrnet-record-02")
    rows = [RowHash(n, 3) for _ in keys]
    times = pd.util.hash_array(end_s)
    for hashes in (text_hashes(msisdn, keys), text_hashes(charging_id, keys), [times, times]):
        for row, h in zip(rows, hashes, strict=True):
            row.add(h)
    h1, h2 = (row.result() for row in rows)
    text = pa.array(_hex_keys(h1, h2).array)
    return pc.if_else(pc.equal(charging_id, ""), pa.scalar("", pa.large_string()), text)


def _nondata_of(raw: pd.DataFrame, det: Detection, col: Callable[[str], pa.Array]) -> np.ndarray:
    """:func:`nondata_rows` as a numpy mask, on the array reader's columns."""
    layout = det.layout
    assert layout is not None
    msisdn_raw = col("msisdn")
    cand = ~_filled_mask(msisdn_raw)
    others = [f for f in layout.required if f != "msisdn" and f in det.index]
    if others:
        cand |= np.logical_and.reduce([~_filled_mask(col(f)) for f in others])
    nondata = np.zeros(len(raw), dtype=bool)
    if cand.any():
        joined = raw[cand].fillna("").astype(str).agg(" ".join, axis=1)
        nondata[cand] = joined.map(is_nondata_text).astype(bool).to_numpy()
    header_name = normalise_header(det.columns[det.index["msisdn"]])
    if header_name[:1].isascii() and header_name[:1].isalpha() and not _may_be_word(msisdn_raw):
        return nondata  # every value starts with a digit (a number): none lowers and trims to a name
    header = pc.equal(pc.utf8_trim_whitespace(pc.utf8_lower(msisdn_raw)), header_name)
    return nondata | pc.fill_null(header, False).to_numpy(zero_copy_only=False)


def _may_be_word(arr: pa.Array) -> bool:
    """Whether some value of a null-free text array starts with a byte other than an ASCII digit (or is
    empty): lower-casing and trimming keep a leading digit, so only such values can equal a name."""
    first, _ = _edges(arr)
    return len(first) < len(arr) or bool(((first - np.uint8(ord("0"))) > 9).any())


def _order_rejects_of(texts: list[pa.Array], parsed: list[np.ndarray], formats: tuple[str, ...],
                      order: str) -> tuple[np.ndarray, str]:
    """:func:`_order_rejects` on arrays (times as int64 seconds)."""
    hit = np.zeros(len(texts[0]), dtype=bool)
    others = [o for o in ORDERS if o != order]
    alt_formats = tuple(f for o in others for f in sensitive_formats(formats, o))
    if not alt_formats:
        return hit, ""
    for text, value in zip(texts, parsed, strict=True):
        failed = np.flatnonzero((value == NAT) & _filled_mask(text))
        if len(failed):
            alt = parse_local_array(text.take(pa.array(failed)), alt_formats)
            hit[failed[alt != NAT]] = True
    return hit, "date_order_conflict" if order in ORDERS else "date_order_undecided"


def _per_value(text: pa.Array, quick: Callable[[pa.Array], tuple[np.ndarray, pa.Array]],
               fn: Callable[[pd.Series], tuple[pd.Series, pd.Series]]
               ) -> tuple[pa.Array, pa.Array, np.ndarray, pd.Series | None]:
    """:func:`~cdrnet.loader.identifiers.per_distinct` on a null-free array, kept per distinct value:
    (each distinct value's result, each row's code, the distinct values ``fn`` took, their flags or
    None). ``quick`` takes the usual values; ``fn`` (the general path, value by value) runs on the
    others only: an Excel-rendered IMEI in a dump no longer sends its whole column through pandas."""
    encoded = pc.dictionary_encode(text)
    distinct = encoded.dictionary
    ok, values = quick(distinct)
    if ok.all():
        return values, encoded.indices, np.zeros(0, dtype=np.int64), None
    odd = np.flatnonzero(~ok)
    fixed, flags = fn(pd.Series(pd.arrays.ArrowStringArray(distinct.take(pa.array(odd)))))
    values = pc.replace_with_mask(values, pa.array(~ok), arrow_text(fixed))
    return values, encoded.indices, odd, flags


def _msisdn_of(text: pa.Array, country_code: str, reasons: _Reasons) -> pa.Array:
    """The subscriber column canonical, its refusals marked first; per distinct value."""
    values, codes, odd, why = _per_value(text, lambda a: _plain_msisdn(a, country_code),
                                         lambda s: _normalise_msisdn(s, country_code))
    if why is not None:
        row_codes = codes.to_numpy(zero_copy_only=False)
        found, names = pd.factorize(why, use_na_sentinel=True)
        for k, name in enumerate(names):
            per_value = np.zeros(len(values), dtype=bool)
            per_value[odd[found == k]] = True
            reasons.mark(per_value[row_codes], str(name))
    return take_text(values, codes)


def _equipment_of(text: pa.Array) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """IMEI/IMSI canonical per distinct value: (distinct results, row codes, rows whose value lost digits)."""
    values, codes, odd, lost = _per_value(text, _digits_only, equipment_odd)
    if lost is None:
        return values, codes, np.zeros(len(text), dtype=bool)
    per_value = np.zeros(len(values), dtype=bool)
    per_value[odd] = lost.to_numpy(dtype=bool)
    return values, codes, per_value[codes.to_numpy(zero_copy_only=False)]


def _positions_of(col: Callable[[str], pa.Array], n: int) -> tuple[np.ndarray, np.ndarray]:
    texts = [col(f) for f in ("lat", "lon", "lat_lon", "cell_name")]
    if states_no_position(*texts):
        nan = np.full(n, np.nan)
        return nan, nan.copy()
    lat, lon = stated_positions(*(pd.Series(pd.arrays.ArrowStringArray(t)) for t in texts))
    return lat.to_numpy(dtype=float), lon.to_numpy(dtype=float)


def _normalise_arrays(raw: pd.DataFrame, lines: np.ndarray, det: Detection, opts: Options, dump_sha: str,
                      source_part: str, groups: np.ndarray | None) -> BlockResult | None:
    """:func:`normalise_block` with the columns as Arrow/numpy arrays; None where it does not claim the
    block: a raw column not Arrow text, an index other than 0..n-1, or a fractional duration filling
    an end time (pandas turns that column into sub-second times)."""
    layout = det.layout
    assert layout is not None
    n = len(raw)
    if not n or not isinstance(raw.index, pd.RangeIndex) or raw.index.start != 0 or raw.index.step != 1:
        return None
    arrays = raw_arrays(raw)
    if arrays is None:
        return None
    stats: dict = {}
    count = _counter(groups)
    col = array_reader(arrays, det, n)
    nondata = _nondata_of(raw, det, col)
    reasons = _Reasons(n)
    msisdn = _msisdn_of(col("msisdn"), opts.country_code, reasons)

    tz = layout.timezone or opts.tz
    decision = det.decision or DateDecision()
    fmts = formats_for_order(layout.datetime_formats, decision.order)
    texts, parsed = _time_columns(col, det, fmts, combine_arrays, parse_local_array)
    event_text, start_text, end_text, alloc_start_text, alloc_end_text = texts
    event, start, end_parsed, alloc_start, alloc_end = parsed
    use_event = event != NAT
    stats["event_time_rows"] = count(use_event)
    local_start = np.where(use_event, event, start)
    local_start = np.where(local_start == NAT, alloc_start, local_start)
    local_text = _choose(use_event, event_text, _choose(_filled_mask(start_text), start_text, alloc_start_text))
    wrong_order, why = _order_rejects_of([event_text, start_text, end_text, alloc_start_text, alloc_end_text],
                                         [event, start, end_parsed, alloc_start, alloc_end],
                                         layout.datetime_formats, decision.order)
    if why:
        reasons.mark(wrong_order, why)
    reasons.mark(local_start == NAT, "invalid_time")

    duration = _seconds(col("duration"))
    duration = np.where((duration >= 0) & (duration < 7 * 86400), duration, np.nan)
    local_end = _local_end(local_start, end_parsed, duration, use_event, alloc_start, alloc_end)
    if local_end is None:
        return None
    both = (local_end != NAT) & (local_start != NAT)
    backwards = both & (local_end < local_start)
    same_day = both & (local_end // 86400 == local_start // 86400)
    roll = backwards & same_day
    local_end = np.where(roll, local_end + 86400, local_end)
    stats["end_rolled_over"] = count(roll & (reasons.code == 0))
    reasons.mark(backwards & ~roll, "end_before_start")

    dest_port, ok_dest_port, bad_port = int_arrays(col("dest_port"), 0, 65535)
    reasons.mark(bad_port, "invalid_port")
    dest_ip, bad_ip, ver, hi, lo = ip_arrays(col("dest_ip"))
    reasons.mark(bad_ip, "invalid_ip")
    src_port, ok_src_port, bad_src_port = int_arrays(col("src_port"), 0, 65535)
    public_port, ok_public_port, bad_public_port = int_arrays(col("public_port"), 0, 65535)
    uplink, ok_uplink, bad_uplink = int_arrays(col("uplink"), 0, 2**62)
    downlink, ok_downlink, bad_downlink = int_arrays(col("downlink"), 0, 2**62)
    proto, proto_coded = _protocol_codes(col("proto"))

    imei_values, imei_codes, lost_imei = _equipment_of(col("imei"))
    imsi_values, imsi_codes, lost_imsi = _equipment_of(col("imsi"))
    reasons.code[nondata] = 0
    keep = (reasons.code == 0) & ~nondata
    stats["imei_precision_lost"] = count(lost_imei & keep)
    stats["imsi_precision_lost"] = count(lost_imsi & keep)
    for name, bad in (("src_port", bad_src_port), ("public_port", bad_public_port), ("uplink", bad_uplink),
                      ("downlink", bad_downlink)):
        stats[BLANKED_PREFIX + name] = count(bad & keep)

    start_utc, end_utc, alloc_start_utc, alloc_end_utc = _utc([local_start, local_end, alloc_start, alloc_end], tz)
    cell_raw = col("cell_id")
    lat, lon = _positions_of(col, n)
    if layout.has_destination:
        labels = classify_arrays(ver, hi, lo, np.where(ok_dest_port, dest_port, -1), proto,
                                 _day_numbers(_seconds_of(start_utc)), opts.rules, proto_coded)
    else:
        labels = dict.fromkeys(("app", "app_vendor", "app_category", "app_confidence"), _empty_text(n))

    every = bool(keep.all())
    mask = pa.array(keep) if not every else None

    def rows(arr: pa.Array) -> pa.Array:
        return arr if every else arr.filter(mask)

    def text(arr: pa.Array) -> pd.arrays.ArrowStringArray:
        return pd.arrays.ArrowStringArray(rows(arr))

    def kept(values: np.ndarray) -> np.ndarray:
        return values if every else values[keep]

    def ints(values: np.ndarray, ok: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(kept(values), ~kept(ok))

    def times(values: pd.api.extensions.ExtensionArray) -> pd.api.extensions.ExtensionArray:
        return values if every else values[keep]

    msisdn = rows(msisdn)
    imei_codes, imsi_codes = rows(imei_codes), rows(imsi_codes)
    src_ip, public_ip, dest_ip = rows(col("src_ip")), rows(col("public_ip")), rows(dest_ip)
    start_utc, end_utc, alloc_start_utc = times(start_utc), times(end_utc), times(alloc_start_utc)
    end_s = _seconds_of(end_utc)
    columns = {
        "msisdn": pd.arrays.ArrowStringArray(msisdn),
        "imsi": pd.arrays.ArrowStringArray(take_text(imsi_values, imsi_codes)),
        "imei": pd.arrays.ArrowStringArray(take_text(imei_values, imei_codes)),
        "imei14": pd.arrays.ArrowStringArray(take_text(imei14_array(imei_values), imei_codes)),
        "start_utc": start_utc, "end_utc": end_utc, "start_local": text(local_text),
        "alloc_start_utc": alloc_start_utc, "alloc_end_utc": times(alloc_end_utc),
        "src_ip": pd.arrays.ArrowStringArray(src_ip), "src_port": ints(src_port, ok_src_port),
        "public_ip": pd.arrays.ArrowStringArray(public_ip), "public_port": ints(public_port, ok_public_port),
        "dest_ip": pd.arrays.ArrowStringArray(dest_ip), "dest_port": ints(dest_port, ok_dest_port),
        "proto": text(proto), "cell_id": text(cell_array(cell_raw, layout.cell_format == "hex_eci")),
        "cell_raw": text(cell_raw), "cell_name": text(col("cell_name")), "lat": kept(lat), "lon": kept(lon),
        "uplink": ints(uplink, ok_uplink), "downlink": ints(downlink, ok_downlink), "rat": text(col("rat")),
        "apn": text(col("apn")),
        "record_key": pd.arrays.ArrowStringArray(_record_key_array(layout, msisdn, rows(col("charging_id")), end_s)),
        **{name: text(arr) for name, arr in labels.items()},
    }
    # session_hashes' words of SESSION_KEY_COLUMNS, from the arrays.
    h1, h2 = _session_key(len(msisdn), [
        (0, msisdn), (1, _seconds_of(start_utc)), (1, end_s), (1, _seconds_of(alloc_start_utc)),
        (0, src_ip), (2, kept(src_port), kept(ok_src_port)), (0, public_ip),
        (2, kept(public_port), kept(ok_public_port)), (0, dest_ip), (2, kept(dest_port), kept(ok_dest_port)),
        (2, kept(uplink), kept(ok_uplink)), (2, kept(downlink), kept(ok_downlink))])
    index = raw.index if every else raw.index[keep]
    m = len(msisdn)
    columns.update({"session_key": _hex_keys(h1, h2).array, "tz": _constant(tz, m),
                    "dump_sha256": _constant(dump_sha, m), "source_part": _constant(source_part, m),
                    "source_line": kept(lines.astype(np.int64)), "layout": _constant(layout.name, m)})
    # Built in the stored column order (no reordering copy), from this block's own arrays (no copy).
    frame = pd.DataFrame({c: columns[c] for c in SESSION_COLUMNS}, index=index, copy=False)
    rej_mask = ~keep & ~nondata
    rejects = pd.DataFrame({"line": lines[rej_mask], "reason": reasons.texts(rej_mask)})
    row_hash = _raw_row_hash_of(arrays, keep, det)
    return BlockResult(frame, rejects, count(nondata), stats, h1, row_hash)


_STR = pd.StringDtype("pyarrow", na_value=np.nan)
#: Whether ``ArrowStringArray`` takes its dtype (pandas 3). pandas 2.3, which pyproject.toml allows,
#: has a class of its own for Arrow text with NaN (``_STR``'s array type), and no such argument.
_STR_BY_DTYPE = "dtype" in inspect.signature(pd.arrays.ArrowStringArray.__init__).parameters


def str_array(arr: pa.Array | pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """Arrow text as pandas' ``str`` (:data:`_STR`: Arrow storage, NaN for missing), sharing its buffers,
    under pandas 3 and 2.3 alike (the loader's frames hold this dtype under either)."""
    if _STR_BY_DTYPE:
        return pd.arrays.ArrowStringArray(arr, dtype=_STR)
    return _STR.construct_array_type()(arr)


def _constant(value: str, n: int) -> pd.api.extensions.ExtensionArray:
    """``value`` on ``n`` rows with the dtype pandas gives a broadcast string (``str``), built in
    Arrow's layout directly: the value's bytes repeated and evenly spaced offsets (``pa.repeat`` of a
    string scalar took 0.1 ms even for "" on 18,000 rows, 0.27 ms for a 64-byte digest; the frame
    constructor made a Python object per row)."""
    data = value.encode("utf8")
    offsets = np.arange(0, len(data) * (n + 1), len(data), dtype=np.int64) if data else np.zeros(n + 1, np.int64)
    arr = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])
    return str_array(arr)


def _constant_pure(value: str, n: int) -> pd.api.extensions.ExtensionArray:
    """:func:`_constant` by Arrow's ``repeat`` (its reference in tests)."""
    return str_array(pa.repeat(pa.scalar(value, pa.large_string()), n))


def _day_numbers(seconds: np.ndarray) -> np.ndarray:
    """Days since the epoch of UTC seconds; unknown times become day 0 (as ``signatures._days``)."""
    days = seconds // 86400
    days[seconds == NAT] = 0
    return days


def _raw_row_hash_of(arrays: list[pa.Array], keep: np.ndarray, det: Detection) -> np.ndarray:
    """:func:`raw_row_hash` on the raw columns' Arrow arrays."""
    serial = det.index.get("serial")
    if not keep.any():
        return np.zeros(0, dtype=np.uint64)
    out = text_row_hashes([a for i, a in enumerate(arrays) if i != serial], rows=len(keep))
    return out if keep.all() else out[keep]


def _protocol_array(arr: pa.Array) -> pa.Array:
    """:func:`_protocols` of an Arrow text array."""
    return _protocol_codes(arr)[0]


#: Each ``PROTO_NUMBERS`` key's position, then "no protocol", mapped to the distinct names' codes.
_PROTO_NAMES = sorted(set(PROTO_NUMBERS.values())) + [""]
_PROTO_CODE = np.array([_PROTO_NAMES.index(v) for v in [*PROTO_NUMBERS.values(), ""]], dtype=np.int64)


def _protocol_codes(arr: pa.Array) -> tuple[pa.Array, tuple[np.ndarray, list[str]]]:
    """:func:`_protocol_array` and the same protocols as (a code per row, each code's name): the
    classifier's grouping takes the codes, where it lowered and dictionary-encoded the text again."""
    lowered = pc.utf8_lower(arr)
    keys = pa.array(list(PROTO_NUMBERS), pa.large_string())
    names = pa.array([*PROTO_NUMBERS.values(), ""], pa.large_string())
    at = pc.fill_null(pc.index_in(lowered, keys), len(PROTO_NUMBERS))
    codes = _PROTO_CODE[at.to_numpy(zero_copy_only=False)]
    return take_text(names, at), (codes, _PROTO_NAMES)
