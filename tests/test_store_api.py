"""The store protocol, the Python API and the generated Cypher (issue 16).

Every command runs through :class:`cdrnet.store.SessionStore`; the CLI test runs the
same commands on the workspace and on a real Neo4j (never mocked; CI has one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import cdrnet
from cdrnet.analysis.units import CALL_PORTS, MESSAGING_CATEGORIES, cypher_definitions
from cdrnet.cypher import load, parameters
from cdrnet.graph.model import CO_USED_EVIDENCE, CO_USED_RUN_PARAMS, SESSION, session_read, session_return
from cdrnet.graph.writes import merge_rels, read_rels
from cdrnet.store import SessionStore
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.workspace import Workspace
from tests.conftest import SIM_ORDER, run_cli

ROOT = Path(__file__).resolve().parents[1]


# --- generated Cypher, as text (no database) ---------------------------------------------------

def test_session_read_is_derived_from_the_model():
    text = session_read()
    assert parameters(text) == {"case", "since", "until", "msisdns"}
    returned = [part.split(" AS ")[1] for part in session_return().removeprefix("RETURN ").split(", ")]
    assert returned == [SESSION.key, *(p for p in SESSION.properties if p != "service")]


def test_co_used_is_written_and_read_from_its_declaration():
    w, r = merge_rels("CO_USED"), read_rels("CO_USED")
    assert "MERGE (a)-[x:CO_USED]->(b)" in w and "x.case = $case" in w and "first = datetime" in w
    assert parameters(r) == {"case"}
    for prop in CO_USED_EVIDENCE:
        assert f"x.{prop} AS {prop}" in r
    for prop in CO_USED_RUN_PARAMS:  # on the run's LinkRun node, not on every link
        assert f"x.{prop} AS" not in r


def test_usage_summaries_are_written_from_their_declarations():
    from cdrnet.graph.model import RELATIONSHIPS
    from cdrnet.graph.writes import usage_summaries

    text = usage_summaries()
    assert parameters(text) == {"case", "msisdns"}
    declared = [r for r in RELATIONSHIPS if r.summarises]
    assert {r.type for r in declared} == {"USED_DEVICE", "USED_SIM", "USED_APP", "SEEN_AT"}
    for r in declared:
        assert f"WITH x.{r.summarises} AS k" in text and f"MERGE (s)-[u:{r.type}]->(e)" in text
    assert "SET e.imei14 = left(k, 14)" in text  # the Device declaration's computed property
    assert text.splitlines()[-1] == "RETURN sum(used_device) AS used_device, sum(used_sim) AS used_sim, " \
                                    "sum(used_app) AS used_app, sum(seen_at) AS seen_at"


def test_co_usage_definitions_reach_the_cypher_as_parameters():
    import re

    units = {"call_ports", "call_protos", "call_categories", "messaging_categories"}
    for name, wanted in [("episodes_sessions", units), ("units_build", units), ("units_stale", units),
                         ("episodes_match", {"min_tol_s", "mirror"})]:
        text = load(name)
        assert wanted <= parameters(text), name
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        # 'messaging' may name the channel (a unit's tag), never the category: no category or port
        # is compared with a literal.
        assert not re.search(r"\b(cat|app_category|dest_port|proto)\)?\s*(=|<>|IN)\s*\[?\s*['0-9]", code), name
        assert "3478" not in code, name
    defs = cypher_definitions("call_ports", "messaging_categories")
    assert defs == {"call_ports": list(CALL_PORTS), "messaging_categories": list(MESSAGING_CATEGORIES)}


def _current_units_condition(name: str) -> str:
    """The ``NOT EXISTS { ... }`` that says a subscriber has no current unit set, without comments
    and with its whitespace collapsed."""
    code = " ".join(line.split("//")[0] for line in load(name).splitlines())
    at = code.index("NOT EXISTS {")
    depth, end = 0, at
    for end in range(at, len(code)):
        depth += {"{": 1, "}": -1}.get(code[end], 0)
        if code[end] == "}" and depth == 0:
            break
    return " ".join(code[at : end + 1].split())


def test_the_stale_units_read_asks_what_units_build_checks():
    """graph/cousage.py runs units_build only on the subscribers units_stale returns, and units_build
    builds only where its own check fails: the two must say the same, or a run would skip units
    that need building (or build units that are current)."""
    stale, build = _current_units_condition("units_stale"), _current_units_condition("units_build")
    assert stale == build
    for part in ("u.generation = $generation", "u.cats = $messaging_categories", "u.call_ports = $call_ports",
                 "u.call_protos = $call_protos", "u.call_categories = $call_categories",
                 "u.sessions = COUNT { (sub)-[:HAD]->() }"):
        assert part in stale, part
    assert parameters(load("units_stale")) == parameters(load("units_build"))


# --- the protocol and the API --------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("api-case")
    simulate(build_scenario("easy", subscribers=10, days=4, seed=5), root)
    return root


def test_workspace_implements_the_protocol_and_the_api_walks_a_case(sim, tmp_path):
    assert isinstance(Workspace(tmp_path / "x"), SessionStore)
    with cdrnet.Case(workspace=tmp_path / "ws") as case:
        res = case.ingest([sim / "dumps"], date_order=SIM_ORDER)
        assert len(res.loaded) == 10 and not res.failed
        s = case.summary()
        assert s["dumps"] == 10 and s["subscribers"] == 10 and s["case"] == "ws"
        edges = case.link(window_s=180)
        on_disk = pd.read_csv(tmp_path / "ws" / "edges.csv", dtype={"a": str, "b": str})
        assert list(edges.columns) == list(on_disk.columns) and len(edges) == len(on_disk)
        a, b = edges.iloc[0]["a"], edges.iloc[0]["b"]
        assert case.pair(a, b).a == a
        assert not case.profile(a).apps.empty
        ev, paths = case.evidence(a, b, tmp_path / "ev")
        assert ev.edge is not None and all(p.exists() for p in paths)
        assert case.write_map(tmp_path / "m.html").exists()
        assert case.trends(a, app="WhatsApp", out_dir=tmp_path / "t")
    with pytest.raises(cdrnet.errors.UsageError, match="not a phone number"):
        cdrnet.Case(workspace=tmp_path / "ws").profile("12ab")


# --- every command on both stores ----------------------------------------------------------------

STORES = ["workspace", pytest.param("neo4j", marks=pytest.mark.neo4j)]


@pytest.mark.parametrize("store", STORES)
def test_every_store_command_on_both_stores(store, sim, tmp_path, capsys, monkeypatch):
    env = ["-w", str(tmp_path / "ws")]
    if store == "neo4j":
        from tests.neo4j_fixtures import PASSWORD, URI, connect_or_skip

        connect_or_skip().close()
        monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
        case_name = f"test-cli-{os.getpid()}"
        env += ["--neo4j", URI, "--case", case_name]
    code, out, err = run_cli(capsys, *env, "ingest", "--date-order", SIM_ORDER, str(sim / "dumps"))
    try:
        assert code == 0, err
        code, out, err = run_cli(capsys, *env, "dumps")
        assert code == 0 and "10 dump(s)" in out, err
        code, out, err = run_cli(capsys, *env, "link")
        assert code == 0, err
        edges = pd.read_csv(tmp_path / "ws" / "edges.csv", dtype={"a": str, "b": str})
        links = edges[edges["link"]]
        a, b = links.iloc[0]["a"], links.iloc[0]["b"]
        truth = tmp_path / "truth.csv"
        truth.write_text(f"a,b\n{a},{b}\n")
        for args in (["profile", a, "--out", str(tmp_path / "p")], ["trends", a, "--out", str(tmp_path / "t")],
                     ["pair", a, b], ["evidence", a, b, "--out", str(tmp_path / "e")],
                     ["map", "--out", str(tmp_path / "m.html")],
                     ["map", "--format", "json", "--out", str(tmp_path / "m.json")],
                     ["evaluate", "--truth", str(truth), str(tmp_path / "ws" / "edges.csv")]):
            code, out, err = run_cli(capsys, *env, *args)
            assert code == 0, (args, err)
        graph = json.loads((tmp_path / "m.json").read_text())
        drawn = {tuple(sorted((e["source"], e["target"]))) for e in graph.get("links", graph.get("edges", []))}
        assert (min(a, b), max(a, b)) in drawn
        code, out, err = run_cli(capsys, *env, "query", "strongest_links", "-p", "limit=5")
        if store == "neo4j":
            assert code == 0 and a in out, err  # the map and the queries read the stored CO_USED links
        else:
            assert code == 1 and "runs on Neo4j" in err
    finally:
        if store == "neo4j":
            from tests.neo4j_fixtures import connect_or_skip

            d = connect_or_skip()
            # Remove only this test's case (never anything else in the database).
            with d.session() as session:  # IN TRANSACTIONS needs an auto-commit transaction
                session.run("MATCH (n {case: $c}) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS",
                            {"c": case_name}).consume()
            d.close()


# --- the notebook ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_notebook_walks_a_case(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "links" in outputs and (tmp_path / "notebook-case" / "edges.csv").exists()
