"""When each subscriber was observed: the requested periods of their dumps.

A pair can only show co-usage while *both* were being recorded. Real cases mix
dumps requested for different weeks, months or years, so the link engine scores
each pair on its own common days (see docs/co-usage.md, "Pair-local null").
This module turns the dumps' periods into local calendar days of the case's
zone and answers the two questions the engine asks: is day *d* observed for
subscriber *s* (vectorised over many matches), and which days do *a* and *b*
share.

Days are counted in the zone's *standard* offset (its offset outside daylight
saving), so they depend on the zone alone: the embedded engine and the Cypher
path use the same integer arithmetic, and adding a dump from another season
cannot move a day boundary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cdrnet.analysis.units import plain_text
from cdrnet.clock import DEFAULT_TZ, case_zone

#: Evidence scopes a layout can declare for its end time and volumes.
PER_FLOW = "flow"
MIN_COMMON_DAYS = 2
_DAY_BITS = 32


def standard_offset_s(tz: str) -> int:
    """The zone's UTC offset in seconds outside daylight saving (the smaller of January and July)."""
    zone = ZoneInfo(tz)
    offs = [dt.datetime(2023, m, 1, 12, tzinfo=zone).utcoffset() for m in (1, 7)]
    return int(min(o.total_seconds() for o in offs if o is not None))


def local_days(t: np.ndarray, offset_s: int) -> np.ndarray:
    """Epoch seconds (UTC) to day numbers of the case's calendar."""
    return (np.asarray(t, dtype=np.int64) + offset_s) // 86400


def _ts(text: object) -> pd.Timestamp | None:
    if text is None or (isinstance(text, float) and np.isnan(text)) or text == "":
        return None
    ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def periods_from_reports(reports: Iterable[object]) -> pd.DataFrame:
    """One row per (dump, subscriber): msisdn, sha256, start_utc, end_utc, source.

    The period the operator states in the preamble wins; otherwise the span of
    the dump's rows ("rows"). Dumps with no rows and no stated period observe
    nothing.
    """
    rows = []
    for rep in reports:
        start, end = _ts(getattr(rep, "period_start_utc", "")), _ts(getattr(rep, "period_end_utc", ""))
        source = getattr(rep, "period_source", "") or ("preamble" if start is not None else "rows")
        if start is None or end is None:
            start, end, source = _ts(getattr(rep, "start_min", "")), _ts(getattr(rep, "start_max", "")), "rows"
        if start is None or end is None:
            continue
        for m in getattr(rep, "msisdns", []) or []:
            rows.append({"msisdn": m, "sha256": rep.sha256, "start_utc": start, "end_utc": end, "source": source})
    cols = ["msisdn", "sha256", "start_utc", "end_utc", "source"]
    return pd.DataFrame(rows, columns=cols)


def periods_from_sessions(frame: pd.DataFrame) -> pd.DataFrame:
    """Periods when no dump report is at hand (two files given to ``pair``, a notebook frame):
    the span of each dump's rows per subscriber."""
    if frame.empty:
        return pd.DataFrame(columns=["msisdn", "sha256", "start_utc", "end_utc", "source"])
    by = ["msisdn", "dump_sha256"] if "dump_sha256" in frame else ["msisdn"]
    frame = plain_text(frame, by)  # groups in text order, as a categorical's would not be
    g = frame.groupby(by, sort=True)["start_utc"]
    out = pd.DataFrame({"start_utc": g.min(), "end_utc": g.max()}).reset_index()
    out = out.rename(columns={"dump_sha256": "sha256"})
    if "sha256" not in out:
        out["sha256"] = ""
    out["source"] = "rows"
    return out[["msisdn", "sha256", "start_utc", "end_utc", "source"]]


@dataclass
class Coverage:
    """Observed days per subscriber, per-dump evidence scopes and time resolution.

    Everything the link engine needs to know about the case besides the
    sessions themselves; built from the store's dump reports (``from_reports``)
    or, lacking those, from the sessions (``from_sessions``).
    """

    periods: pd.DataFrame
    tz: str = DEFAULT_TZ
    #: dump sha256 -> (end_scope, volume_scope); missing dumps count as per flow.
    scopes: dict[str, tuple[str, str]] = field(default_factory=dict)
    resolution: dict[str, int] = field(default_factory=dict)
    #: The periods of the subscribers' voice/SMS CDRs (``periods``' columns): days their cells were
    #: recorded, which co-location counts beside the data-session days (``colocation``).
    call_periods: pd.DataFrame | None = None
    #: SHA-256s of the case's tower dumps: they observe a cell, not a subscriber (no periods).
    towers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.offset_s = standard_offset_s(self.tz)
        days: dict[str, set[int]] = {}
        p = self.periods
        if len(p):
            lo = local_days(_epoch(p["start_utc"]), self.offset_s)
            hi = local_days(_epoch(p["end_utc"]), self.offset_s)
            for m, a, b in zip(p["msisdn"].to_numpy(), lo, hi, strict=True):
                days.setdefault(str(m), set()).update(range(int(a), int(max(a, b)) + 1))
        self._days = {m: np.array(sorted(d), dtype=np.int64) for m, d in days.items()}

    @classmethod
    def from_reports(cls, reports: list, tz: str | None = None) -> Coverage:
        """From the case's dump reports: data-session dumps give the observed days, voice/SMS CDRs
        the days cells were recorded (``call_periods``), tower dumps only their SHA-256s."""
        reports = list(reports)
        calls = [r for r in reports if getattr(r, "kind", "sessions") == "calls"]
        reports = [r for r in reports if getattr(r, "kind", "sessions") != "calls"]
        zone = tz or case_zone(reports or calls)
        scopes = {r.sha256: (getattr(r, "end_scope", "") or PER_FLOW, getattr(r, "volume_scope", "") or PER_FLOW)
                  for r in reports}
        resolution: dict[str, int] = {}
        for r in reports:
            for m in r.msisdns:
                resolution[m] = max(resolution.get(m, 0), r.resolution_s)
        towers = frozenset(r.sha256 for r in calls if getattr(r, "tower_cell", "") or not r.msisdns)
        return cls(periods_from_reports(reports), zone, scopes, resolution,
                   periods_from_reports([r for r in calls if r.sha256 not in towers]), towers)

    @classmethod
    def from_sessions(cls, frame: pd.DataFrame, tz: str = DEFAULT_TZ,
                      resolution: dict[str, int] | None = None) -> Coverage:
        return cls(periods_from_sessions(frame), tz, {}, dict(resolution or {}))

    def _with(self, periods: pd.DataFrame, call_periods: pd.DataFrame | None) -> Coverage:
        return Coverage(periods, self.tz, self.scopes, self.resolution, call_periods, self.towers)

    def with_sessions(self, frame: pd.DataFrame) -> Coverage:
        """Add row-span periods for subscribers in ``frame`` that no report covers."""
        missing = sorted(set(frame["msisdn"].unique()) - set(self._days))
        if not missing:
            return self
        extra = periods_from_sessions(frame[frame["msisdn"].isin(missing)])
        return self._with(pd.concat([self.periods, extra], ignore_index=True), self.call_periods)

    def with_calls(self, calls: pd.DataFrame | None) -> Coverage:
        """Add row-span periods for call dumps (not tower dumps) that no report covers (call
        events handed over without their reports: a notebook frame, two files)."""
        if calls is None or calls.empty:
            return self
        known = set() if self.call_periods is None else set(self.call_periods["sha256"])
        rest = calls[~calls["dump_sha256"].isin(known | set(self.towers))]
        if rest.empty:
            return self
        extra = periods_from_sessions(rest)
        parts = [p for p in (self.call_periods, extra) if p is not None and len(p)]
        return self._with(self.periods, pd.concat(parts, ignore_index=True))

    def colocation(self) -> Coverage:
        """The days co-location counts on: the data-session periods and the call-record periods
        together (a subscriber's cell is recorded by both). Itself when the case has no CDRs."""
        if self.call_periods is None or self.call_periods.empty:
            return self
        return self._with(pd.concat([self.periods, self.call_periods], ignore_index=True), None)

    # -- questions the engine asks ------------------------------------------------
    def days_of(self, msisdn: str) -> np.ndarray:
        return self._days.get(msisdn, np.zeros(0, dtype=np.int64))

    def day_table(self, codes: pd.Index) -> np.ndarray:
        """Sorted (subscriber code << 32 | day) for vectorised membership tests."""
        parts = [np.zeros(0, dtype=np.int64)]
        for i, m in enumerate(codes):
            d = self._days.get(m)
            if d is not None and len(d):
                parts.append((np.int64(i) << _DAY_BITS) | (d - _DAY_BASE))
        return np.sort(np.concatenate(parts))

    def observed(self, table: np.ndarray, sub: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whether ``day`` is an observed day of subscriber code ``sub`` (elementwise)."""
        if not len(table):
            return np.zeros(len(sub), dtype=bool)
        q = (np.asarray(sub, dtype=np.int64) << _DAY_BITS) | (np.asarray(day, dtype=np.int64) - _DAY_BASE)
        i = np.minimum(np.searchsorted(table, q), len(table) - 1)
        return table[i] == q

    def signatures(self, codes: pd.Index) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per subscriber code, the id of its observed-day set, and the sets."""
        keys = [self._days.get(m, np.zeros(0, dtype=np.int64)).tobytes() for m in codes]
        sig, uniq = pd.factorize(pd.Series(keys, dtype=object))
        sets = [np.frombuffer(u, dtype=np.int64) for u in uniq]
        return sig.astype(np.int64), sets

    def common_days(self, a: Iterable[str], b: Iterable[str]) -> np.ndarray:
        """Number of days both subscribers were observed, per pair."""
        a, b = list(a), list(b)
        codes = pd.Index(sorted(set(a) | set(b)))
        sig, sets = self.signatures(codes)
        sa, sb = sig[codes.get_indexer(a)], sig[codes.get_indexer(b)]
        return pair_common_days(sa, sb, sets)

    def pairs_with_common_days(self, codes: pd.Index, minimum: int = MIN_COMMON_DAYS) -> int:
        """How many unordered pairs of ``codes`` share at least ``minimum`` observed days."""
        if len(codes) < 2:
            return 0
        sig, sets = self.signatures(codes)
        n = np.bincount(sig, minlength=len(sets)).astype(np.int64)
        inter = _intersections(sets)
        ok = inter >= minimum
        same = np.diag(ok) * n * (n - 1) // 2
        cross = np.triu(ok, 1) * np.outer(n, n)
        return int(same.sum() + cross.sum())


_DAY_BASE = -(1 << 30)  # days are offset so that the packed value stays non-negative


def _epoch(ts: pd.Series) -> np.ndarray:
    s = pd.to_datetime(ts, utc=True)
    return s.dt.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64)


def _intersections(sets: list[np.ndarray]) -> np.ndarray:
    """Size of every pairwise intersection of the day sets (a small G x G matrix)."""
    if not sets:
        return np.zeros((0, 0), dtype=np.int64)
    all_days = np.unique(np.concatenate(sets)) if any(len(s) for s in sets) else np.zeros(0, dtype=np.int64)
    member = np.zeros((len(sets), len(all_days)), dtype=np.float32)
    for i, s in enumerate(sets):
        member[i, np.searchsorted(all_days, s)] = 1.0
    return np.rint(member @ member.T).astype(np.int64)


def pair_common_days(sa: np.ndarray, sb: np.ndarray, sets: list[np.ndarray]) -> np.ndarray:
    """Common observed days for pairs given by their day-set ids."""
    inter = _intersections(sets)
    if not len(sa):
        return np.zeros(0, dtype=np.int64)
    return inter[sa, sb]
