"""The Neo4j store: the same canonical sessions the workspace gets, as a Browser-ready graph.

Loading is one write path (UNWIND $rows in batches, one transaction per batch,
retried on transient errors), scoped to one dump: the Dump node is marked
complete only after every batch, and MERGE on declared keys makes a re-run of
an interrupted load end with exactly the right graph. Nothing is ever deleted.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from cdrnet.graph.connection import read, run_write, write
from cdrnet.graph.model import SESSION, schema_statements
from cdrnet.graph.writes import load_sessions, merge_nodes
from cdrnet.loader.normalize import key_hash_of
from cdrnet.loader.quality import DumpReport, resolution_by_subscriber
from neo4j import Driver, ManagedTransaction

from cdrnet.errors import GraphError
from cdrnet.model import SESSION_COLUMNS
from cdrnet.workspace import REJECT_COLUMNS

BATCH = 10_000
DEFAULT_CASE = "default"


def _seconds(ts: pd.Series) -> np.ndarray:
    arr = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    out = arr.astype(np.int64).astype(object)
    out[np.isnat(arr)] = None
    return out


def session_rows(sessions: pd.DataFrame) -> list[dict]:
    """Bolt parameters for a batch: key plus the declared properties (None when missing).

    Times travel as epoch seconds (packing Python datetimes is ten times slower);
    the DATETIME properties are computed by Cypher.
    """
    f = sessions
    cols: dict[str, np.ndarray] = {"msisdn": f["msisdn"].to_numpy(dtype=object),
                                   "start_s": _seconds(f["start_utc"]), "end_s": _seconds(f["end_utc"])}
    vendor = f["app_vendor"].fillna("")
    cols["service"] = vendor.where(vendor != "", f["app"].fillna("")).to_numpy(dtype=object)
    for c in SESSION.properties:
        if c not in cols:
            col = f[c]
            cols[c] = col.astype(object).where(col.notna(), None).to_numpy()
    names = list(cols)
    values = [c.tolist() for c in cols.values()]
    return [{"key": k, "props": dict(zip(names, v, strict=True))}
            for k, v in zip(f["session_key"].tolist(), zip(*values, strict=True), strict=True)]


class GraphDumpWriter:
    """Writes one dump's sessions in batches; rejects go to a local CSV beside the workspace."""

    def __init__(self, store: GraphStore, sha: str, name: str) -> None:
        self.store, self.sha, self.name = store, sha, name
        self.sent = 0
        write(store.driver, "dump_begin", {"case": store.case, "sha256": sha, "file_name": name}, store.database)
        store.rejects_dir.mkdir(parents=True, exist_ok=True)
        self.rejects_path = store.rejects_dir / f"{sha}.csv"
        self.tmp_rejects = store.rejects_dir / f".{sha}.csv.tmp-{os.getpid()}"
        self.rejects_fh = open(self.tmp_rejects, "w", encoding="utf-8", newline="")
        pd.DataFrame(columns=REJECT_COLUMNS).to_csv(self.rejects_fh, index=False)

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
    def _plan(f: pd.DataFrame) -> list[tuple[str, list[dict]]]:
        rows = session_rows(f)
        subs = [{"key": m, "props": {}} for m in f["msisdn"].unique()]
        apps_f = f[f["app"].fillna("") != ""].drop_duplicates("app")
        apps = [{"key": a, "props": {"vendor": v, "category": c}}
                for a, v, c in zip(apps_f["app"], apps_f["app_vendor"], apps_f["app_category"], strict=True)]
        cells = [{"key": c, "props": {}} for c in f["cell_id"].fillna("").unique() if c]
        load_text = load_sessions()
        return [(merge_nodes("Subscriber"), subs), (merge_nodes("Application"), apps), (merge_nodes("Cell"), cells),
                (load_text, rows)]

    def _send(self, plan: list[tuple[str, list[dict]]]) -> None:
        load_text = load_sessions()

        def work(tx: ManagedTransaction) -> list[int]:
            done = []
            for text, batch in plan:
                params = {"rows": batch, "case": self.store.case}
                if text is load_text:
                    params["sha256"] = self.sha
                done.append(tx.run(text, params).single()["rows"] if batch else 0)
            return done

        done = run_write(self.store.driver, work, self.store.database)
        sent = [len(b) for _, b in plan]
        if done != sent:
            raise GraphError(f"Neo4j wrote {done} rows for a batch of {sent} (subscribers, applications, cells, sessions)",
                             "run the same command again: loads are idempotent")
        self.sent += sent[-1]

    def write_rejects(self, lines: list[int], reasons: list[str], texts: list[str], part: str) -> None:
        pd.DataFrame({"file": self.name, "sha256": self.sha, "part": part, "line": lines, "reason": reasons,
                      "raw": texts}).to_csv(self.rejects_fh, index=False, header=False)

    def commit(self, report: DumpReport) -> None:
        self.rejects_fh.close()
        os.replace(self.tmp_rejects, self.rejects_path)
        case = self.store.case
        stored = read(self.store.driver, "dump_session_count", {"case": case, "sha256": self.sha},
                      self.store.database)[0]["sessions"]
        if stored != report.loaded:
            raise GraphError(f"dump {self.sha[:12]}: Neo4j holds {stored} sessions, the parser loaded {report.loaded}",
                             "run the same command again: loads are idempotent")
        write(self.store.driver, "equipment", {"case": case, "msisdns": report.msisdns}, self.store.database)
        props = {k: (json.dumps(v) if isinstance(v, dict | list) else v) for k, v in report.to_dict().items()}
        props["msisdns"] = report.msisdns
        props["file_name"] = report.name
        props["rows"] = report.lines_read
        props["loaded_at"] = report.ingested_at
        props["case"] = case
        write(self.store.driver, "dump_commit", {"case": case, "sha256": self.sha, "props": props}, self.store.database)

    def abort(self) -> None:
        # Never delete after a failed load: the Dump stays incomplete and a re-run completes it.
        self.rejects_fh.close()
        self.tmp_rejects.unlink(missing_ok=True)


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


class GraphStore:
    """Store interface (as the workspace) over a Neo4j database."""

    def __init__(self, driver: Driver, rejects_dir: str | Path, database: str | None = None,
                 case: str = DEFAULT_CASE) -> None:
        self.driver = driver
        self.database = database
        #: Every node this store writes or reads belongs to this case (Neo4j Community has one
        #: database; cases live side by side in it).
        self.case = case
        self.rejects_dir = Path(rejects_dir)

    def create_schema(self) -> None:
        for stmt in schema_statements():
            self.driver.execute_query(stmt, database_=self.database)
        self.driver.execute_query("CALL db.awaitIndexes(300)", database_=self.database)

    def has_dump(self, sha: str) -> bool:
        return read(self.driver, "dump_status", {"case": self.case, "sha256": sha}, self.database)[0]["complete"] is True

    def begin_dump(self, sha: str, name: str) -> GraphDumpWriter:
        return GraphDumpWriter(self, sha, name)

    def session_key_hashes(self, exclude: str | None = None, msisdns: list[str] | None = None) -> np.ndarray:
        """Key hashes of other dumps' sessions sharing a subscriber (as the workspace's)."""
        rows = read(self.driver, "other_dump_keys", {"case": self.case, "sha256": exclude or "", "msisdns": msisdns or []}, self.database)
        return key_hash_of(np.array([r["key"] for r in rows], dtype="S32"))

    def reports(self) -> list[DumpReport]:
        return dump_reports(self.driver, self.case, self.database)

    def resolution_by_subscriber(self) -> dict[str, int]:
        return resolution_by_subscriber(self.reports())

    def sessions(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                 msisdns: list[str] | None = None) -> pd.DataFrame:
        """Canonical sessions with the workspace's columns and types."""
        params = {"since": int(since.timestamp()) if since is not None else None,
                  "until": int(until.timestamp()) if until is not None else None, "msisdns": msisdns,
                  "case": self.case}
        rows = read(self.driver, "sessions", params, self.database)
        f = pd.DataFrame(rows)
        if f.empty:
            return pd.DataFrame(columns=SESSION_COLUMNS)
        for col in ("start", "end"):
            f[f"{col}_utc"] = pd.to_datetime(f.pop(f"{col}_s").astype("Float64"), unit="s", utc=True).astype("datetime64[s, UTC]")
        for col in ("alloc_start_utc", "alloc_end_utc"):
            f[col] = pd.Series(pd.NaT, index=f.index, dtype="datetime64[s, UTC]")
        for col in ("src_port", "public_port", "dest_port"):
            f[col] = (f[col] if col in f else pd.Series(pd.NA, index=f.index)).astype("Int32")
        for col in ("uplink", "downlink", "source_line"):
            f[col] = f[col].astype("Int64")
        for col in SESSION_COLUMNS:
            if col not in f:
                f[col] = ""
            if f[col].dtype == object:
                f[col] = f[col].astype("string").fillna("")
        return f[SESSION_COLUMNS].sort_values(["msisdn", "start_utc", "session_key"], kind="stable").reset_index(drop=True)
