"""Who-talks-to-whom: co-usage evidence per pair, scored against chance.

See docs/co-usage.md for the definitions. Three kinds of evidence are kept
apart: messaging co-usage (per service), call signatures (UDP flows of both
to one relay, starting within seconds, lasting alike, volumes mirrored) and
co-location (same cell within the window). Each gets an observed count O, an
expected count E under the null model (null.py) and a Poisson tail p-value;
the pair's score is -log10 of Fisher's combination of those p-values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from cdrnet.analysis.null import expected_pairs
from cdrnet.analysis.observed import _DAY_BASE, MIN_COMMON_DAYS, PER_FLOW, Coverage, pair_common_days
from cdrnet.analysis.sweep import SweepStats, window_pairs, window_runs
from cdrnet.analysis.units import (
    CALL_MIN_DURATION_TOL_S,
    CALL_MIRROR_RATIO,
    bursts,
    call_sessions,
    cell_sessions,
    epoch_seconds,
    messaging_sessions,
)
from cdrnet.errors import UsageError

MAX_SCORE = 300.0
#: Minute-resolution times (Excel re-saved exports drop the seconds) widen the tight window by
#: this much: two replies 30 s apart can read up to 89 s apart once each side lost its seconds.
COARSE_TIGHT_EXTRA_S = 60
#: The session columns the engine reads (load only these for very large cases).
LINK_COLUMNS = ["session_key", "msisdn", "start_utc", "end_utc", "app", "app_vendor", "app_category", "dest_ip",
                "dest_port", "proto", "cell_id", "uplink", "downlink", "dump_sha256"]
#: Session columns the engine takes as pandas categoricals (``Workspace.link`` reads them so): texts
#: that repeat (one dump's SHA-256 on each of its rows was a quarter of the frame as text). Each
#: channel turns the ones it reads back into text once its rows are chosen (``units.plain_text``).
LINK_CATEGORICAL = ["msisdn", "app", "app_vendor", "app_category", "dest_ip", "proto", "cell_id", "dump_sha256"]
CHANNELS = ("messaging", "call", "coloc")
#: Largest subscriber x day bitmap DayFrame builds (bytes): 10,000 subscribers over 6 years fit.
GRID_MAX_CELLS = 1 << 26


@dataclass
class LinkParams:
    """Everything that shapes the edges; recorded on every edge."""

    window_s: int = 180
    mode: str = "start"
    burst_gap_s: int | None = None
    call_window_s: int = 5
    tight_window_s: int = 30
    call_duration_tol: float = 0.25
    calls: bool = True
    colocation: bool = True
    score_colocation: bool = False
    apps: list[str] | None = None
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    fdr: float = 0.05
    min_score: float | None = None
    min_events: int = 2
    #: Count low-confidence messaging labels ("XMPP (WhatsApp possible)") too (--possible-apps).
    possible_apps: bool = False

    def __post_init__(self) -> None:
        if self.window_s < 0 or self.window_s > 86400:
            raise UsageError(f"window {self.window_s}s must be between 0 and 86400 seconds")
        if self.mode not in ("start", "overlap"):
            raise UsageError(f"mode must be 'start' or 'overlap', not '{self.mode}'")
        if not 0 < self.fdr <= 1:
            raise UsageError("--fdr must be in (0, 1]")

    @property
    def gap(self) -> int:
        return self.window_s if self.burst_gap_s is None else self.burst_gap_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["since"] = self.since.isoformat() if self.since is not None else ""
        d["until"] = self.until.isoformat() if self.until is not None else ""
        d["apps"] = ",".join(self.apps or [])
        d["burst_gap_s"] = self.gap
        return d

    @classmethod
    def from_dict(cls, d: dict) -> LinkParams:
        """The parameters a stored run recorded (``to_dict``'s form; unknown keys ignored, missing ones
        default), so a map or a report reproduces the run rather than guessing its options."""
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known and v is not None}
        for k in ("since", "until"):
            kw[k] = pd.Timestamp(kw[k]).tz_convert("UTC") if kw.get(k) else None
        if "apps" in kw:
            apps = kw["apps"] if isinstance(kw["apps"], list) else str(kw["apps"]).split(",")
            kw["apps"] = [a for a in apps if a] or None
        for k in ("window_s", "call_window_s", "tight_window_s", "min_events", "burst_gap_s"):
            if k in kw:
                kw[k] = int(kw[k])
        if kw.get("burst_gap_s") == kw.get("window_s", cls.window_s):
            kw.pop("burst_gap_s", None)  # to_dict writes the gap in use; equal to the window it is the default
        return cls(**kw)

    def describe(self) -> str:
        """The parameters a person needs to read a network, in one line."""
        return (f"window {self.window_s}s ({self.mode}), episode gap {self.gap}s, FDR {self.fdr:g}"
                + (f", min score {self.min_score:g}" if self.min_score is not None else "")
                + (f", min events {self.min_events}" if self.min_events != 2 else "")
                + (f", apps {','.join(self.apps)}" if self.apps else "")
                + ("" if self.calls else ", no calls") + ("" if self.colocation else ", no co-location")
                + (f", since {self.since:%Y-%m-%d %H:%M} UTC" if self.since is not None else "")
                + (f", until {self.until:%Y-%m-%d %H:%M} UTC" if self.until is not None else ""))


@dataclass
class LinkResult:
    """Edges plus what the engine did (for the CLI and the evidence trail)."""

    edges: pd.DataFrame
    params: LinkParams
    subscribers: int
    sessions: int
    seconds: float
    sweep: dict[str, SweepStats] = field(default_factory=dict)
    coarse_subscribers: list[tuple[str, int]] = field(default_factory=list)
    matches: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Seconds per step when the work ran as Cypher statements (where the time went).
    steps: dict[str, float] = field(default_factory=dict)
    #: Pairs with evidence but fewer than MIN_COMMON_DAYS days observed together (not scored).
    unscored_pairs: int = 0
    #: Pairs that could be scored (observed together on enough days): the FDR's denominator.
    testable_pairs: int = 0
    #: What the engine knew about the case (periods, zone, evidence scopes).
    coverage: Coverage | None = None


MATCH_COLUMNS = ["a", "b", "key", "ta", "tb", "ua", "ub"]
#: A chunk of matches: a DataFrame, or (counting only) its columns as plain arrays.
Matches = pd.DataFrame | dict[str, np.ndarray]


def _rows(m: Matches) -> int:
    """Number of matches in a chunk of either form."""
    return len(m) if isinstance(m, pd.DataFrame) else len(m["a"])


def _sub_codes(units: pd.DataFrame, codes: pd.Index) -> np.ndarray:
    """The engine's subscriber code of each unit: the ``sub`` column ``link`` adds once (both the
    sweep and the null read it; looking the numbers up as text cost ~0.7 CPU s per 10M-session
    channel each time), else looked up here."""
    if "sub" in units:
        return units["sub"].to_numpy(np.int64)
    return _code_of(units["msisdn"], codes)


def _code_of(msisdn: pd.Series, codes: pd.Index) -> np.ndarray:
    """Each row's position in ``codes`` (-1 where absent); a categorical's categories are looked
    up once and its codes mapped, not its every row as text."""
    if isinstance(msisdn.dtype, pd.CategoricalDtype):
        cat = msisdn.cat
        where = np.r_[codes.get_indexer(cat.categories).astype(np.int64), -1]
        return where[cat.codes.to_numpy().astype(np.int64)]  # code -1 (missing) takes the -1 appended
    return codes.get_indexer(msisdn).astype(np.int64)


def _with_sub(units: pd.DataFrame, codes: pd.Index) -> pd.DataFrame:
    """``units`` with the ``sub`` column ``_sub_codes`` reads."""
    return units.assign(sub=_code_of(units["msisdn"], codes))


def _match_chunks(units: pd.DataFrame, codes: pd.Index, window: int, overlap: bool,
                  stats_out: SweepStats, full: bool = True) -> tuple[Iterator[Matches], np.ndarray]:
    """Matched unit pairs of different subscribers on the same key, chunk by chunk.

    Chunks carry integer key codes (the second result maps them to keys), so a
    case with a hundred million matches is aggregated without ever holding them.
    ``full=False`` gives only what counting needs: a, b, key and the earlier and
    later start (lo, hi), skipping four gathers per match, as plain arrays: a DataFrame per
    chunk copied its columns into one block (about 10 CPU s of a 10M-session case).
    """
    if units.empty:
        return iter(()), np.zeros(0, dtype=object)
    kcode, kuni = pd.factorize(units["key"])
    # Sort integer columns only (a stable lexsort is the stable sort on (kc, t, sub)): sorting the
    # units frame itself moved its string columns too.
    sub0 = _sub_codes(units, codes)
    t0 = units["t"].to_numpy(np.int64)
    order = np.lexsort((sub0, t0, kcode))
    key, t, sub = kcode.astype(np.int64)[order], t0[order], sub0[order]
    orig = units.index.to_numpy()[order]
    t_end = units["t_end"].to_numpy(np.int64)[order] if overlap else None

    def chunks() -> Iterator[Matches]:
        if not full:
            # The earlier unit of each match repeats once per follower: take its attributes by
            # repeat (sequential), not by gathering through an expanded index.
            for first, count, j in window_runs(key, t, window, stats_out, t_end=t_end):
                si, sj = np.repeat(sub[first], count), sub[j]
                keep = si != sj
                si, sj = si[keep], sj[keep]
                m = {"a": np.minimum(si, sj), "b": np.maximum(si, sj),
                     "key": np.repeat(key[first], count)[keep], "lo": np.repeat(t[first], count)[keep],
                     "hi": t[j[keep]]}
                # Held by this frame while the chunk is reduced otherwise (a chunk's worth each).
                del si, sj, keep, j
                yield m
                del m
            return
        for i, j in window_pairs(key, t, window, stats_out, t_end=t_end):
            si, sj = sub[i], sub[j]
            keep = si != sj
            i, j = i[keep], j[keep]
            swap = sub[i] > sub[j]
            a_idx, b_idx = np.where(swap, j, i), np.where(swap, i, j)
            yield pd.DataFrame({"a": sub[a_idx], "b": sub[b_idx], "key": key[i], "ta": t[a_idx], "tb": t[b_idx],
                                "ua": orig[a_idx], "ub": orig[b_idx]})

    return chunks(), np.asarray(kuni, dtype=object)


@dataclass
class DayFrame:
    """The case's observed days, indexed by the engine's subscriber codes."""

    cov: Coverage
    codes: pd.Index

    def __post_init__(self) -> None:
        self.table = self.cov.day_table(self.codes)
        self.sig, self.sets = self.cov.signatures(self.codes)
        self.offset = self.cov.offset_s
        self.grid, self.day0, self.span = self._grid()

    def _grid(self) -> tuple[np.ndarray | None, int, int]:
        """The observed days as a dense subscriber x day bitmap (flattened), when it is small.

        Every match is checked four times (both subscribers, both times); a 10M-session case
        has hundreds of millions of matches, and a binary search of the sorted day table per
        check cost more than the sweep itself. A gather from a bitmap answers the same question
        in one memory access. Cases whose periods span too many days for the bitmap keep the table.
        """
        if not len(self.table):
            return None, 0, 0
        rel = (self.table & ((1 << 32) - 1)).astype(np.int64)  # day - _DAY_BASE, see observed.py
        day0, span = int(rel.min()), int(rel.max() - rel.min()) + 1
        if len(self.codes) * span > GRID_MAX_CELLS:
            return None, 0, 0
        grid = np.zeros(len(self.codes) * span, dtype=bool)
        grid[(self.table >> 32) * span + (rel - day0)] = True
        return grid, day0 + _DAY_BASE, span

    def _day_index(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column of each time's day in the grid (clipped) and whether that day is inside it."""
        rel = (t + self.offset) // 86400 - self.day0
        inside = (rel >= 0) & (rel < self.span)
        return np.clip(rel, 0, self.span - 1), inside

    def on_common_days(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether time ``t`` (epoch s) falls on a day both ``a`` and ``b`` were observed."""
        if self.grid is None:
            day = (t + self.offset) // 86400
            return self.cov.observed(self.table, a, day) & self.cov.observed(self.table, b, day)
        col, inside = self._day_index(t)
        return inside & self.grid[a * self.span + col] & self.grid[b * self.span + col]


def _expected(units: pd.DataFrame, codes: pd.Index, pairs: pd.DataFrame, factor: np.ndarray | float,
              shift: bool, days: DayFrame) -> tuple[np.ndarray, np.ndarray]:
    if pairs.empty:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    sub = _sub_codes(units, codes)
    tl = units["t"].to_numpy(np.int64) + days.offset
    # The null only groups by key, so integer codes do (the same groups, met in the same order):
    # the text as Python objects cost ~2 CPU s at 10M sessions, and their hashing as much again.
    key = pd.factorize(units["key"])[0]
    exp, common = expected_pairs(sub, key, tl, len(codes), pairs["a"].to_numpy(np.int64),
                                 pairs["b"].to_numpy(np.int64), days.sig, days.sets, shift=shift)
    return exp * factor, common


def flow_scopes(frame: pd.DataFrame, cov: Coverage) -> tuple[np.ndarray, np.ndarray]:
    """Per session: is its end time its own flow's, are its volumes its own flow's?

    Airtel's end time is when the partial PDP record closed and its volumes are
    the record's totals repeated on every flow row; Jio's start/end columns are
    a 30-minute allocation. Evidence that needs a flow's own duration or volume
    uses it only where the layout declares it per flow (docs/co-usage.md).
    """
    if not cov.scopes or "dump_sha256" not in frame:
        ones = np.ones(len(frame), dtype=bool)
        return ones, ones
    sha = frame["dump_sha256"].astype(object).to_numpy()
    end_scope = pd.Series({k: v[0] for k, v in cov.scopes.items()}, dtype=object)
    vol_scope = pd.Series({k: v[1] for k, v in cov.scopes.items()}, dtype=object)
    end_ok = pd.Series(sha).map(end_scope).fillna(PER_FLOW).to_numpy() == PER_FLOW
    vol_ok = pd.Series(sha).map(vol_scope).fillna(PER_FLOW).to_numpy() == PER_FLOW
    return end_ok, vol_ok


def _call_units(frame: pd.DataFrame, cov: Coverage) -> pd.DataFrame:
    calls = call_sessions(frame)
    if calls.empty:
        return pd.DataFrame(columns=["msisdn", "key", "t", "t_end", "up", "down", "first_key", "dur_known"])
    end_ok, vol_ok = flow_scopes(calls, cov)
    t = epoch_seconds(calls["start_utc"])
    te = np.maximum(epoch_seconds(calls["end_utc"].fillna(calls["start_utc"])), t)
    up = calls["uplink"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
    down = calls["downlink"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
    return pd.DataFrame({"msisdn": calls["msisdn"].to_numpy(), "key": calls["key"].to_numpy(), "t": t,
                         "t_end": np.where(end_ok, te, t), "dur_known": end_ok,
                         "up": np.where(vol_ok, up, np.nan), "down": np.where(vol_ok, down, np.nan),
                         "first_key": calls["session_key"].to_numpy()})


def _call_filter(m: pd.DataFrame, units: pd.DataFrame, tol: float) -> pd.DataFrame:
    """Keep relay matches that look like one call: similar durations, mirrored volumes."""
    if m.empty:
        return m
    ua, ub = units.loc[m["ua"]], units.loc[m["ub"]]
    da = (ua["t_end"] - ua["t"]).to_numpy(float)
    db = (ub["t_end"] - ub["t"]).to_numpy(float)
    # Durations are compared only when both ends are the flows' own (else: start and relay alone).
    both_known = ua["dur_known"].to_numpy(bool) & ub["dur_known"].to_numpy(bool)
    dur_ok = ~both_known | (np.abs(da - db) <= np.maximum(CALL_MIN_DURATION_TOL_S, tol * np.maximum(da, db)))
    up_a, down_b = ua["up"].to_numpy(float), ub["down"].to_numpy(float)
    up_b, down_a = ub["up"].to_numpy(float), ua["down"].to_numpy(float)
    known = ~np.isnan(up_a) & ~np.isnan(down_b) & ~np.isnan(up_b) & ~np.isnan(down_a)

    def mirrored(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.minimum(x, y) + 1) / (np.maximum(x, y) + 1) >= CALL_MIRROR_RATIO

    vol_ok = ~known | (mirrored(up_a, down_b) & mirrored(up_b, down_a))
    return m[dur_ok & vol_ok]


def fisher(pvals: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Fisher's combination over the channels each pair has data for."""
    k = used.sum(1)
    stat = -2.0 * np.where(used, np.log(np.clip(pvals, 1e-300, 1.0)), 0.0).sum(1)
    out = np.ones(len(pvals))
    ok = k > 0
    out[ok] = stats.chi2.sf(stat[ok], 2 * k[ok])
    return out


def poisson_p(obs: np.ndarray, exp: np.ndarray) -> np.ndarray:
    """P(X >= obs) for X ~ Poisson(exp); 1 where nothing was observed."""
    exp = np.maximum(exp, 1e-12)
    return np.where(obs > 0, stats.poisson.sf(obs - 1, exp), 1.0)


def tight_p(tight: np.ndarray, obs: np.ndarray, tight_w: int | np.ndarray, window: int) -> np.ndarray:
    """P(at least ``tight`` of ``obs`` matches within +-tight_w) if offsets were uniform in +-window.

    Conditional on the matches seen, so it does not depend on how active the two are.
    """
    pi = (2 * np.asarray(tight_w, dtype=float) + 1) / (2 * window + 1) if window > 0 else np.ones(1)
    return np.where((obs > 0) & (tight > 0), stats.binom.sf(tight - 1, obs, np.minimum(pi, 1.0)), 1.0)


def bh_qvalues(p: np.ndarray, m_total: int) -> np.ndarray:
    """Benjamini-Hochberg q-values, counting every untested pair as p = 1."""
    if not len(p):
        return p
    order = np.argsort(p)
    ranked = p[order] * m_total / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(q, 1.0)
    return out


#: What messaging and co-location units are built from (bursts, the flow scopes, cell sightings).
MESSAGING_COLUMNS = ["session_key", "msisdn", "start_utc", "end_utc", "app", "app_vendor", "app_category",
                     "dump_sha256"]
CELL_COLUMNS = ["session_key", "msisdn", "cell_id", "start_utc", "end_utc", "dump_sha256", "source_line"]


def _only(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with only those of ``columns`` it has: a channel's row filter then copies these
    columns alone, not every column the caller loaded (at 10M sessions each filtered copy of the
    whole frame was gigabytes of peak memory)."""
    return frame[[c for c in columns if c in frame.columns]]


def link(frame: pd.DataFrame, params: LinkParams, resolution: dict[str, int] | None = None,
         keep_matches: bool = False, coverage: Coverage | None = None,
         calls: pd.DataFrame | None = None) -> LinkResult:
    """Compute scored edges between all subscribers in ``frame`` (canonical sessions).

    ``coverage`` says when each subscriber was observed (their dumps' requested
    periods), in which zone days are counted and which dumps carry per-flow end
    times and volumes; without it, each dump's row span stands in. Each pair is
    scored on its own common days only, so its score does not depend on who
    else is in the case. ``calls`` (call events, cdrnet/model.py CALL_SCHEMA) add
    the cells the subscribers' voice/SMS CDRs place them at to co-location
    (``units.call_sightings``), counted on the days their CDRs cover too.
    """
    t0 = time.perf_counter()
    cov = (coverage or Coverage.from_sessions(frame, resolution=resolution)).with_sessions(frame).with_calls(calls)
    if resolution is None:
        resolution = cov.resolution
    codes = pd.Index(np.sort(frame["msisdn"].unique()))
    days = DayFrame(cov, codes)
    coloc_days = DayFrame(cov.colocation(), codes) if params.colocation and calls is not None else days
    n = len(codes)
    sweeps: dict[str, SweepStats] = {c: SweepStats() for c in CHANNELS}
    w, gap = params.window_s, params.gap
    overlap = params.mode == "overlap"
    per_channel: dict[str, pd.DataFrame] = {}
    matches: dict[str, pd.DataFrame] = {}

    def run(channel: str, units: pd.DataFrame, window: int, ovl: bool,
            keep: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
            on_days: DayFrame = days) -> tuple[Iterator[Matches], np.ndarray]:
        chunks, kuni = _match_chunks(units, codes, window, ovl, sweeps[channel], full=keep_matches or keep is not None)
        if keep is not None:
            chunks = _each(chunks, keep)
        chunks = _each(chunks, lambda c: _on_common_days(c, on_days))
        if keep_matches:
            parts = list(chunks)
            whole = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MATCH_COLUMNS)
            matches[channel] = whole.assign(key=kuni[whole["key"].to_numpy(np.int64)]) if parts else whole
            chunks = iter(parts)
        return chunks, kuni

    msg_frame = messaging_sessions(_only(frame, MESSAGING_COLUMNS), params.apps, params.possible_apps)
    if overlap:
        msg_frame = _overlap_ends(msg_frame, cov, w)
    msg = _with_sub(bursts(msg_frame, gap), codes)
    # Each channel's sessions and units are dropped once reduced: at 10M sessions the later
    # channels' peaks (the null's bin matrices) otherwise sat on top of the earlier ones' tables.
    del msg_frame
    msg_counts = msg.groupby("msisdn")["n"].sum()
    dur = (msg["t_end"] - msg["t"]).groupby(msg["msisdn"]).mean() if overlap else None
    per_channel["messaging"] = _aggregate(*run("messaging", msg, w, overlap), msg, codes, w, overlap, dur, days,
                                          tight=None if overlap else params.tight_window_s)
    del msg, dur
    if params.calls:
        cu = _with_sub(_call_units(frame, cov), codes)
        per_channel["call"] = _aggregate(*run("call", cu, params.call_window_s, False,
                                              lambda c: _call_filter(c, cu, params.call_duration_tol)),
                                         cu, codes, params.call_window_s, False, None, days, shift=False)
        del cu
    if params.colocation:
        # The engine's bursts (categoricals, no first_key): the cell channel's are most of the units.
        cells = _with_sub(bursts(cell_sessions(_only(frame, CELL_COLUMNS), calls, cov.call_periods), gap,
                                 text=False), codes)
        per_channel["coloc"] = _aggregate(*run("coloc", cells, w, False, on_days=coloc_days), cells, codes, w, False,
                                          None, coloc_days, shift=False)
        del cells
    testable = tested_pairs(params, codes, days, coloc_days)
    edges, unscored = combine(per_channel, codes, params, msg_counts, testable, resolution,
                              days, coloc_days)
    coarse = add_resolution(edges, codes, resolution, w)
    return LinkResult(edges=edges, params=params, subscribers=n, sessions=len(frame),
                      seconds=time.perf_counter() - t0, sweep=sweeps, coarse_subscribers=coarse,
                      matches=matches if keep_matches else {}, unscored_pairs=unscored, testable_pairs=testable,
                      coverage=cov)


def _each(chunks: Iterable[Matches], step: Callable[[Matches], Matches]) -> Iterator[Matches]:
    """``step`` of each chunk, the chunk let go before its result is yielded: a generator
    expression holds its last input while the consumer reduces the output, at 10M sessions
    a second chunk of matches (~0.3 GB) on top of the link's peak."""
    for c in chunks:
        out = step(c)
        del c
        yield out
        del out


def _overlap_ends(sessions: pd.DataFrame, cov: Coverage, window: int) -> pd.DataFrame:
    """Overlap mode needs each flow's own end; where the layout has none (a record close,
    an allocation window), the session is given start + window (start mode's reach)."""
    end_ok, _ = flow_scopes(sessions, cov)
    if end_ok.all():
        return sessions
    stand_in = sessions["start_utc"] + pd.Timedelta(seconds=window)
    return sessions.assign(end_utc=sessions["end_utc"].where(end_ok, stand_in))


def _on_common_days(m: Matches, days: DayFrame) -> Matches:
    """Keep matches whose two units both fall on days the pair was observed together."""
    if not _rows(m):
        return m
    a, b = np.asarray(m["a"], dtype=np.int64), np.asarray(m["b"], dtype=np.int64)
    if "lo" in m:
        t1, t2 = np.asarray(m["lo"], dtype=np.int64), np.asarray(m["hi"], dtype=np.int64)
    else:
        t1, t2 = np.asarray(m["ta"], dtype=np.int64), np.asarray(m["tb"], dtype=np.int64)
    ok = days.on_common_days(a, b, t1) & days.on_common_days(a, b, t2)
    if ok.all():
        return m
    return m[ok] if isinstance(m, pd.DataFrame) else {k: v[ok] for k, v in m.items()}


def keys_text(per_key: pd.DataFrame) -> pd.Series:
    """'key=count;...' per pair, most frequent first (ties by key), indexed by (a, b)."""
    ordered = per_key.sort_values(["a", "b", "c", "key"], ascending=[True, True, False, True])
    a, b = ordered["a"].to_numpy(np.int64), ordered["b"].to_numpy(np.int64)
    starts = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])])
    # One string concatenation per pair in C (reduceat), not a Python join per group.
    parts = (ordered["key"].astype(str) + "=" + ordered["c"].astype(str) + ";").to_numpy(dtype=object)
    text = np.add.reduceat(parts, starts) if len(parts) else parts
    index = pd.MultiIndex.from_arrays([a[starts], b[starts]], names=["a", "b"])
    return pd.Series([x[:-1] for x in text], index=index, dtype=object)


def window_factor(agg: pd.DataFrame, codes: pd.Index, window: int, mean_dur: pd.Series | None) -> np.ndarray | float:
    """Chance that two units in one hour bin match: (2w+1)/3600, or (dA+dB+1)/3600 for overlap."""
    if mean_dur is not None:
        d = mean_dur.reindex(codes).fillna(0).to_numpy()
        return (d[agg["a"].to_numpy()] + d[agg["b"].to_numpy()] + 1) / 3600.0
    return (2 * window + 1) / 3600.0


def add_resolution(edges: pd.DataFrame, codes: pd.Index, resolution: dict[str, int] | None,
                   window: int) -> list[tuple[str, int]]:
    """Record each edge's timestamp resolution; return subscribers coarser than the window."""
    if resolution and len(edges):
        ra = edges["a"].map(resolution).fillna(1).astype(int).to_numpy()
        rb = edges["b"].map(resolution).fillna(1).astype(int).to_numpy()
        edges["time_resolution_s"] = np.maximum(ra, rb)
    else:
        edges["time_resolution_s"] = 1
    edges["coarse_time"] = edges["time_resolution_s"] > window
    present = set(codes)
    return sorted((k, v) for k, v in (resolution or {}).items() if v > window and k in present)


#: Largest dense per-pair (subscribers squared) or per-(pair, key) table the reduction keeps, in
#: cells of 8 bytes: 4,096 subscribers, or 1,000 subscribers with 16 keys. Larger cases reduce
#: each chunk with a pandas groupby instead (same result, slower).
DENSE_MAX_CELLS = 1 << 24


def _chunk_columns(m: Matches, tight: int | None) -> tuple[np.ndarray, ...]:
    """A chunk as (a, b, key, lo, hi, close, near) arrays (lo <= hi: the pair's two times)."""
    if "lo" in m:
        lo, hi = np.asarray(m["lo"], dtype=np.int64), np.asarray(m["hi"], dtype=np.int64)
    else:
        ta, tb = np.asarray(m["ta"], dtype=np.int64), np.asarray(m["tb"], dtype=np.int64)
        lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
    a, b = np.asarray(m["a"], dtype=np.int64), np.asarray(m["b"], dtype=np.int64)
    close = (hi - lo <= tight) if tight is not None else np.zeros(len(a), dtype=bool)
    near = (hi - lo <= tight + COARSE_TIGHT_EXTRA_S) if tight is not None else close
    return a, b, np.asarray(m["key"], dtype=np.int64), lo, hi, close, near


def _reduce_grouped(chunks: Iterable[Matches], n: int, n_keys: int,
                    tight: int | None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Per pair (obs, first, last, tight, tight2; sorted by a, b) and per (pair, key) counts,
    by a pandas groupby per chunk: the reference for ``_reduce_dense`` and the path of cases
    too large for its tables."""
    partial = []
    for m in chunks:
        if not _rows(m):
            continue
        a, b, key, lo, hi, close, near = _chunk_columns(m, tight)
        code = (a * n + b) * n_keys + key
        g = pd.DataFrame({"code": code, "lo": lo, "hi": hi, "tight": close.astype(np.int64),
                          "tight2": near.astype(np.int64)}).groupby("code", sort=False)
        partial.append(pd.DataFrame({"c": g.size(), "lo": g["lo"].min(), "hi": g["hi"].max(), "tight": g["tight"].sum(),
                                     "tight2": g["tight2"].sum()}))
    if not partial:
        return None
    per = pd.concat(partial)
    if len(partial) > 1:
        g = per.groupby(level=0, sort=False)
        per = pd.DataFrame({"c": g["c"].sum(), "lo": g["lo"].min(), "hi": g["hi"].max(), "tight": g["tight"].sum(),
                            "tight2": g["tight2"].sum()})
    code = per.index.to_numpy(np.int64)
    pair, key = np.divmod(code, n_keys)
    a, b = np.divmod(pair, n)
    per_key = pd.DataFrame({"a": a, "b": b, "key": key, "c": per["c"].to_numpy()})
    by_pair = per.groupby([a, b], sort=True)
    agg = pd.DataFrame({"obs": by_pair["c"].sum(), "first": by_pair["lo"].min(), "last": by_pair["hi"].max(),
                        "tight": by_pair["tight"].sum(), "tight2": by_pair["tight2"].sum()})
    agg.index = agg.index.set_names(["a", "b"])
    return agg.reset_index(), per_key


def _reduce_dense(chunks: Iterable[Matches], n: int, n_keys: int,
                  tight: int | None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``_reduce_grouped``'s result from dense tables indexed by pair (a * n + b) and by
    (pair, key): a bincount or an unbuffered min/max per chunk, no hashing.

    A 10M-session case has ~130M matches; hashing them into groups (pandas) cost ~14 CPU s,
    counting into a table indexed by the codes themselves a fraction of that. First/last and
    the tight counts are per pair, so only the match count needs the (pair, key) table; when
    that table would be too large (many cells), it is counted per chunk by value_counts.
    """
    cells = n * n
    dense_keys = cells * n_keys <= DENSE_MAX_CELLS
    obs = np.zeros(cells, dtype=np.int64)
    first = np.full(cells, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(cells, np.iinfo(np.int64).min, dtype=np.int64)
    t1 = np.zeros(cells, dtype=np.int64)
    t2 = np.zeros(cells, dtype=np.int64)
    per_key_dense = np.zeros(cells * n_keys if dense_keys else 0, dtype=np.int64)
    per_key_parts: list[pd.Series] = []
    for m in chunks:
        if not _rows(m):
            continue
        a, b, key, lo, hi, close, near = _chunk_columns(m, tight)
        pair = a * n + b
        obs += np.bincount(pair, minlength=cells)
        np.minimum.at(first, pair, lo)
        np.maximum.at(last, pair, hi)
        if tight is not None:
            t1 += np.bincount(pair[close], minlength=cells)
            t2 += np.bincount(pair[near], minlength=cells)
        code = pair * n_keys + key
        if dense_keys:
            per_key_dense += np.bincount(code, minlength=len(per_key_dense))
        else:
            per_key_parts.append(pd.Series(code).value_counts(sort=False))
    seen = np.flatnonzero(obs)
    if not len(seen):
        return None
    a, b = np.divmod(seen, n)
    agg = pd.DataFrame({"a": a, "b": b, "obs": obs[seen], "first": first[seen], "last": last[seen],
                        "tight": t1[seen], "tight2": t2[seen]})
    if dense_keys:
        code = np.flatnonzero(per_key_dense)
        c = per_key_dense[code]
    else:
        counts = pd.concat(per_key_parts)
        counts = counts.groupby(level=0, sort=False).sum() if len(per_key_parts) > 1 else counts
        code, c = counts.index.to_numpy(np.int64), counts.to_numpy(np.int64)
    pair, key = np.divmod(code, n_keys)
    ka, kb = np.divmod(pair, n)
    return agg, pd.DataFrame({"a": ka, "b": kb, "key": key, "c": c})


def _aggregate(chunks: Iterable[Matches], kuni: np.ndarray, units: pd.DataFrame, codes: pd.Index, window: int,
               overlap: bool, mean_dur: pd.Series | None, days: DayFrame, shift: bool = True,
               tight: int | None = None) -> pd.DataFrame:
    """Per pair: observed matches, expected matches, per-key counts, first/last time.

    Each chunk of matches is reduced into per-pair and per-(pair, key) totals at once, so
    memory follows the number of pairs and (pair, key)s, not of matches.
    """
    n, n_keys = len(codes), max(len(kuni), 1)
    reduce = _reduce_dense if n * n <= DENSE_MAX_CELLS else _reduce_grouped
    reduced = reduce(chunks, n, n_keys, tight)
    if reduced is None:
        return pd.DataFrame(columns=["a", "b", "obs", "exp", "keys", "first", "last", "common_days"])
    agg, per_key = reduced
    per_key["key"] = kuni[per_key["key"].to_numpy()]
    agg["keys"] = keys_text(per_key).to_numpy()
    agg["exp"], agg["common_days"] = _expected(units, codes, agg,
                                               window_factor(agg, codes, window, mean_dur if overlap else None),
                                               shift, days)
    if tight is None:
        agg = agg.drop(columns=["tight", "tight2"])
    return agg[["a", "b", "obs", "first", "last", "keys", "exp", "common_days",
                *(["tight", "tight2"] if tight is not None else [])]]


def _pair_resolution(index: pd.MultiIndex, codes: pd.Index, resolution: dict[str, int] | None) -> np.ndarray:
    """The coarser timestamp resolution (seconds) of the two subscribers of each pair."""
    if not resolution or not len(index):
        return np.ones(len(index), dtype=np.int64)
    per_code = pd.Series(codes).map(resolution).fillna(1).astype(np.int64).to_numpy()
    a = index.get_level_values(0).to_numpy(np.int64)
    b = index.get_level_values(1).to_numpy(np.int64)
    return np.maximum(per_code[a], per_code[b])


def tested_pairs(params: LinkParams, codes: pd.Index, days: DayFrame, coloc_days: DayFrame) -> int:
    """How many pairs can be scored (the q-values' denominator): pairs observed together on
    MIN_COMMON_DAYS days by their data-session dumps, or, when co-location enters the score, by
    their data-session dumps and voice/SMS CDRs together."""
    on = coloc_days if params.colocation and params.score_colocation else days
    return on.cov.pairs_with_common_days(codes)


def _pair_days(e: pd.DataFrame, days: DayFrame | None, coloc_days: DayFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of ``e`` (indexed by codes a, b): common days of the data-session dumps, and of
    those and the voice/SMS CDRs (co-location's days); without DayFrames, the channels' own."""
    if days is None or not len(e):
        common = np.nanmax(np.stack([e[f"{c}_common_days"].to_numpy(float) if f"{c}_common_days" in e
                                     else np.full(len(e), np.nan) for c in CHANNELS], 1), 1) if len(e) else np.zeros(0)
        return common, common
    a = e.index.get_level_values(0).to_numpy(np.int64)
    b = e.index.get_level_values(1).to_numpy(np.int64)
    base = pair_common_days(days.sig[a], days.sig[b], days.sets).astype(float)
    if coloc_days is None or coloc_days is days:
        return base, base
    return base, pair_common_days(coloc_days.sig[a], coloc_days.sig[b], coloc_days.sets).astype(float)


def utc_from_seconds(seconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC times from float epoch seconds (NaN: none), in the resolution pandas 3 gives them.

    pandas 3 reads all-whole (or NaN) seconds as integers and keeps them in microseconds, and
    other floats in nanoseconds; pandas 2, which pyproject.toml allows, gives nanoseconds always.
    The resolution is stored (``link-run/edges.parquet``'s timestamp type), so it is fixed here:
    the same case writes the same file under either pandas. Only the known times are handed to
    pandas: pandas 2 rounds an uninitialised fraction for each NaN, which could raise a
    FloatingPointError (overflow) depending on what that memory held.
    """
    known = ~np.isnan(seconds)
    values = seconds[known]
    unit = "us" if bool((values == np.trunc(values)).all()) else "ns"
    out = np.full(len(seconds), np.datetime64("NaT"), dtype=f"datetime64[{unit}]")
    out[known] = pd.to_datetime(values, unit="s").as_unit(unit).to_numpy()
    return pd.DatetimeIndex(out).tz_localize("UTC")


def combine(per_channel: dict[str, pd.DataFrame], codes: pd.Index, params: LinkParams, msg_counts: pd.Series,
            testable: int | None = None, resolution: dict[str, int] | None = None, days: DayFrame | None = None,
            coloc_days: DayFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Scores, q-values and the edge table from per-channel aggregates (shared by both engines).

    Pairs observed together on fewer than MIN_COMMON_DAYS days are left out
    (their number is the second result). ``testable`` is how many pairs could
    be scored at all, the denominator of the Benjamini-Hochberg q-values.
    Messaging and call evidence are tested on the days the pair's data-session
    dumps share (``days``); co-location on the days their data-session dumps and
    voice/SMS CDRs share (``coloc_days``): each channel only where its days suffice.
    """
    frames = []
    for name, agg in per_channel.items():
        if agg.empty:
            continue
        frames.append(agg.set_index(["a", "b"]).add_prefix(f"{name}_"))
    if frames:
        e = pd.concat(frames, axis=1).sort_index()
    else:
        # No pair has any evidence: the same table with no rows (every column, so edges.csv,
        # the map and the summary read it like any other; nothing to do is not an error).
        e = pd.DataFrame(index=pd.MultiIndex.from_arrays([np.zeros(0, np.int64)] * 2, names=["a", "b"]))
    base, cdays = _pair_days(e, days, coloc_days)
    coloc_scored = params.colocation and params.score_colocation
    scored = (base >= MIN_COMMON_DAYS) | (coloc_scored & (cdays >= MIN_COMMON_DAYS))
    unscored = int((~scored).sum())
    e, base, cdays = e[scored], base[scored], cdays[scored]
    # The days shown: when both were observed by the records this run reads (with co-location, their CDRs too).
    common = np.maximum(base, cdays) if params.colocation else base
    days_ok = np.stack([base >= MIN_COMMON_DAYS, base >= MIN_COMMON_DAYS, cdays >= MIN_COMMON_DAYS], 1)
    for name in CHANNELS:
        for c in ("obs", "exp"):
            col = f"{name}_{c}"
            e[col] = e[col].fillna(0) if col in e else 0
        for c in ("keys",):
            col = f"{name}_{c}"
            e[col] = e[col].fillna("") if col in e else ""
    obs = np.stack([e[f"{c}_obs"].to_numpy(float) for c in CHANNELS], 1)
    exp = np.stack([e[f"{c}_exp"].to_numpy(float) for c in CHANNELS], 1)
    # Co-location is counted and tested on every edge, but enters the combined score only
    # on request: shared schedules (offices, shifts, neighbourhoods) put unrelated people
    # in one cell at one time far more often than an hourly null can absorb.
    enabled = np.array([True, params.calls, params.colocation and params.score_colocation])
    used = ((obs > 0) | (exp > 0)) & enabled & days_ok
    # A channel whose days do not suffice for this pair has no other day to compare with: untested.
    pv = np.where(days_ok, np.stack([poisson_p(obs[:, k], exp[:, k]) for k in range(len(CHANNELS))], 1), 1.0)
    # The tight-window scale needs times finer than the tight window. Minute-resolution times
    # (Excel re-saved exports) put a side on :00, so for those pairs the window is widened by a
    # minute (and tested against that wider window); coarser times get no tight-window test.
    tau, w = params.tight_window_s, params.window_s
    res = _pair_resolution(e.index, codes, resolution)
    fine = res <= tau
    minute = ~fine & (res <= COARSE_TIGHT_EXTRA_S) & (tau + COARSE_TIGHT_EXTRA_S < w)
    t1 = e["messaging_tight"].fillna(0).to_numpy(float) if "messaging_tight" in e else np.zeros(len(e))
    t2 = e["messaging_tight2"].fillna(0).to_numpy(float) if "messaging_tight2" in e else np.zeros(len(e))
    tight = np.where(fine, t1, np.where(minute, t2, 0.0))
    tight_w = np.where(minute, tau + COARSE_TIGHT_EXTRA_S, tau)
    pt = np.where(days_ok[:, 0], tight_p(tight, obs[:, 0], tight_w, w), 1.0)
    p = fisher(np.column_stack([pv, pt]), np.column_stack([used, used[:, 0] & (tau < w) & (fine | minute)]))
    e = e.reset_index()
    a_codes, b_codes = e["a"].to_numpy(np.int64), e["b"].to_numpy(np.int64)
    out = pd.DataFrame({"a": codes[a_codes], "b": codes[b_codes]})
    out["score"] = np.minimum(-np.log10(np.maximum(p, 1e-300)), MAX_SCORE).round(4)
    out["p_value"] = p
    m_total = len(codes) * (len(codes) - 1) // 2 if testable is None else testable
    out["q_value"] = bh_qvalues(p, max(m_total, len(out), 1))
    events = obs[:, 0] * days_ok[:, 0] + obs[:, 1] * days_ok[:, 1]
    ok = (out["q_value"] <= params.fdr) & ((events >= params.min_events) | (obs[:, 1] > 0))
    if params.min_score is not None:
        ok &= out["score"] >= params.min_score
    out["link"] = ok.to_numpy()
    for k, c in enumerate(CHANNELS):
        out[f"{c}_obs"] = obs[:, k].astype(np.int64)
        out[f"{c}_exp"] = exp[:, k].round(6)
        out[f"{c}_p"] = pv[:, k]
    out["common_days"] = common.astype(np.int64)
    out["messaging_tight"] = tight.astype(np.int64)
    out["messaging_tight_window_s"] = np.where(fine | minute, tight_w, 0).astype(np.int64)
    out["messaging_tight_p"] = pt
    out["services"] = e["messaging_keys"].to_numpy()
    out["cells"] = e["coloc_keys"].to_numpy()
    firsts = np.stack([e[f"{c}_first"].to_numpy(float) if f"{c}_first" in e else np.full(len(e), np.nan)
                       for c in CHANNELS], 1)
    lasts = np.stack([e[f"{c}_last"].to_numpy(float) if f"{c}_last" in e else np.full(len(e), np.nan)
                      for c in CHANNELS], 1)
    out["first_utc"] = utc_from_seconds(np.nanmin(firsts, 1))
    out["last_utc"] = utc_from_seconds(np.nanmax(lasts, 1))
    counts = msg_counts
    out["sessions_a"] = out["a"].map(counts).fillna(0).astype(np.int64).to_numpy()
    out["sessions_b"] = out["b"].map(counts).fillna(0).astype(np.int64).to_numpy()
    for k, v in params.to_dict().items():
        if k in ("window_s", "mode", "burst_gap_s", "call_window_s", "apps", "since", "until", "fdr"):
            out[k] = v
    out = out.sort_values(["score", "a", "b"], ascending=[False, True, True], kind="stable").reset_index(drop=True)
    return out, unscored
