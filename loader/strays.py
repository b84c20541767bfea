"""Rows dated far from their dump's period: flagged, listed and kept out of every analysis.

A dump answers a request for one period. A row dated 1970 (an epoch zero), 2099, before
2000 or a year after the rest is a broken clock or a mangled cell, not an observation: kept,
it stretched its subscriber's observed period (the span of the rows, where no period is
stated) over years, gave pairs "common days" they never had and moved every pair's q-value
through the FDR. Such rows are rejected as ``date_far_from_period`` (counted in the quality
summary and listed in rejects.csv with file, line and raw text), so one stray row cannot
move any score.

"Far" means:

- before 2000-01-01 or after the day of ingest (no IPDR system predates 2000; no record is
  from the future). Air-gapped machines often keep a wrong clock, so "today" is never taken
  as earlier than ``RELEASED`` (a clock years behind must not reject real rows);
- with a stated period: more than ``STATED_MARGIN`` outside it (rows just outside it are
  kept and warned about, as before: a zone or cut-off slip, not a broken date);
- without one: in a small run of activity apart from the dump's main one. Runs are days with
  rows whose gaps are at most ``GAP`` (a subscriber quiet for a few weeks stays one run);
  the main run holds the most rows, and another run is stray when it holds at most
  ``SMALL_RUN_ROWS`` rows or ``SMALL_RUN_SHARE`` of the dump's rows, and the main run at
  least ``MAIN_RUN_FACTOR`` times as many. A dump that really covers two seasons (a phone
  off for months) keeps both, and a dump of a handful of rows has no "bulk" to stray from.

Without a stated period the main run is known only at the end of the dump, so rows that
fall outside the run seen so far are held back (at most ``HOLD_LIMIT``; beyond that they
are released and the dump gets a note) and decided when the dump ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

REASON = "date_far_from_period"
STATED_MARGIN = pd.Timedelta(days=7)
GAP = 31  # days
SMALL_RUN_ROWS = 3
SMALL_RUN_SHARE = 0.01
MAIN_RUN_FACTOR = 20
HOLD_LIMIT = 200_000
EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
RELEASED = pd.Timestamp("2026-12-01", tz="UTC")


def _utc64(start_utc: pd.Series) -> np.ndarray:
    """UTC times as naive datetime64 in the column's own unit (NaT stays NaT, and compares False
    as the pandas comparisons did): numpy compares without a pandas call per bound."""
    if isinstance(start_utc.dtype, pd.DatetimeTZDtype):
        return start_utc.to_numpy(dtype=f"datetime64[{start_utc.dtype.unit}]")
    return pd.to_datetime(start_utc, utc=True).dt.tz_localize(None).to_numpy()


def _bound(ts: pd.Timestamp, times: np.ndarray, up: bool) -> np.datetime64:
    """``ts`` in the unit of ``times``, rounded so that comparing with it equals comparing with ``ts``:
    up (ceiling) for "before ts", down (floor) for "after ts"."""
    unit = np.datetime_data(times.dtype)[0]
    naive = ts.tz_convert(None)
    return (naive.ceil(unit) if up else naive.floor(unit)).as_unit(unit).to_datetime64()


def _days(start_utc: pd.Series) -> np.ndarray:
    seconds = _utc64(start_utc).astype("datetime64[s]")
    return seconds.astype(np.int64) // 86_400


def _runs(day_counts: Counter[int]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    days = np.array(sorted(day_counts), dtype=np.int64)
    counts = np.array([day_counts[d] for d in days], dtype=np.int64)
    return days, counts, np.split(np.arange(len(days)), np.flatnonzero(np.diff(days) > GAP) + 1)


def main_run(day_counts: Counter[int]) -> tuple[int, int] | None:
    """First and last day of the run of active days (gaps <= GAP) holding the most rows."""
    if not day_counts:
        return None
    days, counts, runs = _runs(day_counts)
    best = max(runs, key=lambda idx: (counts[idx].sum(), -idx[0]))
    return int(days[best[0]]), int(days[best[-1]])


def stray_days(day_counts: Counter[int]) -> set[int]:
    """Days of the small runs apart from the main run (see the module doc)."""
    if not day_counts:
        return set()
    days, counts, runs = _runs(day_counts)
    total = int(counts.sum())
    best = max(range(len(runs)), key=lambda k: (counts[runs[k]].sum(), -runs[k][0]))
    main = int(counts[runs[best]].sum())
    small = max(SMALL_RUN_ROWS, SMALL_RUN_SHARE * total)
    return {int(d) for k, idx in enumerate(runs)
            if k != best and counts[idx].sum() <= small and main >= MAIN_RUN_FACTOR * counts[idx].sum()
            for d in days[idx]}


@dataclass
class Held:
    """Rows held back until the dump's main run is known."""

    sessions: pd.DataFrame
    key_hash: np.ndarray
    row_hash: np.ndarray
    texts: dict[int, str]
    part: str


@dataclass
class StrayFilter:
    """Decides, block by block, which rows are far from the dump's period (see the module doc)."""

    now: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None
    days: Counter[int] = field(default_factory=Counter)
    held: list[Held] = field(default_factory=list)
    held_rows: int = 0
    holding: bool = True
    #: Rows outside the main run that were already stored when it became known (a note).
    late: int = 0

    def absurd(self, start_utc: pd.Series) -> np.ndarray:
        """Dates no dump can hold: before 2000 or after the day of ingest."""
        return self._outside(_utc64(start_utc), EARLIEST, max(self.now, RELEASED).normalize() + pd.Timedelta(days=1))

    @staticmethod
    def _outside(times: np.ndarray, lo: pd.Timestamp, hi: pd.Timestamp) -> np.ndarray:
        """Times before ``lo`` or after ``hi`` (a missing time is neither)."""
        return (times < _bound(lo, times, up=True)) | (times > _bound(hi, times, up=False))

    def classify(self, start_utc: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(stray now, hold back) masks over one block's kept sessions; updates the day counts."""
        times = _utc64(start_utc)
        stray = self._outside(times, EARLIEST, max(self.now, RELEASED).normalize() + pd.Timedelta(days=1))
        if self.period is not None:
            stray |= self._outside(times, self.period[0] - STATED_MARGIN, self.period[1] + STATED_MARGIN)
            return stray, np.zeros(len(stray), dtype=bool)
        days = times.astype("datetime64[s]").astype(np.int64) // 86_400
        for d, n in zip(*np.unique(days[~stray], return_counts=True), strict=True):
            self.days[int(d)] += int(n)
        hold = np.zeros(len(stray), dtype=bool)
        run = main_run(self.days)
        if self.holding and run is not None:
            hold = ~stray & ((days < run[0] - GAP) | (days > run[1] + GAP))
        return stray, hold

    def hold(self, item: Held) -> bool:
        """Keep rows until the end; False (and holding stops) once too many wait."""
        if self.held_rows + len(item.sessions) > HOLD_LIMIT:
            self.holding = False
            return False
        self.held.append(item)
        self.held_rows += len(item.sessions)
        return True

    def release(self) -> tuple[list[Held], list[Held]]:
        """At the dump's end: (held rows to load, held rows that are strays)."""
        strays = np.array(sorted(stray_days(self.days)), dtype=np.int64)
        inside, outside = [], []
        for h in self.held:
            far = np.isin(_days(h.sessions["start_utc"]), strays)
            for mask, to in ((~far, inside), (far, outside)):
                if mask.any():
                    lines = h.sessions["source_line"].to_numpy()[mask]
                    to.append(Held(h.sessions[mask], h.key_hash[mask], h.row_hash[mask],
                                   {int(n): h.texts[int(n)] for n in lines}, h.part))
        self.held, self.held_rows = [], 0
        return inside, outside
