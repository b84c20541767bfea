"""One clock for people: the case's zone, and reading and showing times in it.

Sessions are stored in UTC. Everything a person reads (command output, pages,
charts, hand-over CSVs) is in the *case's zone* and says which, so a Jio day
reads as the same date in ``dumps``, ``evidence``, ``map`` and ``profile``. The
case's zone is the zone its dumps were ingested in (``ingest --tz``, recorded
in every dump's report); a command's ``--tz`` overrides it for that run only.
Machine files keep UTC in columns that say so (``start_utc``, ``first_utc``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from cdrnet.errors import UsageError

#: The zone of naive times when nothing says otherwise (Indian operators export IST).
DEFAULT_TZ = "Asia/Kolkata"
#: How a time is shown to people (seconds kept: evidence is checked to the second).
SHOWN_FORMAT = "%Y-%m-%d %H:%M:%S"


def check_zone(tz: str) -> str:
    """The zone name, or a UsageError naming it: a typo must not fall back to UTC silently."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone '{tz}'", "use an IANA name such as Asia/Kolkata or UTC") from exc
    return tz


def case_zone(reports: Iterable[object]) -> str:
    """The zone a case was ingested in: the one most of its dumps were read in (the first ingested wins a tie).

    Every dump's report records the ``--tz`` it was read with, on both stores, so the
    case's zone needs no separate record and cannot drift from its dumps.
    """
    zones = [z for z in (getattr(r, "tz", "") for r in reports) if z]
    if not zones:
        return DEFAULT_TZ
    counts = Counter(zones)
    best = max(counts.values())
    return next(z for z in zones if counts[z] == best)


def parse_time(text: str | pd.Timestamp | None, tz: str = "UTC") -> pd.Timestamp | None:
    """ISO date/time as an analyst types it; without an offset it is read in ``tz`` (the case's zone).

    ``2024-03-05`` with tz Asia/Kolkata is midnight IST (18:30 UTC the day before);
    ``2024-03-05T00:00Z`` or ``…+05:30`` carry their own offset and win. Library callers may pass
    a ``pd.Timestamp``: a naive one is read in ``tz`` the same way, an aware one keeps its instant.
    """
    if text is None or (isinstance(text, str) and not text):
        return None
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the time '{text}'",
                         "use ISO format, e.g. 2024-03-01 or 2024-03-01T18:00+05:30") from exc
    if ts is pd.NaT:
        raise UsageError(f"cannot read the time '{text}'", "use ISO format, e.g. 2024-03-01")
    if ts.tzinfo is None:
        return ts.tz_localize(check_zone(tz), ambiguous="raise", nonexistent="raise").tz_convert("UTC")
    return ts.tz_convert("UTC")


def shown(ts: pd.Timestamp | str | None, tz: str, fmt: str = SHOWN_FORMAT) -> str:
    """One UTC time (Timestamp or ISO text) as people read it in ``tz``; ``-`` when missing."""
    if ts is None or (isinstance(ts, str) and not ts):
        return "-"
    t = pd.Timestamp(ts)
    if t is pd.NaT:
        return "-"
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return t.tz_convert(tz).strftime(fmt)


def shown_series(values: pd.Series, tz: str, fmt: str = SHOWN_FORMAT) -> pd.Series:
    """Vectorised :func:`shown` for a column of UTC times (empty text where missing)."""
    t = pd.to_datetime(values, utc=True, errors="coerce")
    return t.dt.tz_convert(tz).dt.strftime(fmt).fillna("")
