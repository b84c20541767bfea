"""Vectorised date/time parsing with per-layout formats and time zones."""

from __future__ import annotations

import pandas as pd


def parse_local(text: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Parse naive local times trying each format in turn on what is still unparsed.

    Day-first formats come first in every built-in layout, so ``03/04/2023`` is
    3 April, as Indian operators write it.
    """
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    todo = text != ""
    for fmt in formats:
        if not todo.any():
            break
        sub = text[todo]
        if fmt == "ISO8601":
            parsed = pd.to_datetime(sub, format="ISO8601", errors="coerce")
            if getattr(parsed.dt, "tz", None) is not None:
                parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        else:
            parsed = pd.to_datetime(sub, format=fmt, errors="coerce")
        parsed = parsed.astype("datetime64[s]")
        hit = parsed.notna()
        out.loc[hit[hit].index] = parsed[hit]
        todo = todo & out.isna()
    return out


def to_utc(local: pd.Series, tz: str) -> pd.Series:
    """Attach the zone and convert to UTC (naive times are in the dump's zone)."""
    return local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def combine(date: pd.Series, time: pd.Series) -> pd.Series:
    """Join separate date and time columns into one parseable text."""
    both = (date != "") & (time != "")
    return (date + " " + time).where(both, "")


def has_seconds(local: pd.Series) -> float:
    """Share of parsed times with a non-zero seconds field (0 means minute resolution)."""
    valid = local.dropna()
    if valid.empty:
        return 0.0
    return float((valid.dt.second != 0).mean())
