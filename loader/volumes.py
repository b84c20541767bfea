"""Data volumes counted once per record, whatever the layout repeats on each row.

Airtel writes a partial PDP record's Uplink_Vol/Downlink_Vol on every flow row of
that record (same Charging_ID, same record close time): summing the rows counts
the record as many times as it has flows (a real profile showed 519 GB where the
distinct records add up to 197 GB). The loader gives each such row its record's
``record_key``; here a record's total is spread evenly over its rows, so any sum
over rows (per application, per day, per subscriber) adds up to the records'
totals exactly once, and a record's volume is split over the applications of its
flows in proportion to how many flows each had: the best a record-level total allows.
"""

from __future__ import annotations

import pandas as pd


def row_volumes(frame: pd.DataFrame) -> pd.Series:
    """Per row: bytes (uplink + downlink) that row stands for; NaN where the layout has none.

    Rows without a record key (per-flow volumes, or a workspace from before record keys)
    are their own record. A record seen in several dumps (an operator re-send) is counted
    once: its rows are the rows that carry its key, wherever they came from.
    """
    up = pd.to_numeric(frame["uplink"], errors="coerce").astype("float64")
    down = pd.to_numeric(frame["downlink"], errors="coerce").astype("float64")
    vol = up.add(down, fill_value=0)
    if "record_key" not in frame.columns or frame.empty:
        return vol
    key = frame["record_key"].fillna("").astype(str)
    keyed = key != ""
    if not keyed.any():
        return vol
    # One total per record (the first row's: every row repeats it), spread over its rows.
    k = key[keyed]
    total = vol[keyed].groupby(k.to_numpy()).transform("first")
    rows = k.map(k.value_counts())
    return vol.where(~keyed, total / rows.astype("float64"))


def total_volume(frame: pd.DataFrame) -> float | None:
    """Bytes of all records in the frame, each counted once (None: no volumes at all)."""
    v = row_volumes(frame)
    return float(v.sum()) if v.notna().any() else None
