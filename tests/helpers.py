"""Builders for hand-made canonical sessions (exact-count tests)."""

from __future__ import annotations

import pandas as pd

from bench.sessions import APPS, frame, sess
from cdrnet.analysis.observed import Coverage

__all__ = ["APPS", "fortnight", "frame", "sess"]

def fortnight(f: pd.DataFrame, start: str = "2023-12-30", end: str = "2024-01-12 23:59:59") -> Coverage:
    """Every subscriber of ``f`` observed over the same two weeks (hand-built cases need a period:
    pairs observed together on fewer than two days are not scored)."""
    periods = pd.DataFrame({"msisdn": sorted(f["msisdn"].unique())})
    periods["sha256"] = "x"
    periods["start_utc"] = pd.Timestamp(start, tz="UTC")
    periods["end_utc"] = pd.Timestamp(end, tz="UTC")
    periods["source"] = "preamble"
    return Coverage(periods, "UTC")
