"""Subscriber and equipment identifiers, always handled as text.

Excel turns long numbers into scientific notation (``9.18E+11``); the digits are
gone, so such values are never "repaired": two subscribers would merge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SCI_NOTATION = r"^[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]+$"


def clean_text(s: pd.Series) -> pd.Series:
    """Strip Excel's ``="…"`` wrapping, a leading apostrophe and surrounding space."""
    s = s.astype("string").fillna("").str.strip()
    # The regexes only run when some value needs them (rare in operator exports).
    if s.str.startswith(('"', "=")).any():
        s = s.str.replace(r'^=?"(.*)"$', r"\1", regex=True)
    if s.str.startswith("'").any():
        s = s.str.replace(r"^'", "", regex=True).str.strip()
    return s


def precision_lost(s: pd.Series) -> pd.Series:
    """True where a value is in scientific notation (digits were lost)."""
    return s.str.fullmatch(SCI_NOTATION).fillna(False).astype(bool)


def normalise_msisdn(raw: pd.Series, country_code: str = "91") -> tuple[pd.Series, pd.Series]:
    """Return (E.164 digits without '+', reject reason or <NA>) for each value.

    ``+91…``, ``0091…`` and a national ``0…`` prefix all become ``91…``; a bare
    national number gets the default country code.
    """
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
    lost = precision_lost(raw)
    return raw.where(~lost, ""), lost


def imei14(imei: pd.Series) -> pd.Series:
    """TAC + serial (first 14 digits) so an IMEI and its IMEISV compare equal."""
    digits = imei.str.fullmatch(r"[0-9]{14,16}").fillna(False).astype(bool)
    return imei.str.slice(0, 14).where(digits, "")


def to_int(s: pd.Series, low: int, high: int) -> tuple[pd.Series, pd.Series]:
    """Parse integers; return (values as nullable Int64, mask of non-empty invalid values)."""
    digits = s.str.fullmatch(r"[0-9]{1,18}").fillna(False).astype(bool)
    num = pd.Series(pd.NA, index=s.index, dtype="Int64")
    if digits.any():
        num[digits] = s[digits].astype("int64")
    ok = digits & (num >= low).fillna(False) & (num <= high).fillna(False)
    # "443.0" (Excel) is an integer too.
    odd = ~digits & (s != "")
    if odd.any():
        f = pd.to_numeric(s[odd], errors="coerce")
        whole = f.notna() & (f == np.floor(f)) & (f >= low) & (f <= high)
        num[whole[whole].index] = f[whole].astype("int64")
        ok[whole[whole].index] = True
    bad = (s != "") & ~ok
    return num.where(ok).astype("Int64"), bad
