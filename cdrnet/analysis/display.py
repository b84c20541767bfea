"""Numbers for people: what profile, trends and pair print or write as text.

Machine files (CSV) keep raw values (bytes, integers, empty cells); anything an
analyst reads or hands over shows ports as integers, volumes in kB/MB/GB,
counts with thousands separators and ``n/a`` where the operator's layout has
no such field (Jio exports carry no volumes), never ``443.0``, ``<NA>`` or
``nan``, which read as data errors in a briefing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NA = "n/a"
_UNITS = ["B", "kB", "MB", "GB", "TB"]


def count(n: int | float | None) -> str:
    """``12345`` -> ``12,345``; a missing count is ``n/a``."""
    if n is None or pd.isna(n):
        return NA
    return f"{int(n):,}"


def counts(values: pd.Series) -> pd.Series:
    """Vectorised :func:`count` for a column."""
    v = pd.to_numeric(values, errors="coerce")
    out = pd.Series(NA, index=values.index, dtype=object)
    ok = v.notna().to_numpy()
    out[ok] = [f"{x:,}" for x in v[ok].astype("int64").to_numpy()]
    return out


def ports(values: pd.Series) -> pd.Series:
    """Ports as integers (``443``, not ``443.0``); missing ones ``n/a``."""
    v = pd.to_numeric(values, errors="coerce")
    out = pd.Series(NA, index=values.index, dtype=object)
    ok = v.notna().to_numpy()
    out[ok] = v[ok].astype("int64").astype(str).to_numpy()
    return out


def volumes(values: pd.Series) -> pd.Series:
    """Byte counts in decimal units (``1.6 MB``; kB = 1,000 bytes as on operator bills); missing ``n/a``."""
    v = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    ok = ~np.isnan(v)
    safe = np.where(ok & (v > 0), v, 1.0)
    unit = np.clip((np.log10(safe) // 3).astype(np.int64), 0, len(_UNITS) - 1)
    scaled = np.where(ok, v, 0.0) / np.power(1000.0, unit)
    text = [(f"{s:.0f} {_UNITS[u]}" if u == 0 else f"{s:.1f} {_UNITS[u]}") if good else NA
            for s, u, good in zip(scaled, unit, ok, strict=True)]
    return pd.Series(text, index=values.index, dtype=object)


def volume(n: int | float | None) -> str:
    """One byte count for a sentence (see :func:`volumes`)."""
    return str(volumes(pd.Series([np.nan if n is None else n])).iloc[0])
