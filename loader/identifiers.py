"""Subscriber and equipment identifiers, always handled as text.

Excel turns long numbers into scientific notation (``9.18E+11``); the digits are
gone, so such values are never "repaired": two subscribers would merge.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.loader import native

SCI_NOTATION = r"^[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]+$"


def clean_text(s: pd.Series) -> pd.Series:
    """Strip Excel's ``="…"`` wrapping, a leading apostrophe and surrounding space.

    Arrow kernels on the column's own buffers: this runs on every text column of
    every block, so pandas' per-call overhead showed in profiles. Each step runs only
    when a value's first or last byte says it could change something (see :func:`_edges`):
    most operator columns need none of them.
    """
    return pd.Series(pd.arrays.ArrowStringArray(clean_array(arrow_text(s))), index=s.index)


def clean_array(arr: pa.Array) -> pa.Array:
    """:func:`clean_text` of a ``large_string`` array, as a null-free array: the normaliser keeps its
    columns as Arrow arrays, so a Series per column (~25 a block) is not built just to be taken apart."""
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    if not _may_need_cleaning(arr):
        return arr
    first, last = _edges(arr)
    if _SPACE_LIKE[first].any() or _SPACE_LIKE[last].any():
        arr = pc.utf8_trim_whitespace(arr)
        first, _ = _edges(arr)
    # The regexes only run when some value needs them (rare in operator exports).
    unwrapped = False
    if ((first == ord('"')) | (first == ord("="))).any():
        arr = pc.replace_substring_regex(arr, r'^=?"(.*)"$', r"\1")
        first, _ = _edges(arr)
        unwrapped = True
    if (first == ord("'")).any():
        arr = pc.replace_substring_regex(arr, r"^'", "")
        unwrapped = True
    # Trimmed again after either unwrapping, as clean_text always was: a space inside the quotes
    # (``=" 98…"``, ``" "``) is surrounding space too, and a value must not keep it only because
    # it had no apostrophe.
    return pc.utf8_trim_whitespace(arr) if unwrapped else arr


def arrow_text(s: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A text column as one large_string Arrow array (no copy when it is one already); an Arrow
    array is taken as it is (cast to ``large_string`` if need be)."""
    if isinstance(s, pa.Array | pa.ChunkedArray):
        arr = s if s.type == pa.large_string() else s.cast(pa.large_string())
    else:
        arr = pa.array(s.array, type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def distinct_text(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes per row (-1 where missing) and the distinct values, in order of first appearance
    (as ``pd.factorize``), by Arrow's dictionary encoding: no Python string per row."""
    encoded = pc.dictionary_encode(arrow_text(s))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


#: Bytes a value starting or ending in whitespace can start or end with: ASCII controls and
#: space, and every byte of a non-ASCII character (Unicode spaces such as U+00A0 included).
_SPACE_LIKE = np.zeros(256, dtype=bool)
_SPACE_LIKE[:0x21] = True
_SPACE_LIKE[0x7F:] = True


#: First bytes that can make :func:`clean_array` change a value (space-like, ``"``, ``=``, ``'``: bit 1),
#: and last bytes that can (space-like: bit 2).
_EDGE_FLAGS = (_SPACE_LIKE * np.uint8(3)).astype(np.uint8)
_EDGE_FLAGS[[ord('"'), ord("="), ord("'")]] |= 1


def _may_need_cleaning(arr: pa.Array) -> bool:
    """False when no value of a null-free ``large_string`` array starts or ends with a byte that
    :func:`clean_array` acts on, so it is clean as it is (most operator columns).

    Reads every value's first and last byte straight off the offsets, empty values included (they
    read a neighbour's byte, or a clipped one): that can only say "maybe" where the exact check
    (:func:`_edges`, which drops empty values first) would say no, never the reverse, and it
    saves that check's two compress passes on every column of every block.
    """
    flags = native.edge_flags(arr, _EDGE_FLAGS)  # the kernel: one pass, no four gathers
    if flags is not None:
        return flags != 0
    return _may_need_cleaning_pure(arr)


def _may_need_cleaning_pure(arr: pa.Array) -> bool:
    """:func:`_may_need_cleaning` by numpy gathers (the kernel's reference)."""
    data = arr.buffers()[2]
    if len(arr) == 0 or data is None or data.size == 0:
        return False
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    raw = np.frombuffer(data, dtype=np.uint8)
    first = _EDGE_FLAGS.take(raw.take(offsets[:-1], mode="clip"))
    last = _EDGE_FLAGS.take(raw.take(offsets[1:] - 1, mode="clip"))
    return bool((first & 1).any() or (last & 2).any())


def take_text(values: pa.Array, indices: np.ndarray | pa.Array) -> pa.Array:
    """``values.take(indices)`` (row codes into distinct values): by the kernel where it takes the
    input (a null-free ``large_string`` array, int32/int64 codes without nulls), which copies each
    value's bytes in one pass where Arrow's take appended them one by one; else by Arrow."""
    if isinstance(indices, pa.Array):
        codes = indices.to_numpy(zero_copy_only=False) if not indices.null_count else None
    else:
        codes = indices
    out = native.take_strings(values, codes) if codes is not None else None
    if out is not None:
        return out
    return values.take(indices if isinstance(indices, pa.Array) else pa.array(indices))


def _edges(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """First and last byte of every non-empty value of a null-free large_string array, read
    from its buffers (a gather per row instead of a string kernel)."""
    data = arr.buffers()[2]
    if len(arr) == 0 or data is None:
        return np.zeros(0, np.uint8), np.zeros(0, np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    raw = np.frombuffer(data, dtype=np.uint8)
    return raw[starts[filled]], raw[ends[filled] - 1]


def precision_lost(s: pd.Series) -> pd.Series:
    """True where a value is in scientific notation (digits were lost)."""
    return s.str.fullmatch(SCI_NOTATION).fillna(False).astype(bool)


#: A fast path over distinct values: which values it handles, and their results (the other
#: values go through the general path).
Quick = Callable[[pa.Array], tuple[np.ndarray, pa.Array]]


def per_distinct(s: pd.Series, fn: Callable[[pd.Series], tuple[pd.Series, pd.Series]],
                 quick: Quick | None = None, unflagged: object = None) -> tuple[pd.Series, pd.Series]:
    """Apply a two-result column function to the distinct values only, then spread back.

    Identifier columns repeat heavily within a dump (one subscriber, one handset
    per thousands of rows), so this turns regex work per row into work per value.
    ``quick`` handles the usual forms (digits already canonical, a bare national number) in a
    few Arrow kernels, with ``unflagged`` as their second result: ``fn``'s ~25 string
    operations cost far more than the few distinct values they would run on, so they run only
    on what ``quick`` leaves.
    """
    arr = arrow_text(s) if quick is not None else None
    if arr is not None and not arr.null_count:
        encoded = pc.dictionary_encode(arr)
        ok, values = quick(encoded.dictionary)
        if ok.all():
            # The usual column: one hash pass, kernels on a handful of values, one gather.
            out = s if values is encoded.dictionary else pd.Series(
                pd.arrays.ArrowStringArray(values.take(encoded.indices)), index=s.index)
            return out, pd.Series(unflagged, index=s.index, dtype=_flag_dtype(unflagged))
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    if len(uniques) * 4 > len(s):
        return _quick_apart(s, fn, quick, unflagged)
    a, b = _quick_apart(pd.Series(uniques, dtype=s.dtype), fn, quick, unflagged)
    return (pd.Series(a.array.take(codes), index=s.index), pd.Series(b.array.take(codes), index=s.index))


def distinct_quick(arr: pa.Array, quick: Quick) -> pa.Array | None:
    """:func:`per_distinct`'s usual case on a null-free Arrow array, without a Series: ``quick``'s
    result per row when it takes every distinct value (its flag is then the unflagged one), else
    None (the caller runs :func:`per_distinct` on the column)."""
    if arr.null_count:
        return None
    encoded = pc.dictionary_encode(arr)
    ok, values = quick(encoded.dictionary)
    if not ok.all():
        return None
    return arr if values is encoded.dictionary else take_text(values, encoded.indices)


def _flag_dtype(unflagged: object) -> str:
    return "bool" if isinstance(unflagged, bool) else "string"


def _quick_apart(s: pd.Series, fn: Callable[[pd.Series], tuple[pd.Series, pd.Series]], quick: Quick | None,
                 unflagged: object) -> tuple[pd.Series, pd.Series]:
    """``quick``'s results where it handles a value, ``fn``'s on the rest."""
    arr = pa.array(s.array, type=pa.large_string()) if quick is not None else None
    if arr is None or arr.null_count:
        return fn(s)  # only the general path knows what a missing value becomes
    ok, values = quick(arr)
    if not ok.any():
        return fn(s)
    odd = np.flatnonzero(~ok)
    a = pd.arrays.ArrowStringArray(values)
    if _flag_dtype(unflagged) == "bool":
        b = np.zeros(len(s), dtype=bool)
    else:
        b = pd.array([unflagged] * len(s), dtype="string")
    if len(odd):
        a_odd, b_odd = fn(s.iloc[odd].reset_index(drop=True))
        a = a.copy()
        a[odd] = a_odd.array
        b[odd] = b_odd.to_numpy()
    return pd.Series(a, index=s.index), pd.Series(b, index=s.index)


def _digits_only(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Equipment ids that are digits alone (or nothing) are already canonical."""
    return pc.match_substring_regex(arr, r"^[0-9]*$").to_numpy(zero_copy_only=False), arr


def _plain_msisdn(arr: pa.Array, country_code: str) -> tuple[np.ndarray, pa.Array]:
    """Numbers of digits alone that :func:`_normalise_msisdn` keeps or only prefixes.

    A number starting with 1-9 is unchanged unless it is a bare national number (one of the
    country's lengths, not already ``<cc>`` + a national number), which gets the country code;
    the result must then be 8-15 digits. Anything else (separators, ``+``, ``00``, a trunk
    ``0``, Excel renderings, empty) is left to the general path.
    """
    ok = pc.match_substring_regex(arr, r"^[1-9][0-9]*$")
    out = arr
    lengths = NATIONAL_LENGTHS.get(country_code)
    if lengths:
        n = pc.binary_length(arr)
        national = pa.array(lengths, pa.int64())
        international = pc.and_(pc.and_(pc.starts_with(arr, country_code),
                                        pc.is_in(pc.subtract(n, len(country_code)), national)),
                                pc.match_substring_regex(arr, f"^{re.escape(country_code)}[1-9]"))
        bare = pc.and_(pc.is_in(n, national), pc.invert(international))
        if pc.any(bare).as_py():
            out = pc.if_else(bare, pc.binary_join_element_wise(pa.scalar(country_code, pa.large_string()), arr,
                                                               pa.scalar("", pa.large_string())), arr)
    ok = pc.and_(ok, pc.match_substring_regex(out, r"^[1-9][0-9]{7,14}$"))
    return ok.to_numpy(zero_copy_only=False), out


#: Digits of a national (significant) mobile number per country code, without the trunk prefix,
#: for the countries whose dumps or roaming numbers an Indian case meets most. A bare number of
#: this length is national and gets the country code; a trunk ``0`` before it is dropped.
#: Other country codes: only the trunk form (``0`` + number) is read as national.
NATIONAL_LENGTHS: dict[str, tuple[int, ...]] = {
    "1": (10,), "7": (10,), "20": (10,), "27": (9,), "33": (9,), "34": (9,), "39": (9, 10), "44": (10,),
    "49": (10, 11), "60": (9, 10), "61": (9,), "62": (9, 10, 11), "65": (8,), "66": (9,), "81": (10,),
    "86": (11,), "91": (10,), "92": (10,), "93": (9,), "94": (9,), "95": (8, 9, 10), "960": (7,),
    "966": (9,), "971": (9,), "973": (8,), "974": (8,), "975": (8,), "977": (10,), "880": (10,),
    "234": (10,), "254": (9,), "255": (9,),
}
#: Countries whose national numbers are not dialled with a trunk ``0`` (a leading 0 is then no prefix).
NO_TRUNK_ZERO = {"1", "7", "34", "39"}
#: Excel's rendering of a whole number as a float (``919812345036.0``).
FLOAT_ZEROS = r"\.0+$"
_SCI_PARTS = r"^(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?[eE]\+?(?P<exp>[0-9]+)$"


def expand_exact_scientific(s: pd.Series) -> pd.Series:
    """``9.19812345678E+11`` -> ``919812345678`` where the mantissa still holds every digit.

    The value is exact when the exponent equals the number of digits after the point: no
    digit was padded with an invented zero. ``9.18E+11`` (digits gone) is left as it is,
    and ``precision_lost`` then refuses it.
    """
    sci = s.str.fullmatch(SCI_NOTATION).fillna(False).astype(bool)
    if not sci.any():
        return s
    parts = s[sci].str.extract(_SCI_PARTS)
    frac = parts["frac"].fillna("")
    # Compared as text: an exponent of 19+ digits (``0E+10000000000000000000``, hostile or garbled)
    # overflowed int64 and failed the whole dump; no fraction is that long, so it is never exact.
    exp = parts["exp"].str.lstrip("0")
    exact = exp.where(exp != "", "0") == frac.str.len().astype(str)
    digits = (parts["int"] + frac).str.lstrip("0")
    out = s.copy()
    exact_index = exact[exact].index
    out[exact_index] = digits[exact_index].where(digits[exact_index] != "", "0")
    return out


def _undo_float_rendering(s: pd.Series) -> pd.Series:
    """Undo Excel's number renderings of a text identifier: a ``.0`` tail and exact E-notation."""
    if s.str.contains(".", regex=False).fillna(False).any():
        s = s.str.replace(r"^([0-9+ ()\-]+)\.0+$", r"\1", regex=True)
        s = expand_exact_scientific(s)
    return s


def normalise_msisdn(raw: pd.Series, country_code: str = "91") -> tuple[pd.Series, pd.Series]:
    """Return (E.164 digits without '+', reject reason or <NA>) for each value.

    ``+<cc>…``, ``00<cc>…`` and a national ``0…`` prefix all become ``<cc>…``; a bare
    national number (of the country's length, see ``NATIONAL_LENGTHS``) gets the country
    code. Excel's renderings of the number (``….0``, exact ``9.19812345678E+11``) are the
    same subscriber; an inexact one (``9.18E+11``) is refused, never guessed.
    """
    # A canonical number (digits, no trunk prefix, not a bare national number) stays as it is.
    return per_distinct(raw, lambda s: _normalise_msisdn(s, country_code),
                        lambda s: _plain_msisdn(s, country_code), pd.NA)


#: What a written number may hold between its digits (spaces, tabs, dashes, brackets, dots, no-break
#: spaces, slashes), and those of them removed (a dot may be Excel's ``.0`` or an exponent's). The
#: no-break space is the character itself: Arrow's regex engine (RE2, which pandas 2 runs on Arrow
#: strings) refuses the escape ``\u00a0`` that Python's ``re`` reads, and the ingest failed there.
_MSISDN_SEPARATORS = "[ \t\\-().\u00a0/]"
_MSISDN_STRIPPED = "[ \t\\-()\u00a0/]"


def _normalise_msisdn(raw: pd.Series, country_code: str) -> tuple[pd.Series, pd.Series]:
    s = _undo_float_rendering(raw)
    if s.str.contains(_MSISDN_SEPARATORS, regex=True).any():
        s = s.str.replace(_MSISDN_STRIPPED, "", regex=True)
        s = s.where(s.str.fullmatch(SCI_NOTATION).fillna(False).astype(bool), s.str.replace(".", "", regex=False))
    reason = pd.Series(pd.NA, index=s.index, dtype="string")
    reason[s == ""] = "missing_msisdn"
    lost = precision_lost(s)
    reason[lost & reason.isna()] = "msisdn_precision_lost"
    s = s.str.replace(r"^\+", "", regex=True)
    s = s.str.replace(r"^00", "", regex=True)
    lengths = NATIONAL_LENGTHS.get(country_code)
    if country_code not in NO_TRUNK_ZERO:
        national = "|".join(f"[1-9][0-9]{{{n - 1}}}" for n in lengths) if lengths else "[1-9][0-9]{5,12}"
        trunk = s.str.fullmatch(f"0(?:{national})").fillna(False).astype(bool)
        s = s.where(~trunk, country_code + s.str.slice(1))
    if lengths:
        national = "|".join(f"[1-9][0-9]{{{n - 1}}}" for n in lengths)
        bare = s.str.fullmatch(national).fillna(False).astype(bool)
        # Where lengths vary (62: 9-11 digits), "62" + 9 digits is itself 11 digits long: a number
        # that already starts with the country code and a national number is international.
        bare &= ~s.str.fullmatch(f"{country_code}(?:{national})").fillna(False).astype(bool)
        s = s.where(~bare, country_code + s)
    valid = s.str.fullmatch(r"[1-9][0-9]{7,14}").fillna(False).astype(bool)
    reason[~valid & reason.isna()] = "invalid_msisdn"
    return s.where(reason.isna(), ""), reason


def normalise_equipment(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """IMEI/IMSI as digits; blank values that lost digits; return (values, mask of blanked ones).

    Excel's renderings (``….0``, exact E-notation) and separators (``35-345601-234567-0``)
    are undone, so one handset keeps one identifier whichever way a dump wrote it.
    """
    return per_distinct(raw, _normalise_equipment, _digits_only, False)


def _normalise_equipment(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    s = _undo_float_rendering(s)
    spaced = s.str.fullmatch(r"[0-9][0-9 \-/]*[0-9]").fillna(False).astype(bool)
    s = s.where(~spaced, s.str.replace(r"[ \-/]", "", regex=True))
    lost = precision_lost(s)
    return s.where(~lost, ""), lost


#: An Excel E-notation rendering with a point (``4.04703E+14``): the groups are the digits after the
#: point and the exponent (at most 18 digits, so it reads as an int64 as the general path reads it).
#: Such a value is exact when the exponent equals that digit count.
_SCI_POINT = re.compile(r"[0-9]+\.([0-9]*)[eE]\+?([0-9]{1,18})")
#: :data:`SCI_NOTATION` (any E-notation), for Python's ``re``.
_SCI_ANY = re.compile(SCI_NOTATION[1:-1])


def equipment_odd(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """:func:`_normalise_equipment` of the few distinct IMEI/IMSI values the quick path leaves
    (the normaliser's per-value general path), with its usual case settled without pandas.

    A re-saved Excel dump renders every IMEI as an inexact ``4.04703E+14``, and pandas' string
    methods cost ~15 ms a block on a handful of values. Such a value (digits, a point, digits,
    ``E``, an exponent other than the digit count after the point) passes the ``.0`` and exact
    E-notation repairs and the separator step unchanged, and is then blanked as precision lost:
    ("", True). Every other value still takes :func:`_normalise_equipment`, and all of them do when
    one of those is in E-notation too: that path's repairs run on a column only when some value of
    it holds a point, so such a value must meet the same company as before.
    """
    texts = s.tolist()
    inexact = np.array([isinstance(v, str) and (m := _SCI_POINT.fullmatch(v)) is not None
                        and int(m[2]) != len(m[1]) for v in texts], dtype=bool)
    if not inexact.any() or any(isinstance(v, str) and _SCI_ANY.fullmatch(v)
                                for v, settled in zip(texts, inexact, strict=True) if not settled):
        return _normalise_equipment(s)
    fixed = np.full(len(texts), "", dtype=object)
    lost = np.ones(len(texts), dtype=bool)
    rest = np.flatnonzero(~inexact)
    if len(rest):
        f, flags = _normalise_equipment(s.iloc[rest].reset_index(drop=True))
        fixed[rest] = f.to_numpy(dtype=object)
        lost[rest] = flags.to_numpy(dtype=bool)
    return pd.Series(fixed, dtype=s.dtype), pd.Series(lost)


def imei14(imei: pd.Series) -> pd.Series:
    """TAC + serial (first 14 digits) so an IMEI and its IMEISV compare equal."""
    return pd.Series(pd.arrays.ArrowStringArray(imei14_array(arrow_text(imei))), index=imei.index)


def imei14_array(arr: pa.Array) -> pa.Array:
    """:func:`imei14` of a ``large_string`` array."""
    digits = pc.fill_null(pc.match_substring_regex(arr, r"^[0-9]{14,16}$"), False)
    return pc.if_else(digits, pc.utf8_slice_codeunits(arr, 0, 14), pa.scalar("", pa.large_string()))


def to_int(s: pd.Series, low: int, high: int) -> tuple[pd.Series, pd.Series]:
    """Parse integers; return (values as nullable Int64, mask of non-empty invalid values)."""
    values, ok, bad = int_arrays(arrow_text(s), low, high)
    return pd.Series(pd.arrays.IntegerArray(values, ~ok), index=s.index), pd.Series(bad, index=s.index)


def int_arrays(arr: pa.Array, low: int, high: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`to_int` of a ``large_string`` array as numpy arrays: (values, where a value is read and
    in range, where a non-empty value is not)."""
    plain = native.plain_ints(arr, low, high)
    if plain is not None:  # every value empty or a plain integer: one pass of the kernel
        values, status = plain
        return values, status == 1, status == 2
    empty = pc.equal(arr, "")
    values = None
    # Fast path: every non-empty value is a plain integer (the usual export). Arrow's cast also
    # reads hexadecimal ("0x1F" as 31), which no layout writes and pandas refuses: such a column
    # takes the general path, where it is unreadable like any other text.
    if not pc.any(pc.match_substring(arr, "x", ignore_case=True)).as_py():
        try:
            values = pc.cast(pc.if_else(empty, None, arr), pa.int64())
            digits = pc.invert(empty)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = None
    if values is None:
        digits = pc.fill_null(pc.match_substring_regex(arr, r"^[0-9]{1,18}$"), False)
        values = pc.cast(pc.if_else(digits, arr, None), pa.int64())
    in_range = pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))
    ok = pc.fill_null(in_range, False).to_numpy(zero_copy_only=False)
    out = np.where(ok, pc.fill_null(values, 0).to_numpy(zero_copy_only=False), 0).astype(np.int64)
    nonempty = pc.invert(empty).to_numpy(zero_copy_only=False)
    # "443.0" (Excel) is an integer too.
    odd = ~digits.to_numpy(zero_copy_only=False) & nonempty
    if odd.any():
        text = pd.Series(pd.arrays.ArrowStringArray(arr.filter(pa.array(odd))))
        f = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        whole = ~np.isnan(f) & (f == np.floor(f)) & (f >= low) & (f <= high)
        where = np.flatnonzero(odd)[whole]
        out[where] = f[whole].astype(np.int64)
        ok[where] = True
    bad = nonempty & ~ok
    return out, ok, bad
