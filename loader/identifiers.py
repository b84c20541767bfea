"""Subscriber and equipment identifiers, always handled as text.

Excel turns long numbers into scientific notation (``9.18E+11``); the digits are
gone, so such values are never "repaired": two subscribers would merge.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SCI_NOTATION = r"^[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]+$"


def clean_text(s: pd.Series) -> pd.Series:
    """Strip Excel's ``="…"`` wrapping, a leading apostrophe and surrounding space.

    Arrow kernels on the column's own buffers: this runs on every text column of
    every block, so pandas' per-call overhead showed in profiles.
    """
    arr = pc.utf8_trim_whitespace(pc.fill_null(pa.array(s.array, type=pa.large_string()), ""))
    # The regexes only run when some value needs them (rare in operator exports).
    if pc.any(pc.or_(pc.starts_with(arr, '"'), pc.starts_with(arr, "="))).as_py():
        arr = pc.replace_substring_regex(arr, r'^=?"(.*)"$', r"\1")
    if pc.any(pc.starts_with(arr, "'")).as_py():
        arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"^'", ""))
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=s.index)


def precision_lost(s: pd.Series) -> pd.Series:
    """True where a value is in scientific notation (digits were lost)."""
    return s.str.fullmatch(SCI_NOTATION).fillna(False).astype(bool)


def per_distinct(s: pd.Series, fn: Callable[[pd.Series], tuple[pd.Series, pd.Series]]) -> tuple[pd.Series, pd.Series]:
    """Apply a two-result column function to the distinct values only, then spread back.

    Identifier columns repeat heavily within a dump (one subscriber, one handset
    per thousands of rows), so this turns regex work per row into work per value.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    if len(uniques) * 4 > len(s):
        return fn(s)
    a, b = fn(pd.Series(uniques, dtype=s.dtype))
    return (pd.Series(a.array.take(codes), index=s.index), pd.Series(b.array.take(codes), index=s.index))


def normalise_msisdn(raw: pd.Series, country_code: str = "91") -> tuple[pd.Series, pd.Series]:
    """Return (E.164 digits without '+', reject reason or <NA>) for each value.

    ``+91…``, ``0091…`` and a national ``0…`` prefix all become ``91…``; a bare
    national number gets the default country code.
    """
    return per_distinct(raw, lambda s: _normalise_msisdn(s, country_code))


def _normalise_msisdn(raw: pd.Series, country_code: str) -> tuple[pd.Series, pd.Series]:
    s = raw
    if s.str.contains(r"[ \t\-().]", regex=True).any():
        s = s.str.replace(r"[ \t\-().]", "", regex=True)
    reason = pd.Series(pd.NA, index=s.index, dtype="string")
    reason[s == ""] = "missing_msisdn"
    lost = precision_lost(s)
    reason[lost & reason.isna()] = "msisdn_precision_lost"
    s = s.str.replace(r"^\+", "", regex=True)
    s = s.str.replace(r"^00", "", regex=True)
    national_len = 10 if country_code == "91" else None
    if national_len:
        trunk = s.str.fullmatch(rf"0[1-9][0-9]{{{national_len - 1}}}").fillna(False).astype(bool)
        s = s.where(~trunk, country_code + s.str.slice(1))
        bare = s.str.fullmatch(rf"[1-9][0-9]{{{national_len - 1}}}").fillna(False).astype(bool)
        s = s.where(~bare, country_code + s)
    valid = s.str.fullmatch(r"[1-9][0-9]{7,14}").fillna(False).astype(bool)
    reason[~valid & reason.isna()] = "invalid_msisdn"
    return s.where(reason.isna(), ""), reason


def normalise_equipment(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Blank IMEI/IMSI values that lost digits; return (values, mask of blanked ones)."""
    def one(s: pd.Series) -> tuple[pd.Series, pd.Series]:
        lost = precision_lost(s)
        return s.where(~lost, ""), lost

    return per_distinct(raw, one)


def imei14(imei: pd.Series) -> pd.Series:
    """TAC + serial (first 14 digits) so an IMEI and its IMEISV compare equal."""
    digits = imei.str.fullmatch(r"[0-9]{14,16}").fillna(False).astype(bool)
    return imei.str.slice(0, 14).where(digits, "")


def to_int(s: pd.Series, low: int, high: int) -> tuple[pd.Series, pd.Series]:
    """Parse integers; return (values as nullable Int64, mask of non-empty invalid values)."""
    arr = pa.array(s, type=pa.string())
    empty = pc.equal(arr, "")
    try:
        # Fast path: every non-empty value is a plain integer (the usual export).
        values = pc.cast(pc.if_else(empty, None, arr), pa.int64())
        digits = pc.invert(empty)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        digits = pc.fill_null(pc.match_substring_regex(arr, r"^[0-9]{1,18}$"), False)
        values = pc.cast(pc.if_else(digits, arr, None), pa.int64())
    in_range = pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))
    ok = pc.fill_null(in_range, False).to_numpy(zero_copy_only=False)
    out = np.where(ok, pc.fill_null(values, 0).to_numpy(zero_copy_only=False), 0).astype(np.int64)
    nonempty = pc.invert(empty).to_numpy(zero_copy_only=False)
    # "443.0" (Excel) is an integer too.
    odd = ~digits.to_numpy(zero_copy_only=False) & nonempty
    if odd.any():
        f = pd.to_numeric(s[odd], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        whole = ~np.isnan(f) & (f == np.floor(f)) & (f >= low) & (f <= high)
        where = np.flatnonzero(odd)[whole]
        out[where] = f[whole].astype(np.int64)
        ok[where] = True
    bad = nonempty & ~ok
    return pd.Series(pd.arrays.IntegerArray(out, ~ok), index=s.index), pd.Series(bad, index=s.index)
