"""First loads by the offline importer (graph/bulk.py) give the graph the Bolt writer gives.

The import replaces the whole database and restarts the server: it runs only on the tests'
own scratch server (scripts/neo4j-local with scripts/test-neo4j-env), never on data the
tests did not create.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from cdrnet.graph.bulk import default_script
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from tests.conftest import run_cli
from tests.neo4j_fixtures import PASSWORD, URI, wipe

pytestmark = pytest.mark.neo4j
CASE = "test-bulk"
#: Differ by construction: when each load ran.
LOAD_TIME = {"loaded_at", "ingested_at", "first_ingested_at"}


@pytest.fixture
def driver():
    """A driver per test: an import starts a new database, and a driver that saw the old one waits
    for its transactions (bookmarks) in vain."""
    from tests.neo4j_fixtures import connect_or_skip

    d = connect_or_skip()
    yield d
    d.close()


def fresh():
    from cdrnet.graph.connection import connect

    return connect(URI, "neo4j", PASSWORD)


def canonical(driver) -> dict:
    """Every node (label, properties) and relationship (type, end keys, properties) of the database,
    sorted, with temporal and spatial values as text: two loads of one case must give equal dumps."""

    def plain(v):  # noqa: ANN001, ANN202 - any property value
        if isinstance(v, list):
            return tuple(plain(x) for x in v)
        if hasattr(v, "iso_format"):  # with the zone's name: CALLED's first/last are in a named zone
            return v.iso_format(), str(getattr(v, "tzinfo", None))
        if hasattr(v, "srid"):
            return (v.srid, *v)
        return v

    def props(p: dict) -> tuple:
        return tuple(sorted((k, plain(v)) for k, v in p.items() if k not in LOAD_TIME))

    nodes = driver.execute_query("MATCH (n) RETURN labels(n) AS l, properties(n) AS p").records
    rels = driver.execute_query("MATCH (a)-[r]->(b) RETURN type(r) AS t, labels(a) AS la, properties(a) AS pa, "
                                "labels(b) AS lb, properties(b) AS pb, properties(r) AS p").records
    from cdrnet.graph.writes import NODE_BY_LABEL

    def key(labels: list[str], p: dict) -> tuple:
        label = next(x for x in labels if x in NODE_BY_LABEL)
        return (label, p[NODE_BY_LABEL[label].key])

    # The co-usage units generation is a random id per database (the importer's, or the first link
    # run's): each database holds one, on the case's node (msisdn '') and on all its units; the
    # value itself is left out of the comparison.
    generations = {r["p"]["generation"] for r in nodes if "CoUsageUnits" in r["l"]}
    assert len(generations) <= 1, generations
    by_label: dict = {}
    for r in nodes:
        p = {k: v for k, v in r["p"].items() if not ("CoUsageUnits" in r["l"] and k == "generation")}
        by_label.setdefault(tuple(sorted(r["l"])), []).append(props(p))
    by_type: dict = {}
    for r in rels:
        by_type.setdefault(r["t"], []).append((key(r["la"], r["pa"]), key(r["lb"], r["pb"]), props(r["p"])))
    return {"nodes": {k: sorted(v) for k, v in by_label.items()}, "rels": {k: sorted(v) for k, v in by_type.items()}}


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    """A realistic case (mixed layouts, Jio part files, rejected rows) plus an operator's resend:
    a second dump repeating some sessions of another (one node, two CONTAINS), some with another
    cell or none (the node holds the first dump's copy both ways)."""
    from dataclasses import replace

    from cdrnet.synth.resend import write_resend

    root = tmp_path_factory.mktemp("bulk-case")
    simulate(replace(build_scenario("realistic", subscribers=6, days=14, seed=7), malformed_share=0.01), root)
    first = sorted((root / "dumps").glob("*.csv"))[0]
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    resend = root / "dumps" / f"resend_{first.name}"
    resend.write_text("".join(lines[: max(20, len(lines) // 2)]) + lines[-1], encoding="utf-8")
    assert write_resend(resend, resend, from_share=0, every=3, blank_every=5) > 10
    return root / "dumps"


def _server_env(monkeypatch) -> Path:
    script = default_script()
    assert script is not None
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    if os.environ.get("CI") != "true" and not os.environ.get("CDRNET_NEO4J_HOME"):
        pytest.skip("the bulk import restarts the tests' server: source scripts/test-neo4j-env first")
    return script


def _both_ways(capsys, script: Path, *options: str) -> tuple[dict, dict, str, object]:
    """The dumps in ./dumps loaded by the Bolt writer, then by the importer (the scratch marker is
    carried over): the canonical dumps of the two databases, the Bolt load's output and a new driver.

    The one difference by design: the importer writes the co-usage units (CoUsageUnits nodes,
    graph/bulk_units.py), which after a Bolt load the first link run builds. So the Bolt graph is
    read after such a run (without its edges): both then hold the units, compared like the rest."""
    from cdrnet.analysis.cousage import LinkParams
    from cdrnet.graph.cousage import link_neo4j

    code, bolt_out, _ = run_cli(capsys, "-w", "bolt-out", "--neo4j", URI, "--case", CASE, "ingest", "dumps", *options)
    assert code == 0
    with fresh() as d:
        assert not _units(d)
        link_neo4j(d, LinkParams(), case=CASE, write_edges=False)
        bolt = canonical(d)
    assert run_cli(capsys, "-w", "ws", "ingest", "dumps", *options)[0] == 0
    code, out, err = run_cli(capsys, "-w", "ws", "--neo4j", URI, "--case", CASE, "neo4j-import", "--server",
                             str(script))
    assert code == 0, err
    assert "sessions/s" in out and "neo4j-admin database import full" in out
    driver = fresh()
    bulk = canonical(driver)
    assert set(bulk["nodes"]) == set(bolt["nodes"]) and set(bulk["rels"]) == set(bolt["rels"])
    for label in bolt["nodes"]:
        assert len(bulk["nodes"][label]) == len(bolt["nodes"][label]), label
        assert bulk["nodes"][label] == bolt["nodes"][label], label
    for rtype in bolt["rels"]:
        assert len(bulk["rels"][rtype]) == len(bolt["rels"][rtype]), rtype
        assert bulk["rels"][rtype] == bolt["rels"][rtype], rtype
    return bolt, bulk, bolt_out, driver


def _units(driver) -> dict[str, dict]:
    """Every CoUsageUnits node of the case by msisdn (the case's generation node under '')."""
    recs = driver.execute_query("MATCH (u:CoUsageUnits {case: $case}) RETURN u.msisdn AS m, properties(u) AS p",
                                {"case": CASE}).records
    return {r["m"]: r["p"] for r in recs}


def _edges(res) -> object:  # noqa: ANN001 - a LinkResult
    return res.edges.sort_values(["a", "b"]).reset_index(drop=True)


def _blank_some(folder: Path) -> None:
    """Every dump in ``folder`` with some rows' cells (each 9th row) and destination addresses (each
    13th) left empty, as real dumps have them (the realistic scenario always states both)."""
    import csv

    cells = {"cell id", "cgi", "cgi id", "first cell id-name/location", "cgi-ld"}
    for f in sorted(folder.glob("*.csv")):
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
        at = next((i for i, line in enumerate(lines) if "Destination" in line and "Port" in line), None)
        if at is None:  # a layout without destinations (paper)
            continue
        names = [c.strip().lower() for c in next(csv.reader([lines[at]]))]
        blank_cell = [i for i, c in enumerate(names) if c in cells]
        ips = ("destination ip", "destination_ip", "destination ip address")
        blank_ip = [i for i, c in enumerate(names) if c in ips]
        assert blank_cell and blank_ip, f.name
        for n in range(at + 1, len(lines)):
            row = next(csv.reader([lines[n]]), [])
            if len(row) != len(names) or (n % 9 and n % 13):
                continue
            for i in (blank_cell if n % 9 == 0 else []) + (blank_ip if n % 13 == 0 else []):
                row[i] = ""
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(row)
            lines[n] = out.getvalue() + lines[n][len(lines[n].rstrip("\r\n")):]
        f.write_text("".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def unit_dumps(tmp_path_factory) -> Path:
    """A realistic case with call relay flows (more call pairs than the default), Jio part files, a
    resend (a session two dumps deliver) and rows without a cell or a destination (:func:`_blank_some`)."""
    from dataclasses import replace

    root = tmp_path_factory.mktemp("bulk-units")
    simulate(replace(build_scenario("realistic", subscribers=8, days=14, seed=7), call_pairs=0.3, call_rate=2.0,
                     malformed_share=0.01), root)
    first = sorted((root / "dumps").glob("jio_*.csv"))[0]
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "dumps" / f"resend_{first.name}").write_text("".join(lines[: max(20, len(lines) // 2)]) + lines[-1],
                                                         encoding="utf-8")
    _blank_some(root / "dumps")
    return root / "dumps"


def test_imported_units_are_those_units_build_stores(graph, driver, unit_dumps, tmp_path, capsys, monkeypatch):
    """The importer's co-usage units (graph/bulk_units.py) are, property by property, what
    cypher/units_build.cypher stores for the same graph; the first link run after the import builds
    none, and its edges equal the embedded engine's and those of a run on units built by Cypher."""
    import pandas as pd

    from cdrnet.analysis.cousage import LinkParams
    from cdrnet.graph.cousage import link_neo4j
    from cdrnet.workspace import Workspace

    script = _server_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(unit_dumps, tmp_path / "dumps")
    driver.close()
    assert run_cli(capsys, "-w", "ws", "ingest", "dumps")[0] == 0
    code, _, err = run_cli(capsys, "-w", "ws", "--neo4j", URI, "--case", CASE, "neo4j-import", "--server",
                           str(script))
    assert code == 0, err
    driver = fresh()
    imported = _units(driver)
    gen = imported.pop("")["generation"]
    ws = Workspace("ws")
    frame = ws.sessions()
    # The case holds what the units are made of: every layout, record-level ends and volumes (Airtel),
    # sessions without a cell or a destination, call relay flows, a session two dumps deliver.
    reports = ws.reports()
    assert {"jio", "airtel", "vi"} <= {r.layout for r in reports}
    assert any(r.end_scope == "record" for r in reports) and any(r.volume_scope == "record" for r in reports)
    assert (frame["cell_id"].fillna("") == "").any() and (frame["dest_ip"].fillna("") == "").any()
    assert set(imported) == set(frame["msisdn"])
    assert all(u["generation"] == gen and u["usable"] for u in imported.values())
    assert sum(len(u["k_t"]) for u in imported.values()) > 10 and sum(len(u["m_t"]) for u in imported.values()) > 100
    assert any(len(u["dumps"]) > 1 for u in imported.values())
    assert sum(u["sessions"] for u in imported.values()) < sum(r.loaded for r in reports)  # the resend
    # The first run reads them: nothing is built (the units and the generation stay as imported).
    first = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    after = _units(driver)
    assert after.pop("")["generation"] == gen and after == imported
    live = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False, stored_units=False)
    assert len(live.edges) > 10
    pd.testing.assert_frame_equal(_edges(first), _edges(live))
    # The embedded engine's edges, co-location included: the resend's copies differ in a cell, and
    # every store keeps the first dump's (tests/test_resend_copies.py).
    pd.testing.assert_frame_equal(_edges(first), _edges(ws.link(LinkParams())), check_exact=False, rtol=1e-9)
    # The same units built by Cypher from the imported sessions: equal property by property.
    driver.execute_query("MATCH (u:CoUsageUnits {case: $case}) WHERE u.msisdn <> '' DETACH DELETE u", {"case": CASE})
    built_run = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    built = _units(driver)
    assert built.pop("")["generation"] == gen
    assert set(built) == set(imported)
    for m, units in built.items():
        assert set(units) == set(imported[m]), m
        for prop, value in units.items():
            assert imported[m][prop] == value, (m, prop)
            assert [type(v) for v in imported[m][prop]] == [type(v) for v in value] if isinstance(value, list) \
                else type(imported[m][prop]) is type(value), (m, prop)
    pd.testing.assert_frame_equal(_edges(built_run), _edges(first))
    # A later change by the Bolt writer (here forgetting a dump) drops the units and replaces the
    # generation the import wrote, as after a Bolt load.
    from cdrnet.graph.store import GraphStore

    GraphStore(driver, tmp_path / "rejects", case=CASE).forget_dump(reports[-1].sha256)
    left = _units(driver)
    assert set(left) == {""} and left[""]["generation"] != gen
    driver.close()


def test_after_an_import_the_units_build_runs_only_after_a_bolt_load_or_a_forget(graph, driver, dumps, tmp_path,
                                                                                capsys, monkeypatch):
    """The first link run after ``neo4j-import`` runs no units_build statement (units_stale finds every
    imported unit current); a Bolt load into the imported case, and a forget, make the next run build
    every subscriber's units again (of the case's new generation, from the sessions it now has), with
    the edges of a run from the sessions."""
    import pandas as pd

    import cdrnet.graph.cousage as cousage
    from cdrnet.analysis.cousage import LinkParams
    from cdrnet.graph.store import GraphStore
    from cdrnet.workspace import Workspace

    script = _server_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(dumps, tmp_path / "dumps")
    # One subscriber's dump is left for a Bolt load after the import.
    later = sorted(f for f in (tmp_path / "dumps").glob("*.csv") if not f.name.startswith("resend_"))[-1]
    (tmp_path / "later").mkdir()
    later.rename(tmp_path / "later" / later.name)
    driver.close()
    assert run_cli(capsys, "-w", "ws", "ingest", "dumps")[0] == 0
    code, _, err = run_cli(capsys, "-w", "ws", "--neo4j", URI, "--case", CASE, "neo4j-import", "--server",
                           str(script))
    assert code == 0, err
    built: list[list[str]] = []
    real = cousage.run_auto

    def recording(d, name, params, *args):  # noqa: ANN001, ANN202 - run_auto's signature
        if name == "units_build":
            built.append(list(params["msisdns"]))
        return real(d, name, params, *args)

    monkeypatch.setattr(cousage, "run_auto", recording)

    def run_and_check(d) -> str:  # noqa: ANN001 - a driver
        """A link run; the units it leaves are current for every subscriber: the case's generation,
        as many sessions as the subscriber has (its degree). Returns the generation."""
        got = cousage.link_neo4j(d, LinkParams(), case=CASE, write_edges=False)
        live = cousage.link_neo4j(d, LinkParams(), case=CASE, write_edges=False, stored_units=False)
        assert len(got.edges) > 3
        pd.testing.assert_frame_equal(_edges(got), _edges(live))
        units = _units(d)
        gen = units.pop("")["generation"]
        degree = {r["m"]: r["n"] for r in d.execute_query(
            "MATCH (s:Subscriber {case: $case}) WHERE EXISTS { (s)-[:HAD]->() } "
            "RETURN s.msisdn AS m, COUNT { (s)-[:HAD]->() } AS n", {"case": CASE}).records}
        assert {m: u["sessions"] for m, u in units.items()} == degree
        assert all(u["generation"] == gen for u in units.values())
        return gen

    driver = fresh()
    imported = _units(driver)
    gen = run_and_check(driver)
    assert built == [] and _units(driver) == imported  # nothing built, nothing rewritten
    # A Bolt load into the imported case: a new generation, every subscriber's units built again.
    assert run_cli(capsys, "-w", "bolt-out", "--neo4j", URI, "--case", CASE, "ingest", "later")[0] == 0
    before = _units(driver)
    assert set(before) == {""} and before[""]["generation"] != gen
    loaded = run_and_check(driver)
    assert loaded != gen and len(built) == 1 and set(built[0]) == set(_units(driver)) - {""}
    assert set(built[0]) >= set(imported) - {""}
    # A second run finds them current.
    run_and_check(driver)
    assert len(built) == 1
    # A forget: the same.
    GraphStore(driver, tmp_path / "rejects", case=CASE).forget_dump(Workspace("ws").reports()[0].sha256)
    assert set(_units(driver)) == {""}
    forgot = run_and_check(driver)
    assert forgot not in (gen, loaded) and len(built) == 2 and set(built[1]) == set(_units(driver)) - {""}
    driver.close()


def test_bulk_import_gives_the_bolt_graph(graph, driver, dumps, tmp_path, capsys, monkeypatch):
    script = _server_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(dumps, tmp_path / "dumps")
    driver.close()
    bolt, _, bolt_out, driver = _both_ways(capsys, script)
    shared = [c for c in bolt["rels"]["CONTAINS"]]
    assert len(shared) > len(bolt["nodes"][("Session",)])  # the resend: sessions contained by two dumps
    # The same constraints and indexes as after a Bolt load; the case reads back the same.
    from cdrnet.graph.model import schema_statements

    names = {r["name"] for r in driver.execute_query("SHOW INDEXES YIELD name, state WHERE state = 'ONLINE'").records}
    for stmt in schema_statements():
        if stmt.startswith("CREATE"):
            assert stmt.split()[2] in names, stmt
    code, listed, _ = run_cli(capsys, "-w", "ws", "--neo4j", URI, "--case", CASE, "dumps")
    assert code == 0
    assert listed.splitlines()[-1] in bolt_out + listed
    assert (tmp_path / "ws" / "neo4j-rejects" / "rejects.csv").read_text() == \
        (tmp_path / "bolt-out" / "neo4j-rejects" / "rejects.csv").read_text()
    driver.close()


@pytest.fixture(scope="module")
def call_dumps(tmp_path_factory) -> Path:
    """A small case with voice/SMS CDRs of several layouts, tower dumps and IPDR (issue 18)."""
    from dataclasses import replace

    root = tmp_path_factory.mktemp("bulk-calls")
    simulate(replace(build_scenario("realistic_calls", subscribers=5, days=7, seed=7), malformed_share=0.01), root)
    return root / "dumps"


def test_bulk_import_of_call_records_gives_the_bolt_graph(graph, driver, call_dumps, tmp_path, capsys,
                                                          monkeypatch):
    """Calls, both parties (those outside the case marked), CALLED aggregates with their zone, the
    cells calls name with the positions the records state: the same graph both ways."""
    script = _server_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(call_dumps, tmp_path / "dumps")
    driver.close()
    bolt, _, _, driver = _both_ways(capsys, script, "--date-order", "dmy")
    # The case really has what is compared: calls from CDRs and tower dumps, outside numbers, placed cells.
    calls = bolt["nodes"][("Call",)]
    assert len({dict(c)["layout"] for c in calls}) >= 3
    dumps = [dict(d) for d in bolt["nodes"][("Dump",)]]
    assert any(d.get("tower_cell") for d in dumps)
    outside = [dict(s) for s in bolt["nodes"][("Subscriber",)] if dict(s).get("outside_case")]
    assert outside and all("sessions" not in s for s in outside)
    assert bolt["rels"]["CALLED"] and bolt["rels"]["PLACED"] and bolt["rels"]["TO"] and bolt["rels"]["RECORDED"]
    assert bolt["rels"]["FIRST_CELL"] and bolt["rels"]["LAST_CELL"]
    assert any(dict(c).get("position_source") == "operator" for c in bolt["nodes"][("Cell",)])
    called = [dict(r[2]) for r in bolt["rels"]["CALLED"]]
    assert all(c["first"][1] != "None" for c in called)
    # The count check after the import included the calls (one line with them).
    driver.close()


def test_bulk_import_refuses_a_database_holding_data(driver, tmp_path, capsys, monkeypatch):
    """A database with data the tests did not create is never replaced: one line, exit 1, untouched."""
    from tests.neo4j_fixtures import wipe as scratch_wipe

    script = _server_env(monkeypatch)
    scratch_wipe(driver)
    driver.execute_query("MATCH (m:CdrnetScratch) DELETE m")
    driver.execute_query("CREATE (:AnalystCase {name: 'someone else'})")
    try:
        monkeypatch.chdir(tmp_path)
        simulate(build_scenario("easy", subscribers=3, days=2, seed=2), tmp_path / "case")
        assert run_cli(capsys, "-w", "ws", "ingest", "case/dumps", "--date-order", "dmy")[0] == 0
        code, _, err_text = run_cli(capsys, "-w", "ws", "--neo4j", URI, "neo4j-import", "--server", str(script))
        err = err_text.splitlines()
        assert code == 1
        assert err[0] == ("error: the Neo4j database (default) holds 1 nodes: a bulk import replaces the whole "
                          "database, so it only loads an empty one")
        assert err[1].startswith("hint: add dumps to it with the Bolt writer (cdrnet --neo4j URI ingest PATH)")
        assert driver.execute_query("MATCH (n:AnalystCase) RETURN count(n) AS n").records[0]["n"] == 1
    finally:
        driver.execute_query("MATCH (n:AnalystCase {name: 'someone else'}) DELETE n")
    with fresh() as d:
        wipe(d)  # the database is the tests' again


def test_files_only_needs_no_server(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    simulate(build_scenario("easy", subscribers=3, days=2, seed=2), tmp_path / "case")
    assert run_cli(capsys, "-w", "ws", "ingest", "case/dumps", "--date-order", "dmy")[0] == 0
    code, out_text, _ = run_cli(capsys, "-w", "ws", "neo4j-import", "--files-only", "files")
    assert code == 0
    out = out_text.splitlines()
    assert out[0] == f"store: workspace {tmp_path / 'ws'} (import files in {tmp_path / 'files'})"
    args = (tmp_path / "files" / "import.args").read_text().splitlines()
    assert args[:4] == ["database", "import", "full", "neo4j"]
    header = (tmp_path / "files" / "nodes_Session.header.csv").read_text().strip().split(",")
    from cdrnet.graph.model import SESSION

    # Integer node ids (the importer's --id-type=actual): the key is a plain string property.
    assert "--id-type=actual" in args and header[:2] == [":ID", f"{SESSION.key}:string"]
    assert [h.split(":")[0] for h in header[1:]] == [SESSION.key, "case", *SESSION.properties, "start", "end"]
    # Without --neo4j and without --files-only there is nothing to import into.
    code, _, err = run_cli(capsys, "-w", "ws", "neo4j-import")
    assert code == 1
    assert err.splitlines()[0] == "error: neo4j-import needs the server: pass --neo4j URI (or --files-only DIR)"


def test_a_failed_import_leaves_the_database_as_it_was(graph, driver, tmp_path, capsys, monkeypatch):
    """The new database breaks the schema (a session key twice in the Session file, under two node
    ids: the importer, given integer ids, no longer looks at keys, the key constraint created after it
    refuses them): the CLI prints one line with the reason and exits 1, and the server restarts on the
    database it held, untouched."""
    import cdrnet.graph.bulk as bulk
    from cdrnet.graph.importer import ASIDE, STAGING, Swap, home_of

    script = _server_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    simulate(build_scenario("easy", subscribers=3, days=2, seed=2), tmp_path / "case")
    # What the database held before: a case loaded by the Bolt writer (in the tests' scratch database).
    assert run_cli(capsys, "-w", "before", "--neo4j", URI, "--case", "before", "ingest", "case/dumps",
                   "--date-order", "dmy")[0] == 0
    held = canonical(driver)
    assert held["nodes"][("Session",)]
    assert run_cli(capsys, "-w", "ws", "ingest", "case/dumps", "--date-order", "dmy")[0] == 0
    write_files = bulk.write_import_files
    duplicated: list[str] = []

    def corrupt(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the library's own signature
        files = write_files(*args, **kwargs)
        data = next(d for label, _, d in files.nodes if label == "Session")
        _, rest = data.read_text(encoding="utf-8").splitlines()[0].split(",", 1)
        duplicated.append(rest.split(",")[0].strip('"'))
        with data.open("a", encoding="utf-8") as f:
            f.write(f"{sum(files.node_counts.values())},{rest}\n")  # the next free node id, the same key
        return files

    monkeypatch.setattr(bulk, "write_import_files", corrupt)
    code, _, err_text = run_cli(capsys, "-w", "ws", "--neo4j", URI, "--case", CASE, "neo4j-import", "--server",
                                str(script))
    err = err_text.splitlines()
    home = home_of(script)
    assert code == 1
    assert err[0].startswith("error: the imported database breaks the graph's schema: "), err[0]
    assert "Session" in err[0] and f"'{duplicated[0]}'" in err[0], err[0]
    assert err[1] == "hint: the database was left as it was and the server restarted on it"
    assert len(err) == 2
    # The server answers again, on the database it held: every node and relationship as before.
    driver.close()
    with fresh() as d:
        assert canonical(d) == held
    # Nothing of the failed import is left beside it.
    swap = Swap(home, "neo4j")
    for name in (STAGING, "neo4j" + ASIDE):
        assert not any(p.exists() for p in swap.folders(name)), name


def test_bulk_import_of_call_records_only(graph, driver, call_dumps, tmp_path, capsys, monkeypatch):
    """A case of CDRs and tower dumps without IPDR: no Session at all, the same graph both ways."""
    script = _server_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dumps").mkdir()
    for f in [*call_dumps.glob("cdr_*.csv"), *call_dumps.glob("tower_*.csv")]:
        shutil.copy(f, tmp_path / "dumps" / f.name)
    driver.close()
    bolt, _, _, driver = _both_ways(capsys, script, "--date-order", "dmy")
    assert ("Session",) not in bolt["nodes"] and bolt["nodes"][("Call",)] and bolt["rels"]["CALLED"]
    driver.close()


def test_empty_scratch_leaves_the_marker_and_the_schema_alone(graph, driver, tmp_path, monkeypatch):
    """Emptying by import (what the bench does between its loads) gives what wipe gives: the marker,
    the schema, nothing else; the server serves the emptied database."""
    from cdrnet.graph.bulk import empty_scratch
    from cdrnet.graph.model import schema_statements

    script = _server_env(monkeypatch)
    driver.execute_query("CREATE (:Session {case: 'test-empty', session_key: 'a'})-[:HAD]->(:Cell {cell_id: 'c'})")
    empty_scratch(URI, script, fresh, work=tmp_path)
    with fresh() as d:
        rows = d.execute_query("MATCH (n) RETURN labels(n) AS l, properties(n) AS p").records
        assert [(r["l"], r["p"]) for r in rows] == [(["CdrnetScratch"], {"id": 1})]
        names = {r["name"] for r in d.execute_query("SHOW INDEXES YIELD name").records}
    wanted = {s.split()[2] for s in schema_statements() if s.startswith("CREATE")}
    assert wanted <= names
    assert not list(tmp_path.iterdir())  # its import files are gone


def test_empty_scratch_refuses_a_database_without_the_marker(driver, tmp_path, monkeypatch):
    """Only a tests' scratch database is emptied: data the tests did not create is never deleted."""
    from cdrnet.errors import GraphError
    from cdrnet.graph.bulk import empty_scratch

    script = _server_env(monkeypatch)
    wipe(driver)
    driver.execute_query("MATCH (m:CdrnetScratch) DELETE m")
    driver.execute_query("CREATE (:AnalystCase {name: 'someone else'})")
    try:
        with pytest.raises(GraphError, match="only a tests' scratch database"):
            empty_scratch(URI, script, fresh, work=tmp_path)
        assert driver.execute_query("MATCH (n:AnalystCase) RETURN count(n) AS n").records[0]["n"] == 1
    finally:
        driver.execute_query("MATCH (n:AnalystCase {name: 'someone else'}) DELETE n")
    with fresh() as d:
        wipe(d)  # the database is the tests' again


def test_the_count_check_reads_every_label_and_type_in_one_statement(graph, driver):
    """The count check (graph/bulk.py ``_counts``) gives each label's and type's count as the database
    holds it, beside what the files said, including a label the database lacks, so a short import fails."""
    from cdrnet.graph.bulk import ImportFiles, _counts

    driver.execute_query("CREATE (:Session {case: 'test-counts', session_key: 'a'})-[:HAD]->(:Cell {cell_id: 'c'}), "
                         "(:Session {case: 'test-counts', session_key: 'b'})")
    files = ImportFiles(Path("unused"), node_counts={"Session": 2, "Cell": 1, "Device": 1},
                        rel_counts={"HAD": 1, "AT_CELL": 0})
    assert _counts(driver, files, None) == [(("nodes", "Session"), 2, 2), (("nodes", "Cell"), 1, 1),
                                            (("nodes", "Device"), 0, 1), (("relationships", "HAD"), 1, 1),
                                            (("relationships", "AT_CELL"), 0, 0)]
    assert _counts(driver, ImportFiles(Path("unused")), None) == []
