"""Direct contacts from call records: who called or texted whom, how often, how long, when.

One call reaches a case up to three times: in the caller's CDR (``OUT``), in the
callee's CDR (``IN``) and in a tower dump. ``distinct_calls`` keeps one row per
call, so every count here is of calls, not of rows. The aggregate is directed
(caller -> callee) with the columns of the ``CALLED`` relationship and of
``contacts.csv``: ``a,b,calls,sms,seconds,first,last``.

Both stores hand their call events to these functions (the Neo4j store writes
the aggregate as ``CALLED`` relationships from the same code), so the workspace
and the graph count alike.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Two rows are one call seen from both ends (or from a CDR and a tower dump) when they have the
#: same caller, callee and type, come from different dumps or sides, and start within this many
#: seconds (operators' switches differ by a second or two).
SAME_CALL_S = 5
#: The night, in the case's zone: calls starting from 22:00 to before 06:00.
NIGHT_HOURS = (22, 6)
AGGREGATE_COLUMNS = ["a", "b", "calls", "sms", "seconds", "first_utc", "last_utc"]


def minute_precision(events: pd.DataFrame) -> pd.Series:
    """Rows whose start was written without seconds (``11:34``: an export re-saved through Excel
    keeps only the minute), so the call started anywhere in that minute."""
    if "start_local" not in events:
        return pd.Series(False, index=events.index)
    text = events["start_local"].astype("string").fillna("")
    return (text.str.contains(r"\d:\d\d\s*(?:[AaPp][Mm])?\s*$", regex=True)
            & ~text.str.contains(r"\d:\d\d:\d\d", regex=True)).astype(bool)


def distinct_calls(events: pd.DataFrame) -> pd.DataFrame:
    """One row per call: the first row of each call seen several times (see ``SAME_CALL_S``).

    Sorted by caller, callee, type and start; a row is a repeat when the previous row has
    the same three and starts at most ``SAME_CALL_S`` earlier, from another dump or
    another side. Two real calls seconds apart in one CDR stay two. A previous row written
    to the minute only (``minute_precision``) stands for its whole minute, so the other end's
    row may start up to 60 + ``SAME_CALL_S`` seconds after it.
    """
    if events.empty:
        return events
    f = events.sort_values(["caller", "callee", "type", "start_utc", "dump_sha256", "source_line"], kind="stable")
    prev = f.shift(1)
    same_pair = (f["caller"] == prev["caller"]) & (f["callee"] == prev["callee"]) & (f["type"] == prev["type"])
    gap = (f["start_utc"] - prev["start_utc"]).dt.total_seconds()
    other_view = (f["dump_sha256"] != prev["dump_sha256"]) | (f["msisdn"] != prev["msisdn"])
    minute = minute_precision(f).to_numpy()
    prev_minute = np.concatenate([[False], minute[:-1]])
    tolerance = np.where(prev_minute, 60 + SAME_CALL_S, SAME_CALL_S)
    repeat = same_pair & (gap <= tolerance) & other_view
    return f[~repeat.fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)


def aggregate(events: pd.DataFrame) -> pd.DataFrame:
    """Caller -> callee totals over distinct calls: voice calls, SMS, voice seconds, first and last (UTC)."""
    f = distinct_calls(events)
    f = f[(f["caller"].fillna("") != "") & (f["callee"].fillna("") != "")]
    if f.empty:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[s, UTC]" if c.endswith("_utc") else
                                          ("int64" if c in ("calls", "sms", "seconds") else "string"))
                             for c in AGGREGATE_COLUMNS})
    voice = (f["type"] == "voice").to_numpy()
    g = pd.DataFrame({"a": f["caller"], "b": f["callee"], "calls": voice.astype(np.int64),
                      "sms": (~voice).astype(np.int64),
                      "seconds": np.where(voice, f["duration_s"].fillna(0).to_numpy(dtype=np.int64), 0),
                      "first_utc": f["start_utc"], "last_utc": f["start_utc"]})
    out = g.groupby(["a", "b"], sort=True).agg(calls=("calls", "sum"), sms=("sms", "sum"), seconds=("seconds", "sum"),
                                               first_utc=("first_utc", "min"), last_utc=("last_utc", "max"))
    return out.reset_index()[AGGREGATE_COLUMNS]


def csv_table(agg: pd.DataFrame, tz: str) -> pd.DataFrame:
    """The ``contacts.csv`` table: a,b,calls,sms,seconds,first,last; times ISO 8601 in the case's zone
    with their offset (``2026-03-03T09:19:37+05:30``), so the file says its own zone."""
    out = agg.rename(columns={"first_utc": "first", "last_utc": "last"}).copy()
    for c in ("first", "last"):
        out[c] = pd.to_datetime(out[c], utc=True).dt.tz_convert(tz).map(lambda t: t.isoformat())
    return out[["a", "b", "calls", "sms", "seconds", "first", "last"]]


def undirected(agg: pd.DataFrame) -> pd.DataFrame:
    """Per unordered pair (a < b): calls, SMS, seconds both ways, first and last."""
    if agg.empty:
        return agg.copy()
    lo = np.where(agg["a"] < agg["b"], agg["a"], agg["b"])
    hi = np.where(agg["a"] < agg["b"], agg["b"], agg["a"])
    f = agg.assign(a=lo, b=hi)
    out = f.groupby(["a", "b"], sort=True).agg(calls=("calls", "sum"), sms=("sms", "sum"), seconds=("seconds", "sum"),
                                               first_utc=("first_utc", "min"), last_utc=("last_utc", "max"))
    return out.reset_index()


def night_mask(start_utc: pd.Series, tz: str, night: tuple[int, int] = NIGHT_HOURS) -> pd.Series:
    """Whether each start falls in the night (in the case's zone)."""
    hour = start_utc.dt.tz_convert(tz).dt.hour
    lo, hi = night
    return (hour >= lo) | (hour < hi) if lo > hi else (hour >= lo) & (hour < hi)


@dataclass
class Contacts:
    """One number's contacts: per other party, calls and SMS each way, seconds, night calls, first/last."""

    msisdn: str
    tz: str
    table: pd.DataFrame  # contact, calls_out, calls_in, sms_out, sms_in, seconds, night_calls, first_utc, last_utc
    directed: pd.DataFrame  # the aggregate rows that involve msisdn (contacts.csv)

    @property
    def top(self) -> pd.DataFrame:
        """Top 10 contacts by calls + SMS (then seconds)."""
        return self.table.head(10)

    @property
    def bottom(self) -> pd.DataFrame:
        """Bottom 10: the least frequent contacts (one call or SMS, often the most telling)."""
        return self.table.iloc[::-1].head(10).reset_index(drop=True)


def contacts_of(events: pd.DataFrame, msisdn: str, tz: str, night: tuple[int, int] = NIGHT_HOURS) -> Contacts:
    """Everyone ``msisdn`` called, was called by, texted or was texted by, most frequent first."""
    f = distinct_calls(events[(events["caller"] == msisdn) | (events["callee"] == msisdn)])
    out_ = (f["caller"] == msisdn).to_numpy()
    voice = (f["type"] == "voice").to_numpy()
    other = np.where(out_, f["callee"], f["caller"])
    rows = pd.DataFrame({
        "contact": other,
        "calls_out": (out_ & voice).astype(np.int64), "calls_in": (~out_ & voice).astype(np.int64),
        "sms_out": (out_ & ~voice).astype(np.int64), "sms_in": (~out_ & ~voice).astype(np.int64),
        "seconds": np.where(voice, f["duration_s"].fillna(0).to_numpy(dtype=np.int64), 0),
        "night_calls": (night_mask(f["start_utc"], tz, night).to_numpy(dtype=bool) & voice).astype(np.int64),
        "first_utc": f["start_utc"], "last_utc": f["start_utc"],
    })
    rows = rows[rows["contact"].fillna("") != ""]
    table = rows.groupby("contact", sort=True).agg(
        calls_out=("calls_out", "sum"), calls_in=("calls_in", "sum"), sms_out=("sms_out", "sum"),
        sms_in=("sms_in", "sum"), seconds=("seconds", "sum"), night_calls=("night_calls", "sum"),
        first_utc=("first_utc", "min"), last_utc=("last_utc", "max")).reset_index()
    total = table[["calls_out", "calls_in", "sms_out", "sms_in"]].sum(axis=1)
    table = (table.assign(_n=total).sort_values(["_n", "seconds", "contact"], ascending=[False, False, True])
             .drop(columns="_n").reset_index(drop=True))
    agg = aggregate(events)
    directed = agg[(agg["a"] == msisdn) | (agg["b"] == msisdn)].reset_index(drop=True)
    return Contacts(msisdn, tz, table, directed)


def events_by_party(events: pd.DataFrame, numbers: list[str]) -> dict[str, pd.DataFrame]:
    """Each of ``numbers`` with the call events it is a party to (as caller or callee), grouped
    once: a case's workbook asks for every subscriber, and filtering the whole table per
    subscriber would scan it once per subscriber."""
    if events.empty:
        return {}
    wanted = set(numbers)
    parts = []
    for side in ("caller", "callee"):
        hit = events[events[side].isin(wanted)]
        parts.append(hit.assign(_party=hit[side], _row=np.flatnonzero(events[side].isin(wanted).to_numpy())))
    both = pd.concat(parts, ignore_index=True).drop_duplicates(["_row", "_party"])  # a call to oneself: once
    return {m: g.drop(columns=["_party", "_row"]).reset_index(drop=True)
            for m, g in both.groupby("_party", sort=False)}


def night_call_rows(events: pd.DataFrame, msisdn: str, tz: str, night: tuple[int, int] = NIGHT_HOURS) -> pd.DataFrame:
    """The voice calls of ``msisdn`` that started in the night (in ``tz``), one row per call
    (``distinct_calls``), oldest first, each with the dump and line it was read from."""
    f = distinct_calls(events[((events["caller"] == msisdn) | (events["callee"] == msisdn))
                              & (events["type"] == "voice")])
    if f.empty:
        return f
    f = f[night_mask(f["start_utc"], tz, night).to_numpy(dtype=bool)]
    return f.sort_values(["start_utc", "dump_sha256", "source_line"], kind="stable").reset_index(drop=True)


def common_contacts(agg: pd.DataFrame, numbers: list[str]) -> pd.DataFrame:
    """Numbers in direct contact (a call or SMS either way) with every one of ``numbers``.

    One row per common contact; per given number, the calls + SMS exchanged with it;
    the given numbers themselves are not listed.
    """
    pairs = undirected(agg)
    if pairs.empty:
        return pd.DataFrame(columns=["contact", *numbers, "total"])
    both = pd.concat([pairs.rename(columns={"a": "x", "b": "y"}), pairs.rename(columns={"b": "x", "a": "y"})])
    both = both.assign(n=both["calls"] + both["sms"])
    sub = both[both["x"].isin(numbers) & ~both["y"].isin(numbers)]
    wide = sub.pivot_table(index="y", columns="x", values="n", aggfunc="sum")
    wide = wide.reindex(columns=numbers)
    wide = wide.dropna(how="any").astype("int64")
    wide["total"] = wide.sum(axis=1)
    wide = wide.rename_axis(index="contact", columns=None).reset_index()
    return wide.sort_values(["total", "contact"], ascending=[False, True]).reset_index(drop=True)


def contact_chains(agg: pd.DataFrame, a: str, b: str, max_hops: int = 4, limit: int = 20) -> list[list[str]]:
    """The shortest chains of direct contacts from ``a`` to ``b`` (each a list of numbers), at most
    ``max_hops`` calls long, at most ``limit`` of them; [] when none is that short.

    A breadth-first search over the contact graph (one node per number, not per call): the
    graph of a case is thousands of numbers, so plain Python is fine here.
    """
    pairs = undirected(agg)
    adj: dict[str, list[str]] = {}
    for x, y in zip(pairs["a"].tolist(), pairs["b"].tolist(), strict=True):
        adj.setdefault(x, []).append(y)
        adj.setdefault(y, []).append(x)
    if a not in adj or b not in adj:
        return []
    dist = {a: 0}
    parents: dict[str, list[str]] = {a: []}
    queue = deque([a])
    while queue:
        x = queue.popleft()
        if x == b or dist[x] >= max_hops:
            continue
        for y in adj[x]:
            if y not in dist:
                dist[y] = dist[x] + 1
                parents[y] = [x]
                queue.append(y)
            elif dist[y] == dist[x] + 1:
                parents[y].append(x)
    if b not in dist:
        return []
    chains: list[list[str]] = []

    def walk(node: str, tail: list[str]) -> None:
        if len(chains) >= limit:
            return
        if node == a:
            chains.append([a, *tail])
            return
        for p in sorted(parents[node]):
            walk(p, [node, *tail])

    walk(b, [])
    return chains


def equipment_periods(sessions: pd.DataFrame | None, events: pd.DataFrame | None, msisdn: str, column: str,
                      tz: str) -> pd.DataFrame:
    """A subscriber's devices (``column="imei"``) or SIMs (``"imsi"``) with the period each was seen,
    from data sessions and call records together: a change of handset or SIM shows as a new row.

    Columns: the identifier, sessions, calls, first, last (in ``tz``), oldest first.
    """
    parts = []
    if sessions is not None and len(sessions):
        s = sessions[sessions["msisdn"] == msisdn]
        parts.append(pd.DataFrame({column: s[column], "start_utc": s["start_utc"], "sessions": 1, "calls": 0}))
    if events is not None and len(events):
        e = events[events["msisdn"] == msisdn]  # the subscriber's own rows: the other party's device is not theirs
        parts.append(pd.DataFrame({column: e[column], "start_utc": e["start_utc"], "sessions": 0, "calls": 1}))
    if not parts:
        return pd.DataFrame(columns=[column, "sessions", "calls", "first", "last"])
    f = pd.concat(parts, ignore_index=True)
    f = f[f[column].fillna("") != ""]
    g = f.groupby(column).agg(sessions=("sessions", "sum"), calls=("calls", "sum"), first=("start_utc", "min"),
                              last=("start_utc", "max")).reset_index()
    g = g.sort_values("first").reset_index(drop=True)
    for c in ("first", "last"):
        g[c] = g[c].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M")
    return g
