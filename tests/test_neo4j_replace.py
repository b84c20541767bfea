"""Issue 19 on Neo4j: ``ingest --replace`` replaces a dump's rows in the graph, nothing to do is
not an error, and stray rows stay out of the graph as they stay out of the workspace."""

from __future__ import annotations

import pandas as pd
import pytest

from cdrnet.loader.strays import REASON
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.workspace import Workspace
from tests.conftest import SIM_ORDER, ingest
from tests.neo4j_fixtures import counts

pytestmark = pytest.mark.neo4j
CASE = "test-replace"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("replace-case")
    simulate(build_scenario("easy", subscribers=4, days=3, seed=9), root)
    return root


def test_replace_rereads_a_dump_into_the_graph(graph, driver, case, tmp_path):
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures

    assert not ingest(graph, case / "dumps", date_order=SIM_ORDER).failed
    before = counts(driver)
    dump = sorted((case / "dumps").iterdir())[0]
    sha = next(r.sha256 for r in graph.reports() if r.name == str(dump))
    msisdns = graph.report(sha).msisdns
    old = graph.sessions(msisdns=msisdns)["start_utc"].sort_values().reset_index(drop=True)
    opts = Options(tz="Europe/London", rules=load_signatures("modern"), date_order=SIM_ORDER)
    same = ingest_paths([str(dump)], graph, builtin_layouts(), opts, "modern", show_progress=False)
    assert not same.loaded and [(n, s) for n, s, _ in same.differing] == [(str(dump), sha)]
    assert same.differing[0][2] == ["--tz Asia/Kolkata -> Europe/London"]
    assert counts(driver) == before
    res = ingest_paths([str(dump)], graph, builtin_layouts(), opts, "modern", show_progress=False, replace=True)
    assert res.replaced == [sha] and len(res.loaded) == 1
    after = counts(driver)
    assert after["Dump"] == before["Dump"] and after["Session"] == before["Session"]
    assert after["CONTAINS"] == before["CONTAINS"]
    new = graph.sessions(msisdns=msisdns)["start_utc"].sort_values().reset_index(drop=True)
    assert ((new - old) == pd.Timedelta(hours=5, minutes=30)).all()
    rep = graph.report(sha)
    assert rep is not None and rep.read_options["tz"] == "Europe/London" and rep.loaded == len(new)
    # The same graph as a clean load of the dumps with those options.
    ws = Workspace(tmp_path / "ws").create()
    ingest(ws, *sorted((case / "dumps").iterdir())[1:], date_order=SIM_ORDER)
    ingest_paths([str(dump)], ws, builtin_layouts(), opts, "modern", show_progress=False)
    assert len(ws.sessions()) == after["Session"]


def test_stray_rows_stay_out_of_the_graph(graph, driver, case, tmp_path):
    dump = sorted((case / "dumps").iterdir())[1]
    lines = dump.read_text().splitlines()
    row = lines[1].split(",")
    row[8] = row[10] = "01/01/1970"
    lines.insert(3, ",".join(row))
    f = tmp_path / dump.name
    f.write_text("\n".join(lines) + "\n")
    rep = ingest(graph, f, date_order=SIM_ORDER).loaded[0]
    assert rep.rejected == {REASON: 1}
    assert graph.sessions()["start_utc"].min().year > 2000


def test_nothing_to_do_on_an_empty_neo4j_case(graph, capsys, tmp_path, monkeypatch):
    from tests.conftest import run_cli
    from tests.neo4j_fixtures import PASSWORD, URI

    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    env = ["-w", str(tmp_path / "empty-case"), "--neo4j", URI]
    for command, what in (("link", "link"), ("map", "map"), ("trends", "chart")):
        code, out, err = run_cli(capsys, *env, command)
        assert code == 0, err
        assert out.splitlines()[-1].startswith(f"nothing to {what}: Neo4j ") and "holds no dumps" in out


def test_dumps_names_a_dump_the_graph_holds_but_not_completely(graph, driver, case, capsys, monkeypatch):
    """A dump handed sessions by a dump read again (or whose load died) is incomplete until it is
    ingested again: ``dumps`` listed the others and counted one dump fewer without a word."""
    from cdrnet.graph.connection import write
    from tests.conftest import run_cli
    from tests.neo4j_fixtures import PASSWORD, URI

    assert not ingest(graph, case / "dumps", date_order=SIM_ORDER).failed
    reports = graph.reports()
    left = reports[0]
    write(driver, "dump_incomplete", {"case": CASE, "sha256": left.sha256})
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    code, out, err = run_cli(capsys, "--neo4j", URI, "--case", CASE, "dumps")
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith(f"{len(reports) - 1} dump(s), ") for line in lines), lines
    assert lines[-1] == (f"note: 1 dump(s) not completely loaded and not counted above: {left.name}; ingest them "
                         "again (a load that died, or sessions handed to them when a dump was read again)"), lines
