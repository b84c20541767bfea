"""The Neo4j store: the same canonical sessions the workspace gets, as a Browser-ready graph.

Loading is one write path (UNWIND $rows in batches, one transaction per batch,
retried on transient errors), scoped to one dump: the Dump node is marked
complete only after every batch, and MERGE on declared keys makes a re-run of
an interrupted load end with exactly the right graph. Nothing is ever deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
from neo4j import Driver, ManagedTransaction
from neo4j.exceptions import ConstraintError

from cdrnet.cypher import query
from cdrnet.errors import GraphError
from cdrnet.graph.connection import read, read_text, run_auto, run_write, write
from cdrnet.graph.model import (
    CALL,
    CALL_COMPUTED,
    CO_USED_EDGE_COLUMNS,
    CO_USED_RUN_PARAMS,
    SESSION,
    SESSION_COMPUTED,
    call_read,
    schema_statements,
    session_read,
)
from cdrnet.graph.writes import COLUMN, load_calls, load_sessions, merge_nodes, merge_rels, read_rels, usage_summaries
from cdrnet.loader.normalize import key_hash_of
from cdrnet.loader.quality import DumpReport, resolution_by_subscriber, session_reports
from cdrnet.model import CALL_COLUMNS, CALL_SCHEMA, SESSION_COLUMNS, SESSION_SCHEMA
from cdrnet.rejects import RejectsFile
from cdrnet.sitelists import SiteListFolder, SiteListsMixin
from cdrnet.store import StoredLinkRun

if TYPE_CHECKING:
    from cdrnet.analysis.cousage import LinkParams, LinkResult
    from cdrnet.analysis.observed import Coverage
    from cdrnet.loader.cellsites import CellList

BATCH = 10_000
DEFAULT_CASE = "default"


def _seconds(ts: pd.Series) -> np.ndarray:
    arr = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    out = arr.astype(np.int64).astype(object)
    out[np.isnat(arr)] = None
    return out


def _session_values(sessions: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each declared Session property of a batch as an object array (None when missing).

    Times travel as epoch seconds (packing Python datetimes is ten times slower);
    the DATETIME properties are computed by Cypher.
    """
    f = sessions
    from cdrnet.analysis.units import service_of

    cols: dict[str, np.ndarray] = {"msisdn": f["msisdn"].to_numpy(dtype=object)}
    for prop, source in SESSION_COMPUTED.items():
        cols[prop] = service_of(f).to_numpy(dtype=object) if prop == "service" else _seconds(f[source])
    for c in SESSION.properties:
        if c not in cols:
            col = f[c]
            cols[c] = col.astype(object).where(col.notna(), None).to_numpy()
    return cols


def session_rows(sessions: pd.DataFrame) -> list[dict]:
    """The sessions as rows (key plus the declared properties, None when missing): what
    ``LOAD CSV`` of the same sessions reads (bench), where the writer sends columns."""
    cols = _session_values(sessions)
    names, values = list(cols), [c.tolist() for c in cols.values()]
    return [{"key": k, "props": dict(zip(names, v, strict=True))}
            for k, v in zip(sessions["session_key"].tolist(), zip(*values, strict=True), strict=True)]


def session_columns(sessions: pd.DataFrame, fields: dict[str, list] | None = None) -> dict[str, list]:
    """Bolt parameters for a batch as columns: ``key``, each declared property as ``p_<name>``
    (graph/writes.py ``COLUMN``; None when missing), and ``fields`` (one value a row) beside them.

    One list per property rather than one map per row: the driver packs and Neo4j decodes each
    value without its property's name (docs/benchmarks.md, "Bolt writer: columns").
    """
    out: dict[str, list] = {"key": sessions["session_key"].tolist()}
    out.update({f"{COLUMN}{name}": values.tolist() for name, values in _session_values(sessions).items()})
    for name, values in (fields or {}).items():
        if len(values) != len(sessions):
            raise ValueError(f"field {name!r} has {len(values)} values for {len(sessions)} sessions")
        out[name] = list(values)
    return out


def _positions(values: pd.Series) -> tuple[list, list]:
    """Each row's position in the list of distinct non-empty values (None for an empty one), and the list."""
    v = values.fillna("").astype(object)
    codes, uniques = pd.factorize(v.where(v != "", None), use_na_sentinel=True)
    pos = codes.astype(object)
    pos[codes < 0] = None
    return pos.tolist(), [str(u) for u in uniques]


def session_batch(sessions: pd.DataFrame) -> tuple[dict[str, list], dict[str, list]]:
    """Bolt parameters of one batch for ``load_sessions``: the columns (``session_columns``), with
    each row's subscriber, application and cell as a position in the batch's distinct keys
    (``sub_at``, ``app_at``, ``cell_at``), and those keys (``subs``, ``apps``, ``cells``), so
    Neo4j looks each node up once per batch, not per row."""
    lookups: dict[str, list] = {}
    fields: dict[str, list] = {}
    for name, field, col in (("subs", "sub_at", "msisdn"), ("apps", "app_at", "app"), ("cells", "cell_at", "cell_id")):
        fields[field], lookups[name] = _positions(sessions[col])
    return session_columns(sessions, fields), lookups


def call_batch(events: pd.DataFrame) -> dict[str, list]:
    """Bolt parameters of one batch for ``load_calls``: ``key``, each declared Call property as
    ``p_<name>`` (None when missing; times as epoch seconds), both parties as positions in the
    batch's distinct numbers (``caller_at``, ``callee_at`` in ``subs``) and the first and last
    cells in its distinct cells (``first_at``, ``last_at`` in ``cells``): columns, as
    ``session_columns`` sends sessions (docs/benchmarks.md, "Bolt writer: calls as columns")."""
    out: dict[str, list] = {"key": events["event_key"].tolist()}
    for c in CALL.properties:
        if c in CALL_COMPUTED:
            out[f"{COLUMN}{c}"] = _seconds(events[CALL_COMPUTED[c]]).tolist()
        else:
            col = events[c]
            out[f"{COLUMN}{c}"] = col.astype(object).where(col.notna(), None).tolist()
    n = len(events)
    for keys, (a, a_at), (b, b_at) in (("subs", ("caller", "caller_at"), ("callee", "callee_at")),
                                        ("cells", ("first_cell", "first_at"), ("last_cell", "last_at"))):
        at, out[keys] = _positions(pd.concat([events[a], events[b]], ignore_index=True))
        out[a_at], out[b_at] = at[:n], at[n:]
    return out


def restore_calls(rows: list[dict]) -> pd.DataFrame:
    """Call events read back from Neo4j with the workspace's columns and dtypes (cdrnet.model.CALL_SCHEMA)."""
    f = pd.DataFrame(rows)
    if f.empty:
        return CALL_SCHEMA.empty_table().to_pandas()
    seconds = {src: prop for prop, src in CALL_COMPUTED.items()}
    for field in CALL_SCHEMA:
        col, typ = field.name, field.type
        if pa.types.is_timestamp(typ):
            f[col] = pd.to_datetime(f.pop(seconds[col]).astype("Float64"), unit="s", utc=True).astype(
                "datetime64[s, UTC]")
        elif pa.types.is_integer(typ):
            f[col] = (f[col] if col in f else pd.Series(pd.NA, index=f.index)).astype("Int64")
        elif pa.types.is_floating(typ):
            f[col] = pd.to_numeric(f[col] if col in f else pd.Series(np.nan, index=f.index),
                                   errors="coerce").astype("float64")
        else:
            f[col] = (f[col] if col in f else pd.Series("", index=f.index)).astype("string").fillna("")
    return f[CALL_COLUMNS].sort_values(["start_utc", "event_key"], kind="stable").reset_index(drop=True)


def cell_rows(f: pd.DataFrame) -> list[dict]:
    """Cells of a batch: raw id, name and position as last given (a later dump's wins), where stated.

    A stated position (canonical columns lat/lon) is kept as lat/lon and as a WGS84 POINT
    ``location`` (Browser users compute distances with point.distance); a cell without one
    keeps whatever it had. Work is per distinct cell, not per row.
    """
    from neo4j.spatial import WGS84Point

    cells = f[f["cell_id"].fillna("") != ""]
    props: dict[str, dict] = {c: {} for c in cells["cell_id"].unique()}
    for col, prop in (("cell_raw", "cell_raw"), ("cell_name", "name")):
        if col in cells:
            named = cells[cells[col].fillna("") != ""].drop_duplicates("cell_id", keep="last")
            for c, v in zip(named["cell_id"], named[col], strict=True):
                props[c][prop] = str(v)
    lat_col, lon_col = ("lat", "lon") if "lat" in cells else ("cell_lat", "cell_lon")
    if lat_col in cells and lon_col in cells:
        lat = pd.to_numeric(cells[lat_col], errors="coerce")
        lon = pd.to_numeric(cells[lon_col], errors="coerce")
        known = (pd.DataFrame({"cell_id": cells["cell_id"], "lat": lat, "lon": lon}).dropna()
                 .drop_duplicates("cell_id", keep="last"))
        for c, a, o in zip(known["cell_id"], known["lat"], known["lon"], strict=True):
            props[c].update({"lat": float(a), "lon": float(o), "location": WGS84Point((float(o), float(a))),
                             "position_source": "operator", "position_match": "dump"})
    return [{"key": c, "props": p} for c, p in props.items()]


def call_cells(events: pd.DataFrame) -> pd.DataFrame:
    """The first and last cells of call events as ``cell_rows`` reads them (cell_id, cell_raw, cell_name,
    lat, lon), last cells after first ones: where a record states the cell's position it is the operator's."""
    sides = [pd.DataFrame({"cell_id": events[f"{s}_cell"], "cell_raw": events[f"{s}_cell_raw"],
                           "cell_name": events[f"{s}_cell_name"], "lat": events[f"{s}_lat"],
                           "lon": events[f"{s}_lon"]}) for s in ("first", "last")]
    return pd.concat(sides, ignore_index=True)


def place_rows(placed: pd.DataFrame) -> list[dict]:
    """Bolt rows for placed cells (cdrnet.analysis.places.place_cells): position and where it came from."""
    from neo4j.spatial import WGS84Point

    p = placed.dropna(subset=["lat", "lon"])
    out = []
    for r in p.itertuples(index=False):  # one row per cell, not per session
        props = {"lat": float(r.lat), "lon": float(r.lon), "location": WGS84Point((float(r.lon), float(r.lat))),
                 "position_source": str(r.source), "position_match": str(r.matched_by),
                 "position_list": None if pd.isna(r.list_sha256) else str(r.list_sha256),
                 "position_line": None if pd.isna(r.source_line) else int(r.source_line),
                 "site_name": None if pd.isna(r.site_name) or not r.site_name else str(r.site_name)}
        out.append({"key": str(r.cell_id), "props": props})
    return out


@dataclass
class SessionBatch:
    """One batch of a dump's sessions as Bolt parameters, with what the fresh check needs."""

    #: Subscriber, Application and Cell merges, sent before the sessions in the same transaction.
    nodes: list[tuple[str, list[dict]]]
    #: The sessions as columns (``session_columns``), each list one value a session.
    columns: dict[str, list]
    #: How many sessions the batch holds.
    size: int
    #: The batch's distinct subscribers, applications and cells the rows name by position.
    lookups: dict[str, list]
    #: Per subscriber, the first and last start (epoch seconds) of its sessions in the batch.
    spans: list[dict]
    #: Every session has a start (one without cannot be placed in a span: never fresh).
    timed: bool


def session_batch_plan(f: pd.DataFrame) -> SessionBatch:
    """Everything one batch sends, prepared off the sending thread."""
    columns, lookups = session_batch(f)
    subs = [{"key": m, "props": {}} for m in lookups["subs"]]
    # The latest value given wins (here and across batches), as in a bulk import (graph/bulk.py).
    apps_f = f[f["app"].fillna("") != ""].drop_duplicates("app", keep="last")
    apps = [{"key": a, "props": {"vendor": v, "category": c}}
            for a, v, c in zip(apps_f["app"], apps_f["app_vendor"], apps_f["app_category"], strict=True)]
    start = f["start_utc"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    timed = not bool(np.isnat(start).any())
    spans: list[dict] = []
    if timed and len(f):
        g = pd.DataFrame({"msisdn": f["msisdn"].to_numpy(), "s": start.astype(np.int64)}).groupby("msisdn")["s"]
        lo, hi = g.min(), g.max()
        spans = [{"msisdn": m, "lo": int(a), "hi": int(b)}
                 for m, a, b in zip(lo.index.tolist(), lo.tolist(), hi.tolist(), strict=True)]
    nodes = [(merge_nodes("Subscriber"), subs), (merge_nodes("Application"), apps), (merge_nodes("Cell"), cell_rows(f))]
    return SessionBatch(nodes, columns, len(f), lookups, spans, timed)


class GraphDumpWriter:
    """Writes one dump's sessions in batches; rejects go to a local CSV beside the workspace.

    A batch whose sessions cannot be in the database yet is CREATEd rather than MERGEd (fewer
    lookups and locks in Neo4j). A session's key includes its number and start, so it can be
    there only if the case holds a session of that number starting within the batch's span of
    starts for it: the writer asks Neo4j (one index range seek per number, in the batch's own
    transaction) unless this writer has itself written into that span already. A load running
    beside this one can still CREATE the same session first: the uniqueness constraint then
    fails the whole batch (nothing of it is written), which is written again by MERGE, and the
    writer MERGEs from then on. A failed load leaves the Dump incomplete either way.
    """

    def __init__(self, store: GraphStore, sha: str, name: str) -> None:
        self.store, self.sha, self.name = store, sha, name
        self.sent = 0
        #: Whether batches may still be CREATEd (False after a constraint failure).
        self.fast = True
        #: Per subscriber, the span of starts this writer has written (first, last; epoch seconds).
        self.written: dict[str, tuple[int, int]] = {}
        write(store.driver, "dump_begin", {"case": store.case, "sha256": sha, "file_name": name}, store.database)
        #: Dumps whose first load died half-way: their sessions and calls pass to this one (graph/writes.py OWNER);
        #: so do those of the dumps after this one in the ingest order when it is read again (``--replace``):
        #: it keeps its place, so its copies are the kept ones, as in the workspace. Before, a re-send that
        #: had held them while this dump delivered them under other keys (another ``--tz``) kept its copy.
        params = {"case": store.case, "sha256": sha}
        self.unfinished = [r["sha256"] for r in read(store.driver, "dumps_unfinished", params, store.database)]
        self.unfinished += [r["sha256"] for r in read(store.driver, "dumps_after", params, store.database)]
        self.rejects = store.rejects.begin(sha, name)

    def write_sessions(self, sessions: pd.DataFrame) -> None:
        """Send batches in order while a helper thread prepares the next one's parameters.

        The driver releases the GIL while it waits for Neo4j, so turning the next
        batch into Bolt parameters costs no wall time.
        """
        starts = range(0, len(sessions), BATCH)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdrnet-batch") as prep:
            upcoming = None
            for lo in starts:
                plan = upcoming.result() if upcoming is not None else self._plan(sessions.iloc[lo : lo + BATCH])
                nxt = lo + BATCH
                upcoming = prep.submit(self._plan, sessions.iloc[nxt : nxt + BATCH]) if nxt < len(sessions) else None
                self._send(plan)

    @staticmethod
    def _plan(f: pd.DataFrame) -> SessionBatch:
        return session_batch_plan(f)

    def _fresh(self, tx: ManagedTransaction, batch: SessionBatch) -> bool:
        """Whether no session of the batch can be in the database yet (see the class's docstring)."""
        if not (self.fast and batch.timed and batch.spans):
            return False
        for sp in batch.spans:  # one entry per subscriber of the batch, not per row
            seen = self.written.get(sp["msisdn"])
            if seen is not None and sp["lo"] <= seen[1] and seen[0] <= sp["hi"]:
                return False
        text, params = query("sessions_in_spans", {"case": self.store.case, "spans": batch.spans})
        return not tx.run(text, params).single()["found"]

    def _load(self, tx: ManagedTransaction, text: str, params: dict, taken: str) -> int:
        """Run a batch's load statement; the former copy's links of nodes it took over from a dump
        whose load died (``taken``: its keys) go in the same transaction. Returns the rows written."""
        rec = tx.run(text, params).single()
        if rec["taken"]:
            tx.run(*query(taken, {"case": self.store.case, "keys": rec["taken"]})).consume()
        return rec["rows"]

    def _send(self, batch: SessionBatch) -> None:
        case = self.store.case

        def work(tx: ManagedTransaction, fast: bool) -> list[int]:
            done = [tx.run(text, {"rows": rows, "case": case}).single()["rows"] if rows else 0
                    for text, rows in batch.nodes]
            fresh = fast and self._fresh(tx, batch)
            params = {**batch.columns, "case": case, "sha256": self.sha, "unfinished": self.unfinished,
                      **batch.lookups}
            done.append(self._load(tx, load_sessions(fresh), params, "taken_sessions") if batch.size else 0)
            return done

        try:
            done = run_write(self.store.driver, lambda tx: work(tx, self.fast), self.store.database)
        except GraphError as exc:
            if not (self.fast and isinstance(exc.__cause__, ConstraintError)):
                raise
            self.fast = False  # a session was there after all (a load beside this one): MERGE from now on
            done = run_write(self.store.driver, lambda tx: work(tx, False), self.store.database)
        sent = [len(b) for _, b in batch.nodes] + [batch.size]
        if done != sent:
            raise GraphError(f"Neo4j wrote {done} rows for a batch of {sent} "
                             "(subscribers, applications, cells, sessions)",
                             "run the same command again: loads are idempotent")
        for sp in batch.spans:
            seen = self.written.get(sp["msisdn"])
            self.written[sp["msisdn"]] = ((sp["lo"], sp["hi"]) if seen is None
                                          else (min(seen[0], sp["lo"]), max(seen[1], sp["hi"])))
        self.sent += batch.size

    def _send_calls(self, nodes: list[tuple[str, list[dict]]], calls: dict[str, list]) -> None:
        """One transaction: the batch's Subscriber and Cell nodes, then its call events (columns)."""

        def work(tx: ManagedTransaction) -> list[int]:
            done = [tx.run(text, {"rows": rows, "case": self.store.case}).single()["rows"] if rows else 0
                    for text, rows in nodes]
            params = {**calls, "case": self.store.case, "sha256": self.sha, "unfinished": self.unfinished}
            return [*done, self._load(tx, load_calls(), params, "taken_calls") if calls["key"] else 0]

        done = run_write(self.store.driver, work, self.store.database)
        sent = [*(len(rows) for _, rows in nodes), len(calls["key"])]
        if done != sent:
            raise GraphError(f"Neo4j wrote {done} rows for a batch of {sent} (subscribers, cells, call events)",
                             "run the same command again: loads are idempotent")
        self.sent += sent[-1]

    def write_calls(self, events: pd.DataFrame) -> None:
        """Call events in batches: both parties' Subscriber nodes and the cells, then the Call nodes
        with their links (``load_calls``)."""
        for lo in range(0, len(events), BATCH):
            f = events.iloc[lo : lo + BATCH]
            calls = call_batch(f)
            subs = [{"key": m, "props": {}} for m in calls["subs"]]
            self._send_calls([(merge_nodes("Subscriber"), subs), (merge_nodes("Cell"), cell_rows(call_cells(f)))],
                             calls)

    def write_rejects(self, lines: list[int], reasons: list[str], texts: list[str], part: str) -> None:
        self.rejects.write(lines, reasons, texts, part)

    def commit(self, report: DumpReport, key_hashes: np.ndarray | None = None) -> None:  # noqa: ARG002
        """``key_hashes`` are not kept: Neo4j answers the overlap check by a query."""
        self.rejects.commit()
        case = self.store.case
        if report.kind == "calls":
            stored = read(self.store.driver, "dump_call_count", {"case": case, "sha256": self.sha},
                          self.store.database)[0]["calls"]
            what = "call events"
        else:
            stored = read(self.store.driver, "dump_session_count", {"case": case, "sha256": self.sha},
                          self.store.database)[0]["sessions"]
            what = "sessions"
        if stored != report.loaded:
            raise GraphError(f"dump {self.sha[:12]}: Neo4j holds {stored} {what}, the parser loaded {report.loaded}",
                             "run the same command again: loads are idempotent")
        self._hand_on_lost_copies(report)
        summaries = usage_summaries()
        if report.kind == "sessions":
            run_write(self.store.driver,
                      lambda tx: tx.run(summaries, {"case": case, "msisdns": report.msisdns}).consume(),
                      self.store.database)
        write(self.store.driver, "dump_commit", {"case": case, "sha256": self.sha, "props": dump_props(report, case)},
              self.store.database)
        # Co-usage units stored by a link run (even one that ran during this load) are of the sessions before.
        write(self.store.driver, "units_clear", {"case": case}, self.store.database)
        if report.kind == "calls":
            self.store.update_called(self.sha)
        write(self.store.driver, "subscribers_outside", {"case": case}, self.store.database)
        if not self.store.in_batch:
            self.store.rebuild_rejects()

    def _hand_on_lost_copies(self, report: DumpReport) -> None:
        """A dump read again (``--replace``) that no longer delivers sessions or calls it held the
        kept copy of, which other dumps deliver too (read with another ``--tz`` or date order: other
        keys): the copy to keep is now the first other dump's in ingest order, as in the workspace.
        Only that dump's file holds it, so the node passes to that dump, which becomes incomplete
        (the next ingest of it writes its copy), and the report's note names it. Left as it was,
        the node kept this dump's former copy (its cell, line and time zone) without cell links.
        """
        sessions, calls = self.store.shared_copies.pop(self.sha, ([], []))
        if not sessions and not calls:
            return
        files = write(self.store.driver, "dump_lost_copies",
                      {"case": self.store.case, "sha256": self.sha, "sessions": sessions, "calls": calls},
                      self.store.database)
        names = sorted({r["file_name"] for r in files})
        if names:
            report.notes.append(
                "sessions or calls this dump no longer delivers (other keys: another --tz or date order?) "
                "are in other dumps too, whose copy is the one kept now: ingest again "
                + ", ".join(names) + " (incomplete until then: Neo4j holds this dump's former copy)")

    def abort(self) -> None:
        # Never delete after a failed load: the Dump stays incomplete and a re-run completes it.
        self.rejects.abort()


def dump_props(report: DumpReport, case: str) -> dict:
    """A Dump node's properties: its data-quality report (nested values as JSON text) and who it was for.

    One function for both loads (the Bolt writer's commit and the bulk import's files).
    """
    props = {k: (json.dumps(v) if isinstance(v, dict | list) else v) for k, v in report.to_dict().items()}
    props["msisdns"] = report.msisdns
    props["file_name"] = report.name
    props["rows"] = report.lines_read
    props["loaded_at"] = report.ingested_at
    props["case"] = case
    return props


def dump_reports(driver: Driver, case: str, database: str | None = None) -> list[DumpReport]:
    """The reports of every completely loaded dump of one case, as stored on its Dump node."""
    out = []
    for r in read(driver, "dumps_list", {"case": case}, database):
        p = dict(r["props"])
        for k in ("rejected", "notes", "sheets"):
            if isinstance(p.get(k), str):
                p[k] = json.loads(p[k])
        p["name"] = p.get("file_name", "")
        out.append(DumpReport.from_dict(p))
    return out


def restore_sessions(rows: list[dict]) -> pd.DataFrame:
    """Sessions read back from Neo4j with the workspace's columns and dtypes (from cdrnet.model.SESSION_SCHEMA).

    Timestamps come back from their epoch-second properties (graph/model.py:
    SESSION_COMPUTED); columns the graph does not keep are empty.
    """
    f = pd.DataFrame(rows)
    if f.empty:
        return pd.DataFrame(columns=SESSION_COLUMNS)
    seconds = {src: prop for prop, src in SESSION_COMPUTED.items() if prop.endswith("_s")}
    for field in SESSION_SCHEMA:
        col, typ = field.name, field.type
        if pa.types.is_timestamp(typ):
            raw = f.pop(seconds[col]).astype("Float64") if col in seconds else pd.Series(np.nan, index=f.index)
            f[col] = pd.to_datetime(raw, unit="s", utc=True).astype("datetime64[s, UTC]")
        elif pa.types.is_integer(typ):
            raw = f[col] if col in f else pd.Series(pd.NA, index=f.index)
            f[col] = raw.astype("Int32" if typ.bit_width == 32 else "Int64")
        elif pa.types.is_floating(typ):
            raw = f[col] if col in f else pd.Series(np.nan, index=f.index)
            f[col] = pd.to_numeric(raw, errors="coerce").astype("float64")
        else:
            f[col] = (f[col] if col in f else pd.Series("", index=f.index)).astype("string").fillna("")
    return f[SESSION_COLUMNS].sort_values(["msisdn", "start_utc", "session_key"], kind="stable").reset_index(drop=True)


class GraphStore(SiteListsMixin):
    """One case in a Neo4j database (a :class:`~cdrnet.store.SessionStore`, as the workspace)."""

    #: Cell positions from imported lists are written onto the Cell nodes (Browser reads them there).
    stores_places = True

    def __init__(self, driver: Driver, rejects_dir: str | Path, database: str | None = None,
                 case: str = DEFAULT_CASE, uri: str | None = None, outputs: str | Path | None = None) -> None:
        self.driver = driver
        self.database = database
        #: Every node this store writes or reads belongs to this case (Neo4j Community has one
        #: database; cases live side by side in it).
        self.case = case
        self.uri = uri
        self.rejects_dir = Path(rejects_dir)
        self.rejects = RejectsFile(self.rejects_dir, self.rejects_dir / "rejects.csv")
        self.outputs = Path(outputs) if outputs is not None else self.rejects_dir.parent
        self._scopes: dict[int, list[str] | None] = {}
        self.in_batch = False  # inside ingest_batch(): rejects.csv waits for the batch's end
        self.site_lists = SiteListFolder(self.outputs / "cells")
        #: Per dump being read again: the keys of the sessions and calls it held the kept copy of
        #: that other dumps deliver too (:meth:`forget_dump`), for its writer's commit.
        self.shared_copies: dict[str, tuple[list[str], list[str]]] = {}

    def describe(self) -> str:
        from urllib.parse import urlsplit

        uri = self.uri or "(driver)"
        u = urlsplit(uri)
        if u.hostname:  # never print credentials written into the URI
            uri = u._replace(netloc=u.hostname + (f":{u.port}" if u.port else "")).geturl()
        db = f", database {self.database}" if self.database else ""
        return f"Neo4j {uri}{db} (case '{self.case}')"

    def create(self) -> GraphStore:
        self.create_schema()
        return self

    def create_schema(self) -> None:
        """Constraints and indexes of the declared model (and no leftover of older versions' episodes)."""
        for stmt in schema_statements():
            self.driver.execute_query(stmt, database_=self.database)
        self.driver.execute_query("CALL db.awaitIndexes(300)", database_=self.database)

    def has_dump(self, sha: str) -> bool:
        return read(self.driver, "dump_status", {"case": self.case, "sha256": sha},
                    self.database)[0]["complete"] is True

    def first_ingested(self, sha: str) -> str:
        """From the Dump node, whose report properties stay while a new load of it runs."""
        return read(self.driver, "dump_status", {"case": self.case, "sha256": sha}, self.database)[0]["first"] or ""

    def report(self, sha: str) -> DumpReport | None:
        return next((r for r in self.reports() if r.sha256 == sha), None)

    def incomplete_dumps(self) -> list[str]:
        """Dumps whose nodes are in the graph but not complete (a load that died, or sessions handed
        on by a dump read again): ``reports`` leaves them out, so ``dumps`` names them apart."""
        return [r["file_name"] for r in read(self.driver, "dumps_incomplete", {"case": self.case}, self.database)]

    @contextmanager
    def writing(self, _command: str = "ingest") -> Iterator[None]:
        """No lock: Neo4j serialises writes, sessions are MERGEd by key and a dump counts only once
        committed, so two loads into one case lose nothing."""
        yield

    def forget_dump(self, sha: str) -> None:
        """``ingest --replace``: the dump becomes incomplete, then its own sessions are dropped."""
        params = {"case": self.case, "sha256": sha}
        shared = read(self.driver, "dump_shared_copies", params, self.database)
        self.shared_copies[sha] = ([r["key"] for r in shared if r["label"] == "Session"],
                                   [r["key"] for r in shared if r["label"] == "Call"])
        write(self.driver, "dump_incomplete", params, self.database)
        write(self.driver, "units_clear", {"case": self.case}, self.database)
        run_auto(self.driver, "dump_forget", params, self.database)
        run_auto(self.driver, "dump_forget_calls", params, self.database)
        # Again once the sessions are gone: units a link run built while they were being deleted
        # (batch by batch) would otherwise match the count left by an interrupted forget.
        write(self.driver, "units_clear", {"case": self.case}, self.database)

    def begin_dump(self, sha: str, name: str) -> GraphDumpWriter:
        return GraphDumpWriter(self, sha, name)

    @contextmanager
    def ingest_batch(self) -> Iterator[None]:
        """Several dumps in a row: the combined rejects.csv is rebuilt once, when the batch ends
        (per dump it re-reads every dump's report and reject file: quadratic in the dumps)."""
        if self.in_batch:
            yield
            return
        self.in_batch = True
        try:
            yield
        finally:
            self.in_batch = False
            self.rebuild_rejects()

    def rebuild_rejects(self) -> None:
        self.rejects.rebuild([r.sha256 for r in self.reports()])

    def session_key_hashes(self, exclude: str | None = None, msisdns: list[str] | None = None,
                           before: DumpReport | None = None) -> np.ndarray:
        """Key hashes of other dumps' sessions sharing a subscriber (as the workspace's; of dumps
        ingested before ``before`` only, when given)."""
        rows = read(self.driver, "other_dump_keys",
                    {"case": self.case, "sha256": exclude or "", "msisdns": msisdns or [],
                     "before_at": (before.first_ingested_at or before.ingested_at) if before else None,
                     "before_name": before.name if before else ""}, self.database)
        return key_hash_of(np.array([r["key"] for r in rows], dtype="S32"))

    def recount_after_reread(self, report: DumpReport) -> None:
        """Count again the re-delivered sessions of each session dump after ``report`` in the ingest
        order that shares a subscriber with it (as the workspace does): with other keys (another
        ``--tz``) a re-send after it may overlap it no longer, or again, and its Dump node's count
        was of the keys before."""
        if report.kind != "sessions":
            return
        mine = set(report.msisdns)
        order = (report.first_ingested_at or report.ingested_at, report.name)
        for r in session_reports(self.reports()):
            if r.sha256 != report.sha256 and mine.intersection(r.msisdns) \
                    and (r.first_ingested_at or r.ingested_at, r.name) > order:
                write(self.driver, "dump_recount_overlap", {"case": self.case, "sha256": r.sha256}, self.database)

    def reports(self) -> list[DumpReport]:
        return dump_reports(self.driver, self.case, self.database)

    def resolution_by_subscriber(self) -> dict[str, int]:
        return resolution_by_subscriber(self.reports())

    def coverage(self) -> Coverage:
        from cdrnet.analysis.observed import Coverage

        return Coverage.from_reports(self.reports())  # data-session days; CDR periods for co-location

    def calls(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
              numbers: list[str] | None = None, dumps: list[str] | None = None) -> pd.DataFrame:
        """Call events (as the workspace's) with one of ``numbers`` as a party, of ``dumps``."""
        params = {"since": int(since.timestamp()) if since is not None else None,
                  "until": int(until.timestamp()) if until is not None else None, "numbers": numbers,
                  "dumps": dumps, "case": self.case}
        return restore_calls(read_text(self.driver, call_read(), params, self.database, "call events"))

    def called(self) -> pd.DataFrame:
        """The CALLED relationships of this case (caller -> callee: calls, sms, seconds, first/last UTC)."""
        from cdrnet.analysis.contacts import AGGREGATE_COLUMNS, aggregate

        rows = read_text(self.driver, read_rels("CALLED"), {"case": self.case}, self.database, "CALLED contacts")
        if not rows:
            return aggregate(self.calls().iloc[:0])
        f = pd.DataFrame(rows)
        for name in ("first", "last"):
            f[f"{name}_utc"] = pd.to_datetime(f.pop(f"{name}_s").astype("Float64"), unit="s", utc=True).astype(
                "datetime64[s, UTC]")
        for c in ("calls", "sms", "seconds"):
            f[c] = f[c].astype("int64")
        return f[AGGREGATE_COLUMNS].sort_values(["a", "b"]).reset_index(drop=True)

    def update_called(self, sha: str) -> None:
        """Recompute CALLED for every pair with a call in dump ``sha``, from the case's call events
        (cdrnet/analysis/contacts.py counts a call seen from both ends once, as on the workspace)."""
        from cdrnet.analysis.contacts import aggregate

        mine = self.calls(dumps=[sha])
        numbers = sorted((set(mine["caller"]) | set(mine["callee"])) - {""})
        if not numbers:
            return
        agg = aggregate(self.calls(numbers=numbers))
        tz = str(mine["tz"].iloc[0]) if len(mine) and mine["tz"].iloc[0] else "UTC"  # Browser shows first/last there
        rows = [{"start": a, "end": b, "tz": tz,
                 "props": {"calls": int(c), "sms": int(m), "seconds": int(sec),
                           "first_s": int(f.timestamp()), "last_s": int(la.timestamp())}}
                for a, b, c, m, sec, f, la in agg.itertuples(index=False, name=None)]
        text = merge_rels("CALLED")
        for lo in range(0, len(rows), BATCH):
            batch = rows[lo : lo + BATCH]
            run_write(self.driver, lambda tx, b=batch: tx.run(text, {"rows": b, "case": self.case}).consume(),
                      self.database)

    def sessions(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                 msisdns: list[str] | None = None, *, columns: list[str] | None = None) -> pd.DataFrame:
        """Canonical sessions with the workspace's columns and types."""
        params = {"since": int(since.timestamp()) if since is not None else None,
                  "until": int(until.timestamp()) if until is not None else None, "msisdns": msisdns,
                  "case": self.case}
        f = restore_sessions(read_text(self.driver, session_read(), params, self.database, "sessions"))
        return f if columns is None else f[list(dict.fromkeys(["session_key", *columns]))]

    def link(self, params: LinkParams, msisdns: list[str] | None = None) -> LinkResult:
        """Score pairs inside Neo4j (episodes and matches in Cypher); nothing is written yet."""
        from cdrnet.graph.cousage import link_neo4j

        res = link_neo4j(self.driver, params, msisdns, database=self.database, write_edges=False,
                         coverage=self.coverage(), case=self.case)
        self._scopes[id(res)] = msisdns
        return res

    def write_links(self, result: LinkResult) -> str | None:
        """Write the run's links as CO_USED relationships (earlier ones between the scored subscribers go)."""
        import time
        import uuid

        from cdrnet.graph.cousage import scope_subscribers, write_co_used

        scope = scope_subscribers(self.driver, result.params, self._scopes.pop(id(result), None), self.database,
                                  self.case)
        tz = result.coverage.tz if result.coverage is not None else "UTC"
        t0 = time.perf_counter()
        # Every parameter goes onto the run's LinkRun node: map, summary, report and evidence
        # reproduce this run from it (issue 15: one network everywhere).
        params = {**result.params.to_dict(), "subscribers": result.subscribers}
        write_co_used(self.driver, result.edges, uuid.uuid4().hex[:12], self.database, self.case, scope, tz, params)
        result.steps["writing CO_USED"] = time.perf_counter() - t0
        return f"links written as CO_USED relationships to {self.describe()}"

    def stored_links(self) -> pd.DataFrame | None:
        """The CO_USED links of this case (edges.csv columns; first/last in UTC), or None before any link run."""
        rows = read_text(self.driver, read_rels("CO_USED"), {"case": self.case}, self.database, "CO_USED links")
        if not rows:
            return None
        f = pd.DataFrame(rows)
        for name in ("first", "last"):
            f[f"{name}_utc"] = pd.to_datetime(f.pop(f"{name}_s").astype("Float64"), unit="s", utc=True)
        # The run's parameters live once on its LinkRun node (issue 20: evidence apart from parameters).
        runs = pd.DataFrame(read(self.driver, "link_runs", {"case": self.case}, self.database),
                            columns=["run", *CO_USED_RUN_PARAMS])
        f = f.merge(runs, on="run", how="left")
        cols = ["a", "b", *CO_USED_EDGE_COLUMNS, "first_utc", "last_utc"]
        return f[cols].sort_values("score", ascending=False, kind="stable").reset_index(drop=True)

    def last_link_run(self) -> StoredLinkRun | None:
        """The latest LinkRun's parameters with the case's CO_USED links (Neo4j keeps links only)."""
        rows = read(self.driver, "link_run_latest", {"case": self.case}, self.database)
        if not rows:
            return None
        props = {k: v for k, v in rows[0]["props"].items() if k not in ("at", "case", "run")}
        at = pd.Timestamp(rows[0]["at_ms"], unit="ms", tz="UTC") if rows[0]["at_ms"] is not None else None
        edges = self.stored_links()
        if edges is None:
            edges = pd.DataFrame(columns=["a", "b", *CO_USED_EDGE_COLUMNS, "first_utc", "last_utc"])
        return StoredLinkRun(edges, props, at, all_pairs=False)
    def import_cell_list(self, cell_list: CellList) -> None:
        """The list's table stays in the case folder; Neo4j gets a CellList node with its accounting."""
        self.site_lists.save(cell_list)
        rep = cell_list.report
        props = {"file_name": rep.name, "kind": rep.kind, "lines_read": rep.lines_read, "loaded": rep.loaded,
                 "rejected": json.dumps(rep.rejected), "nondata": rep.nondata, "cells": rep.cells,
                 "imported_at": rep.imported_at}
        run_write(self.driver, lambda tx: tx.run(merge_nodes("CellList"),
                                                 {"rows": [{"key": rep.sha256, "props": props}],
                                                  "case": self.case}).consume(), self.database)

    def write_places(self, placed: pd.DataFrame) -> str | None:
        """Set each placed cell's position, source and match on its Cell node (in batches)."""
        rows = place_rows(placed)
        text = merge_nodes("Cell")
        for lo in range(0, len(rows), BATCH):
            batch = rows[lo : lo + BATCH]
            run_write(self.driver, lambda tx, b=batch: tx.run(text, {"rows": b, "case": self.case}).consume(),
                      self.database)
        return f"{len(rows):,} cell positions written to {self.describe()}"

    def query(self, name: str, params: dict) -> list[dict]:
        """Run a checked query file of cypher/ in this case ($case is always this store's)."""
        return read(self.driver, name, {**params, "case": self.case} if "case" in params else params, self.database)

    def close(self) -> None:
        self.driver.close()
