"""Call records in a first load by the offline importer (graph/bulk.py): the graph the Bolt writer gives.

The Bolt writer (graph/store.py ``write_calls`` and ``update_called``) loads a voice/SMS CDR or a
tower dump as one ``Call`` node per event (the later dump's row when two dumps deliver one event),
``PLACED``/``TO`` to both parties' ``Subscriber`` nodes, ``RECORDED`` from the dump,
``FIRST_CELL``/``LAST_CELL`` to the cells the record names (with the positions it states), and
after each dump recomputes ``CALLED`` for every pair with a party in it. The files here hold the
final state of that sequence, computed on the workspace's call Parquet files:

- ``CALLED``'s counts come from the same aggregate (cdrnet/analysis/contacts.py) over the case's
  calls; its ``first``/``last`` DATETIMEs are in the zone the Bolt writer gave them: the zone of
  the earliest event of the *last* call dump (in load order) that involves either number.
- Cells: the Bolt writer sends each batch's first cells then its last cells; their stated
  names and positions are ordered the same way here (``cell_rows``), so the latest wins alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdrnet.graph.model import CALL, CALL_COMPUTED, CASE
from cdrnet.graph.store import BATCH
from cdrnet.loader.cells import upgrade_stored_cells
from cdrnet.loader.quality import DumpReport
from cdrnet.model import CALL_SCHEMA

#: The columns a cell row has (graph/store.py ``call_cells`` reads a call's first and last cells so).
CELL_COLUMNS = ["cell_id", "cell_raw", "cell_name", "lat", "lon"]


def read_calls(dumps: list[tuple[int, DumpReport, Path]]) -> tuple[pa.Table, np.ndarray]:
    """Every call dump's events in load order, and the load position (index among all dumps) of each row."""
    tables, which = [], []
    for i, _, path in dumps:
        t = upgrade_stored_cells(pq.read_table(path)).select(CALL_SCHEMA.names).cast(CALL_SCHEMA)
        tables.append(t)
        which.append(np.full(t.num_rows, i, dtype=np.int32))
    if not tables:
        return CALL_SCHEMA.empty_table(), np.zeros(0, dtype=np.int32)
    return pa.concat_tables(tables), np.concatenate(which)


def call_cell_rows(calls: pd.DataFrame, which: np.ndarray) -> pd.DataFrame:
    """The cells calls name, as rows (CELL_COLUMNS, ``load``, ``seq``) in the order the Bolt writer sends
    them: per dump, per batch of BATCH events, first cells then last cells."""
    pos = pd.Series(which).groupby(which).cumcount().to_numpy()
    sides = []
    for side, s in enumerate(("first", "last")):
        sides.append(pd.DataFrame({"cell_id": calls[f"{s}_cell"].to_numpy(dtype=object),
                                   "cell_raw": calls[f"{s}_cell_raw"].to_numpy(dtype=object),
                                   "cell_name": calls[f"{s}_cell_name"].to_numpy(dtype=object),
                                   "lat": calls[f"{s}_lat"].to_numpy(), "lon": calls[f"{s}_lon"].to_numpy(),
                                   "load": which, "seq": (pos // BATCH) * 2 * BATCH + side * BATCH + pos % BATCH}))
    return pd.concat(sides, ignore_index=True)


def _floats_null(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """NaN as a missing value (the Bolt writer sends None for it; the importer would store NaN)."""
    return pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)


def call_node_table(nodes: pa.Table, case: str) -> tuple[list[str], pa.Table]:
    """The Call node file: key, case, the declared properties (epoch seconds computed) and DATETIMEs (UTC)."""
    from cdrnet.graph.bulk import _iso_text, _neo4j_type, _seconds

    types = {f.name: f.type for f in CALL_SCHEMA}
    header = [f"{CALL.key}:ID({CALL.label})", CASE]
    cols: dict[str, pa.Array] = {CALL.key: nodes.column(CALL.key),
                                 CASE: pa.array(np.full(nodes.num_rows, case, dtype=object), pa.string())}
    for p in CALL.properties:
        if p in CALL_COMPUTED:
            values, typ = pc.cast(_seconds(nodes.column(CALL_COMPUTED[p])), pa.int64()), "long"
        else:
            values, typ = nodes.column(p), _neo4j_type(types[p])
            if pa.types.is_floating(types[p]):
                values = _floats_null(values)
        header.append(f"{p}:{typ}")
        cols[p] = values
    for t, src in CALL.datetimes:
        header.append(f"{t}:datetime")
        cols[t] = _iso_text(_seconds(nodes.column(CALL_COMPUTED[src])))
    return header, pa.table(cols)


def _zoned(ts: pd.Series, tz: pd.Series) -> pa.Array:
    """DATETIME text with offset and zone id (``2026-03-03T09:19:37+05:30[Asia/Kolkata]``), per row's zone,
    as ``datetime({epochSeconds: s, timezone: tz})`` gives it. Work is per zone, not per row."""
    out = pd.Series("", index=ts.index, dtype=object)
    for zone in pd.unique(tz):
        at = (tz == zone).to_numpy()
        local = ts[at].dt.tz_convert(zone).dt.strftime("%Y-%m-%dT%H:%M:%S%z")
        named = "" if zone.startswith(("+", "-")) else f"[{zone}]"  # an offset is its own zone
        out[at] = local.str.replace(r"([+-]\d\d)(\d\d)$", r"\1:\2", regex=True) + named
    return pa.array(out.to_numpy(dtype=object), pa.string())


def called_table(unique: pd.DataFrame, calls: pd.DataFrame, which: np.ndarray, case: str,
                 ) -> tuple[pd.DataFrame, dict[str, tuple[pa.Array, str]]]:
    """CALLED (caller -> callee) as the Bolt writer's last ``update_called`` of each pair leaves it.

    ``unique``: the Call nodes (one row per event); ``calls``/``which``: every row with its dump's load
    position (who was in which dump decides the zone of first/last).
    """
    from cdrnet.analysis.contacts import aggregate

    agg = aggregate(unique)
    # The zone of each dump's update: its earliest event's (by start, key), else UTC.
    rows = pd.DataFrame({"load": which, "caller": calls["caller"].fillna("").to_numpy(dtype=object),
                         "callee": calls["callee"].fillna("").to_numpy(dtype=object),
                         "start_utc": calls["start_utc"].to_numpy(), "event_key": calls["event_key"].to_numpy(),
                         "tz": calls["tz"].fillna("").to_numpy(dtype=object)})
    firsts = rows.sort_values(["load", "start_utc", "event_key"], kind="stable").drop_duplicates("load")
    zone_of = pd.Series(np.where(firsts["tz"] != "", firsts["tz"], "UTC"), index=firsts["load"].to_numpy())
    # Per number, the last dump that named it: the last update of a pair is the later of its two numbers'.
    named = pd.concat([rows[["caller", "load"]].set_axis(["n", "load"], axis=1),
                       rows[["callee", "load"]].set_axis(["n", "load"], axis=1)], ignore_index=True)
    last_load = named[named["n"] != ""].groupby("n")["load"].max()
    load = np.maximum(agg["a"].map(last_load).to_numpy(dtype=np.int64), agg["b"].map(last_load).to_numpy(np.int64))
    tz = pd.Series(zone_of.reindex(load).to_numpy(dtype=object), index=agg.index)
    first, last = agg["first_utc"].astype("datetime64[s, UTC]"), agg["last_utc"].astype("datetime64[s, UTC]")
    epoch = {n: pa.array(s.astype("int64").to_numpy(), pa.int64()) for n, s in
             (("first_s", first), ("last_s", last))}
    props = {"calls": (pa.array(agg["calls"].to_numpy(np.int64)), "long"),
             "sms": (pa.array(agg["sms"].to_numpy(np.int64)), "long"),
             "seconds": (pa.array(agg["seconds"].to_numpy(np.int64)), "long"),
             "first_s": (epoch["first_s"], "long"), "last_s": (epoch["last_s"], "long"),
             CASE: (pa.array(np.full(len(agg), case, dtype=object), pa.string()), "string"),
             "first": (_zoned(first, tz), "datetime"), "last": (_zoned(last, tz), "datetime")}
    return agg, props


def write_calls(calls: pa.Table, which: np.ndarray, case: str, dump_sha: np.ndarray, node_file: Callable,
                rel_file: Callable) -> None:
    """The Call nodes and their PLACED, TO, RECORDED, FIRST_CELL, LAST_CELL and CALLED relationships.

    ``dump_sha``: the SHA-256 of the dump at each load position. Subscriber and Cell nodes are
    written by graph/bulk.py with the others (see :func:`parties` and :func:`call_cell_rows`).
    """
    from cdrnet.graph.bulk import _rel_table

    keys = calls.column(CALL.key).to_pandas()
    first = ~keys.duplicated(keep="first").to_numpy()  # the first dump's copy (graph/writes.py OWNER)
    node_file(CALL.label, *call_node_table(calls.filter(pa.array(first)), case))
    frame = calls.to_pandas()
    frame["dump"] = dump_sha[which]
    kept = frame[first]
    ends = (("PLACED", "caller", True), ("TO", "callee", False), ("FIRST_CELL", "first_cell", False),
            ("LAST_CELL", "last_cell", False))
    for rtype, col, into in ends:
        given = kept.loc[kept[col].fillna("") != "", [CALL.key, col]]
        start, end = (given[col], given[CALL.key]) if into else (given[CALL.key], given[col])
        rel_file(rtype, *_rel_table(rtype, start, end))
    recorded = frame[["dump", CALL.key]].drop_duplicates()
    rel_file("RECORDED", *_rel_table("RECORDED", recorded["dump"], recorded[CALL.key]))
    agg, props = called_table(kept.reset_index(drop=True), frame, which, case)
    rel_file("CALLED", *_rel_table("CALLED", agg["a"], agg["b"], props))


def parties(calls: pa.Table) -> set[str]:
    """Every number a call names (both parties): each becomes a Subscriber node, as in the Bolt load."""
    out: set[str] = set()
    for col in ("caller", "callee"):
        out |= {v for v in pc.unique(calls.column(col)).to_pylist() if v}
    return out
