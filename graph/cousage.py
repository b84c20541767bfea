"""Co-usage computed inside Neo4j, with the same definitions as the embedded engine.

Each channel is one read query: its episodes are built per subscriber by Cypher
(cypher/episodes_<channel>.cypher) as rows, never as nodes, and the same statement
(cypher/episodes_match.cypher appended) returns the null model's bin counts and the
matches, found by a sorted sweep per key (start mode) or a hash join on time buckets
(overlap mode) and aggregated per pair in Cypher.
Nothing is written, so nothing goes through the transaction log (temporary Episode
nodes, written and deleted per run, once made this engine 40x slower than the
embedded one). The expected counts, p-values and q-values are then computed by the
same Python code as the embedded engine (cdrnet.analysis.cousage.combine), so both
engines give identical edges. Edges are written as CO_USED relationships.
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pandas as pd
from neo4j import Driver

from cdrnet.analysis.cousage import (
    CHANNELS,
    COARSE_TIGHT_EXTRA_S,
    DayFrame,
    LinkParams,
    LinkResult,
    add_resolution,
    combine,
    keys_text,
    tested_pairs,
    window_factor,
)
from cdrnet.analysis.null import expected_pairs
from cdrnet.analysis.observed import PER_FLOW, Coverage
from cdrnet.analysis.sweep import SweepStats
from cdrnet.analysis.units import cdr_periods, cypher_definitions, messaging_categories
from cdrnet.cypher import query_chain
from cdrnet.errors import GraphMemoryError
from cdrnet.graph.connection import read, read_text, run_auto, run_write, transaction_memory_limit, write
from cdrnet.graph.model import CO_USED_EVIDENCE
from cdrnet.graph.store import DEFAULT_CASE
from cdrnet.graph.writes import merge_rels


def _scope(params: LinkParams, msisdns: list[str] | None, case: str) -> dict:
    return {"since": int(params.since.timestamp()) if params.since is not None else None,
            "until": int(params.until.timestamp()) if params.until is not None else None, "msisdns": msisdns,
            "case": case}


def _apps(params: LinkParams) -> list[str] | None:
    return [a.lower() for a in params.apps] if params.apps else None


class _Timed:
    """Runs named Cypher statements and adds up the seconds each step took."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    def __call__(self, step: str, fn, *args):  # noqa: ANN001, ANN204 - thin wrapper over run_auto/read
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.steps[step] = self.steps.get(step, 0.0) + time.perf_counter() - t0


def _episodes(driver: Driver, db: str | None, params: dict, channels: dict[str, dict], timed: _Timed,
              ) -> dict[str, dict[str, dict]]:
    """Every channel's episodes, null-model bins and matches from one read of the sessions.

    Returns channel -> kind ('bin', 'match') -> columns. ``channels`` maps each channel computed to
    its settings (gap, window, overlap, tight, call_filter); the bucket is one window.
    """
    settings = {c: {**s, "bucket": max(int(s["window"]), 1),
                    "tight_coarse": s["tight"] + COARSE_TIGHT_EXTRA_S if s["tight"] >= 0 else -1}
                for c, s in channels.items()}
    names = np.asarray(params["msisdns"], dtype=object)
    text, p = query_chain(["episodes_sessions", "episodes_match"],
                          {**params, "channels": settings, "codes": {m: i for i, m in enumerate(names)},
                           **cypher_definitions("min_tol_s", "mirror", "call_ports", "call_protos",
                                                "call_categories")})
    got: dict[str, dict[str, dict]] = {}
    for r in timed("episodes, bins and matches of every channel (one read)", read_text, driver, text, p, db,
                   "episodes_sessions + episodes_match", True):
        kind = r.pop("kind")
        got.setdefault(r.pop("channel"), {})[kind] = _named(r, kind, names)
    return got


#: The two days of a match travel as one integer: da * 2**32 + (db - da) (cypher/episodes_match.cypher).
_DAYS = 1 << 32


def _named(cols: dict, kind: str, names: np.ndarray) -> dict:
    """A bins or matches row of the statement with its subscribers as numbers again (``names``: the
    run's ``$msisdns``, whose indexes the statement uses) and a match's packed pair and days apart.

    The statement numbers the subscribers and packs a match's pair (``a * len(names) + b``) and
    days so that its largest aggregation groups on three values instead of six (docs/benchmarks.md).
    """
    a = np.asarray(cols["a"], dtype=np.int64)
    if kind == "match":  # a is the pair, da the two days
        a, b = np.divmod(a, len(names))
        dd = np.asarray(cols["da"], dtype=np.int64)
        diff = np.mod(dd, _DAYS)
        diff = np.where(diff >= _DAYS // 2, diff - _DAYS, diff)
        da = (dd - diff) // _DAYS
        cols = {**cols, "b": list(names[b]), "da": da.tolist(), "db": (da + diff).tolist()}
    return {**cols, "a": list(names[a])}


#: Server memory the co-usage statement needs per session in scope, for the first guess of the time
#: slices it runs in: the bench's 1M sessions were refused 716.8 MiB and ran in 1.40 GiB
#: (docs/benchmarks.md), about 0.75-1.4 kB a session; a refusal doubles the slices and runs again.
BYTES_PER_SESSION = 1000
#: At most this many slices (each reads every subscriber's units or sessions once).
MAX_SLICES = 256
#: No slice's statement runs on fewer than this many sessions by the first guess.
MIN_SESSIONS_PER_SLICE = 50_000


def _first_slices(sessions: int, limit: int) -> int:
    """How many time slices the co-usage statement runs in at first: one while the sessions' guessed
    memory fits Neo4j's transaction limit (``limit`` bytes, 0: unknown, assume it fits)."""
    if not limit or sessions * BYTES_PER_SESSION <= limit:
        return 1
    fits = max(limit // BYTES_PER_SESSION, MIN_SESSIONS_PER_SLICE)
    return min(-(-sessions // fits), MAX_SLICES)


def _slice_bounds(hours: np.ndarray, sessions: np.ndarray, n: int) -> list[list[int]]:
    """At most ``n`` time slices [from, to) holding about equal numbers of sessions (``sessions`` per
    epoch hour ``hours``), cut at the start of an hour; the first reaches back and the last forward
    without bound (a CDR's cells may be seen outside the sessions' times). Equal lengths of time
    would not do: a stray row years away (issue 19) would leave all the rows in one slice."""
    order = np.argsort(hours, kind="stable")
    h, c = hours[order], np.cumsum(sessions[order])
    at = np.searchsorted(c, c[-1] * np.arange(1, n) / n, side="left")
    cuts = np.unique((h[np.minimum(at, len(h) - 1)] + 1) * 3600)
    edges = [-(1 << 62), *(int(x) for x in cuts if x <= h[-1] * 3600), 1 << 62]
    return [[edges[i], edges[i + 1]] for i in range(len(edges) - 1)]


def _merge(parts: list[dict[str, dict[str, dict]]]) -> dict[str, dict[str, dict]]:
    """The slices' bins and matches as one result: each column's lists concatenated (a bin or pair
    cut by a slice boundary comes back as two rows, which the scoring adds up like any other)."""
    if len(parts) == 1:
        return parts[0]
    got: dict[str, dict[str, dict]] = {}
    for part in parts:
        for channel, kinds in part.items():
            for kind, cols in kinds.items():
                have = got.setdefault(channel, {}).setdefault(kind, {c: [] for c in cols})
                for c, values in cols.items():
                    have[c].extend(values)
    return got


def _sliced_episodes(driver: Driver, db: str | None, params: dict, channels: dict[str, dict], timed: _Timed,
                     sessions: int, slices: int | None = None) -> dict[str, dict[str, dict]]:
    """:func:`_episodes` in time slices, so that no statement passes Neo4j's memory limit.

    Each slice's statement holds only the episodes of its time (and the window before it), so the
    memory is bounded whatever the case's size; each re-reads the subscribers' units, so a case is
    cut only when one statement would not fit (guessed from the sessions, or refused by the server:
    then the slices are doubled and the statement runs again). ``slices`` forces their number.
    """
    n = slices or _first_slices(sessions, transaction_memory_limit(driver, db))
    hist: pd.DataFrame | None = None
    while True:
        if n == 1:
            try:
                return _episodes(driver, db, {**params, "slice": None}, channels, timed)
            except GraphMemoryError:
                if slices:
                    raise
                n = 2
                continue
        if hist is None:
            hist = pd.DataFrame(read(driver, "sessions_by_hour", {"case": params["case"],
                                                                "msisdns": params["msisdns"]}, db),
                                columns=["hour", "sessions"])
            if hist.empty:
                return {}
        bounds = _slice_bounds(hist["hour"].to_numpy(np.int64), hist["sessions"].to_numpy(np.int64), n)
        try:
            return _merge([_episodes(driver, db, {**params, "slice": b}, channels, timed) for b in bounds])
        except GraphMemoryError:
            if slices or n >= MAX_SLICES:
                raise
            n = min(n * 2, MAX_SLICES)


def _build_units(driver: Driver, database: str | None, params: dict) -> list[str]:
    """Build the stored co-usage units of the subscribers in ``params`` that lack a current set
    (cypher/units_build.cypher), and return their numbers.

    Which ones is asked first by a small read (cypher/units_stale.cypher, units_build's own
    condition): usually none (after ``neo4j-import``, which writes them, and on every later run), and
    then the build statement is not run at all. Finding every unit current took it 1.1-1.4 s right
    after an import on 1M sessions (2.2-2.7 s on a server just restarted), the read 0.5 s (0.6-0.8 s)
    (docs/benchmarks.md, "The unsliced co-usage statement and the units check after an import").
    """
    stale = read(driver, "units_stale", params, database)[0]["msisdns"]
    if stale:
        run_auto(driver, "units_build", {**params, "msisdns": stale}, database)
    return stale


def _channel_agg(got: dict[str, dict], channel: str, codes: pd.Index, window: int, overlap: bool, shift: bool,
                 stats: SweepStats, days: DayFrame) -> pd.DataFrame:
    """One channel's bins and matches (from :func:`_episodes`), scored in Python."""
    # A channel without episodes returns no row at all (the kind is a grouping key).
    b = got.get("bin", {"a": [], "key": [], "da": [], "obs": [], "tight": []})
    bins = pd.DataFrame({"msisdn": b["a"], "key": b["key"], "h": b["da"], "n": b["obs"], "dur": b["tight"]})
    rows = pd.DataFrame(got.get("match", {}),
                        columns=["a", "b", "key", "da", "db", "obs", "tight", "tight2", "first", "last"])
    stats.units = int(bins["n"].sum()) if len(bins) else 0
    empty = pd.DataFrame(columns=["a", "b", "obs", "exp", "keys", "first", "last", "common_days"])
    if rows.empty:
        return empty
    m = rows.reset_index(drop=True)
    m["a"], m["b"] = codes.get_indexer(m["a"]), codes.get_indexer(m["b"])
    # Only matches on days both were observed count (as in the embedded engine).
    a, b = m["a"].to_numpy(np.int64), m["b"].to_numpy(np.int64)
    da, db_ = m["da"].to_numpy(np.int64), m["db"].to_numpy(np.int64)
    ok = (days.cov.observed(days.table, a, da) & days.cov.observed(days.table, b, da)
          & days.cov.observed(days.table, a, db_) & days.cov.observed(days.table, b, db_))
    m = m[ok]
    if m.empty:
        return empty
    m = m.groupby(["a", "b", "key"], sort=False).agg(obs=("obs", "sum"), tight=("tight", "sum"),
                                                      tight2=("tight2", "sum"), first=("first", "min"),
                                                      last=("last", "max")).reset_index()
    stats.candidate_pairs = int(m["obs"].sum())
    g = m.groupby(["a", "b"], sort=True)
    agg = g.agg(obs=("obs", "sum"), tight=("tight", "sum"), tight2=("tight2", "sum"), first=("first", "min"),
                last=("last", "max")).reset_index()
    agg["keys"] = keys_text(m.rename(columns={"obs": "c"})[["a", "b", "key", "c"]]).to_numpy()
    # Units at the start of their local hour reproduce the null model's bin counts exactly.
    n = bins["n"].to_numpy(np.int64)
    sub = np.repeat(codes.get_indexer(bins["msisdn"]), n)
    key = np.repeat(bins["key"].to_numpy(dtype=object), n)
    tl = np.repeat(bins["h"].to_numpy(np.int64) * 3600, n)
    mean_dur = None
    if overlap:
        per = bins.groupby("msisdn")[["dur", "n"]].sum()
        mean_dur = per["dur"] / per["n"]
    factor = window_factor(agg, codes, window, mean_dur)
    exp, common = expected_pairs(sub, key, tl, len(codes), agg["a"].to_numpy(np.int64), agg["b"].to_numpy(np.int64),
                                 days.sig, days.sets, shift=shift)
    agg["exp"], agg["common_days"] = exp * factor, common
    if channel != "messaging":
        agg = agg.drop(columns=["tight", "tight2"])
    return agg


def _messaging_sessions(got: dict[str, dict]) -> pd.Series:
    """Messaging sessions in scope per subscriber, summed from the messaging channel's bins.

    Every messaging session is in exactly one messaging episode, so the bins' session counts add
    up to what a count of the sessions gives, without reading them a second time.
    """
    b = got.get("bin")
    if not b or not b["a"]:
        return pd.Series(dtype=np.int64)
    return pd.Series(np.asarray(b["sessions"], dtype=np.int64), index=pd.Index(b["a"], dtype=object)).groupby(
        level=0, sort=True).sum()


def _not_per_flow(cov: Coverage) -> tuple[list[str], list[str]]:
    """Dumps whose end time, and whose volumes, are not the flow's own (declared per layout)."""
    ends = sorted(sha for sha, (end, _) in cov.scopes.items() if end != PER_FLOW)
    vols = sorted(sha for sha, (_, vol) in cov.scopes.items() if vol != PER_FLOW)
    return ends, vols


def link_neo4j(driver: Driver, params: LinkParams, msisdns: list[str] | None = None,
               resolution: dict[str, int] | None = None, database: str | None = None, write_edges: bool = True,
               coverage: Coverage | None = None, case: str = DEFAULT_CASE, stored_units: bool = True,
               slices: int | None = None) -> LinkResult:
    """Compute scored edges of one case in Neo4j and (by default) write its links as CO_USED relationships.

    ``coverage`` (periods, zone, evidence scopes) should come from the same
    case's dump reports (read from Neo4j when not given); the edges then equal
    the embedded engine's.

    ``stored_units``: a run without ``since``/``until``/``apps`` first stores each subscriber's
    co-usage units (cypher/units_build.cypher: only those without a current set, so after a load
    the first run pays for it) and builds the episodes from them instead of reading every session
    again (the statement took 0.72x its time on 1M sessions, docs/benchmarks.md). False: every
    episode from the sessions, nothing written before the edges.

    ``slices``: cut the co-usage statement into this many time slices (the same edges; by default
    one, or as many as keep each under Neo4j's transaction memory limit: :func:`_sliced_episodes`).
    """
    t0 = time.perf_counter()
    timed = _Timed()
    run = uuid.uuid4().hex[:12]
    scope = _scope(params, msisdns, case)
    subs = timed("subscribers in scope", read, driver, "subscribers_in_scope", scope, database)
    codes = pd.Index(sorted(r["msisdn"] for r in subs)) if subs else pd.Index([], dtype=object)
    if coverage is None:
        from cdrnet.graph.store import dump_reports

        coverage = Coverage.from_reports(dump_reports(driver, case, database))
    cov = coverage
    if resolution is None:
        resolution = cov.resolution
    days = DayFrame(cov, codes)
    # Co-location counts on the days the subscribers' CDRs cover too (their cells are recorded there).
    coloc_days = DayFrame(cov.colocation(), codes) if params.colocation else days
    record_end, record_volume = _not_per_flow(cov)
    sweeps = {c: SweepStats() for c in CHANNELS}
    overlap = params.mode == "overlap"
    per_channel: dict[str, pd.DataFrame] = {}
    # As in the embedded engine, the tight-window scale applies to start mode only.
    channels = {"messaging": {"gap": params.gap, "window": params.window_s, "overlap": overlap,
                              "tight": -1 if overlap else params.tight_window_s, "call_filter": False}}
    if params.calls:  # every call flow is its own unit (gap -1: never merged)
        channels["call"] = {"gap": -1, "window": params.call_window_s, "overlap": False,
                            "tight": params.tight_window_s, "call_filter": True}
    if params.colocation:
        channels["coloc"] = {"gap": params.gap, "window": params.window_s, "overlap": False,
                             "tight": params.tight_window_s, "call_filter": False}
    categories = list(messaging_categories(params.possible_apps))
    stored = stored_units and params.since is None and params.until is None and not params.apps
    generation = None
    if stored and len(codes):
        # Read before the build reads any session: units built from sessions a load changes after
        # this read carry a generation that load has replaced, so no run reads them.
        generation = write(driver, "units_generation", {"case": case}, database)[0]["generation"]
        timed("co-usage units (built once after each load)", _build_units, driver, database,
              {"case": case, "msisdns": list(codes), "messaging_categories": categories, "generation": generation,
               **cypher_definitions("call_ports", "call_protos", "call_categories")})
        # Read again: a load that committed during the build makes its units unusable at once.
        generation = write(driver, "units_generation", {"case": case}, database)[0]["generation"]
    # Only the subscribers with sessions in scope (a CDR adds cells, never subscribers).
    got = _sliced_episodes(driver, database,
                           {**scope, "msisdns": list(codes), "apps": _apps(params), "record_end_dumps": record_end,
                            "record_volume_dumps": record_volume, "end_stand_in": params.window_s if overlap else 0,
                            "cdr_periods": cdr_periods(cov.call_periods), "tol": params.call_duration_tol,
                            "offset": days.offset, "messaging_categories": categories, "stored": stored,
                            "generation": generation},
                           channels, timed, sum(int(r["sessions"]) for r in subs), slices)
    per_channel["messaging"] = _channel_agg(got.get("messaging", {}), "messaging", codes, params.window_s, overlap,
                                            True, sweeps["messaging"], days)
    if params.calls:
        per_channel["call"] = _channel_agg(got.get("call", {}), "call", codes, params.call_window_s, False, False,
                                           sweeps["call"], days)
    if params.colocation:
        per_channel["coloc"] = _channel_agg(got.get("coloc", {}), "coloc", codes, params.window_s, False, False,
                                            sweeps["coloc"], coloc_days)
    msg_counts = _messaging_sessions(got.get("messaging", {}))
    testable = tested_pairs(params, codes, days, coloc_days)
    edges, unscored = combine(per_channel, codes, params, msg_counts[msg_counts > 0], testable, resolution,
                              days, coloc_days)
    coarse = add_resolution(edges, codes, resolution, params.window_s)
    if write_edges:
        timed("writing CO_USED", write_co_used, driver, edges, run, database, case, list(codes), cov.tz,
              {**params.to_dict(), "tight_window_s": params.tight_window_s, "subscribers": len(codes)})
    seconds = time.perf_counter() - t0
    timed.steps["the rest (scoring in Python, transfers)"] = max(0.0, seconds - sum(timed.steps.values()))
    return LinkResult(edges=edges, params=params, subscribers=len(codes), sessions=-1,
                      seconds=seconds, sweep=sweeps, coarse_subscribers=coarse, steps=timed.steps,
                      unscored_pairs=unscored, testable_pairs=testable, coverage=cov)


def scope_subscribers(driver: Driver, params: LinkParams, msisdns: list[str] | None, database: str | None,
                      case: str) -> list[str]:
    """The subscribers a link run scores (the CO_USED it replaces are only between these)."""
    rows = read(driver, "subscribers_in_scope", _scope(params, msisdns, case), database)
    return sorted(r["msisdn"] for r in rows)


#: What a CO_USED relationship carries: the evidence (the run's parameters go on its LinkRun node).
CO_USED_PROPS = CO_USED_EVIDENCE
#: Run parameters: stored once on the run's LinkRun node, not on every link.
RUN_PARAMS = ("window_s", "mode", "burst_gap_s", "tight_window_s", "call_window_s", "call_duration_tol", "calls",
              "colocation", "score_colocation", "apps", "since", "until", "fdr", "min_score", "min_events",
              "possible_apps", "subscribers")
#: Score bands shown in Browser (score = -log10 p): the style sheet cannot scale a line by a property.
STRENGTH_BANDS = ((20.0, "strong"), (8.0, "medium"), (0.0, "weak"))


def strength(score: float) -> str:
    """The band of a link's score: strong (p <= 1e-20), medium (p <= 1e-8), weak (any other link)."""
    return next(name for floor, name in STRENGTH_BANDS if score >= floor)


def evidence_text(row: dict) -> str:
    """The caption of a link: observed/expected messaging episodes, call signatures, co-located episodes."""

    def num(x: float) -> str:
        return f"{x:.0f}" if x >= 10 or x == 0 else f"{x:.1f}"

    parts = []
    if row.get("messaging_obs"):
        parts.append(f"msg {int(row['messaging_obs'])}/{num(float(row.get('messaging_exp') or 0))}")
    if row.get("call_obs"):
        parts.append(f"call {int(row['call_obs'])}")
    if row.get("coloc_obs"):
        parts.append(f"cell {int(row['coloc_obs'])}")
    return " · ".join(parts) or "-"


def write_co_used(driver: Driver, edges: pd.DataFrame, run: str, database: str | None = None,
                  case: str = DEFAULT_CASE, scope: list[str] | None = None, tz: str = "UTC",
                  params: dict | None = None) -> None:
    """Write this run's links as CO_USED relationships, then drop the earlier runs' ones it replaces.

    Only links become relationships (Browser draws every relationship between the
    nodes it shows; every pair's score stays in edges.csv and the API). Earlier
    CO_USED are removed only between subscribers this run scored (``scope``),
    only in this case, and only after the new ones are written. Each link carries
    its evidence (and a caption of it, ``evidence``, and a score band, ``strength``);
    the run's parameters go once onto a ``LinkRun`` node of the case.
    """
    text = merge_rels("CO_USED")
    links = edges[edges["link"].astype(bool)] if len(edges) else edges.iloc[0:0]
    if links.empty:
        links = pd.DataFrame(columns=[*CO_USED_PROPS, "a", "b", "first_utc", "last_utc"])
    present = [c for c in CO_USED_PROPS if c in links]
    props = links[present].astype(object).where(links[present].notna(), None)
    records = props.to_dict("records")
    # Times travel as epoch seconds; Cypher makes DATETIMEs in the case's zone (what Browser shows).
    epoch, second = pd.Timestamp(0, tz="UTC"), pd.Timedelta(seconds=1)
    first = (pd.to_datetime(links["first_utc"], utc=True) - epoch) // second if len(links) else []
    last = (pd.to_datetime(links["last_utc"], utc=True) - epoch) // second if len(links) else []
    rows = [{"start": a, "end": b, "tz": tz,
             "props": {**p, "run": run, "first_s": int(f), "last_s": int(la), "strength": strength(float(p["score"])),
                       "evidence": evidence_text(p)}}
            for a, b, p, f, la in zip(links["a"], links["b"], records, first, last, strict=True)]
    for lo in range(0, len(rows), 5000):
        batch = rows[lo : lo + 5000]
        run_write(driver, lambda tx, b=batch: tx.run(text, {"rows": b, "case": case}).consume(), database)
    run_auto(driver, "co_used_clear", {"run": run, "case": case,
                                       "msisdns": (scope if scope is not None
                                                   else sorted(set(edges["a"]) | set(edges["b"])))},
             database)
    given = params or {}
    if not given and len(edges):
        given = {k: edges.iloc[0][k] for k in RUN_PARAMS if k in edges}
    run_props = {k: (v if v is None or isinstance(v, bool | int | float | str) else str(v))
                 for k, v in given.items() if k in RUN_PARAMS}
    run_props.update({k: (v.item() if hasattr(v, "item") else v) for k, v in run_props.items()})
    run_props["links"] = len(rows)
    run_auto(driver, "link_run", {"case": case, "run": run, "props": run_props, "tz": tz}, database)
