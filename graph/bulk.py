"""First loads by Neo4j's offline importer (``neo4j-admin database import full``).

The batched Bolt writer (graph/store.py) is bound by Neo4j's transactional write
path (about 7k sessions/s here, whatever the client does). The offline importer
writes the store files directly, an order of magnitude faster, but it *builds a new
database*: it can only load a case into an empty one, and the server must be stopped
before the new database takes the old one's place (Community has one user database and
cannot stop it alone). So a first load goes: workspace (Parquet, from ``cdrnet ingest``) ->
node and relationship CSV files -> importer into a staging database, while the server
stops (the importer only writes the staging folders, which the server does not know) ->
swapped in for the database (graph/importer.py; a failure leaves the old one as it was) ->
server started -> schema, computed properties and a count check over Bolt. Later loads add
dumps with the Bolt writer.

The files describe the same graph the Bolt writer creates: labels, keys, properties
and relationship types come from graph/model.py; the usage summaries
(``summarises`` relationships, subscriber first/last seen, applications) are the
same aggregates graph/writes.py computes in Cypher, computed here on the sessions;
Dump nodes carry the same properties (:func:`cdrnet.graph.store.dump_props`). Call records
(voice/SMS CDRs, tower dumps) are written by graph/bulk_calls.py, as the Bolt writer leaves them.
A database is replaced only when it is empty or a test scratch database
(graph/scratch.py: the marker is carried over); anything else is refused.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from neo4j import Driver
from neo4j.exceptions import Neo4jError

from cdrnet.errors import GraphError
from cdrnet.graph.bulk_units import SOURCE, units_table
from cdrnet.graph.connection import write
from cdrnet.graph.importer import STAGING, Swap, bolt_port_of, home_of, run_importer, server_control
from cdrnet.graph.model import CASE, NODES, RELATIONSHIPS, SESSION, SESSION_COMPUTED, NodeType
from cdrnet.graph.scratch import MARKER
from cdrnet.graph.writes import NODE_BY_LABEL, REL_BY_TYPE
from cdrnet.loader.cells import upgrade_stored_cells
from cdrnet.loader.quality import DumpReport
from cdrnet.model import SESSION_SCHEMA

#: Separator of array properties in the files (Subscriber.applications, Dump.msisdns).
ARRAY_DELIMITER = ";"
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class ImportFiles:
    """The files of one import and what they should create (checked after the import)."""

    folder: Path
    #: (label, header file, data file) per node file, (type, header, data) per relationship file.
    nodes: list[tuple[str, Path, Path]] = field(default_factory=list)
    relationships: list[tuple[str, Path, Path]] = field(default_factory=list)
    node_counts: dict[str, int] = field(default_factory=dict)
    rel_counts: dict[str, int] = field(default_factory=dict)
    multiline: bool = False
    sessions: int = 0
    #: Call-record rows read (voice/SMS CDRs and tower dumps).
    calls: int = 0
    #: (label, property, keys) of empty lists: the importer cannot write an empty array (it leaves the
    #: property out), so they are set after it (:func:`finish`), as the Bolt writer's ``[]``.
    empty_lists: list[tuple[str, str, list[str]]] = field(default_factory=list)
    seconds: float = 0.0

    def importer_args(self, database: str) -> list[str]:
        """The arguments of ``neo4j-admin`` for these files (after the command's own name)."""
        # --verbose: on failure the importer prints its cause (graph/importer.py reads it); the
        # destination is overwritten only when it is the staging database (graph/importer.py).
        # --id-type=actual: the files carry the node ids themselves (:class:`NodeIds`), so the importer
        # builds no index of string ids (its "prepare node index" phase): 25.0 and 28.2 CPU s of its JVM at 1M
        # sessions against 33.3 and 32.1 with string ids, side by side (docs/benchmarks.md).
        args = ["database", "import", "full", database, "--verbose", "--overwrite-destination=true",
                f"--array-delimiter={ARRAY_DELIMITER}", f"--multiline-fields={str(self.multiline).lower()}",
                "--bad-tolerance=0", "--skip-bad-relationships=false", "--skip-duplicate-nodes=false",
                "--id-type=actual"]
        args += [f"--nodes={label}={h},{d}" for label, h, d in self.nodes]
        args += [f"--relationships={rtype}={h},{d}" for rtype, h, d in self.relationships]
        return args


class NodeIds:
    """Integer node ids for the importer's ``--id-type=actual``, and each label's keys to find them by.

    The node files are written as the graph's helpers make them, with the key as a string ID of its
    label (``session_key:ID(Session)``); here the key becomes a plain string property and each row gets
    the next integer (ids run from 0 over every node file, the store's own node ids), and the
    relationship files' two keys are replaced by those integers. With string ids the importer built
    that mapping itself (its "prepare node index" phase), in more CPU than this (measured side by side
    in docs/benchmarks.md). Sessions' relationships come with their node ids already (:class:`NodeRef`:
    the sessions' keys are grouped once, :func:`_first_rows`), so no key of a million is looked up.

    The importer also refused a key given twice and a relationship to a key no node file holds. The
    second is refused here (:meth:`lookup`), before anything is imported. Each helper writes one row
    per key by construction (deduplicated in load order); should two rows of a label still share a key,
    the uniqueness constraint created after the import refuses the new database and the old one is
    put back (:func:`create_schema_at_once`).
    """

    def __init__(self) -> None:
        self.next = 0
        self.keys: dict[str, list[pa.Array | pa.ChunkedArray]] = {}
        self.firsts: dict[str, list[int]] = {}
        self._merged: dict[str, tuple[pa.Array, pa.Array]] = {}

    def assign(self, label: str, header: list[str], table: pa.Table) -> tuple[list[str], pa.Table]:
        """The node file with an integer ``:ID`` first and its key (if named) as a string property."""
        name = header[0].split(":")[0]
        ids = pa.array(np.arange(self.next, self.next + table.num_rows, dtype=np.int64))
        key = pc.cast(table.column(0), pa.string())
        self.keys.setdefault(label, []).append(key)
        self.firsts.setdefault(label, []).append(self.next)
        self._merged.pop(label, None)
        self.next += table.num_rows
        rest = table.remove_column(0)
        if not name:  # an ID without a name is no property (the scratch marker)
            return [":ID", *header[1:]], rest.add_column(0, "id", ids)
        return [":ID", f"{name}:string", *header[1:]], rest.add_column(0, name, key).add_column(0, "id", ids)

    def _label(self, label: str) -> tuple[pa.Array, pa.Array]:
        """Every key of ``label`` and its node id, in the order written."""
        if label not in self._merged:
            chunks = self.keys.get(label, [])
            keys = pa.chunked_array([c for k in chunks for c in (k.chunks if isinstance(k, pa.ChunkedArray)
                                                                 else [k])], pa.string()).combine_chunks()
            ids = np.concatenate([np.arange(f, f + len(k), dtype=np.int64)
                                  for f, k in zip(self.firsts.get(label, []), chunks, strict=True)]
                                 or [np.zeros(0, dtype=np.int64)])
            self._merged[label] = keys, pa.array(ids)
        return self._merged[label]

    def lookup(self, rtype: str, label: str, keys: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The node ids of ``keys`` of ``label``; GraphError naming a key no node file holds."""
        if pa.types.is_int64(keys.type):  # node ids already (NodeRef: _rel_table writes keys as text)
            return keys
        known, ids = self._label(label)
        at = pc.index_in(pc.cast(keys, pa.string()), value_set=known)
        if at.null_count:
            missing = pc.filter(keys, pc.is_null(at))[0].as_py()
            raise GraphError(f"the {rtype} relationships of the import files name {label} '{missing}', which no "
                             "node file holds", "this is a bug of cdrnet's import files; load the case with the "
                             "Bolt writer (cdrnet --neo4j URI ingest) and report it")
        return pc.take(ids, at)


# ---------------------------------------------------------------- columns and types

def _neo4j_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_timestamp(t):
        return "long"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_list(t):
        return "string[]"
    return "string"


def _write(folder: Path, stem: str, header: list[str], table: pa.Table) -> tuple[Path, Path]:
    """A header file (names with types, unquoted) and a data file (strings quoted, nulls empty).

    The quoting keeps the two apart: the importer stores a quoted ``""`` as an empty
    string (what the Bolt writer sends) and skips an empty field (a missing property).
    """
    h, d = folder / f"{stem}.header.csv", folder / f"{stem}.csv"
    h.write_text(",".join(header) + "\n", encoding="utf-8")
    pcsv.write_csv(table, d, pcsv.WriteOptions(include_header=False))
    return h, d


def _lists_as_text(values: pa.Array) -> pa.Array:
    """Array properties as the importer reads them: elements joined by ARRAY_DELIMITER."""
    if pc.any(pc.match_substring(pc.list_flatten(values), ARRAY_DELIMITER)).as_py():
        raise GraphError(f"an array property holds '{ARRAY_DELIMITER}', the importer's array delimiter",
                         "load this case with the Bolt writer (cdrnet --neo4j URI ingest)")
    return pc.binary_join(values, ARRAY_DELIMITER)


def _node_table(n: NodeType, frame: pd.DataFrame, case: str, types: dict[str, pa.DataType],
                datetimes: tuple[str, ...] = ()) -> tuple[list[str], pa.Table]:
    """Header and rows of one label: the key as the ID, ``case`` when the label is per case,
    then the given columns (typed by ``types``; ``datetimes`` are ISO UTC text)."""
    cols: dict[str, pa.Array] = {}
    header = [f"{n.key}:ID({n.label})"]
    cols[n.key] = _text(frame[n.key])
    if n.per_case:
        header.append(CASE)
        cols[CASE] = pa.array(np.full(len(frame), case, dtype=object), pa.string())
    for name, t in types.items():
        if name == n.key:
            continue
        values = pa.array(frame[name].to_numpy(dtype=object), t, from_pandas=True)
        if pa.types.is_list(t):
            values = _lists_as_text(values)
        header.append(f"{name}:{'datetime' if name in datetimes else _neo4j_type(t)}")
        cols[name] = values
    return header, pa.table(cols)


@dataclass(frozen=True)
class NodeRef:
    """A relationship end given by node ids (:class:`NodeIds`) instead of keys: the sessions' ends,
    known from their rows' positions (:func:`_first_rows`) without looking a million keys up."""

    ids: np.ndarray


def _end(values: pd.Series | NodeRef) -> pa.Array | pa.ChunkedArray:
    """A relationship end as written before the ids are put in: node ids as int64, keys as text."""
    if isinstance(values, NodeRef):
        return pa.array(values.ids, pa.int64())
    return _text(values)


def _rel_table(r: str, start: pd.Series | NodeRef, end: pd.Series | NodeRef,
               props: dict[str, tuple[pa.Array, str]] | None = None) -> tuple[list[str], pa.Table]:
    rel = REL_BY_TYPE[r]
    header = [f":START_ID({rel.start})", f":END_ID({rel.end})"]
    cols = {"s": _end(start), "e": _end(end)}
    for name, (values, typ) in (props or {}).items():
        header.append(f"{name}:{typ}")
        cols[name] = values
    return header, pa.table(cols)


def _text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Node keys as Arrow text. Columns already held as Arrow strings go over as they are (a million
    keys through ``astype(str)`` were a Python call each); anything else as ``str`` makes it."""
    arr = pa.array(values, from_pandas=True) if isinstance(values.dtype, pd.ArrowDtype | pd.StringDtype) else None
    if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) \
            and not arr.null_count:
        return arr.cast(pa.string())
    return pa.array(values.astype(str).to_numpy(dtype=object), pa.string())


def _iso_text(seconds: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """UTC timestamps in whole seconds as ISO text (``ISO_UTC``), as ``pc.strftime`` writes them.

    Built from the plain cast to text (``2024-03-03 18:33:12``) with the ``T`` and ``Z`` put in:
    a tenth of strftime's CPU, which formats each value through the zone database.
    """
    naive = pc.cast(pc.cast(seconds, pa.timestamp("s", tz="UTC")), pa.timestamp("s"))
    text = pc.utf8_replace_slice(pc.cast(naive, pa.string()), 10, 11, "T")
    return pc.binary_join_element_wise(text, "Z", "")


def _iso(ts: pd.Series) -> pa.Array:
    return _iso_text(pa.array(ts, pa.timestamp("s", tz="UTC"), from_pandas=True))


def _seconds(ts: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps in whole seconds (Parquet keeps them in milliseconds)."""
    return pc.cast(ts, pa.timestamp("s", tz="UTC"))


def _has_newline(table: pa.Table) -> bool:
    """Whether a text value holds a line break (the importer then needs --multiline-fields).

    Reads each chunk's character bytes at once (a regex per value cost a second at 1M sessions);
    a null's bytes, if any, can only make it answer yes: slower import, same graph.
    """
    for col in table.columns:
        if not pa.types.is_string(col.type):
            continue
        for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):
            _, offsets, data = chunk.buffers()
            if data is None or not len(chunk):
                continue
            ends = np.frombuffer(offsets, dtype=np.int32)[chunk.offset: chunk.offset + len(chunk) + 1]
            chars = np.frombuffer(data, dtype=np.uint8)[ends[0]: ends[-1]]
            if (chars == 10).any() or (chars == 13).any():
                return True
    return False


# ---------------------------------------------------------------- the case's sessions

#: Canonical columns the graph keeps (Session properties and what computed ones are made of).
def _source_columns() -> list[str]:
    computed = {p for p in SESSION_COMPUTED}
    wanted = {"session_key", "msisdn", "start_utc", "end_utc", "app", "app_vendor", "app_category", "cell_id",
              "cell_raw", "cell_name", "lat", "lon", "dump_sha256"}
    wanted |= {p for p in SESSION.properties if p not in computed}
    return [f.name for f in SESSION_SCHEMA if f.name in wanted]


def _read_sessions(dumps: list[tuple[DumpReport, Path]]) -> tuple[pa.Table, np.ndarray]:
    """Every dump's rows in load order, and the index of the dump each row came from."""
    cols = _source_columns()
    tables, which = [], []
    for i, (_, path) in enumerate(dumps):
        t = upgrade_stored_cells(pq.read_table(path, columns=cols))
        tables.append(t)
        which.append(np.full(t.num_rows, i, dtype=np.int32))
    if not tables:  # call records only
        return SESSION_SCHEMA.empty_table().select(cols), np.zeros(0, dtype=np.int32)
    return pa.concat_tables(tables), np.concatenate(which)


def _first_rows(keys: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Which rows hold the first occurrence of their key in load order (the node's row: the first
    dump to deliver a session keeps its copy, as the Bolt writer and the workspace do), and for
    every row the position of its key's node among those rows.

    One hash of the keys (Arrow's dictionary encoding) serves both: the second answer gives every
    session relationship its node id without looking a key up again.
    """
    n = len(keys)
    if not n:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    whole = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    codes = pc.dictionary_encode(whole, null_encoding="encode").indices.to_numpy(zero_copy_only=False)
    _, first_at = np.unique(codes, return_index=True)  # every code 0..k-1, in order
    first = np.zeros(n, dtype=bool)
    first[first_at] = True
    node_of_code = (np.cumsum(first) - 1)[first_at]
    return first, node_of_code[codes].astype(np.int64)


def _latest(frame: pd.DataFrame, key: str, col: str) -> pd.Series:
    """Per key, the last non-empty value of ``col`` in load order (what the Bolt writer leaves)."""
    given = frame[frame[col].fillna("").astype(str) != ""]
    return given.drop_duplicates(key, keep="last").set_index(key)[col]


# ---------------------------------------------------------------- writing the files

def write_import_files(dumps: list[tuple[DumpReport, Path]], case: str, folder: str | Path,
                       scratch: bool = False) -> ImportFiles:
    """Node and relationship files for the importer, from committed dumps (in load order).

    A session delivered by two dumps is one node with two CONTAINS, its properties, OF_APP and
    AT_CELL those of the first dump's copy (graph/writes.py ``OWNER``: as the Bolt writer and the
    workspace keep it); call events likewise (one Call, two RECORDED: graph/bulk_calls.py).
    """
    from cdrnet.graph.bulk_calls import call_cell_rows, parties, read_calls, write_calls

    t0 = time.perf_counter()
    out = ImportFiles(Path(folder).resolve())
    out.folder.mkdir(parents=True, exist_ok=True)
    # Data sessions and call records (voice/SMS CDRs, tower dumps) are read apart; ``load`` is each
    # dump's position among all of them, the order the Bolt writer would have loaded them in.
    session_dumps = [(i, d) for i, d in enumerate(dumps) if d[0].kind != "calls"]
    calls, call_which = read_calls([(i, r, p) for i, (r, p) in enumerate(dumps) if r.kind == "calls"])
    out.calls = calls.num_rows
    rows, which = _read_sessions([d for _, d in session_dumps])
    load = np.array([i for i, _ in session_dumps], dtype=np.int32)[which]
    everything, dumps = dumps, [d for _, d in session_dumps]
    first, node_of_row = _first_rows(rows.column("session_key"))
    nodes = rows.filter(pa.array(first))
    out.sessions = nodes.num_rows

    ids = NodeIds()
    pending: list[tuple[str, list[str], pa.Table]] = []

    def node_file(label: str, header: list[str], table: pa.Table) -> None:
        stem = f"nodes_{label}" + (f"_{sum(1 for n in out.nodes if n[0] == label)}"
                                   if any(n[0] == label for n in out.nodes) else "")
        h, d = _write(out.folder, stem, *ids.assign(label, header, table))
        out.nodes.append((label, h, d))
        out.node_counts[label] = out.node_counts.get(label, 0) + table.num_rows
        out.multiline = out.multiline or _has_newline(table)
        for i, name in enumerate(header):
            if name.endswith("[]"):
                empty = pc.fill_null(pc.equal(table.column(i), ""), False)
                if pc.any(empty).as_py():
                    keys = table.column(0).filter(empty).to_pylist()
                    out.empty_lists.append((label, name.split(":")[0], keys))

    def rel_file(rtype: str, header: list[str], table: pa.Table) -> None:
        # Written once every node file is (:func:`_write_rels`): their ends are node ids.
        pending.append((rtype, header, table))
        out.rel_counts[rtype] = out.rel_counts.get(rtype, 0) + table.num_rows

    # Sessions: the declared properties, computed ones from their sources (graph/model.py).
    schema_types = {f.name: f.type for f in SESSION_SCHEMA}
    header = [f"{SESSION.key}:ID({SESSION.label})", CASE]
    cols: dict[str, pa.Array] = {SESSION.key: nodes.column(SESSION.key),
                                 CASE: pa.array(np.full(nodes.num_rows, case, dtype=object), pa.string())}
    vendor, app = nodes.column("app_vendor"), nodes.column("app")
    for p in SESSION.properties:
        src = SESSION_COMPUTED.get(p, p)
        if p == "service":
            values = pc.if_else(pc.fill_null(pc.not_equal(vendor, ""), False), vendor, pc.fill_null(app, ""))
            typ = "string"
        elif src in schema_types and pa.types.is_timestamp(schema_types[src]):
            values, typ = pc.cast(_seconds(nodes.column(src)), pa.int64()), "long"
        else:
            values, typ = nodes.column(src), _neo4j_type(schema_types[src])
        header.append(f"{p}:{typ}")
        cols[p] = values
    for t, src in SESSION.datetimes:
        source = SESSION_COMPUTED[src] if src in SESSION_COMPUTED else src
        header.append(f"{t}:datetime")
        cols[t] = _iso_text(_seconds(nodes.column(source)))
    first_session = ids.next  # the Session file's first node id: its rows are the sessions' nodes in order
    node_file(SESSION.label, header, pa.table(cols))
    # The co-usage units the first link run would build from these Session nodes (graph/bulk_units.py).
    _units(pa.table({c: cols[c] for c in SOURCE}), case, node_file)

    frame = rows.select(["msisdn", "start_utc", "app", "app_vendor", "app_category", "cell_id",
                         "cell_raw", "cell_name", "lat", "lon", "imei", "imsi"]).to_pandas()
    del rows
    frame["dump"] = np.array([d[0].sha256 for d in dumps], dtype=object)[which]
    frame["session"] = node_of_row + first_session  # each row's Session node id (keys are not looked up)
    unique = frame[first].reset_index(drop=True)

    # Subscribers with their usage summary (the aggregates of graph/writes.py usage_summaries).
    sub = NODE_BY_LABEL["Subscriber"]
    g = unique.groupby("msisdn", sort=True)
    used = unique.loc[unique["app"].fillna("") != "", ["msisdn", "app"]].drop_duplicates()
    apps = used.sort_values(["msisdn", "app"], kind="stable").groupby("msisdn")["app"].agg(list)
    subs = pd.DataFrame({sub.key: g.size().index.astype(object), "first_seen": g["start_utc"].min().to_numpy(),
                         "last_seen": g["start_utc"].max().to_numpy(), "sessions": g.size().to_numpy()})
    subs["applications"] = subs[sub.key].map(apps).map(lambda v: v if isinstance(v, list) else [])
    subs["first_seen"] = _iso(subs["first_seen"]).to_numpy(zero_copy_only=False)
    subs["last_seen"] = _iso(subs["last_seen"]).to_numpy(zero_copy_only=False)
    subs["sessions"] = subs["sessions"].astype(object)
    # The other parties of calls (and numbers only call records name): Subscriber nodes without a summary.
    others = sorted(parties(calls) - set(subs[sub.key]))
    if others:
        subs = pd.concat([subs, pd.DataFrame({sub.key: others, "first_seen": None, "last_seen": None,
                                              "sessions": None, "applications": None})], ignore_index=True)
    header, table = _node_table(sub, subs, case, {"first_seen": pa.string(), "last_seen": pa.string(),
                                                   "sessions": pa.int64(), "applications": pa.list_(pa.string())},
                                ("first_seen", "last_seen"))
    node_file(sub.label, header, table)
    rel_file("HAD", *_rel_table("HAD", unique["msisdn"], NodeRef(unique["session"].to_numpy())))

    # Applications and cells: the latest non-empty value of each property in load order.
    appn = NODE_BY_LABEL["Application"]
    names = pd.Index(sorted(frame.loc[frame["app"].fillna("") != "", "app"].unique()), name=appn.key)
    apps_f = pd.DataFrame({appn.key: names})
    for prop, col in (("vendor", "app_vendor"), ("category", "app_category")):
        apps_f[prop] = apps_f[appn.key].map(frame.drop_duplicates("app", keep="last").set_index("app")[col])
    node_file(appn.label, *_node_table(appn, apps_f, case, {"vendor": pa.string(), "category": pa.string()}))
    # Cells of sessions and of calls, their stated names and positions in the order the Bolt writer sent them.
    cell_rows = frame[_CELL_COLUMNS].assign(load=load, seq=pd.Series(load).groupby(load).cumcount().to_numpy())
    if calls.num_rows:
        cell_rows = pd.concat([cell_rows, call_cell_rows(calls.to_pandas(), call_which)], ignore_index=True)
        cell_rows = cell_rows.sort_values(["load", "seq"], kind="stable")
    _cells(cell_rows, case, node_file)

    # Each row's dump (a session shared by dumps: one CONTAINS per dump); the kept copy's application and cell.
    contains = frame[["dump", "session"]].drop_duplicates()
    rel_file("CONTAINS", *_rel_table("CONTAINS", contains["dump"], NodeRef(contains["session"].to_numpy())))
    of_app = unique.loc[unique["app"].fillna("") != "", ["session", "app"]]
    rel_file("OF_APP", *_rel_table("OF_APP", NodeRef(of_app["session"].to_numpy()), of_app["app"]))
    at_cell = unique.loc[unique["cell_id"].fillna("") != "", ["session", "cell_id"]]
    rel_file("AT_CELL", *_rel_table("AT_CELL", NodeRef(at_cell["session"].to_numpy()), at_cell["cell_id"]))
    _summaries(unique, case, node_file, rel_file)

    # Dumps: the properties the Bolt writer's commit sets (one function for both), and who they were for.
    if calls.num_rows:
        shas = np.array([r.sha256 for r, _ in everything], dtype=object)
        write_calls(calls, call_which, case, shas, node_file, rel_file)
    reports = [d[0] for d in everything]
    _dumps(reports, case, set(subs[sub.key]), node_file, rel_file)
    if scratch:
        # The tests' scratch marker (graph/scratch.py) stays: the database is still theirs.
        node_file(MARKER, *_marker())
    _write_rels(out, ids, pending)
    out.seconds = time.perf_counter() - t0
    return out


def _write_rels(out: ImportFiles, ids: NodeIds, pending: list[tuple[str, list[str], pa.Table]]) -> None:
    """The relationship files, their start and end keys replaced by node ids (``--id-type=actual``)."""
    while pending:
        rtype, header, table = pending.pop(0)  # each table freed once written
        start, end = (header[i].split("(", 1)[1].rstrip(")") for i in (0, 1))
        cols = {"s": ids.lookup(rtype, start, table.column(0)), "e": ids.lookup(rtype, end, table.column(1))}
        rest = table.select(range(2, table.num_columns))
        mapped = pa.table({**cols, **{f"p{i}": rest.column(i) for i in range(rest.num_columns)}})
        stem = f"rels_{rtype}" + (f"_{sum(1 for r in out.relationships if r[0] == rtype)}"
                                  if any(r[0] == rtype for r in out.relationships) else "")
        h, d = _write(out.folder, stem, [":START_ID", ":END_ID", *header[2:]], mapped)
        out.relationships.append((rtype, h, d))


def _marker() -> tuple[list[str], pa.Table]:
    """The tests' scratch marker node (graph/scratch.py ``MERGE (:CdrnetScratch {id: 1})``) as a node file."""
    return [f":ID({MARKER})", "id:long"], pa.table({"k": ["scratch"], "id": [1]})


def _importable(lists: pa.Array) -> np.ndarray:
    """Per row, whether a list of text survives the importer's array syntax: no element holds
    ARRAY_DELIMITER, and it is not one empty text (written as ``""``, which the importer leaves out)."""
    flat = pc.list_flatten(lists)
    bad = pc.fill_null(pc.match_substring(flat, ARRAY_DELIMITER), False).to_numpy(zero_copy_only=False)
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    ok = np.bincount(parent[bad], minlength=len(lists)) == 0
    one = pc.equal(pc.list_value_length(lists), 1).to_numpy(zero_copy_only=False)
    if one.any():
        firsts = pc.list_element(lists.filter(pa.array(one)), 0)
        ok[np.flatnonzero(one)] &= pc.fill_null(pc.not_equal(firsts, ""), True).to_numpy(zero_copy_only=False)
    return ok


def _units(sessions: pa.Table, case: str, node_file: Callable) -> None:
    """The case's CoUsageUnits nodes: each subscriber's units (graph/bulk_units.py) and the case's
    generation node (msisdn ``''``, as units_generation.cypher makes it) that they carry, so the first
    link run reads them as current; any load or forget after the import changes that generation
    (units_clear.cypher). A subscriber whose units the importer's arrays cannot carry (a key holding
    ARRAY_DELIMITER, a list of one empty key) is left out: the first link run builds its units."""
    if not sessions.num_rows:
        return
    unit = NODE_BY_LABEL["CoUsageUnits"]
    generation = str(uuid.uuid4())
    table = units_table(sessions, generation)
    ok = np.ones(table.num_rows, dtype=bool)
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_list(col.type) and pa.types.is_string(col.type.value_type):
            ok &= _importable(col)
    table = table.filter(pa.array(ok))
    gen = pa.table({name: (pa.array([""]) if name == unit.key else pa.array([generation]) if name == "generation"
                           else pa.nulls(1, table.schema.field(name).type)) for name in table.column_names})
    table = pa.concat_tables([table, gen])
    header = [f"{unit.key}:ID({unit.label})", CASE]
    cols: dict[str, pa.Array] = {unit.key: table.column(unit.key),
                                 CASE: pa.array(np.full(table.num_rows, case, dtype=object), pa.string())}
    for name in table.column_names[1:]:
        col, t = table.column(name).combine_chunks(), table.schema.field(name).type
        if pa.types.is_list(t):
            typ = f"{_neo4j_type(t.value_type)}[]"
            col = _lists_as_text(pc.cast(col, pa.list_(pa.string())))
        else:
            typ = _neo4j_type(t)
        header.append(f"{name}:{typ}")
        cols[name] = col
    node_file(unit.label, header, pa.table(cols))


#: What a row says of its cell (sessions' columns; graph/bulk_calls.py gives calls' cells so too).
_CELL_COLUMNS = ["cell_id", "cell_raw", "cell_name", "lat", "lon"]


def _cells(frame: pd.DataFrame, case: str, node_file: Callable) -> None:
    cell = NODE_BY_LABEL["Cell"]
    cells = frame[frame["cell_id"].fillna("") != ""]
    f = pd.DataFrame({cell.key: sorted(cells["cell_id"].unique())})
    for prop, col in (("cell_raw", "cell_raw"), ("name", "cell_name")):
        f[prop] = f[cell.key].map(_latest(cells, "cell_id", col))
    lat, lon = pd.to_numeric(cells["lat"], errors="coerce"), pd.to_numeric(cells["lon"], errors="coerce")
    known = pd.DataFrame({"cell_id": cells["cell_id"], "lat": lat, "lon": lon}).dropna()
    known = known.drop_duplicates("cell_id", keep="last").set_index("cell_id")
    f["lat"], f["lon"] = f[cell.key].map(known["lat"]), f[cell.key].map(known["lon"])
    # Where the dump states a position it is the operator's own (as the Bolt writer records it).
    stated = f["lat"].notna()
    f["position_source"] = pd.Series(np.where(stated, "operator", None), index=f.index, dtype=object)
    f["position_match"] = pd.Series(np.where(stated, "dump", None), index=f.index, dtype=object)
    header, table = _node_table(cell, f, case, {"cell_raw": pa.string(), "name": pa.string(), "lat": pa.float64(),
                                                "lon": pa.float64(), "position_source": pa.string(),
                                                "position_match": pa.string()})
    # A WGS84 POINT where a position is stated (Browser users compute distances with it).
    where = pc.if_else(pc.is_valid(table.column("lat")),
                       pc.binary_join_element_wise("{latitude:", pc.cast(table.column("lat"), pa.string()),
                                                   ",longitude:", pc.cast(table.column("lon"), pa.string()), "}", ""),
                       pa.scalar(None, pa.string()))
    node_file(cell.label, [*header, "location:point{crs:WGS-84}"], table.append_column("location", where))


def _summaries(unique: pd.DataFrame, case: str, node_file: Callable, rel_file: Callable) -> None:
    """Relationships declared with ``summarises`` (first/last use, sessions) and their end nodes."""
    written = {"Application", "Cell"}  # written by their own functions, with their properties
    for r in RELATIONSHIPS:
        if not r.summarises:
            continue
        col = r.summarises
        used = unique[unique[col].fillna("") != ""]
        g = used.groupby(["msisdn", col], sort=True)["start_utc"]
        agg = pd.DataFrame({"first": g.min(), "last": g.max(), "sessions": g.size()}).reset_index()
        end = NODE_BY_LABEL[r.end]
        if end.label not in written:
            ends = pd.DataFrame({end.key: sorted(set(agg[col]))})
            node_file(end.label, *_node_table(end, ends, case, {}))
            written.add(end.label)
        props = {"first": (_iso(agg["first"]), "datetime"), "last": (_iso(agg["last"]), "datetime"),
                 "sessions": (pa.array(agg["sessions"].to_numpy(np.int64)), "long"),
                 CASE: (pa.array(np.full(len(agg), case, dtype=object), pa.string()), "string")}
        rel_file(r.type, *_rel_table(r.type, agg["msisdn"], agg[col], props))


def _dumps(reports: list[DumpReport], case: str, subscribers: set[str], node_file: Callable,
           rel_file: Callable) -> None:
    from cdrnet.graph.store import dump_props

    dump = NODE_BY_LABEL["Dump"]
    props = [dump_props(r, case) for r in reports]
    f = pd.DataFrame(props)
    f[dump.key] = [r.sha256 for r in reports]
    f["complete"] = True
    for name in ("period_start", "period_end"):
        text = f[f"{name}_utc"].fillna("")
        f[name] = text.where(text != "", None)
    types: dict[str, pa.DataType] = {}
    for c in f.columns:
        if c in (dump.key, CASE):
            continue
        given = [v for v in f[c] if v is not None and not (isinstance(v, float) and np.isnan(v))]
        if all(isinstance(v, bool) for v in given) and given:
            types[c] = pa.bool_()
        elif given and all(isinstance(v, int) and not isinstance(v, bool) for v in given):
            types[c] = pa.int64()
        elif given and all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
            types[c] = pa.float64()
        elif given and all(isinstance(v, list) for v in given):
            types[c] = pa.list_(pa.string())
        else:
            types[c] = pa.string()
    node_file(dump.label, *_node_table(dump, f, case, types, ("period_start", "period_end")))
    pairs = [(r.sha256, m) for r in reports for m in dict.fromkeys(r.msisdns) if m in subscribers]
    of = pd.DataFrame(pairs, columns=["dump", "msisdn"]).drop_duplicates()
    rel_file("OF_SUBSCRIBER", *_rel_table("OF_SUBSCRIBER", of["dump"], of["msisdn"]))


# ---------------------------------------------------------------- the database and the server

def replaceable(driver: Driver, database: str | None) -> bool:
    """Whether the database may be replaced: empty, or a tests' scratch database (returns True then).

    Anything else raises GraphError: the importer replaces the whole database.
    """
    with driver.session(database=database) as s:
        scratch = s.run(f"MATCH (m:{MARKER}) RETURN count(m) > 0 AS owned").single()["owned"]
        if scratch:
            return True
        holds = s.run("MATCH (n) RETURN count(n) AS n").single()["n"]
    if holds:
        raise GraphError(f"the Neo4j database {database or '(default)'} holds {holds:,} nodes: a bulk import "
                         "replaces the whole database, so it only loads an empty one",
                         "add dumps to it with the Bolt writer (cdrnet --neo4j URI ingest PATH), or import into "
                         "an empty server (scripts/neo4j-local reset deletes the local one)")
    return False


def create_schema_at_once(driver: Driver, database: str | None) -> None:
    """The schema of graph/model.py on a freshly imported database: indexes, then constraints.

    Indexes created in one transaction are populated by one scan of the store, in the background once it
    commits; created one by one (GraphStore.create_schema, right for the Bolt writer's empty database) each
    scans the imported nodes again. A uniqueness constraint's index is populated while its own transaction
    commits, one constraint after another, so the indexes' transaction is committed first: their population
    (the Session ``(case, msisdn, start_s)`` index, ~2.3 server CPU s at 1M sessions) runs beside the
    constraints' (the Session key, ~3.1 CPU s) instead of after it. The statements are the same, so the
    schema is too. The importer builds a database with no schema but its token lookup indexes, so the
    drops of older versions' names that GraphStore.create_schema runs first are left out (a round trip and
    a plan each, ~1 s of a start's cold server; docs/benchmarks.md).
    """
    from cdrnet.graph.model import schema_statements

    creates = [s for s in schema_statements() if s.startswith("CREATE")]
    indexes = [s for s in creates if s.startswith("CREATE INDEX")]
    constraints = [s for s in creates if not s.startswith("CREATE INDEX")]
    with driver.session(database=database) as session:
        try:
            for batch in (indexes, constraints):
                with session.begin_transaction() as tx:
                    for stmt in batch:
                        tx.run(stmt).consume()
                    tx.commit()
            session.run("CALL db.awaitIndexes(600)").consume()
        except Neo4jError as exc:
            # With integer node ids the importer no longer refuses a key given twice (graph/bulk.py NodeIds
            # checks the files it writes): a uniqueness constraint is then what refuses the database.
            reason = " ".join(str(exc.message).split())  # Neo4j's message spans lines: one line of output
            raise GraphError(f"the imported database breaks the graph's schema: {reason}",
                             "the database was left as it was and the server restarted on it") from exc


def _counts(driver: Driver, files: ImportFiles, database: str | None) -> list[tuple[tuple[str, str], int, int]]:
    """((``nodes``|``relationships``, label or type), count in the database, count in the files) of every
    label and type the files hold, read in one statement: each branch reads Neo4j's count store, and one
    statement is one plan and one round trip where a statement per label and type was ~16 of a cold server's."""
    wanted = ([(("nodes", label), want) for label, want in files.node_counts.items()]
              + [(("relationships", rtype), want) for rtype, want in files.rel_counts.items()])
    if not wanted:
        return []
    # Labels and types come from graph/model.py, never from the data; ``i`` ties each row to its entry,
    # given after the count (beside it, it would be a grouping key: no row at all for a count of 0).
    branches = [(f"MATCH (n:{name}) WITH count(n) AS n" if kind == "nodes"
                 else f"MATCH ()-[r:{name}]->() WITH count(r) AS n") + f" RETURN {i} AS i, n"
                for i, ((kind, name), _) in enumerate(wanted)]
    got = {r["i"]: r["n"] for r in driver.execute_query(" UNION ALL ".join(branches), database_=database).records}
    return [(what, got[i], want) for i, (what, want) in enumerate(wanted)]


def finish(driver: Driver, files: ImportFiles, case: str, database: str | None) -> dict[str, float]:
    """After the server restarts: constraints and indexes, computed properties, then a count check."""
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    create_schema_at_once(driver, database)
    steps["constraints and indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for n in NODES:
        for prop, expr in n.computed:
            driver.execute_query(f"MATCH (e:{n.label} {{{CASE}: $case}}) WITH e, e.{n.key} AS k "
                                 f"SET e.{prop} = {expr}", {"case": case}, database_=database)
    for label, prop, keys in files.empty_lists:
        n = NODE_BY_LABEL[label]
        driver.execute_query(f"UNWIND $keys AS k MATCH (e:{n.label} {{{CASE}: $case, {n.key}: k}}) SET e.{prop} = []",
                             {"case": case, "keys": keys}, database_=database)
    # Which numbers are outside the case: the same statement the Bolt writer runs after each dump.
    write(driver, "subscribers_outside", {"case": case}, database)
    for (kind, name), got, want in _counts(driver, files, database):
        if got != want:
            raise GraphError(f"the import wrote {got} {name} {kind}, the files hold {want}")
    steps["computed properties and count check"] = time.perf_counter() - t0
    return steps


@dataclass
class BulkResult:
    """What a bulk import did, with the seconds of each step (what ``neo4j-import`` prints)."""

    sessions: int
    calls: int
    nodes: dict[str, int]
    relationships: dict[str, int]
    steps: dict[str, float]
    seconds: float


def _server_home(uri: str, script: Path) -> Path:
    """The Neo4j home the control script runs, checked to be the server ``uri`` names."""
    home = home_of(script)
    port = bolt_port_of(home)
    uri_port = urlsplit(uri).port or 7687
    if port is not None and port != uri_port:
        raise GraphError(f"{uri} is not the server of {home} (it listens on Bolt port {port})",
                         "pass the URI of the server the script controls")
    return home


def _import_and_swap(script: Path, home: Path, swap: Swap, files: ImportFiles, steps: dict[str, float],
                     after: Callable[[], dict[str, float]]) -> None:
    """Import ``files`` into the staging database while the server stops, swap it in, start the server and
    run ``after`` (schema, checks); whatever fails, the server is started again on the database it held before."""

    def timed(step: str, fn: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        fn()
        steps[step] = time.perf_counter() - t0

    # The server stops while the importer runs: the importer writes only the staging folders, which the
    # server does not serve; the stop (a checkpoint, then the JVM's exit) is waited for before the swap.
    with ThreadPoolExecutor(1) as pool:
        stopping = pool.submit(timed, "stopping the server", lambda: server_control(script, "stop"))
        try:
            timed("neo4j-admin database import full",
                  lambda: run_importer(home, files.importer_args(STAGING), files.folder))
        except BaseException as exc:
            _wait(stopping, exc)
            _restore(script, swap, exc)
            raise
    try:
        stopping.result()
        swap.swap_in()
        # Bolt answers about 1.5 s before the web server (Browser, HTTP API) is up: the schema is built
        # meanwhile, and the start is then waited for whole (the script's start returns once HTTP answers).
        timed("starting the server", lambda: server_control(script, "start-bolt"))
        steps.update(after())
        timed("waiting for the server's HTTP", lambda: server_control(script, "start"))
    except BaseException as exc:
        _restore(script, swap, exc)
        raise
    swap.commit()


def _wait(stopping: Future, cause: BaseException) -> None:
    """Wait for the server's stop after ``cause`` ended the import; its own failure is noted on ``cause``."""
    try:
        stopping.result()
    except Exception as exc:  # noqa: BLE001 - the restore stops it again; the cause stays the error
        cause.add_note(f"stopping the server failed too ({exc})")


def _restore(script: Path, swap: Swap, cause: BaseException) -> None:
    """Back to the database as it was (the staged one deleted) and the server on it, after ``cause``.

    ``cause`` is what the user must see (why the import failed), so a step of this restore that
    fails too is not raised over it: each step is still tried, and what failed is added to the
    cause's hint (and as a note) with what to do by hand.
    """
    failed: list[str] = []
    for what, step in (("stopping the server", lambda: server_control(script, "stop")),
                       ("putting the previous database back", swap.rollback),
                       ("deleting the staged database", swap.discard_staging),
                       ("starting the server", lambda: server_control(script, "start"))):
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - reported with the cause, never instead of it
            failed.append(f"{what} failed too ({exc})")
    if not failed:
        return
    note = "; ".join(failed) + ("; the next bulk import into this server finishes putting the database back "
                                f"(from {swap.journal().name}), or start the server by hand")
    cause.add_note(note)
    if isinstance(cause, GraphError):
        cause.hint = f"{cause.hint}; {note}" if cause.hint else note


def recover_interrupted(script: Path, swap: Swap) -> dict[str, float]:
    """Finish or undo a swap an earlier import was killed in (graph/importer.py ``Swap.recover``), the
    server stopped meanwhile; the step and its seconds, named by what was done (none when nothing was)."""
    if not swap.interrupted():
        return {}
    t0 = time.perf_counter()
    server_control(script, "stop")
    try:
        done = swap.recover()
    finally:
        server_control(script, "start")
    return {f"recovering an interrupted import: {done}": time.perf_counter() - t0}


def bulk_load(dumps: list[tuple[DumpReport, Path]], uri: str, script: Path, case: str,
              connect: Callable[[], Driver], database: str | None = None, keep_files: Path | None = None,
              work: Path | None = None) -> BulkResult:
    """A first load: check the database may be replaced, write the files, stop the server, import
    into a staging database, swap it in, start the server, create the schema and check the counts.

    Whatever fails, the server is started again on the database it held before (graph/importer.py).
    """
    t_all = time.perf_counter()
    home = _server_home(uri, script)
    swap = Swap(home, database or "neo4j")
    steps: dict[str, float] = recover_interrupted(script, swap)
    driver = connect()
    try:
        scratch = replaceable(driver, database)
    finally:
        driver.close()
    folder = keep_files or Path(work or home / "import") / f"cdrnet-bulk-{os.getpid()}"

    def after() -> dict[str, float]:
        driver = connect()
        try:
            return finish(driver, files, case, database)
        finally:
            driver.close()

    try:
        files = write_import_files(dumps, case, folder, scratch=scratch)
        steps["writing node and relationship files"] = files.seconds
        _import_and_swap(script, home, swap, files, steps, after)
    finally:
        if keep_files is None:
            shutil.rmtree(folder, ignore_errors=True)
    return BulkResult(files.sessions, files.calls, files.node_counts, files.rel_counts, steps,
                      time.perf_counter() - t_all)


def empty_scratch(uri: str, script: Path, connect: Callable[[], Driver], database: str | None = None,
                  work: Path | None = None) -> dict[str, float]:
    """Empty a tests' scratch database by importing one that holds only the scratch marker and the schema.

    The same end state as graph/scratch.py ``wipe`` (marker, schema, nothing else), in a server restart
    instead of deleting every node through the transaction log (about ten minutes for a million
    sessions). Only a database that holds the marker is replaced, so, as with ``wipe``, nothing that
    tests and benchmarks did not create is deleted; anything else raises GraphError.
    """
    home = _server_home(uri, script)
    swap = Swap(home, database or "neo4j")
    recover_interrupted(script, swap)
    driver = connect()
    try:
        with driver.session(database=database) as s:
            owned = s.run(f"MATCH (m:{MARKER}) RETURN count(m) > 0 AS owned").single()["owned"]
    finally:
        driver.close()
    if not owned:
        raise GraphError("only a tests' scratch database (one holding the CdrnetScratch marker) is emptied by "
                         "an import", "wipe it with cdrnet.graph.scratch.wipe, which refuses data it did not create")
    files = ImportFiles(Path(work or home / "import") / f"cdrnet-empty-{os.getpid()}")
    files.folder.mkdir(parents=True, exist_ok=True)
    h, d = _write(files.folder, f"nodes_{MARKER}", *NodeIds().assign(MARKER, *_marker()))
    files.nodes.append((MARKER, h, d))
    steps: dict[str, float] = {}

    def after() -> dict[str, float]:
        driver = connect()
        try:
            create_schema_at_once(driver, database)
            n = driver.execute_query("MATCH (n) RETURN count(n) AS n", database_=database).records[0]["n"]
        finally:
            driver.close()
        if n != 1:
            raise GraphError(f"the emptied scratch database holds {n} nodes, not its marker alone")
        return {}

    try:
        _import_and_swap(script, home, swap, files, steps, after)
    finally:
        shutil.rmtree(files.folder, ignore_errors=True)
    return steps


def default_script() -> Path | None:
    """scripts/neo4j-local of this checkout, when cdrnet runs from one (an editable install)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "neo4j-local"
    return script if script.exists() else None


def workspace_dumps(workspace: str | Path) -> list[tuple[DumpReport, Path]]:
    """A workspace's committed dumps in load order, with their Parquet files."""
    from cdrnet.workspace import Workspace

    ws = Workspace(workspace)
    paths = dict(ws.dump_files())  # names a missing sessions file with the repair
    calls = dict(ws.call_files())  # voice/SMS CDRs and tower dumps: their events (graph/bulk_calls.py)
    for sha, path in calls.items():
        if not path.exists():
            raise GraphError(f"workspace {ws.root}: the call records file {path.name} is missing",
                             f"ingest the original file again to repair it (its SHA-256 is {sha})")
    paths.update(calls)
    dumps = [(r, paths[r.sha256]) for r in ws.reports()]
    if not dumps:
        raise GraphError(f"workspace {ws.root} holds no dumps to import",
                         f"run 'cdrnet -w {ws.root} ingest PATH' first")
    return dumps


def copy_rejects(workspace: str | Path, shas: list[str]) -> None:
    """The workspace's per-dump rejects beside the Neo4j store's, as a Bolt load leaves them."""
    from cdrnet.rejects import RejectsFile
    from cdrnet.store import graph_rejects_dir
    from cdrnet.workspace import Workspace

    src = Workspace(workspace).rejects_dir
    folder = graph_rejects_dir(workspace)
    rejects = RejectsFile(folder, folder / "rejects.csv")
    rejects.folder.mkdir(parents=True, exist_ok=True)
    for sha in shas:
        if (src / f"{sha}.csv").exists():
            shutil.copyfile(src / f"{sha}.csv", rejects.folder / f"{sha}.csv")
    rejects.rebuild(shas)
