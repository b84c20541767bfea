"""A re-send whose copies differ: every store keeps the first dump's copy (real Neo4j).

Operators re-send a subscriber's sessions and calls, sometimes with another cell or a blank one
(the session key leaves the cell out: cdrnet/model.py SESSION_KEY_COLUMNS). The workspace keeps a
key's first row in ingest order; the Bolt writer used to overwrite it with the later dump's, so the
two stores' co-location expectations differed (docs/benchmarks.md). Here both hold, session by
session and call by call, the first dump's copy, with the same edges, also after the first dump
is read again (``--replace`` keeps its place in the order). The importer's copy is compared with
the Bolt writer's in tests/test_neo4j_bulk.py (its ``dumps`` case has such a re-send too).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cdrnet.synth.resend import write_resend
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from tests.conftest import SIM_ORDER, ingest

CASE = "resend-copies"
SESSION_COLUMNS = ["session_key", "msisdn", "cell_id", "app", "dump_sha256", "source_line", "lat", "lon"]
CALL_COLUMNS = ["event_key", "first_cell", "last_cell", "dump_sha256", "source_line"]


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    """IPDR of several layouts, CDRs and tower dumps, plus re-sends (named to come last) of a Jio
    IPDR and of a CDR with other cells."""
    root = tmp_path_factory.mktemp("resend-copies")
    simulate(build_scenario("realistic_calls", subscribers=5, days=7, seed=7), root)
    dumps = root / "dumps"
    ipdr = sorted(dumps.glob("jio_*.csv"))[-1]
    cdr = sorted(dumps.glob("cdr_jio_*.csv"))[0]
    assert write_resend(ipdr, dumps / f"zz_resend_{ipdr.name}", from_share=0, every=3, blank_every=5) > 10
    assert write_resend(cdr, dumps / f"zz_resend_{cdr.name}", from_share=0, every=3, blank_every=5) > 3
    return dumps


def _rows(frame: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    """One row per key (the first), sorted, missing values as None (the stores differ in null types)."""
    f = frame.drop_duplicates(key, keep="first")[columns].sort_values(key).reset_index(drop=True).astype(object)
    return f.where(f.notna(), None)


def _edges(res) -> pd.DataFrame:  # noqa: ANN001 - a LinkResult
    return res.edges.sort_values(["a", "b"]).reset_index(drop=True)


def assert_same_copies(ws, graph, driver) -> None:  # noqa: ANN001 - a Workspace, a GraphStore, a Driver
    """The stores hold the same copy of every session and call, with the same links."""
    from cdrnet.analysis.cousage import LinkParams
    from cdrnet.graph.cousage import link_neo4j

    pd.testing.assert_frame_equal(_rows(graph.sessions(), "session_key", SESSION_COLUMNS),
                                  _rows(ws.sessions(), "session_key", SESSION_COLUMNS))
    pd.testing.assert_frame_equal(_rows(graph.calls(), "event_key", CALL_COLUMNS),
                                  _rows(ws.calls(), "event_key", CALL_COLUMNS))
    # One application and one cell per session: the kept copy's (the other copy's cell is not linked).
    cells = driver.execute_query(
        "MATCH (s:Session {case: $c}) OPTIONAL MATCH (s)-[:AT_CELL]->(x:Cell) "
        "RETURN s.session_key AS k, s.cell_id AS cell, collect(x.cell_id) AS linked", c=CASE).records
    assert [r for r in cells if r["linked"] != ([r["cell"]] if r["cell"] else [])] == []
    apps = driver.execute_query(
        "MATCH (s:Session {case: $c}) OPTIONAL MATCH (s)-[:OF_APP]->(x:Application) "
        "RETURN s.session_key AS k, s.app AS app, collect(x.name) AS linked", c=CASE).records
    assert [r for r in apps if r["linked"] != ([r["app"]] if r["app"] else [])] == []
    ends = driver.execute_query(
        "MATCH (c:Call {case: $c}) OPTIONAL MATCH (c)-[:FIRST_CELL]->(x:Cell) "
        "RETURN c.event_key AS k, c.first_cell AS cell, collect(x.cell_id) AS linked", c=CASE).records
    assert [r for r in ends if r["linked"] != ([r["cell"]] if r["cell"] else [])] == []
    params = LinkParams()
    embedded = _edges(ws.link(params))
    assert len(embedded) > 3 and embedded["coloc_exp"].fillna(0).gt(0).any()
    pd.testing.assert_frame_equal(_edges(link_neo4j(driver, params, case=CASE, write_edges=False)), embedded,
                                  check_exact=False, rtol=1e-9)


@pytest.mark.neo4j
def test_both_stores_keep_the_first_dumps_copy_of_a_resent_session(graph, driver, case, tmp_path):
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.workspace import Workspace

    dumps = tmp_path / "dumps"
    shutil.copytree(case, dumps)
    ws = Workspace(tmp_path / "ws").create()
    assert not ingest(ws, dumps, date_order=SIM_ORDER).failed
    assert not ingest(graph, dumps, date_order=SIM_ORDER).failed
    # The case has what is compared: sessions and calls two dumps deliver with other cells.
    every = ws.sessions(dedupe=False)
    shared = every[every["session_key"].duplicated(keep=False)]
    assert shared.groupby("session_key")["cell_id"].nunique(dropna=False).gt(1).sum() > 10
    calls = ws.calls()
    twice = calls[calls["event_key"].duplicated(keep=False)]
    assert twice.groupby("event_key")["first_cell"].nunique(dropna=False).gt(1).sum() > 3
    sha = {Path(r.name).name: r.sha256 for r in ws.reports()}
    resends = {sha[n] for n in sha if n.startswith("zz_resend_")}
    owners = ws.sessions().set_index("session_key").loc[shared["session_key"].unique(), "dump_sha256"]
    assert not set(owners) & resends  # the first delivery's copy
    assert_same_copies(ws, graph, driver)

    # The first dumps read again (--replace) with other signatures keep their place: their copies
    # stay the kept ones, now with the applications those signatures name (no link to the old ones).
    originals = [str(dumps / n.removeprefix("zz_resend_")) for n in sorted(n for n in sha if n.startswith("zz_"))]
    opts = Options(tz="Asia/Kolkata", rules=load_signatures("paper"), date_order=SIM_ORDER)
    before = set(ws.sessions()["app"].dropna())
    for store in (ws, graph):
        res = ingest_paths(originals, store, builtin_layouts(), opts, "paper", show_progress=False, replace=True)
        assert len(res.replaced) == 2, res
    kept = ws.sessions().set_index("session_key").loc[shared["session_key"].unique()]
    assert not set(kept["dump_sha256"]) & resends
    assert set(kept["app"].dropna()) - before  # the paper's names
    assert_same_copies(ws, graph, driver)

    # A forgotten dump's shared calls lose the cell links of its copy; read again, all is as before.
    cdr = sha[Path(originals[0]).name]
    graph.forget_dump(cdr)
    owned = driver.execute_query(
        "MATCH (c:Call {case: $c, dump_sha256: $d}) WHERE count{(c)<-[:RECORDED]-()} > 0 "
        "RETURN count{(c)-[:FIRST_CELL|LAST_CELL]->()} AS links", c=CASE, d=cdr).records
    assert len(owned) > 3 and not any(r["links"] for r in owned)
    assert len(ingest_paths(originals[:1], graph, builtin_layouts(), opts, "paper", show_progress=False).loaded) == 1
    assert_same_copies(ws, graph, driver)


@pytest.mark.neo4j
def test_a_first_dump_read_again_with_other_keys_hands_its_copies_on(graph, driver, case, tmp_path):
    """The first dumps read again (``--replace``) with another ``--tz`` deliver their sessions and
    calls under other keys: the re-sends' copies of the former keys are the kept ones now. The
    workspace has them; Neo4j, which held only the first dumps' copies, hands those nodes to the
    dumps whose copies are kept now and marks them incomplete (the report's note names them), and
    their next ingest writes the same copies as the workspace keeps. Neo4j used to keep the former
    copies (cell, line, zone), unlinked from their cells, so the stores' edges differed."""
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.workspace import Workspace

    dumps = tmp_path / "dumps"
    shutil.copytree(case, dumps)
    ws = Workspace(tmp_path / "ws").create()
    assert not ingest(ws, dumps, date_order=SIM_ORDER).failed
    assert not ingest(graph, dumps, date_order=SIM_ORDER).failed
    sha = {Path(r.name).name: r.sha256 for r in ws.reports()}
    resends = sorted(n for n in sha if n.startswith("zz_resend_"))
    originals = [str(dumps / n.removeprefix("zz_resend_")) for n in resends]
    opts = Options(tz="UTC", rules=load_signatures("modern"), date_order=SIM_ORDER)
    places = {r.sha256: r.first_ingested_at for r in graph.reports()}
    notes = []
    for store in (ws, graph):
        res = ingest_paths(originals, store, builtin_layouts(), opts, "modern", show_progress=False, replace=True)
        assert len(res.replaced) == 2, res
        notes.append([n for r in res.loaded for n in r.notes if "ingest again" in n])
    assert notes[0] == []  # the workspace holds every dump's copy
    assert {sha[n] for n in resends} <= set(ws.sessions()["dump_sha256"]) | set(ws.calls()["dump_sha256"])
    # The first other dump of each copy in ingest order: the re-sends, and a tower dump recording calls of the CDR.
    incomplete = sorted(n for n in sha if not graph.has_dump(sha[n]))
    assert set(resends) <= set(incomplete) and len(notes[1]) == 2, (incomplete, notes)
    assert all(any(n in note for note in notes[1]) for n in incomplete), notes
    again = ingest(graph, dumps, date_order=SIM_ORDER)
    assert sorted(Path(r.name).name for r in again.loaded) == incomplete
    assert_same_copies(ws, graph, driver)
    # Every dump kept its place in the ingest order, those ingested again included.
    assert {r.sha256: r.first_ingested_at for r in graph.reports()} == places
    assert_overlap_counted_once(ws)
    assert_overlap_counted_once(graph)

    # Read again with their first zone, the first dumps deliver the former keys again: their copies
    # are the kept ones again in both stores (Neo4j kept the re-sends' copies: other cells, other edges),
    # and each re-delivery is counted once, by the dump after the first in the ingest order.
    back = Options(tz="Asia/Kolkata", rules=load_signatures("modern"), date_order=SIM_ORDER)
    for store in (ws, graph):
        res = ingest_paths(originals, store, builtin_layouts(), back, "modern", show_progress=False, replace=True)
        assert len(res.replaced) == 2, res
    assert not {sha[n] for n in resends} & set(ws.sessions()["dump_sha256"])
    assert_same_copies(ws, graph, driver)
    assert_overlap_counted_once(ws)
    assert_overlap_counted_once(graph)


def assert_overlap_counted_once(store) -> None:  # noqa: ANN001 - a Workspace or a GraphStore
    """The dumps' re-delivered sessions add up to the sessions delivered more than once (what ``dumps``
    prints as distinct), and the first dump of a shared session never counts it."""
    reports = [r for r in store.reports() if r.kind == "sessions"]
    delivered, distinct = sum(r.loaded for r in reports), len(store.sessions())  # one row (node) a key
    assert sum(r.duplicates_of_other_dumps for r in reports) == delivered - distinct


def test_a_dump_read_again_counts_only_the_dumps_before_it_as_delivering_its_sessions(case, tmp_path):
    """``ingest --replace`` of a first dump counted every later re-send's overlap as its own too (the
    re-send's report had it already): ``dumps`` showed the re-delivered sessions twice and the
    distinct sessions short by as many. Read again with another zone (other keys) and back, the
    re-sends' counts follow too."""
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.workspace import Workspace

    ws = Workspace(tmp_path / "ws").create()
    assert not ingest(ws, case, date_order=SIM_ORDER).failed
    assert_overlap_counted_once(ws)
    names = {Path(r.name).name: r for r in ws.reports()}
    originals = [str(case / n.removeprefix("zz_resend_")) for n in sorted(names) if n.startswith("zz_resend_")]
    assert sum(names[Path(p).name].duplicates_of_other_dumps for p in originals) == 0
    for tz in ("Asia/Kolkata", "UTC", "Asia/Kolkata"):
        opts = Options(tz=tz, rules=load_signatures("modern"), date_order=SIM_ORDER)
        res = ingest_paths(originals, ws, builtin_layouts(), opts, "modern", show_progress=False, replace=True)
        assert len(res.replaced) == 2, res
        assert all(r.duplicates_of_other_dumps == 0 for r in res.loaded), tz
        assert_overlap_counted_once(ws)


@pytest.mark.neo4j
def test_a_first_load_that_died_leaves_its_copies_to_the_resend_committed_before_its_rerun(graph, driver, case,
                                                                                          tmp_path, monkeypatch):
    """The first dumps' Neo4j loads die half-way (a killed run: the workspace commits nothing of
    them), their re-sends are ingested, then the first dumps again: the re-sends were committed
    first, so their copies are the kept ones in both stores. The Bolt writer used to leave the
    copies the dead loads had written (their nodes were those dumps' own)."""
    from cdrnet.graph.store import GraphDumpWriter
    from cdrnet.workspace import Workspace

    dumps, held = tmp_path / "dumps", tmp_path / "held"
    shutil.copytree(case, dumps)
    held.mkdir()
    resends = sorted(p.name for p in dumps.glob("zz_resend_*"))
    originals = [n.removeprefix("zz_resend_") for n in resends]
    for n in resends + originals:
        shutil.move(dumps / n, held / n)
    ws = Workspace(tmp_path / "ws").create()
    for store in (ws, graph):
        assert not ingest(store, dumps, date_order=SIM_ORDER).failed
    write_sessions, write_calls = GraphDumpWriter.write_sessions, GraphDumpWriter.write_calls

    def dying_sessions(self, sessions: pd.DataFrame) -> None:
        write_sessions(self, sessions.iloc[: len(sessions) // 2])
        raise KeyboardInterrupt

    def dying_calls(self, events: pd.DataFrame) -> None:
        write_calls(self, events.iloc[: len(events) // 2])
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(GraphDumpWriter, "write_sessions", dying_sessions)
        m.setattr(GraphDumpWriter, "write_calls", dying_calls)
        for n in originals:
            with pytest.raises(KeyboardInterrupt):
                ingest(graph, held / n, date_order=SIM_ORDER)
    assert driver.execute_query("MATCH (s:Session {case: $c}) WHERE NOT EXISTS { (:Dump {complete: true})"
                                "-[:CONTAINS]->(s) } RETURN count(s) AS n", c=CASE).records[0]["n"] > 10
    for store in (ws, graph):
        assert len(ingest(store, *(held / n for n in resends), date_order=SIM_ORDER).loaded) == 2
        assert len(ingest(store, *(held / n for n in originals), date_order=SIM_ORDER).loaded) == 2
    sha = {Path(r.name).name: r.sha256 for r in ws.reports()}
    kept = set(ws.sessions()["dump_sha256"]) | set(ws.calls()["dump_sha256"])
    assert {sha[n] for n in resends} <= kept
    assert_same_copies(ws, graph, driver)
