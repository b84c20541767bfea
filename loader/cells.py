"""Cell ids in one form, and cell positions checked before they are kept.

The same cell reaches a case written several ways: Airtel ``404-70-166-232169``,
the same digits run together (``40470166232169``) or spaced out by a re-save,
and Jio's hex ``CGI ID`` (``4058740000e718``: MCC 405, MNC 874, then the LTE cell
identity in hex, eNB id x 256 + sector). Co-location evidence and the map join
cells by id, so every form of one cell must give one id: the canonical id is the
decimal digits MCC, MNC, then the rest (LAC and CI, or the decoded LTE cell
identity), and the raw text is kept beside it for the analyst.

Work is done per distinct value (a subscriber's dump holds a few hundred cells
for a million rows), then gathered back to rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

SEPARATORS = re.compile(r"[\s\-_/:.]+")
DIGITS = re.compile(r"^\d+$")
#: MCC, MNC and a 7-8 hex-digit LTE cell identity (28 bits, sometimes zero-padded to 8).
HEX_ECGI = re.compile(r"^\d{5,6}[0-9a-f]{7,8}$")


def _mnc_digits(compact: str) -> int:
    """MNC length: three digits for Jio's 405-8xx networks (the hex cell ids seen in Indian
    exports), two otherwise."""
    return 3 if compact.startswith("4058") else 2


def canonical_cell(raw: str, hex_eci: bool = False) -> str:
    """One cell id's canonical text ("" when empty).

    ``hex_eci``: the layout always writes MCC, MNC (3 digits) and the cell identity in hex,
    even when the hex digits happen to hold no letter (Jio). Otherwise a value is read as
    hex only when it holds a hex letter and has that shape.
    """
    text = raw.strip().strip("'\"").strip()
    if not text:
        return ""
    compact = SEPARATORS.sub("", text).lower()
    if hex_eci and len(compact) >= 13 and re.fullmatch(r"\d{6}[0-9a-f]+", compact):
        return f"{compact[:6]}{int(compact[6:], 16)}"
    if DIGITS.match(compact):
        return compact
    if HEX_ECGI.match(compact) and re.search(r"[a-f]", compact):
        cut = 3 + _mnc_digits(compact)
        if re.fullmatch(r"[0-9a-f]{7,8}", compact[cut:]):
            return f"{compact[:cut]}{int(compact[cut:], 16)}"
    # Text such as a site name: keep it, without case and spacing differences.
    return re.sub(r"\s+", " ", text).upper()


def normalise_cells(raw: pd.Series, hex_eci: bool = False) -> pd.Series:
    """Canonical cell ids for a column of raw cell texts (distinct values only)."""
    codes, uniques = pd.factorize(raw.fillna(""), use_na_sentinel=False)
    canon = np.array([canonical_cell(str(u), hex_eci) for u in uniques], dtype=object)
    return pd.Series(canon[codes] if len(codes) else np.array([], dtype=object), index=raw.index, dtype="string")


def coordinates(lat_text: pd.Series, lon_text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Latitude and longitude as floats, NaN where missing, out of range, or the 0/0 placeholder.

    Operators fill unknown positions with 0 or leave them empty; a cell at 0°N 0°E
    (the Gulf of Guinea) would pull every map there.
    """
    lat = pd.to_numeric(lat_text.where(lat_text != "", None), errors="coerce").astype("float64")
    lon = pd.to_numeric(lon_text.where(lon_text != "", None), errors="coerce").astype("float64")
    bad = (lat.abs() > 90) | (lon.abs() > 180) | ((lat == 0) & (lon == 0)) | lat.isna() | lon.isna()
    return lat.mask(bad), lon.mask(bad)
