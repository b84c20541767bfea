"""Co-usage in Cypher next to the embedded engine, in one process, on a graph loaded once.

The 'bulk' stage of ``python -m bench`` builds the 1M-session graph and times one run; this
measures a change to the Cypher plan side by side with the plan of an older checkout, in CPU
seconds (the Neo4j server's, from /proc, and this process's), which a shared machine's load
barely moves::

    python -m bench.cypher_side --load FRAME.parquet      # bulk-import the sessions as case 'bench'
    python -m bench.cypher_side FRAME.parquet             # this checkout's plan
    python -m bench.cypher_side FRAME.parquet --base DIR  # DIR/cypher and DIR/graph/cousage.py

FRAME.parquet holds sessions as the workspace stores them (e.g. the bench's 1M-row dump,
ingested). The server is the one of CDRNET_TEST_NEO4J_URI (scripts/test-neo4j-env) and
CDRNET_NEO4J_HOME (its run/neo4j.pid gives the process whose CPU seconds are counted).
Prints one JSON line: seconds, CPU seconds, the Cypher steps, whether the edges are identical.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import time
from pathlib import Path

import pandas as pd

CASE = "bench"


def _server_cpu() -> float:
    """User+system CPU seconds of the Neo4j server so far (its GC and worker threads included)."""
    pid = (Path(os.environ["CDRNET_NEO4J_HOME"]) / "run" / "neo4j.pid").read_text().strip()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _driver():  # noqa: ANN202 - a neo4j Driver
    from cdrnet.graph.connection import connect

    return connect(os.environ["CDRNET_TEST_NEO4J_URI"], "neo4j",
                   os.environ.get("NEO4J_PASSWORD", "cdrnet-dev-password"))


def load(frame_path: Path, work: Path) -> dict:
    """Replace the scratch database with the sessions of ``frame_path`` (bulk import, case 'bench')."""
    from cdrnet.graph.bulk import bulk_load
    from cdrnet.graph.scratch import wipe
    from cdrnet.loader.quality import DumpReport

    d = _driver()
    wipe(d)  # refuses a database holding data that tests and benchmarks did not create
    d.close()
    msisdns = pd.read_parquet(frame_path, columns=["msisdn"])["msisdn"]
    report = DumpReport(name=CASE, sha256=CASE, size=None, loaded=len(msisdns), lines_read=len(msisdns),
                        msisdns=sorted(msisdns.unique()), ingested_at="2024-01-01T00:00:00+00:00")
    work.mkdir(parents=True, exist_ok=True)
    res = bulk_load([(report, frame_path)], os.environ["CDRNET_TEST_NEO4J_URI"],
                    Path(__file__).resolve().parents[1] / "scripts" / "neo4j-local", CASE, _driver, work=work)
    return {"sessions": len(msisdns), "seconds": res.seconds, "steps": res.steps, "nodes": res.nodes}


def _engine(base: Path | None):  # noqa: ANN202 - the module holding link_neo4j
    """This checkout's graph/cousage.py, or an older checkout's with its own cypher/ files."""
    if base is None:
        import cdrnet.graph.cousage as mod

        return mod
    import cdrnet.cypher as cy

    cy.load = lambda name: (base / "cypher" / f"{name}.cypher").read_text(encoding="utf-8")
    spec = importlib.util.spec_from_file_location("base_cousage", base / "graph" / "cousage.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def measure(frame_path: Path, base: Path | None, live: bool = False) -> dict:
    """One Cypher run and one embedded run on the same sessions, with their CPU seconds."""
    from cdrnet.analysis.cousage import LinkParams, link
    from cdrnet.analysis.observed import Coverage

    mod = _engine(base)
    frame = pd.read_parquet(frame_path)
    observed = Coverage.from_sessions(frame)  # the same periods for both engines
    driver = _driver()
    s0, c0, t0 = _server_cpu(), _own_cpu(), time.perf_counter()
    extra = {"stored_units": False} if live else {}
    res = mod.link_neo4j(driver, LinkParams(), write_edges=False, coverage=observed, case=CASE, **extra)
    plan = (str(base) if base else "this checkout") + (", every episode from the sessions" if live else "")
    out = {"plan": plan, "cypher_s": time.perf_counter() - t0,
           "server_cpu_s": _server_cpu() - s0, "client_cpu_s": _own_cpu() - c0, "steps": res.steps}
    driver.close()
    c0, t0 = _own_cpu(), time.perf_counter()
    emb = link(frame, LinkParams(), coverage=observed)
    out.update(embedded_s=time.perf_counter() - t0, embedded_cpu_s=_own_cpu() - c0)
    a = res.edges.sort_values(["a", "b"]).reset_index(drop=True)
    b = emb.edges.sort_values(["a", "b"]).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(a, b, check_like=True)
        out["identical_edges"] = True
    except AssertionError as exc:
        out["identical_edges"] = str(exc)[:300]
    out.update(edges=len(a), links=int(a["link"].sum()) if len(a) else 0,
               ratio=out["cypher_s"] / out["embedded_s"],
               cpu_ratio=(out["server_cpu_s"] + out["client_cpu_s"]) / out["embedded_cpu_s"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("frame", type=Path, help="sessions as Parquet (the workspace's schema)")
    ap.add_argument("--load", action="store_true", help="bulk-import the sessions first (replaces the database)")
    ap.add_argument("--base", type=Path, default=None, help="an older checkout whose Cypher plan to time instead")
    ap.add_argument("--live", action="store_true",
                    help="build every episode from the sessions (no stored co-usage units)")
    ap.add_argument("--work", type=Path, default=Path("cdrnet-bench-bulk"), help="folder for the import's files")
    args = ap.parse_args()
    print(json.dumps(load(args.frame, args.work) if args.load else measure(args.frame, args.base, args.live)))


if __name__ == "__main__":
    main()
