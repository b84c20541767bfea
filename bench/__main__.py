"""Benchmarks: every stage against its floor, measured side by side in one run.

    python -m bench            # full sizes (by hand; minutes), rewrites docs/benchmarks.md
    python -m bench --quick    # small sizes (CI smoke test), prints and writes bench/out/ only

Ratios are what matter: this machine is noisy, so no benchmark asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cdrnet.allocator import tune_process

# Every stage, ours and the pyarrow floors, runs with the options the commands set: Arrow's pool
# and OpenBLAS's are read when pyarrow and numpy load, so they are set here before either loads,
# and the child processes inherit them. The floors ran without them until the twelfth round: with
# mimalloc's transparent huge pages the kernel compacted memory in the floor's page faults, and
# pyarrow's read of the 1M-row file took 1.7-4.6 CPU s instead of 0.54-0.75 (docs/benchmarks.md,
# "The floor and transparent huge pages"): a floor that slow flattered every ratio against it.
tune_process()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Run from a checkout (editable install or ``python -m bench`` at its root), a full run updates the
#: docs and bench/results.csv; installed elsewhere (a plain ``pip install .``) the bench writes only
#: to ./cdrnet-bench/ in the current folder and never needs the repository.
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "docs" / "benchmarks.md").is_file()
DOC = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / "results.csv"
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


def compile_package() -> None:
    """Write the bytecode of cdrnet's modules before anything is timed.

    An installed package has its ``.pyc`` files (pip writes them); a checkout run with
    ``PYTHONDONTWRITEBYTECODE=1`` (set on these machines) compiled every module cdrnet imports
    lazily inside the timed part, in each measured process and in each of its worker processes:
    0.09-0.12 CPU s a process that a user never pays. Writing needs no permission beyond the
    package's folders; where they are read-only (a system install) they are compiled already.
    """
    import compileall
    import importlib

    for name in ("cdrnet", "cdrnet.loader", "cdrnet.graph", "cdrnet.viz"):
        for folder in importlib.import_module(name).__path__:
            compileall.compile_dir(folder, quiet=2, workers=1)


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def child(code: str, extra: dict | None = None) -> tuple[float, float]:
    """Run Python code in a fresh process (with this process's environment: the commands' process
    options); return (seconds it reports, peak RSS in MB). Other keys it reports are copied into
    ``extra``."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT if CHECKOUT else None)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if extra is not None:
        extra.update(data)
    return data["seconds"], data["rss_mb"]


def make_dump(path: Path, rows: int, subscribers: int | None = None) -> int:
    """One large paper-layout dump (the simulator's subscribers concatenated).

    About 10,000 sessions per subscriber (at least 50 subscribers): 10M rows are
    1,000 subscribers, the case-scale target of the co-usage benchmark.
    """
    subscribers = subscribers or max(50, rows // 10_000)
    from dataclasses import replace

    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import days_for_rows, simulate

    sc = build_scenario("easy", subscribers=subscribers, seed=3)
    sc = replace(sc, days=days_for_rows(sc, rows))
    tmp = path.parent / "sim"
    summary = simulate(sc, tmp)
    with open(path, "w", encoding="utf-8") as fo:
        for i, f in enumerate(sorted((tmp / "dumps").glob("*.csv"))):
            with open(f, encoding="utf-8") as fi:
                head = fi.readline()
                if i == 0:
                    fo.write(head)
                shutil.copyfileobj(fi, fo)
    shutil.rmtree(tmp)
    return summary["sessions"]


PARSE_OURS = """
import json, time, resource, sys
from bench.peak import peak_mb
from cdrnet.allocator import keep_heap
from cdrnet.workspace import Workspace
from cdrnet.loader.ingest import ingest_paths
from cdrnet.loader.layouts import builtin_layouts
from cdrnet.loader.normalize import Options
from cdrnet.loader.signatures import load_signatures
keep_heap()  # as `cdrnet ingest` does
ws = Workspace({ws!r}).create()
me = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = me.ru_utime + me.ru_stime  # imports and workspace set-up are not the work measured
t0 = time.perf_counter()
r = ingest_paths([{path!r}], ws, builtin_layouts(), Options(rules=load_signatures("modern"), date_order="dmy"),
                 "modern", show_progress=False, workers={workers})
assert r.loaded and r.loaded[0].accounted
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"seconds": time.perf_counter() - t0,
                  "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - cpu0,
                  "rss_mb": peak_mb(),
                  "workers": r.workers}}))
"""

PARSE_FLOOR = """
import json, time, resource
import pyarrow.csv as pc
from bench.peak import peak_mb
me = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = me.ru_utime + me.ru_stime
t0 = time.perf_counter()
pc.read_csv({path!r})
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": time.perf_counter() - t0, "cpu_s": me.ru_utime + me.ru_stime - cpu0,
                  "rss_mb": peak_mb()}}))
"""

PARSE_WRITE = """
import glob, json, resource, time
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from bench.peak import peak_mb
from cdrnet.workspace import STORED_PARQUET_OPTIONS, STORED_SESSION_SCHEMA, arrow_table
# Text as the normaliser hands it to the writer: Arrow strings behind pandas, not Python objects.
frame = pq.read_table(glob.glob({ws!r} + "/dumps/*.parquet")[0]).to_pandas(
    types_mapper={{pa.string(): pd.StringDtype("pyarrow")}}.get)
t0 = time.perf_counter()
# As the workspace writes it: the frame to Arrow (repeating texts as dictionaries), then Parquet.
pq.write_table(arrow_table(frame, STORED_SESSION_SCHEMA), {out!r}, **STORED_PARQUET_OPTIONS)
print(json.dumps({{"seconds": time.perf_counter() - t0,
                  "rss_mb": peak_mb()}}))
"""


def bench_parse(work: Path, sizes: list[int], repeats: int) -> tuple[list[dict], Path]:
    """Ingest with one thread and with a worker thread per core (``--workers N``), against the floor,
    side by side.

    Returns the rows and the workspace of the largest size (reused by the later stages).
    """
    rows = []
    auto = max(2, os.cpu_count() or 1)
    ws_path = work / "ws"
    for n in sizes:
        path = work / f"dump_{n}.csv"
        sessions = make_dump(path, n)
        # The file's pages on disk before any timing: in the 2026-12-02 00:05 run the floor's read of
        # the 10M-row file, seconds after it was written, took 4x its time alone (docs/benchmarks.md).
        os.sync()
        reps = repeats if n <= 2_000_000 else 1
        times: dict[str, list[float]] = {"1": [], "auto": [], "floor": []}
        cpu: dict[str, list[float]] = {"1": [], "auto": [], "floor": []}
        rss: dict[str, float] = {"1": 0.0, "auto": 0.0, "floor": 0.0}
        used: dict[str, int] = {}
        for _ in range(reps):
            for label, workers in (("auto", auto), ("1", 1)):
                shutil.rmtree(ws_path, ignore_errors=True)
                info: dict = {}
                t, r = child(PARSE_OURS.format(ws=str(ws_path), path=str(path), workers=workers), info)
                used[label] = info["workers"]
                times[label].append(t)
                cpu[label].append(info["cpu_s"])
                rss[label] = max(rss[label], r)
            info = {}
            t, r = child(PARSE_FLOOR.format(path=str(path)), info)
            times["floor"].append(t)
            cpu["floor"].append(info["cpu_s"])
            rss["floor"] = max(rss["floor"], r)
        # How much of our time is only writing the result (the same rows, already in memory).
        write_s, _ = child(PARSE_WRITE.format(ws=str(ws_path), out=str(work / "rewrite.parquet")))
        (work / "rewrite.parquet").unlink(missing_ok=True)
        f = statistics.median(times["floor"])
        # One dump's blocks go to worker threads (loader.ingest.parse_pool); processes until 2026-12-01.
        names = {"1": "1 process", "auto": f"{used['auto']} worker threads" if used["auto"] > 1
                 else "1 process (file too small for workers)"}
        for label, name in (("1", names["1"]), ("auto", names["auto"])):
            o = statistics.median(times[label])
            rows.append({"stage": f"parse+normalise+classify, {name}", "size": sessions, "ours_s": o,
                         "reference": "pyarrow.csv.read_csv", "reference_s": f, "ratio": o / f,
                         "rows_per_s": sessions / o, "peak_rss_mb": rss[label], "reference_rss_mb": rss["floor"],
                         "bytes": path.stat().st_size})
        rows.append({"stage": "  of which: writing the sessions as Parquet (zstd), alone", "size": sessions,
                     "ours_s": write_s, "reference": "pyarrow.csv.read_csv", "reference_s": f, "ratio": write_s / f})
        # CPU seconds of all threads and processes: what the work costs whatever else the machine runs.
        fc = statistics.median(cpu["floor"])
        for label, name in (("1", names["1"]), ("auto", names["auto"])):
            o = statistics.median(cpu[label])
            rows.append({"stage": f"  parse CPU seconds (all processes), {name}", "size": sessions, "ours_s": o,
                         "reference": "pyarrow.csv.read_csv CPU seconds", "reference_s": fc, "ratio": o / fc})
        path.unlink()
    return rows, ws_path


def two_subscribers(n: int, seed: int = 1) -> pd.DataFrame:
    """Worst case for the paper's loop: two subscribers, n sessions each, all on one port."""
    from bench.sessions import frame, sess

    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2024-01-01")
    rows = []
    for m in ("919800000001", "919800000002"):
        for t in np.sort(rng.integers(0, 14 * 86400, n)):
            rows.append(sess(m, str(base + pd.Timedelta(seconds=int(t)))))
    return frame(rows)


def bench_many_stage(work: Path, quick: bool, args: argparse.Namespace) -> list[dict]:
    """The many-dump shape of real cases (issue 17): see bench/manydumps.py."""
    from bench.manydumps import bench_many_dumps

    files = args.many_files or (24 if quick else 400)
    rows = args.many_rows or (24_000 if quick else 3_000_000)
    return bench_many_dumps(work, files, rows, args.many_repeats or (1 if quick else 3), child,
                            Path(args.many_case) if args.many_case else None)


def bench_cousage(sizes_naive: list[int], sizes_ours: list[int], repeats: int) -> tuple[list[dict], pd.DataFrame]:
    from cdrnet.analysis.baseline import naive_pairs
    from cdrnet.analysis.cousage import LinkParams, link
    from cdrnet.analysis.units import epoch_seconds

    rows, curve = [], []
    for n in sorted(set(sizes_naive) | set(sizes_ours)):
        f = two_subscribers(n)
        ours = median_time(lambda f=f: link(f, LinkParams(colocation=False)), repeats)
        curve.append({"method": "cdrnet", "sessions": 2 * n, "seconds": ours})
        rec = {"stage": "co-usage, two subscribers", "size": 2 * n, "ours_s": ours}
        if n in sizes_naive:
            a = f[f["msisdn"] == "919800000001"]
            b = f[f["msisdn"] == "919800000002"]
            args = (a["dest_port"].tolist(), epoch_seconds(a["start_utc"]).tolist(), b["dest_port"].tolist(),
                    epoch_seconds(b["start_utc"]).tolist(), 180)
            naive = median_time(lambda args=args: naive_pairs(*args), 1 if n > 3000 else repeats)
            curve.append({"method": "paper (naive loop)", "sessions": 2 * n, "seconds": naive})
            rec.update({"reference": "paper's O(n^2) loop", "reference_s": naive, "ratio": ours / naive})
        rows.append(rec)
    c = pd.DataFrame(curve)
    for method, g in c.groupby("method"):
        g = g[g["sessions"] >= 1000]
        if len(g) >= 2:
            slope = np.polyfit(np.log(g["sessions"]), np.log(np.maximum(g["seconds"], 1e-6)), 1)[0]
            rows.append({"stage": f"growth exponent ({method})", "size": int(g["sessions"].max()),
                         "ours_s": float("nan"), "reference": "log-log slope, sizes >= 1000", "ratio": slope})
    return rows, c


LINK_SCALE = """
import json, time
from bench.peak import peak_mb
from cdrnet.analysis.cousage import LinkParams
from cdrnet.workspace import Workspace
t0 = time.perf_counter()
res = Workspace({ws!r}).link(LinkParams())
print(json.dumps({{"seconds": time.perf_counter() - t0, "rss_mb": peak_mb(), "pairs": len(res.edges),
                  "sessions": res.sessions, "subscribers": res.subscribers}}))
"""


def bench_link_scale(ws_path: Path) -> list[dict]:
    """``cdrnet link``'s work on the largest parsed workspace (10M sessions / 1,000 subscribers in
    full mode), in a fresh process as the command runs it: the read (only the engine's columns,
    repeating texts as categoricals) and the scoring, with the process's peak memory."""
    info: dict = {}
    secs, rss = child(LINK_SCALE.format(ws=str(ws_path)), info)
    return [{"stage": f"link (read + score, as cdrnet link), {info['subscribers']} subscribers",
             "size": info["sessions"], "ours_s": secs, "rows_per_s": info["sessions"] / secs,
             "peak_rss_mb": rss, "reference": f"{info['pairs']} scored pairs"}]


def neo4j_home() -> Path | None:
    """The local server's folder (LOAD CSV reads its import/): CDRNET_NEO4J_HOME, else scripts/neo4j-local's."""
    if os.environ.get("CDRNET_NEO4J_HOME"):
        return Path(os.environ["CDRNET_NEO4J_HOME"])
    script = ROOT / "scripts" / "neo4j-local"
    if not script.is_file():
        return None
    out = subprocess.run([str(script), "home"], capture_output=True, text=True).stdout.strip()
    return Path(out) if out else None


def load_csv_body() -> str:
    """The per-row body of the LOAD CSV reference (``r``: key and props; ``d``: the Dump node):
    Subscriber, Application and Cell looked up per row, the Session MERGEd by its key with each
    property SET, HAD, CONTAINS, OF_APP and AT_CELL MERGEd, in case 'bench'."""
    from cdrnet.graph.writes import NODE_BY_LABEL, _set_each

    return "\n".join([
        "MATCH (sub:Subscriber {case: 'bench', msisdn: r.props.msisdn})",
        "OPTIONAL MATCH (a:Application {case: 'bench', name: r.props.app})",
        "OPTIONAL MATCH (c:Cell {case: 'bench', cell_id: r.props.cell_id})",
        "MERGE (s:Session {case: 'bench', session_key: r.key})",
        f"SET {_set_each(NODE_BY_LABEL['Session'], 's')}",
        "MERGE (sub)-[:HAD]->(s)",
        "MERGE (d)-[:CONTAINS]->(s)",
        "FOREACH (x IN CASE WHEN a IS NULL THEN [] ELSE [a] END | MERGE (s)-[:OF_APP]->(x))",
        "FOREACH (x IN CASE WHEN c IS NULL THEN [] ELSE [c] END | MERGE (s)-[:AT_CELL]->(x))",
        "RETURN count(*) AS rows",
    ])


def bench_neo4j(ws_path: Path, work: Path, limit: int) -> list[dict]:
    """Neo4j load: our batched writer vs LOAD CSV of the same ``limit`` rows, and Neo4j's own ceilings."""
    from cdrnet.errors import GraphError
    from cdrnet.graph.connection import connect
    from cdrnet.graph.scratch import wipe as scratch_wipe
    from cdrnet.graph.store import GraphStore, session_rows
    from cdrnet.workspace import Workspace

    uri = os.environ.get("CDRNET_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
    try:
        driver = connect(uri, "neo4j", os.environ.get("NEO4J_PASSWORD", "cdrnet-dev-password"))
    except Exception as exc:  # noqa: BLE001 - reported, the other benchmarks still run
        return [{"stage": "neo4j", "size": 0, "reference": f"skipped: {exc}"}]
    home = neo4j_home()
    if home is None:
        driver.close()
        return [{"stage": "neo4j", "size": 0, "reference": "skipped: the server's folder is unknown (set "
                 "CDRNET_NEO4J_HOME, or run from a checkout with scripts/neo4j-local)"}]
    frame = Workspace(ws_path).sessions().head(limit)  # all columns: the graph load sends them

    def wipe() -> None:
        scratch_wipe(driver)  # refuses a database holding data the benchmark did not create

    try:
        wipe()
    except GraphError as exc:
        return [{"stage": "neo4j", "size": 0, "reference": f"skipped: {exc}"}]
    store = GraphStore(driver, work / "rej", case="bench")
    from cdrnet.graph.connection import write

    def ours_load(f: pd.DataFrame) -> float:
        wipe()
        store.create_schema()
        write(driver, "dump_begin", {"case": "bench", "sha256": "bench", "file_name": "bench"})
        w = store.begin_dump("bench", "bench")
        t0 = time.perf_counter()
        w.write_sessions(f)
        secs = time.perf_counter() - t0
        w.abort()
        return secs

    # The same rows through LOAD CSV from the import folder: the writer's MERGE statement as it was
    # before it sent columns (rows of maps), with per-row lookups (LOAD CSV has no batch to look
    # nodes up once for). Kept as it was so the reference does not move with the writer.
    body = load_csv_body()
    ints = ("start_s", "end_s", "dest_port", "uplink", "downlink", "source_line")

    def csv_load(f: pd.DataFrame) -> tuple[float, list[dict]]:
        wipe()
        store.create_schema()
        write(driver, "dump_begin", {"case": "bench", "sha256": "bench", "file_name": "bench"})
        rows = session_rows(f)
        flat = pd.DataFrame([{"key": r["key"], **r["props"]} for r in rows])
        (home / "import").mkdir(parents=True, exist_ok=True)
        flat.to_csv(home / "import" / "bench_sessions.csv", index=False)
        subs = [{"key": m, "props": {}} for m in f["msisdn"].unique()]
        apps = [{"key": a, "props": {}} for a in f["app"].unique() if a]
        cells = [{"key": c, "props": {}} for c in f["cell_id"].unique() if c]
        with driver.session() as s:
            s.run("UNWIND $rows AS r MERGE (:Subscriber {case: 'bench', msisdn: r.key})", rows=subs).consume()
            s.run("UNWIND $rows AS r MERGE (:Application {case: 'bench', name: r.key})", rows=apps).consume()
            s.run("UNWIND $rows AS r MERGE (:Cell {case: 'bench', cell_id: r.key})", rows=cells).consume()
        conv = ", ".join(f"{k}: CASE WHEN row.{k} IS NULL THEN NULL ELSE toInteger(row.{k}) END" if k in ints
                         else f"{k}: row.{k}"
                         for k in flat.columns if k != "key")
        text = ("LOAD CSV WITH HEADERS FROM 'file:///bench_sessions.csv' AS row "
                "CALL (row) { MATCH (d:Dump {case: 'bench', sha256: 'bench'}) "
                "WITH d, {key: row.key, props: {" + conv + "}} AS r "
                + body.replace("RETURN count(*) AS rows", "") + " } IN TRANSACTIONS OF 10000 ROWS")
        t0 = time.perf_counter()
        with driver.session() as s:
            s.run(text).consume()
        return time.perf_counter() - t0, rows

    # Warm the server up first (untimed): whichever of the two ran first on a freshly started
    # server paid its JIT and page-cache warm-up, and that was always the writer (docs/benchmarks.md).
    warm = frame.head(20_000)
    ours_load(warm)
    csv_load(warm)
    ours = ours_load(frame)
    loadcsv, rows = csv_load(frame)
    out = [{"stage": "Neo4j load (sessions + HAD, CONTAINS, OF_APP, AT_CELL)", "size": len(frame), "ours_s": ours,
            "reference": "LOAD CSV of the same rows", "reference_s": loadcsv, "ratio": ours / loadcsv,
            "rows_per_s": len(frame) / ours}]
    out += neo4j_ceilings(driver, rows, wipe, store, ours, frame)
    wipe()
    driver.close()
    return out


def bench_first_load(ws_path: Path, work: Path, n: int) -> list[dict]:
    """First load of the same ``n`` sessions (one dump) into an empty Neo4j both ways, side by side:
    the offline importer (files, server stop, neo4j-admin, server start, constraints and indexes, count
    check) and the batched Bolt writer (sessions, relationships, usage summaries). Co-usage in Cypher
    against the embedded engine runs on the imported graph (issue 17, items 2 and 3).

    Each load starts from an empty scratch database (only the marker), as a first load does: the
    database is emptied between them by importing the marker alone (graph/bulk.py ``empty_scratch``,
    a server restart), not by deleting a million sessions through transactions (~10 minutes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cdrnet.analysis.cousage import LinkParams, link
    from cdrnet.analysis.observed import Coverage
    from cdrnet.errors import GraphError
    from cdrnet.graph.bulk import bulk_load, empty_scratch
    from cdrnet.graph.connection import connect
    from cdrnet.graph.cousage import link_neo4j
    from cdrnet.graph.scratch import claim
    from cdrnet.graph.store import GraphStore
    from cdrnet.loader.quality import DumpReport
    from cdrnet.model import SESSION_SCHEMA
    from cdrnet.workspace import Workspace

    uri = os.environ.get("CDRNET_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
    script = ROOT / "scripts" / "neo4j-local"

    def driver_():
        return connect(uri, "neo4j", os.environ.get("NEO4J_PASSWORD", "cdrnet-dev-password"))

    def empty() -> float:
        t0 = time.perf_counter()
        empty_scratch(uri, script, driver_, work=work / "bulk")
        return time.perf_counter() - t0

    try:
        driver = driver_()
        claim(driver)  # refuses a database holding data the benchmark did not create
        driver.close()
        (work / "bulk").mkdir(parents=True, exist_ok=True)
        empty()
    except Exception as exc:  # noqa: BLE001 - reported, the other benchmarks still run
        return [{"stage": "Neo4j first load", "size": 0, "reference": f"skipped: {exc}"}]
    frame = Workspace(ws_path).sessions().head(n).reset_index(drop=True)
    report = DumpReport(name="bench", sha256="bench", size=None, loaded=len(frame), lines_read=len(frame),
                        msisdns=sorted(frame["msisdn"].unique()), ingested_at="2024-01-01T00:00:00+00:00")
    parquet = work / "bulk" / "bench.parquet"
    pq.write_table(pa.Table.from_pandas(frame, schema=SESSION_SCHEMA, preserve_index=False), parquet)
    try:
        res = bulk_load([(report, parquet)], uri, script, "bench", driver_, work=work / "bulk")
    except GraphError as exc:
        return [{"stage": "Neo4j first load", "size": len(frame), "reference": f"bulk import failed: {exc}"}]
    # Co-usage in Cypher against the embedded engine, on the imported graph.
    driver = driver_()
    t0 = time.perf_counter()
    observed = Coverage.from_sessions(frame)  # the same periods for both engines
    cy_res = link_neo4j(driver, LinkParams(), write_edges=False, coverage=observed, case="bench")
    cy = time.perf_counter() - t0
    # A later run: the co-usage units (written by the import) stand in for the sessions again.
    t0 = time.perf_counter()
    cy2_res = link_neo4j(driver, LinkParams(), write_edges=False, coverage=observed, case="bench")
    cy2 = time.perf_counter() - t0
    # The embedded engine: the median of three runs after one untimed (a single timing varied
    # 1.3-2.4 s between full runs at 1M, so the Cypher ratio moved with it).
    emb_res = link(frame, LinkParams(), coverage=observed)
    emb = median_time(lambda: link(frame, LinkParams(), coverage=observed), 3)
    driver.close()
    def scores(res) -> pd.DataFrame:  # noqa: ANN001 - a LinkResult
        return res.edges[["a", "b", "score"]].round(9).sort_values(["a", "b"]).reset_index(drop=True)

    same = scores(cy_res).equals(scores(emb_res)) and scores(cy2_res).equals(scores(emb_res))
    # The Bolt writer, from an empty database too.
    emptied = empty()
    driver = driver_()
    store = GraphStore(driver, work / "rej", case="bench")
    store.create_schema()
    t0 = time.perf_counter()
    w = store.begin_dump("bench", "bench")
    w.write_sessions(frame)
    w.commit(report)
    bolt = time.perf_counter() - t0
    driver.close()
    # The stop overlaps the importer (graph/bulk.py): only the start is on the way.
    restart = res.steps["starting the server"]
    out = [{"stage": "Neo4j first load: bulk import, end to end", "size": len(frame), "ours_s": res.seconds,
            "reference": "Bolt writer, same sessions", "reference_s": bolt, "ratio": res.seconds / bolt,
            "rows_per_s": len(frame) / res.seconds},
           {"stage": "Neo4j first load: bulk import without the server start", "size": len(frame),
            "ours_s": res.seconds - restart, "reference": "Bolt writer, same sessions", "reference_s": bolt,
            "ratio": (res.seconds - restart) / bolt, "rows_per_s": len(frame) / (res.seconds - restart)},
           {"stage": "Neo4j first load: Bolt writer (sessions, relationships, summaries)", "size": len(frame),
            "ours_s": bolt, "rows_per_s": len(frame) / bolt}]
    out += [{"stage": f"  of which bulk step: {step}", "size": len(frame), "ours_s": secs}
            for step, secs in res.steps.items()]
    reference = "embedded engine, median of 3 warm runs" + ("" if same else " (EDGES DIFFER)")
    for label, secs, res_ in (("co-usage in Cypher, first run after the bulk import (its units imported)", cy, cy_res),
                              ("co-usage in Cypher, a later run (stored units)", cy2, cy2_res)):
        out.append({"stage": label, "size": len(frame), "ours_s": secs, "reference": reference,
                    "reference_s": emb, "ratio": secs / emb})
        out += [{"stage": f"  of which Cypher step: {step}", "size": len(frame), "ours_s": t}
                for step, t in sorted(res_.steps.items(), key=lambda kv: -kv[1])]
    # Cleanup: the scratch database emptied the same way (a restart, not ~10 minutes of deletes).
    out.append({"stage": "emptying the scratch database by import (mean of 2: between the loads, clean-up)",
                "size": len(frame), "ours_s": (emptied + empty()) / 2})
    return out


def neo4j_ceilings(driver, rows: list[dict], wipe, store, ours: float, frame: pd.DataFrame) -> list[dict]:
    """What Neo4j itself allows on these rows, with the same batches and transactions:
    Bolt transfer alone (UNWIND, nothing written) and the Session nodes alone (same
    properties, no relationships, no lookups), once without the ``case`` property (no index
    entry is written: the row earlier runs reported as the ceiling) and once as the case's
    nodes with their indexes, these three sent as rows of maps as in earlier runs; then the
    case's nodes sent as columns, as the writer sends them (graph/store.py ``session_columns``),
    which our full load cannot beat."""
    from cdrnet.graph.store import session_columns
    from cdrnet.graph.writes import COLUMN, NODE_BY_LABEL

    session = NODE_BY_LABEL["Session"]
    inline = ", ".join([f"{p}: ${COLUMN}{p}[i]" for p in session.properties]
                       + [f"{t}: datetime({{epochSeconds: ${COLUMN}{src}[i]}})" for t, src in session.datetimes])
    texts = {"Neo4j ceiling: same batches, nothing written (Bolt + UNWIND)": "UNWIND $rows AS r RETURN count(*) AS n",
             "Neo4j ceiling: Session nodes only, no case (so none of Session's indexes is kept)":
                 "UNWIND $rows AS r CREATE (s:Session) SET s = r.props, s.session_key = r.key RETURN count(*) AS n",
             # What the writer cannot avoid: every Session node of the case with its key, properties,
             # DATETIMEs and the schema's indexes, created (no lookup, no relationship).
             "Neo4j ceiling: Session nodes of the case (same properties, indexes kept, no relationships)":
                 "UNWIND $rows AS r CREATE (s:Session {case: 'bench', session_key: r.key}) SET s += r.props, "
                 "s.start = datetime({epochSeconds: r.props.start_s}), s.end = datetime({epochSeconds: r.props.end_s}) "
                 "RETURN count(*) AS n"}
    columnar = ("Neo4j ceiling: Session nodes of the case sent as columns (indexes kept, no relationships)",
                "UNWIND range(0, size($key) - 1) AS i CREATE (s:Session {case: 'bench', session_key: $key[i], "
                + inline + "}) RETURN count(*) AS n")
    texts[columnar[0]] = columnar[1]
    columns = [session_columns(frame.iloc[lo : lo + 10_000]) for lo in range(0, len(frame), 10_000)]
    out = []
    for stage, text in texts.items():
        wipe()
        store.create_schema()
        batches = columns if stage == columnar[0] else [{"rows": rows[lo : lo + 10_000]}
                                                         for lo in range(0, len(rows), 10_000)]
        t0 = time.perf_counter()
        for batch in batches:
            with driver.session() as s:
                s.execute_write(lambda tx, b=batch, q=text: tx.run(q, b).consume())
        secs = time.perf_counter() - t0
        out.append({"stage": stage, "size": len(rows), "ours_s": secs, "reference": "our full load",
                    "reference_s": ours, "ratio": secs / ours, "rows_per_s": len(rows) / secs})
    return out


def bench_map(work: Path, nodes: int) -> list[dict]:
    import networkx as nx

    from bench.browser import browser
    from bench.sessions import frame, sess
    from cdrnet.viz.netmap import MapOptions, write_map

    g = nx.powerlaw_cluster_graph(nodes, 4, 0.1, seed=1)
    pairs = [(f"91980{u:07d}", f"91980{v:07d}") for u, v in g.edges()]
    edges = pd.DataFrame({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs], "score": 5.0, "link": True,
                          "messaging_obs": 5, "messaging_exp": 1.0, "call_obs": 0, "coloc_obs": 0, "messaging_p": 1e-5,
                          "call_p": 1.0, "coloc_p": 1.0, "services": "Meta=5", "first_utc": "", "last_utc": ""})
    names = sorted({p[0] for p in pairs} | {p[1] for p in pairs})
    sessions = frame([sess(n, "2024-01-01 10:00:00") for n in names])
    t0 = time.perf_counter()
    path = write_map(edges, sessions, work / "map.html", MapOptions())
    write_s = time.perf_counter() - t0
    try:
        with browser() as d:
            t0 = time.perf_counter()
            d.get(path.as_uri())
            while not d.execute_script("return window.cdrnetStats && window.cdrnetStats.ready"):
                time.sleep(0.1)
            open_s = time.perf_counter() - t0
    except BaseException as exc:  # noqa: BLE001 - the browser may be missing outside CI (plain install)
        return [{"stage": f"map: write HTML ({len(edges)} edges)", "size": nodes, "ours_s": write_s},
                {"stage": "map: open and draw in headless Chromium", "size": nodes,
                 "reference": f"browser skipped: {exc}"}]
    return [{"stage": f"map: write HTML ({len(edges)} edges)", "size": nodes, "ours_s": write_s},
            {"stage": "map: open and draw in headless Chromium", "size": nodes, "ours_s": open_s}]


def plot(curve: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for method, g in curve.groupby("method"):
        ax.loglog(g["sessions"], g["seconds"], marker="o", label=method)
    ax.set_xlabel("sessions (two subscribers, one port)")
    ax.set_ylabel("seconds")
    ax.set_title("Co-usage: cdrnet vs the paper's pairwise loop")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(table: pd.DataFrame) -> str:
    cols = ["stage", "size", "ours_s", "reference", "reference_s", "ratio", "rows_per_s", "peak_rss_mb"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in table.reindex(columns=cols).itertuples(index=False):
        cells = []
        for v in r:
            if isinstance(v, float):
                cells.append("" if np.isnan(v) else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"))
            else:
                cells.append("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class Progress(list):
    """The result rows, also appended to a CSV as each stage ends (a late failure keeps the rest)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.unlink(missing_ok=True)

    def __iadd__(self, new: list[dict]) -> Progress:  # type: ignore[override]
        self.extend(new)
        cols = ["stage", "size", "ours_s", "reference", "reference_s", "ratio", "rows_per_s", "peak_rss_mb",
                "reference_rss_mb", "bytes"]
        pd.DataFrame(new).reindex(columns=cols).to_csv(self.path, mode="a", header=not self.path.exists(), index=False)
        print(markdown(pd.DataFrame(new)), file=sys.stderr, flush=True)
        return self


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parse-sizes", default=None, help="comma separated session counts")
    ap.add_argument("--no-neo4j", action="store_true")
    ap.add_argument("--repeats", type=int, default=None, help="runs per measurement (median; default 3, quick 1)")
    ap.add_argument("--only", default=None, help="comma separated stages: parse,many,cousage,scale,neo4j,bulk,map")
    ap.add_argument("--many-files", type=int, default=None, help="files of the many-dump case (default 400)")
    ap.add_argument("--many-rows", type=int, default=None, help="sessions of the many-dump case (default 3M)")
    ap.add_argument("--many-repeats", type=int, default=None, help="runs of the many-dump case (default 3)")
    ap.add_argument("--many-case", default=None,
                    help="reuse a many-dump case written by 'python -m bench.manydumps --keep DIR'")
    args = ap.parse_args()
    compile_package()
    q = args.quick
    parse_sizes = ([int(x) for x in args.parse_sizes.split(",")] if args.parse_sizes
                   else ([20_000] if q else [1_000_000, 10_000_000]))
    repeats = args.repeats or (1 if q else 3)
    work = Path(tempfile.mkdtemp(prefix="cdrnet-bench-"))
    out_dir = ROOT / "bench" / "out" if CHECKOUT else Path.cwd() / "cdrnet-bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = (set(args.only.split(",")) if args.only
              else {"parse", "many", "cousage", "scale", "neo4j", "bulk", "map"})
    if args.no_neo4j:
        stages -= {"neo4j", "bulk"}
    curve = pd.DataFrame(columns=["method", "sessions", "seconds"])
    try:
        rows = Progress(out_dir / "partial.csv")
        ws_path = None
        if stages & {"parse", "scale", "neo4j", "bulk"}:
            prow, ws_path = bench_parse(work, parse_sizes, repeats)
            if "parse" in stages:
                rows += prow
        if "many" in stages:
            rows += bench_many_stage(work, q, args)
        if "cousage" in stages:
            crow, curve = bench_cousage([50, 100, 300] if q else [100, 300, 1000, 3000],
                                        [50, 100, 300, 1000] if q else [100, 300, 1000, 3000, 10000, 30000, 100000],
                                        repeats)
            rows += crow
        if "scale" in stages:
            rows += bench_link_scale(ws_path)
        if "neo4j" in stages:
            rows += bench_neo4j(ws_path, work, 20_000 if q else 100_000)
        if "bulk" in stages:
            rows += bench_first_load(ws_path, work, 20_000 if q else 1_000_000)
        if "map" in stages:
            rows += bench_map(work, 500 if q else 5000)
        table = pd.DataFrame(rows)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        table.insert(0, "machine", machine())
        table.insert(0, "date", stamp)
        table.insert(2, "mode", "quick" if q else "full")
        print(markdown(table))
        table.to_csv(out_dir / "last.csv", index=False)
        if len(curve):
            plot(curve, out_dir / "cousage_scaling.png")
        print(f"results in {out_dir / 'last.csv'}")
        if not CHECKOUT:
            pass  # installed outside a checkout: no docs to update
        elif not q and not args.only:
            table.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
            shutil.copy(out_dir / "cousage_scaling.png", ROOT / "docs" / "img" / "cousage_scaling.png")
            doc = DOC.read_text(encoding="utf-8")
            head, _, rest = doc.partition(BEGIN)
            _, _, tail = rest.partition(END)
            text = f"Run {stamp} on {machine()} (`python -m bench`):\n\n{markdown(table)}"
            DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
            print(f"updated {DOC} and {RESULTS}")
        elif not q:
            table.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
            print(f"appended to {RESULTS}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
