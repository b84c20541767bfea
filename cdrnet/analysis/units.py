"""Evidence units: what a co-usage event is counted between.

A subscriber who opens an app five times in two minutes is having one episode,
not five. Sessions of one subscriber on one channel key (a messaging service,
a call relay, a cell) whose starts follow each other within ``gap`` seconds
are merged into one burst, and bursts are what co-usage counts. One long
conversation therefore counts once, many separate conversations count many
times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from cdrnet.loader.normalize import key_hash_of

# The co-usage definitions, declared once: the embedded engine uses them here and in
# cdrnet/analysis/cousage.py, the Neo4j engine passes them to cypher/episodes_*.cypher as
# parameters (cypher_definitions()).
#: Application categories whose sessions are messaging evidence.
MESSAGING_CATEGORIES = ("messaging",)
#: Low-confidence messaging labels ("XMPP (WhatsApp possible)": a port alone, outside the app's
#: ranges) count only when the analyst opts in (--possible-apps).
POSSIBLE_MESSAGING_CATEGORIES = ("messaging_possible",)


def messaging_categories(possible: bool = False) -> tuple[str, ...]:
    """The app categories messaging co-usage reads (both engines)."""
    return MESSAGING_CATEGORIES + (POSSIBLE_MESSAGING_CATEGORIES if possible else ())
#: STUN/TURN relay ports (inclusive range) whose UDP flows are call evidence.
CALL_PORTS = (3478, 3481)
#: Protocols a relay flow may have (empty: the layout does not say).
CALL_PROTOS = ("udp", "")
#: Categories whose sessions are call evidence whatever their port.
CALL_CATEGORIES = ("call",)
#: Two relay flows are one call when their durations differ by at most max(this, tol * longer).
CALL_MIN_DURATION_TOL_S = 10.0
#: ...and each side's upload is at least this fraction of the other's download (mirrored volumes).
CALL_MIRROR_RATIO = 0.5


def cypher_definitions(*names: str) -> dict[str, object]:
    """The definitions as Cypher parameters (lists, not tuples), by parameter name."""
    every: dict[str, object] = {
        "messaging_categories": list(MESSAGING_CATEGORIES), "call_ports": list(CALL_PORTS),
        "call_protos": list(CALL_PROTOS), "call_categories": list(CALL_CATEGORIES),
        "min_tol_s": CALL_MIN_DURATION_TOL_S, "mirror": CALL_MIRROR_RATIO,
    }
    return {n: every[n] for n in names}


def epoch_seconds(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 seconds (what both engines compare)."""
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64)


def plain_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with those of ``columns`` that are categoricals as plain text (their categories'
    dtype: what reading the column as text gives).

    ``Workspace.link`` reads repeating texts (subscribers, applications, cells, relays) as
    categoricals; each channel turns the few columns it reads as text back into text once its
    rows are chosen, so the code after it (and its results, down to the sort orders of
    ``pd.factorize(sort=True)``, which a categorical takes from its categories) is the same.
    """
    cats = [c for c in columns if c in frame.columns and isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return frame
    return frame.assign(**{c: frame[c].astype(frame[c].cat.categories.dtype) for c in cats})


def present(text: pd.Series) -> pd.Series:
    """Rows whose text is neither missing nor empty (``text.fillna("") != ""``, which a categorical
    without an empty category refuses)."""
    return text.notna() & (text != "")


def service_of(frame: pd.DataFrame) -> pd.Series:
    """The messaging service a session belongs to: its vendor when known (WhatsApp and the
    ambiguous Meta ranges are one service), else its application name."""
    vendor = frame["app_vendor"].fillna("")
    return vendor.where(vendor != "", frame["app"].fillna(""))


def messaging_sessions(frame: pd.DataFrame, apps: list[str] | None = None, possible: bool = False) -> pd.DataFrame:
    """Sessions of messaging applications, keyed by service (optionally only some apps; low-confidence
    labels only with ``possible``)."""
    m = frame["app_category"].isin(messaging_categories(possible))
    out = plain_text(frame[m], ["msisdn", "app", "app_vendor"])
    key = service_of(out)
    if apps:
        wanted = {a.lower() for a in apps}
        keep = key.str.lower().isin(wanted) | out["app"].str.lower().isin(wanted)
        out, key = out[keep], key[keep]
    return out.assign(key=key)


def call_sessions(frame: pd.DataFrame) -> pd.DataFrame:
    """UDP call-relay flows (STUN/TURN ports or the call category), keyed by relay ip:port."""
    port = frame["dest_port"]
    udpish = frame["proto"].isin(list(CALL_PROTOS)) | frame["proto"].isna()
    m = ((port >= CALL_PORTS[0]) & (port <= CALL_PORTS[1]) & udpish) | frame["app_category"].isin(CALL_CATEGORIES)
    out = plain_text(frame[m.fillna(False).astype(bool) & present(frame["dest_ip"])], ["msisdn", "dest_ip"])
    return out.assign(key=out["dest_ip"].astype(str) + ":" + out["dest_port"].astype("Int64").astype(str))


#: What a cell sighting carries: the subscriber seen, the cell (canonical key, loader/cells.py), when,
#: and the record it comes from (a session key, or a call's event key: see ``call_sightings``).
SIGHTING_COLUMNS = ["session_key", "msisdn", "cell_id", "start_utc", "end_utc", "dump_sha256", "source_line"]
#: Suffix of the record key of a call's sighting at its last cell (when it differs from the first).
LAST_CELL_SUFFIX = "/last"


def call_sightings(calls: pd.DataFrame | None, periods: pd.DataFrame | None = None) -> pd.DataFrame:
    """The cell sightings a voice/SMS CDR gives, for co-location (docs/calls-and-towers.md).

    A call event places the row's own subscriber (the A party of that CDR: the target, whichever
    way the call went) at its first cell when it started; when the last cell differs, at the last
    cell when it ended (a handover). The other party is never placed: its cell is not in this
    record (its own CDR places it). A call whose cells are one cell is one sighting, not two, so
    a long call counts as one visit. With ``periods`` (the subscribers' own CDR periods,
    observed.py ``Coverage.call_periods``), only calls inside a period of their subscriber's own
    CDR count: a tower dump samples one cell at hours the investigator chose, so its rows count
    only as far as they repeat the subscriber's own CDR (``cdrnet towers`` answers who was there).
    A call delivered twice (overlapping dumps, a CDR and a tower dump) is one event: its key.
    """
    if calls is not None and len(calls) and periods is not None:
        calls = calls[in_periods(calls["msisdn"], calls["start_utc"], periods)]
    if calls is None or calls.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("session_key", "string"), ("msisdn", "string"), ("cell_id", "string"),
            ("start_utc", "datetime64[s, UTC]"), ("end_utc", "datetime64[s, UTC]"), ("dump_sha256", "string"),
            ("source_line", "int64"))})
    c = calls.drop_duplicates("event_key", keep="first")
    first, last = c["first_cell"].fillna(""), c["last_cell"].fillna("")
    moved = (last != "") & (last != first)
    at_first = c[first != ""]
    at_last = c[moved]
    parts = [
        pd.DataFrame({"session_key": at_first["event_key"], "msisdn": at_first["msisdn"],
                      "cell_id": at_first["first_cell"], "start_utc": at_first["start_utc"],
                      # The same cell at both ends: seen there from start to end.
                      "end_utc": at_first["start_utc"].where(moved[first != ""], at_first["end_utc"]),
                      "dump_sha256": at_first["dump_sha256"], "source_line": at_first["source_line"]}),
        pd.DataFrame({"session_key": at_last["event_key"] + LAST_CELL_SUFFIX, "msisdn": at_last["msisdn"],
                      "cell_id": at_last["last_cell"], "start_utc": at_last["end_utc"],
                      "end_utc": at_last["end_utc"], "dump_sha256": at_last["dump_sha256"],
                      "source_line": at_last["source_line"]}),
    ]
    return pd.concat(parts, ignore_index=True)[SIGHTING_COLUMNS]


def in_periods(msisdn: pd.Series, when: pd.Series, periods: pd.DataFrame) -> np.ndarray:
    """Whether each (subscriber, time) lies in one of that subscriber's ``periods`` (bounds inclusive)."""
    if periods is None or periods.empty or not len(msisdn):
        return np.zeros(len(msisdn), dtype=bool)
    t = epoch_seconds(when)
    rows = pd.DataFrame({"msisdn": msisdn.to_numpy(dtype=object), "t": t, "i": np.arange(len(msisdn))})
    per = pd.DataFrame({"msisdn": periods["msisdn"].to_numpy(dtype=object),
                        "lo": epoch_seconds(periods["start_utc"]), "hi": epoch_seconds(periods["end_utc"])})
    both = rows.merge(per, on="msisdn")
    hit = both.loc[(both["t"] >= both["lo"]) & (both["t"] <= both["hi"]), "i"].to_numpy()
    out = np.zeros(len(msisdn), dtype=bool)
    out[hit] = True
    return out


def cdr_periods(periods: pd.DataFrame | None) -> dict[str, list[list[int]]]:
    """The subscribers' CDR periods as epoch seconds per number (the Cypher engine's form of
    ``in_periods``' argument)."""
    if periods is None or periods.empty:
        return {}
    lo, hi = epoch_seconds(periods["start_utc"]), epoch_seconds(periods["end_utc"])
    out: dict[str, list[list[int]]] = {}
    for m, a, b in zip(periods["msisdn"].astype(str), lo.tolist(), hi.tolist(), strict=True):
        out.setdefault(m, []).append([int(a), int(b)])
    return out


def cell_sessions(frame: pd.DataFrame, calls: pd.DataFrame | None = None,
                  periods: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cell sightings keyed by cell id (co-location): sessions with a known cell and, when
    ``calls`` are given, the sightings their call records give (``call_sightings``) of the
    subscribers in ``frame``. Both carry the canonical cell key, so they join."""
    # Subscribers and cells stay categoricals (most sessions have a cell): ``bursts`` codes them
    # in the text's order itself.
    out = frame[present(frame["cell_id"])]
    seen = call_sightings(calls, periods)
    if len(seen):
        seen = seen[seen["msisdn"].isin(set(frame["msisdn"].unique()))]
    if len(seen):
        text = {"session_key": object, "msisdn": object, "cell_id": object}
        out = pd.concat([out[[c for c in SIGHTING_COLUMNS if c in out]].astype(text), seen.astype(text)],
                        ignore_index=True)
    return out.assign(key=out["cell_id"])


def _burst_order(m_code: np.ndarray, k_code: np.ndarray, t: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """The stable order by (subscriber, key, time, tie): ``np.lexsort((tie, t, k_code, m_code))``.

    When subscriber, key and time fit one int64 together (any real case: 2**62 covers a
    million subscribers x a thousand keys x a century of seconds), they are sorted as one
    number: a lexsort costs one stable sort per key, so two keys instead of four halve it.
    """
    if not len(t):
        return np.zeros(0, dtype=np.intp)
    n_k = int(k_code.max()) + 1
    t0 = int(t.min())
    span = int(t.max()) - t0 + 1
    if (int(m_code.max()) + 1) * n_k * span >= (1 << 62):
        return np.lexsort((tie, t, k_code, m_code))
    line = (m_code.astype(np.int64) * n_k + k_code) * span + (t - t0)
    # One unstable sort of the number (numpy's vectorised quicksort: several times a stable
    # sort's speed), then only the rows whose number repeats are put in (tie, position) order:
    # the same order as the stable lexsort, whose ties are rare (same subscriber, key, second).
    order = np.argsort(line)
    ordered = line[order]
    dup = ordered[1:] == ordered[:-1]
    if dup.any():
        at = np.zeros(len(order), dtype=bool)
        at[1:] |= dup
        at[:-1] |= dup
        pos = np.flatnonzero(at)  # runs of equal numbers, still contiguous and in line order
        rows = order[pos]
        order[pos] = rows[np.lexsort((rows, tie[rows], line[rows]))]
    return order


def bursts(frame: pd.DataFrame, gap: int, text: bool = True) -> pd.DataFrame:
    """Merge each subscriber's sessions per key into bursts.

    Returns one row per burst: msisdn, key, t (first start, epoch s), t_end
    (latest end), n (sessions), first_key (session_key of the first session).

    ``text=False`` is the engine's form (``cousage.link``): msisdn and key as categoricals (their
    categories the sorted texts, so ``factorize`` of either gives the same codes as of the text)
    and no first_key, which the engine never reads. At 10M sessions the cell channel's bursts
    as text (subscriber, cell and session key per burst) were ~0.6 GB of Arrow strings held
    through its sweep, on top of the link's peak.
    """
    if frame.empty:
        return pd.DataFrame({"msisdn": pd.Series(dtype=str), "key": pd.Series(dtype=str),
                             "t": pd.Series(dtype=np.int64),
                             "t_end": pd.Series(dtype=np.int64), "n": pd.Series(dtype=np.int64),
                             **({"first_key": pd.Series(dtype=str)} if text else {})})
    t = epoch_seconds(frame["start_utc"])
    te = np.maximum(epoch_seconds(frame["end_utc"].fillna(frame["start_utc"])), t)
    # Sort on integer codes (codes of sorted uniques keep the text order); the
    # session key breaks ties, through its first 64 bits (same order as the hex text).
    m_code, m_uni = sorted_codes(frame["msisdn"])
    k_code, k_uni = sorted_codes(frame["key"])
    order = _burst_order(m_code, k_code, t, _key_hashes(frame["session_key"]))
    m_code, k_code, t, te = m_code[order], k_code[order], t[order], te[order]
    same = (m_code[1:] == m_code[:-1]) & (k_code[1:] == k_code[:-1])
    new = np.r_[True, ~(same & (np.diff(t) <= gap))]
    first = np.flatnonzero(new)
    if not text:
        return pd.DataFrame({"msisdn": pd.Categorical.from_codes(m_code[first], dtype=pd.CategoricalDtype(m_uni)),
                             "key": pd.Categorical.from_codes(k_code[first], dtype=pd.CategoricalDtype(k_uni)),
                             "t": t[first], "t_end": np.maximum.reduceat(te, first),
                             "n": np.diff(np.r_[first, len(t)])})
    # The text columns are taken as Arrow arrays: Python str objects per burst, converted back
    # to Arrow by the DataFrame, were the link's memory peak at 10M sessions (and ~1.7 CPU s).
    return pd.DataFrame({"msisdn": _text(m_uni).take(m_code[first]),
                         "key": _text(k_uni).take(k_code[first]),
                         "t": t[first], "t_end": np.maximum.reduceat(te, first),
                         "n": np.diff(np.r_[first, len(t)]),
                         "first_key": _text(frame["session_key"]).take(order[first])})


def _key_hashes(keys: pd.Series) -> np.ndarray:
    """``key_hash_of(keys)``, chunk by chunk for an Arrow-backed column: the whole column's hash
    first joins its chunks into one copy of every key (~0.4 GB of Arrow memory at 10M sessions,
    kept by the memory pool after it is freed)."""
    if not isinstance(keys.array, pd.arrays.ArrowStringArray) or len(keys) == 0:
        return key_hash_of(keys)
    column = pa.array(keys.array)
    chunks = [c for c in column.chunks if len(c)] if isinstance(column, pa.ChunkedArray) else [column]
    return np.concatenate([key_hash_of(c) for c in chunks]) if len(chunks) > 1 else key_hash_of(chunks[0])


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=True)``, for a categorical too: codes in the text's order (a
    categorical's own factorize follows its categories' order), without turning its rows into
    text (the cell channel's subscribers and cells are most of a case's rows)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return pd.factorize(values, sort=True)
    codes = values.cat.codes.to_numpy().astype(np.intp)
    used = np.zeros(len(values.cat.categories), dtype=bool)
    used[codes[codes >= 0]] = True
    names = values.cat.categories[used]
    rank = names.argsort()
    remap = np.full(len(used), -1, dtype=np.intp)
    remap[np.flatnonzero(used)[rank]] = np.arange(len(rank), dtype=np.intp)
    return np.where(codes >= 0, remap[codes], -1), names[rank]


def _text(values: pd.Index | pd.Series) -> pd.api.extensions.ExtensionArray:
    """Values as the default string array (what a DataFrame makes of Python strings), so that
    ``take`` copies bytes, not objects."""
    return pd.array(values, dtype="str") if values.dtype != "str" else values.array
