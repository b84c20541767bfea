"""The co-usage units the offline importer stores (one CoUsageUnits node per subscriber).

Why a second derivation: a link run in Neo4j reads each subscriber's units from its CoUsageUnits
node (cypher/episodes_sessions.cypher) and builds those missing with cypher/units_build.cypher,
which reads every session of the case through the server (7.9 s of the first run after a 1M-session
import, docs/benchmarks.md). The importer already holds every Session node's properties as Arrow
columns, so it computes the same units here (vectorised: one sort of all sessions' units) and writes
them into its node files: the first link run after ``neo4j-import`` then finds nothing to build.

The two must store exactly the same values and types: the same units (which sessions count in which
channel, by the definitions of cdrnet/analysis/units.py), sorted by subscriber, channel, key, start,
end, dump, uplink and downlink (units_build's ORDER BY: nothing left to the server's choice), the same
``dumps`` order (first appearance in that order) and indexes. tests/test_neo4j_bulk.py imports a
realistic case, then rebuilds the units with units_build and compares them property by property.

Texts are ordered by code point here (Arrow sorts UTF-8 bytes); the differential test shows Cypher
orders the case's keys the same. Should the server order some text differently (characters beyond
U+FFFF, if it compared UTF-16 units: not verified), only the order of whole keys in the lists would
differ: each key's units stay together and in time order, so the episodes and edges are the same.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.analysis.units import cypher_definitions, messaging_categories

#: Channel codes in the order of their names (units_build sorts by the name: call < coloc < messaging).
CALL, COLOC, MESSAGING = 0, 1, 2
#: Session properties the units are made of (Session node columns of graph/bulk.py).
SOURCE = ("msisdn", "start_s", "end_s", "app_category", "service", "cell_id", "dest_ip", "dest_port", "proto",
          "uplink", "downlink", "dump_sha256")
#: The list properties per channel prefix, in units_build's SET order.
LISTS = {"m": ("key", "t", "te", "d"), "c": ("key", "t", "te"), "k": ("key", "t", "te", "d", "up", "down")}


def definitions(possible_apps: bool = False) -> dict[str, list]:
    """What units are built for (stored on them and compared by every run that reads them):
    the messaging categories (``cats``) and the call definitions, as units_build's parameters."""
    return {"messaging_categories": list(messaging_categories(possible_apps)),
            **cypher_definitions("call_ports", "call_protos", "call_categories")}


def _text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.cast(arr, pa.string())


def _in(values: pa.Array, wanted: list) -> np.ndarray:
    """``values IN wanted`` as Cypher filters on it (a null is not in any list)."""
    return pc.fill_null(pc.is_in(values, value_set=pa.array(wanted, values.type)), False).to_numpy(
        zero_copy_only=False)


def _ranks(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of ``text`` in code point order, and each value's rank among them (a null
    after every value, as Cypher's ORDER BY puts it)."""
    enc = pc.dictionary_encode(text)
    values = enc.dictionary
    order = pc.sort_indices(values).to_numpy()
    rank_of_code = np.empty(len(values) + 1, dtype=np.int64)
    rank_of_code[order] = np.arange(len(values))
    rank_of_code[len(values)] = len(values)
    codes = pc.fill_null(enc.indices, len(values)).to_numpy(zero_copy_only=False)
    return values.take(pa.array(order)), rank_of_code[codes]


def _lists(values: pa.Array | pa.ChunkedArray, owner: np.ndarray, n: int) -> pa.ListArray:
    """``values`` (rows sorted by their owner) as one list per owner 0..n-1 (empty where it has none)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def units_table(sessions: pa.Table, generation: str, defs: dict[str, list] | None = None) -> pa.Table:
    """One row per subscriber with sessions: the CoUsageUnits properties units_build sets (list
    columns typed as stored: strings and int64), ``msisdn`` first. ``sessions`` holds the Session
    nodes' properties (SOURCE; ``start_s``/``end_s`` epoch seconds)."""
    d = defs or definitions()
    subs, owner_of_session = _ranks(_text(sessions.column("msisdn")))
    n = len(subs)
    t = pc.cast(sessions.column("start_s"), pa.int64()).combine_chunks()
    te = pc.coalesce(pc.cast(sessions.column("end_s"), pa.int64()), t).combine_chunks()
    cat = _text(sessions.column("app_category"))
    dump = _text(sessions.column("dump_sha256"))
    # Which sessions count in which channel, as units_build's CASEs decide it.
    cell = _text(sessions.column("cell_id"))
    ip = _text(sessions.column("dest_ip"))
    port = pc.cast(sessions.column("dest_port"), pa.int64()).combine_chunks()
    proto = pc.fill_null(_text(sessions.column("proto")), "")
    lo, hi = d["call_ports"]
    relay = (pc.fill_null(pc.and_(pc.greater_equal(port, lo), pc.less_equal(port, hi)), False).to_numpy(
        zero_copy_only=False) & _in(proto, d["call_protos"])) | _in(cat, d["call_categories"])
    is_m = _in(cat, d["messaging_categories"])
    is_c = pc.fill_null(pc.not_equal(cell, ""), False).to_numpy(zero_copy_only=False)
    is_k = pc.fill_null(pc.not_equal(ip, ""), False).to_numpy(zero_copy_only=False) & relay
    # A relay's key is null without a port (ip + ':' + null), as in Cypher.
    k_key = pc.binary_join_element_wise(ip, pc.cast(port, pa.string()), ":")
    none = np.full(len(t), -1, dtype=np.int64)
    up = pc.fill_null(pc.cast(sessions.column("uplink"), pa.int64()).combine_chunks(), -1).to_numpy()
    down = pc.fill_null(pc.cast(sessions.column("downlink"), pa.int64()).combine_chunks(), -1).to_numpy()
    rows, channels, keys, ups, downs = [], [], [], [], []
    for code, mask, key, u, w in ((MESSAGING, is_m, _text(sessions.column("service")), none, none),
                                  (COLOC, is_c, cell, none, none), (CALL, is_k, k_key, up, down)):
        at = np.flatnonzero(mask)
        rows.append(at)
        channels.append(np.full(len(at), code, dtype=np.int8))
        keys.append(key.take(pa.array(at)))
        ups.append(u[at])
        downs.append(w[at])
    row = np.concatenate(rows)
    key_all = pa.concat_arrays(keys)
    _, key_rank = _ranks(key_all)
    _, dump_rank = _ranks(dump)
    t_np, te_np = t.to_numpy(), te.to_numpy()
    up_all, down_all, channel_all = np.concatenate(ups), np.concatenate(downs), np.concatenate(channels)
    # units_build's ORDER BY (channel, key, start, end, dump, up, down) per subscriber, on integer ranks
    # of the texts (a sort of Arrow texts on eight keys cost several CPU seconds at 1M sessions).
    order = np.lexsort((down_all, up_all, dump_rank[row], te_np[row], t_np[row], key_rank, channel_all,
                        owner_of_session[row]))
    row = row[order]
    at = pa.array(row)
    units = pa.table({"owner": pa.array(owner_of_session[row]), "channel": pa.array(channel_all[order]),
                      "key": key_all.take(pa.array(order)), "t": t.take(at), "te": te.take(at),
                      "dump": dump.take(at), "up": pa.array(up_all[order]), "down": pa.array(down_all[order])})
    owner = units.column("owner").to_numpy()
    channel = units.column("channel").to_numpy()
    # dumps: per subscriber, its units' dumps in order of first appearance; each unit's index in it.
    dump_codes = pc.dictionary_encode(units.column("dump").combine_chunks()).indices.to_numpy(zero_copy_only=False)
    pair = owner * (int(dump_codes.max(initial=0)) + 1) + dump_codes
    _, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")  # pairs in order of first appearance (grouped by owner)
    pair_owner = owner[first[by_first]]
    starts = np.searchsorted(pair_owner, pair_owner, side="left")
    rank = np.empty(len(first), dtype=np.int64)
    rank[by_first] = np.arange(len(first)) - starts
    unit_d = rank[inverse]
    dumps = _lists(units.column("dump").take(pa.array(first[by_first])), pair_owner, n)
    cols: dict[str, pa.Array] = {
        "msisdn": subs.cast(pa.string()),
        "generation": pa.array(np.full(n, generation, dtype=object), pa.string()),
        "sessions": pa.array(np.bincount(owner_of_session, minlength=n).astype(np.int64)),
        "cats": _lists(pa.array(d["messaging_categories"] * n, pa.string()),
                       np.repeat(np.arange(n), len(d["messaging_categories"])), n),
        # A unit without a key cannot be stored in a list: units_build says so, and runs read the sessions.
        "usable": pa.array(np.bincount(owner[pc.is_null(units.column("key")).to_numpy(zero_copy_only=False)],
                                       minlength=n) == 0),
        "dumps": dumps,
    }
    for prefix, code in (("m", MESSAGING), ("c", COLOC), ("k", CALL)):
        rows = np.flatnonzero(channel == code)
        at, who = pa.array(rows), owner[rows]
        sources = {"key": pc.fill_null(units.column("key").take(at), ""), "t": units.column("t").take(at),
                   "te": units.column("te").take(at), "d": pa.array(unit_d[rows]),
                   "up": units.column("up").take(at), "down": units.column("down").take(at)}
        for name in LISTS[prefix]:
            cols[f"{prefix}_{name}"] = _lists(sources[name], who, n)
    for name in ("call_ports", "call_protos", "call_categories"):
        typ = pa.int64() if name == "call_ports" else pa.string()
        cols[name] = _lists(pa.array(list(d[name]) * n, typ), np.repeat(np.arange(n), len(d[name])), n)
    return pa.table(cols)
